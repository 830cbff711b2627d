"""Candle frames in and out of the store: one coin, several coins, and a file on disk."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from ..coins import resolve_offline
from ..errors import CoincastError, StoreError
from .store import Store


def read_frame(
    store: Store,
    coin: str,
    interval: str | None = None,
    source: str | None = None,
    quote: str | None = None,
) -> pd.DataFrame:
    """The stored candles of one coin, as a user names it (a symbol, any case).

    Parameters
    ----------
    coin
        Coin id or symbol (``BTC`` is ``bitcoin``).
    interval
        Bar interval; one coarser than the stored one resamples. ``None``: as stored.
    source, quote
        Which stored series, when there are several (case-insensitive).

    Examples
    --------
    >>> from coincast.data.sources import synthetic_candles
    >>> with Store(":memory:") as s:
    ...     _ = s.write_candles(synthetic_candles(14, coin="demo"))
    ...     len(read_frame(s, "DEMO"))
    14
    """
    return store.read_candles(
        resolve_offline(coin),
        interval,
        source=source.lower() if source else None,
        quote=quote.lower() if quote else None,
    )


def read_frames(
    store: Store,
    coins: Iterable[str],
    interval: str,
    source: str | None = None,
    quote: str | None = None,
    end: pd.Timestamp | None = None,
) -> dict[str, pd.DataFrame]:
    """The stored candles of each coin id, up to ``end`` (inclusive) when given.

    Raises
    ------
    StoreError
        When a coin has no stored bar (up to ``end``); the message names the coin and the
        command that fetches it.

    Examples
    --------
    >>> from coincast.data.sources import synthetic_candles
    >>> with Store(":memory:") as s:
    ...     _ = s.write_candles(synthetic_candles(30, coin="demo"))
    ...     {c: len(f) for c, f in read_frames(s, ["demo"], "1d").items()}
    {'demo': 30}
    """
    frames = {}
    for c in coins:
        frame = store.read_candles(c, interval, source=source, quote=quote, end=end)
        if frame.empty:
            until = "" if end is None else f" up to {end}"
            raise StoreError(
                f"no stored {interval} data for {c}{until}; fetch it: "
                f"coincast fetch {c} --interval {interval}"
            )
        frames[c] = frame
    return frames


def export_frame(frame: pd.DataFrame, path: Path) -> None:
    """Write ``frame`` to ``path`` atomically: no partial file is left on failure.

    Parameters
    ----------
    frame
        A canonical candle frame.
    path
        A ``.csv`` (ISO timestamps) or ``.parquet`` file, readable again by
        :func:`coincast.data.sources.read_file`.

    Examples
    --------
    >>> import tempfile
    >>> from coincast.data.sources import synthetic_candles
    >>> with tempfile.TemporaryDirectory() as d:
    ...     export_frame(synthetic_candles(3), Path(d) / "demo.csv")
    ...     (Path(d) / "demo.csv").read_text().splitlines()[0]
    'ts,open,high,low,close,volume'
    """
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise CoincastError(f"--out {path} must end in .csv or .parquet")
    table = frame.reset_index()
    table["ts"] = table["ts"].map(pd.Timestamp.isoformat) if suffix == ".csv" else table["ts"]
    tmp = path.with_name(f".{path.name}.tmp")
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".csv":
        table.to_csv(tmp, index=False)
    else:
        table.to_parquet(tmp, index=False)
    os.replace(tmp, path)
