"""``coincast data ...`` and the data side of other commands: suggestions, summaries,
deleting a series, the source preference."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from coincast.cli import app
from coincast.data.sources import synthetic_candles
from coincast.data.store import SeriesKey, Store

runner = CliRunner()


def run(store: Path, *args: str):
    return runner.invoke(app, ["--store", str(store), *args])


@pytest.fixture
def filled(store_path: Path) -> Path:
    with Store(store_path) as s:
        for seed, coin in enumerate(("bitcoin", "ethereum")):
            s.write_candles(synthetic_candles(40, coin=coin, seed=seed))
    return store_path


def one_error(result) -> str:
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    return lines[0]


@pytest.mark.parametrize(
    "args",
    [
        ["data", "show", "bitcoinn"],
        ["data", "gaps", "bitcoinn"],
        ["data", "export", "bitcoinn", "--out", "x.csv"],
        ["train", "bitcoinn", "--epochs", "1"],
        ["backtest", "bitcoinn", "--test", "5"],
    ],
)
def test_a_mistyped_coin_gets_did_you_mean(filled, args):
    assert "did you mean bitcoin (stored)" in one_error(run(filled, *args))


def _with_gaps(store_path: Path, sizes: list[int]) -> None:
    """A daily series with one gap of each size in ``sizes``, in that time order."""
    frame = synthetic_candles(20 * len(sizes) + 20, coin="holes", seed=3)
    drop = [20 * (n + 1) + k for n, size in enumerate(sizes) for k in range(size)]
    with Store(store_path) as s:
        s.write_candles(frame.drop(frame.index[drop]))


def _gap_rows(stdout: str) -> list[int]:
    """The ``bars`` column of the gaps table."""
    return [int(line.split()[-2]) for line in stdout.splitlines() if "00:00:00+00:00" in line]


def test_data_gaps_summarises_the_largest_ten_unless_all(store_path):
    sizes = [3, 1, 12, 5, 2, 7, 4, 9, 6, 11, 8, 10]
    _with_gaps(store_path, sizes)
    short = run(store_path, "data", "gaps", "holes")
    assert short.exit_code == 0, short.output
    assert "The 10 largest of 12 gaps; --all lists every one." in short.stdout
    assert _gap_rows(short.stdout) == [12, 11, 10, 9, 8, 7, 6, 5, 4, 3]
    assert "12 gaps, 78 missing bars; 182 bars present" in short.stdout
    every = run(store_path, "data", "gaps", "holes", "--all")
    assert _gap_rows(every.stdout) == sizes and "largest" not in every.stdout
    data = json.loads(run(store_path, "data", "gaps", "holes", "--json").stdout)
    assert [g["missing"] for g in data["gaps"]] == sizes


def test_data_gaps_lists_a_few_gaps_whole(store_path):
    _with_gaps(store_path, [2, 1])
    result = run(store_path, "data", "gaps", "holes")
    assert _gap_rows(result.stdout) == [2, 1] and "largest" not in result.stdout


# -- predict's table ---------------------------------------------------------------------------


def test_forecast_table_shows_the_change_and_a_band_only_when_there_is_one():
    from rich.console import Console

    from coincast.cli.model import _forecast_table

    ts = pd.date_range("2025-01-13 13:00", periods=2, freq="h", tz="UTC")
    frame = synthetic_candles(5, interval="1h").iloc[:1].assign(close=100.0)
    frame.index = pd.DatetimeIndex([ts[0] - pd.Timedelta("1h")], name="ts")

    def shown(lo: list[float], hi: list[float]) -> str:
        forecast = pd.DataFrame({"yhat": [102.5, 97.0], "lo": lo, "hi": hi}, index=ts)
        forecast.attrs = {"coin": "demo", "quote": "usd", "interval": "1h"}
        console = Console(width=200, record=True, file=open(os.devnull, "w"))  # noqa: SIM115
        console.print(_forecast_table(forecast, frame))
        return console.export_text()

    point = shown([np.nan] * 2, [np.nan] * 2)
    assert "demo/usd 1h after 2025-01-13 12:00 (close 100)" in " ".join(point.split())
    assert re.search(r"│ 2025-01-13 13:00 │ 102\.5 +│ \+2\.50% │$", point, re.M), point
    assert re.search(r"│ 2025-01-13 14:00 │ 97 +│ -3\.00% │$", point, re.M), point
    assert " lo " not in point and " hi " not in point and "00:00:00" not in point
    band = shown([99.0, 90.0], [105.0, 101.0])
    assert re.search(r"│ 2025-01-13 13:00 │ 102\.5 +│ \+2\.50% │ 99 +│ 105 +│$", band, re.M), band


def test_bar_times_are_shown_as_people_write_them():
    from coincast.cli.model import _when

    t = pd.Timestamp("2025-01-13 13:00:05", tz="UTC")
    assert [_when(t.normalize(), "1d"), _when(t.normalize(), "1w")] == ["2025-01-13"] * 2
    assert (_when(t, "1h"), _when(t, "1m"), _when(t, "1s")) == (
        "2025-01-13 13:00", "2025-01-13 13:00", "2025-01-13 13:00:05",
    )  # fmt: skip


# -- data delete -------------------------------------------------------------------------------


@pytest.fixture
def several(store_path: Path) -> Path:
    """bitcoin at 1d and 1h (synthetic) and at 1d (csv), ethereum at 1d."""
    with Store(store_path) as s:
        s.write_candles(synthetic_candles(30, coin="bitcoin"))
        s.write_candles(synthetic_candles(48, coin="bitcoin", interval="1h"))
        csv = synthetic_candles(20, coin="bitcoin")
        csv.attrs["source"] = "csv"
        s.write_candles(csv)
        s.write_candles(synthetic_candles(30, coin="ethereum"))
    return store_path


def _dump(path: Path) -> list:
    import sqlite3

    with sqlite3.connect(path) as db:
        return [db.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall()
                for t in ("series", "candles", "coverage")]  # fmt: skip


def test_data_delete_removes_one_series_with_yes(several):
    before = _dump(several)
    result = run(several, "data", "delete", "BTC", "--source", "csv", "--yes")
    assert result.exit_code == 0, result.output
    assert result.stdout == "Deleted bitcoin/usd 1d (csv): 20 candles\n"
    with Store(several) as s:
        assert [str(i.key) for i in s.list_series()] == [
            "bitcoin/usd 1h (synthetic)", "bitcoin/usd 1d (synthetic)",
            "ethereum/usd 1d (synthetic)",
        ]  # fmt: skip
        assert s.missing_ranges(SeriesKey("csv", "bitcoin", "usd", "1d"), 0, 1) == [(0, 1)]
    after = _dump(several)
    assert len(after[1]) == len(before[1]) - 20 and len(after[2]) == len(before[2]) - 1


def test_data_delete_asks_first_and_keeps_the_store_when_told_no(several):
    before = _dump(several)
    no = runner.invoke(app, ["--store", str(several), "data", "delete", "eth"], input="n\n")
    assert "Delete ethereum/usd 1d (synthetic): 30 candles (2020-01-01 .. 2020-01-30)?" in (
        no.stderr
    )
    assert no.exit_code == 1 and "Error: nothing deleted; ethereum/usd 1d (synthetic) is kept" in (
        no.stderr
    )
    assert _dump(several) == before
    yes = runner.invoke(app, ["--store", str(several), "data", "delete", "eth"], input="y\n")
    assert yes.exit_code == 0 and "Deleted ethereum/usd 1d (synthetic): 30 candles" in yes.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["bitcoin"], "bitcoin has 3 stored series (bitcoin/usd 1d (csv), bitcoin/usd 1h "
         "(synthetic), bitcoin/usd 1d (synthetic)); name one with --interval, --source and "
         "--quote"),
        (["bitcoin", "-i", "1d"], "bitcoin has 2 stored series"),
        (["bitcoin", "-i", "1w", "-s", "synthetic"], "no 1w series of bitcoin is stored "
         "(stored: bitcoin/usd 1h (synthetic), bitcoin/usd 1d (synthetic))"),
        (["bitcoinn"], "no stored data for bitcoinn; did you mean bitcoin (stored)?"),
        (["bitcoin", "--quote", "eur"], "no stored data for bitcoin eur"),
        (["bitcoin", "-i", "2d"], "2d"),
    ],
)  # fmt: skip
def test_data_delete_refuses_what_is_not_one_series_and_changes_nothing(several, args, message):
    before = _dump(several)
    assert message in one_error(run(several, "data", "delete", *args, "--yes"))
    assert _dump(several) == before


def test_delete_series_is_one_transaction_and_a_missing_key_changes_nothing(store):
    store.write_candles(synthetic_candles(5, coin="demo"))
    assert store.delete_series(SeriesKey("synthetic", "nope", "usd", "1d")) == 0
    assert store.delete_series(SeriesKey("synthetic", "demo", "usd", "1d")) == 5
    assert (
        store.list_series() == []
        and store.delete_series(SeriesKey("synthetic", "demo", "usd", "1d")) == 0
    )


# -- the source preference ---------------------------------------------------------------------


@pytest.fixture
def two_sources(store_path: Path) -> Path:
    """bitcoin at 1d from synthetic (30 bars) and csv (20 bars)."""
    with Store(store_path) as s:
        s.write_candles(synthetic_candles(30, coin="bitcoin"))
        csv = synthetic_candles(20, coin="bitcoin", seed=5)
        csv.attrs["source"] = "csv"
        s.write_candles(csv)
    return store_path


def _show(store: Path, *args: str):
    result = run(store, "data", "show", "bitcoin", "--json", "--tail", "100", *args)
    assert result.exit_code == 0, result.output
    return len(json.loads(result.stdout)), result.stderr


def test_several_sources_read_the_first_in_the_default_order_and_say_so(two_sources):
    rows, said = _show(two_sources)
    assert rows == 20  # csv
    assert said == (
        "NOTE: bitcoin is stored from csv, synthetic; reading csv, the first in the source "
        "order (csv, coingecko, exchange:*, synthetic; coincast config set source-order "
        "changes it, --source, or source= in Python, picks one)\n"
    )
    assert _show(two_sources, "--source", "synthetic") == (30, "")  # named: no notice
    gaps = run(two_sources, "data", "gaps", "bitcoin")
    assert gaps.exit_code == 0 and "bitcoin/usd 1d (csv): no gaps in 20 bars" in gaps.stdout


def test_config_set_source_order_changes_the_choice(two_sources, tmp_path):
    shown = run(two_sources, "config", "show")
    assert shown.stdout == (
        f"Settings file: {tmp_path / 'home' / 'config.toml'} (not written yet)\n"
        "source-order = csv,coingecko,exchange:*,synthetic (the default)\n"
    )
    done = run(two_sources, "config", "set", "source-order", "Synthetic, csv")
    assert done.exit_code == 0, done.output
    path = tmp_path / "home" / "config.toml"
    assert done.stdout == f"source-order = synthetic,csv (saved to {path})\n"
    assert path.read_text() == 'source_order = ["synthetic", "csv"]\n'
    assert run(two_sources, "config", "show").stdout.splitlines()[1] == (
        "source-order = synthetic,csv"
    )
    rows, said = _show(two_sources)
    assert (
        rows == 30 and "reading synthetic, the first in the source order (synthetic, csv;" in said
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["set", "colour", "red"], "unknown setting 'colour'; the settings are: source-order"),
        (["set", "source-order", "csv,,x"], "source order ''"),
        (["set", "source-order", "csv,bad name"], "source order 'bad name': give source names"),
    ],
)
def test_config_set_refuses_what_it_cannot_keep(store_path, tmp_path, args, message):
    assert message in one_error(run(store_path, "config", *args))
    assert not (tmp_path / "home" / "config.toml").exists()


def test_a_broken_settings_file_is_named_when_a_choice_needs_it(two_sources, tmp_path):
    path = tmp_path / "home" / "config.toml"
    path.parent.mkdir()
    path.write_text("source_order = [csv\n")
    assert f"the settings file {path} is not TOML" in one_error(
        run(two_sources, "data", "show", "bitcoin")
    )
    assert _show(two_sources, "--source", "csv")[0] == 20  # no choice to make: not read
    path.write_text('source_order = "csv"\n')
    assert "source_order in" in one_error(run(two_sources, "data", "show", "bitcoin"))
    assert "must be a list" in one_error(run(two_sources, "config", "show"))


# -- import: the last bar still forming --------------------------------------------------------


def test_import_of_a_weekly_file_ending_mid_week_leaves_that_week_out_and_says_so(
    store_path, data_dir
):
    path = data_dir / "yahoo" / "weekly" / "BTC-USD_1wk.csv"
    result = run(store_path, "import", str(path), "--coin", "btc")
    assert result.exit_code == 0, result.output
    assert result.stderr == (
        f"NOTE: {path}: left out the last 1w bar (2025-02-10 00:00) as still forming: its "
        "volume is 21% of the smallest of the 4 bars before it (a whole bar has at least 25%)\n"
    )
    assert "Imported 543 candles (543 new)" in result.stdout
    with Store(store_path) as s:
        assert str(s.read_candles("bitcoin").index[-1].date()) == "2025-02-03"
