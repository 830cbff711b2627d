"""Trading: perfect foresight beats buy-and-hold, a flat forecast never trades, costs per
position change by hand, drawdown and Sharpe of known curves, periods per year."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from coincast.errors import CoincastError
from coincast.evaluation import trading

T0 = pd.Timestamp("2024-01-01", tz="UTC")
DAY = pd.Timedelta("1D")


def table_of(last, y, yhat, model="m") -> pd.DataFrame:
    """Step-1 rows of a backtest table, one per cutoff."""
    n = len(last)
    cut = T0 + np.arange(n) * DAY
    return pd.DataFrame({
        "coin": "bitcoin", "model": model, "cutoff": cut, "ts": cut + DAY, "step": 1,
        "y": np.asarray(y, float), "yhat": np.asarray(yhat, float), "lo": np.nan,
        "hi": np.nan, "last": np.asarray(last, float),
    })  # fmt: skip


ZIGZAG = np.array([100.0, 110.0] * 10 + [100.0])


def test_perfect_foresight_beats_buy_and_hold_on_a_zigzag():
    last, y = ZIGZAG[:-1], ZIGZAG[1:]
    t = pd.concat([table_of(last, y, y, "perfect"), table_of(last, y, last, "naive")])
    r = trading.simulate(t).set_index("model")
    assert list(r.index) == ["perfect", "naive", "buy-and-hold"]
    assert r.loc["perfect", "total_return"] > 0.5
    assert r.loc["perfect", "total_return"] > r.loc["buy-and-hold", "total_return"]
    assert r.loc["perfect", "exposure"] == pytest.approx(0.5)  # long on every up bar only
    assert r.loc["perfect", "trades"] == 20  # in and out ten times
    assert r.loc["perfect", "max_drawdown"] == pytest.approx(0.0015, abs=1e-4)  # costs only
    assert r.loc["buy-and-hold", "trades"] == 1 and r.loc["buy-and-hold", "exposure"] == 1.0


def test_a_flat_forecast_never_trades():
    last, y = ZIGZAG[:-1], ZIGZAG[1:]
    r = trading.simulate(table_of(last, y, last)).set_index("model").loc["m"]
    assert r["trades"] == 0 and r["total_return"] == 0.0 and r["exposure"] == 0.0
    assert r["max_drawdown"] == 0.0 and r["sharpe"] is None


def test_costs_are_charged_per_position_change():
    r = np.array([0.10, -0.05, 0.20, 0.10])
    last = np.array([100.0, 110.0, 104.5, 125.4])
    y = last * (1 + r)
    wants = np.array([1, 1, 0, 1])
    # forecast +5 % where long; +0.9 % (below the 1 % costs) where flat
    yhat = last * np.where(wants == 1, 1.05, 1.009)
    out = trading.simulate(table_of(last, y, yhat), fee=0.008, slippage=0.002)
    m, bh = out.set_index("model").loc["m"], out.set_index("model").loc["buy-and-hold"]
    # enter (cost) +10 %, hold -5 %, leave (cost), enter again (cost) +10 %
    assert m["total_return"] == pytest.approx(0.99 * 1.10 * 0.95 * 0.99 * 0.99 * 1.10 - 1)
    assert m["trades"] == 3 and m["exposure"] == pytest.approx(0.75)
    assert bh["total_return"] == pytest.approx(0.99 * np.prod(1 + r) - 1)
    assert trading.strategy_returns(wants, r, 0.01) == pytest.approx(
        [0.99 * 1.1 - 1, -0.05, -0.01, 0.99 * 1.1 - 1]
    )


def test_only_step_one_rows_count():
    last, y = ZIGZAG[:-1], ZIGZAG[1:]
    t = table_of(last, y, y)
    later = t.assign(step=2, yhat=t["last"] * 0.5)
    assert trading.simulate(pd.concat([t, later])).equals(trading.simulate(t))


def test_max_drawdown_of_known_curves():
    assert trading.max_drawdown([1.0, 1.2, 0.9, 1.1, 0.6, 1.5]) == pytest.approx(0.5)
    assert trading.max_drawdown([1.0, 1.1, 1.2]) == 0.0
    assert trading.max_drawdown([1.0, 0.8, 1.0, 0.9]) == pytest.approx(0.2)


def test_sharpe():
    r = np.array([0.01, -0.01, 0.02, 0.0])
    expected = r.mean() / r.std(ddof=1) * math.sqrt(365)
    assert trading.sharpe(r, 365) == pytest.approx(expected)
    assert trading.sharpe([0.01, 0.01, 0.01], 365) is None
    assert trading.sharpe([0.01], 365) is None


def test_periods_per_year():
    assert trading.periods_per_year("1d") == pytest.approx(365.25)
    assert trading.periods_per_year("1h") == pytest.approx(365.25 * 24)
    assert trading.periods_per_year("1w") == pytest.approx(365.25 / 7)
    with pytest.raises(CoincastError, match="unknown interval"):
        trading.periods_per_year("2d")


def test_stablecoin_and_json():
    one = np.ones(10)
    out = trading.simulate(table_of(one, one, one))
    assert list(out.columns) == list(trading.COLUMNS)
    records = out.to_dict("records")
    json.dumps(records, allow_nan=False)
    for r in records:
        assert all(v is None or not isinstance(v, float) or math.isfinite(v) for v in r.values())


def test_disclaimer_and_errors():
    assert "not investment advice" in trading.DISCLAIMER
    assert "not advice" in trading.__doc__
    t = table_of([1.0, 2.0], [2.0, 1.0], [2.0, 1.0])
    with pytest.raises(CoincastError, match="no step-1 rows"):
        trading.simulate(t.assign(step=2))
    with pytest.raises(CoincastError, match="must be >= 0"):
        trading.simulate(t, fee=-0.01)
