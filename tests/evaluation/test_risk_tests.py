"""Variance-forecast losses and tests: QLIKE and MSE against the formulas written out, the
Mincer-Zarnowitz regression against statsmodels' OLS with HAC covariance, DM on losses
against metrics.dm_test, the PIT histogram against scipy's chi-square; size and power of
the MZ Wald test and the PIT test by seeded simulation."""

from __future__ import annotations

import doctest
import math

import numpy as np
import pytest
import statsmodels.api as sm
from scipy import stats

from coincast.errors import CoincastError
from coincast.evaluation import risk_tests
from coincast.evaluation.metrics import dm_test
from coincast.evaluation.risk_tests import (
    RV_FLOOR,
    dm_loss,
    mincer_zarnowitz,
    mse_variance,
    pit_histogram,
    qlike,
    qlike_loss,
)
from coincast.evaluation.significance import newey_west_lags


def test_docstring_examples_hold():
    result = doctest.testmod(risk_tests, extraglobs={"np": np})
    assert result.attempted >= 8 and result.failed == 0


def garch_variances(rng, reps, n, omega=0.05, alpha=0.1, beta=0.85):
    """``reps`` GARCH(1,1) conditional-variance paths of length ``n`` (after a burn-in)."""
    hv = np.full(reps, omega / (1 - alpha - beta))
    out = np.empty((reps, n))
    for t in range(-200, n):
        if t >= 0:
            out[:, t] = hv
        r = np.sqrt(hv) * rng.standard_normal(reps)
        hv = omega + alpha * r * r + beta * hv
    return out


# -- QLIKE and MSE ------------------------------------------------------------------------


def test_qlike_loss_is_patton_s_form():
    rng = np.random.default_rng(1)
    rv, h = rng.chisquare(3, 50) / 3, rng.uniform(0.2, 3, 50)
    expected = [a / b - math.log(a / b) - 1 for a, b in zip(rv, h, strict=True)]
    np.testing.assert_allclose(qlike_loss(rv, h), expected, rtol=1e-12)
    assert qlike(rv, h) == pytest.approx(np.mean(expected), rel=1e-12)
    assert (qlike_loss(rv, h) >= 0).all()
    np.testing.assert_allclose(qlike_loss(rv, rv), 0.0, atol=1e-15)


def test_qlike_is_minimised_in_expectation_by_the_true_variance():
    rng = np.random.default_rng(2)
    h = rng.uniform(0.5, 2, 20000)
    rv = h * rng.chisquare(1, h.size)  # a noisy proxy: one squared return
    losses = {k: qlike(rv, k * h) for k in (0.8, 1.0, 1.25)}
    assert losses[1.0] < losses[0.8] and losses[1.0] < losses[1.25]


def test_qlike_with_zero_rv_floors_it_and_keeps_differences_consistent():
    rv, ha, hb = np.array([0.0, 1.0, 0.0]), np.array([1.0, 2.0, 0.5]), np.array([2.0, 1.0, 1.0])
    loss = qlike_loss(rv, ha)
    assert np.isfinite(loss).all()
    assert loss[0] == pytest.approx(RV_FLOOR - math.log(RV_FLOOR) - 1, rel=1e-12)
    # the differential equals that of the variant rv / h + log h (undefined-free at rv = 0)
    variant = (rv / ha + np.log(ha)) - (rv / hb + np.log(hb))
    np.testing.assert_allclose(qlike_loss(rv, ha) - qlike_loss(rv, hb), variant, atol=1e-11)


def test_mse_variance_by_hand():
    assert mse_variance([1.0, 4.0, 0.0], [2.0, 2.0, 1.0]) == pytest.approx((1 + 4 + 1) / 3)
    assert math.isnan(mse_variance([], []))
    assert math.isnan(qlike([], []))


# -- Mincer-Zarnowitz ---------------------------------------------------------------------


def mz_case(seed, n=400):
    rng = np.random.default_rng(seed)
    h = garch_variances(rng, 1, n)[0]
    return 0.1 + 0.8 * h * rng.chisquare(5, n) / 5, h  # biased: a = 0.1, b = 0.8


@pytest.mark.parametrize("lags", [0, 3, None])
def test_mincer_zarnowitz_matches_statsmodels_ols_with_hac(lags):
    rv, h = mz_case(4)
    r = mincer_zarnowitz(rv, h, lags=lags)
    maxlags = newey_west_lags(rv.size) if lags is None else lags
    fit = sm.OLS(rv, sm.add_constant(h)).fit()
    hac = fit.get_robustcov_results("HAC", maxlags=maxlags, use_correction=True)
    wald = hac.wald_test((np.eye(2), [0.0, 1.0]), use_f=False, scalar=True)
    assert r["n"] == rv.size and r["lags"] == maxlags
    assert r["intercept"] == pytest.approx(fit.params[0], rel=1e-10)
    assert r["slope"] == pytest.approx(fit.params[1], rel=1e-10)
    assert r["r2"] == pytest.approx(fit.rsquared, rel=1e-10)
    assert r["se_intercept"] == pytest.approx(hac.bse[0], rel=1e-10)
    assert r["se_slope"] == pytest.approx(hac.bse[1], rel=1e-10)
    assert r["wald"] == pytest.approx(float(wald.statistic), rel=1e-9)
    assert r["pvalue"] == pytest.approx(float(wald.pvalue), rel=1e-8, abs=1e-300)


def test_mincer_zarnowitz_undefined_cases():
    r = mincer_zarnowitz([1.0, 2.0, 3.0], [2.0, 2.0, 2.0])
    assert r["slope"] is None and r["pvalue"] is None and "does not vary" in r["reason"]
    r = mincer_zarnowitz([1.0, 2.0], [1.0, 2.0])
    assert r["slope"] is None and "too few points (2)" in r["reason"]
    r = mincer_zarnowitz([2.0, 4.0, 6.0, 8.0], [1.0, 2.0, 3.0, 4.0])  # an exact fit
    assert r["slope"] == pytest.approx(2.0) and r["pvalue"] is None and "singular" in r["reason"]


def mz_rejection_rate(seed, reps, n, m, bias=1.0) -> float:
    """Share of MZ Wald rejections at 5 % with rv = h * chi2(m) / m (a realized variance of
    m intraday returns) and the forecast ``bias * h``."""
    rng = np.random.default_rng(seed)
    H = garch_variances(rng, reps, n)
    RV = H * rng.chisquare(m, H.shape) / m
    p = [mincer_zarnowitz(rv, bias * h)["pvalue"] for rv, h in zip(RV, H, strict=True)]
    return float(np.mean(np.array(p) < 0.05))


def test_mincer_zarnowitz_size_with_a_realized_variance():
    # the true variance, against a 20-return realized variance: measured 0.07 (HAC Wald
    # over-rejects a little in finite samples; with one squared return a bar, 0.08-0.10)
    assert 0.02 <= mz_rejection_rate(5, 500, 1000, 20) <= 0.10


def test_mincer_zarnowitz_power_against_a_forecast_25pct_too_high():
    assert mz_rejection_rate(6, 200, 1000, 20, bias=1.25) > 0.9


# -- DM on losses -------------------------------------------------------------------------


def test_dm_loss_equals_dm_test_on_squared_errors():
    rng = np.random.default_rng(7)
    e1, e2 = rng.normal(0, 1, 200), rng.normal(0, 1.2, 200)
    for h in (1, 3):
        r = dm_loss(e1**2, e2**2, h=h)
        assert (r["stat"], r["pvalue"]) == dm_test(e1, e2, h=h)
        assert r["mean_diff"] == pytest.approx(np.mean(e1**2 - e2**2), rel=1e-12)


def test_dm_loss_h1_by_the_textbook_formula():
    rng = np.random.default_rng(8)
    rv = rng.chisquare(1, 300)
    la, lb = qlike_loss(rv, np.ones(300)), qlike_loss(rv, np.full(300, 2.0))
    d = la - lb
    n = d.size
    stat = d.mean() / math.sqrt(d.var() / n) * math.sqrt((n - 1) / n)  # HLN factor at h = 1
    r = dm_loss(la, lb)
    assert r["stat"] == pytest.approx(stat, rel=1e-12) and r["stat"] < 0  # a, the truth, wins
    assert r["pvalue"] == pytest.approx(2 * stats.t.sf(abs(stat), n - 1), rel=1e-10)
    assert r["n"] == 300 and r["reason"] is None


def test_dm_loss_undefined_when_the_differential_does_not_vary():
    r = dm_loss([1.0, 2.0, 3.0], [0.0, 1.0, 2.0])
    assert r["stat"] is None and r["pvalue"] is None and r["mean_diff"] == 1.0
    assert "does not vary" in r["reason"]


def test_dm_loss_size_for_equally_good_forecasts():
    # two forecasts that are the truth times independent log-normal noise of one size:
    # equal expected QLIKE. Measured 0.049
    rng = np.random.default_rng(9)
    p = []
    for _ in range(1000):
        h = rng.uniform(0.5, 2, 300)
        rv = h * rng.chisquare(5, 300) / 5
        ha, hb = (h * np.exp(rng.normal(0, 0.2, (2, 300)))).reshape(2, 300)
        p.append(dm_loss(qlike_loss(rv, ha), qlike_loss(rv, hb))["pvalue"])
    assert 0.02 <= float(np.mean(np.array(p) < 0.05)) <= 0.09


# -- PIT ----------------------------------------------------------------------------------


def test_pit_histogram_matches_numpy_and_scipy():
    u = np.random.default_rng(10).beta(1.2, 1.0, 300)
    r = pit_histogram(u, bins=10)
    counts, edges = np.histogram(u, bins=10, range=(0, 1))
    assert r["counts"] == counts.tolist() and r["edges"] == pytest.approx(edges.tolist())
    ref = stats.chisquare(counts)
    assert r["chi2"] == pytest.approx(ref.statistic, rel=1e-12)
    assert r["pvalue"] == pytest.approx(ref.pvalue, rel=1e-10)
    assert r["n"] == 300 and sum(r["counts"]) == 300


def test_pit_histogram_puts_0_and_1_in_the_end_bins_and_needs_5_per_bin():
    r = pit_histogram([0.0, 1.0, 0.5, 0.95], bins=2)
    assert r["counts"] == [1, 3]
    assert r["pvalue"] is None and "at least 5 per bin" in r["reason"]
    assert pit_histogram(np.linspace(0, 1, 10), bins=2)["pvalue"] is not None


def test_pit_size_and_power():
    rng = np.random.default_rng(11)
    uniform = [pit_histogram(u)["pvalue"] for u in rng.random((1000, 500))]
    assert 0.02 <= float(np.mean(np.array(uniform) < 0.05)) <= 0.09  # measured 0.048
    # a N(0, 1) forecast of N(0, 1.3) outcomes: the bands are too narrow, a U shape
    narrow = [pit_histogram(stats.norm.cdf(rng.normal(0, 1.3, 500)))["pvalue"] for _ in range(200)]
    assert float(np.mean(np.array(narrow) < 0.05)) > 0.9


# -- bad input ----------------------------------------------------------------------------


@pytest.mark.parametrize("f", [qlike_loss, qlike, mse_variance, mincer_zarnowitz])
@pytest.mark.parametrize(
    ("rv", "h", "match"),
    [
        ([1.0, 2.0], [1.0], r"^h has 1 values but rv has 2"),
        ([1.0, 2.0], [1.0, 0.0], r"^h holds 0\.0 at index 1; a variance forecast must be > 0"),
        ([1.0, 2.0], [-1.0, 1.0], r"^h holds -1\.0 at index 0; a variance forecast must be > 0"),
        ([1.0, -2.0], [1.0, 1.0], r"^rv holds -2\.0 at index 1; a realized variance must be >= 0"),
        ([1.0, math.nan], [1.0, 1.0], r"^rv holds 1 non-finite value"),
        ([1.0, 1.0], [math.inf, 1.0], r"^h holds 1 non-finite value"),
    ],
)
def test_bad_variance_input_is_an_error(f, rv, h, match):
    with pytest.raises(CoincastError, match=match):
        f(rv, h)


def test_bad_arguments_are_errors():
    with pytest.raises(CoincastError, match=r"^lags \(-1\) must be a whole number >= 0"):
        mincer_zarnowitz([1.0, 2.0, 3.0], [1.0, 2.0, 2.5], lags=-1)
    with pytest.raises(CoincastError, match=r"^loss_b has 2 values but loss_a has 3"):
        dm_loss([1.0, 2.0, 3.0], [1.0, 2.0])
    with pytest.raises(CoincastError, match=r"^h \(0\) must be a whole number >= 1"):
        dm_loss([1.0, 2.0, 3.0], [1.0, 2.0, 4.0], h=0)
    with pytest.raises(CoincastError, match=r"^loss_a holds 1 non-finite value"):
        dm_loss([1.0, math.nan, 3.0], [1.0, 2.0, 4.0])
    with pytest.raises(CoincastError, match=r"^u holds 1\.2 at index 1; a PIT value must lie in"):
        pit_histogram([0.5, 1.2])
    with pytest.raises(CoincastError, match=r"^bins \(1\) must be a whole number >= 2"):
        pit_histogram([0.5], bins=1)
    with pytest.raises(CoincastError, match=r"^u holds 1 non-finite value"):
        pit_histogram([0.5, math.nan])
