"""Volatility models against loops, numpy, statsmodels and arch, on simulated data."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from arch import arch_model

from coincast.data.sources import synthetic_candles
from coincast.dataset.realized import choose_measure, variance_floor
from coincast.errors import CoincastError, IntervalError
from coincast.intervals import interval_ms
from coincast.models import volatility
from coincast.models.innovations import Empirical, StudentT
from coincast.models.volatility import (
    EWMA,
    GARCH,
    GJR,
    HAR,
    VOL_MODELS,
    HistVol,
    VolModel,
    make_vol_model,
)
from coincast.series import future_index, make_frame

DAY_MS = 86_400_000


def frame_from_returns(r: np.ndarray, interval: str = "1d", coin: str = "sim") -> pd.DataFrame:
    """Candles whose close-to-close log returns are exactly ``r`` (one more row than ``r``)."""
    close = 100.0 * np.exp(np.r_[0.0, np.cumsum(r)])
    open_ = np.r_[close[0], close[:-1]]
    wick = np.exp(0.1 * np.abs(np.r_[0.0, r]))
    cols = {
        "open": open_,
        "high": np.maximum(open_, close) * wick,
        "low": np.minimum(open_, close) / wick,
        "close": close,
        "volume": np.ones(len(close)),
    }
    step = interval_ms(interval)
    ts = 1_600_000_000_000 // DAY_MS * DAY_MS + step * np.arange(len(close), dtype="int64")
    return make_frame(ts, cols, coin=coin, quote="usd", interval=interval, source="synthetic")


def simulate_gjr(n, omega, alpha, gamma, beta, nu, seed=0, burn=500):
    """Returns (in percent) of a GJR-GARCH(1,1) with standardized t shocks; gamma=0: GARCH."""
    rng = np.random.default_rng(seed)
    z = rng.standard_t(nu, size=n + burn) * np.sqrt((nu - 2) / nu)
    s2 = omega / (1 - alpha - gamma / 2 - beta)
    r = np.empty(n + burn)
    for t in range(n + burn):
        r[t] = np.sqrt(s2) * z[t]
        s2 = omega + (alpha + gamma * (r[t] < 0)) * r[t] ** 2 + beta * s2
    return r[burn:]


TRUTH = {"omega": 0.05, "alpha[1]": 0.10, "beta[1]": 0.85, "nu": 6.0}


@pytest.fixture(scope="module")
def garch_returns() -> np.ndarray:
    """4000 daily log returns of a known GARCH(1,1)-t (unscaled: about 1.5 % a day)."""
    t = TRUTH
    return simulate_gjr(4000, t["omega"], t["alpha[1]"], 0.0, t["beta[1]"], t["nu"]) / 100


# --- EWMA and HistVol -----------------------------------------------------------------------


def test_ewma_matches_a_loop():
    r = np.random.default_rng(1).normal(0, 0.02, 400)
    lam = 0.9
    s2 = np.mean(r[:30] ** 2)
    z = []
    for x in r:
        z.append(x / np.sqrt(s2))
        s2 = lam * s2 + (1 - lam) * x**2
    m = EWMA(lam).fit(frame_from_returns(r))
    f = m.predict(5)
    assert np.allclose(f["variance"], s2, rtol=1e-12)
    assert (f["mean"] == 0.0).all()
    assert isinstance(m.innovation, Empirical)
    assert np.allclose(m.innovation.z, np.sort(z))


def test_histvol_matches_numpy():
    r = np.random.default_rng(2).normal(0, 0.03, 200)
    m = HistVol(window=20).fit(frame_from_returns(r))
    assert np.allclose(m.predict(3)["variance"], np.mean(r[-20:] ** 2))
    z = [r[t] / np.sqrt(np.mean(r[t - 20 : t] ** 2)) for t in range(20, len(r))]
    assert np.allclose(m.innovation.z, np.sort(z))


def test_predict_frame_shape_index_and_attrs():
    f = synthetic_candles(300)
    out = EWMA().fit(f).predict(4)
    assert list(out.columns) == ["variance", "mean"]
    assert out.index.equals(future_index(f.index[-1], "1d", 4))
    assert out.attrs["last_ts"] == f.index[-1]
    assert out.attrs["measure"] == "squared-returns" and out.attrs["coin"] == f.attrs["coin"]


def test_flat_prices_give_the_floor_not_zero():
    f = frame_from_returns(np.r_[np.full(60, 0.0), 0.01, -0.01])
    for m in (EWMA(), HistVol(window=30)):
        assert (m.fit(f).predict(2)["variance"] >= variance_floor("1d")).all()


# --- GARCH and GJR --------------------------------------------------------------------------


def test_garch_recovers_simulated_parameters(garch_returns):
    m = GARCH().fit(frame_from_returns(garch_returns))
    p = m.params
    assert p["alpha[1]"] == pytest.approx(TRUTH["alpha[1]"], abs=0.04)
    assert p["beta[1]"] == pytest.approx(TRUTH["beta[1]"], abs=0.05)
    assert p["alpha[1]"] + p["beta[1]"] == pytest.approx(0.95, abs=0.02)
    assert p["omega"] == pytest.approx(TRUTH["omega"], rel=0.5)
    assert p["nu"] == pytest.approx(TRUTH["nu"], abs=2.0)
    assert isinstance(m.innovation, StudentT) and m.innovation.nu == p["nu"]
    assert m.converged and m.notes == []


def test_garch_multi_step_forecast_is_the_closed_form(garch_returns):
    r = garch_returns[:2000]
    m = GARCH().fit(frame_from_returns(r))
    omega, alpha, beta = (m.params[k] for k in ("omega", "alpha[1]", "beta[1]"))
    assert m.scale == 100  # returns of about 1.5 % go into arch in percent
    s2_last = m.result.conditional_volatility[-1] ** 2  # of the last return, in percent^2
    one = omega + alpha * (100 * r[-1]) ** 2 + beta * s2_last
    k = np.arange(1, 11)
    closed = np.array([omega * sum((alpha + beta) ** j for j in range(i - 1)) for i in k])
    closed = closed + (alpha + beta) ** (k - 1) * one
    assert np.allclose(m.predict(10)["variance"] * 100**2, closed, rtol=1e-8)


def test_gjr_recovers_gamma():
    r = simulate_gjr(4000, 0.05, 0.03, 0.12, 0.87, 6.0, seed=5) / 100
    m = GJR().fit(frame_from_returns(r))
    assert m.params["gamma[1]"] == pytest.approx(0.12, abs=0.05)
    assert m.params["alpha[1]"] == pytest.approx(0.03, abs=0.04)
    assert m.params["beta[1]"] == pytest.approx(0.87, abs=0.05)
    # a GARCH fit of the same data sees no asymmetry: GJR is not a GARCH under another name
    assert "gamma[1]" not in GARCH().fit(frame_from_returns(r)).params


def test_update_filters_with_the_fitted_parameters(garch_returns, monkeypatch):
    r = garch_returns[:1500]
    frame = frame_from_returns(r)
    n, k = 1200, 25
    m = GARCH().fit(frame.iloc[:n])
    params = m.params.copy()

    def no_fit(*args, **kwargs):
        raise AssertionError("update re-estimated")

    monkeypatch.setattr(volatility, "fit_garch", no_fit)
    got = m.update(frame.iloc[: n + k]).predict(5)
    monkeypatch.undo()
    assert m.params.equals(params)
    am = arch_model(100 * r[: n + k - 1], mean="Zero", vol="GARCH", p=1, q=1, dist="t")
    want = am.fix(params).forecast(horizon=5, reindex=False).variance.to_numpy()[-1] / 100**2
    assert np.allclose(got["variance"], want, rtol=1e-10)
    assert got.attrs["last_ts"] == frame.index[n + k - 1]
    refit = GARCH().fit(frame.iloc[: n + k]).predict(5)
    assert not np.allclose(refit["variance"], got["variance"], rtol=1e-6)


def test_garch_constant_mean_predicts_the_mean(garch_returns):
    r = garch_returns[:1500] + 0.002
    m = GARCH(mean="constant").fit(frame_from_returns(r))
    f = m.predict(3)
    assert np.allclose(f["mean"], m.params["mu"] / 100)
    assert f["mean"].iloc[0] == pytest.approx(0.002, abs=0.001)


def test_garch_fit_is_quiet_on_badly_scaled_returns(recwarn):
    r = np.random.default_rng(0).normal(0, 1e-5, 500)  # arch would warn about the scale
    GARCH().fit(frame_from_returns(r))
    assert [str(w.message) for w in recwarn] == []


def test_garch_is_scale_free(garch_returns):
    """Returns of minute bars (0.001 %) go in scaled up and give the same fit, scaled down."""
    daily = frame_from_returns(garch_returns[:1500])
    minute = frame_from_returns(garch_returns[:1500] / 1000, "1m")
    a, b = GARCH().fit(daily), GARCH().fit(minute)
    assert a.scale == 100 and 1 <= b.scale * np.std(garch_returns[:1500] / 1000) < 10
    for k in ("alpha[1]", "beta[1]"):
        assert b.params[k] == pytest.approx(a.params[k], abs=0.01)
    assert np.allclose(a.predict(3)["variance"], 1000**2 * b.predict(3)["variance"], rtol=0.02)


def test_garch_on_returns_that_never_move_fails_in_one_line():
    frame = frame_from_returns(np.zeros(300), coin="tether")
    with pytest.raises(CoincastError, match=r"garch did not converge on tether/usd 1d") as info:
        GARCH().fit(frame)
    assert "\n" not in str(info.value) and "try more history" in str(info.value)


def test_failed_fresh_fit_names_coin_and_cutoff(garch_returns, monkeypatch):
    monkeypatch.setattr(volatility, "fit_garch", lambda *a, **k: (None, ["ConvergenceWarning: x"]))
    frame = frame_from_returns(garch_returns[:500], coin="dogecoin")
    with pytest.raises(CoincastError, match=r"garch did not converge on dogecoin/usd 1d .* up to"):
        GARCH().fit(frame)


def test_failed_refit_keeps_the_earlier_parameters(garch_returns, monkeypatch):
    frame = frame_from_returns(garch_returns[:800])
    m = GARCH().fit(frame.iloc[:600])
    before = m.params.copy()
    monkeypatch.setattr(volatility, "fit_garch", lambda *a, **k: (None, ["ConvergenceWarning: x"]))
    m.fit(frame)
    assert not m.converged and m.notes == ["ConvergenceWarning: x"]
    assert m.params.equals(before)
    monkeypatch.undo()
    same = GARCH().fit(frame.iloc[:600]).update(frame)
    assert np.allclose(m.predict(3)["variance"], same.predict(3)["variance"])


# --- HAR ------------------------------------------------------------------------------------


def test_har_coefficients_equal_statsmodels_ols():
    f = synthetic_candles(800, seed=3)
    m = HAR().fit(f)
    rv = pd.Series(choose_measure(f).values)
    x = pd.DataFrame({k: rv.rolling(k).mean() for k in (1, 7, 30)}).iloc[:-1]
    y = rv.shift(-1).iloc[:-1]
    ok = x.notna().all(axis=1) & y.notna()
    ols = sm.OLS(y[ok].to_numpy(), sm.add_constant(x[ok].to_numpy())).fit()
    assert np.allclose(m.coef, ols.params, rtol=1e-8, atol=1e-12)
    assert m.measure == "garman-klass"


def test_har_iterates_the_recursion_over_the_horizon():
    f = synthetic_candles(400, seed=4)
    m = HAR(spans=(1, 5, 20)).fit(f)
    hist = list(choose_measure(f).values[-20:])
    want = []
    for _ in range(4):
        x = [1.0, hist[-1], np.mean(hist[-5:]), np.mean(hist[-20:])]
        want.append(float(np.dot(m.coef, x)))
        hist.append(want[-1])
    assert np.allclose(m.predict(4)["variance"], want)
    assert m.predict(4).attrs["measure"] == "garman-klass"


def test_har_uses_an_rv_column_and_floors_forecasts():
    f = synthetic_candles(300, seed=1)
    f["rv"] = choose_measure(f, method="parkinson").values
    m = HAR().fit(f)
    assert m.measure == "realized"
    m.coef = np.array([-1.0, 0.0, 0.0, 0.0])  # a regression gone wrong
    assert (m.predict(3)["variance"] == variance_floor("1d")).all()


def test_har_update_keeps_coefficients():
    f = synthetic_candles(500, seed=2)
    m = HAR().fit(f.iloc[:400])
    coef = m.coef.copy()
    m.update(f)
    assert np.array_equal(m.coef, coef)
    assert np.allclose(
        m.predict(2)["variance"], HAR().fit(f.iloc[:400]).update(f).predict(2)["variance"]
    )
    assert not np.allclose(m.predict(1)["variance"], HAR().fit(f).predict(1)["variance"])


def test_har_innovation_divides_returns_by_fitted_volatility():
    f = synthetic_candles(300, seed=6)
    m = HAR().fit(f)
    rv = choose_measure(f).values
    r = np.diff(np.log(f["close"].to_numpy()))
    fitted = [
        m.coef @ [1, rv[t], rv[t - 6 : t + 1].mean(), rv[t - 29 : t + 1].mean()]
        for t in range(29, 299)
    ]
    assert np.allclose(m.innovation.z, np.sort(r[29:] / np.sqrt(np.maximum(fitted, 1e-8))))


# --- every model: interface, no look-ahead, errors ------------------------------------------


@pytest.mark.parametrize("name", list(VOL_MODELS))
def test_no_look_ahead(name, garch_returns):
    frame = frame_from_returns(garch_returns[:700])
    poisoned = frame.copy()
    poisoned.iloc[600:, :4] *= np.exp(
        np.random.default_rng(0).normal(0, 0.5, (len(frame) - 600, 1))
    )
    clean = make_vol_model(name).fit(frame.iloc[:500]).update(frame.iloc[:600]).predict(3)
    dirty = make_vol_model(name).fit(poisoned.iloc[:500]).update(poisoned.iloc[:600]).predict(3)
    pd.testing.assert_frame_equal(clean, dirty)
    assert clean.index[0] > frame.index[599] and (clean["variance"] > 0).all()
    assert isinstance(make_vol_model(name), VolModel)


def test_garch_beats_histvol_on_garch_data(garch_returns):
    """Walk forward over 300 cutoffs: GARCH (refit every 50, filtered between) forecasts the
    next squared return better, by mean QLIKE, than the 30-bar historical variance."""
    r = garch_returns[:1300]
    frame = frame_from_returns(r)
    garch, loss = GARCH(), {"garch": [], "histvol": []}
    for i, cutoff in enumerate(range(1000, 1300)):
        train = frame.iloc[: cutoff + 1]  # rows 0..cutoff; the next return is r[cutoff]
        (garch.fit if i % 50 == 0 else garch.update)(train)
        rv = r[cutoff] ** 2
        for name, m in (("garch", garch), ("histvol", HistVol(30).fit(train))):
            h = m.predict(1)["variance"].iloc[0]
            loss[name].append(rv / h - np.log(rv / h) - 1)
    assert np.mean(loss["garch"]) < np.mean(loss["histvol"])


def test_bad_input_messages():
    f = synthetic_candles(60)
    with pytest.raises(CoincastError, match=r"horizon \(0\) must be a whole number >= 1"):
        EWMA().fit(f).predict(0)
    with pytest.raises(CoincastError, match="not fitted yet: call fit"):
        GARCH().predict(1)
    with pytest.raises(CoincastError, match=r"needs at least 100 rows; .* has 60"):
        GARCH().fit(f)
    with pytest.raises(CoincastError, match=r"needs at least 80 rows; .* has 60"):
        HAR().fit(f)
    with pytest.raises(CoincastError, match=r"lam \(1.5\) must lie strictly between 0 and 1"):
        EWMA(1.5)
    with pytest.raises(CoincastError, match=r"window \(0\) must be a whole number"):
        HistVol(0)
    with pytest.raises(IntervalError, match="update got 1h bars"):
        HAR().fit(synthetic_candles(200)).update(synthetic_candles(200, "1h"))


def test_make_vol_model_names():
    assert type(make_vol_model("gjr")) is GJR
    assert make_vol_model("ewma", lam=0.97, alias="ewma-97").name == "ewma-97"
    with pytest.raises(
        CoincastError, match=r"unknown volatility model 'garhc'; did you mean 'garch'"
    ):
        make_vol_model("garhc")
    with pytest.raises(CoincastError, match=r"ewma, histvol, garch, gjr, har"):
        make_vol_model("lstm")
    with pytest.raises(CoincastError, match=r"volatility model 'histvol': .*lam"):
        make_vol_model("histvol", lam=0.9)


def test_models_make_no_warnings():
    f = synthetic_candles(400)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for name in VOL_MODELS:
            make_vol_model(name).fit(f.iloc[:300]).update(f).predict(2)
