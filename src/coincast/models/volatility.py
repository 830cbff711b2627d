"""Volatility baselines: forecasts of the variance of each future bar's log return.

Every model has the same interface, so one walk-forward loop scores them all (and the LSTM's
volatility head, through an adapter):

- ``fit(frame) -> self``: learn from a candle frame (the rows up to a cutoff); the models on
  returns use ``r_t = ln(C_t / C_{t-1})``, HAR the frame's realized measure (its ``rv``
  column, else :func:`~coincast.dataset.realized.choose_measure`);
- ``update(frame) -> self``: move to a longer frame (a later cutoff) without re-estimating:
  GARCH/GJR filter the new returns with the fitted parameters, HAR keeps its coefficients,
  EWMA and HistVol (nothing estimated) are the same as ``fit``;
- ``predict(horizon) -> DataFrame``: indexed by the ``horizon`` future bar starts
  (:func:`~coincast.series.future_index`), with ``variance`` (of that one bar's log return,
  not cumulative) and ``mean`` (of the log return; 0.0 but for GARCH with a constant mean);
  ``attrs`` hold the frame's attrs plus ``last_ts`` and ``measure`` (what was learned from);
- ``innovation``: the fitted distribution of ``(r - mean) / sigma``
  (:mod:`~coincast.models.innovations`), for VaR and ES with
  :func:`~coincast.models.innovations.var_es`;
- ``min_rows`` (rows ``fit`` needs) and ``name`` (the ``alias`` given, else the class's).

Forecast variances are never below :func:`~coincast.dataset.realized.variance_floor`.
A model sees only the rows it is given and keeps no reference to the frame.
"""

from __future__ import annotations

import difflib
import logging
from typing import Any, Literal, Self

import numpy as np
import pandas as pd
from scipy.signal import lfilter

from ..dataset.realized import HAR_SPANS, choose_measure, har_means, variance_floor
from ..errors import CoincastError, IntervalError
from ..series import describe, future_index
from .base import _closes, _need
from .garch import GarchSpec, choose_scale, filter_garch, fit_garch, forecast_garch
from .innovations import Empirical, Innovation, Normal, StudentT

log = logging.getLogger(__name__)

GARCH_MIN_ROWS = 100  #: rows a GARCH fit needs (fewer give wild parameters)
HAR_MIN_FIT = 50  #: regression rows HAR needs beyond its longest span


class VolModel:
    """Shared plumbing: subclasses implement ``_fit(r, frame)`` and ``_forecast(horizon)``."""

    name = "vol"
    min_rows = 2  #: rows of history ``fit`` needs
    measure = "squared-returns"  #: what the model learns from (``predict``'s attrs)

    def __init__(self, *, alias: str | None = None) -> None:
        self.name = alias or type(self).name
        self.innovation: Innovation | None = None
        self._origin: tuple[dict[str, Any], pd.Timestamp] | None = None  # attrs, last ts
        self.floor = 0.0

    def fit(self, frame: pd.DataFrame) -> Self:
        """Learn from ``frame`` (a canonical candle frame). Returns ``self``."""
        self._origin = None  # a failed fit leaves the model unfitted
        r = self._returns(frame)
        self._fit(r, frame)
        self._origin = (dict(frame.attrs), frame.index[-1])
        return self

    def update(self, frame: pd.DataFrame) -> Self:
        """Forecast from the end of a longer ``frame``; for this model the same as ``fit``."""
        return self.fit(frame)

    def predict(self, horizon: int) -> pd.DataFrame:
        """The variance and mean of the log return of each of the next ``horizon`` bars."""
        attrs, last_ts = self._fitted()
        if isinstance(horizon, bool) or not isinstance(horizon, int | np.integer) or horizon < 1:
            raise CoincastError(f"horizon ({horizon!r}) must be a whole number >= 1")
        variance, mean = self._forecast(int(horizon))
        out = pd.DataFrame(
            {
                "variance": np.maximum(np.asarray(variance, dtype="float64"), self.floor),
                "mean": np.broadcast_to(np.asarray(mean, dtype="float64"), (horizon,)),
            },
            index=future_index(last_ts, attrs["interval"], int(horizon)),
        )
        out.attrs.update(attrs, last_ts=last_ts, measure=self.measure)
        return out

    def _returns(self, frame: pd.DataFrame) -> np.ndarray:
        close = _closes(frame)
        _need(self.min_rows, len(close), frame, f"the {self.name} volatility model")
        self.floor = variance_floor(frame.attrs["interval"])
        return np.diff(np.log(close))

    def _fitted(self) -> tuple[dict[str, Any], pd.Timestamp]:
        if self._origin is None:
            raise CoincastError(f"the {self.name} model is not fitted yet: call fit(frame) first")
        return self._origin

    def _same_interval(self, frame: pd.DataFrame) -> None:
        have, got = self._fitted()[0].get("interval"), frame.attrs.get("interval")
        if got != have:
            raise IntervalError(
                f"update got {got} bars, but the {self.name} model was fit on {have} bars; "
                "fit a new model for another interval"
            )

    def _fit(self, r: np.ndarray, frame: pd.DataFrame) -> None:
        raise NotImplementedError

    def _forecast(self, horizon: int) -> tuple[np.ndarray, np.ndarray | float]:
        raise NotImplementedError


def ewma_variances(r: np.ndarray, lam: float, init: int) -> np.ndarray:
    """RiskMetrics variances: ``s2[t]`` is the variance forecast of ``r[t]``, ``(n + 1,)``.

    ``s2[0]`` is the mean of the squared first ``init`` returns (a zero-mean sample variance),
    then ``s2[t+1] = lam s2[t] + (1 - lam) r[t]^2``; the last value forecasts the next bar.

    Examples
    --------
    >>> np.round(ewma_variances(np.array([0.1, 0.0]), 0.5, 2), 6).tolist()
    [0.005, 0.0075, 0.00375]
    """
    r2 = np.square(np.asarray(r, dtype="float64"))
    s0 = float(np.mean(r2[:init]))
    after = lfilter([1 - lam], [1, -lam], r2, zi=[lam * s0])[0]  # (n,): s2[1:]
    return np.r_[s0, after]


class EWMA(VolModel):
    """RiskMetrics: an exponentially weighted average of squared log returns, flat over ``h``.

    ``s2_{t+1} = lam s2_t + (1 - lam) r_t^2``, started at the mean squared return of the first
    ``init`` returns (:func:`ewma_variances`). Innovation: :class:`Empirical` of ``r_t / s_t``
    over every training return (filtered historical simulation: RiskMetrics assumes a
    normal, crypto's tails are heavier).

    Examples
    --------
    >>> from coincast.data.sources import random_walk
    >>> f = EWMA().fit(random_walk(200, sigma=0.02)).predict(3)
    >>> bool(f["variance"].nunique() == 1), bool(0.0002 < f["variance"].iloc[0] < 0.0008)
    (True, True)
    """

    name = "ewma"

    def __init__(self, lam: float = 0.94, *, init: int = 30, alias: str | None = None) -> None:
        super().__init__(alias=alias)
        if isinstance(lam, bool) or not isinstance(lam, int | float) or not 0 < lam < 1:
            raise CoincastError(f"EWMA lam ({lam!r}) must lie strictly between 0 and 1, e.g. 0.94")
        self.lam, self.init = float(lam), _whole("init", init)

    @property
    def min_rows(self) -> int:  # type: ignore[override]
        """``init + 1`` rows: ``init`` returns to start the recursion from."""
        return self.init + 1

    def _fit(self, r: np.ndarray, frame: pd.DataFrame) -> None:
        s2 = np.maximum(ewma_variances(r, self.lam, self.init), self.floor)
        self.variance = float(s2[-1])
        self.innovation = Empirical(r / np.sqrt(s2[:-1]))

    def _forecast(self, horizon: int) -> tuple[np.ndarray, float]:
        return np.full(horizon, self.variance), 0.0


class HistVol(VolModel):
    """Historical volatility: the mean squared log return of the last ``window``, flat.

    Innovation: :class:`Empirical` of ``r_t`` divided by the root mean square of the
    ``window`` returns before it, so ``window + 3`` rows are needed (at least 2 residuals).

    Examples
    --------
    >>> from coincast.data.sources import random_walk
    >>> f = random_walk(100)
    >>> r = np.diff(np.log(f["close"].to_numpy()))
    >>> bool(np.isclose(HistVol(30).fit(f).predict(1)["variance"].iloc[0], np.mean(r[-30:]**2)))
    True
    """

    name = "histvol"

    def __init__(self, window: int = 30, *, alias: str | None = None) -> None:
        super().__init__(alias=alias)
        self.window = _whole("window", window)

    @property
    def min_rows(self) -> int:  # type: ignore[override]
        """``window + 3`` rows: the window of returns, and 2 residuals after it."""
        return self.window + 3

    def _fit(self, r: np.ndarray, frame: pd.DataFrame) -> None:
        w = self.window
        rolling = np.convolve(np.square(r), np.ones(w) / w, mode="valid")  # rolling[i]: r[i:i+w]
        self.variance = float(max(rolling[-1], self.floor))
        self.innovation = Empirical(r[w:] / np.sqrt(np.maximum(rolling[:-1], self.floor)))

    def _forecast(self, horizon: int) -> tuple[np.ndarray, float]:
        return np.full(horizon, self.variance), 0.0


class GARCH(VolModel):
    """GARCH(p, q) by maximum likelihood with ``arch``, on scaled log returns.

    What is fitted: ``arch_model(scale * r, mean="Zero", vol="GARCH", p, o, q, dist="t")``,
    ``scale`` 100 (percent; more for minute bars, whose percent returns are too small for
    the optimizer: :func:`~coincast.models.garch.choose_scale`), chosen at ``fit`` and kept
    by ``update``; ``params`` are in those scaled units. ``mean="zero"`` is the default: a bar's
    mean return is small against its noise, and estimating it adds error without improving
    the variance; ``mean="constant"`` estimates ``mu`` (then ``predict``'s ``mean``).
    Multi-step variances are arch's analytic forecasts. Innovation: :class:`StudentT` with
    the fitted ``nu`` (arch's t is already standardized), or :class:`Normal` with
    ``dist="normal"``.

    ``update`` filters the longer frame's returns with the fitted ``params`` (arch's
    ``fix``): the variance follows the new returns, nothing is re-estimated. A refit of a
    fitted model starts the optimizer from its previous parameters (fewer iterations).

    A fit that does not converge: on a model fitted before (a refit in a backtest), the
    previous parameters are kept and filtered over the new frame (``converged`` is False,
    arch's messages in ``notes``); on a fresh model, a CoincastError names the series and
    the cutoff. arch's warnings are caught and kept in ``notes``, never printed.

    Examples
    --------
    >>> from coincast.data.sources import synthetic_candles
    >>> m = GARCH().fit(synthetic_candles(500))
    >>> list(m.params.index), m.predict(2).shape
    (['omega', 'alpha[1]', 'beta[1]', 'nu'], (2, 2))
    """

    name = "garch"
    min_rows = GARCH_MIN_ROWS
    o = 0  #: asymmetric lags (GJR: 1)

    def __init__(
        self,
        p: int = 1,
        q: int = 1,
        *,
        dist: Literal["t", "normal"] = "t",
        mean: Literal["zero", "constant"] = "zero",
        alias: str | None = None,
    ) -> None:
        super().__init__(alias=alias)
        if dist not in ("t", "normal"):
            raise CoincastError(f"GARCH dist ({dist!r}) must be 't' or 'normal'")
        if mean not in ("zero", "constant"):
            raise CoincastError(f"GARCH mean ({mean!r}) must be 'zero' or 'constant'")
        self.spec = GarchSpec(_whole("p", p), self.o, _whole("q", q), dist, mean)
        self.params: pd.Series | None = None  #: fitted parameters, in units of scale * r
        self.scale = 100.0  #: returns go into arch times this (see garch.choose_scale)
        self.result: Any = None  #: arch's results (fitted, or fixed after ``update``)
        self.converged = True  #: False when the last fit fell back to earlier parameters
        self.notes: list[str] = []  #: what arch warned about in the last fit

    def _fit(self, r: np.ndarray, frame: pd.DataFrame) -> None:
        scale = choose_scale(r)
        same = self.params is not None and scale == self.scale
        start = np.asarray(self.params) if same else None  # a refit starts where the last ended
        res, self.notes = fit_garch(r, self.spec, scale, starting_values=start)
        if res is None and self.params is None:
            why = self.notes[-1] if self.notes else "no message"
            raise CoincastError(
                f"{self.name} did not converge on {describe(frame)} up to {frame.index[-1]} "
                f"({why}); try more history, dist='normal', or the ewma model"
            )
        self.converged = res is not None
        if res is None:
            log.warning(
                "%s: refit failed on %s; kept the earlier parameters", self.name, describe(frame)
            )
            res = filter_garch(r, self.spec, self.params, self.scale)
        else:
            self.scale = scale
        self.result, self.params = res, res.params.copy()
        self.innovation = StudentT(self.params["nu"]) if self.spec.dist == "t" else Normal()

    def update(self, frame: pd.DataFrame) -> Self:
        """Filter the longer ``frame``'s returns with the fitted ``params`` (no re-estimation)."""
        self._same_interval(frame)
        r = self._returns(frame)
        self.result = filter_garch(r, self.spec, self.params, self.scale)
        self._origin = (dict(frame.attrs), frame.index[-1])
        return self

    def _forecast(self, horizon: int) -> tuple[np.ndarray, np.ndarray]:
        return forecast_garch(self.result, horizon, self.scale)


class GJR(GARCH):
    """GJR-GARCH (Glosten, Jagannathan & Runkle 1993): :class:`GARCH` with ``o=1``, a bigger
    response to falls (``gamma[1]``) than to rises of the same size.

    Examples
    --------
    >>> from coincast.data.sources import synthetic_candles
    >>> "gamma[1]" in GJR().fit(synthetic_candles(500)).params
    True
    """

    name = "gjr"
    o = 1


class HAR(VolModel):
    """Corsi's HAR-RV: the next bar's realized measure regressed on its short, medium and long
    averages (``spans``, default :data:`~coincast.dataset.realized.HAR_SPANS` of the interval:
    a day, a week and a month of daily bars).

    OLS (``numpy.linalg.lstsq``) of ``rv_{t+1}`` on ``[1, mean_short_t, mean_medium_t,
    mean_long_t]`` over the rows where all are known. Multi-step forecasts *iterate* the
    recursion: each forecast stands in for the bar's measure in the next step's averages (one
    set of coefficients for every step; the forecast tends to the fitted long-run mean).
    Forecasts are floored at :func:`~coincast.dataset.realized.variance_floor`. The measure
    is the frame's ``rv`` column when it has one, else ``choose_measure(frame)``; ``update``
    computes the same method on the longer frame and keeps the coefficients. Innovation:
    :class:`Empirical` of ``r_t / sqrt(fitted variance of bar t)``.

    Examples
    --------
    >>> from coincast.data.sources import synthetic_candles
    >>> m = HAR().fit(synthetic_candles(300))
    >>> m.coef.shape, m.measure
    ((4,), 'garman-klass')
    """

    name = "har"

    def __init__(self, spans: tuple[int, int, int] | None = None, *, alias: str | None = None):
        super().__init__(alias=alias)
        if spans is not None:
            spans = tuple(_whole("spans", s) for s in spans)  # type: ignore[assignment]
            if len(spans) != 3 or not spans[0] < spans[1] < spans[2]:
                raise CoincastError(f"HAR spans {spans!r} must be 3 increasing bar counts")
        self.spans = spans
        self.coef = np.full(4, np.nan)  #: constant, short, medium, long

    @property
    def min_rows(self) -> int:  # type: ignore[override]
        """The longest span plus :data:`HAR_MIN_FIT` rows (with the spans left to the
        interval, ``fit`` checks against the interval's spans)."""
        return (self.spans[2] if self.spans else 1) + HAR_MIN_FIT

    def _fit(self, r: np.ndarray, frame: pd.DataFrame) -> None:
        spans = self.spans or HAR_SPANS[frame.attrs["interval"]]
        _need(spans[2] + HAR_MIN_FIT, len(frame), frame, f"HAR with spans {spans}")
        m = choose_measure(frame)
        self.used_spans, self.measure = spans, m.method
        x = np.column_stack([np.ones(len(frame)), self._means(m.values, frame)])[:-1]
        y = m.values[1:]
        ok = np.isfinite(x).all(axis=1) & np.isfinite(y)
        _need(HAR_MIN_FIT, int(ok.sum()), frame, "HAR (rows with a known measure)")
        self.coef = np.linalg.lstsq(x[ok], y[ok], rcond=None)[0]
        fitted = np.maximum(x @ self.coef, self.floor)  # fitted[t]: variance of bar t + 1
        self.innovation = Empirical((r / np.sqrt(fitted))[ok])
        self._keep_tail(m.values, frame)

    def update(self, frame: pd.DataFrame) -> Self:
        """Move to the longer ``frame``'s measure with the same coefficients."""
        self._same_interval(frame)
        self._returns(frame)
        self._keep_tail(choose_measure(frame, method=self.measure).values, frame)  # type: ignore[arg-type]
        self._origin = (dict(frame.attrs), frame.index[-1])
        return self

    def _means(self, values: np.ndarray, frame: pd.DataFrame) -> np.ndarray:
        if self.spans is None:
            return har_means(values, frame.attrs["interval"])
        s = pd.Series(values)
        return np.column_stack([s.rolling(k, min_periods=k).mean() for k in self.spans])

    def _keep_tail(self, values: np.ndarray, frame: pd.DataFrame) -> None:
        tail = np.asarray(values[-self.used_spans[2] :], dtype="float64")
        if not np.isfinite(tail).all():
            raise CoincastError(
                f"HAR needs the measure of the last {len(tail)} bars of {describe(frame)}; "
                f"{int((~np.isfinite(tail)).sum())} are missing. Fill the finer bars or pass an "
                "rv column"
            )
        self.tail = tail

    def _forecast(self, horizon: int) -> tuple[np.ndarray, float]:
        history, out = list(self.tail), np.empty(horizon)
        for k in range(horizon):
            means = [np.mean(history[-s:]) for s in self.used_spans]
            out[k] = max(self.coef[0] + float(np.dot(self.coef[1:], means)), self.floor)
            history.append(out[k])
        return out, 0.0


def _whole(what: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise CoincastError(f"{what} ({value!r}) must be a whole number >= 1")
    return int(value)


VOL_MODELS: dict[str, type[VolModel]] = {c.name: c for c in (EWMA, HistVol, GARCH, GJR, HAR)}


def make_vol_model(name: str, **kwargs: Any) -> VolModel:
    """Build the volatility model called ``name`` (a key of :data:`VOL_MODELS`).

    Examples
    --------
    >>> make_vol_model("ewma", lam=0.97, alias="ewma-97").name
    'ewma-97'
    """
    if name not in VOL_MODELS:
        close = difflib.get_close_matches(str(name), VOL_MODELS, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise CoincastError(
            f"unknown volatility model {name!r}{hint} Use one of: {', '.join(VOL_MODELS)}"
        )
    try:
        return VOL_MODELS[name](**kwargs)
    except TypeError as exc:  # an option this model does not take
        raise CoincastError(f"volatility model {name!r}: {exc}") from None
