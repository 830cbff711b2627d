"""LSTMForecaster and the training loop: it learns what can be learned and no more, is
deterministic, resumes exactly, stops early with the best weights, and refuses misuse."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors import safe_open

from coincast.data.sources.synthetic import predictable_candles, random_walk
from coincast.dataset.panel import build_panel, coin_inputs
from coincast.errors import CoincastError
from coincast.models import LSTMForecaster
from coincast.models.heads import get_head
from coincast.models.training import CHECKPOINT, TrainingInterrupted, evaluate

#: Small and fast; one thread (two threads fight with anything else on a 2-core machine) and
#: the CPU, so results do not depend on the machine's accelerator.
FAST = {"hidden": 16, "layers": 1, "lookback": 20, "log_every": 0, "threads": 1, "device": "cpu"}


def states_equal(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def val_windows(f: LSTMForecaster, frame: pd.DataFrame):
    """The validation windows of ``f``'s config on ``frame``, built as the forecaster does."""
    cfg, coin = f.config, frame.attrs["coin"]
    ci = coin_inputs(coin, frame, cfg.features, cfg.target)
    return build_panel({coin: ci}, [coin], lookback=cfg.lookback, horizon=cfg.horizon,
                       target=cfg.target, fraction=cfg.val_fraction)  # fmt: skip


def step1_rel_mae(f: LSTMForecaster, frame: pd.DataFrame, ends: np.ndarray) -> float:
    """Step-1 MAE of ``f`` over windows ending at ``ends``, relative to the naive forecast."""
    close = frame["close"].to_numpy()
    pred = f.predict_rows(frame, ends)[:, 0]
    naive = close[ends]
    actual = close[ends + 1]
    return float(np.mean(np.abs(pred - actual)) / np.mean(np.abs(naive - actual)))


# -- it learns, and does not pretend ---------------------------------------------------------


@pytest.mark.parametrize(
    ("series", "low", "high"),
    [(predictable_candles, 0.0, 0.6), (random_walk, 0.9, 1.1)],
    ids=["predictable", "random-walk"],
)
def test_beats_naive_only_when_there_is_something_to_learn(series, low, high):
    frame = series(1200)
    f = LSTMForecaster(epochs=30, patience=5, lr=3e-3, **FAST).fit(frame.iloc[:1000])
    assert low < f.metrics["val_rel_mae"] < high
    assert f.metrics["val_mae"] == pytest.approx(
        f.metrics["val_rel_mae"] * f.metrics["val_naive_mae"]
    )
    # out of sample: windows ending after the training data, on the full frame
    later = np.arange(999, 1199)
    assert low < step1_rel_mae(f, frame, later) < high


# -- determinism -----------------------------------------------------------------------------


def test_same_seed_and_data_give_the_same_model_and_forecast():
    frame = predictable_candles(600)
    kw = {**FAST, "layers": 2, "dropout": 0.2, "epochs": 3, "horizon": 2}
    a = LSTMForecaster(seed=7, **kw).fit(frame)
    b = LSTMForecaster(seed=7, **kw).fit(frame)
    c = LSTMForecaster(seed=8, **kw).fit(frame)
    assert states_equal(a.net, b.net)
    pd.testing.assert_frame_equal(a.predict(), b.predict())
    assert [r.train_loss for r in a.result.history] == [r.train_loss for r in b.result.history]
    assert not torch.equal(a.net.state_dict()["head.weight"], c.net.state_dict()["head.weight"])


# -- checkpoints and resume ------------------------------------------------------------------

#: Dropout and two layers so that resuming must restore the RNG states too; a patience that
#: never triggers, so every run trains all its epochs.
RESUMABLE = {**FAST, "layers": 2, "dropout": 0.2, "patience": 100, "seed": 3}
N = 6


@pytest.fixture(scope="module")
def resume_frame() -> pd.DataFrame:
    return predictable_candles(600)


@pytest.fixture(scope="module")
def uninterrupted(resume_frame, tmp_path_factory) -> LSTMForecaster:
    folder = tmp_path_factory.mktemp("uninterrupted")
    return LSTMForecaster(epochs=N, **RESUMABLE).fit(resume_frame, checkpoint_dir=folder)


def test_resume_continues_where_a_shorter_run_stopped(resume_frame, uninterrupted, tmp_path):
    k = 3
    short = LSTMForecaster(epochs=k, **RESUMABLE).fit(resume_frame, checkpoint_dir=tmp_path)
    resumed = LSTMForecaster(epochs=N, **RESUMABLE).fit(
        resume_frame, checkpoint_dir=tmp_path, resume=True
    )
    assert states_equal(resumed.net, uninterrupted.net)
    history = resumed.result.history
    assert [r.epoch for r in history] == list(range(1, N + 1))
    assert history[:k] == short.result.history  # restored from the checkpoint, seconds and all
    full = uninterrupted.result.history
    assert [(r.train_loss, r.val_loss) for r in history] == [
        (r.train_loss, r.val_loss) for r in full
    ]
    assert resumed.result.best_epoch == uninterrupted.result.best_epoch
    pd.testing.assert_frame_equal(resumed.predict(), uninterrupted.predict())


def test_ctrl_c_leaves_a_checkpoint_of_the_last_epoch_and_resume_finishes_the_run(
    resume_frame, uninterrupted, tmp_path
):
    def stop_at_3(record):
        if record.epoch == 3:
            raise KeyboardInterrupt

    with pytest.raises(
        TrainingInterrupted, match=r"training interrupted after epoch 3; resume with resume=True$"
    ) as caught:
        LSTMForecaster(epochs=N, **RESUMABLE).fit(
            resume_frame, checkpoint_dir=tmp_path, on_epoch=stop_at_3
        )
    assert caught.value.cli == "training interrupted after epoch 3; resume with --resume"
    with safe_open(str(tmp_path / CHECKPOINT), "pt") as f:
        assert f.metadata()["epoch"] == "3"
    seen = []
    resumed = LSTMForecaster(epochs=N, **RESUMABLE).fit(
        resume_frame, checkpoint_dir=tmp_path, resume=True, on_epoch=lambda r: seen.append(r.epoch)
    )
    assert seen == [4, 5, 6]
    assert states_equal(resumed.net, uninterrupted.net)


def test_ctrl_c_inside_an_epoch_loses_only_that_epoch(
    resume_frame, uninterrupted, tmp_path, monkeypatch
):
    import coincast.models.training as training

    calls = []
    real = training.evaluate

    def interrupted_in_epoch_3(*args, **kwargs):  # after epoch 3's batches, before it ends
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(training, "evaluate", interrupted_in_epoch_3)
    with pytest.raises(TrainingInterrupted, match=r"after epoch 2; resume with resume=True$"):
        LSTMForecaster(epochs=N, **RESUMABLE).fit(resume_frame, checkpoint_dir=tmp_path)
    monkeypatch.setattr(training, "evaluate", real)
    resumed = LSTMForecaster(epochs=N, **RESUMABLE).fit(
        resume_frame, checkpoint_dir=tmp_path, resume=True
    )
    assert [r.epoch for r in resumed.result.history] == list(range(1, N + 1))
    assert states_equal(resumed.net, uninterrupted.net)


def test_extending_a_cosine_run_on_resume_matches_the_uninterrupted_run(resume_frame, tmp_path):
    kw = {**RESUMABLE, "lr_schedule": "cosine"}
    full = LSTMForecaster(epochs=N, **kw).fit(resume_frame)
    LSTMForecaster(epochs=3, **kw).fit(resume_frame, checkpoint_dir=tmp_path)
    try:
        resumed = LSTMForecaster(epochs=N, **kw).fit(
            resume_frame, checkpoint_dir=tmp_path, resume=True
        )
    except CoincastError:
        return  # refusing the extension with a clear message is fine too
    assert [r.lr for r in resumed.result.history] == [r.lr for r in full.result.history]


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"data": True}, id="other-data"),
        pytest.param({"hidden": 8}, id="other-hidden"),
        pytest.param({"seed": 4}, id="other-seed"),
        pytest.param({"lookback": 10}, id="other-lookback"),
    ],
)
def test_a_checkpoint_of_other_data_or_settings_is_refused(resume_frame, tmp_path, change):
    LSTMForecaster(epochs=2, **RESUMABLE).fit(resume_frame, checkpoint_dir=tmp_path)
    frame = resume_frame
    if change.pop("data", False):
        frame = predictable_candles(600, seed=1)
    f = LSTMForecaster(epochs=4, **{**RESUMABLE, **change})
    with pytest.raises(CoincastError, match="was made with other data or settings"):
        f.fit(frame, checkpoint_dir=tmp_path, resume=True)


def test_resume_without_a_checkpoint_is_refused(resume_frame, tmp_path):
    f = LSTMForecaster(epochs=2, **RESUMABLE)
    with pytest.raises(
        CoincastError, match=r"no checkpoint to resume in .*; train without resume=True$"
    ) as caught:
        f.fit(resume_frame, checkpoint_dir=tmp_path, resume=True)
    assert caught.value.cli.endswith("; train without --resume")


def test_a_damaged_checkpoint_is_refused(resume_frame, tmp_path):
    LSTMForecaster(epochs=1, **RESUMABLE).fit(resume_frame, checkpoint_dir=tmp_path)
    path = tmp_path / CHECKPOINT
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(CoincastError, match=r"cannot be read .*; train without resume=True$"):
        LSTMForecaster(epochs=2, **RESUMABLE).fit(
            resume_frame, checkpoint_dir=tmp_path, resume=True
        )


# -- early stopping --------------------------------------------------------------------------


def test_early_stopping_restores_the_best_epoch():
    frame = random_walk(800, seed=2)
    weights = {}
    f = LSTMForecaster(epochs=200, patience=2, lr=3e-3, **FAST)

    def keep(record):
        weights[record.epoch] = {k: v.clone() for k, v in f.net.state_dict().items()}

    f.fit(frame, on_epoch=keep)
    history = f.result.history
    assert f.result.stopped_early
    assert len(history) < 50
    val = [r.val_loss for r in history]
    best = int(np.argmin(val)) + 1
    assert f.result.best_epoch == best
    assert len(history) == best + 2  # stopped after `patience` epochs without improvement
    assert all(torch.equal(v, weights[best][k]) for k, v in f.net.state_dict().items())
    # the restored model's validation loss, evaluated afresh, is the best in the history
    assert evaluate(
        f.net, val_windows(f, frame).val, get_head("point").loss, "cpu"
    ) == pytest.approx(min(val), rel=1e-6)


# -- heads, horizons, recursive, price ------------------------------------------------------


@pytest.mark.parametrize("head", ["quantile", "gaussian"])
def test_probabilistic_heads_give_ordered_bands(head):
    frame = predictable_candles(600)
    f = LSTMForecaster(head=head, horizon=3, epochs=3, **FAST).fit(frame)
    out = f.predict()
    assert list(out.columns) == ["yhat", "lo", "hi"]
    assert np.isfinite(out.to_numpy()).all()
    assert (out["lo"] <= out["yhat"]).all() and (out["yhat"] <= out["hi"]).all()
    assert (out["lo"] < out["hi"]).all()
    step = pd.Timedelta(days=1)
    assert list(out.index) == [frame.index[-1] + step * h for h in (1, 2, 3)]
    assert out.index.name == "ts"
    assert out.attrs["last_close"] == frame["close"].iloc[-1]
    assert len(f.predict(horizon=2)) == 2


def test_point_head_has_no_band_and_predicts_on_a_new_frame():
    frame = predictable_candles(600)
    f = LSTMForecaster(horizon=2, epochs=2, **FAST).fit(frame.iloc[:500])
    out = f.predict()
    assert out["lo"].isna().all() and out["hi"].isna().all()
    assert out.index[0] == frame.index[500]
    later = f.predict(frame=frame)
    assert later.index[0] == frame.index[-1] + pd.Timedelta(days=1)
    assert later.attrs["last_close"] == frame["close"].iloc[-1]


def test_recursive_mode_feeds_one_step_forecasts_back():
    frame = predictable_candles(600)
    f = LSTMForecaster(recursive=True, horizon=4, epochs=3, **FAST).fit(frame)
    assert f.net.horizon == 1  # one network output, applied four times
    out = f.predict()
    assert len(out) == 4 and np.isfinite(out["yhat"]).all()
    assert f.predict_rows(frame, np.array([100, 200])).shape == (2, 1)
    # the first recursive step is the one-step forecast of the same window
    one = f.predict_rows(frame, np.array([len(frame) - 1]))[0, 0]
    assert out["yhat"].iloc[0] == pytest.approx(one, rel=1e-6)


@pytest.mark.parametrize("head", ["quantile", "gaussian"])
def test_recursive_mode_feeds_back_the_point_forecast_of_any_head(head):
    frame = predictable_candles(300)
    f = LSTMForecaster(recursive=True, horizon=3, epochs=1, head=head, **FAST).fit(frame)
    out = f.predict()
    assert len(out) == 3 and np.isfinite(out["yhat"]).all()
    assert out["lo"].isna().all() and out["hi"].isna().all()  # no band one step at a time
    one = f.predict_rows(frame, np.array([len(frame) - 1]))[0, 0]
    assert out["yhat"].iloc[0] == pytest.approx(one, rel=1e-6)


@pytest.mark.parametrize(
    ("target", "features"), [("returns", ["log_return", "rsi"]), ("returns", ["close"]),
                             ("price", ["log_return"])]
)  # fmt: skip
def test_recursive_mode_is_refused_for_other_features(target, features):
    with pytest.raises(CoincastError, match="recursive mode feeds forecasts back as inputs"):
        LSTMForecaster(recursive=True, target=target, features=features)


def test_price_target_uses_the_close_as_input():
    frame = predictable_candles(600)
    f = LSTMForecaster(target="price", epochs=3, **FAST)
    assert f.config.features == ["close"]
    f.fit(frame)
    out = f.predict(horizon=1)
    assert np.isfinite(out["yhat"]).all() and out["yhat"].iloc[0] > 0
    assert f.metrics["val_rel_mae"] is not None


def test_more_features_train_together():
    frame = predictable_candles(600)
    f = LSTMForecaster(features=["log_return", "rsi", "range"], epochs=2, **FAST).fit(frame)
    assert f.net.lstm.input_size == 3
    assert f.feature_scaler.mean.shape == (3,)
    assert np.isfinite(f.predict()["yhat"]).all()


# -- errors ----------------------------------------------------------------------------------


def test_too_little_history_for_the_lookback():
    f = LSTMForecaster(horizon=5, **{**FAST, "lookback": 30})
    with pytest.raises(
        CoincastError,
        match=r"lookback \(30\) \+ horizon \(5\) \+ feature warm-up \(1\) needs at least 36 rows; "
        r"synthetic-signal/usd 1d \(synthetic\) has 30",
    ):
        f.fit(predictable_candles(30))


def test_predicting_past_the_trained_horizon_is_refused():
    f = LSTMForecaster(horizon=2, epochs=1, **FAST).fit(predictable_candles(300))
    with pytest.raises(
        CoincastError, match=r"horizon \(3\) must be between 1 and the trained horizon \(2\)"
    ):
        f.predict(horizon=3)
    with pytest.raises(CoincastError, match=r"horizon \(0\) must be between 1"):
        f.predict(horizon=0)


def test_predicting_from_too_short_a_frame_is_refused():
    frame = predictable_candles(300)
    f = LSTMForecaster(epochs=1, **FAST).fit(frame)
    with pytest.raises(
        CoincastError, match=r"lookback \(20\) \+ feature warm-up \(1\) needs 21 rows"
    ):
        f.predict(frame=frame.iloc[:20])


def test_predict_before_fit_is_refused():
    with pytest.raises(CoincastError, match="not fitted yet: call fit"):
        LSTMForecaster().predict()
    with pytest.raises(CoincastError, match="not fitted yet"):
        LSTMForecaster().predict_rows(predictable_candles(50), np.array([40]))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"lookback": 0}, r"^lookback is 0; it must be a whole number from 1 to 100000, e\.g\. "),
        ({"features": ["sma"]}, r"unknown feature\(s\) 'sma'"),
        ({"head": "median"}, r"^head is 'median'; it must be point, quantile or gaussian, e\.g\."),
        ({"quantiles": (0.9, 0.1)}, r"^quantiles is \(0\.9, 0\.1\); it must be 1 to 99 increasing"),
        ({"nonsense": 1}, r"^unknown setting 'nonsense'; known: lookback, horizon"),
    ],
)
def test_bad_config_is_refused_with_the_setting_named(overrides, message):
    with pytest.raises(CoincastError, match=message):
        LSTMForecaster(**overrides)


def test_no_training_windows_left_after_validation():
    f = LSTMForecaster(val_fraction=0.8, horizon=20, **FAST)
    with pytest.raises(CoincastError, match="no training windows before the validation period"):
        f.fit(predictable_candles(60))


# -- no leakage ------------------------------------------------------------------------------


def test_scalers_see_nothing_from_the_validation_targets():
    frame = predictable_candles(600)
    kw = {**FAST, "epochs": 1, "horizon": 3, "features": ["log_return", "range", "rsi"]}
    a = LSTMForecaster(**kw).fit(frame)
    # the first validation target row, found as the forecaster finds it
    cut = int(val_windows(a, frame).val_ends[frame.attrs["coin"]][0]) + 1
    changed = frame.copy()
    rng = np.random.default_rng(0)
    factor = np.exp(np.cumsum(rng.normal(0, 0.3, len(frame) - cut)))  # wild moves
    for col in ("open", "high", "low", "close"):
        changed.iloc[cut:, changed.columns.get_loc(col)] *= factor
    changed.iloc[cut:, changed.columns.get_loc("high")] *= 1.5  # wider bars too
    b = LSTMForecaster(**kw).fit(changed)
    np.testing.assert_array_equal(a.feature_scaler.mean, b.feature_scaler.mean)
    np.testing.assert_array_equal(a.feature_scaler.std, b.feature_scaler.std)
    np.testing.assert_array_equal(a.target_scaler.mean, b.target_scaler.mean)
    np.testing.assert_array_equal(a.target_scaler.std, b.target_scaler.std)
    # ...while the rows just before it do count
    changed = frame.copy()
    changed.iloc[cut - 1 :, changed.columns.get_loc("high")] *= 1.5
    c = LSTMForecaster(**kw).fit(changed)
    assert not np.array_equal(a.feature_scaler.mean, c.feature_scaler.mean)


def test_data_info_records_the_frame():
    frame = predictable_candles(300)
    f = LSTMForecaster(epochs=1, **FAST).fit(frame)
    d = f.data["synthetic-signal"]
    assert d["rows"] == 300
    assert d["start"] == frame.index[0].isoformat()
    assert d["end"] == frame.index[-1].isoformat()
    assert (d["coin"], d["interval"], d["source"]) == ("synthetic-signal", "1d", "synthetic")
    other = LSTMForecaster(epochs=1, **FAST).fit(predictable_candles(300, seed=1))
    assert other.data["synthetic-signal"]["sha256"] != d["sha256"]


def test_training_history_and_progress_callback():
    seen = []
    f = LSTMForecaster(epochs=3, patience=100, **FAST).fit(
        predictable_candles(300), on_epoch=seen.append
    )
    assert seen == f.result.history
    assert [r.epoch for r in seen] == [1, 2, 3]
    assert all(r.val_loss is not None and r.windows > 0 and r.seconds >= 0 for r in seen)
    assert not f.result.stopped_early


def test_the_checkpoint_file_is_safetensors_with_the_state(tmp_path, resume_frame):
    LSTMForecaster(epochs=2, **RESUMABLE).fit(resume_frame, checkpoint_dir=tmp_path)
    assert sorted(p.name for p in Path(tmp_path).iterdir()) == [CHECKPOINT]  # no .tmp left
    with safe_open(str(tmp_path / CHECKPOINT), "pt") as f:
        keys = set(f.keys())
        meta = f.metadata()
    assert {"rng.shuffle", "rng.torch"} <= keys
    assert any(k.startswith("model.") for k in keys) and any(k.startswith("best.") for k in keys)
    assert any(k.startswith("optim.") for k in keys)
    assert meta["epoch"] == "2" and len(meta["fingerprint"]) == 64


def test_without_a_validation_slice_the_training_loss_decides():
    f = LSTMForecaster(val_fraction=0.0, epochs=3, patience=100, **FAST).fit(
        predictable_candles(300)
    )
    assert f.metrics == {
        "val_of": "none: no validation windows (val_fraction is 0, or too few bars for one)",
        "val_mae": None,
        "val_naive_mae": None,
        "val_rel_mae": None,
    }
    history = f.result.history
    assert all(r.val_loss is None for r in history)
    assert f.result.best_epoch == int(np.argmin([r.train_loss for r in history])) + 1


def test_a_warm_refit_keeps_its_start_when_no_epoch_beats_it():
    frame = random_walk(600, seed=4)
    model = LSTMForecaster(hidden=8, layers=1, epochs=3, threads=1, log_every=0).fit(frame)
    start = {k: v.clone() for k, v in model.net.state_dict().items()}
    model.config.lr = 10.0  # steps this large only make the network worse
    model.fit(frame, warm_start=True, epochs=2)
    assert model.result.best_epoch == 0 and len(model.result.history) == 2
    assert all(torch.equal(start[k], v) for k, v in model.net.state_dict().items())
