"""One LSTM over several coins: coin embedding, per-coin scalers, the split in calendar time,
exogenous returns, short coins, predicting a chosen coin, run folders and backtests.

Every model is tiny (8-16 hidden units, one layer, one thread) on short synthetic series.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
import torch

from coincast.dataset.panel import build_panel, coin_inputs, exog_returns
from coincast.dataset.windows import Scaler
from coincast.errors import CoincastError
from coincast.evaluation.adapters import LSTMTraining, PanelLSTMModel
from coincast.evaluation.backtest import WalkForward
from coincast.evaluation.run import run_backtest
from coincast.intervals import interval_ms
from coincast.models.forecaster import LSTMConfig, LSTMForecaster
from coincast.models.runs import load_run, save_run
from coincast.series import make_frame, ms_from_index

TINY = dict(hidden=8, layers=1, lookback=5, epochs=2, batch=32, threads=1, log_every=0)


def candles(
    close: np.ndarray,
    coin: str,
    *,
    start: str = "2021-01-01",
    interval: str = "1d",
    source: str = "synthetic",
) -> pd.DataFrame:
    """A valid candle frame with the given closes, one bar per ``interval`` from ``start``."""
    close = np.asarray(close, dtype="float64")
    open_ = np.r_[close[0], close[:-1]]
    step = interval_ms(interval)
    ts = pd.Timestamp(start, tz="UTC").value // 1_000_000 + np.arange(len(close)) * step
    cols = {"open": open_, "high": np.maximum(open_, close) * 1.001,
            "low": np.minimum(open_, close) * 0.999, "close": close,
            "volume": np.full(len(close), 1000.0)}  # fmt: skip
    return make_frame(ts, cols, coin=coin, quote="usd", interval=interval, source=source)


def walk(n: int, coin: str, seed: int, **kwargs) -> pd.DataFrame:
    """A random walk: 2 % Gaussian log returns."""
    r = 0.02 * np.random.default_rng(seed).standard_normal(n)
    return candles(100 * np.exp(np.cumsum(r)), coin, **kwargs)


def log_returns(frame: pd.DataFrame) -> np.ndarray:
    return np.r_[np.nan, np.diff(np.log(frame["close"].to_numpy()))]


@pytest.fixture(scope="module")
def three() -> dict[str, pd.DataFrame]:
    """Three coins over the same 100 days."""
    return {c: walk(100, c, seed) for seed, c in enumerate(["alpha", "beta", "gamma"])}


@pytest.fixture(scope="module")
def global_model(three) -> LSTMForecaster:
    """A global model of the three coins, forecasting each of them (no target coin)."""
    return LSTMForecaster(**TINY, embed_dim=3).fit(three)


# -- the network ---------------------------------------------------------------------------------


def test_several_coins_get_a_coin_embedding(global_model):
    net = global_model.net
    assert global_model.coins == ["alpha", "beta", "gamma"]
    assert net.embed is not None and net.embed.weight.shape == (3, 3)
    assert net.lstm.input_size == len(global_model.config.inputs()) + 3 == 4


def test_no_embedding_when_turned_off_or_for_one_coin(three):
    off = LSTMForecaster(**TINY, coin_embedding=False).fit(three)
    assert off.net.embed is None and off.net.lstm.input_size == 1
    assert off.predict(coin="beta")["yhat"].notna().all()  # no coin index needed
    one = LSTMForecaster(**TINY, embed_dim=3).fit(three["alpha"])
    assert one.coins == ["alpha"]
    assert one.net.embed is None and one.net.lstm.input_size == 1


def test_same_seed_and_data_give_the_same_weights(three):
    a = LSTMForecaster(**TINY, seed=3).fit(three).net.state_dict()
    b = LSTMForecaster(**TINY, seed=3).fit(three).net.state_dict()
    assert a.keys() == b.keys() and "embed.weight" in a
    assert all(torch.equal(a[k], b[k]) for k in a)
    c = LSTMForecaster(**TINY, seed=4).fit(three).net.state_dict()
    assert not torch.equal(a["embed.weight"], c["embed.weight"])


# -- scalers and the split -----------------------------------------------------------------------

# Two coins of 100 days, lookback 5, horizon 1: window ends are rows 5..98 of each coin (94 each,
# 188 together). The last 20 % (38 of 188, i.e. the last 19 bars' windows of both coins) are
# validation, so validation starts at row 80: the training targets are rows 6..80 and the
# feature scaler is fit on rows 1..80 (row 0 has no log return).
SPLIT_ROW = 80


def pair_fit(a: pd.DataFrame, b: pd.DataFrame) -> LSTMForecaster:
    return LSTMForecaster(**{**TINY, "epochs": 1}, val_fraction=0.2).fit({"a": a, "b": b})


def test_each_coin_is_scaled_with_its_own_training_slice():
    a, b = walk(100, "a", 1), walk(100, "b", 2)
    model = pair_fit(a, b)
    for coin, frame in (("a", a), ("b", b)):
        r = log_returns(frame)
        sc = model.scalers[coin]
        expected_x = Scaler.fit(r[1 : SPLIT_ROW + 1, None])
        expected_y = Scaler.fit(r[6 : SPLIT_ROW + 1, None])
        np.testing.assert_allclose(sc.features.mean, expected_x.mean, rtol=1e-12)
        np.testing.assert_allclose(sc.features.std, expected_x.std, rtol=1e-12)
        np.testing.assert_allclose(sc.target.mean, expected_y.mean, rtol=1e-12)
        np.testing.assert_allclose(sc.target.std, expected_y.std, rtol=1e-12)


def test_another_coins_prices_do_not_touch_a_coins_scalers():
    a, b = walk(100, "a", 1), walk(100, "b", 2)
    wild = candles(b["close"].to_numpy() ** 2 * np.linspace(1, 50, 100), "b")
    before, after = pair_fit(a, b).scalers["a"], pair_fit(a, wild).scalers["a"]
    for part in ("features", "target"):
        for stat in ("mean", "std"):
            assert np.array_equal(getattr(getattr(before, part), stat),
                                  getattr(getattr(after, part), stat))  # fmt: skip
    assert not np.array_equal(pair_fit(a, wild).scalers["b"].features.std,
                              pair_fit(a, b).scalers["b"].features.std)  # fmt: skip


def test_validation_rows_reach_no_scaler():
    a, b = walk(100, "a", 1), walk(100, "b", 2)
    rng = np.random.default_rng(9)

    def later_changed(f: pd.DataFrame) -> pd.DataFrame:
        close = f["close"].to_numpy().copy()
        close[SPLIT_ROW + 1 :] *= rng.uniform(0.2, 5.0, len(close) - SPLIT_ROW - 1)
        return candles(close, f.attrs["coin"])

    before, after = pair_fit(a, b).scalers, pair_fit(later_changed(a), later_changed(b)).scalers
    for coin in ("a", "b"):
        for part in ("features", "target"):
            x, y = getattr(before[coin], part), getattr(after[coin], part)
            assert np.array_equal(x.mean, y.mean) and np.array_equal(x.std, y.std)


def test_the_validation_split_is_one_calendar_time_for_every_coin():
    horizon, lookback = 3, 5
    frames = {
        "long": walk(200, "long", 1, start="2020-01-01"),
        "late": walk(80, "late", 2, start="2020-05-01"),  # starts later, ends with long
        "early": walk(100, "early", 3, start="2019-12-01"),  # ends before validation starts
    }
    inputs = {c: coin_inputs(c, f, ["log_return"], "returns") for c, f in frames.items()}
    panel = build_panel(inputs, ["long", "late"], lookback=lookback, horizon=horizon,
                        target="returns", fraction=0.25, embed=True)  # fmt: skip
    ms = {c: ms_from_index(f.index) for c, f in frames.items()}
    offsets = dict(zip(frames, np.cumsum([0, *(len(f) for f in frames.values())]), strict=False))
    coin_of = list(frames)
    train_ends = panel.train.ends.numpy()
    train_coins = panel.train.coins.numpy()
    assert set(panel.val_ends) == {"long", "late"}  # only coins to forecast are validated
    split = min(ms[c][e].min() for c, e in panel.val_ends.items())
    for k, c in enumerate(coin_of):
        rows = train_ends[train_coins == k] - offsets[c]
        assert len(rows), c
        last_target = ms[c][rows + horizon].max()
        assert last_target <= split, f"{c} trains on a target after the split"
        if c in panel.val_ends:
            assert ms[c][panel.val_ends[c]].min() >= split
            # every window from the split on is a validation window: none is lost
            all_ends = np.arange(inputs[c].warm + lookback - 1, len(frames[c]) - horizon)
            assert set(all_ends[ms[c][all_ends] >= split]) == set(panel.val_ends[c])
    assert len(panel.val_ends["late"]) and ms["early"][-1] < split


# -- different series together --------------------------------------------------------------------


@pytest.mark.parametrize("interval", ["1d", "1h"])
def test_series_of_different_lengths_starts_and_sources_train_together(interval):
    frames = {
        "alpha": walk(120, "alpha", 1, interval=interval, start="2022-03-01"),
        "beta": walk(90, "beta", 2, interval=interval, start="2022-03-02", source="csv"),
        "gamma": walk(70, "gamma", 3, interval=interval, start="2022-02-27",
                      source="exchange:binance"),
    }  # fmt: skip
    model = LSTMForecaster(**TINY).fit(frames)
    assert model.skipped == [] and model.dropped == {"alpha": 0, "beta": 0, "gamma": 0}
    assert {c: d["source"] for c, d in model.data.items()} == {
        "alpha": "synthetic", "beta": "csv", "gamma": "exchange:binance"
    }  # fmt: skip
    assert {c: d["rows"] for c, d in model.data.items()} == {"alpha": 120, "beta": 90, "gamma": 70}
    for c, f in frames.items():
        p = model.predict(coin=c)
        assert p.index[0] == f.index[-1] + pd.Timedelta(interval_ms(interval), "ms")
        assert p.attrs["coin"] == c and np.isfinite(p["yhat"]).all()


# -- a coin whose returns lead another's -------------------------------------------------------


def lead_lag(n: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``leader`` is a random walk; ``follower``'s log return at t is the leader's at t-1 plus
    small noise, so the leader's last return predicts the follower's next one."""
    rng = np.random.default_rng(seed)
    lead = 0.02 * rng.standard_normal(n)
    follow = np.r_[0.0, lead[:-1]] + 0.002 * rng.standard_normal(n)
    return (candles(100 * np.exp(np.cumsum(lead)), "leader"),
            candles(50 * np.exp(np.cumsum(follow)), "follower"))  # fmt: skip


def test_the_returns_of_a_leading_coin_are_learned_as_inputs():
    leader, follower = lead_lag(400)
    fit_rows, ends = 320, np.arange(320, 399)  # held out: windows the fit never saw
    settings = dict(TINY, hidden=16, epochs=20, lr=1e-2, patience=20)
    actual = follower["close"].to_numpy()[ends + 1]
    mae = {}
    for name, exog in (("plain", []), ("exog", ["leader"])):
        model = LSTMForecaster(**settings, exog=exog).fit(
            {"follower": follower.iloc[:fit_rows]}, exog={"leader": leader.iloc[:fit_rows]}
        )
        pred = model.predict_rows(follower, ends, exog={"leader": leader})[:, 0]
        mae[name] = float(np.mean(np.abs(pred - actual)))
    naive = float(np.mean(np.abs(follower["close"].to_numpy()[ends] - actual)))
    assert mae["exog"] < 0.3 * mae["plain"], mae
    assert mae["exog"] < 0.3 * naive and mae["plain"] > 0.8 * naive, (mae, naive)


# -- too short a history -----------------------------------------------------------------------

SHORT = (
    r"lookback \(10\) \+ horizon \(1\) \+ feature warm-up \(1\) needs at least 12 rows; "
    r"tiny/usd 1d \(synthetic\) has 8"
)


@pytest.fixture(scope="module")
def with_short(three) -> dict[str, pd.DataFrame]:
    return {"alpha": three["alpha"], "beta": three["beta"], "tiny": walk(8, "tiny", 5)}


def test_a_too_short_coin_is_an_error_naming_it_and_the_rows_needed(with_short):
    with pytest.raises(CoincastError, match=SHORT):
        LSTMForecaster(**TINY | {"lookback": 10}).fit(with_short)


def test_a_too_short_coin_can_be_skipped(with_short):
    model = LSTMForecaster(**TINY | {"lookback": 10}, on_short="skip", target_coin="alpha")
    model.fit(with_short)
    assert model.skipped == ["tiny"]
    assert set(model.scalers) == {"alpha", "beta"}
    assert not [k for k in model.metrics if "tiny" in k]
    assert model.predict(coin="beta")["yhat"].notna().all()
    with pytest.raises(
        CoincastError, match=r"^coin tiny was skipped in training \(too short a history"
    ):
        model.predict(coin="tiny", frame=with_short["tiny"])
    with pytest.raises(CoincastError, match=r"this model forecasts alpha, beta$"):
        model.predict(coin="tiny")


def test_a_too_short_coin_is_skipped_without_a_target_coin_too(with_short):
    model = LSTMForecaster(**TINY | {"lookback": 10}, on_short="skip").fit(with_short)
    assert model.skipped == ["tiny"] and set(model.scalers) == {"alpha", "beta"}


def test_the_target_coin_is_never_skipped(with_short):
    model = LSTMForecaster(**TINY | {"lookback": 10}, on_short="skip", target_coin="tiny")
    with pytest.raises(CoincastError, match=SHORT):
        model.fit(with_short)


# -- exogenous coins: alignment ----------------------------------------------------------------


def gapped(frame: pd.DataFrame, rows: slice) -> pd.DataFrame:
    out = frame.drop(frame.index[rows])
    out.attrs = dict(frame.attrs)
    return out


def test_bars_without_an_exog_bar_are_dropped_and_counted_never_filled():
    leader, follower = lead_lag(120)
    holey = gapped(leader, slice(50, 55))
    model = LSTMForecaster(**TINY, exog=["leader"]).fit({"follower": follower},
                                                        exog={"leader": holey})  # fmt: skip
    assert model.dropped == {"follower": 5}
    ci = coin_inputs("follower", follower, ["log_return"], "returns", {"leader": holey})
    assert ci.dropped == 5 and len(ci.frame) == len(ci.x) == 115
    assert ci.frame.index.equals(follower.index.drop(leader.index[50:55]))
    ret = ci.x[:, 1]
    assert np.isnan(ret[50])  # the leader's bar after its gap: no one-bar return to give
    expected = exog_returns(holey).to_numpy()
    np.testing.assert_array_equal(ret[1:], expected[1:])
    assert np.isnan(exog_returns(holey).iloc[50])


def test_a_gap_in_an_exog_coin_costs_only_the_windows_that_touch_it():
    leader, follower = lead_lag(120)
    ci = coin_inputs("follower", follower, ["log_return"], "returns",
                     {"leader": gapped(leader, slice(50, 55))})  # fmt: skip
    panel = build_panel({"follower": ci}, ["follower"], lookback=5, horizon=1,
                        target="returns", fraction=0.0)  # fmt: skip
    # 115 kept bars, 1 of warm-up, lookback 5, horizon 1: 110 windows; 5 of them hold the NaN
    assert len(panel.train) >= 100


def test_predicting_when_the_exog_coin_lacks_the_last_bar_is_an_error():
    leader, follower = lead_lag(120)
    model = LSTMForecaster(**TINY, exog=["leader"]).fit({"follower": follower},
                                                        exog={"leader": leader})  # fmt: skip
    last = follower.index[-1]
    with pytest.raises(
        CoincastError,
        match=re.escape(f"leader has no bar at {last}, the last bar of follower; fetch it up to"),
    ):
        model.predict(frame=follower, exog={"leader": leader.iloc[:-1]})
    assert model.predict(frame=follower, exog={"leader": leader})["yhat"].notna().all()


def test_an_exog_coin_without_candles_is_an_error(three):
    with pytest.raises(
        CoincastError, match=r"^exog coin leader: no candles of leader were given"
    ) as caught:
        LSTMForecaster(**TINY, exog=["leader"]).fit(three)
    assert caught.value.cli.startswith("--exog leader: no candles of leader were given")


# -- which coin to forecast ----------------------------------------------------------------------


def test_the_target_coin_must_be_among_the_coins(three):
    with pytest.raises(
        CoincastError,
        match=r"^target_coin delta is not among the coins trained on \(alpha, beta, gamma\); li",
    ) as caught:
        LSTMForecaster(**TINY, target_coin="delta").fit(three)
    assert caught.value.cli.startswith("--target delta is not among the coins trained on")


def test_a_model_of_several_coins_needs_to_be_told_which(global_model, three):
    with pytest.raises(
        CoincastError,
        match=r"^this model forecasts 3 coins \(alpha, beta, gamma\); say which: coin=COIN$",
    ):
        global_model.predict()
    with pytest.raises(
        CoincastError,
        match=r"^coin delta is not one of the coins this model was trained on: alpha, beta, "
        r"gamma$",
    ):
        global_model.predict(coin="delta")
    with pytest.raises(
        CoincastError, match=r"trained on: alpha, beta, gamma; did you mean beta\?$"
    ):
        global_model.predict(coin="betta")
    beta = global_model.predict(coin="beta")
    assert beta.attrs["coin"] == "beta"
    assert beta.attrs["last_close"] == three["beta"]["close"].iloc[-1]
    assert beta.index[0] == three["beta"].index[-1] + pd.Timedelta(days=1)


def test_the_frames_coin_picks_the_coin(global_model, three):
    frame = three["gamma"]
    by_frame = global_model.predict(frame=frame)
    pd.testing.assert_frame_equal(by_frame, global_model.predict(frame=frame, coin="gamma"))
    other = global_model.predict(frame=frame, coin="alpha")  # alpha's scalers and vector
    assert not np.allclose(by_frame["yhat"], other["yhat"], rtol=0, atol=1e-9)


def test_the_target_coin_is_forecast_by_default(three):
    model = LSTMForecaster(**TINY, target_coin="beta").fit(three)
    m = model.metrics
    assert set(m) == {"val_of", "val_mae", "val_naive_mae", "val_rel_mae"}  # beta's alone
    assert m["val_of"] == "beta (the target coin)"
    assert m["val_mae"] == pytest.approx(m["val_rel_mae"] * m["val_naive_mae"], rel=1e-12)
    pd.testing.assert_frame_equal(model.predict(), model.predict(coin="beta"))


def test_a_global_model_without_a_target_reports_the_median_over_its_coins(global_model):
    m = global_model.metrics
    coins = ["alpha", "beta", "gamma"]
    rel = [m[f"val_rel_mae:{c}"] for c in coins]
    assert all(isinstance(r, float) for r in rel)
    assert m["val_rel_mae"] == float(np.median(rel)) == sorted(rel)[1]
    assert m["val_of"].startswith("median MAE / naive over 3 coins (alpha, beta, gamma)")
    assert m["val_mae"] is None and m["val_naive_mae"] is None  # prices differ: words say so
    assert "per coin" in m["val_of"]
    for c in coins:
        assert m[f"val_mae:{c}"] == pytest.approx(
            m[f"val_rel_mae:{c}"] * m[f"val_naive_mae:{c}"], rel=1e-12
        )


# -- run folders -------------------------------------------------------------------------------


def test_a_global_model_with_exog_round_trips_through_a_run_folder(tmp_path, three):
    leader, _ = lead_lag(100)
    frames = {"alpha": three["alpha"], "beta": three["beta"]}
    model = LSTMForecaster(**TINY, exog=["leader"]).fit(frames, exog={"leader": leader})
    save_run(model, tmp_path / "global-exog")
    loaded = load_run(tmp_path / "global-exog")
    assert loaded.coins == ["alpha", "beta"] and list(loaded.exog_data) == ["leader"]
    assert loaded.net.embed is not None
    exog = {"leader": leader}
    for coin in frames:
        pd.testing.assert_frame_equal(
            loaded.predict(frame=frames[coin], coin=coin, exog=exog),
            model.predict(frame=frames[coin], coin=coin, exog=exog),
        )
        ends = np.arange(40, 99)
        np.testing.assert_array_equal(
            loaded.predict_rows(frames[coin], ends, coin=coin, exog=exog),
            model.predict_rows(frames[coin], ends, coin=coin, exog=exog),
        )
    with pytest.raises(CoincastError, match="reads the returns of leader as inputs"):
        loaded.predict(frame=frames["beta"], coin="beta")


# -- backtests ---------------------------------------------------------------------------------


def test_other_coins_candles_after_the_cutoff_do_not_change_the_forecast(three):
    leader, _ = lead_lag(100)
    cfg = LSTMConfig(**TINY, exog=["leader"])
    view = three["alpha"].iloc[:70]  # the cutoff is row 69

    def forecast(beta: pd.DataFrame, lead: pd.DataFrame) -> pd.DataFrame:
        model = PanelLSTMModel(cfg, {"alpha": three["alpha"], "beta": beta},
                               exog={"leader": lead})  # fmt: skip
        return model.fit(view).predict(1)

    def scaled(f: pd.DataFrame, rows: slice, by: float) -> pd.DataFrame:
        close = f["close"].to_numpy().copy()
        close[rows] *= by
        return candles(close, f.attrs["coin"])

    base = forecast(three["beta"], leader)
    later = forecast(scaled(three["beta"], slice(70, None), 9.0),
                     scaled(leader, slice(70, None), 0.1))  # fmt: skip
    pd.testing.assert_frame_equal(base, later)
    earlier = forecast(scaled(three["beta"], slice(30, None), 9.0), leader)
    assert not base["yhat"].equals(earlier["yhat"])  # beta's past does reach the model


def test_shared_fits_give_the_same_backtests_with_fewer_trainings(monkeypatch, three):
    frames = {"alpha": three["alpha"], "beta": three["beta"]}
    cfg = LSTMConfig(**TINY)
    fits = []
    real_fit = LSTMForecaster.fit

    def counting_fit(self, *args, **kwargs):
        fits.append(1)
        return real_fit(self, *args, **kwargs)

    monkeypatch.setattr(LSTMForecaster, "fit", counting_fit)

    def backtests(shared: dict | None) -> list[pd.DataFrame]:
        return [
            run_backtest(f, WalkForward(test=10, refit_every=5), models=["lstm"],
                         lstm=LSTMTraining(cfg, refit_epochs=1, variants=["global"],
                                           others=frames, shared=shared)).table
            for f in frames.values()
        ]  # fmt: skip

    alone = backtests(None)
    assert len(fits) == 4  # 2 coins x 2 refits
    fits.clear()
    shared: dict = {}
    together = backtests(shared)
    assert len(fits) == 2 and len(shared) == 2  # one training per refit, for both coins
    for a, b in zip(alone, together, strict=True):
        assert set(a["model"]) == {"lstm", "naive"} and len(a) == 20
        pd.testing.assert_frame_equal(a, b)


def test_an_expanding_backtest_gives_the_global_model_the_other_coins_earlier_history():
    """A coin listed later (a younger coin) still learns from the older coins' full past,
    and backtests of coins with different start dates share the same global fits."""
    old, young = walk(120, "old", 0), walk(60, "young", 1, start="2021-03-02")
    frames = {"old": old, "young": young}
    shared: dict = {}
    cfg = LSTMConfig(**TINY)
    model = PanelLSTMModel(cfg, frames, shared=shared)
    model.fit(young.iloc[:40])
    assert model.model.data["old"]["start"] == old.index[0].isoformat()
    assert model.model.data["old"]["end"] == young.index[39].isoformat()
    PanelLSTMModel(cfg, frames, shared=shared).fit(old.loc[: young.index[39]])
    assert len(shared) == 1  # one fit serves both coins' backtests at this cutoff
    rolling = PanelLSTMModel(cfg, frames).fit(young.iloc[5:40])  # a rolling window
    assert rolling.model.data["old"]["start"] == young.index[5].isoformat()
