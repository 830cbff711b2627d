"""The public API at the top of the package: every documented name imports, and importing
coincast itself does not pay for PyTorch, matplotlib or the statistics stack."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import coincast


def test_every_exported_name_resolves():
    for name in coincast.__all__:
        assert getattr(coincast, name) is not None, name


def test_an_unknown_name_is_an_attribute_error():
    try:
        coincast.no_such_thing  # noqa: B018
    except AttributeError as exc:
        assert "no_such_thing" in str(exc)
    else:
        raise AssertionError("coincast.no_such_thing did not raise")


def test_import_coincast_stays_light():
    code = (
        "import sys, coincast; "
        "print(','.join(m for m in ('torch', 'matplotlib', 'scipy', 'statsmodels') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_the_store_reads_a_coin_by_its_symbol(tmp_path):
    from coincast import Store, synthetic_candles

    with Store(tmp_path / "c.db") as store:
        store.write_candles(synthetic_candles(30, coin="bitcoin"))
        frame = store.read_candles("BTC", "1d")
        assert frame.attrs["coin"] == "bitcoin" and len(frame) == 30
        assert store.resolve("btc", "1d").coin == "bitcoin"


def test_a_missing_series_is_worded_for_python_and_for_the_cli(tmp_path):
    import pytest

    from coincast import Store, synthetic_candles
    from coincast.errors import IntervalError, StoreError

    with Store(tmp_path / "c.db") as store:
        store.write_candles(synthetic_candles(30, coin="bitcoin"))
        with pytest.raises(StoreError) as info:
            store.read_candles("btc", "1d", source="csv")
        with pytest.raises(IntervalError) as coarse:
            store.read_candles("btc", "1h")
    msg = str(info.value)
    assert msg.startswith("no stored data for coin='bitcoin', interval='1d', source='csv'")
    assert "--" not in msg and "--" not in str(coarse.value)
    assert "interval='1h'" in str(coarse.value)
    assert info.value.cli.endswith("Fetch it first: coincast fetch bitcoin --interval 1d")
    assert "`coincast fetch bitcoin --interval 1h" in coarse.value.cli


def test_every_exported_function_and_class_shows_an_example():
    import inspect

    lacking = [
        n
        for n in coincast.__all__
        if (inspect.isfunction(o := getattr(coincast, n)) or inspect.isclass(o))
        and not issubclass_error(o)
        and ">>> " not in (o.__doc__ or "")
    ]
    assert not lacking, f"add an Examples section to the docstrings of {lacking}"


def issubclass_error(o: object) -> bool:
    return isinstance(o, type) and issubclass(o, Exception)


LIVE_AND_SWEEP = ["update", "UpdateSpec", "track", "make_engine", "SweepPlan", "run_sweep",
                  "load_leaderboard"]  # fmt: skip


@pytest.mark.parametrize("name", LIVE_AND_SWEEP)
def test_the_live_and_sweep_exports_examples_run(name):
    import doctest

    obj = getattr(coincast, name)
    tests = doctest.DocTestFinder(recurse=False).find(obj, name, globs=vars(
        importlib.import_module(obj.__module__)).copy())  # fmt: skip
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    for t in tests:
        runner.run(t)
    assert tests and runner.failures == 0, f"{name}'s example failed"
