"""Run folders: save -> load -> predict equals the in-memory forecast; run.json records what a
result needs; tampered, truncated, crafted and invalid folders are refused (never unpickled)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import fields
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from coincast.data.sources.synthetic import predictable_candles, random_walk
from coincast.errors import CoincastError
from coincast.models import LSTMForecaster
from coincast.models.runs import (
    RECORD,
    WEIGHTS,
    RunError,
    RunRecord,
    check_run_name,
    load_run,
    save_run,
)
from coincast.models.state import FittedState

FAST = {"hidden": 8, "layers": 1, "lookback": 15, "log_every": 0, "threads": 1, "device": "cpu"}


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return predictable_candles(300)


@pytest.fixture(scope="module")
def fitted(frame) -> dict[str, LSTMForecaster]:
    return {
        head: LSTMForecaster(head=head, horizon=3, epochs=2, **FAST).fit(frame)
        for head in ("point", "quantile", "gaussian")
    }


@pytest.fixture
def run(fitted, tmp_path) -> Path:
    """A saved point-head run folder."""
    return save_run(fitted["point"], tmp_path / "btc-1d")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def edit_record(folder: Path, change) -> None:
    path = folder / RECORD
    record = json.loads(path.read_text())
    change(record)
    path.write_text(json.dumps(record))


# -- round trip ------------------------------------------------------------------------------


@pytest.mark.parametrize("head", ["point", "quantile", "gaussian"])
def test_save_load_predict_equals_the_in_memory_forecast(fitted, frame, tmp_path, head):
    f = fitted[head]
    folder = save_run(f, tmp_path / f"run-{head}")
    g = load_run(folder)
    pd.testing.assert_frame_equal(g.predict(frame=frame), f.predict())
    pd.testing.assert_frame_equal(g.predict(2, frame=frame), f.predict(2))
    ends = np.arange(50, 290, 7)
    np.testing.assert_array_equal(g.predict_rows(frame, ends), f.predict_rows(frame, ends))
    assert g.config == f.config
    assert g.metrics == f.metrics
    assert g.data == f.data
    assert g.result.history == f.result.history
    assert g.result.best_epoch == f.result.best_epoch


@pytest.fixture(scope="module")
def every_field() -> LSTMForecaster:
    """A global model whose fitted state has no empty field: two coins and one skipped (too
    short), an exog coin not trained on, with a gap that drops five bars of each coin."""
    coins = {c: random_walk(n, coin=c, seed=k) for k, (c, n) in
             enumerate((("alpha", 120), ("beta", 120), ("tiny", 8)))}  # fmt: skip
    leader = random_walk(120, coin="leader", seed=9)
    holey = leader.drop(leader.index[50:55])
    holey.attrs = dict(leader.attrs)
    f = LSTMForecaster(**FAST | {"lookback": 10}, epochs=1, exog=["leader"], on_short="skip")
    return f.fit(coins, exog={"leader": holey})


def test_a_reloaded_run_has_an_equal_fitted_state_field_by_field(every_field, tmp_path):
    f = every_field
    assert f.skipped == ["tiny"] and f.dropped == {"alpha": 5, "beta": 5, "tiny": 0}
    for field in fields(FittedState):
        assert getattr(f.state, field.name), f"{field.name} is empty: nothing would be tested"
    g = load_run(save_run(f, tmp_path / "every-field"))
    for field in fields(FittedState):
        assert getattr(g.state, field.name) == getattr(f.state, field.name), field.name
    assert g.state == f.state
    assert g.dropped == {"alpha": 5, "beta": 5, "tiny": 0}


def test_every_field_of_the_fitted_state_is_a_key_of_run_json(every_field):
    assert {f.name for f in fields(FittedState)} <= set(RunRecord.model_fields)
    record = json.loads(json.dumps(every_field.state.to_record()))  # JSON-ready, as saved
    assert FittedState.from_record(record) == every_field.state


def test_a_run_saved_before_dropped_was_recorded_loads_with_none(run, fitted, frame):
    edit_record(run, lambda r: r.pop("dropped"))
    g = load_run(run)
    assert g.dropped == {}
    pd.testing.assert_frame_equal(g.predict(frame=frame), fitted["point"].predict())


def test_a_loaded_run_asks_for_a_frame_to_predict_from(run):
    with pytest.raises(CoincastError, match="frame"):
        load_run(run).predict()


def test_saving_a_loaded_run_keeps_its_weights_and_record(run, tmp_path):
    again = save_run(load_run(run), tmp_path / "copy")
    assert sha256(again / WEIGHTS) == sha256(run / WEIGHTS)
    a, b = json.loads((run / RECORD).read_text()), json.loads((again / RECORD).read_text())
    for key in ("name", "created"):
        a.pop(key), b.pop(key)
    assert a == b


def test_run_json_records_config_data_packages_history_and_weights(run, fitted, frame):
    f = fitted["point"]
    record = json.loads((run / RECORD).read_text())
    assert record["format"] == "coincast-run/2" and record["model"] == "lstm"
    assert record["name"] == "btc-1d"
    assert record["config"] == json.loads(f.config.model_dump_json())
    assert record["config"]["horizon"] == 3 and record["config"]["lookback"] == 15
    assert record["features"] == ["log_return"]
    assert record["coins"] == ["synthetic-signal"] and record["exog_data"] == {}
    scalers = record["scalers"]["synthetic-signal"]
    assert scalers["features"] == f.feature_scaler.to_dict()
    assert scalers["target"] == f.target_scaler.to_dict()
    assert len(scalers["target"]["mean"]) == 3  # one per horizon step
    data = record["data"]["synthetic-signal"]
    assert data["coin"] == "synthetic-signal" and data["interval"] == "1d"
    assert (
        data["start"] == frame.index[0].isoformat() and data["end"] == frame.index[-1].isoformat()
    )
    assert data["rows"] == 300 and len(data["sha256"]) == 64
    assert {"python", "torch", "numpy", "pandas"} <= set(record["packages"])
    assert record["packages"]["torch"] == torch.__version__
    assert len(record["history"]) == 2
    for i, h in enumerate(record["history"], start=1):
        assert {"epoch", "train_loss", "val_loss", "seconds", "windows"} <= set(h)
        assert h["epoch"] == i and h["windows"] > 0
    assert record["metrics"] == f.metrics
    assert set(record["metrics"]) == {"val_of", "val_mae", "val_naive_mae", "val_rel_mae"}
    assert record["metrics"]["val_of"] == f.coins[0]  # one coin: its own figures
    assert record["weights"] == {"file": WEIGHTS, "sha256": sha256(run / WEIGHTS)}
    assert sorted(p.name for p in run.iterdir()) == [WEIGHTS, RECORD]  # no .tmp files left


# -- tampered, truncated and crafted weights -------------------------------------------------


def test_a_flipped_byte_in_the_weights_is_refused(run):
    path = run / WEIGHTS
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(
        RunError, match=r"model\.safetensors does not match run\.json \(SHA-256 differs\)"
    ):
        load_run(run)


def test_truncated_weights_are_refused(run):
    path = run / WEIGHTS
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(RunError, match=r"SHA-256 differs.*truncated"):
        load_run(run)


def test_truncated_weights_with_a_matching_hash_are_refused_before_reading(run):
    path = run / WEIGHTS
    path.write_bytes(path.read_bytes()[:-10])
    edit_record(run, lambda r: r["weights"].update(sha256=sha256(path)))
    with pytest.raises(RunError, match=r"model\.safetensors does not fit .* \(truncated\)"):
        load_run(run)


class CreatesMarker:
    """Unpickling this object creates a file: proof that code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_pickle_in_place_of_the_weights_is_refused_without_unpickling(run, tmp_path):
    # the payload works: loading it with pickle enabled creates its marker file
    probe = tmp_path / "probe.pt"
    torch.save({"weight": CreatesMarker(tmp_path / "probe-marker")}, probe)
    torch.load(probe, weights_only=False)
    assert (tmp_path / "probe-marker").exists()
    # a crafted run folder: the pickle, with run.json's hash updated to match it
    marker = tmp_path / "marker"
    torch.save({"weight": CreatesMarker(marker)}, run / WEIGHTS)
    edit_record(run, lambda r: r["weights"].update(sha256=sha256(run / WEIGHTS)))
    with pytest.raises(RunError, match=r"model\.safetensors is not a safetensors file"):
        load_run(run)
    assert not marker.exists()


def test_weights_of_another_network_are_refused(run, fitted, tmp_path):
    small = LSTMForecaster(**{**FAST, "hidden": 4}, epochs=1).fit(predictable_candles(100))
    other = save_run(small, tmp_path / "other")
    (run / WEIGHTS).write_bytes((other / WEIGHTS).read_bytes())
    edit_record(run, lambda r: r["weights"].update(sha256=sha256(run / WEIGHTS)))
    with pytest.raises(RunError, match=r"does not fit the network in run\.json"):
        load_run(run)


@pytest.mark.parametrize("name", ["../model.safetensors", "/etc/passwd", "sub/model.safetensors"])
def test_a_weights_path_outside_the_folder_is_refused(run, name):
    edit_record(run, lambda r: r["weights"].update(file=name))
    with pytest.raises(RunError, match=r"invalid at weights\.file: Input should be 'model\."):
        load_run(run)


def test_missing_weights_are_refused(run):
    (run / WEIGHTS).unlink()
    with pytest.raises(
        RunError, match=r"model\.safetensors is missing; the run folder is incomplete"
    ):
        load_run(run)


# -- run.json --------------------------------------------------------------------------------


def test_run_json_that_is_not_json_is_refused(run):
    (run / RECORD).write_text('{"format": "coincast-run/1",')
    with pytest.raises(RunError, match=r"run\.json is not valid JSON .*; the file is damaged"):
        load_run(run)


def test_run_json_that_is_not_text_is_refused(run):
    (run / RECORD).write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(RunError, match="is not valid JSON"):
        load_run(run)


SIG = "synthetic-signal"


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (lambda r: r.update(extra=1), r"extra: Extra inputs are not permitted"),
        (lambda r: r.pop("metrics"), r"metrics: Field required"),
        (
            lambda r: r["config"].update(lookback="thirty"),
            r"config: lookback is 'thirty'; it must be a whole number from 1 to 100000",
        ),
        (
            lambda r: r["config"].update(hidden=0),
            r"config: hidden is 0; it must be a whole number from 1 to 4096",
        ),
        (lambda r: r["data"][SIG].update(rows=[1]), rf"data\.{SIG}\.rows: Input should be"),
        (lambda r: r["data"][SIG].pop("sha256"), rf"data\.{SIG}\.sha256: Field required"),
        (lambda r: r["scalers"][SIG].update(other={}), rf"scalers\.{SIG}\.other"),
        (lambda r: r.update(model="arima"), r"model: Input should be 'lstm'"),
        (lambda r: r.update(format="coincast-run/3"), r"format: Input should be"),
        (lambda r: r["weights"].update(size="12"), r"weights\.size"),
        (lambda r: r["config"].update(features=["sma"]), r"config: .*unknown feature"),
    ],
)
def test_invalid_run_json_names_the_field(run, change, where):
    edit_record(run, change)
    with pytest.raises(RunError, match=rf"run\.json is invalid at {where}"):
        load_run(run)


def test_run_json_that_is_a_list_is_refused(run):
    (run / RECORD).write_text("[]")
    with pytest.raises(RunError, match=r"run\.json is invalid at run\.json: "):
        load_run(run)


def test_a_missing_folder_is_refused_with_how_to_make_one(tmp_path):
    with pytest.raises(
        RunError,
        match=r"no run folder .*nope; train a model and save it there: "
        r"LSTMForecaster\(\.\.\.\)\.fit\(frame\)\.save\('.*nope'\)$",
    ):
        load_run(tmp_path / "nope")


def test_a_folder_without_run_json_is_refused(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(RunError, match=r"empty has no run\.json; it is not a coincast run folder"):
        load_run(tmp_path / "empty")


def test_run_errors_are_coincast_errors():
    assert issubclass(RunError, CoincastError)


# -- names -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["../x", "a/b", "", "..", ".", ".hidden", "a..b", "x" * 101,
                                  "a b", "a\\b", "-x"])  # fmt: skip
def test_check_run_name_refuses_paths_and_odd_names(name):
    with pytest.raises(RunError, match=r"run name .* is not allowed: use letters, digits"):
        check_run_name(name)


@pytest.mark.parametrize("name", ["btc-1d_v2.0", "a", "BTC", "x" * 100, "1d"])
def test_check_run_name_accepts_plain_names(name):
    assert check_run_name(name) == name


def test_save_run_refuses_a_bad_folder_name_and_an_unfitted_model(fitted, tmp_path):
    with pytest.raises(RunError, match=r"run name 'a b' is not allowed"):
        save_run(fitted["point"], tmp_path / "a b")
    with pytest.raises(CoincastError, match="not fitted yet"):
        save_run(LSTMForecaster(), tmp_path / "unfitted")
    assert not (tmp_path / "unfitted").exists()


def test_a_run_written_by_coincast_0_1_still_loads(run, fitted, frame):
    """Format 1 held one coin's scalers and data at the top level."""

    def to_v1(r):
        coin = r["coins"][0]
        r.update(format="coincast-run/1", scalers=r["scalers"][coin], data=r["data"][coin])
        for key in ("coins", "exog_data", "skipped"):
            r.pop(key)

    edit_record(run, to_v1)
    g = load_run(run)
    np.testing.assert_array_equal(g.predict(frame=frame)["yhat"], fitted["point"].predict()["yhat"])
