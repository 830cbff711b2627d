"""Candle frames in and out of the store: one coin, several coins, and a file on disk."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..coins import check_quote, resolve_offline
from ..errors import CoincastError, StoreError, worded
from ..intervals import check_interval, interval_ms
from ..series import bar_completeness, find_gaps, resample
from .preferences import notices, rank_sources, source_order
from .store import SeriesInfo, Store


def read_frame(
    store: Store,
    coin: str,
    interval: str | None = None,
    source: str | None = None,
    quote: str | None = None,
    min_complete: float = 1.0,
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
    min_complete
        When resampling, keep a bar with at least this share of its sub-bars (default: all).

    Examples
    --------
    >>> from coincast.data.sources import synthetic_candles
    >>> with Store(":memory:") as s:
    ...     _ = s.write_candles(synthetic_candles(14, coin="demo"))
    ...     len(read_frame(s, "DEMO"))
    14
    """
    coin, quote = resolve_offline(coin), check_quote(quote) if quote is not None else None
    return store.read_candles(
        coin,
        interval,
        source=source.lower() if source else preferred_source(store, coin, interval, quote),
        quote=quote,
        min_complete=min_complete,
    )


def preferred_source(
    store: Store, coin: str, interval: str | None = None, quote: str | None = None
) -> str | None:
    """The source to read ``coin`` from when none is named: the first stored one in the
    :func:`~coincast.data.preferences.source_order` (told through
    :data:`~coincast.data.preferences.notices`), or ``None`` when one or none is stored.

    Examples
    --------
    >>> from coincast.data.sources import synthetic_candles
    >>> with Store(":memory:") as s:
    ...     for source in ("synthetic", "csv"):
    ...         frame = synthetic_candles(3, coin="demo")
    ...         frame.attrs["source"] = source
    ...         _ = s.write_candles(frame)
    ...     preferred_source(s, "demo", "1d")
    'csv'
    """
    fine = interval_ms(check_interval(interval)) if interval is not None else None
    sources = [
        i.key.source for i in store.list_series()
        if i.rows and i.key.coin == coin and quote in (None, i.key.quote)
        and (fine is None or interval_ms(i.key.interval) <= fine)
    ]  # fmt: skip
    if len(set(sources)) < 2:
        return None  # the settings file is read only when there is a choice to make
    order = source_order()
    ranked = rank_sources(sources, order)
    notices.info(
        f"{coin} is stored from {', '.join(ranked)}; reading {ranked[0]}, the first in the "
        f"source order ({', '.join(order)}; coincast config set source-order changes it, "
        "--source, or source= in Python, picks one)"
    )
    return ranked[0]


def read_frames(
    store: Store,
    coins: Iterable[str],
    interval: str,
    source: str | None = None,
    quote: str | None = None,
    end: pd.Timestamp | None = None,
    min_complete: float = 1.0,
) -> dict[str, pd.DataFrame]:
    """The stored candles of each coin id, up to ``end`` (inclusive) when given; resampled
    bars are kept when at least ``min_complete`` of their sub-bars are stored.

    Raises
    ------
    StoreError
        When a coin has no stored bar (up to ``end``), or none complete enough once
        resampled; the message names the coin and what to do.

    Examples
    --------
    >>> from coincast.data.sources import synthetic_candles
    >>> with Store(":memory:") as s:
    ...     _ = s.write_candles(synthetic_candles(30, coin="demo"))
    ...     {c: len(f) for c, f in read_frames(s, ["demo"], "1d").items()}
    {'demo': 30}
    """
    frames = {}
    quote = check_quote(quote) if quote is not None else None
    for c in coins:
        chosen = source or preferred_source(store, c, interval, quote)
        frame = store.read_candles(
            c, interval, source=chosen, quote=quote, end=end, min_complete=min_complete
        )
        if frame.empty:
            raise _no_bar(store, c, interval, chosen, quote, end, min_complete)
        frames[c] = frame
    return frames


def _no_bar(
    store: Store, coin: str, interval: str, source: str | None, quote: str | None,
    end: pd.Timestamp | None, min_complete: float,
) -> CoincastError:  # fmt: skip
    """Why ``coin`` has no bar: nothing stored, or none complete enough once resampled."""
    until = "" if end is None else f" up to {end}"
    key = store.resolve(coin, interval, source, quote)
    stored = store.read_key(key, end=end)
    if not len(stored):
        head = f"no stored {interval} data for {coin}{until}; fetch it: "
        return worded(
            StoreError(
                f"{head}coincast.fetch(store, get_source({source or 'coingecko'!r}), {coin!r}, "
                f"interval={interval!r})"
            ),
            f"{head}coincast fetch {coin} --interval {interval}",
        )
    best = bar_completeness(stored, interval)["complete"].max()
    head = (
        f"no {interval} bar of {coin}{until} is complete enough: the stored {key.interval} "
        f"data fills at most {best:.0%} of one, and a bar needs {min_complete:.0%} "
        f"(min_complete); fetch whole {key.interval} data, or lower min_complete"
    )
    return worded(
        StoreError(
            f"{head} (coincast.data.frames.gap_report(store, {coin!r}, {interval!r}) shows "
            "the bars)"
        ),
        f"{head} (--min-complete on the command line; coincast data gaps {coin} -i {interval} "
        "shows the bars)",
    )


def find_series(
    store: Store,
    coin: str,
    interval: str | None = None,
    source: str | None = None,
    quote: str | None = None,
) -> SeriesInfo:
    """The one stored series of ``coin`` (as stored: no resampling) that the given interval,
    source and quote pick out; what ``coincast data delete`` removes.

    Raises
    ------
    StoreError
        When none is stored (with close names), or several match (listing them).

    Examples
    --------
    >>> from coincast.data.sources import synthetic_candles
    >>> with Store(":memory:") as s:
    ...     _ = s.write_candles(synthetic_candles(5, coin="demo"))
    ...     str(find_series(s, "DEMO").key)
    'demo/usd 1d (synthetic)'
    """
    coin, source = resolve_offline(coin), source.lower() if source else None
    quote = check_quote(quote) if quote is not None else None
    if interval is not None:
        check_interval(interval)
    stored = [
        i for i in store.list_series()
        if i.key.coin == coin and source in (None, i.key.source) and quote in (None, i.key.quote)
    ]  # fmt: skip
    if not stored:
        store.resolve(coin, None, source, quote)  # raises, in its words and with close names
    hits = [i for i in stored if interval in (None, i.key.interval)]
    if not hits:
        have = ", ".join(str(i.key) for i in stored)
        head = f"no {interval} series of {coin} is stored (stored: {have}); give one of those "
        raise worded(
            StoreError(f"{head}intervals as interval="), f"{head}intervals with --interval"
        )
    if len(hits) > 1:
        head = f"{coin} has {len(hits)} stored series ({', '.join(str(i.key) for i in hits)}); "
        raise worded(
            StoreError(f"{head}name one with interval=, source= and quote="),
            f"{head}name one with --interval, --source and --quote",
        )
    return hits[0]


@dataclass(frozen=True)
class GapReport:
    """What :func:`gap_report` found for one series at one interval."""

    frame: pd.DataFrame  #: the candles as read (resampled bars kept by the rule)
    gaps: pd.DataFrame  #: :func:`coincast.series.find_gaps` of ``frame``
    stored: str  #: the stored interval the frame was made from
    min_complete: float  #: the rule: a resampled bar is kept with this share of sub-bars
    #: bars made from incomplete stored data (``rows``, ``expected``, ``complete``, ``kept``),
    #: least complete first; empty when nothing was resampled
    incomplete: pd.DataFrame


def gap_report(
    store: Store,
    coin: str,
    interval: str | None = None,
    source: str | None = None,
    quote: str | None = None,
    min_complete: float = 1.0,
) -> GapReport:
    """The missing bars of a stored coin at ``interval`` and, when reading it resamples
    finer stored data, the bars made from incomplete data (dropped or kept by the rule).

    Examples
    --------
    >>> from coincast.data.sources import synthetic_candles
    >>> with Store(":memory:") as s:
    ...     _ = s.write_candles(synthetic_candles(10, coin="demo", interval="1d"))
    ...     r = gap_report(s, "demo", "1w")
    >>> r.stored, r.incomplete["rows"].tolist(), r.incomplete["kept"].tolist()  # Wed..Sun, Mon..Fri
    ('1d', [5, 5], [False, False])
    """
    coin, quote = resolve_offline(coin), check_quote(quote) if quote is not None else None
    source = source.lower() if source else preferred_source(store, coin, interval, quote)
    key = store.resolve(coin, interval, source, quote)
    stored = store.read_key(key)
    interval = interval or key.interval
    frame = resample(stored, interval, min_complete)
    if interval == key.interval:
        short = pd.DataFrame(columns=["rows", "expected", "complete", "kept"])
    else:
        done = bar_completeness(stored, interval)
        short = done[done["complete"] < 1].sort_values("complete", kind="stable")
        short = short.assign(kept=short.index.isin(frame.index))
    return GapReport(frame, find_gaps(frame), key.interval, min_complete, short)


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
        tail = f"{path} must end in .csv or .parquet"
        raise worded(f"path {tail}", f"--out {tail}")
    table = frame.reset_index()
    table["ts"] = table["ts"].map(pd.Timestamp.isoformat) if suffix == ".csv" else table["ts"]
    tmp = path.with_name(f".{path.name}.tmp")
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".csv":
        table.to_csv(tmp, index=False)
    else:
        table.to_parquet(tmp, index=False)
    os.replace(tmp, path)
