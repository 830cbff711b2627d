"""The candles a model reads from the store: to train, to forecast, to look inside it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

import pandas as pd

from ..coins import resolve_offline
from ..data.frames import read_frames
from ..data.store import Store
from ..errors import CoincastError
from ..intervals import INTERVALS, interval_ms
from ..series import describe, parse_time, utc
from .forecaster import LSTMForecaster, WindowInputs

Frames = dict[str, pd.DataFrame]
#: One cutoff or several: timestamps, ISO strings or a DatetimeIndex (naive means UTC).
Timestamps = pd.Timestamp | datetime | str | Iterable[pd.Timestamp | datetime | str]


def training_frames(
    store: Store,
    coins: Iterable[str],
    exog: Iterable[str],
    interval: str,
    source: str | None = None,
    quote: str | None = None,
    end: pd.Timestamp | None = None,
    min_complete: float = 1.0,
) -> tuple[Frames, Frames]:
    """The stored candles to train on: one frame per coin, and one per ``exog`` coin that is
    not among ``coins`` (read with the same interval, source, quote, ``end`` and, for bars
    resampled from finer data, ``min_complete``: see :func:`coincast.series.resample`).

    Examples
    --------
    >>> from coincast.data.sources import synthetic_candles
    >>> with Store(":memory:") as s:
    ...     for c in ("a", "b"):
    ...         _ = s.write_candles(synthetic_candles(30, coin=c))
    ...     frames, extra = training_frames(s, ["a"], ["a", "b"], "1d")
    >>> list(frames), list(extra)
    (['a'], ['b'])
    """
    frames = read_frames(store, coins, interval, source, quote, end, min_complete)
    others = [c for c in exog if c not in frames]
    return frames, read_frames(store, others, interval, source, quote, end, min_complete)


def run_frames(store: Store, model: LSTMForecaster) -> tuple[Frames, Frames]:
    """The latest stored candles of every coin a trained model reads.

    Returns
    -------
    frames, exog
        The coins it forecasts (those it kept in training) and its exog-only coins, each
        read from the series (source, quote, interval) it was trained on.
    """
    frames = {c: _latest(store, d) for c, d in model.data.items() if c in model.scalers}
    exog = {c: _latest(store, d) for c, d in model.exog_data.items()}
    return frames, exog


def _latest(store: Store, d: Mapping) -> pd.DataFrame:
    coin = d["coin"]
    return read_frames(store, [coin], d["interval"], d["source"], d["quote"])[coin]


def forecast_latest(
    store: Store, model: LSTMForecaster, horizon: int | None = None, coin: str | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Forecast the bars after the latest stored one with a trained model.

    Parameters
    ----------
    horizon
        Steps to forecast (at most the trained horizon; default: all of it).
    coin
        The coin to forecast, for a model trained on several (an id or a symbol).

    Returns
    -------
    forecast, frame
        The forecast (``yhat lo hi`` by future timestamp) and the coin's stored candles it
        starts from.

    Examples
    --------
    >>> from coincast.data.sources import synthetic_candles
    >>> with Store(":memory:") as s:
    ...     _ = s.write_candles(synthetic_candles(60, coin="bitcoin"))
    ...     m = LSTMForecaster(epochs=1, hidden=8, lookback=5, horizon=2, log_every=0)
    ...     forecast, frame = forecast_latest(s, m.fit(s.read_candles("btc", "1d")))
    >>> len(forecast), forecast.index[0] > frame.index[-1]
    (2, True)
    """
    coin = model.forecast_coin(resolve_offline(coin) if coin else None)
    frames, exog = run_frames(store, model)
    frame = frames[coin]
    return model.predict(horizon, frame=frame, coin=coin, exog=frames | exog), frame


def window_for(
    store: Store, model: LSTMForecaster, window: str = "LAST", coin: str | None = None
) -> WindowInputs:
    """The input window of a trained model that ends at bar ``window``, from the store: what
    :func:`coincast.explain.numbers.explain` looks inside.

    Parameters
    ----------
    window
        ``LAST`` (the latest stored bar) or a date such as ``2024-06-30``.
    coin
        The coin to look at, for a model trained on several (an id or a symbol).
    """
    coin = model.forecast_coin(resolve_offline(coin) if coin else None)
    frames, exog = run_frames(store, model)
    end = None if window.upper() == "LAST" else parse_time(window, "window", flag="--window")
    return model.window_inputs(frames[coin], end, coin=coin, exog=frames | exog)


def predict_at(
    model: LSTMForecaster,
    data: pd.DataFrame | Store,
    timestamps: Timestamps,
    *,
    horizon: int | None = None,
    coin: str | None = None,
    exog: Mapping[str, pd.DataFrame] | None = None,
) -> pd.DataFrame:
    """Forecasts made at each of ``timestamps``, each from the bars up to and including it.

    Parameters
    ----------
    data
        The candles to forecast from, or a store to read them from (the series the model
        was trained on, with its exog coins).
    timestamps
        The cutoffs: bar start times of the coin's candles (naive means UTC). A forecast at
        ``t`` sees only bars ``<= t`` of the coin and of its exog coins, so it is what the
        model would have said at ``t`` (in-sample if ``t`` lies in its training period).
    horizon
        Steps to forecast from each (at most the trained horizon; default: all of it).
    coin
        The coin to forecast, for a model trained on several (an id or a symbol).
    exog
        The exog coins' candles, when ``data`` is a frame and the model reads any.

    Returns
    -------
    DataFrame
        Indexed by ``cutoff`` (repeated once per step): ``step`` (1..horizon), ``ts`` (the
        bar forecast) and ``yhat lo hi`` as :meth:`LSTMForecaster.predict` gives them.

    Examples
    --------
    >>> from coincast.data.sources import predictable_candles
    >>> frame = predictable_candles(200)
    >>> f = LSTMForecaster(epochs=1, hidden=8, layers=1, horizon=2, log_every=0).fit(frame)
    >>> out = predict_at(f, frame, ["2020-06-01", "2020-06-02"])
    >>> out[["step", "ts"]].shape, out.index.name
    ((4, 2), 'cutoff')
    """
    coin = resolve_offline(coin) if coin else None
    if isinstance(data, Store):
        frames, stored = run_frames(data, model)
        coin = model.forecast_coin(coin)
        frame, exog = frames[coin], frames | stored | dict(exog or {})
    else:
        frame, coin = data, model.forecast_coin(coin, data)
    parts = [
        _forecast_at(model, frame, t, horizon, coin, exog) for t in _cutoffs(frame, timestamps)
    ]
    out = pd.concat(parts)
    out.attrs.update(frame.attrs)
    return out


def _forecast_at(
    model: LSTMForecaster, frame: pd.DataFrame, t: pd.Timestamp, horizon: int | None,
    coin: str, exog: Mapping[str, pd.DataFrame] | None,
) -> pd.DataFrame:  # fmt: skip
    """The forecast at cutoff ``t``, from nothing after it."""
    seen = {c: f.loc[:t] for c, f in (exog or {}).items()}
    pred = model.predict(horizon, frame=frame.loc[:t], coin=coin, exog=seen)
    out = pred.reset_index(names="ts")
    out.insert(0, "step", range(1, len(out) + 1))
    out.index = pd.DatetimeIndex([t] * len(out), name="cutoff")
    return out


def _cutoffs(frame: pd.DataFrame, timestamps: Timestamps) -> list[pd.Timestamp]:
    """``timestamps`` in UTC, each a bar of ``frame``."""
    one = isinstance(timestamps, str | datetime)  # pd.Timestamp is a datetime
    given = [timestamps] if one else list(timestamps)  # type: ignore[arg-type]
    if not given:
        raise CoincastError("timestamps is empty: give at least one cutoff, e.g. frame.index[-1]")
    out = []
    for t in given:
        try:
            ts = utc(t)
        except (ValueError, TypeError):
            raise CoincastError(
                f"timestamps: {str(t)[:40]!r} is not a time; give bar start times such as "
                "'2024-06-30' or frame.index[-5:]"
            ) from None
        if ts not in frame.index:
            span = f"{frame.index[0]} .. {frame.index[-1]}" if len(frame) else "no bars"
            raise CoincastError(
                f"timestamps: {ts} is not a bar of {describe(frame)} ({span}); give bar start "
                "times of the candles forecast from"
            )
        out.append(ts)
    return out


def finer_frame(store: Store, frame: pd.DataFrame) -> pd.DataFrame | None:
    """The coarsest stored series of ``frame``'s coin, source and quote that is finer than
    ``frame``'s interval, divides it and spans its bars (the first aside); None when there is
    none. A volatility target's realized measure is then realized variance.

    Examples
    --------
    >>> from coincast.data.sources import synthetic_candles
    >>> from coincast.series import resample
    >>> hourly = synthetic_candles(24 * 40, "1h", coin="a")
    >>> with Store(":memory:") as s:
    ...     _ = s.write_candles(hourly)
    ...     finer_frame(s, resample(hourly, "1d")).attrs["interval"]
    '1h'
    """
    a = frame.attrs
    step = interval_ms(a["interval"])
    if len(frame) < 2:
        return None
    need_start, need_end = frame.index[1], frame.index[-1] + pd.Timedelta(milliseconds=step)
    found = []
    for info in store.list_series():
        k = info.key
        fine = interval_ms(k.interval) if k.interval in INTERVALS else step
        if (k.coin, k.source, k.quote) != (a["coin"], a["source"], a["quote"]) or fine >= step:
            continue
        if step % fine or info.start is None or info.start > need_start:
            continue
        if info.end + pd.Timedelta(milliseconds=fine) < need_end:
            continue
        found.append((fine, k))
    if not found:
        return None
    fine, key = max(found, key=lambda x: x[0])
    return store.read_candles(key.coin, key.interval, source=key.source, quote=key.quote)
