"""VaR and ES from price bands: each dist against its closed form (or scipy's quadrature)
written out here, the left-out rows, the errors, and the coverage tests on a random walk
whose naive band is right, and on one made too narrow."""

from __future__ import annotations

import doctest

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats

from coincast.data.sources import random_walk
from coincast.errors import CoincastError
from coincast.evaluation import price_var as pv
from coincast.evaluation.backtest import WalkForward, walk_forward
from coincast.evaluation.price_var import price_var, price_var_tests
from coincast.evaluation.risk_scores import var_backtests
from coincast.models.base import Z90
from coincast.models.baselines import Naive

Z1, Z5 = stats.norm.ppf(0.01), stats.norm.ppf(0.05)


def table(rows: list[dict]) -> pd.DataFrame:
    """A backtest table of one-step rows (defaults filled in)."""
    base = {"coin": "x", "model": "m", "cutoff": 0, "ts": 1, "step": 1, "y": 100.0, "last": 100.0}
    return pd.DataFrame([base | {"cutoff": i, "ts": i + 1} | r for i, r in enumerate(rows)])


def one(row: dict) -> pd.Series:
    out = price_var(table([row]))
    assert len(out) == 1
    return out.iloc[0]


def quad_es(price_pdf, lower: float, q: float, last: float, p: float) -> float:
    """(1/p) * integral of log(y / last) f(y) dy over (lower, q), by scipy."""
    val, _ = integrate.quad(lambda y: np.log(y / last) * price_pdf(y), lower, q, limit=200)
    return val / p


def test_docstring_examples_hold():
    result = doctest.testmod(pv)
    assert result.attempted >= 2 and result.failed == 0


def test_columns():
    v = price_var(table([{"yhat": 101.0, "lo": 95.0, "hi": 107.0, "dist": "lognormal"}]))
    assert list(v.columns) == ["coin", "model", "cutoff", "ts", "r", "sigma",
                               "var1", "es1", "var5", "es5", "approx"]  # fmt: skip


# -- each dist by hand ------------------------------------------------------------------


def test_lognormal_closed_form():
    yhat, last, s = 103.0, 100.0, 0.03
    v = one({"y": 97.0, "yhat": yhat, "lo": yhat * np.exp(-Z90 * s),
             "hi": yhat * np.exp(Z90 * s), "dist": "lognormal"})  # fmt: skip
    m = np.log(yhat / last)
    assert v["r"] == pytest.approx(np.log(97.0 / 100.0), abs=1e-15)
    assert v["sigma"] == pytest.approx(s, rel=1e-12)
    for p, k in ((0.01, 1), (0.05, 5)):
        var = stats.norm.ppf(p, loc=m, scale=s)
        es = m - s * stats.norm.pdf(stats.norm.ppf(p)) / p
        assert v[f"var{k}"] == pytest.approx(var, abs=1e-12)
        assert v[f"es{k}"] == pytest.approx(es, abs=1e-12)
    assert not v["approx"]


def test_normal_var_exact_and_es_matches_quad_not_the_price_es():
    yhat, sd, last = 102.0, 6.0, 100.0
    v = one({"yhat": yhat, "lo": yhat - Z90 * sd, "hi": yhat + Z90 * sd, "dist": "normal"})
    f = stats.norm(yhat, sd)
    for p, k in ((0.01, 1), (0.05, 5)):
        q = f.ppf(p)
        assert v[f"var{k}"] == pytest.approx(np.log(q / last), abs=1e-12)
        es = quad_es(f.pdf, 1e-9, q, last, p)
        assert v[f"es{k}"] == pytest.approx(es, abs=1e-9)
        # the normal ES of the price, then the log, is a different (and not the chosen) number
        price_es = yhat - sd * stats.norm.pdf(stats.norm.ppf(p)) / p
        assert abs(np.log(price_es / last) - es) > 1e-4
    assert v["sigma"] == pytest.approx(sd / yhat)


def test_normal_with_mass_below_zero_price():
    # sd / yhat = 0.3: P(Y <= 0) = 4e-4, so the log return's ES is unbounded, the VaR is not
    v = one({"yhat": 100.0, "lo": 100 - Z90 * 30, "hi": 100 + Z90 * 30, "dist": "normal"})
    assert v["var5"] == pytest.approx(np.log(stats.norm.ppf(0.05, 100, 30) / 100))
    assert v["es5"] == -np.inf and v["es1"] == -np.inf
    # a 1 % quantile below zero: VaR -inf
    w = one({"yhat": 100.0, "lo": 100 - Z90 * 50, "hi": 100 + Z90 * 50, "dist": "normal"})
    assert w["var1"] == -np.inf and np.isfinite(w["var5"])


@pytest.mark.parametrize("c", [5.0, -3.0])
def test_shifted_lognormal_var_exact_es_by_quad(c):
    median, s, last = 100.0, 0.04, 101.0
    lo, yhat, hi = c + median * np.exp(-Z90 * s), c + median, c + median * np.exp(Z90 * s)
    v = one({"yhat": yhat, "lo": lo, "hi": hi, "last": last, "dist": "shifted-lognormal"})
    f = stats.lognorm(s, scale=median)  # Y - c
    for p, k in ((0.01, 1), (0.05, 5)):
        q = c + median * np.exp(s * stats.norm.ppf(p))
        assert v[f"var{k}"] == pytest.approx(np.log(q / last), abs=1e-10)
        es = quad_es(lambda y: f.pdf(y - c), max(c, 0.0) + 1e-9, q, last, p)
        assert v[f"es{k}"] == pytest.approx(es, abs=1e-8)
    assert v["sigma"] == pytest.approx(s * median / yhat, rel=1e-9)


def test_shifted_lognormal_without_shift_is_the_lognormal():
    s = 0.05
    band = {"yhat": 100.0, "lo": 100 * np.exp(-Z90 * s), "hi": 100 * np.exp(Z90 * s) + 1e-9}
    a = one(band | {"dist": "shifted-lognormal"})
    b = one(band | {"dist": "lognormal"})
    for c in ("var1", "es1", "var5", "es5", "sigma"):
        assert a[c] == pytest.approx(b[c], abs=1e-7)


def test_quantiles_var5_exact_the_rest_from_a_log_normal_through_lo_and_median():
    lo, yhat, hi, last = 94.0, 100.5, 108.0, 100.0
    v = one({"yhat": yhat, "lo": lo, "hi": hi, "dist": "quantiles"})
    assert v["var5"] == np.log(lo / last)  # exactly
    s = np.log(yhat / lo) / Z90
    m = np.log(yhat / last)
    assert v["sigma"] == pytest.approx(s)
    assert v["var1"] == pytest.approx(m + s * Z1, abs=1e-12)
    assert v["es1"] == pytest.approx(m - s * stats.norm.pdf(Z1) / 0.01, abs=1e-12)
    assert v["es5"] == pytest.approx(m - s * stats.norm.pdf(Z5) / 0.05, abs=1e-12)
    assert v["approx"]


def test_quantiles_other_levels_all_from_the_fit():
    lo, yhat, hi, last = 96.0, 100.0, 104.0, 99.0
    v = one({"yhat": yhat, "lo": lo, "hi": hi, "last": last, "dist": "quantiles:0.1,0.5,0.9"})
    z10 = stats.norm.ppf(0.1)
    s = np.log(yhat / lo) / -z10
    m = np.log(yhat / last)
    assert v["var5"] == pytest.approx(m + s * Z5, abs=1e-12)
    assert v["var1"] == pytest.approx(m + s * Z1, abs=1e-12)
    assert m + s * z10 == pytest.approx(np.log(lo / last))  # the fit goes through lo
    assert v["approx"]


# -- left out, errors -------------------------------------------------------------------


def test_rows_without_a_distribution_are_left_out():
    band = {"yhat": 100.0, "lo": 95.0, "hi": 105.0}
    t = table([
        band | {"model": "a", "dist": "lognormal"},
        band | {"model": "ma", "dist": None},  # a band, but no distribution stated
        band | {"model": "cp", "dist": "conformal"},
        band | {"model": "a", "dist": "lognormal", "lo": np.nan, "hi": np.nan},  # no band
        band | {"model": "a", "dist": "lognormal", "lo": 100.0, "hi": 100.0},  # zero width
        band | {"model": "a", "dist": "lognormal", "step": 2},  # not one step
    ])  # fmt: skip
    v = price_var(t)
    assert v["model"].tolist() == ["a"] and v["cutoff"].tolist() == [0]
    assert price_var_tests(t)["model"].unique().tolist() == ["a"]


def test_missing_columns_one_line_error():
    t = table([{"yhat": 100.0, "lo": 95.0, "hi": 105.0, "dist": "lognormal"}]).drop(
        columns=["dist", "last"]
    )
    with pytest.raises(CoincastError, match=r"^table lacks column\(s\) last, dist; pass") as e:
        price_var(t)
    assert "\n" not in str(e.value)
    with pytest.raises(CoincastError, match="table is a list"):
        price_var_tests([1, 2])


def test_bands_that_are_not_their_dist_raise():
    with pytest.raises(CoincastError, match="log-normal band needs lo and yhat > 0"):
        price_var(table([{"yhat": 1.0, "lo": -1.0, "hi": 3.0, "dist": "lognormal"}]))
    with pytest.raises(CoincastError, match="quantile band needs 0 < lo < yhat"):
        price_var(table([{"yhat": 100.0, "lo": 101.0, "hi": 105.0, "dist": "quantiles"}]))
    with pytest.raises(CoincastError, match="shifted log-normal band needs"):
        price_var(table([{"yhat": 100.0, "lo": 90.0, "hi": 105.0, "dist": "shifted-lognormal"}]))
    with pytest.raises(CoincastError, match="dist 'student' is not one of"):
        price_var(table([{"yhat": 100.0, "lo": 90.0, "hi": 105.0, "dist": "student"}]))


# -- coverage on a random walk ----------------------------------------------------------


@pytest.fixture(scope="module")
def naive_table() -> pd.DataFrame:
    # log returns iid N(0, 0.02^2): the naive log-normal band is the right distribution
    frame = random_walk(1400, sigma=0.02, seed=3)
    return walk_forward([Naive()], frame, WalkForward(test=1000))


def test_right_band_passes_on_a_random_walk(naive_table):
    t = price_var_tests(naive_table)
    assert list(t.columns) == [*var_backtests(_risk_table(naive_table)).columns, "approx"]
    five = t[t["level"] == 0.05].iloc[0]
    assert five["n"] == 1000 and 0.035 < five["rate"] < 0.065
    assert five["kupiec_pvalue"] > 0.05 and five["passes"] and not five["approx"]
    assert price_var(naive_table)["sigma"].between(0.018, 0.022).all()


def test_too_narrow_band_is_rejected(naive_table):
    t = naive_table.copy()
    t["lo"] = t["yhat"] * (t["lo"] / t["yhat"]) ** 0.6  # 60 % of the log width
    t["hi"] = t["yhat"] * (t["hi"] / t["yhat"]) ** 0.6
    r = price_var_tests(t)
    for level in (0.01, 0.05):
        row = r[r["level"] == level].iloc[0]
        assert row["rate"] > 2 * level and row["kupiec_pvalue"] < 0.01 and not row["passes"]


def test_same_numbers_as_the_volatility_models_tests(naive_table):
    # price_var's log-normal rows fed to risk_scores.var_backtests as a risk table give the
    # same tests: the two tables read alike
    mine = price_var_tests(naive_table).drop(columns="approx")
    theirs = var_backtests(_risk_table(naive_table))
    pd.testing.assert_frame_equal(mine, theirs, check_dtype=False)


def _risk_table(price_table: pd.DataFrame) -> pd.DataFrame:
    v = price_var(price_table)
    return v.assign(step=1, rv=v["r"] ** 2, variance=v["sigma"] ** 2)
