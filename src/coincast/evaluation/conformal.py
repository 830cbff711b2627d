"""Calibrated bands for any model: adaptive conformal inference on a backtest table.

:func:`conformalize` replaces a backtest table's ``lo``/``hi`` by a conformal band, for every
``(coin, model, step)`` group on its own, from nothing but the table's own past errors, so a
naive forecast gets one as much as the LSTM.

The rule, leakage-free by construction. A group's rows are taken in cutoff order; the band
issued at cutoff ``c`` may use only the rows that have *matured* by then, those whose target
bar ``ts <= c`` (a step-3 forecast made at cutoff ``c`` matures at ``ts = c + 3`` bars). Each
matured row gives a scale-free score ``s = |log(y / yhat)|``; the band is
``yhat * exp(-/+ q)``, ``q`` the finite-sample corrected ``1 - alpha_t`` quantile of the
matured scores (as in split conformal: the ``ceil((n + 1) (1 - alpha_t))``-th smallest of the
``n`` scores). ``alpha_t`` is adaptive conformal inference's level (Gibbs & Candès 2021): once
per matured row that had a band, ``alpha_t <- alpha_t + gamma (alpha - err)``, ``err = 1`` if
that row's ``y`` fell outside the band issued for it. A miss narrows the level (widens the
band), a hit widens it, so the share of misses is pulled to ``alpha`` whatever the data do.

Edge cases:

* fewer than ``warmup`` matured scores: ``lo`` and ``hi`` are NaN, no band yet; such rows
  are not scored (:func:`covered` and :func:`coverage_over_time` skip them);
* ``alpha_t <= 0``, or the corrected rank beyond the ``n`` scores: an infinite band,
  ``lo = 0``, ``hi = inf`` (every positive price is inside, and ``lo <= y <= hi`` counts it
  as covered);
* ``alpha_t >= 1``: a zero-width band ``lo = hi = yhat``.

``gamma`` may be one step size (ACI) or several: then the level is the DtACI aggregate
(Gibbs & Candès 2022, "Conformal inference for online prediction with arbitrary distribution
shifts"): one ACI expert per ``gamma``, weighted by exponential weights on the pinball loss
of their levels, with a share ``sigma`` of weight spread back evenly so that a good expert
regains weight fast after a change.

Volatility (``scale``, on by default). Crypto's volatility moves more than any one level
can follow, so by default each score is divided by the forecast's recent volatility, known at
its cutoff: the root of an exponentially weighted mean (span ``scale`` = 20 cutoffs) of the
squared one-bar log changes of the table's ``last`` (the close at each cutoff), and the band's
``q`` is multiplied back by it (locally weighted conformal, Lei et al. 2018). ``scale=None``
gives the plain score ``|log(y / yhat)|``.

The defaults, by measurement. Walk-forward tables of the naive forecast, 365 test bars, steps
1 to 7, rows with a band: (a) 8 random walks whose volatility goes from 1 % to 4 % a day at
the middle of the test, (b) the daily closes of the 12 non-stable coins of
``../shared/data/yahoo/daily`` (last 365 bars to 2025-02-11). Coverage of the 90 % band, the
range over series (overall, first half, and below them the second half) and the share of
infinite bands:

========================  =================  =================  ==========
rule                      (a) all; h1; h2    (b) all; h1; h2    inf (a; b)
========================  =================  =================  ==========
naive's own band (fixed)  .70-.78 .86-.95    .84-.91 .80-.91    0; 0
                          .55-.64            .81-.94
ACI .005, no scale        .85-.87 .88-.92    .87-.92 .88-.96    1 %; 0
                          .81-.85            .85-.93
ACI .01, no scale         .88-.89 .89-.92    .89-.91 .88-.94    6 %; .4 %
                          .85-.87            .86-.92
ACI .03, no scale         .89-.90 .89-.91    .89-.91 .88-.91    20 %; 7 %
                          .88-.90            .89-.93
DtACI 8 gammas, no scale  .87-.89 .89-.92    .87-.91 .87-.92    9 %; 1 %
                          .85-.88            .86-.92
ACI .005, scale 20        .89-.91 .90-.92    .89-.91 .89-.93    0; 0
                          .87-.90            .88-.92
**ACI .01, scale 20**     .89-.90 .89-.92    .90-.91 .88-.92    0.1 %; 0.1 %
                          .89-.91            .88-.92
ACI .02, scale 20         .90-.90 .89-.91    .90-.90 .88-.90    3 %; 1.5 %
                          .89-.91            .89-.92
========================  =================  =================  ==========

Without the scale, a gamma large enough to follow the break (.03 and up) reaches 90 % by
issuing infinite bands (a fifth of the rows after the break), and DtACI's aggregate is no
better than its middle expert here; with it, gamma = 0.01 keeps every series and every half
within 87-93 % (exactly: (a) .894-.903 overall, .894-.918 and .885-.907 by half; (b)
.895-.906, .884-.922 and .884-.920) with almost no infinite band, while still reacting to a
run of misses within about ten rows. Speed: 25-45 ms for a 365-cutoff, 7-step table
(about 0.1 ms per cutoff; DtACI twice that).
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..errors import CoincastError

#: The step size of ACI's level, by measurement (module docstring).
DEFAULT_GAMMA = 0.01
#: Matured scores needed before the first band: with 19 scores the 90 % band is the
#: 18th smallest (ceil(20 * 0.9)); fewer give a band that is mostly noise.
DEFAULT_WARMUP = 20
#: The step sizes of DtACI's experts (Gibbs & Candès 2022, section 4).
DTACI_GAMMAS = (0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128)
#: The span (cutoffs) of the recent volatility the scores are divided by (module docstring).
DEFAULT_SCALE = 20
_KEYS = ("coin", "model", "step")


def conformal_quantile(sorted_scores: Sequence[float], alpha_t: float) -> float:
    """The ``1 - alpha_t`` split-conformal quantile of ``sorted_scores`` (ascending): the
    ``ceil((n + 1) (1 - alpha_t))``-th smallest; ``inf`` when that rank passes ``n`` (or
    ``alpha_t <= 0``), 0 when ``alpha_t >= 1``.

    Examples
    --------
    >>> s = [0.1 * k for k in range(1, 20)]  # 19 scores
    >>> round(conformal_quantile(s, 0.1), 3), conformal_quantile(s, 0.0), conformal_quantile(s, 1.0)
    (1.8, inf, 0.0)
    >>> conformal_quantile(s[:8], 0.1)  # 8 scores cannot make a 90 % band
    inf
    """
    n = len(sorted_scores)
    if alpha_t >= 1:
        return 0.0
    if alpha_t <= 0:
        return math.inf
    k = math.ceil((n + 1) * (1 - alpha_t) - 1e-9)  # 1e-9: 10 * 0.9 is rank 9, not 10
    if k > n:
        return math.inf
    return 0.0 if k < 1 else float(sorted_scores[k - 1])


def aci(
    scores,
    cutoffs,
    ts,
    *,
    alpha: float = 0.1,
    gamma: float | Sequence[float] = DEFAULT_GAMMA,
    warmup: int = DEFAULT_WARMUP,
    window: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The conformal half-width ``q`` (in log units) and level ``alpha_t`` of each row of
    one group, rows in cutoff order (see the module docstring for the rule).

    ``scores[i]`` is row ``i``'s ``|log(y / yhat)|``, used only once the row has matured
    (``ts[i] <= cutoffs[j]`` for the band of row ``j``). ``cutoffs`` and ``ts`` may be any
    comparable values (timestamps, bar numbers). ``window``: only the last ``window`` matured
    scores calibrate (None: all of them). ``q`` is NaN (and ``alpha_t`` NaN) before
    ``warmup`` scores have matured.

    Examples
    --------
    Step-1 rows at cutoffs 0..4 (targets 1..5), a band from 2 matured scores on, ACI with
    ``gamma = 0.1``: at cutoff 2 the scores of targets 1 and 2 have matured.

    >>> q, a = aci([0.1, 0.2, 0.3, 0.4, 0.5], [0, 1, 2, 3, 4], [1, 2, 3, 4, 5],
    ...            alpha=0.5, gamma=0.1, warmup=2)
    >>> q.tolist(), np.round(a, 2).tolist()
    ([nan, nan, 0.2, 0.3, 0.3], [nan, nan, 0.5, 0.45, 0.4])
    """
    s = np.asarray(scores, dtype="float64")
    n = len(s)
    _check_level("alpha", alpha)
    gammas = _gammas(gamma)
    if not isinstance(warmup, int | np.integer) or warmup < 1:
        raise CoincastError(f"warmup must be an integer >= 1, got {warmup!r}")
    if window is not None and (not isinstance(window, int | np.integer) or window < warmup):
        raise CoincastError(
            f"window must be None or an integer >= warmup ({warmup}), got {window!r}"
        )
    if len(cutoffs) != n or len(ts) != n:
        raise CoincastError(
            "scores, cutoffs and ts must have one value per row, "
            f"got {n}, {len(cutoffs)}, {len(ts)}"
        )
    if not (np.isfinite(s) & (s >= 0)).all():
        raise CoincastError("scores must be finite and >= 0; check y and yhat (both > 0)")
    cut, tgt = _codes(cutoffs, ts)
    if n and (np.diff(cut) < 0).any():
        raise CoincastError("cutoffs must be in increasing order; sort the group's rows by cutoff")
    if (tgt <= cut).any():
        raise CoincastError("every ts must be after its cutoff; a forecast targets a later bar")
    level = _Level(alpha, gammas)
    order = np.argsort(tgt, kind="stable")  # maturity order
    q = np.full(n, np.nan)
    at = np.full(n, np.nan)
    beta = np.full(n, np.nan)  # the largest level whose band covers row i (DtACI's beta_t)
    issued: list[np.ndarray | None] = [None] * n  # the experts' levels at issue
    cal: list[float] = []  # matured scores, ascending
    recent: deque[float] = deque()  # matured scores, in maturity order (for window=)
    p = 0
    for i in range(n):
        while p < n and tgt[order[p]] <= cut[i]:
            j = int(order[p])
            p += 1
            if not math.isnan(q[j]):
                level.update(s[j] > q[j], beta[j], issued[j])
            bisect.insort(cal, s[j])
            recent.append(s[j])
            if window is not None and len(recent) > window:
                del cal[bisect.bisect_left(cal, recent.popleft())]
        if len(cal) < warmup:
            continue
        at[i] = level.alpha
        q[i] = conformal_quantile(cal, at[i])
        beta[i] = 1 - bisect.bisect_left(cal, s[i]) / (len(cal) + 1)
        issued[i] = level.experts.copy()
    return q, at


class _Level:
    """The level ``alpha_t``: one ACI expert, or DtACI's weighted experts."""

    def __init__(self, alpha: float, gammas: np.ndarray, interval: int = 100) -> None:
        self.target = alpha
        self.gammas = gammas
        k = len(gammas)
        self.experts = np.full(k, alpha)
        self.weights = np.full(k, 1 / k)
        # Gibbs & Candès (2022), section 3: sigma and eta for an interval of length I.
        self.sigma = 1 / (2 * interval)
        spread = (1 - alpha) ** 2 * alpha**3 + alpha**2 * (1 - alpha) ** 3
        self.eta = math.sqrt(3 / interval) * math.sqrt((math.log(k * interval) + 2) / spread)

    @property
    def alpha(self) -> float:
        return float(self.experts @ self.weights)

    def update(self, missed: bool, beta: float, issued: np.ndarray | None) -> None:
        """One matured row: its miss (at the aggregate level), the largest level that would
        have covered it, and each expert's level when its band was issued."""
        if len(self.gammas) == 1:
            self.experts += self.gammas * (self.target - float(missed))
            return
        d = beta - issued
        loss = self.target * d - np.minimum(0.0, d)  # pinball loss of each expert's level
        w = self.weights * np.exp(-self.eta * (loss - loss.min()))
        w /= w.sum()
        self.weights = (1 - self.sigma) * w + self.sigma / len(w)
        self.experts += self.gammas * (self.target - (issued >= beta).astype("float64"))


def conformalize(
    table: pd.DataFrame,
    *,
    alpha: float = 0.1,
    gamma: float | Sequence[float] = DEFAULT_GAMMA,
    warmup: int = DEFAULT_WARMUP,
    window: int | None = None,
    scale: int | None = DEFAULT_SCALE,
) -> pd.DataFrame:
    """``table`` (a backtest table, :mod:`coincast.evaluation.backtest`) with ``lo``/``hi``
    replaced by the ``1 - alpha`` adaptive conformal band and ``dist`` set to
    ``"conformal"``, each ``(coin, model, step)`` group calibrated on its own matured rows
    (rule and edge cases: the module docstring; ``gamma``, ``warmup``, ``window``:
    :func:`aci`). ``scale``: the span of the recent volatility each score is divided by
    (the table's ``last`` column, see the module docstring); None for the plain score.
    Row order and index are kept.

    Examples
    --------
    >>> from coincast.data.sources import random_walk
    >>> from coincast.evaluation.backtest import WalkForward, walk_forward
    >>> from coincast.models.baselines import Naive
    >>> t = walk_forward([Naive()], random_walk(400, seed=1), WalkForward(test=200))
    >>> c = conformalize(t)
    >>> int(c["lo"].isna().sum()), c["dist"].unique().tolist()  # 20 rows wait for a band
    (20, ['conformal'])
    >>> round(float(covered(c).mean()), 2)
    0.91
    """
    need = ("model", "cutoff", "ts", "step", "y", "yhat") + (("last",) if scale else ())
    if scale is not None and (not isinstance(scale, int | np.integer) or scale < 2):
        raise CoincastError(f"scale must be None or an integer >= 2 (cutoffs), got {scale!r}")
    if missing := [c for c in need if c not in table.columns]:
        raise CoincastError(
            f"the table lacks column(s) {', '.join(missing)}; pass walk_forward's table"
        )
    y, yhat = table["y"].to_numpy("float64"), table["yhat"].to_numpy("float64")
    if not (np.isfinite(y) & np.isfinite(yhat) & (y > 0) & (yhat > 0)).all():
        raise CoincastError(
            "y and yhat must be finite and > 0 for a conformal band (scores are |log(y / yhat)|)"
        )
    out = table.copy()
    lo, hi = np.full(len(out), np.nan), np.full(len(out), np.nan)
    score = np.abs(np.log(y / yhat))
    vol = np.ones(len(out))
    last = out["last"].to_numpy("float64") if scale is not None else vol
    if not (np.isfinite(last) & (last > 0)).all():
        raise CoincastError("last must be finite and > 0 to scale the scores; or pass scale=None")
    keys = [k for k in _KEYS if k in out.columns]
    cutoff, ts = _ordinal(out["cutoff"]), _ordinal(out["ts"])
    pos = np.arange(len(out))
    for _, g in pd.Series(pos).groupby([out[k].to_numpy() for k in keys], sort=False):
        rows = g.to_numpy()
        rows = rows[np.argsort(cutoff[rows], kind="stable")]
        if scale is not None:
            vol[rows] = _recent_vol(last[rows], scale)
        q, _ = aci(
            score[rows] / vol[rows],
            cutoff[rows],
            ts[rows],
            alpha=alpha,
            gamma=gamma,
            warmup=warmup,
            window=window,
        )
        with np.errstate(over="ignore"):  # a band beyond float range is an infinite one
            q = q * vol[rows]
            lo[rows], hi[rows] = yhat[rows] * np.exp(-q), yhat[rows] * np.exp(q)
    out["lo"], out["hi"], out["dist"] = lo, hi, "conformal"
    return out


def covered(table: pd.DataFrame) -> pd.Series:
    """Whether each row with a band has ``lo <= y <= hi`` (1.0 or 0.0); rows without a band
    (``lo`` or ``hi`` NaN) are left out. An infinite band counts as covered.

    Examples
    --------
    >>> t = pd.DataFrame({"y": [1.0, 5.0, 2.0], "lo": [0.0, 0.0, np.nan],
    ...                   "hi": [2.0, 2.0, np.nan]})
    >>> covered(t).tolist()
    [1.0, 0.0]
    """
    lo, hi = table["lo"].astype("float64"), table["hi"].astype("float64")
    ok = lo.notna() & hi.notna()
    y = table["y"].astype("float64")[ok]
    return ((lo[ok] <= y) & (y <= hi[ok])).astype("float64")


def coverage_over_time(table: pd.DataFrame, window: int = 30) -> pd.DataFrame:
    """Rolling share covered per model: for each model and target bar ``ts``, the share of
    its rows with a band (all steps) whose ``y`` lay in ``[lo, hi]``, over the last
    ``window`` bars that had one. Columns ``model, ts, n, coverage``; rows without a band are
    skipped; the first ``window - 1`` bars of each model have NaN coverage.

    Examples
    --------
    >>> t = pd.DataFrame({"model": "m", "ts": [1, 2, 3, 4], "y": [1.0, 1.0, 5.0, 1.0],
    ...                   "lo": [0.0, np.nan, 0.0, 0.0], "hi": [2.0, np.nan, 2.0, 2.0]})
    >>> coverage_over_time(t, window=2)["coverage"].tolist()
    [nan, 0.5, 0.5]
    """
    if not isinstance(window, int | np.integer) or window < 1:
        raise CoincastError(f"window must be an integer >= 1, got {window!r}")
    hit = covered(table)
    rows = table.loc[hit.index, ["model", "ts"]].assign(hit=hit.to_numpy())
    parts = []
    for model, g in rows.groupby("model", sort=False):
        per = g.groupby("ts")["hit"].agg(["sum", "count"]).sort_index()
        s = per["sum"].rolling(window, min_periods=window).sum()
        c = per["count"].rolling(window, min_periods=window).sum()
        parts.append(
            pd.DataFrame(
                {"model": model, "ts": per.index, "n": c.to_numpy(), "coverage": (s / c).to_numpy()}
            )
        )
    if not parts:
        return pd.DataFrame(columns=["model", "ts", "n", "coverage"])
    return pd.concat(parts, ignore_index=True)


def _recent_vol(last: np.ndarray, span: int) -> np.ndarray:
    """RMS of the one-bar log changes of ``last`` over the last ``span`` cutoffs, at each
    cutoff (known at it); the first cutoffs take the first change's magnitude."""
    r = np.diff(np.log(last), prepend=np.nan)
    ms = pd.Series(r**2).ewm(span=span, min_periods=1).mean().to_numpy()
    ms = pd.Series(ms).bfill().to_numpy()
    ms = np.where(np.isfinite(ms) & (ms > 0), ms, 1.0)
    return np.sqrt(ms)


def _check_level(name: str, value: float) -> None:
    if not (isinstance(value, int | float | np.floating) and 0 < value < 1):
        raise CoincastError(f"{name} must be a number in (0, 1), got {value!r}")


def _gammas(gamma: float | Sequence[float]) -> np.ndarray:
    g = np.atleast_1d(np.asarray(gamma, dtype="float64")) if _numeric(gamma) else None
    if g is None or g.ndim != 1 or not len(g) or not (np.isfinite(g) & (g > 0)).all():
        raise CoincastError(f"gamma must be a number > 0 or a list of them, got {gamma!r}")
    return g


def _numeric(value: object) -> bool:
    try:
        np.asarray(value, dtype="float64")
    except (TypeError, ValueError):
        return False
    return True


def _ordinal(column: pd.Series) -> np.ndarray:
    """Timestamps as int64 nanoseconds (fast to compare); other values as they are."""
    if isinstance(column.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(column):
        return pd.DatetimeIndex(column).asi8
    return column.to_numpy()


def _codes(cutoffs, ts) -> tuple[np.ndarray, np.ndarray]:
    """Cutoffs and targets as integer ranks on one common order (any comparable values)."""
    cutoffs, ts = np.asarray(cutoffs), np.asarray(ts)
    if cutoffs.dtype.kind in "iuf" and ts.dtype.kind in "iuf":
        return cutoffs, ts
    codes, _ = pd.factorize(pd.Index(list(cutoffs) + list(ts)), sort=True)
    n = len(cutoffs)
    return codes[:n], codes[n:]
