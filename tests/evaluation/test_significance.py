"""Significance: the change-information regression against statsmodels' HAC OLS, the
Pesaran-Timmermann statistic against the 1992 formula written out, and size simulations
(rejection rates of no-skill forecasts at nominal 5 %) for each test, vectorised."""

from __future__ import annotations

import doctest
import math
import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from arch.bootstrap import optimal_block_length
from references import pt_textbook
from scipy import stats

from coincast.errors import CoincastError
from coincast.evaluation import significance as sig


def test_docstring_examples_hold():
    result = doctest.testmod(sig, extraglobs={"np": np, "pd": pd})
    assert result.attempted >= 10 and result.failed == 0


# -- change_information -----------------------------------------------------------------------


def ar1_changes(n: int, phi: float, rng: np.random.Generator) -> np.ndarray:
    """Prices whose changes follow an AR(1) with coefficient ``phi`` (n + 1 closes)."""
    eps = rng.standard_normal(n + 200)
    d = np.zeros_like(eps)
    for t in range(1, eps.size):
        d[t] = phi * d[t - 1] + eps[t]
    return 100 + np.cumsum(d[200:])


def overlapping_case(rng: np.random.Generator, n: int = 400, h: int = 3):
    """Step-h forecasts from consecutive cutoffs: overlapping actual changes, some skill."""
    p = ar1_changes(n + h, 0.3, rng)
    last, y = p[:n], p[h : n + h]
    d = np.diff(p, prepend=p[0])[:n]
    yhat = last + 0.3 * d * (1 - 0.3**h) / 0.7 + rng.normal(0, 0.5, n)
    return y, yhat, last


@pytest.mark.parametrize("lags", [0, 1, 2, 5, None])
def test_change_information_matches_statsmodels_hac_ols(lags):
    y, yhat, last = overlapping_case(np.random.default_rng(3))
    r = sig.change_information(y, yhat, last, lags=lags)
    maxlags = sig.newey_west_lags(len(y)) if lags is None else lags
    X = sm.add_constant(yhat - last)
    kw = {"maxlags": maxlags, "use_correction": True}
    fit = sm.OLS(y - last, X).fit(cov_type="HAC", cov_kwds=kw, use_t=True)
    assert r["lags"] == maxlags and r["n"] == len(y)
    assert r["slope"] == pytest.approx(fit.params[1], rel=1e-10)
    assert r["se"] == pytest.approx(fit.bse[1], rel=1e-10)
    assert r["t"] == pytest.approx(fit.tvalues[1], rel=1e-10)
    assert r["pvalue"] == pytest.approx(fit.pvalues[1], rel=1e-10, abs=1e-300)
    t1 = fit.t_test(([0.0, 1.0], 1.0))  # H0: slope = 1, the same t(n - 2) distribution
    assert r["pvalue_slope1"] == pytest.approx(float(t1.pvalue), rel=1e-10)
    # the convention is the corrected one: statsmodels' default (no correction) differs
    plain = sm.OLS(y - last, X).fit(cov_type="HAC", cov_kwds={"maxlags": maxlags})
    assert r["se"] == pytest.approx(plain.bse[1] * math.sqrt(len(y) / (len(y) - 2)), rel=1e-10)


def test_newey_west_rule_is_statsmodels_default():
    from statsmodels.stats.sandwich_covariance import S_hac_simple

    u = np.random.default_rng(0).standard_normal((777, 1))
    ours = u.T @ u
    lags = sig.newey_west_lags(777)
    for j in range(1, lags + 1):
        s = u[j:].T @ u[:-j]
        ours = ours + (1 - j / (lags + 1)) * (s + s.T)
    assert S_hac_simple(u) == pytest.approx(ours, rel=1e-12)


def test_naive_and_constant_move_carry_no_information():
    rng = np.random.default_rng(1)
    p = 100 + np.cumsum(rng.standard_normal(301))
    last, y = p[:-1], p[1:]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        naive = sig.change_information(y, last, last)
        drift = sig.change_information(y, last + 0.5, last)
        rounded = sig.change_information(y, last * (1 + 1e-12), last)
    for r in (naive, drift, rounded):
        assert r["copies_last"] is True
        assert r["pvalue"] is None and r["slope"] is None
        assert "carries no information" in r["reason"]
    assert "never moves" in naive["reason"] and "same amount" in drift["reason"]


def test_noisy_copy_of_the_last_value_is_flagged():
    rng = np.random.default_rng(7)
    p = 100 + np.cumsum(rng.standard_normal(2001))
    last, y = p[:-1], p[1:]
    r = sig.change_information(y, last + rng.normal(0, 1.0, 2000), last, lags=0)
    assert r["copies_last"] is True and r["pvalue"] > 0.05


def test_oracle_of_an_ar1_in_changes_is_not_flagged():
    # Its changes are small (0.3 of the last change) next to the moves: a price-level
    # "lagged copy" rule flags it, yet it is the best forecast there is.
    p = ar1_changes(3000, 0.3, np.random.default_rng(11))
    last, y = p[1:-1], p[2:]
    oracle = last + 0.3 * np.diff(p)[:-1]
    r = sig.change_information(y, oracle, last, lags=0)
    assert r["copies_last"] is False and r["pvalue"] < 1e-10
    assert r["slope"] == pytest.approx(1.0, abs=0.15)
    assert r["pvalue_slope1"] > 0.05  # it encompasses the naive forecast
    half = sig.change_information(y, last + 2 * (oracle - last), last, lags=0)
    assert half["slope"] == pytest.approx(r["slope"] / 2) and half["pvalue_slope1"] < 1e-6


def test_exact_fit_flat_actuals_and_too_few_points():
    last = np.arange(10.0)
    dx = np.sin(np.arange(10.0))
    exact = sig.change_information(last + 2 * dx, last + dx, last)
    assert exact["slope"] == pytest.approx(2.0) and exact["pvalue"] == 0.0
    assert exact["copies_last"] is False and exact["pvalue_slope1"] == 0.0
    flat = sig.change_information(last + 1.0, last + dx, last)
    assert flat["copies_last"] is None and "never varies" in flat["reason"]
    few = sig.change_information([1.0, 2.0], [1.5, 2.5], [1.0, 1.0])
    assert few["copies_last"] is None and few["pvalue"] is None and few["n"] == 2


def test_change_information_rejects_bad_input():
    y = np.arange(5.0)
    with pytest.raises(CoincastError, match=r"yhat holds 1 non-finite.*index 2"):
        sig.change_information(y, [0.0, 1, np.nan, 3, 4], y)
    with pytest.raises(CoincastError, match="last has 4 values but y has 5"):
        sig.change_information(y, y, y[:4])
    with pytest.raises(CoincastError, match=r"lags \(-1\) must be a whole number >= 0"):
        sig.change_information(y, y + 1, y, lags=-1)
    with pytest.raises(CoincastError, match=r"alpha \(5\)"):
        sig.change_information(y, y + 1, y, alpha=5)
    with pytest.raises(CoincastError, match="must hold numbers"):
        sig.change_information(["a"] * 5, y, y)


def test_change_information_size_on_a_random_walk():
    # Random walk, no-skill forecast (last + independent noise): 2000 simulations of 250
    # points, the Newey-West rule's lags (4). Measured: 5.05 % rejected at 5 %.
    rng = np.random.default_rng(2024)
    sims, n = 2000, 250
    dy = rng.standard_normal((sims, n))  # y - last on a random walk
    dx = rng.normal(0, 0.5, (sims, n))  # yhat - last of the no-skill forecast
    lags = sig.newey_west_lags(n)
    slope, var = sig._slope_hac(dx, dy, lags)
    p = 2 * stats.t.sf(np.abs(slope / np.sqrt(var)), df=n - 2)
    one = sig.change_information(dy[0] + 50, dx[0] + 50, np.full(n, 50.0))
    assert one["pvalue"] == pytest.approx(p[0], rel=1e-9)  # the kernel is the same sum
    rate = float((p < 0.05).mean())
    assert 0.02 <= rate <= 0.08, rate


def test_change_information_size_with_overlapping_steps():
    # Horizon 5 from cutoffs one bar apart: step-k changes overlap by k - 1 bars; the
    # no-skill forecast draws one random move per cutoff, scaled by the step. lags = k - 1.
    # Measured (1000 sims x 300 cutoffs): 5.9, 5.0, 4.3, 4.7, 4.9 % for steps 1-5.
    rng = np.random.default_rng(99)
    sims, n, h = 1000, 300, 5
    p = np.cumsum(rng.standard_normal((sims, n + h)), axis=1)
    drift = rng.standard_normal((sims, n))
    for k in range(1, h + 1):
        slope, var = sig._slope_hac(k * drift, p[:, k : n + k] - p[:, :n], k - 1)
        rate = float((2 * stats.t.sf(np.abs(slope / np.sqrt(var)), df=n - 2) < 0.05).mean())
        assert 0.02 <= rate <= 0.08, (k, rate)


def test_change_information_persistent_forecast_overlap_needs_thinning():
    # What the lags docstring states: a smooth no-skill forecast (20-bar momentum) on a
    # random walk, 1000 sims x 1000 cutoffs. Measured at step 5: lags = 4 rejects 10.4 %;
    # every 5th cutoff with lags = 0: 5.7 % (steps 1-5: 5.8, 5.9, 6.0, 6.4, 5.7 %).
    rng = np.random.default_rng(0)
    sims, n, h, w = 1000, 1000, 5, 20
    p = np.cumsum(rng.standard_normal((sims, w + n + h)), axis=1)
    cut = np.arange(w, w + n)
    momentum = (p[:, cut] - p[:, cut - w]) / w

    def rate(x, y, lags):
        slope, var = sig._slope_hac(x, y, lags)
        pvalue = 2 * stats.t.sf(np.abs(slope / np.sqrt(var)), df=x.shape[1] - 2)
        return float((pvalue < 0.05).mean())

    for k in range(1, h + 1):
        dy = p[:, cut + k] - p[:, cut]
        assert 0.02 <= rate(k * momentum[:, ::k], dy[:, ::k], 0) <= 0.08, k
    assert rate(h * momentum, p[:, cut + h] - p[:, cut], h - 1) > 0.09


# -- direction_test ---------------------------------------------------------------------------


def test_pt_by_hand_on_a_small_case():
    # 10 points: 6 actual ups, 5 predicted ups, 9 right. P* = .6 * .5 + .4 * .5 = .5;
    # V(P) = .25 / 10, V(P*) = .2**2 * .25 / 10 + 0 + 4 * .6 * .5 * .4 * .5 / 100 = .0034.
    y = np.array([1.0, -1, 1, -1, 1, -1, 1, -1, 1, 1])
    yhat = y.copy()
    yhat[0] = -1
    r = sig.direction_test(y, yhat, np.zeros(10))
    by_hand = 0.4 / math.sqrt(0.025 - 0.0034)
    assert r["share"] == 0.9 and r["expected"] == pytest.approx(0.5) and r["n"] == 10
    assert r["stat"] == pytest.approx(by_hand, rel=1e-12)
    assert r["pvalue"] == pytest.approx(stats.norm.sf(by_hand), rel=1e-12)
    two = sig.direction_test(y, yhat, np.zeros(10), alternative="two-sided")
    assert two["pvalue"] == pytest.approx(2 * stats.norm.sf(by_hand), rel=1e-12)


def test_pt_matches_the_formula_on_random_data_and_drops_non_moves():
    rng = np.random.default_rng(5)
    last = rng.uniform(50, 150, 400)
    y = last + rng.standard_normal(400) + 0.2
    yhat = last + 0.5 * (y - last) + rng.standard_normal(400)
    y[:7], yhat[7:12] = last[:7], last[7:12]  # no move: left out
    r = sig.direction_test(y, yhat, last)
    keep = slice(12, None)
    expected = pt_textbook(y[keep] > last[keep], yhat[keep] > last[keep])
    assert r["n"] == 388 and r["stat"] == pytest.approx(expected, rel=1e-12)
    assert r["pvalue"] < 1e-6


def test_pt_does_not_credit_a_bullish_forecast_in_a_rising_market():
    # The market rises on 70 % of bars; the forecast says "up" 90 % of the time at random.
    # It is right ~66 % of the time: a coin-flip binomial test calls that skill, PT does not.
    rng = np.random.default_rng(8)
    n = 1000
    y = np.where(rng.random(n) < 0.7, 1.0, -1.0)
    yhat = np.where(rng.random(n) < 0.9, 1.0, -1.0)
    r = sig.direction_test(y, yhat, np.zeros(n))
    hits = round(r["share"] * r["n"])
    assert r["share"] > 0.6 and stats.binomtest(hits, n, 0.5).pvalue < 1e-10
    assert r["pvalue"] > 0.05 and r["expected"] == pytest.approx(r["share"], abs=0.03)
    always = sig.direction_test(y, np.ones(n), np.zeros(n))
    assert always["stat"] is None and "forecast always points" in always["reason"]
    assert always["share"] == pytest.approx(np.mean(y > 0))


def test_direction_test_degenerate_cases_do_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        none = sig.direction_test([1.0, 2.0], [1.0, 1.0], [1.0, 1.0])
        up = sig.direction_test([2.0, 3.0, 4.0], [2.0, 0.0, 4.0], [1.0, 1.0, 1.0])
    assert none["n"] == 0 and none["pvalue"] is None and "both" in none["reason"]
    assert up["pvalue"] is None and "actual always points" in up["reason"]
    with pytest.raises(CoincastError, match="alternative"):
        sig.direction_test([1.0], [1.0], [1.0], alternative="less")
    with pytest.raises(CoincastError, match="y holds 1 non-finite"):
        sig.direction_test([np.inf], [1.0], [1.0])


def table_from(y: np.ndarray, yhat: np.ndarray, last: np.ndarray, model: str = "m"):
    """Long backtest rows from (cutoffs, steps) arrays."""
    n, h = y.shape
    cutoff = np.repeat(np.arange(n), h)
    step = np.tile(np.arange(1, h + 1), n)
    return pd.DataFrame({"model": model, "cutoff": cutoff, "step": step, "y": y.ravel(),
                         "yhat": yhat.ravel(), "last": np.repeat(last, h)})  # fmt: skip


def test_direction_by_step_is_direction_test_per_step_and_model():
    rng = np.random.default_rng(4)
    p = 100 + np.cumsum(rng.standard_normal(60))
    last = p[:50]
    y = np.stack([p[k : 50 + k] for k in (1, 2, 3)], axis=1)
    yhat = last[:, None] + rng.standard_normal((50, 3))
    a, b = table_from(y, yhat, last, "a"), table_from(y, 2 * y - yhat, last, "b")
    t = pd.concat([a, b], ignore_index=True)
    t.loc[3, "yhat"] = np.nan  # model a, cutoff 1, step 1: left out
    out = sig.direction_by_step(t.sample(frac=1, random_state=0))  # order does not matter
    assert out[["model", "step"]].values.tolist() == [[m, k] for m in "ab" for k in (1, 2, 3)]
    for row in out.to_dict("records"):
        g = t[(t["model"] == row["model"]) & (t["step"] == row["step"])].dropna()
        r = sig.direction_test(g["y"], g["yhat"], g["last"])
        assert row["n"] == r["n"] and row["pvalue"] == pytest.approx(r["pvalue"])
    assert out["n"].tolist() == [49, 50, 50, 50, 50, 50]
    one = sig.direction_by_step(t[t["model"] == "a"].drop(columns="model"))
    assert list(one.columns) == ["step", "n", "share", "expected", "stat", "pvalue", "reason"]


def test_direction_by_step_nonoverlapping_keeps_every_kth_cutoff():
    rng = np.random.default_rng(6)
    p = 100 + np.cumsum(rng.standard_normal(40))
    y = np.stack([p[k : 30 + k] for k in range(1, 6)], axis=1)
    t = table_from(y, y + rng.standard_normal((30, 5)), p[:30])
    thin = sig.direction_by_step(t, nonoverlapping=True)
    assert thin["n"].tolist() == [30, 15, 10, 8, 6]  # ceil(30 / k) (no exact zero moves)
    # cutoffs five bars apart (a ts column tells the bar): nothing overlaps, nothing dropped
    day = pd.Timedelta("1D")
    t["cutoff"] = pd.Timestamp("2024-01-01", tz="UTC") + t["cutoff"] * 5 * day
    t["ts"] = t["cutoff"] + t["step"] * day
    assert sig.direction_by_step(t, nonoverlapping=True)["n"].tolist() == [30] * 5


def test_direction_by_step_keeps_none_for_undefined_tests():
    # step 1: all three right, Py = Px = 2/3, so PT = (4/9) / sqrt(32/729) = 3 / sqrt(2);
    # step 2: the forecast always says up
    moves = [2.0, 0, 2, 2, 2, 2]
    t = pd.DataFrame({"cutoff": [0, 1, 2] * 2, "step": [1] * 3 + [2] * 3, "y": moves,
                      "yhat": moves, "last": 1.0})  # fmt: skip
    rows = sig.direction_by_step(t).to_dict("records")
    assert rows[0]["reason"] is None and rows[0]["pvalue"] == pytest.approx(
        stats.norm.sf(3 / 2**0.5)
    )
    assert rows[1]["pvalue"] is None and rows[1]["stat"] is None and rows[1]["share"] == 1.0
    assert "always points the same way" in rows[1]["reason"]


def test_direction_by_step_rejects_bad_tables():
    with pytest.raises(CoincastError, match="lacks column"):
        sig.direction_by_step(pd.DataFrame({"step": [1], "y": [1.0]}))
    t = pd.DataFrame({"cutoff": [0, 0], "step": 1, "y": 1.0, "yhat": 2.0, "last": 1.5})
    with pytest.raises(CoincastError, match="repeats a cutoff"):
        sig.direction_by_step(t)


def overlapping_random_walks(sims: int, n: int, h: int, seed: int, warmup: int = 0):
    """Prices of ``sims`` random walks; cutoffs warmup..warmup+n-1 (one bar apart)."""
    rng = np.random.default_rng(seed)
    p = np.cumsum(rng.standard_normal((sims, warmup + n + h)), axis=1)
    return rng, p, np.arange(warmup, warmup + n)


def pooled_binomial_rate(actual: np.ndarray, predicted: np.ndarray) -> float:
    """Rejection rate of the old test: two-sided binomial vs 1/2 over all steps pooled."""
    hits = (actual == predicted).sum(axis=(1, 2))
    n = actual.shape[1] * actual.shape[2]
    p = 2 * np.minimum(stats.binom.cdf(hits, n, 0.5), stats.binom.sf(hits - 1, n, 0.5))
    return float((np.minimum(p, 1) < 0.05).mean())


def test_direction_size_per_step_with_overlapping_forecasts():
    # Horizon 5, cutoffs one bar apart on a random walk: step-k moves from consecutive
    # cutoffs share k - 1 bars. The no-skill forecast draws one random drift per cutoff and
    # extends it over the steps. 1000 sims x 300 cutoffs. Measured: per-step PT rejects
    # 4.9, 4.9, 5.2, 5.3, 5.5 % (one-sided, nominal 5 %; two-sided 4.1-6.0 %); the old test,
    # two-sided binomial against 1/2 pooled over all 1500 points, 25.3 %.
    rng, p, cut = overlapping_random_walks(1000, 300, 5, seed=0)
    drift = rng.standard_normal((1000, 300))
    actual = np.stack([p[:, cut + k] > p[:, cut] for k in range(1, 6)], axis=2)
    predicted = np.repeat((drift > 0)[:, :, None], 5, axis=2)
    for k in range(5):
        _, _, s = sig._pt(actual[:, :, k].astype(float), predicted[:, :, k].astype(float))
        rate = float((stats.norm.sf(s) < 0.05).mean())
        assert 0.02 <= rate <= 0.08, (k + 1, rate)
    assert pooled_binomial_rate(actual, predicted) > 0.15
    # the vectorised statistic is the kernel's: one simulation through direction_by_step
    last = p[0, cut]
    y = np.stack([p[0, cut + k] for k in range(1, 6)], axis=1)
    table = table_from(y, last[:, None] + drift[0][:, None] * np.arange(1, 6), last)
    by_step = sig.direction_by_step(table)
    _, _, s = sig._pt(actual[0].T.astype(float), predicted[0].T.astype(float))
    assert by_step["stat"].astype(float).to_numpy() == pytest.approx(s, rel=1e-12)


def test_direction_size_with_a_persistent_forecast_needs_nonoverlapping():
    # A smooth no-skill forecast (20-bar momentum, right on average never on a random walk)
    # calls the same direction for many cutoffs in a row; with overlapping moves its hits
    # are serially correlated and the plain per-step PT over-rejects, more with each step.
    # 1000 sims x 300 cutoffs. Measured at nominal 5 %: plain 4.0, 7.1, 9.8, 11.1, 13.6 %;
    # nonoverlapping (every k-th cutoff for step k): 4.0, 3.1, 3.6, 4.2, 3.2 %.
    _, p, cut = overlapping_random_walks(1000, 300, 5, seed=0, warmup=20)
    momentum_up = (p[:, cut] - p[:, cut - 20] > 0).astype(float)
    plain, thin = [], []
    for k in range(1, 6):
        actual = (p[:, cut + k] > p[:, cut]).astype(float)
        plain.append(float((stats.norm.sf(sig._pt(actual, momentum_up)[2]) < 0.05).mean()))
        s = sig._pt(actual[:, ::k], momentum_up[:, ::k])[2]
        thin.append(float((stats.norm.sf(s) < 0.05).mean()))
    assert plain[-1] > 0.10
    assert all(0.02 <= r <= 0.08 for r in thin), thin


# -- trading_pvalue ---------------------------------------------------------------------------


def test_trading_pvalue_finds_a_real_edge_and_is_reproducible():
    rng = np.random.default_rng(10)
    bench = rng.normal(0.0005, 0.02, 800)
    strat = bench + 0.003 + rng.normal(0, 0.01, 800)
    r = sig.trading_pvalue(strat, bench, reps=499, position=np.ones(800))
    assert r["pvalue"] == pytest.approx(1 / 500) and r["n"] == 800 and r["trades"] == 1
    assert r["diff"] == pytest.approx(np.mean(strat - bench))
    assert sig.trading_pvalue(strat, bench, reps=499) == {**r, "trades": None}
    sharpe = sig.trading_pvalue(strat, bench, statistic="sharpe", reps=499)
    assert sharpe["pvalue"] < 0.01 and sharpe["diff"] > 0
    worse = sig.trading_pvalue(bench, strat, reps=499)
    assert worse["pvalue"] > 0.99
    assert sig.trading_pvalue(bench, strat, reps=499, alternative="two-sided")["pvalue"] < 0.01


def test_trading_pvalue_block_length_rule_and_trades():
    rng = np.random.default_rng(12)
    e = rng.standard_normal(600)
    d = np.zeros(600)
    for t in range(1, 600):  # a persistent differential: blocks longer than one bar
        d[t] = 0.7 * d[t - 1] + e[t]
    bench = rng.normal(0, 1, 600)
    r = sig.trading_pvalue(bench + 0.01 * d, bench, reps=99)
    expected = float(optimal_block_length(0.01 * d)["stationary"].iloc[0])
    assert r["block_length"] == pytest.approx(max(1.0, expected)) and r["block_length"] > 3
    fixed = sig.trading_pvalue(bench + 0.01 * d, bench, reps=99, block_length=10)
    assert fixed["block_length"] == 10.0
    pos = np.array([0, 1, 1, 0, 1] * 120, dtype=float)
    # 3 changes in the first five bars (from flat), then 4 in each of the 119 others
    assert sig.trading_pvalue(bench + d, bench, reps=99, position=pos)["trades"] == 3 + 119 * 4


def test_trading_pvalue_undefined_cases_and_bad_input():
    b = np.random.default_rng(0).normal(0, 0.01, 50)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        same = sig.trading_pvalue(b, b)
        short = sig.trading_pvalue(b[:5], b[:5] + 1)
        flat = sig.trading_pvalue(np.zeros(50), b, statistic="sharpe")
    assert same["pvalue"] is None and "by a constant" in same["reason"]
    assert short["pvalue"] is None and "too few bars (5)" in short["reason"]
    assert flat["pvalue"] is None and "Sharpe ratio is undefined" in flat["reason"]
    with pytest.raises(CoincastError, match="benchmark_returns has 49 values"):
        sig.trading_pvalue(b, b[:49])
    with pytest.raises(CoincastError, match="statistic"):
        sig.trading_pvalue(b, b, statistic="sortino")
    with pytest.raises(CoincastError, match=r"reps \(10\)"):
        sig.trading_pvalue(b, b + 1, reps=10)
    with pytest.raises(CoincastError, match=r"block_length \(0.5\) must lie in \[1, 50\]"):
        sig.trading_pvalue(b, b * 2, block_length=0.5)
    with pytest.raises(CoincastError, match="strategy_returns holds 1 non-finite"):
        sig.trading_pvalue(np.r_[np.nan, b[1:]], b)


def trading_rejection_rate(sims: int, n: int, reps: int, statistic: str) -> float:
    """Share of ``sims`` no-edge strategies (benchmark + zero-mean noise) rejected at 5 %."""
    rng = np.random.default_rng(31)
    rejected = 0
    for i in range(sims):
        bench = rng.normal(0.0, 0.02, n)
        strat = bench + rng.normal(0.0, 0.01, n)
        r = sig.trading_pvalue(strat, bench, statistic=statistic, reps=reps, seed=i)
        rejected += r["pvalue"] <= 0.05
    return rejected / sims


def test_trading_pvalue_size_small():
    # 60 sims x 199 reps: a smoke version of the slow one below. Measured: 5 of 60.
    assert trading_rejection_rate(60, 300, 199, "mean") <= 0.15


@pytest.mark.slow
@pytest.mark.parametrize("statistic", ["mean", "sharpe"])
def test_trading_pvalue_size(statistic):
    # 300 sims x 199 reps x 500 bars. Measured: mean 4.3 %, Sharpe 3.7 % at nominal 5 %.
    rate = trading_rejection_rate(300, 500, 199, statistic)
    assert 0.02 <= rate <= 0.08, rate
