"""score() per model and per step, each figure against an independent implementation:
the information test against statsmodels' HAC OLS, the direction test against the
Pesaran-Timmermann formula written out, their size in simulation (a no-skill forecaster,
horizon 5), the per-step figures against numpy and the DM formula, the CRPS of each band
against scoringrules, MASE's recent scale against the textbook, and the printing of numbers."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import scoringrules
import statsmodels.api as sm
from references import pt_textbook
from scipy import stats

from coincast.errors import CoincastError
from coincast.evaluation import bands
from coincast.evaluation.scores import COLUMNS, score
from coincast.evaluation.significance import direction_by_step
from coincast.evaluation.verdicts import ALPHA, fmt_p, fmt_ratio
from coincast.intervals import bars_per_year
from coincast.models.base import Z90

T0 = pd.Timestamp("2024-01-01", tz="UTC")


def table_of(y, yhat, last, model="m", **extra) -> pd.DataFrame:
    """Backtest rows from arrays of shape (cutoffs, steps): daily cutoffs, step k at k days."""
    y, yhat = np.atleast_2d(np.asarray(y, float).T).T, np.atleast_2d(np.asarray(yhat, float).T).T
    n, h = y.shape
    cutoff = T0 + pd.to_timedelta(np.repeat(np.arange(n), h), unit="D")
    step = np.tile(np.arange(1, h + 1), n)
    cols = {
        "model": model,
        "cutoff": cutoff,
        "ts": cutoff + pd.to_timedelta(step, unit="D"),
        "step": step,
        "y": y.ravel(),
        "yhat": yhat.ravel(),
        "last": np.repeat(np.asarray(last, float), h),
    }
    return pd.DataFrame(cols | {k: np.asarray(v).ravel() for k, v in extra.items()})  # fmt: skip


def walk(rng, sims, n, h, warmup=0):
    """``sims`` random walks long enough for ``n`` cutoffs (after ``warmup``) and ``h`` steps."""
    return 1000 + np.cumsum(rng.standard_normal((sims, warmup + n + h)), axis=1)


def hac_ols(dy, dx, lags):
    kw = {"maxlags": lags, "use_correction": True}
    return sm.OLS(dy, sm.add_constant(dx)).fit(cov_type="HAC", cov_kwds=kw, use_t=True)


def test_the_lagged_copy_rule_is_gone():
    assert "lagged_copy" not in COLUMNS
    assert {"info_slope", "info_pvalue", "copies_last", "crps", "crps_method"} <= set(COLUMNS)


# -- does the forecast know more than the last value? ----------------------------------------


def ar1_prices(n: int, phi: float, rng) -> np.ndarray:
    eps = rng.standard_normal(n + 200)
    d = np.zeros_like(eps)
    for t in range(1, eps.size):
        d[t] = phi * d[t - 1] + eps[t]
    return 100 + np.cumsum(d[200:])


def test_naive_and_a_noisy_copy_are_flagged_the_ar1_oracle_is_not():
    rng = np.random.default_rng(11)
    p = ar1_prices(2000, 0.3, rng)
    last, y = p[1:-1], p[2:]
    oracle = last + 0.3 * np.diff(p)[:-1]  # the best forecast there is; its moves are small
    noisy = last + rng.normal(0, 1.0, last.size)
    t = pd.concat([table_of(y, f, last, name) for name, f in
                   [("naive", last), ("noisy", noisy), ("oracle", oracle)]])  # fmt: skip
    s = score(t).set_index("model")
    assert bool(s.loc["naive", "copies_last"]) and s.loc["naive", "info_slope"] is None
    assert bool(s.loc["noisy", "copies_last"]) and s.loc["noisy", "info_pvalue"] > ALPHA
    assert not s.loc["oracle", "copies_last"]
    assert s.loc["oracle", "info_slope"] == pytest.approx(1.0, abs=0.15)
    # the same numbers from statsmodels: daily cutoffs, step 1: no overlap, no lags
    for name, f in [("noisy", noisy), ("oracle", oracle)]:
        fit = hac_ols(y - last, f - last, 0)
        assert s.loc[name, "info_slope"] == pytest.approx(fit.params[1], rel=1e-10)
        assert s.loc[name, "info_pvalue"] == pytest.approx(fit.pvalues[1], rel=1e-8, abs=1e-300)


def test_information_per_step_on_every_kth_cutoff_against_statsmodels():
    rng = np.random.default_rng(5)
    n, h = 240, 3
    p = ar1_prices(n + h, 0.4, rng)
    last = p[:n]
    y = np.stack([p[k : n + k] for k in range(1, h + 1)], axis=1)
    d = np.diff(p, prepend=p[0])[:n]
    yhat = last[:, None] + 0.4 * d[:, None] * np.arange(1, h + 1) + rng.normal(0, 0.3, (n, h))
    t = table_of(y, yhat, last)
    steps = score(t, per_step=True).set_index("step")
    for k in range(1, h + 1):
        keep = slice(None, None, k)  # step k: cutoffs k bars apart share no bar
        dy, dx = y[keep, k - 1] - last[keep], yhat[keep, k - 1] - last[keep]
        fit = hac_ols(dy, dx, 0)
        assert steps.loc[k, "info_slope"] == pytest.approx(fit.params[1], rel=1e-10)
        assert steps.loc[k, "info_pvalue"] == pytest.approx(fit.pvalues[1], rel=1e-8, abs=1e-300)
    pooled = score(t).iloc[0]  # several steps: the row holds its first step's test
    assert pooled["steps"] == 3
    assert pooled["info_slope"] == pytest.approx(steps.loc[1, "info_slope"])
    assert pooled["copies_last"] == steps.loc[1, "copies_last"]


# -- direction: Pesaran-Timmermann, one step at a time ---------------------------------------


def test_direction_is_two_sided_pt_per_step_never_a_pooled_binomial():
    rng = np.random.default_rng(2)
    n, h = 300, 4
    p = walk(rng, 1, n, h)[0]
    last = p[:n]
    y = np.stack([p[k : n + k] for k in range(1, h + 1)], axis=1)
    skill = np.where(rng.random((n, h)) < 0.6, y - last[:, None], rng.standard_normal((n, h)))
    t = table_of(y, last[:, None] + skill, last)
    steps = score(t, per_step=True).set_index("step")
    by_kernel = direction_by_step(t, alternative="two-sided", nonoverlapping=True)
    for k in range(1, h + 1):
        keep = slice(None, None, k)
        z = pt_textbook(y[keep, k - 1] > last[keep], skill[keep, k - 1] > 0)
        assert steps.loc[k, "directional_stat"] == pytest.approx(z, rel=1e-10)
        assert steps.loc[k, "directional_pvalue"] == pytest.approx(2 * stats.norm.sf(abs(z)))
        assert steps.loc[k, "directional_pvalue"] == pytest.approx(by_kernel["pvalue"][k - 1])
        share = np.mean((y[:, k - 1] > last) == (skill[:, k - 1] > 0))  # all points: no test
        assert steps.loc[k, "directional_accuracy"] == pytest.approx(share)
    pooled = score(t).iloc[0]
    assert pooled["directional_pvalue"] is None and pooled["directional_stat"] is None
    assert pooled["directional_accuracy"] == pytest.approx(
        np.mean((y > last[:, None]) == (skill > 0))
    )
    one = score(t[t["step"] == 1]).iloc[0]  # horizon 1: the row is the step-1 PT test
    assert one["directional_pvalue"] == pytest.approx(steps.loc[1, "directional_pvalue"])


def test_pt_does_not_credit_an_always_up_forecast_in_a_rising_market():
    rng = np.random.default_rng(4)
    p = 100 + np.cumsum(rng.normal(0.3, 1.0, 301))  # up on ~62 % of days
    last, y = p[:-1], p[1:]
    t = table_of(y, last + 1.0 + rng.random(300), last)  # always "up", by varying amounts
    row = score(t).iloc[0]
    hits = int(np.sum(y > last))
    assert stats.binomtest(hits, 300, 0.5).pvalue < 0.001  # a coin-flip test would credit it
    assert row["directional_pvalue"] is None  # PT: independence is moot, nothing to credit


def no_skill_table(sims: int, n: int = 300, h: int = 5, w: int = 20, seed: int = 0):
    """A smooth no-skill forecaster (w-bar momentum extended over the horizon) on ``sims``
    random walks, each walk its own model (score tests every model on its own rows)."""
    p = walk(np.random.default_rng(seed), sims, n, h, warmup=w)
    cut = np.arange(w, w + n)
    last, k = p[:, cut], np.arange(1, h + 1)
    y = np.stack([p[:, cut + s] for s in k], axis=2)  # (sims, n, h)
    yhat = last[:, :, None] + ((p[:, cut] - p[:, cut - w]) / w)[:, :, None] * k
    parts = [table_of(y[i], yhat[i], last[i], f"walk{i}") for i in range(sims)]
    return pd.concat(parts, ignore_index=True)


def rejection_rates(sims: int, seed: int = 0) -> tuple[list[float], list[float]]:
    steps = score(no_skill_table(sims, seed=seed), per_step=True)
    direction, information = [], []
    for _, g in steps.groupby("step"):
        direction.append(float((g["directional_pvalue"].astype(float) < ALPHA).mean()))
        information.append(float((g["info_pvalue"].astype(float) < ALPHA).mean()))
    return direction, information


def test_no_skill_forecaster_horizon_5_keeps_the_size():
    # 300 walks x 300 daily cutoffs x 5 steps, nominal 5 %. Measured: the direction test
    # (two-sided PT, every k-th cutoff for step k) rejects 4.0, 5.0, 5.3, 4.3, 6.3 % for steps
    # 1-5 (1000 walks, seed 1: 4.5, 5.7, 5.0, 5.6, 6.5 %); the pooled binomial of all 1500
    # points rejected 25 % of such samples (test_significance). The information test runs a
    # little over, 6.3, 6.3, 6.7, 8.0, 7.7 % (1000 walks: 7.2, 7.4, 7.5, 8.3, 9.4 %), as
    # ordinary least squares does too (6.3 % at step 1): the forecast's later values contain
    # today's actual move, the small-sample bias of a regression on a persistent predictor
    # (Stambaugh 1999). It errs towards "knows more than the last value" by 2-4 points.
    direction, information = rejection_rates(300)
    assert all(0.02 <= r <= 0.08 for r in direction), direction
    assert all(0.02 <= r <= 0.10 for r in information), information


@pytest.mark.slow
@pytest.mark.timeout(600)  # 1,000 simulated walks: ~60 s alone, minutes on a busy machine
def test_no_skill_forecaster_horizon_5_keeps_the_size_1000_walks():
    direction, information = rejection_rates(1000, seed=1)
    assert all(0.02 <= r <= 0.08 for r in direction), direction
    assert all(0.02 <= r <= 0.10 for r in information), information


# -- every figure per step -------------------------------------------------------------------


def dm_textbook(d: list[float], h: int) -> tuple[float, float]:
    """Diebold-Mariano with the HLN correction, lags up to h - 1, plain Python sums."""
    n = len(d)
    dbar = sum(d) / n
    gamma = [sum((d[t] - dbar) * (d[t - k] - dbar) for t in range(k, n)) / n for k in range(h)]
    stat = dbar / math.sqrt((gamma[0] + 2 * sum(gamma[1:])) / n)
    stat *= math.sqrt((n + 1 - 2 * h + h * (h - 1) / n) / n)
    return stat, 2 * stats.t.sf(abs(stat), df=n - 1)


def test_per_step_mae_rel_mae_dm_and_coverage_by_hand():
    rng = np.random.default_rng(8)
    n, h = 120, 3
    p = walk(rng, 1, n, h)[0]
    last = p[:n]
    y = np.stack([p[k : n + k] for k in range(1, h + 1)], axis=1)
    yhat = y + rng.normal(0, 1.2, (n, h))
    lo, hi = yhat - 1.5, yhat + 1.5
    t = pd.concat([table_of(y, np.repeat(last[:, None], h, 1), last, "naive"),
                   table_of(y, yhat, last, "m", lo=lo, hi=hi)])  # fmt: skip
    steps = score(t, per_step=True)
    m = steps[steps["model"] == "m"].set_index("step")
    for k in range(1, h + 1):
        e, e_naive = np.abs(y[:, k - 1] - yhat[:, k - 1]), np.abs(y[:, k - 1] - last)
        assert m.loc[k, "mae"] == pytest.approx(e.mean())
        assert m.loc[k, "rel_mae"] == pytest.approx(e.mean() / e_naive.mean())
        stat, pvalue = dm_textbook(list(e - e_naive), h=k)  # step k overlaps k - 1 bars
        assert m.loc[k, "dm_stat"] == pytest.approx(stat, rel=1e-10)
        assert m.loc[k, "dm_pvalue"] == pytest.approx(pvalue, rel=1e-8)
        inside = (lo[:, k - 1] <= y[:, k - 1]) & (y[:, k - 1] <= hi[:, k - 1])
        assert m.loc[k, "coverage"] == pytest.approx(inside.mean())
    assert list(steps.columns[:3]) == ["model", "step", "steps"]
    assert (steps["steps"] == 1).all()


# -- CRPS of each band -----------------------------------------------------------------------


def test_crps_of_each_band_matches_scoringrules():
    rng = np.random.default_rng(3)
    n = 40
    last = 100 * np.exp(np.cumsum(rng.normal(0, 0.02, n)))
    y = last * np.exp(rng.normal(0, 0.03, n))
    sigma, s = rng.uniform(1, 4, n), rng.uniform(0.01, 0.05, n)
    shift = rng.normal(0, 2, n)
    q_lo, q_hi = last - rng.uniform(1, 5, n), last + rng.uniform(1, 5, n)
    models = {  # name: (yhat, lo, hi, dist)
        "normal": (last, last - Z90 * sigma, last + Z90 * sigma, "normal"),
        "lognormal": (last, last * np.exp(-Z90 * s), last * np.exp(Z90 * s), "lognormal"),
        "drift": (last + shift, last * np.exp(-Z90 * s) + shift, last * np.exp(Z90 * s) + shift,
                  "shifted-lognormal"),
        "quantile": (last, q_lo, q_hi, "quantiles"),
        "deciles": (last, q_lo, q_hi, "quantiles:0.1,0.5,0.9"),
        "unstated": (last, q_lo, q_hi, None),
    }  # fmt: skip
    t = pd.concat([table_of(y, f, last, name, lo=lo, hi=hi, dist=np.full(n, d, dtype=object))
                   for name, (f, lo, hi, d) in models.items()])  # fmt: skip
    r = score(t).set_index("model")
    sr = scoringrules
    three = np.stack([q_lo, last, q_hi], axis=1)
    ref = {
        "normal": sr.crps_normal(y, last, sigma),
        "lognormal": sr.crps_lognormal(y, np.log(last), s),
        "drift": sr.crps_lognormal(y - shift, np.log(last), s),
        "quantile": sr.crps_quantile(y, three, np.array([0.05, 0.5, 0.95])),
        "deciles": sr.crps_quantile(y, three, np.array([0.1, 0.5, 0.9])),
    }  # fmt: skip
    for name, values in ref.items():
        assert r.loc[name, "crps"] == pytest.approx(float(np.mean(values)), rel=1e-9), name
    assert r.loc["unstated", "crps"] is None and r.loc["unstated", "crps_method"] is None
    assert r.loc["drift", "crps_method"] == "shifted log-normal, closed form"
    assert r.loc["quantile", "crps_method"] == "3 quantiles (0.05, 0.5, 0.95)"
    assert r.loc["deciles", "crps_method"] == "3 quantiles (0.1, 0.5, 0.9)"


def test_three_quantiles_read_28_percent_below_the_exact_crps_of_a_normal():
    # What the column's help says: E 2/3 sum pinball at 0.05, 0.5, 0.95 of the true quantiles
    # is (2/3)(2 phi(Z90) + phi(0)); the exact CRPS of N(0, 1) has mean 1/sqrt(pi).
    rng = np.random.default_rng(0)
    y = rng.standard_normal(200_000)
    zeros, ones = np.zeros_like(y), np.ones_like(y)
    q3 = bands.band_crps(y, zeros, -Z90 * ones, Z90 * ones, "quantiles").mean()
    exact = bands.band_crps(y, zeros, -Z90 * ones, Z90 * ones, "normal").mean()
    expected = 2 / 3 * (2 * stats.norm.pdf(Z90) + stats.norm.pdf(0)) * math.sqrt(math.pi)
    assert q3 / exact == pytest.approx(expected, abs=0.005)
    assert 1 - expected == pytest.approx(0.285, abs=0.001)


def test_bands_refuse_what_they_cannot_score():
    one = np.ones(1)
    with pytest.raises(CoincastError, match=r"dist 'gamma' is not one of normal, lognormal"):
        bands.band_crps(one, one, one, one, "gamma")
    with pytest.raises(CoincastError, match="must name three increasing levels"):
        bands.quantile_levels("quantiles:0.5,0.1,0.9")
    with pytest.raises(CoincastError, match="needs lo and yhat > 0"):
        bands.band_crps(one, one, 0 * one, 2 * one, "lognormal")
    with pytest.raises(CoincastError, match=r"needs hi - yhat > yhat - lo > 0"):
        bands.band_crps(one, one, 0 * one, 2 * one, "shifted-lognormal")  # symmetric


def test_baseline_dists_describe_the_bands_they_draw():
    from coincast.data.sources import synthetic_candles
    from coincast.models.baselines import make_baseline

    frame = synthetic_candles(200)
    for name in ("naive", "seasonal", "arima", "drift", "ma"):
        model = make_baseline(name)
        f = model.fit(frame).predict(5)
        yhat, lo, hi = (f[c].to_numpy() for c in ("yhat", "lo", "hi"))
        dist = bands.dist_of(model)
        if dist == "lognormal":  # median yhat, lo and hi symmetric in logs
            assert lo * hi == pytest.approx(yhat**2, rel=1e-9), name
        elif dist == "shifted-lognormal":  # drift: the naive band moved by the drift
            c, median, _ = bands.shifted_lognormal(yhat, lo, hi)
            last = f.attrs["last_close"]
            assert median == pytest.approx(np.full(5, last), rel=1e-9)
            assert c == pytest.approx(yhat - last, rel=1e-6, abs=1e-6 * last)
        else:
            assert dist is None and np.isnan(lo).all(), name
    assert bands.BASELINE_DISTS == {"naive": "lognormal", "seasonal": "lognormal",
                                    "arima": "lognormal", "drift": "shifted-lognormal"}  # fmt: skip


@pytest.mark.parametrize(
    ("settings", "dist"),
    [({"head": "gaussian"}, "lognormal"), ({"head": "gaussian", "target": "price"}, "normal"),
     ({"head": "quantile"}, "quantiles"),
     ({"head": "quantile", "quantiles": (0.1, 0.5, 0.9)}, "quantiles:0.1,0.5,0.9"),
     ({"head": "point"}, None)],
)  # fmt: skip
def test_lstm_dist_matches_its_band(settings, dist):
    from coincast.data.sources import synthetic_candles
    from coincast.evaluation.adapters import LSTMModel
    from coincast.models.config import LSTMConfig

    cfg = LSTMConfig(lookback=5, horizon=2, hidden=4, layers=1, epochs=1, threads=1,
                     log_every=0, device="cpu", **settings)  # fmt: skip
    model = LSTMModel(cfg)
    assert bands.dist_of(model) == dist
    f = model.fit(synthetic_candles(80)).predict(2)
    yhat, lo, hi = (f[c].to_numpy() for c in ("yhat", "lo", "hi"))
    if dist == "lognormal":
        assert lo * hi == pytest.approx(yhat**2, rel=1e-5)
    elif dist == "normal":
        assert hi - yhat == pytest.approx(yhat - lo, rel=1e-4)
    elif dist is None:
        assert np.isnan(lo).all()
    else:
        assert (lo <= yhat).all() and (yhat <= hi).all()


# -- MASE's scale: the last year of training bars --------------------------------------------


def test_bars_per_year():
    assert [bars_per_year(i) for i in ("1d", "1h", "1w", "4h", "1m")] == [365, 8760, 52, 2190,
                                                                          525_600]  # fmt: skip
    with pytest.raises(CoincastError, match="unknown interval '2d'"):
        bars_per_year("2d")


def test_run_backtest_scales_mase_by_the_last_year_of_training_bars():
    from coincast.data.sources import synthetic_candles
    from coincast.evaluation.backtest import WalkForward
    from coincast.evaluation.run import run_backtest, scores_json

    frame = synthetic_candles(700)
    r = run_backtest(frame, WalkForward(test=30, horizon=2), models=["naive"])
    close = frame["close"].to_numpy()
    first = len(close) - 30  # the test period's first bar: training closes end before it
    recent = close[first - 365 : first]
    scale = np.mean(np.abs(np.diff(recent)))  # Hyndman-Koehler, over the last 365 closes
    assert r.meta["mase_scale"] == {"window": 365, "value": pytest.approx(scale)}
    naive = r.scores.set_index("model").loc["naive"]
    assert naive["mase"] == pytest.approx(naive["mae"] / scale)
    assert list(r.steps["step"]) == [1, 2]
    answer = scores_json(r)
    assert [s["step"] for s in answer["metrics"][0]["per_step"]] == [1, 2]
    assert answer["metrics"][0]["per_step"][1]["mae"] == pytest.approx(r.steps["mae"].iat[1])


# -- rounding must not judge -----------------------------------------------------------------


def test_ratios_never_print_as_one_and_p_values_never_cross_alpha():
    assert [fmt_ratio(x) for x in (1.0004, 0.99996, 1.0, 0.5, 2.02096)] == [
        "1.0004", "0.99996", "1.0000", "0.5000", "2.0210"]  # fmt: skip
    assert [fmt_p(p) for p in (0.0496, 0.05, 0.051, 0.41, 0.0004)] == [
        "0.0496", "0.05", "0.051", "0.41", "< 0.001"]  # fmt: skip
    rng = np.random.default_rng(0)
    for x in 1 + rng.normal(0, 1e-6, 500):
        assert (float(fmt_ratio(x)) == 1) == (x == 1)
    for p in ALPHA + rng.normal(0, 1e-5, 500):
        assert (float(fmt_p(p)) < ALPHA) == (p < ALPHA)
