"""Windows: the alignment contract (targets strictly after inputs), stub models that reproduce
the truth exactly, batch shapes, laziness on a 1M-row series, the scaler, need_rows."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from coincast.dataset.panel import Scalers
from coincast.dataset.windows import (
    Scaler,
    Windows,
    need_rows,
    target_level,
    targets_at,
    window_ends,
)
from coincast.errors import CoincastError
from coincast.models import LSTMForecaster
from coincast.models.inference import to_price
from coincast.series import make_frame

DAY = 86_400_000


def frame_of(close: np.ndarray) -> pd.DataFrame:
    close = np.asarray(close, dtype=float)
    cols = {
        "open": close,
        "high": close,
        "low": close,
        "close": close,
        "volume": np.ones(len(close)),
    }
    return make_frame(
        np.arange(len(close)) * DAY, cols, coin="x", quote="usd", interval="1d", source="test"
    )


# -- window_ends / targets_at ----------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(
    first=st.integers(0, 20),
    n=st.integers(1, 120),
    lookback=st.integers(1, 40),
    horizon=st.integers(1, 15),
)
def test_every_target_is_after_its_windows_last_input(first, n, lookback, horizon):
    last = first + n - 1
    ends = window_ends(first, last, lookback, horizon)
    rows = np.arange(last + 1)
    inputs = ends[:, None] + np.arange(-lookback + 1, 1)  # (W, L) row numbers of the inputs
    target_rows = targets_at(rows, ends, horizon, "price")  # on rows = index: the row numbers
    assert target_rows.shape == (len(ends), horizon)
    assert (target_rows.min(axis=1) > inputs.max(axis=1)).all()
    assert (target_rows == ends[:, None] + np.arange(1, horizon + 1)).all()
    assert (inputs >= first).all() and (target_rows <= last).all()  # all inside the data
    # and no window that fits is missed
    assert len(ends) == max(0, n - lookback - horizon + 1)


def test_window_ends_by_hand():
    np.testing.assert_array_equal(window_ends(0, 9, lookback=3, horizon=2), [2, 3, 4, 5, 6, 7])
    np.testing.assert_array_equal(window_ends(4, 9, lookback=3, horizon=2), [6, 7])
    assert window_ends(0, 3, lookback=3, horizon=2).dtype == np.int64
    assert len(window_ends(0, 3, lookback=3, horizon=2)) == 0


def test_returns_target_is_the_cumulative_log_return_from_the_last_input():
    close = 100 * np.exp(np.cumsum(np.random.default_rng(1).normal(0, 0.05, 50)))
    ends = window_ends(0, 49, lookback=5, horizon=4)
    y = targets_at(target_level(close, "returns"), ends, 4, "returns")
    for i, e in enumerate(ends):
        for h in range(1, 5):
            assert y[i, h - 1] == pytest.approx(np.log(close[e + h] / close[e]), abs=1e-12)


def test_price_target_is_the_future_close():
    close = np.arange(1.0, 31.0)
    ends = window_ends(0, 29, lookback=4, horizon=3)
    y = targets_at(target_level(close, "price"), ends, 3, "price")
    np.testing.assert_array_equal(y, close[ends[:, None] + np.arange(1, 4)])


def test_a_stub_predicting_the_known_next_values_inverts_to_the_truth_exactly():
    """StatsForecast's test on ``np.arange`` data: inputs are rows ``e-L+1..e`` exactly, and a
    stub 'last input + h' gives the targets; inverted to prices they are the actual closes."""
    n, lookback, horizon = 200, 7, 5
    close = np.arange(1.0, n + 1.0)  # close[t] = t + 1
    ends = window_ends(0, n - 1, lookback, horizon)
    w = Windows(close[:, None], targets_at(close, ends, horizon, "price"), ends, lookback)
    xb, yb = w.batch(torch.arange(len(w)))
    # the inputs of the window ending at e are exactly rows e-L+1 .. e
    np.testing.assert_array_equal(
        xb[..., 0].numpy(), close[ends[:, None] + np.arange(-lookback + 1, 1)]
    )
    stub = xb[:, -1, :] + torch.arange(1, horizon + 1)  # "last value + h"
    assert torch.equal(stub, yb)
    # returns: the true targets, inverted the way the forecaster does, are the closes exactly
    level = target_level(close, "returns")
    y = targets_at(level, ends, horizon, "returns")
    prices = to_price(y, close[ends], "returns")
    np.testing.assert_allclose(prices, close[ends[:, None] + np.arange(1, horizon + 1)], rtol=1e-14)


class LastPlusStep(nn.Module):
    """Stub network: 'last input + h' in scaled units (the scalers below are the identity)."""

    def __init__(self, horizon: int) -> None:
        super().__init__()
        self.steps = torch.arange(1, horizon + 1, dtype=torch.float32)

    def forward(self, x: torch.Tensor, coin: torch.Tensor | None = None) -> torch.Tensor:
        return x[:, -1, :1] + self.steps  # (B, H)


class LastTimesStep(nn.Module):
    """Stub network: 'last log return * h' (right for a constant growth rate)."""

    def __init__(self, horizon: int) -> None:
        super().__init__()
        self.steps = torch.arange(1, horizon + 1, dtype=torch.float32)

    def forward(self, x: torch.Tensor, coin: torch.Tensor | None = None) -> torch.Tensor:
        return x[:, -1, :1] * self.steps


def stub_forecaster(net: nn.Module, horizon: int, **config) -> LSTMForecaster:
    f = LSTMForecaster(horizon=horizon, lookback=6, **config)
    net.embed = None  # one coin: no coin embedding
    f.net, f.coins = net, ["stub"]
    f.scalers = {"stub": Scalers(Scaler(np.zeros(1), np.ones(1)),
                                 Scaler(np.zeros(horizon), np.ones(horizon)))}  # fmt: skip
    return f


def test_forecaster_with_a_stub_net_reproduces_the_truth_exactly_price_target():
    """End to end through predict_rows and predict: any off-by-one shows up as an error of 1."""
    horizon, close = 4, np.arange(1.0, 101.0)
    frame = frame_of(close)
    f = stub_forecaster(LastPlusStep(horizon), horizon, target="price")
    ends = np.arange(5, 96)
    truth = close[ends[:, None] + np.arange(1, horizon + 1)]
    np.testing.assert_array_equal(f.predict_rows(frame, ends), truth)
    out = f.predict(frame=frame.iloc[:61])  # last row 60: the next four closes are 62..65
    np.testing.assert_array_equal(out["yhat"].to_numpy(), close[61:65])
    assert list(out.index) == list(frame.index[61:65])


def test_forecaster_with_a_stub_net_reproduces_the_truth_returns_target():
    horizon = 3
    close = 50 * np.exp(0.01 * np.arange(120))
    frame = frame_of(close)
    f = stub_forecaster(LastTimesStep(horizon), horizon)
    ends = np.arange(10, 117)
    truth = close[ends[:, None] + np.arange(1, horizon + 1)]
    np.testing.assert_allclose(f.predict_rows(frame, ends), truth, rtol=1e-6)
    np.testing.assert_allclose(f.predict(frame=frame.iloc[:100])["yhat"], close[100:103], rtol=1e-6)


# -- Windows ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("features", "horizon"), [(1, 1), (3, 5)])
def test_batch_shapes(features, horizon):
    n, lookback = 100, 12
    x = np.random.default_rng(0).standard_normal((n, features))
    ends = window_ends(0, n - 1, lookback, horizon)
    y = np.zeros((len(ends), horizon))
    w = Windows(x, y, ends, lookback)
    assert len(w) == len(ends)
    xb, yb = w.batch(torch.tensor([0, 5, 7]))
    assert xb.shape == (3, lookback, features) and xb.dtype == torch.float32
    assert yb.shape == (3, horizon) and yb.dtype == torch.float32
    np.testing.assert_allclose(xb[1].numpy(), x[ends[5] - lookback + 1 : ends[5] + 1], rtol=1e-6)
    xb, yb = Windows(x, None, ends, lookback).batch(torch.tensor([0]))
    assert yb is None and xb.shape == (1, lookback, features)


def test_windows_refuse_ends_outside_the_data():
    x = np.zeros((10, 1))
    with pytest.raises(ValueError, match="window ends out of range"):
        Windows(x, None, np.array([2]), lookback=4)  # needs rows -1..2
    with pytest.raises(ValueError, match="window ends out of range"):
        Windows(x, None, np.array([10]), lookback=1)


def test_windows_over_a_million_rows_hold_the_features_once():
    n, lookback = 1_000_000, 30
    x = np.random.default_rng(0).standard_normal((n, 1))  # float64: converted once to float32
    ends = window_ends(0, n - 1, lookback, 1)
    y = np.zeros((len(ends), 1), dtype="float32")
    tracemalloc.start()
    try:
        w = Windows(x, y, ends, lookback)
        xb, _ = w.batch(torch.arange(0, len(w), 10_000))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert w.x.shape == (n, 1) and w.x.numel() == n * 1
    held = sum(v.numel() for v in vars(w).values() if isinstance(v, torch.Tensor))
    assert held <= n * 1 + len(y) + len(ends) + lookback  # features, targets, ends, offsets
    assert peak < n * lookback * 4 / 10  # an (n, L) float32 copy would be 120 MB
    assert xb.shape == (len(range(0, len(w), 10_000)), lookback, 1)


# -- Scaler ----------------------------------------------------------------------------------


def test_scaler_round_trip_and_standardises_columns():
    x = np.random.default_rng(2).normal([5.0, -3.0], [2.0, 0.1], size=(500, 2))
    s = Scaler.fit(x)
    z = s.transform(x)
    np.testing.assert_allclose(z.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(z.std(axis=0), 1, atol=1e-12)
    np.testing.assert_allclose(s.inverse(z), x, rtol=1e-12)
    again = Scaler.from_dict(s.to_dict())
    np.testing.assert_array_equal(again.mean, s.mean)
    np.testing.assert_array_equal(again.std, s.std)


def test_scaler_gives_a_constant_column_std_1_and_ignores_nan():
    x = np.array([[7.0, 1.0], [7.0, np.nan], [7.0, 3.0]])
    s = Scaler.fit(x)
    np.testing.assert_array_equal(s.mean, [7.0, 2.0])
    np.testing.assert_array_equal(s.std, [1.0, 1.0])
    np.testing.assert_array_equal(s.transform(np.array([[7.0, 2.0]])), [[0.0, 0.0]])


def test_scaler_of_one_column_is_one_dimensional():
    s = Scaler.fit(np.array([1.0, 2.0, 3.0]))
    assert s.mean.shape == (1,) and s.std.shape == (1,)


# -- need_rows -------------------------------------------------------------------------------


def test_need_rows_names_lookback_horizon_and_rows():
    with pytest.raises(
        CoincastError,
        match=r"lookback \(90\) \+ horizon \(7\) \+ feature warm-up \(1\) needs at least 98 "
        r"rows; bitcoin 1d has 60\. Fetch more history or reduce lookback$",
    ) as caught:
        need_rows(90, 7, 1, "bitcoin 1d", 60)
    assert caught.value.cli.endswith("Fetch more history or reduce --lookback")


def test_need_rows_accepts_exactly_enough():
    need_rows(90, 7, 1, "bitcoin 1d", 98)  # no error
    with pytest.raises(CoincastError, match="needs at least 98 rows"):
        need_rows(90, 7, 1, "bitcoin 1d", 97)
