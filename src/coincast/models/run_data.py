"""The candles a model reads from the store: to train, to forecast, to look inside it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import pandas as pd

from ..coins import resolve_offline
from ..data.frames import read_frames
from ..data.store import Store
from ..series import parse_time
from .forecaster import LSTMForecaster, WindowInputs

Frames = dict[str, pd.DataFrame]


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
    end = None if window.upper() == "LAST" else parse_time(window, "--window")
    return model.window_inputs(frames[coin], end, coin=coin, exog=frames | exog)
