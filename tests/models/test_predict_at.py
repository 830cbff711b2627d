"""Forecasts by timestamp (``LSTMForecaster.predict_at``) and ``save``/``load``: from a frame
or a store, each forecast from the bars up to its cutoff and none after."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from coincast.data.sources import synthetic_candles
from coincast.errors import CoincastError
from coincast.models import LSTMForecaster

TINY = {"epochs": 1, "hidden": 8, "layers": 1, "lookback": 5, "threads": 1, "log_every": 0}


@pytest.fixture(scope="module")
def frame():
    return synthetic_candles(80, coin="bitcoin", seed=3)


@pytest.fixture(scope="module")
def model(frame):
    return LSTMForecaster(**TINY, horizon=3).fit(frame.iloc[:60])


def test_predict_at_is_predict_from_the_bars_up_to_each_cutoff(model, frame):
    cutoffs = frame.index[[59, 65, 79]]
    out = model.predict_at(frame, cutoffs)
    assert out.index.name == "cutoff" and out.columns.tolist() == ["step", "ts", "yhat", "lo", "hi"]
    assert out.index.tolist() == [t for t in cutoffs for _ in range(3)]
    assert out["step"].tolist() == [1, 2, 3] * 3
    for t in cutoffs:
        one = out.loc[[t]]
        alone = model.predict(frame=frame.loc[:t])
        assert one["ts"].tolist() == alone.index.tolist()
        np.testing.assert_array_equal(one["yhat"], alone["yhat"])
    day = pd.Timedelta(days=1)
    assert ((out["ts"] - out.index) == out["step"] * day).all()
    rows = frame.index.get_indexer(cutoffs)
    np.testing.assert_allclose(
        out["yhat"].to_numpy().reshape(3, 3), model.predict_rows(frame, rows), rtol=1e-6
    )


def test_a_forecast_at_t_sees_no_bar_after_t(model, frame):
    t = frame.index[65]
    changed = frame.copy()
    changed.iloc[66:, :] *= 3.0  # every bar after the cutoff, wildly different
    changed.attrs.update(frame.attrs)
    a = model.predict_at(frame, t)
    b = model.predict_at(changed, t)
    pd.testing.assert_frame_equal(a, b)
    assert not np.allclose(
        model.predict_at(frame, frame.index[70])["yhat"],
        model.predict_at(changed, frame.index[70])["yhat"],
    )


def test_saved_and_loaded_it_predicts_from_the_store_by_timestamp(model, frame, store, tmp_path):
    folder = model.save(tmp_path / "runs" / "btc")
    assert (folder / "run.json").is_file() and (folder / "model.safetensors").is_file()
    loaded = LSTMForecaster.load(folder)
    store.write_candles(frame)
    stamps = ["2020-03-01", pd.Timestamp("2020-03-10", tz="UTC")]
    from_store = loaded.predict_at(store, stamps, horizon=2)
    pd.testing.assert_frame_equal(from_store, model.predict_at(frame, stamps, horizon=2))
    assert from_store.attrs["coin"] == "bitcoin"
    # the coin may be named by its symbol
    by_symbol = loaded.predict_at(store, stamps, horizon=2, coin="BTC")
    pd.testing.assert_frame_equal(by_symbol, from_store)


@pytest.mark.parametrize(
    ("stamps", "message"),
    [
        (["2020-01-02 12:00"], r"timestamps: 2020-01-02 12:00:00\+00:00 is not a bar of bitcoin"),
        (["2031-01-01"], r"is not a bar of bitcoin/usd 1d \(synthetic\) \(2020-01-01 .*\)"),
        (["soon"], r"timestamps: 'soon' is not a time; give bar start times"),
        ([], r"timestamps is empty: give at least one cutoff"),
        (["2020-01-03"], r"lookback \(5\) \+ feature warm-up .* needs"),
    ],
)
def test_cutoffs_it_cannot_forecast_from_are_refused_in_words(model, frame, stamps, message):
    with pytest.raises(CoincastError, match=message):
        model.predict_at(frame, stamps)
