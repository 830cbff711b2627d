"""Every statistic a backtest prints, on real data, against an independent implementation.

One real backtest of bitcoin's daily Yahoo closes (../shared/data): the last 90 days, the
five baselines, horizon 1 and horizon 3. Its ``scores`` (per model), ``steps`` (per model and
step), ``scores_json`` and ``trading`` are recomputed here from the backtest's table (and the
candles) with other code:

* MAE, RMSE, MAPE, sMAPE, MASE: ``utilsforecast.losses``;
* rel_mae: a pandas merge on (cutoff, step);
* Diebold-Mariano with the HLN correction: the textbook formula, autocovariances from
  statsmodels' ``acovf``, the p-value from ``scipy.stats.t``;
* direction: the Pesaran-Timmermann (1992) formula written out, per step, on the thinned
  cutoffs;
* the change-information test: statsmodels' OLS with HAC standard errors;
* coverage and pinball: numpy; CRPS: ``scoringrules`` (log-normal, and the shifted
  log-normal as a log-normal of ``y - c``);
* the trading view: a loop over the bars, buy-and-hold from the candles, the p-value from
  ``arch``'s ``StationaryBootstrap.apply``;
* ARIMA: the AIC of each order on the last training window from statsmodels' ARIMA, the
  textbook ``-2 llf + 2 k``, and the table's forecasts from statsmodels' ``get_forecast``.

Every comparison is numeric (relative 1e-9 unless said), so each can fail.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
import scoringrules
import statsmodels.api as sm
from arch.bootstrap import StationaryBootstrap, optimal_block_length
from conftest import DATA_DIR, requires_data
from scipy import stats
from statsmodels.tsa.arima.model import ARIMA as StatsARIMA
from statsmodels.tsa.stattools import acovf
from threadpoolctl import threadpool_limits
from utilsforecast import losses

from coincast.data.sources import read_file
from coincast.evaluation.backtest import WalkForward
from coincast.evaluation.run import run_backtest, scores_json
from coincast.evaluation.trading import REPS
from coincast.models.arima import ARIMA

pytestmark = requires_data

TEST = 90  # test bars: the last 90 days of the file
REFIT = 30  # WalkForward's default refit_every
COST = 0.001 + 0.0005  # run_backtest's default fee + slippage
BASELINES = ["naive", "drift", "seasonal", "ma"]
MODELS = [*BASELINES, "arima"]
Z90 = stats.norm.ppf(0.95)  # lo/hi are a central 90 % band
REL = 1e-9
#: ARIMA's grid as its docstring states it: p, q in 0..2, d = 1.
GRID = [(p, 1, q) for p in range(3) for q in range(3)]
#: Which band each model draws (bands.py) and so which CRPS scores it.
DISTS = {"naive": "lognormal", "drift": "shifted-lognormal", "seasonal": "lognormal",
         "ma": None, "arima": "lognormal"}  # fmt: skip


@dataclass
class Run:
    horizon: int
    frame: pd.DataFrame
    result: object
    arima: ARIMA


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return read_file(DATA_DIR / "yahoo" / "daily" / "BTC-USD_1d.csv", coin="BTC")[0]


@pytest.fixture(scope="module", params=[1, 3], ids=["h1", "h3"])
def run(request, frame) -> Run:
    arima = ARIMA()  # the default grid, kept to read its last fit
    models = [*BASELINES, arima]
    result = run_backtest(
        frame, WalkForward(test=TEST, horizon=request.param), models=models, intervals="model"
    )
    return Run(request.param, frame, result, arima)


def close(x, ref, rel=REL, abs_=0.0) -> bool:
    return math.isclose(float(x), float(ref), rel_tol=rel, abs_tol=abs_)


def rows(run: Run, model: str, step: int | None = None) -> pd.DataFrame:
    """The table's rows of a model (and step), sorted by step then cutoff."""
    t = run.result.table
    t = t[(t["model"] == model) & ((t["step"] == step) if step else True)]
    return t.sort_values(["step", "cutoff"], kind="stable").reset_index(drop=True)


def scored(run: Run, model: str, step: int | None = None) -> pd.Series:
    """coincast's row of scores: pooled (step None) or of one step."""
    if step is None:
        return run.result.scores.set_index("model").loc[model]
    s = run.result.steps
    return s[(s["model"] == model) & (s["step"] == step)].iloc[0]


def cases(run: Run):
    """(model, step) of every row coincast scores: None for the row pooling the steps."""
    return [(m, k) for m in MODELS for k in (None, *range(1, run.horizon + 1))]


def thinned(run: Run, model: str, step: int) -> pd.DataFrame:
    """Step ``step``'s rows on every ``step``-th cutoff, from the first: daily cutoffs one bar
    apart, so the step-k moves kept share no bar (the convention scores.py states)."""
    return rows(run, model, step).iloc[::step].reset_index(drop=True)


# -- the backtest's inputs are the candles ----------------------------------------------------


def test_the_table_holds_the_real_closes_and_the_stated_test_period(run):
    f, t = run.frame, run.result.table
    close_at = f["close"]
    assert np.array_equal(t["y"].to_numpy(), close_at.loc[t["ts"]].to_numpy())
    assert np.array_equal(t["last"].to_numpy(), close_at.loc[t["cutoff"]].to_numpy())
    cut = np.sort(t["cutoff"].unique())
    assert len(cut) == TEST and (np.diff(cut) == np.timedelta64(1, "D")).all()
    assert t["ts"].max() == f.index[-1] and t["ts"].min() == f.index[-TEST]
    assert ((t["ts"] - t["cutoff"]) == pd.to_timedelta(t["step"], unit="D")).all()
    # every model forecasts every (cutoff, step) whose target lies in the test period
    expected = sum(TEST - k + 1 for k in range(1, run.horizon + 1))
    assert t.groupby("model").size().to_dict() == dict.fromkeys(MODELS, expected)
    naive = rows(run, "naive")
    assert (naive["yhat"] == naive["last"]).all()
    assert t.groupby("model")["dist"].first().to_dict() == DISTS


# -- point errors against utilsforecast -----------------------------------------------------


def test_point_errors_and_mase_match_utilsforecast(run):
    f, r = run.frame, run.result
    first = len(f) - TEST  # the first test bar: MASE's training closes end before it
    train_close = f["close"].to_numpy()[first - 365 : first]  # the last year of daily bars
    assert r.meta["mase_scale"]["window"] == 365
    parts, trains = [], []
    for i, (model, step) in enumerate(cases(run)):
        g = rows(run, model, step)
        parts.append(pd.DataFrame({"unique_id": i, "y": g["y"], "yhat": g["yhat"]}))
        trains.append(pd.DataFrame({"unique_id": i, "ds": np.arange(365), "y": train_close}))
    df, train = pd.concat(parts, ignore_index=True), pd.concat(trains, ignore_index=True)
    ref = {
        "mae": losses.mae(df, ["yhat"]),
        "rmse": losses.rmse(df, ["yhat"]),
        "mape": losses.mape(df, ["yhat"]),  # a fraction, as coincast's (no BTC close is 0)
        "smape": losses.smape(df, ["yhat"]),  # in [0, 1]; coincast's in [0, 2]: times 2
        # seasonality 1 on the last 365 training closes: coincast's stated MASE scale, the
        # naive MAE over the last year of training bars (not utilsforecast's whole history)
        "mase": losses.mase(df, ["yhat"], seasonality=1, train_df=train),
    }
    ref = {k: v.set_index("unique_id")["yhat"] for k, v in ref.items()}
    ref["smape"] = 2 * ref["smape"]
    for i, (model, step) in enumerate(cases(run)):
        s = scored(run, model, step)
        assert s["n"] == len(rows(run, model, step))
        for k, v in ref.items():
            assert close(s[k], v[i]), (model, step, k, s[k], v[i])
    scale = np.abs(np.diff(train_close)).mean()
    assert close(r.meta["mase_scale"]["value"], scale)


def test_rel_mae_is_mae_over_naive_on_the_same_points(run):
    naive = rows(run, "naive")[["cutoff", "step", "yhat"]].rename(columns={"yhat": "naive"})
    for model, step in cases(run):
        m = rows(run, model, step).merge(naive, on=["cutoff", "step"], how="inner")
        assert len(m) == scored(run, model, step)["n"]  # the naive forecast made every point
        ratio = (m["y"] - m["yhat"]).abs().mean() / (m["y"] - m["naive"]).abs().mean()
        assert close(scored(run, model, step)["rel_mae"], ratio)
    assert scored(run, "naive")["rel_mae"] == 1.0


# -- Diebold-Mariano with the HLN correction ------------------------------------------------


def dm_hln(d: np.ndarray, h: int) -> tuple[float, float]:
    """The DM statistic of loss differentials ``d`` with ``h - 1`` autocovariances (an
    ``h``-step forecast's errors are MA(h-1)), Harvey-Leybourne-Newbold's small-sample factor
    and a Student-t(n - 1) p-value, two-sided."""
    n = d.size
    gamma = acovf(d, nlag=h - 1, demean=True, fft=False)  # denominator n, as in DM (1995)
    lrv = gamma[0] + 2 * gamma[1:].sum()
    assert lrv > 0  # on this data: coincast's fallback to gamma[0] is not in play
    dm = d.mean() / math.sqrt(lrv / n)
    stat = dm * math.sqrt((n + 1 - 2 * h + h * (h - 1) / n) / n)
    return stat, 2 * stats.t.sf(abs(stat), df=n - 1)


def test_diebold_mariano_hln_matches_the_textbook(run):
    naive = rows(run, "naive")[["cutoff", "step", "yhat"]].rename(columns={"yhat": "naive"})
    for model, step in cases(run):
        s = scored(run, model, step)
        if model == "naive":
            assert s["dm_stat"] is None and s["dm_pvalue"] is None  # no test against itself
            continue
        m = rows(run, model, step).merge(naive, on=["cutoff", "step"])
        # coincast's loss: absolute error (MAE's); the differential averaged per cutoff over
        # the steps it forecast there (fewer near the end of the test period)
        m["d"] = (m["y"] - m["yhat"]).abs() - (m["y"] - m["naive"]).abs()
        d = m.groupby("cutoff")["d"].mean().sort_index().to_numpy()
        # cutoffs one bar apart: forecasts reaching k bars overlap k - 1 neighbours, so the
        # pooled row uses the horizon's lags and step k's row k - 1
        h = run.horizon if step is None else step
        stat, p = dm_hln(d, h)
        assert close(s["dm_stat"], stat), (model, step, s["dm_stat"], stat)
        assert close(s["dm_pvalue"], p), (model, step, s["dm_pvalue"], p)


# -- direction: Pesaran-Timmermann per step on the thinned cutoffs --------------------------


def moves(x: np.ndarray, last: np.ndarray) -> np.ndarray:
    """+1 up, -1 down, 0 for no move: coincast counts a change within 1e-9 of ``last``
    (float rounding of "no change") as none."""
    return np.where(np.abs(x - last) <= 1e-9 * np.abs(last), 0, np.sign(x - last))


def pesaran_timmermann(up_actual: np.ndarray, up_forecast: np.ndarray):
    """PT (1992): ``(P - P*) / sqrt(V(P) - V(P*))``; None when the variance vanishes (one of
    the two always points the same way)."""
    n = up_actual.size
    p_right = np.mean(up_actual == up_forecast)
    py, px = up_actual.mean(), up_forecast.mean()
    p_star = py * px + (1 - py) * (1 - px)
    v_p = p_star * (1 - p_star) / n
    v_star = ((2 * py - 1) ** 2 * px * (1 - px) / n + (2 * px - 1) ** 2 * py * (1 - py) / n
              + 4 * py * px * (1 - py) * (1 - px) / n**2)  # fmt: skip
    if v_p - v_star <= 1e-12 * v_p:
        return None, None
    stat = (p_right - p_star) / math.sqrt(v_p - v_star)
    return stat, 2 * stats.norm.sf(abs(stat))


def test_direction_share_and_pesaran_timmermann_per_step(run):
    defined = 0
    for model, step in cases(run):
        s = scored(run, model, step)
        g = rows(run, model, step)
        a = moves(g["y"].to_numpy(), g["last"].to_numpy())
        f = moves(g["yhat"].to_numpy(), g["last"].to_numpy())
        both = (a != 0) & (f != 0)
        assert s["directional_n"] == both.sum()
        if both.sum() == 0:  # the naive forecast never moves: no direction to score
            assert model == "naive" and s["directional_accuracy"] is None
        else:
            assert close(s["directional_accuracy"], np.mean(a[both] == f[both]))
        if step is None and run.horizon > 1:  # pooled steps share bars: tested per step only
            assert s["directional_stat"] is None and s["directional_pvalue"] is None
            continue
        t = thinned(run, model, step or 1)
        assert (t["ts"].iloc[:-1].to_numpy() <= t["cutoff"].iloc[1:].to_numpy()).all()
        a = moves(t["y"].to_numpy(), t["last"].to_numpy())
        f = moves(t["yhat"].to_numpy(), t["last"].to_numpy())
        keep = (a != 0) & (f != 0)
        stat, p = (None, None) if not keep.any() else pesaran_timmermann(a[keep] > 0, f[keep] > 0)
        if stat is None:
            assert s["directional_stat"] is None and s["directional_pvalue"] is None
            continue
        defined += 1
        assert close(s["directional_stat"], stat), (model, step, s["directional_stat"], stat)
        assert close(s["directional_pvalue"], p), (model, step)
    assert defined >= 3 * run.horizon  # seasonal, ma and arima at least, at every step


# -- does the forecast's change carry information? statsmodels' HAC OLS --------------------


def test_change_information_matches_statsmodels_hac_ols(run):
    tested = 0
    for model, step in cases(run):
        s = scored(run, model, step)
        t = thinned(run, model, step or 1)  # a pooled row holds its first step's test
        dx = (t["yhat"] - t["last"]).to_numpy()
        dy = (t["y"] - t["last"]).to_numpy()
        if model == "naive":  # its change is always 0: no information, nothing to regress
            assert s["info_slope"] is None and s["info_pvalue"] is None
            assert bool(s["copies_last"])  # "copies the last value": True
            continue
        # the thinned step-k moves do not overlap: maxlags 0 (coincast's overlap - 1);
        # use_correction: the n / (n - 2) factor; use_t: Student-t(n - 2), as coincast states
        fit = sm.OLS(dy, sm.add_constant(dx)).fit(
            cov_type="HAC", cov_kwds={"maxlags": 0, "use_correction": True}, use_t=True
        )
        assert close(s["info_slope"], fit.params[1]), (model, step)
        assert close(s["info_pvalue"], fit.pvalues[1]), (model, step)
        assert s["copies_last"] == (fit.pvalues[1] >= 0.05)
        tested += 1
    assert tested == (len(MODELS) - 1) * (run.horizon + 1)


# -- the band: coverage, pinball and CRPS --------------------------------------------------


def shifted_lognormal(yhat, lo, hi):
    """(c, median, s) of ``c + exp(N(log median, s**2))`` whose 5, 50 and 95 % quantiles are
    lo, yhat and hi: ``(hi - yhat) / (yhat - lo) = e^{Z s}``."""
    s = np.log((hi - yhat) / (yhat - lo)) / Z90
    median = (yhat - lo) / (1 - np.exp(-Z90 * s))
    return yhat - median, median, s


def test_coverage_pinball_and_crps_of_each_band(run):
    for model, step in cases(run):
        s = scored(run, model, step)
        g = rows(run, model, step)
        y, yhat, lo, hi = (g[c].to_numpy() for c in ("y", "yhat", "lo", "hi"))
        if DISTS[model] is None:  # the moving average draws no band
            assert np.isnan(lo).all() and np.isnan(hi).all()
            assert s["coverage"] is None and s["pinball"] is None and s["crps"] is None
            continue
        assert np.isfinite(lo).all() and np.isfinite(hi).all()
        assert close(s["coverage"], np.mean((lo <= y) & (y <= hi)))
        u_lo, u_hi = y - lo, y - hi
        pin_lo = np.mean(np.where(u_lo >= 0, 0.05 * u_lo, (0.05 - 1) * u_lo))
        pin_hi = np.mean(np.where(u_hi >= 0, 0.95 * u_hi, (0.95 - 1) * u_hi))
        assert close(s["pinball"], (pin_lo + pin_hi) / 2)
        if DISTS[model] == "lognormal":  # median yhat, log-scale from the band's width
            sigma = np.log(hi / lo) / (2 * Z90)
            assert np.allclose(stats.lognorm(sigma, scale=yhat).ppf(0.05), lo, rtol=1e-9)
            crps = scoringrules.crps_lognormal(y, np.log(yhat), sigma)
            method = "log-normal, closed form"
        else:  # shifted: the CRPS of c + X at y is the CRPS of X at y - c
            c, median, sigma = shifted_lognormal(yhat, lo, hi)
            dist = stats.lognorm(sigma, loc=c, scale=median)
            assert np.allclose(dist.ppf([[0.05], [0.5], [0.95]]), [lo, yhat, hi], rtol=1e-9)
            crps = scoringrules.crps_lognormal(y - c, np.log(median), sigma)
            method = "shifted log-normal, closed form"
        assert close(s["crps"], np.mean(crps), rel=1e-8), (model, step, s["crps"])
        assert s["crps_method"] == method


# -- what coincast prints: --json and the per-step rows ------------------------------------


def test_scores_json_prints_the_checked_scores(run):
    answer = scores_json(run.result)
    assert answer["horizon"] == run.horizon and answer["interval"] == "1d"
    assert answer["mase_scale"] == run.result.meta["mase_scale"]
    assert [m["model"] for m in answer["metrics"]] == MODELS
    for m in answer["metrics"]:
        for step, printed in [(None, m), *((p["step"], p) for p in m["per_step"])]:
            s = scored(run, m["model"], step)
            for k, v in printed.items():
                if k in ("model", "per_step", "step", "var_tests"):
                    continue
                if k in ("crps_method", "copies_last"):  # words and yes/no, not numbers
                    assert v == s[k], (m["model"], step, k)
                    continue
                assert (v is None) == (s[k] is None), (m["model"], step, k)
                assert v is None or close(v, s[k], rel=0.0), (m["model"], step, k)
        assert [p["step"] for p in m["per_step"]] == list(range(1, run.horizon + 1))
        tests = run.result.var_tests
        mine = tests[tests["model"] == m["model"]]
        assert [t["level"] for t in m["var_tests"]] == mine["level"].tolist()
        assert [t["kupiec_pvalue"] for t in m["var_tests"]] == mine["kupiec_pvalue"].tolist()


# -- the trading view ----------------------------------------------------------------------


def simulate_by_hand(g: pd.DataFrame, always_long: bool = False):
    """Long over the next bar when the one-step forecast beats the last close by more than
    the costs; each change of position costs ``COST`` of the equity. Returns the per-bar
    returns, the equity (from 1) and the positions."""
    equity, held, rets, positions = [1.0], 0, [], []
    for yhat, y, last in zip(g["yhat"], g["y"], g["last"], strict=True):
        pos = 1 if always_long or yhat / last - 1 > COST else 0
        e = equity[-1] * (1 - COST if pos != held else 1.0)
        e *= 1 + pos * (y / last - 1)
        rets.append(e / equity[-1] - 1)
        equity.append(e)
        positions.append(pos)
        held = pos
    return np.array(rets), pd.Series(equity), np.array(positions)


def summary(rets, equity, positions) -> dict:
    r = pd.Series(rets)
    sharpe = r.mean() / r.std() * math.sqrt(365.25) if r.std() > 0 else None  # 365.25 days
    return {
        "total_return": equity.iat[-1] - 1,
        "sharpe": sharpe,
        "max_drawdown": (1 - equity / equity.cummax()).max(),
        "trades": int((np.diff(positions, prepend=0) != 0).sum()),
        "exposure": positions.mean(),
    }


def hold_pvalue(strategy: np.ndarray, hold: np.ndarray) -> float:
    """Two-sided p-value of the mean return differential: arch's stationary bootstrap with
    coincast's seed (``default_rng(0)``), reps (``REPS``) and block length (Politis-White's
    stationary estimate of the differential, at least 1), centred on the observed mean."""
    d = strategy - hold
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        block = max(1.0, float(optimal_block_length(d)["stationary"].iloc[0]))
    bs = StationaryBootstrap(block, d, seed=np.random.default_rng(0))
    boot = bs.apply(lambda x: np.array([x.mean()]), REPS)[:, 0]
    return (1 + np.sum(np.abs(boot - d.mean()) >= abs(d.mean()))) / (REPS + 1)


def test_trading_figures_and_the_bootstrap_pvalue_by_hand(run):
    f, sim = run.frame, run.result.trading.set_index("model")
    assert list(sim.index) == [*MODELS, "buy-and-hold"]
    hold_rets, hold_eq, ones = simulate_by_hand(rows(run, "naive", 1), always_long=True)
    for model in MODELS:
        rets, equity, positions = simulate_by_hand(rows(run, model, 1))
        ours = summary(rets, equity, positions)
        row = sim.loc[model]
        for k, v in ours.items():
            if v is None:
                assert row[k] is None, (model, k)
            else:
                assert close(row[k], v, abs_=1e-15), (model, k, row[k], v)
        p = hold_pvalue(rets, hold_rets)
        assert close(row["hold_pvalue"], p), (model, row["hold_pvalue"], p)
        diff = rets.mean() - hold_rets.mean()
        word = "no different" if p >= 0.05 else ("better" if diff > 0 else "worse")
        assert row["vs_hold"] == word
    # buy-and-hold: one entry cost, then the close's path from the first cutoff to the end
    total = (1 - COST) * f["close"].iat[-1] / f["close"].iat[-TEST - 1] - 1
    hold = sim.loc["buy-and-hold"]
    assert close(hold["total_return"], total, rel=1e-12)
    for k, v in summary(hold_rets, hold_eq, ones).items():
        assert close(hold[k], v), k
    assert hold["hold_pvalue"] is None and hold["vs_hold"] is None
    assert sim.loc["seasonal", "trades"] > 0  # the rule did trade: the checks above bite


# -- ARIMA: the order and AIC of the last fit, the forecasts --------------------------------


def test_arima_order_aic_and_forecasts_match_statsmodels(run):
    f = run.frame
    t = rows(run, "arima")
    cutoffs = np.sort(t["cutoff"].unique())
    refit = cutoffs[::REFIT][-1]  # the last cutoff at which it was refit
    end = f.index.get_loc(refit)
    y = np.log(f["close"].to_numpy()[: end + 1][-1000:])  # log close, the last 1000 rows
    assert run.arima.order in GRID and list(run.arima.scores) == GRID
    fits = {}
    for order in GRID:
        p, _, q = order
        # the settings ARIMA's docstring states: trend None (no constant with d = 1), the
        # scale concentrated out unless the order has no coefficient, cov_type "none"
        model = StatsARIMA(y, order=order, concentrate_scale=p + q > 0)
        with warnings.catch_warnings(), threadpool_limits(1, user_api="blas"):  # as coincast
            warnings.simplefilter("ignore")  # convergence warnings: scored all the same
            res = model.fit(cov_type="none")
        assert np.isfinite(res.aic)  # so coincast's retry without concentration is not used
        assert close(res.aic, -2 * res.llf + 2 * (p + q + 1))  # the variance counts as one
        assert close(run.arima.scores[order], res.aic), (order, run.arima.scores[order], res.aic)
        fits[order] = res
    best = min(fits, key=lambda o: fits[o].aic)
    aics = sorted(r.aic for r in fits.values())
    assert aics[1] - aics[0] > 1e-6  # a clear winner: the order comparison can fail
    assert run.arima.order == best
    h = run.horizon
    # the table's forecasts at the refit, and at the last cutoff (the same coefficients,
    # filtered over the longer window)
    last = cutoffs[-1]
    later = fits[best].apply(np.log(f["close"].to_numpy()[: f.index.get_loc(last) + 1][-1000:]))
    for cutoff, res in ((refit, fits[best]), (last, later)):
        fc = res.get_forecast(h)
        band = np.exp(np.asarray(fc.conf_int(alpha=0.1)))
        got = t[t["cutoff"] == cutoff].sort_values("step")
        k = len(got)  # the last cutoff forecasts only the bar the test period still holds
        assert k >= 1
        assert np.allclose(got["yhat"], np.exp(fc.predicted_mean)[:k], rtol=1e-9, atol=0)
        assert np.allclose(got["lo"], band[:k, 0], rtol=1e-9, atol=0)
        assert np.allclose(got["hi"], band[:k, 1], rtol=1e-9, atol=0)
