"""ARIMA's order choice checked against statsmodels itself. With coincast's settings (the
scale concentrated out, no trend as d = 1) the lowest AIC of the grid is coincast's order, AIC
for AIC; statsmodels' default fit (scale not concentrated) reaches other optima, and on real
coins often chooses another order."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from statsmodels.tsa.arima.model import ARIMA as StatsARIMA
from threadpoolctl import threadpool_limits

from coincast.data.sources.files import read_file
from coincast.intervals import INTERVALS
from coincast.models.arima import ARIMA, DEFAULT_ORDERS
from coincast.series import COLUMNS, make_frame, validate_candles

SEEDS = range(5)


def frame_of(close: np.ndarray) -> pd.DataFrame:
    """A valid daily candle frame whose every price is ``close``."""
    ts = 1_704_067_200_000 + np.arange(len(close), dtype="int64") * INTERVALS["1d"]
    cols = {c: close for c in COLUMNS[:4]} | {"volume": np.ones(len(close))}
    return validate_candles(
        make_frame(ts, cols, coin="test", quote="usd", interval="1d", source="synthetic")
    )


def simulated(seed: int, n: int = 300) -> np.ndarray:
    """Log closes whose returns are an ARMA(2, 2) with some coefficients zeroed at random."""
    rng = np.random.default_rng(seed)
    phi = rng.uniform(-0.7, 0.7, 2) * rng.integers(0, 2, 2)
    theta = rng.uniform(-0.7, 0.7, 2) * rng.integers(0, 2, 2)
    e = 0.02 * rng.standard_normal(n + 100)
    r = np.zeros(n + 100)
    for t in range(2, n + 100):
        r[t] = phi @ r[t - 2 : t][::-1] + e[t] + theta @ e[t - 2 : t][::-1]
    return np.log(100.0) + np.cumsum(r[100:])  # the first 100 bars are burn-in


def statsmodels_grid(y: np.ndarray, concentrate: bool) -> dict:
    """statsmodels' fit of every order of the default grid, no trend (d = 1); the scale
    concentrated where coincast concentrates it (orders with a coefficient) or never."""
    fits = {}
    with threadpool_limits(limits=1, user_api="blas"), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # unconverged fits are scored, as in coincast
        for p, d, q in DEFAULT_ORDERS:
            model = StatsARIMA(
                y, order=(p, d, q), trend="n", concentrate_scale=concentrate and p + q > 0
            )
            fits[p, d, q] = model.fit(cov_type="none")
    return fits


def lowest_aic(fits: dict) -> tuple[int, int, int]:
    return min(fits, key=lambda order: fits[order].aic)


@pytest.fixture(scope="module")
def sims() -> list[tuple[ARIMA, dict, dict]]:
    """Per seed: coincast's fitted model, statsmodels' grid with coincast's settings, and
    statsmodels' grid with its default fit."""
    out = []
    for seed in SEEDS:
        y = simulated(seed)
        model = ARIMA().fit(frame_of(np.exp(y)))
        out.append((model, statsmodels_grid(y, True), statsmodels_grid(y, False)))
    return out


def test_coincast_chooses_the_order_statsmodels_chooses_with_the_same_settings(sims):
    for model, same, _ in sims:
        assert model.order == lowest_aic(same)
        for order, res in same.items():
            assert model.scores[order] == pytest.approx(res.aic, rel=1e-10), order
        np.testing.assert_allclose(model.params, same[model.order].params, rtol=1e-10)


def test_the_default_fit_reaches_other_optima_but_here_the_same_orders(sims):
    """Documented, not wished: on these seeded series statsmodels' default fit picks the
    same order every time (and in a sweep of 40 such series of 300 bars, every time too),
    yet its optima are not coincast's: the log-likelihoods differ, and the concentrated one
    is mostly the higher."""
    differ = [i for i, (model, _, default) in enumerate(sims) if model.order != lowest_aic(default)]
    assert differ == []
    gaps = np.array([same[o].llf - default[o].llf for _, same, default in sims for o in same])
    assert np.abs(gaps).max() > 1e-3  # not the same optimum
    assert (gaps > 1e-3).sum() > 3 * (gaps < -1e-3).sum()  # the concentrated one mostly higher


#: Real coins (last 1,000 daily closes to 2025-02-11) and the orders measured: coincast's,
#: and statsmodels' default fit's. Across all 14 daily coins of ../shared/data the default
#: fit chose another order for 6, across the hourly ones for 4 of 11; where it did, coincast's
#: concentrated fit had reached the lower AIC.
REAL = {"BTC": ((0, 1, 0), (0, 1, 0)), "ETH": ((2, 1, 2), (0, 1, 0)),
        "XRP": ((2, 1, 2), (1, 1, 2))}  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("coin", list(REAL))
def test_on_real_coins_the_default_fit_often_chooses_another_order(data_dir: Path, coin: str):
    frame = read_file(data_dir / "yahoo" / "daily" / f"{coin}-USD_1d.csv", coin=coin)[0]
    model = ARIMA().fit(frame)  # the last max_rows = 1000 rows
    default = statsmodels_grid(np.log(frame["close"].to_numpy()[-1000:]), False)
    assert (model.order, lowest_aic(default)) == REAL[coin]
    assert min(model.scores.values()) <= default[lowest_aic(default)].aic + 1e-9
