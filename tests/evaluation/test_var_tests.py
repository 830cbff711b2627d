"""VaR and ES backtests: Kupiec and Christoffersen against the textbook likelihoods written
out here, McNeil-Frey against its large-sample Student-t approximation, and the size (under
correct forecasts) and power (under wrong ones) of each test by seeded simulation."""

from __future__ import annotations

import doctest
import math

import numpy as np
import pytest
from scipy import stats

from coincast.errors import CoincastError
from coincast.evaluation import risk_tests, var_tests
from coincast.evaluation.var_tests import christoffersen, hits, kupiec, mcneil_frey


def test_docstring_examples_hold():
    result = doctest.testmod(var_tests, extraglobs={"np": np})
    assert result.attempted >= 10 and result.failed == 0


def test_risk_tests_reexports_the_backtests():
    assert risk_tests.kupiec is kupiec and risk_tests.christoffersen is christoffersen
    assert risk_tests.mcneil_frey is mcneil_frey and risk_tests.hits is hits


def test_hits_is_one_strictly_below_the_var():
    h = hits([-0.05, -0.03, 0.02, -0.031], [-0.03, -0.03, -0.03, -0.03])
    assert h.tolist() == [1, 0, 0, 1] and h.dtype.kind == "i"


# -- Kupiec -------------------------------------------------------------------------------


def test_kupiec_250_bars_5_exceedances_at_1pct_by_the_textbook_formula():
    h = np.zeros(250)
    h[[10, 50, 100, 180, 240]] = 1
    r = kupiec(h, 0.01)
    # LR = -2 ln[(1-p)^(n-x) p^x / ((1-x/n)^(n-x) (x/n)^x)], n = 250, x = 5, p = 0.01
    lr = -2 * (
        245 * math.log(0.99) + 5 * math.log(0.01) - 245 * math.log(0.98) - 5 * math.log(0.02)
    )
    assert lr == pytest.approx(1.9568, abs=1e-4)  # the number itself, worked out by hand
    assert r["n"] == 250 and r["exceedances"] == 5 and r["rate"] == 0.02 and r["expected"] == 2.5
    assert r["lr"] == pytest.approx(lr, rel=1e-12)
    assert r["pvalue"] == pytest.approx(stats.chi2.sf(lr, df=1), rel=1e-12)
    assert r["pvalue"] == pytest.approx(0.16190, abs=1e-4)


def test_kupiec_with_no_or_only_exceedances_uses_0_log_0_is_0():
    none, every = kupiec(np.zeros(100), 0.05), kupiec(np.ones(20), 0.05)
    assert none["lr"] == pytest.approx(-2 * 100 * math.log(0.95), rel=1e-12)
    assert every["lr"] == pytest.approx(-2 * 20 * math.log(0.05), rel=1e-12)
    assert none["rate"] == 0.0 and every["rate"] == 1.0
    assert kupiec(np.zeros(0), 0.05)["pvalue"] is None


def test_kupiec_at_the_expected_rate_does_not_reject():
    r = kupiec(np.r_[np.ones(5), np.zeros(95)], 0.05)
    assert r["lr"] == pytest.approx(0.0, abs=1e-12) and r["pvalue"] == pytest.approx(1.0)


# -- Christoffersen -----------------------------------------------------------------------

SEQUENCE = [0, 0, 1, 1, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
# transitions of SEQUENCE, counted by hand: 0->0 x12, 0->1 x2, 1->0 x2, 1->1 x3 (19 in all)


def test_christoffersen_on_a_short_explicit_sequence():
    r = christoffersen(SEQUENCE, 0.05)
    assert (r["n00"], r["n01"], r["n10"], r["n11"]) == (12, 2, 2, 3)
    pi01, pi11, pi = 2 / 14, 3 / 5, 5 / 19
    log_l0 = 14 * math.log(1 - pi) + 5 * math.log(pi)
    log_l1 = (
        12 * math.log(1 - pi01) + 2 * math.log(pi01) + 2 * math.log(1 - pi11) + 3 * math.log(pi11)
    )
    lr_ind = -2 * (log_l0 - log_l1)
    x, n, p = 5, 20, 0.05
    lr_pof = -2 * (
        (n - x) * math.log(1 - p) + x * math.log(p) - 15 * math.log(15 / 20) - 5 * math.log(5 / 20)
    )
    assert r["pi01"] == pytest.approx(pi01) and r["pi11"] == pytest.approx(pi11)
    assert r["lr_ind"] == pytest.approx(lr_ind, rel=1e-12)
    assert r["p_ind"] == pytest.approx(stats.chi2.sf(lr_ind, 1), rel=1e-12)
    assert r["lr_pof"] == pytest.approx(lr_pof, rel=1e-12)
    assert r["lr_cc"] == pytest.approx(lr_pof + lr_ind, rel=1e-12)
    assert r["p_cc"] == pytest.approx(stats.chi2.sf(lr_pof + lr_ind, 2), rel=1e-12)


def test_christoffersen_with_no_hit_after_a_hit():
    # 0->1 x3, 1->0 x3, n11 = 0: the free likelihood has 0 log 0 = 0 in it
    r = christoffersen([0, 1, 0, 0, 1, 0, 0, 0, 1, 0], 0.1)
    assert (r["n00"], r["n01"], r["n10"], r["n11"]) == (3, 3, 3, 0)
    pi01, pi = 3 / 6, 3 / 9
    log_l0 = 6 * math.log(1 - pi) + 3 * math.log(pi)
    log_l1 = 3 * math.log(1 - pi01) + 3 * math.log(pi01)  # + 3 log(1 - 0) + 0 log 0
    assert r["lr_ind"] == pytest.approx(-2 * (log_l0 - log_l1), rel=1e-12)


@pytest.mark.parametrize(
    ("seq", "why"),
    [
        ([0] * 30, "no hit before the last bar"),
        ([0] * 29 + [1], "no hit before the last bar"),
        ([1] * 10, "nothing but hits"),
        ([0, 1], "too few bars (2)"),
    ],
)
def test_christoffersen_undefined_cases_are_none_with_a_reason(seq, why):
    r = christoffersen(seq, 0.05)
    assert r["lr_ind"] is None and r["p_ind"] is None and r["p_cc"] is None
    assert why in r["reason"]
    assert r["p_pof"] is not None  # the coverage test itself is defined


# -- McNeil-Frey --------------------------------------------------------------------------


def normal_case(rng, n, p, es_scale=1.0):
    sigma = np.exp(rng.normal(-4, 0.3, n))  # volatility that moves from bar to bar
    z = rng.standard_normal(n)
    q = stats.norm.ppf(p)
    es = -stats.norm.pdf(q) / p  # E[Z | Z < q]
    return z * sigma, q * sigma, es_scale * es * sigma, sigma


def test_mcneil_frey_residuals_and_statistic_by_hand():
    r, var_q, es, sigma = normal_case(np.random.default_rng(5), 2000, 0.05)
    out = mcneil_frey(r, var_q, es, sigma)
    hit = r < var_q
    e = (r[hit] - es[hit]) / sigma[hit]
    assert out["n_exceed"] == hit.sum() and out["mean"] == pytest.approx(e.mean(), rel=1e-12)
    t = e.mean() / (e.std(ddof=1) / math.sqrt(e.size))
    assert out["stat"] == pytest.approx(t, rel=1e-12)
    # with ~100 exceedances the bootstrap-t p-value is close to the Student-t one
    assert out["pvalue"] == pytest.approx(stats.t.cdf(t, e.size - 1), abs=0.03)


def test_mcneil_frey_is_reproducible_by_seed():
    args = normal_case(np.random.default_rng(6), 1000, 0.05)
    a, b = mcneil_frey(*args, seed=3), mcneil_frey(*args, seed=3)
    assert a == b and 0 < a["pvalue"] <= 1
    assert mcneil_frey(*args, seed=4)["pvalue"] == pytest.approx(a["pvalue"], abs=0.05)


def test_mcneil_frey_with_fewer_than_5_exceedances_has_no_pvalue():
    r = np.r_[-3.0, -3.5, -2.5, -4.0, np.zeros(50)]
    out = mcneil_frey(r, np.full(r.size, -2.0), np.full(r.size, -2.5), np.ones(r.size))
    assert out["n_exceed"] == 4 and out["pvalue"] is None and "at least 5" in out["reason"]
    assert out["mean"] == pytest.approx(np.mean([-0.5, -1.0, 0.0, -1.5]))
    r = np.r_[r, -2.2]
    assert mcneil_frey(r, np.full(r.size, -2.0), np.full(r.size, -2.5), np.ones(r.size))["pvalue"]


# -- size and power by simulation -----------------------------------------------------------
# Rejection rates at 5 % over seeded replications. Bands: 0.02..0.09 around a size of 0.05
# (1000 replications: sd ~0.007). Measured sizes are in the comments.


def rejection_rate(pvalues) -> float:
    p = np.array([v for v in pvalues if v is not None])
    assert p.size >= 0.9 * len(pvalues)
    return float((p < 0.05).mean())


@pytest.mark.parametrize(("n", "p"), [(1000, 0.05), (1000, 0.01), (500, 0.1)])
def test_kupiec_size_with_iid_bernoulli_hits(n, p):
    H = np.random.default_rng(11).random((1000, n)) < p
    rate = rejection_rate([kupiec(h, p)["pvalue"] for h in H])
    assert 0.02 <= rate <= 0.09  # measured 0.048, 0.045, 0.053


@pytest.mark.parametrize(("n", "p"), [(1000, 0.1), (2000, 0.05)])
def test_christoffersen_size_with_iid_bernoulli_hits(n, p):
    H = np.random.default_rng(12).random((1000, n)) < p
    rs = [christoffersen(h, p) for h in H]
    # measured ind 0.050, 0.062 and cc 0.050, 0.056. The LR is discrete: at p = 0.05 the
    # size moves with n (4000 samples: 0.035 at n = 500, 0.081 at 1000, 0.049 at 2000)
    assert 0.02 <= rejection_rate([r["p_ind"] for r in rs]) <= 0.09
    assert 0.02 <= rejection_rate([r["p_cc"] for r in rs]) <= 0.09


def test_kupiec_and_cc_power_when_hits_come_at_twice_the_rate():
    H = np.random.default_rng(13).random((300, 1000)) < 0.1  # VaR claimed at 5 %
    assert rejection_rate([kupiec(h, 0.05)["pvalue"] for h in H]) > 0.95
    assert rejection_rate([christoffersen(h, 0.05)["p_cc"] for h in H]) > 0.95


def clustered_hits(rng, reps, n, p, pi11):
    """A two-state Markov chain of hits with rate p on average and P(hit | hit) = pi11."""
    pi01 = p * (1 - pi11) / (1 - p)
    u = rng.random((reps, n))
    h = np.zeros((reps, n), dtype=bool)
    h[:, 0] = u[:, 0] < p
    for t in range(1, n):
        h[:, t] = u[:, t] < np.where(h[:, t - 1], pi11, pi01)
    return h


def test_christoffersen_power_when_hits_cluster():
    H = clustered_hits(np.random.default_rng(14), 300, 1000, 0.05, pi11=0.3)
    rs = [christoffersen(h, 0.05) for h in H]
    assert abs(np.mean([h.mean() for h in H]) - 0.05) < 0.005  # the rate itself is right
    assert rejection_rate([r["p_ind"] for r in rs]) > 0.9
    assert rejection_rate([r["p_cc"] for r in rs]) > 0.8
    assert rejection_rate([kupiec(h, 0.05)["pvalue"] for h in H]) < 0.3  # Kupiec misses it


def student_t_case(rng, reps, n, p, nu=5):
    """Unit-variance Student-t returns; VaR and ES by numerical integration (not the
    closed form), scaled by a moving volatility."""
    s = math.sqrt((nu - 2) / nu)
    x = stats.t.ppf(p, nu)
    es = stats.t.expect(lambda v: v, args=(nu,), ub=x) / p * s
    sigma = np.exp(rng.normal(-4, 0.3, n))
    r = rng.standard_t(nu, (reps, n)) * s * sigma
    return r, np.full(n, x * s) * sigma, np.full(n, es) * sigma, sigma


def test_mcneil_frey_size_and_power_with_normal_returns():
    rng = np.random.default_rng(15)
    size, power = [], []
    for i in range(400):
        r, q, es, sigma = normal_case(rng, 2000, 0.025)
        size.append(mcneil_frey(r, q, es, sigma, seed=i, n_boot=499)["pvalue"])
        power.append(mcneil_frey(r, q, 0.7 * es, sigma, seed=i, n_boot=499)["pvalue"])
    # 50 exceedances a sample; measured 0.046 over 1500 samples (0.037 with 25 exceedances)
    assert 0.02 <= rejection_rate(size) <= 0.09
    assert rejection_rate(power) > 0.95


def test_mcneil_frey_size_and_power_with_student_t_returns():
    R = np.random.default_rng(16)
    r, q, es, sigma = student_t_case(R, 400, 2000, 0.025)
    size = [mcneil_frey(x, q, es, sigma, seed=i, n_boot=499)["pvalue"] for i, x in enumerate(r)]
    power = [
        mcneil_frey(x, q, 0.7 * es, sigma, seed=i, n_boot=499)["pvalue"] for i, x in enumerate(r)
    ]
    assert 0.02 <= rejection_rate(size) <= 0.09  # measured 0.053 over 1500 samples
    assert rejection_rate(power) > 0.8


def test_student_t_es_matches_the_closed_form():
    # the check of the reference itself: E[T | T < x] = -(nu + x^2) / (nu - 1) f(x) / p
    nu, p = 5, 0.025
    x = stats.t.ppf(p, nu)
    closed = -(nu + x * x) / (nu - 1) * stats.t.pdf(x, nu) / p
    assert stats.t.expect(lambda v: v, args=(nu,), ub=x) / p == pytest.approx(closed, rel=1e-6)


# -- bad input ----------------------------------------------------------------------------


@pytest.mark.parametrize("p", [0, 1, -0.1, 1.5, math.nan])
def test_p_outside_0_1_is_an_error(p):
    with pytest.raises(CoincastError, match=r"^p \(.*\) must lie strictly between 0 and 1"):
        kupiec([0, 1, 0], p)
    with pytest.raises(CoincastError, match=r"^p \("):
        christoffersen([0, 1, 0], p)


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        ([0, 2, 1], r"^hits holds 2\.0 at index 1; every value must be 0 or 1"),
        ([0, math.nan, 1], r"^hits holds 1 non-finite value"),
        ([[0, 1], [1, 0]], r"^hits has shape \(2, 2\)"),
        (["a", "b"], r"^hits must hold numbers"),
    ],
)
def test_bad_hits_are_errors(bad, match):
    with pytest.raises(CoincastError, match=match):
        kupiec(bad, 0.05)


def test_mismatched_lengths_are_errors():
    with pytest.raises(CoincastError, match=r"^var_q has 2 values but r has 3"):
        hits([0.1, 0.2, 0.3], [0.0, 0.0])
    with pytest.raises(CoincastError, match=r"^sigma has 2 values but r has 3"):
        mcneil_frey(np.zeros(3), np.zeros(3), np.zeros(3), np.ones(2))


def test_bad_mcneil_frey_input_is_an_error():
    z = np.zeros(10)
    with pytest.raises(CoincastError, match=r"^sigma holds 0\.0 at index 3; every volatility"):
        mcneil_frey(z, z, z, np.r_[np.ones(3), 0.0, np.ones(6)])
    with pytest.raises(CoincastError, match=r"^es holds 1 non-finite value"):
        mcneil_frey(z, z, np.r_[math.nan, z[1:]], np.ones(10))
    with pytest.raises(CoincastError, match=r"^n_boot \(50\) must be a whole number >= 99"):
        mcneil_frey(z, z, z, np.ones(10), n_boot=50)
