"""Several coins as one training set: inputs per coin (own features, then other coins' returns
at the same timestamps), a split in calendar time, per-coin scalers and stacked windows.

Everything here is per coin first and stacked last, so no coin's statistics reach another's
inputs: each coin's features and targets are standardised with its own training slice.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from ..errors import CoincastError, ShortHistoryError, worded
from ..intervals import interval_ms
from ..series import describe, from_ms, ms_from_index, utc, validate_candles
from .features import compute_features
from .realized import choose_measure, log_measure
from .windows import Scaler, Windows, need_rows, target_level, targets_at, window_ends

log = logging.getLogger(__name__)

Frames = pd.DataFrame | Mapping[str, pd.DataFrame]  #: one coin's candles, or several by coin id


@dataclass
class CoinInputs:
    """One coin's inputs, aligned with the exogenous coins' bars."""

    coin: str
    frame: pd.DataFrame  #: the coin's candles, only at timestamps every exog coin has
    x: np.ndarray  #: (n, F) raw inputs: own features, then one return column per exog coin
    level: np.ndarray  #: what targets are differences or values of
    warm: int  #: first row with every input defined (after the features' warm-up)
    dropped: int  #: bars left out because an exog coin has no bar at that time
    actual: np.ndarray  #: what forecasts are compared with: the close, or the realized measure
    measure: str | None = None  #: the realized measure in words (a volatility target)

    @property
    def complete(self) -> np.ndarray:
        """Rows whose inputs are all defined (an exog return after a gap is not)."""
        return np.isfinite(self.x).all(axis=1)

    def whole(self, ends: np.ndarray, lookback: int) -> np.ndarray:
        """The ``ends`` whose windows hold no undefined input."""
        bad = np.concatenate([[0], np.cumsum(~self.complete)])
        ends = np.asarray(ends, dtype="int64")
        return ends[bad[ends + 1] - bad[np.maximum(ends + 1 - lookback, 0)] == 0]

    def row_at(self, end: pd.Timestamp | str, frame: pd.DataFrame) -> int:
        """The row of bar ``end`` (UTC when naive); an error naming the bars of ``frame``,
        the candles given, when there is none."""
        ts = utc(end)
        row = int(self.frame.index.searchsorted(ts, side="right")) - 1
        if row < 0 or self.frame.index[row] != ts:
            raise CoincastError(
                f"{describe(frame)} has no bar at {ts}; pick a bar between "
                f"{frame.index[0]} and {frame.index[-1]}"
            )
        return row


@dataclass
class Scalers:
    """A coin's scalers, fit on its own training slice."""

    features: Scaler
    target: Scaler

    def to_dict(self) -> dict[str, dict[str, list[float]]]:
        """JSON-ready parameters of both scalers."""
        return {"features": self.features.to_dict(), "target": self.target.to_dict()}

    @classmethod
    def from_dict(cls, d: Mapping[str, Mapping[str, list[float]]]) -> Scalers:
        """Rebuild from :meth:`to_dict`."""
        return cls(Scaler.from_dict(dict(d["features"])), Scaler.from_dict(dict(d["target"])))


def exog_name(coin: str, target: str = "returns") -> str:
    """The input column holding ``coin``'s returns, e.g. ``ret:bitcoin``; for a volatility
    target its log realized measure, ``rv:bitcoin``."""
    return f"rv:{coin}" if target == "volatility" else f"ret:{coin}"


def exog_returns(frame: pd.DataFrame) -> pd.Series:
    """Log return of each bar over the bar before it; NaN after a gap (no invented bars)."""
    ms = ms_from_index(frame.index)
    close = frame["close"].to_numpy(dtype="float64")
    r = np.full(len(frame), np.nan)
    if len(frame) > 1:
        step = interval_ms(frame.attrs["interval"])
        ok = np.diff(ms) == step
        r[1:] = np.where(ok, np.diff(np.log(close)), np.nan)
    return pd.Series(r, index=frame.index)


def exog_measure(frame: pd.DataFrame) -> pd.Series:
    """Log realized measure of each bar (:mod:`coincast.dataset.realized`): what another
    coin brings to a volatility target."""
    values = log_measure(choose_measure(frame).values, frame.attrs["interval"])
    return pd.Series(values, index=frame.index)


def target_series(frame: pd.DataFrame, target: str) -> tuple[np.ndarray, np.ndarray, str | None]:
    """What targets are differences or values of, what forecasts are compared with, and
    (volatility) the realized measure in words: log close and close for returns, close and
    close for price, the log realized measure and the measure for volatility."""
    if target != "volatility":
        close = frame["close"].to_numpy(dtype="float64")
        return target_level(close, target), close, None
    m = choose_measure(frame)
    return log_measure(m.values, frame.attrs["interval"]), m.values, m.detail


def coin_inputs(
    coin: str,
    frame: pd.DataFrame,
    features: list[str],
    target: str,
    exog: Mapping[str, pd.DataFrame] | None = None,
) -> CoinInputs:
    """Compute ``coin``'s inputs; with ``exog``, keep only the bars every exog coin also has
    (the others are counted in ``dropped`` and logged, never filled in)."""
    x = compute_features(frame, features)
    dropped = 0
    if exog:
        keep = np.ones(len(frame), dtype=bool)
        cols = []
        for other, ef in exog.items():
            if ef.attrs.get("interval") != frame.attrs.get("interval"):
                head = (
                    f"{other} is {ef.attrs.get('interval')} data but {coin} is "
                    f"{frame.attrs.get('interval')}; use the same"
                )
                raise worded(
                    f"exog coin {head} interval for every coin",
                    f"--exog {head} --interval for every coin",
                )
            keep &= frame.index.isin(ef.index)
            series = exog_measure(ef) if target == "volatility" else exog_returns(ef)
            cols.append(series.reindex(frame.index).to_numpy())
        x = np.column_stack([x, *cols])[keep]
        dropped = int((~keep).sum())
        if dropped:
            log.warning(
                "%s: %d of %d bars have no bar of %s at the same time; left out",
                coin, dropped, len(frame), ", ".join(exog),
            )  # fmt: skip
        frame = frame[keep]
    level, actual, measure = target_series(frame, target)
    complete = np.isfinite(x).all(axis=1)
    warm = int(np.argmax(complete)) if complete.any() else len(x)
    return CoinInputs(coin, frame, x, level, warm, dropped, actual, measure)


def exog_frames_of(
    coins: list[str], frames: Mapping[str, pd.DataFrame], given: Mapping[str, pd.DataFrame] | None
) -> dict[str, pd.DataFrame]:
    """The candles of each exog coin in ``coins``: from ``given``, else from ``frames`` (the
    coins trained on); validated."""
    out = {}
    for c in coins:
        f = (given or {}).get(c)
        if f is None:
            f = frames.get(c)
        if f is None:
            tail = (
                f"no candles of {c} were given; fetch {c} at the same "
                "interval (its returns are inputs at every bar)"
            )
            raise worded(f"exog coin {c}: {tail}", f"--exog {c}: {tail}")
        out[c] = validate_candles(f)
    return out


def forecast_coins(frames: Mapping[str, pd.DataFrame], target: str | None) -> list[str]:
    """The coins whose windows are validated on: the ``target`` coin, or all of them."""
    if target is None:
        return list(frames)
    if target not in frames:
        tail = f"{target} is not among the coins trained on ({', '.join(frames)}); list it too"
        raise worded(f"target_coin {tail}", f"--target {tail}")
    return [target]


def split_time(end_times: list[np.ndarray], fraction: float) -> int | None:
    """The bar time (ms) where validation starts: the last ``fraction`` of the windows to
    forecast (their end times, one array per coin), counted together in time order; None
    when there is no validation."""
    times = np.sort(np.concatenate(end_times)) if end_times else np.empty(0, dtype="int64")
    n_val = round(len(times) * fraction)
    if fraction > 0 and len(times) >= 10:
        n_val = max(n_val, 1)
    return int(times[-n_val]) if n_val else None


def split_ends(
    ends: np.ndarray, ms: np.ndarray, split: int | None, horizon: int, validate: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Training ends (every target at or before ``split``) and validation ends (windows
    ending at or after ``split``; none unless ``validate``)."""
    if split is None:
        return ends, ends[:0]
    train = ends[ms[ends + horizon] <= split]
    val = ends[ms[ends] >= split] if validate else ends[:0]
    return train, val


@dataclass
class Panel:
    """Stacked training and validation windows of several coins, with their scalers."""

    train: Windows
    val: Windows | None
    scalers: dict[str, Scalers]
    val_ends: dict[str, np.ndarray]  #: per forecast coin, rows of its validation windows
    skipped: list[str]  #: coins left out for too short a history


def build_panel(
    inputs: dict[str, CoinInputs],
    forecast: list[str],
    *,
    lookback: int,
    horizon: int,
    target: str,
    fraction: float,
    on_short: str = "error",
    embed: bool = False,
) -> Panel:
    """Windows of every coin in ``inputs`` for training; validation windows of the
    ``forecast`` coins only, after a split in calendar time shared by every coin (so no
    coin's training targets reach into the validation period)."""
    index = {c: k for k, c in enumerate(inputs)}  # embedding rows: skipping shifts none
    inputs, skipped = _drop_short(inputs, forecast, lookback, horizon, on_short)
    forecast = [c for c in forecast if c in inputs]
    ends = {c: ci.whole(window_ends(ci.warm, len(ci.frame) - 1, lookback, horizon), lookback)
            for c, ci in inputs.items()}  # fmt: skip
    split = split_time([ms_from_index(inputs[c].frame.index)[ends[c]] for c in forecast], fraction)
    parts_x, tr, va, scalers, val_ends = [], [], [], {}, {}
    offset = 0
    for c, ci in inputs.items():
        ms = ms_from_index(ci.frame.index)
        train_ends, v_ends = split_ends(ends[c], ms, split, horizon, c in forecast)
        if not len(train_ends):
            head = (
                f"{describe(ci.frame)}: no training windows before the validation period "
                f"starts ({from_ms(split)}); fetch more history, lower"
            )
            tail = "or leave the coin out"
            raise worded(
                f"{head} lookback or val_fraction, {tail}",
                f"{head} --lookback or --val-fraction, {tail}",
            )
        last_fit_row = len(ms) if split is None else int(np.searchsorted(ms, split, "right"))
        y_train = targets_at(ci.level, train_ends, horizon, target)
        sc = Scalers(Scaler.fit(ci.x[ci.warm : last_fit_row]), Scaler.fit(y_train))
        scalers[c] = sc
        parts_x.append(sc.features.transform(ci.x))
        tr.append((train_ends + offset, sc.target.transform(y_train), index[c]))
        if len(v_ends):
            y_val = sc.target.transform(targets_at(ci.level, v_ends, horizon, target))
            va.append((v_ends + offset, y_val, index[c]))
            val_ends[c] = v_ends
        offset += len(ci.x)
    x = np.concatenate(parts_x)
    train = _stack(x, tr, lookback, embed)
    val = _stack(x, va, lookback, embed) if va else None
    return Panel(train, val, scalers, val_ends, skipped)


def _stack(x: np.ndarray, parts: list, lookback: int, embed: bool) -> Windows:
    ends = np.concatenate([p[0] for p in parts])
    y = np.concatenate([p[1] for p in parts])
    coins = np.concatenate([np.full(len(p[0]), p[2]) for p in parts]) if embed else None
    return Windows(x, y, ends, lookback, coins)


def _drop_short(
    inputs: dict[str, CoinInputs], forecast: list[str], lookback: int, horizon: int,
    on_short: str,
) -> tuple[dict[str, CoinInputs], list[str]]:  # fmt: skip
    """Coins with too little history for one window: an error, or skipped with a warning
    (``on_short="skip"``), except the one coin to forecast (a target) and except when no
    coin would be left."""
    kept, skipped, first = {}, [], None
    for c, ci in inputs.items():
        try:
            need_rows(lookback, horizon, ci.warm, describe(ci.frame), len(ci.frame))
        except ShortHistoryError as exc:
            if on_short != "skip" or forecast == [c]:
                raise
            log.warning("%s: too little history for lookback %d; skipped", c, lookback)
            skipped.append(c)
            first = first or exc
            continue
        kept[c] = ci
    if not kept and first is not None:
        raise first
    return kept, skipped


def as_frames(data: Frames) -> dict[str, pd.DataFrame]:
    """``{coin: frame}`` from one frame or a mapping (validated; keys are coin ids)."""
    if isinstance(data, pd.DataFrame):
        frame = validate_candles(data)
        return {str(frame.attrs.get("coin", "")): frame}
    frames = {str(c): validate_candles(f) for c, f in data.items()}
    if not frames:
        raise CoincastError("no coins to train on: give at least one candle frame")
    intervals = {f.attrs.get("interval") for f in frames.values()}
    if len(intervals) > 1:
        raise CoincastError(
            f"the coins have different intervals ({', '.join(sorted(map(str, intervals)))}); "
            "train on one interval at a time"
        )
    return frames


def data_info(frame: pd.DataFrame) -> dict[str, object]:
    """Source, coin, interval, range, rows and a SHA-256 of the candles a model saw."""
    a = frame.attrs
    digest = hashlib.sha256(ms_from_index(frame.index).tobytes())
    digest.update(
        np.ascontiguousarray(frame[["open", "high", "low", "close", "volume"]].to_numpy()).tobytes()
    )
    return {
        "source": a["source"],
        "coin": a["coin"],
        "quote": a["quote"],
        "interval": a["interval"],
        "start": frame.index[0].isoformat() if len(frame) else None,
        "end": frame.index[-1].isoformat() if len(frame) else None,
        "rows": len(frame),
        "sha256": digest.hexdigest(),
    }


#: The most threads :func:`set_threads` uses (a run's config records the count, and must
#: load on any machine).
MAX_THREADS = 1024


def set_threads(threads: int | None) -> int:
    """Use ``threads``, by default every core (at most :data:`MAX_THREADS`); return the
    number used.

    The count is part of what makes a run reproducible (float sums split across threads
    round differently), so it is recorded in the config. On a 2-core machine two threads
    train 1.3x faster than one when idle, but 2.8x slower than one while another process
    keeps a core busy: pass ``threads=1`` on a busy machine.

    Raises
    ------
    CoincastError
        When ``threads`` is not None or a whole number from 1 to :data:`MAX_THREADS`.
    """
    if threads is not None and (
        isinstance(threads, bool) or not isinstance(threads, int) or not 1 <= threads <= MAX_THREADS
    ):
        raise CoincastError(
            f"threads is {threads!r}; it must be a whole number from 1 to {MAX_THREADS}, or "
            "None for every core, e.g. threads=1"
        )
    threads = threads or min(os.cpu_count() or 1, MAX_THREADS)
    torch.set_num_threads(threads)
    return threads
