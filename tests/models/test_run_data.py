"""``coincast.models.run_data``: what a model reads from the store to train, to forecast and
to be looked inside."""

from __future__ import annotations

import pandas as pd
import pytest

from coincast.data.sources import synthetic_candles
from coincast.errors import CoincastError
from coincast.models import LSTMForecaster
from coincast.models.run_data import forecast_latest, run_frames, training_frames, window_for

TINY = {"epochs": 1, "hidden": 8, "layers": 1, "lookback": 5, "threads": 1, "log_every": 0}


@pytest.fixture
def filled(store):
    for seed, coin in enumerate(("alpha", "beta", "gamma")):
        store.write_candles(synthetic_candles(60, coin=coin, seed=seed))
    return store


def test_training_frames_reads_exog_coins_once(filled):
    frames, exog = training_frames(filled, ["alpha", "beta"], ["beta", "gamma"], "1d")
    assert list(frames) == ["alpha", "beta"] and list(exog) == ["gamma"]
    end = pd.Timestamp("2020-01-31", tz="UTC")
    frames, exog = training_frames(filled, ["alpha"], ["gamma"], "1d", end=end)
    assert frames["alpha"].index[-1] == exog["gamma"].index[-1] == end


@pytest.fixture
def model(filled):
    frames, exog = training_frames(filled, ["alpha", "beta"], ["gamma"], "1d", end=None)
    return LSTMForecaster(**TINY, exog=["gamma"]).fit(
        {c: f.iloc[:40] for c, f in frames.items()}, exog={"gamma": exog["gamma"].iloc[:40]}
    )


def test_run_frames_are_the_latest_stored_bars(filled, model):
    frames, exog = run_frames(filled, model)
    assert list(frames) == ["alpha", "beta"] and list(exog) == ["gamma"]
    assert all(len(f) == 60 for f in (*frames.values(), *exog.values()))


def test_forecast_latest_starts_after_the_last_stored_bar(filled, model):
    forecast, frame = forecast_latest(filled, model, coin="beta")
    assert frame.attrs["coin"] == "beta" and len(frame) == 60
    assert forecast.index[0] == frame.index[-1] + pd.Timedelta(days=1)
    with pytest.raises(CoincastError, match=r"say which: coin=COIN$"):
        forecast_latest(filled, model)


def test_window_for_ends_at_the_bar_asked_for(filled, model):
    last = window_for(filled, model, "LAST", coin="alpha")
    assert last.index[-1] == pd.Timestamp("2020-02-29", tz="UTC") and len(last.index) == 5
    dated = window_for(filled, model, "2020-02-10", coin="alpha")
    assert dated.index[-1] == pd.Timestamp("2020-02-10", tz="UTC")
    with pytest.raises(CoincastError, match=r"^window 'soon' is not a date") as caught:
        window_for(filled, model, "soon", coin="alpha")
    assert caught.value.cli.startswith("--window 'soon' is not a date")
