"""Scoring: CRPS against scoringrules and against its integral definition, the quantile
approximation's convention and limit, MASE's recent scale against the textbook formula
(and utilsforecast's mase when it is installed)."""

from __future__ import annotations

import doctest
import math
import warnings

import numpy as np
import pandas as pd
import pytest
import scoringrules
from scipy import integrate, stats

from coincast.errors import CoincastError
from coincast.evaluation import scoring as sc


def test_docstring_examples_hold():
    result = doctest.testmod(sc, extraglobs={"np": np, "pd": pd})
    assert result.attempted >= 3 and result.failed == 0


# -- crps_gaussian ----------------------------------------------------------------------------


def test_crps_gaussian_matches_scoringrules():
    rng = np.random.default_rng(0)
    y, mu = rng.normal(100, 20, 500), rng.normal(100, 20, 500)
    sigma = rng.uniform(0.1, 30, 500)
    ours = sc.crps_gaussian(y, mu, sigma)
    ref = scoringrules.crps_normal(y, mu, sigma, backend="numpy")
    assert ours.shape == (500,)
    assert ours == pytest.approx(np.asarray(ref), rel=1e-10, abs=1e-12)
    common = sc.crps_gaussian(y, mu, 5.0)  # a scalar sigma broadcasts
    assert common == pytest.approx(np.asarray(scoringrules.crps_normal(y, mu, 5.0)), rel=1e-10)


def test_crps_gaussian_is_the_integral_of_the_squared_cdf_gap():
    # CRPS(F, y) = integral (F(x) - 1{x >= y})^2 dx, the definition, by quadrature
    for y, mu, s in [(0.3, 0.0, 1.0), (105.0, 100.0, 2.5), (-4.0, 1.0, 0.5)]:
        below, _ = integrate.quad(
            lambda x, m, sd: stats.norm.cdf(x, m, sd) ** 2, -np.inf, y, (mu, s)
        )
        above, _ = integrate.quad(lambda x, m, sd: stats.norm.sf(x, m, sd) ** 2, y, np.inf, (mu, s))
        assert sc.crps_gaussian(y, mu, s) == pytest.approx(below + above, rel=1e-8)


def test_crps_gaussian_of_a_point_forecast_is_the_absolute_error():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        point = sc.crps_gaussian([1.0, 5.0], [3.0, 5.0], 0.0)
    assert point.tolist() == [2.0, 0.0]
    assert sc.crps_gaussian(2.0, 0.0, 1e-9) == pytest.approx(2.0, rel=1e-8)  # the limit
    # scale equivariance: CRPS(N(a mu, (a sigma)^2), a y) = a CRPS(N(mu, sigma^2), y)
    assert sc.crps_gaussian(30.0, 10.0, 50.0) == pytest.approx(10 * sc.crps_gaussian(3, 1, 5))


def test_crps_gaussian_rejects_bad_input():
    with pytest.raises(CoincastError, match="sigma holds negative values"):
        sc.crps_gaussian([1.0], [1.0], [-1.0])
    with pytest.raises(CoincastError, match="mu holds 1 non-finite"):
        sc.crps_gaussian([1.0], [np.nan], [1.0])
    with pytest.raises(CoincastError, match="do not broadcast"):
        sc.crps_gaussian([1.0, 2.0], [1.0, 2.0, 3.0], 1.0)


# -- crps_quantiles ---------------------------------------------------------------------------


# -- crps_lognormal ---------------------------------------------------------------------------


def test_crps_lognormal_matches_scoringrules_and_the_integral():
    rng = np.random.default_rng(1)
    y = 100 * np.exp(rng.normal(0, 0.1, 300))
    mulog, s = np.log(100) + rng.normal(0, 0.05, 300), rng.uniform(0.01, 0.3, 300)
    ours = sc.crps_lognormal(y, mulog, s)
    ref = np.asarray(scoringrules.crps_lognormal(y, mulog, s, backend="numpy"))
    assert ours == pytest.approx(ref, rel=1e-9)
    # the definition, integral (F(x) - 1{x >= y})^2 dx, by quadrature (y <= 0 included)
    for yy, m, sd in [(2.0, 0.5, 0.4), (0.3, 0.0, 1.0), (-1.0, 0.0, 0.5)]:
        dist = stats.lognorm(sd, scale=math.exp(m))
        below, _ = integrate.quad(lambda x, d: d.cdf(x) ** 2, 0.0, max(yy, 0.0), (dist,))
        below += max(-yy, 0.0)  # F is 0 below 0: the gap is 1 on [y, 0]
        above, _ = integrate.quad(lambda x, d: d.sf(x) ** 2, max(yy, 0.0), np.inf, (dist,))
        assert sc.crps_lognormal(yy, m, sd) == pytest.approx(below + above, rel=1e-7)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        point = sc.crps_lognormal([1.0, 3.0], 0.0, 0.0)  # s = 0: the point forecast e^mulog
    assert point.tolist() == [0.0, 2.0]
    with pytest.raises(CoincastError, match="sigmalog holds negative values"):
        sc.crps_lognormal(1.0, 0.0, -0.1)
    with pytest.raises(CoincastError, match="do not broadcast together"):
        sc.crps_lognormal([1.0, 2.0], [0.0, 0.0, 0.0], 0.1)


def test_crps_quantiles_matches_scoringrules_quantile_convention():
    rng = np.random.default_rng(1)
    levels = np.array([0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95])
    y = rng.normal(0, 1, 300)
    q = np.sort(rng.normal(0, 1, (300, 7)), axis=1)
    q[:10] = q[:10, ::-1]  # crossing quantiles are scored as they are, by both
    ref = np.asarray(scoringrules.crps_quantile(y, q, levels, backend="numpy"))
    assert sc.crps_quantiles(y, q, levels) == pytest.approx(ref, rel=1e-12, abs=1e-15)


def test_crps_quantiles_by_hand_and_in_the_limit():
    # y = 10, quantiles 8 (tau .1) and 12 (tau .9): pinball .1 * 2 = .2 and .1 * 2 = .2;
    # twice their mean is 0.4
    assert sc.crps_quantiles(10.0, [8.0, 12.0], [0.1, 0.9]) == pytest.approx(0.4)
    # the median alone: 2 * 0.5 |y - m| = |y - m|, the point forecast's CRPS
    assert sc.crps_quantiles([3.0], [[1.0]], [0.5]).tolist() == [2.0]
    # on an even grid of m midpoints it tends to the CRPS of N(0, 1). Measured largest
    # errors: 1.6e-3 (m = 99), 2.4e-5 (999), 6.6e-8 (9999), at y = 3.1, beyond the outermost
    # quantile (2.57 for m = 99); 1e-4, 7e-7 and 2e-8 inside the grid.
    y = np.array([-2.0, -0.3, 0.0, 0.7, 3.1])
    for m, tol in [(99, 2e-3), (999, 3e-5), (9999, 1e-7)]:
        levels = (np.arange(m) + 0.5) / m
        q = np.broadcast_to(stats.norm.ppf(levels), (5, m))
        assert sc.crps_quantiles(y, q, levels) == pytest.approx(
            sc.crps_gaussian(y, 0.0, 1.0), abs=tol
        )


def test_crps_quantiles_rejects_bad_input():
    with pytest.raises(CoincastError, match=r"levels \(\[0.0, 0.5\]\) must be quantile levels"):
        sc.crps_quantiles([1.0], [[1.0, 2.0]], [0.0, 0.5])
    with pytest.raises(CoincastError, match=r"qpred has shape \(2, 3\); it must be \(2, 2\)"):
        sc.crps_quantiles([1.0, 2.0], np.ones((2, 3)), [0.25, 0.75])
    with pytest.raises(CoincastError, match="qpred holds 1 non-finite"):
        sc.crps_quantiles([1.0], [[np.nan, 1.0]], [0.25, 0.75])


# -- recent_naive_scale -----------------------------------------------------------------------


def textbook_scale(close: np.ndarray, season: int) -> float:
    """Hyndman and Koehler (2006): (1 / (T - m)) * sum_{t = m + 1}^{T} |y_t - y_{t - m}|."""
    T = len(close)
    return sum(abs(close[t] - close[t - season]) for t in range(season, T)) / (T - season)


@pytest.mark.parametrize(("window", "season"), [(None, 1), (365, 1), (365, 7), (50, 24)])
def test_recent_naive_scale_is_the_textbook_scale_of_the_last_window(window, season):
    close = 100 * np.exp(np.cumsum(np.random.default_rng(2).normal(0, 0.03, 1000)))
    tail = close if window is None else close[-window:]
    assert sc.recent_naive_scale(close, window, season) == pytest.approx(
        textbook_scale(tail, season), rel=1e-12
    )


def test_recent_naive_scale_follows_recent_volatility():
    # calm history, then a volatile last year: the full-history scale understates the moves
    rng = np.random.default_rng(3)
    close = 100 + np.cumsum(np.r_[rng.normal(0, 0.1, 3000), rng.normal(0, 5.0, 365)])
    recent, full = sc.recent_naive_scale(close, 365), sc.recent_naive_scale(close)
    assert recent > 5 * full  # 3.98 against 0.50
    assert sc.recent_naive_scale(close[:100], 365) == pytest.approx(full_of(close[:100]))


def full_of(close: np.ndarray) -> float:
    return float(np.abs(np.diff(close)).mean())


def test_recent_naive_scale_undefined_and_bad_input():
    assert sc.recent_naive_scale([5.0]) is None
    assert sc.recent_naive_scale([5.0, 5.0, 5.0]) is None  # flat: no scale
    assert sc.recent_naive_scale([1.0, 2.0, 3.0], season=3) is None  # no seasonal change
    with pytest.raises(CoincastError, match=r"window \(1\) must be a whole number >= season"):
        sc.recent_naive_scale([1.0, 2.0, 3.0], window=1)
    with pytest.raises(CoincastError, match=r"season \(0\)"):
        sc.recent_naive_scale([1.0, 2.0, 3.0], season=0)
    with pytest.raises(CoincastError, match="close holds 1 non-finite"):
        sc.recent_naive_scale([1.0, np.nan, 3.0])


def test_recent_naive_scale_matches_utilsforecast_mase():
    losses = pytest.importorskip(
        "utilsforecast.losses", reason="utilsforecast is not installed (optional reference)"
    )
    rng = np.random.default_rng(4)
    close = 100 + np.cumsum(rng.normal(0, 1, 800))
    window, season = 365, 7
    train = pd.DataFrame({"unique_id": "btc", "ds": np.arange(800), "y": close})
    y = close[-10:] + rng.normal(0, 1, 10)
    test = pd.DataFrame({"unique_id": "btc", "ds": np.arange(800, 810), "y": y, "m": close[-1]})
    ref = losses.mase(test, ["m"], season, train.tail(window))["m"].iat[0]
    ours = np.abs(y - close[-1]).mean() / sc.recent_naive_scale(close, window, season)
    assert ours == pytest.approx(ref, rel=1e-12)
    assert not math.isclose(ref, np.abs(y - close[-1]).mean() / sc.recent_naive_scale(close))
