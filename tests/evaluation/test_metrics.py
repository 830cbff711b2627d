"""Metrics: kernels against hand-computed values, the DM test against the formula written out,
score's None handling, verdicts (the tests that score() runs per model and step, CRPS and the
formatting of numbers are in test_scores.py)."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from coincast.errors import CoincastError
from coincast.evaluation import metrics as m
from coincast.evaluation.scores import COLUMNS, score
from coincast.evaluation.scoring import recent_naive_scale
from coincast.evaluation.verdicts import verdict, verdicts

DAY = pd.Timedelta("1D")
T0 = pd.Timestamp("2024-01-01", tz="UTC")


# -- kernels ----------------------------------------------------------------------------------


def test_point_errors_by_hand():
    y, yhat = [1.0, 2.0, 3.0], [2.0, 2.0, 5.0]
    assert m.mae(y, yhat) == pytest.approx(1.0)  # (1 + 0 + 2) / 3
    assert m.rmse(y, yhat) == pytest.approx(math.sqrt(5 / 3))  # (1 + 0 + 4) / 3
    assert m.mape([100.0, 200.0], [110.0, 190.0]) == pytest.approx(0.075)  # (0.10 + 0.05) / 2
    assert m.mape([0.0, 100.0], [5.0, 110.0]) == pytest.approx(0.1)  # y = 0 is left out
    assert m.smape([1.0, 2.0], [3.0, 2.0]) == pytest.approx(0.5)  # (2 * 2 / 4 + 0) / 2
    assert m.smape([0.0, 0.0], [0.0, 0.0]) == 0.0
    assert m.mase([1.0, 2.0], [2.0, 2.0], scale=0.25) == pytest.approx(2.0)
    assert m.coverage([1.0, 5.0, 2.0], [0.0, 0.0, 2.0], [2.0, 2.0, 3.0]) == pytest.approx(2 / 3)
    # 0.9 * (10 - 8) and max(0.9 * -2, -0.1 * -2) = 0.2: mean 1.0
    assert m.pinball([10.0, 10.0], [8.0, 12.0], q=0.9) == pytest.approx(1.0)


def test_undefined_values_are_nan_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for f in (m.mae, m.rmse, m.mape, m.smape):
            assert math.isnan(f([], []))
        assert math.isnan(m.mape([0.0, 0.0], [1.0, 2.0]))
        assert math.isnan(m.mase([1.0], [2.0], scale=None))
        assert math.isnan(m.mase([1.0], [2.0], scale=0.0))
        assert math.isnan(m.coverage([], [], []))
        assert m.dm_test([], []) == (None, None)
        assert m.directional_accuracy([], [], []) == (None, 0)


prices = st.lists(st.sampled_from([1.0, 1.5, 2.0, 100.0]), min_size=0, max_size=12)


@settings(max_examples=60, deadline=None)
@given(y=prices, yhat=prices, last=prices)
def test_kernels_never_warn_nor_return_inf(y, yhat, last):
    k = min(len(y), len(yhat), len(last))
    y, yhat, last = np.array(y[:k]), np.array(yhat[:k]), np.array(last[:k])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        values = [f(y, yhat) for f in (m.mae, m.rmse, m.mape, m.smape)]
        scale = recent_naive_scale(y) if len(y) else None
        values += [m.mase(y, yhat, scale), m.pinball(y, yhat, 0.9)]
        values += [*m.directional_accuracy(y, yhat, last), *m.dm_test(y - yhat, y - last, h=2)]
    assert not any(isinstance(v, float) and math.isinf(v) for v in values)


def test_directional_accuracy_counts_only_moves():
    y = [2.0, 0.0, 1.0, 3.0, 5.0]
    last = [1.0, 1.0, 1.0, 1.0, 4.0]
    yhat = [3.0, 2.0, 5.0, 0.0, 5.0]  # right, wrong, (no actual move), wrong, right
    assert m.directional_accuracy(y, yhat, last) == (0.5, 4)
    assert m.directional_accuracy(y, last, last) == (None, 0)  # the naive never moves


# -- Diebold-Mariano --------------------------------------------------------------------------

E1 = np.array([0.5, -1.0, 0.2, 1.5, -0.3, 0.8, -0.6, 0.1, 1.1, -0.4])
E2 = np.array([1.2, -1.4, 0.9, 1.0, -1.3, 1.6, -0.2, 0.9, 1.7, -1.1])


def dm_reference(e1, e2, h):
    """The DM statistic with the HLN correction, one step per line, plain Python sums."""
    d = [a * a - b * b for a, b in zip(e1, e2, strict=True)]
    n = len(d)
    dbar = sum(d) / n
    gamma = [sum((d[t] - dbar) * (d[t - k] - dbar) for t in range(k, n)) / n for k in range(h)]
    long_run_variance = gamma[0] + 2 * sum(gamma[1:])
    dm = dbar / math.sqrt(long_run_variance / n)
    hln = math.sqrt((n + 1 - 2 * h + h * (h - 1) / n) / n)
    stat = dm * hln
    return stat, 2 * (1 - stats.t.cdf(abs(stat), df=n - 1))


@pytest.mark.parametrize("h", [1, 2])
def test_dm_matches_the_formula_written_out(h):
    stat, p = m.dm_test(E1, E2, h=h)
    ref_stat, ref_p = dm_reference(E1, E2, h)
    assert stat == pytest.approx(ref_stat, rel=1e-12)
    assert p == pytest.approx(ref_p, rel=1e-9)
    assert stat < 0  # e1 is the smaller error: negative means the first is more accurate


def test_dm_reference_values():
    # h = 1 by hand: d = E1**2 - E2**2 sums to -8.4, dbar = -0.84, gamma0 = 0.83508,
    # DM = -0.84 / sqrt(0.083508) = -2.90680, times HLN sqrt(9 / 10) = -2.75763; t(9) two-sided.
    stat, p = m.dm_test(E1, E2, h=1)
    assert stat == pytest.approx(-2.75763, abs=1e-5)
    assert p == pytest.approx(0.022198, abs=1e-6)


@pytest.mark.parametrize("h", [1, 2, 3])
def test_dm_is_antisymmetric(h):
    s12, p12 = m.dm_test(E1, E2, h=h)
    s21, p21 = m.dm_test(E2, E1, h=h)
    assert s21 == pytest.approx(-s12)
    assert p21 == pytest.approx(p12)


def test_dm_power_one_uses_absolute_errors():
    d = np.abs(E1) - np.abs(E2)
    stat, _ = m.dm_test(E1, E2, power=1)
    n = len(d)
    expected = d.mean() / math.sqrt(d.var() / n) * math.sqrt((n - 1) / n)
    assert stat == pytest.approx(expected)


def test_dm_falls_back_to_the_lag_zero_variance():
    # d = |e1| - |e2| = 2, 0, 2, 0, 2, 0: gamma0 = 1, gamma1 = -5/6, so gamma0 + 2 gamma1 < 0
    e1, e2 = np.array([3.0, 1.0] * 3), np.ones(6)
    stat, _ = m.dm_test(e1, e2, h=2, power=1)
    assert stat == pytest.approx(1 / math.sqrt(1 / 6) * math.sqrt((6 + 1 - 4 + 2 / 6) / 6))


def test_dm_undefined_cases_return_none():
    assert m.dm_test([1.0, 2.0], [2.0, 1.0]) == (None, None)  # n < 3
    assert m.dm_test(E1, E1) == (None, None)  # identical errors
    assert m.dm_test(E1, -E1) == (None, None)  # identical squared losses
    assert m.dm_test([1.0, 2.0, 3.0], [0.0, 1.0, 2.0], power=1) == (None, None)  # constant d
    assert m.dm_test([1.0, 2.0, 3.0], [2.0, 2.0, 2.0], h=3) == (None, None)  # h too large
    with pytest.raises(CoincastError, match="must be >= 1"):
        m.dm_test(E1, E2, h=0)


# -- score ------------------------------------------------------------------------------------

CLOSE = np.array([10.0, 11.0, 13.0, 12.0, 14.0, 15.0])


def table_of(close, models: dict, cutoffs=range(4), horizon=2, coin="bitcoin"):
    """A tidy backtest table; ``models`` maps a name to ``f(y, last, cutoff, step) -> yhat``."""
    rows = []
    for name, f in models.items():
        for c in cutoffs:
            for s in range(1, horizon + 1):
                y, last = close[c + s], close[c]
                rows.append({
                    "coin": coin, "model": name, "cutoff": T0 + c * DAY,
                    "ts": T0 + (c + s) * DAY, "step": s, "y": y, "yhat": f(y, last, c, s),
                    "lo": np.nan, "hi": np.nan, "last": last,
                })  # fmt: skip
    return pd.DataFrame(rows)


def good(y, last, c, s):
    return y + (0.5 if (c + s) % 2 else -0.5)


def naive(y, last, c, s):
    return last


def test_score_by_hand():
    t = table_of(CLOSE, {"naive": naive, "good": good, "bad": lambda y, last, c, s: last - 2})
    t = t[~((t["model"] == "good") & (t["cutoff"] == T0 + 3 * DAY))]  # good lacks one cutoff
    scores = score(t, scale=1.5)
    assert list(scores.columns) == list(COLUMNS)
    r = scores.set_index("model").to_dict("index")
    # naive errors: step 1 |11-10| |13-11| |12-13| |14-12|, step 2 |13-10| |12-11| |14-13| |15-12|
    assert r["naive"]["mae"] == pytest.approx(14 / 8)
    assert r["naive"]["rel_mae"] == pytest.approx(1.0)
    assert r["naive"]["dm_stat"] is None and r["naive"]["dm_pvalue"] is None
    assert r["naive"]["copies_last"] is True and r["naive"]["info_slope"] is None  # never moves
    assert r["naive"]["directional_accuracy"] is None and r["naive"]["directional_n"] == 0
    # good: |error| 0.5 on its 6 rows; the naive's MAE on those same points is 9 / 6
    assert r["good"]["n"] == 6
    assert r["good"]["mae"] == pytest.approx(0.5)
    assert r["good"]["rel_mae"] == pytest.approx(0.5 / 1.5)
    assert r["good"]["mase"] == pytest.approx(0.5 / 1.5)
    assert r["good"]["dm_stat"] < 0
    assert r["bad"]["rel_mae"] > 1 and r["bad"]["dm_stat"] > 0
    assert r["good"]["coverage"] is None and r["good"]["pinball"] is None  # no lo/hi
    json.dumps(scores.to_dict("records"), allow_nan=False)  # JSON-ready: None, not NaN


def test_score_types_are_plain_python():
    t = table_of(CLOSE, {"naive": naive, "good": good})
    rec = score(t).to_dict("records")[1]
    assert rec["mase"] is None  # no scale given
    assert type(rec["mae"]) is float and type(rec["n"]) is int
    assert type(rec["copies_last"]) is bool and type(rec["directional_n"]) is int
    alone = score(t[t["model"] == "good"]).iloc[0]  # no naive rows to compare with
    assert alone["rel_mae"] is None and alone["dm_stat"] is None
    said = verdicts(score(t[t["model"] == "good"]))
    assert said[0] == "good: not tested against the naive forecast (no naive forecast to match)"


def test_score_dm_uses_the_same_points_and_overlap_lags():
    t = table_of(CLOSE, {"naive": naive, "good": good})
    step1 = t[t["step"] == 1]
    e_good = (step1.y - step1.yhat)[step1.model == "good"].to_numpy()
    e_naive = (step1.y - step1.yhat)[step1.model == "naive"].to_numpy()
    per_step = score(t, per_step=True)
    assert list(per_step.columns[:2]) == ["model", "step"]
    row = per_step[(per_step.model == "good") & (per_step.step == 1)].iloc[0]
    assert row["dm_stat"] == pytest.approx(m.dm_test(e_good, e_naive, h=1, power=1)[0])
    # pooled: the loss differential averaged per cutoff; daily cutoffs, horizon 2: h = 2
    both = t.assign(err=(t.y - t.yhat).abs()).groupby(["model", "cutoff"])["err"].mean()
    stat, p = m.dm_test(both["good"].to_numpy(), both["naive"].to_numpy(), h=2, power=1)
    pooled = score(t).set_index("model")
    assert pooled.loc["good", "dm_stat"] == pytest.approx(stat)
    assert pooled.loc["good", "dm_pvalue"] == pytest.approx(p)
    # cutoffs two bars apart with horizon 2: forecasts do not overlap, h = 1
    close = 10 + np.arange(12.0) ** 1.3 % 3
    sparse = table_of(close, {"naive": naive, "good": good}, cutoffs=range(0, 10, 2))
    both = sparse.assign(err=(sparse.y - sparse.yhat).abs()).groupby(["model", "cutoff"])
    err = both["err"].mean()
    stat, _ = m.dm_test(err["good"].to_numpy(), err["naive"].to_numpy(), h=1, power=1)
    assert score(sparse).set_index("model").loc["good", "dm_stat"] == pytest.approx(stat)


def test_score_intervals():
    t = table_of(CLOSE, {"naive": naive, "good": good})
    is_good = t["model"] == "good"
    t.loc[is_good, "lo"] = t.loc[is_good, "y"] - 1.0
    t.loc[is_good, "hi"] = t.loc[is_good, "y"] + np.where(t.loc[is_good, "step"] == 1, 1.0, -0.5)
    r = score(t).set_index("model")
    assert r.loc["good", "coverage"] == pytest.approx(0.5)  # step 2's hi is below y
    # lo: 0.05 * 1 each; hi: 0.95 * 1 (step 1) or 0.95 * 0.5 (step 2 misses by 0.5)
    assert r.loc["good", "pinball"] == pytest.approx((0.05 + (0.05 + 0.95 * 0.5) / 2) / 2)
    assert r.loc["naive", "coverage"] is None


def test_constant_series_gives_none_without_warnings():
    flat = np.full(6, 10.0)
    t = table_of(flat, {"naive": naive, "off": lambda y, last, c, s: last + 1})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scores = score(t, scale=recent_naive_scale(flat))
    r = scores.set_index("model")
    assert r.loc["off", "mase"] is None
    assert r.loc["off", "rel_mae"] is None and r.loc["naive", "rel_mae"] is None  # naive MAE 0
    assert r.loc["off", "dm_stat"] is None  # constant loss differential
    assert r.loc["off", "mae"] == pytest.approx(1.0)


def test_stablecoin_numbers_stay_finite():
    one = np.ones(8)
    t = table_of(one, {"naive": naive, "lstm": naive}, cutoffs=range(6))
    t["lo"], t["hi"] = 0.99, 1.01
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        records = score(t, scale=recent_naive_scale(one)).to_dict("records")
        verdicts(pd.DataFrame(records))
    for r in records:
        for key in ("n", "mae", "rmse", "mape", "smape", "directional_n", "coverage", "pinball"):
            assert isinstance(r[key], int | float) and math.isfinite(r[key]), key
        assert all(v is None or not isinstance(v, float) or math.isfinite(v) for v in r.values())
    json.dumps(records, allow_nan=False)


def test_score_rejects_bad_tables():
    t = table_of(CLOSE, {"naive": naive})
    two = pd.concat([t, t.assign(coin="ethereum")])
    with pytest.raises(CoincastError, match="several coins"):
        score(two)
    with pytest.raises(CoincastError, match="lacks column"):
        score(t.drop(columns="last"))
    with pytest.raises(CoincastError, match="repeats a"):
        score(pd.concat([t, t]))


# -- verdicts ---------------------------------------------------------------------------------


def test_one_rule_says_better_worse_or_no_different():
    assert verdict(0.049, -0.1) == "better" and verdict(0.049, 0.1) == "worse"
    assert verdict(0.05, -9.0) == "no different"  # the p-value must be below alpha
    assert verdict(0.2, -1.0, alpha=0.25) == "better"
    assert verdict(np.float64(0.01), np.float64(-2.0)) == "better"
    assert verdict(None, -1.0) is None and verdict(math.nan, 1.0) is None
    assert verdict(0.01, None) is None


def test_verdicts_wording():
    scores = pd.DataFrame([
        {"model": "lstm", "steps": 1, "rel_mae": 1.0004, "dm_stat": -0.8, "dm_pvalue": 0.41,
         "info_slope": 0.02, "info_pvalue": 0.61, "copies_last": True,
         "directional_accuracy": 0.512, "directional_n": 250, "directional_stat": 0.41,
         "directional_pvalue": 0.68, "coverage": 0.843},
        {"model": "arima", "steps": 1, "rel_mae": 1.03, "dm_stat": 2.6, "dm_pvalue": 0.01,
         "info_slope": -0.4, "info_pvalue": 0.0496, "copies_last": False,
         "directional_accuracy": 0.58, "directional_n": 250, "directional_stat": 3.6,
         "directional_pvalue": 0.0002, "coverage": None},
        {"model": "good", "steps": 1, "rel_mae": 0.5, "dm_stat": -3.0, "dm_pvalue": 0.004,
         "info_slope": 0.93, "info_pvalue": 0.0001, "copies_last": False,
         "directional_accuracy": 0.3, "directional_n": 100, "directional_stat": -2.2,
         "directional_pvalue": 0.03, "coverage": None},
        {"model": "multi", "steps": 5, "rel_mae": 0.99996, "dm_stat": -2.5, "dm_pvalue": 0.02,
         "info_slope": None, "info_pvalue": None, "copies_last": True,
         "directional_accuracy": 0.55, "directional_n": 900, "directional_stat": None,
         "directional_pvalue": None, "coverage": None},
        {"model": "naive", "steps": 1, "rel_mae": 1.0, "dm_stat": None, "dm_pvalue": None,
         "info_slope": None, "info_pvalue": None, "copies_last": True,
         "directional_accuracy": None, "directional_n": 0, "directional_stat": None,
         "directional_pvalue": None, "coverage": None},
    ])  # fmt: skip
    said = verdicts(scores)
    expected = [
        "lstm: errors not distinguishable from the naive forecast's (MAE 1.0004x naive, "
        "DM p = 0.41)",
        "lstm: its forecast changes carry no detectable information about the actual changes "
        "(slope 0.02, p = 0.61): it behaves like the last value",
        "lstm: 51.2 % of directions right, not different from chance (Pesaran-Timmermann p = 0.68)",
        "lstm: the 90 % interval held 84.3 % of actuals",
        "arima: worse than naive (MAE 1.0300x naive, DM p = 0.01)",
        # p = 0.0496 keeps its digits: "0.05" would read as not significant
        "arima: its forecast changes point against the actual changes (slope -0.4, p = 0.0496)",
        "arima: 58.0 % of directions right, better than chance (Pesaran-Timmermann p < 0.001)",
        "good: better than naive (MAE 0.5000x naive, DM p = 0.004)",
        "good: its forecast changes carry information about the actual changes (slope 0.93, "
        "p < 0.001)",
        "good: 30.0 % of directions right, worse than chance (Pesaran-Timmermann p = 0.03)",
        # several steps pooled: 0.99996 never prints as 1; direction is tested per step
        "multi: better than naive (MAE 0.99996x naive, DM p = 0.02)",
        "multi: its forecast moves from the last value by a constant (or not at all) at its "
        "first step: it behaves like the last value",
        "multi: 55.0 % of directions right over its 5 steps (tested one step at a time: see "
        "each step)",
    ]
    for sentence in expected:
        assert sentence in said, sentence
    naive = [s for s in said if s.startswith("naive")]
    assert naive == ["naive: no direction to score (the forecast or the actual never moved "
                     "from the last value)"]  # fmt: skip


def test_verdicts_from_a_real_score_and_nan_input():
    t = table_of(CLOSE, {"naive": naive, "good": good})
    said = verdicts(score(t, per_step=True))
    assert any(s.startswith("good (step 2): ") for s in said)
    # scores read back from a CSV hold NaN where score wrote None
    said = verdicts(score(t).astype({"dm_pvalue": float, "dm_stat": float}))
    assert said


def test_rounding_of_no_change_is_no_direction():
    """ARIMA(0,1,0) forecasts exp(log(last)): equal to the last close up to float rounding."""
    last = np.array([95057.5390625, 100.0, 100.0])
    yhat = np.exp(np.log(last))
    y = np.array([96000.0, 99.0, 101.0])
    assert m.directional_accuracy(y, yhat, last) == (None, 0)
