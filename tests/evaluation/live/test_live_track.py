"""The live record's figures come from the ledger alone, and match a hand computation."""

from __future__ import annotations

import numpy as np
import pytest

from coincast.data.sources import synthetic_candles
from coincast.data.store.ledger import Forecast, Ledger
from coincast.evaluation.live import track
from coincast.evaluation.metrics import dm_test
from coincast.series import to_ms

H = 3_600_000


def test_track_figures_by_hand(store):
    frame = synthetic_candles(30, "1h", coin="demo")
    store.write_candles(frame.iloc[:10])
    ledger = Ledger(store)
    closes = frame["close"].to_numpy()
    for i in range(10, 20):
        last = to_ms(frame.index[i - 1])
        yhat = closes[i - 1] * (1.001 if i % 2 else 0.999)
        ledger.append([Forecast("r", "a" * 64, "synthetic", "demo", "usd", "1h", last,
                                float(closes[i - 1]), last + H, 1, float(yhat),
                                float(yhat * 0.99), float(yhat * 1.01), "t")])  # fmt: skip
        store.write_candles(frame.iloc[i : i + 1])
        ledger.score("t")
    last = to_ms(frame.index[19])
    ledger.append([Forecast("r", "a" * 64, "synthetic", "demo", "usd", "1h", last, 1.0,
                            last + H, 1, 1.0, None, None, "t")])  # fmt: skip
    [row] = track(store, "demo")
    y, prev = closes[10:20], closes[9:19]
    yhat = np.where(np.arange(10, 20) % 2, prev * 1.001, prev * 0.999)
    err, naive = np.abs(y - yhat), np.abs(y - prev)
    assert (row.scored, row.pending) == (10, 1)
    assert row.mae == pytest.approx(err.mean()) and row.naive_mae == pytest.approx(naive.mean())
    assert row.rel_mae == pytest.approx(err.mean() / naive.mean())
    assert row.coverage == pytest.approx(np.mean((y >= yhat * 0.99) & (y <= yhat * 1.01)))
    assert row.dm_p == pytest.approx(dm_test(err, naive, h=1, power=1)[1])
    right = np.sign(yhat - prev) == np.sign(y - prev)
    assert row.directional == pytest.approx(right.mean())
    assert row.first == frame.index[10] and row.last == frame.index[19]
    assert track(store, "other") == []


def test_nothing_scored_yet(store):
    frame = synthetic_candles(10, "1h", coin="demo")
    store.write_candles(frame)
    last = to_ms(frame.index[-1])
    Ledger(store).append([Forecast("r", "a" * 64, "synthetic", "demo", "usd", "1h", last, 1.0,
                                   last + H, 1, 1.0, None, None, "t")])  # fmt: skip
    [row] = track(store)
    assert (row.scored, row.pending, row.mae, row.dm_p, row.coverage) == (
        1 - 1,
        1,
        None,
        None,
        None,
    )
