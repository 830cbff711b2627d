"""Incremental fetching: ask a source only for what the store lacks, one chunk at a time.

Each chunk is fetched, validated and written in one transaction together with the range it
covers, so a fetch killed at any moment leaves a consistent store, and the next fetch resumes
with the first range not yet covered. A second identical fetch makes no data request.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from ..errors import CoincastError
from ..intervals import bar_start, check_interval, interval_ms
from ..series import from_ms, to_ms, validate_candles
from .sources.base import Source, utc_now
from .store import SeriesKey, Store

log = logging.getLogger(__name__)

#: progress(done_chunks, total_chunks) after each chunk is stored.
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class FetchResult:
    """What one :func:`fetch` did."""

    key: SeriesKey
    new_rows: int
    total_rows: int
    start: pd.Timestamp | None  #: first stored bar of the series
    end: pd.Timestamp | None  #: last stored bar of the series
    chunks: int  #: chunks fetched from the source (0 when nothing was missing)


def fetch(
    store: Store,
    source: Source,
    coin: str,
    *,
    interval: str = "1d",
    quote: str | None = None,
    start: pd.Timestamp | str | None = None,
    end: pd.Timestamp | str | None = None,
    days: float | None = None,
    now: pd.Timestamp | None = None,
    progress: Progress | None = None,
) -> FetchResult:
    """Fetch ``coin`` from ``source`` into ``store``, only the bars not yet covered.

    Parameters
    ----------
    interval
        Bar interval (``1s`` ... ``1w``).
    quote
        Quote currency; the source's default (``usd``, ``usdt`` on exchanges) when omitted.
    start, end, days
        The range of bar starts: ``start`` (inclusive) to ``end`` (exclusive, default now),
        or the last ``days`` days. Only complete bars are fetched: the bar still forming at
        ``now`` is left for a later fetch.

    Examples
    --------
    >>> from coincast.data.sources import SyntheticSource
    >>> with Store(":memory:") as s:
    ...     r = fetch(s, SyntheticSource(), "demo", interval="1h", days=2,
    ...               now=pd.Timestamp("2024-01-03", tz="UTC"))
    >>> r.new_rows
    48
    """
    check_interval(interval)
    key = _series_key(source, coin, quote, interval)
    lo, hi = _range(interval, start, end, days, now if now is not None else utc_now())
    chunks = _missing_chunks(store, source, key, lo, hi)
    new = _download(store, source, key, chunks, progress)
    return _result(store, key, new, len(chunks))


Chunk = tuple[int, int]  #: ``[start, end)`` in epoch ms


def _series_key(source: Source, coin: str, quote: str | None, interval: str) -> SeriesKey:
    """The stored series a fetch fills: the source's coin id, the quote (lower-cased)."""
    quote = (quote or source.default_quote).lower()
    return SeriesKey(source.name, source.resolve_coin(coin), quote, interval)


def _missing_chunks(store: Store, source: Source, key: SeriesKey, lo: int, hi: int) -> list[Chunk]:
    """The source's chunks covering what the store lacks of ``[lo, hi)``; the source checks
    the whole request first (its history limit), so nothing is fetched when it is refused."""
    missing = store.missing_ranges(key, lo, hi)
    chunks = [c for s, e in missing for c in source.chunks(key.interval, s, e)]
    if chunks:
        source.check_request(key.coin, key.quote, key.interval, chunks[0][0], chunks[-1][1])
    return chunks


def _download(
    store: Store, source: Source, key: SeriesKey, chunks: list[Chunk], progress: Progress | None
) -> int:
    """Fetch, validate and store each chunk with the range it covers; the new rows."""
    new = 0
    for i, (s, e) in enumerate(chunks):
        frame = validate_candles(source.fetch_chunk(key.coin, key.quote, key.interval, s, e))
        new += store.write_candles(frame, covered=(s, e))
        log.debug("%s: stored %d bars for [%d, %d)", key, len(frame), s, e)
        if progress is not None:
            progress(i + 1, len(chunks))
    return new


def _result(store: Store, key: SeriesKey, new: int, chunks: int) -> FetchResult:
    info = store.info(key)
    if info is None:
        return FetchResult(key, new, 0, None, None, chunks)
    return FetchResult(key, new, info.rows, info.start, info.end, chunks)


def _range(
    interval: str,
    start: pd.Timestamp | str | None,
    end: pd.Timestamp | str | None,
    days: float | None,
    now: pd.Timestamp,
) -> tuple[int, int]:
    """``[lo, hi)`` in epoch ms, aligned to bar starts, ending at the last complete bar."""
    if days is not None and start is not None:
        raise CoincastError("give either --days or --start, not both")
    now_ms = to_ms(now)
    hi = bar_start(now_ms, interval)  # start of the bar still forming: excluded
    if end is not None:  # inclusive: the bar starting at or containing `end` is the last
        hi = min(hi, bar_start(to_ms(end), interval) + interval_ms(interval))
    if days is not None:
        if days <= 0:
            raise CoincastError(f"--days must be > 0, got {days:g}")
        lo = bar_start(now_ms - int(days * 86_400_000), interval)
    elif start is not None:
        lo = bar_start(to_ms(start) + interval_ms(interval) - 1, interval)  # first whole bar
    else:
        lo = bar_start(now_ms - 365 * 86_400_000 + 86_400_000, interval)
    if lo >= hi:
        raise CoincastError(
            f"the range {from_ms(lo)} .. "
            f"{from_ms(hi)} holds no complete {interval} bar; "
            "widen it with --start/--end or --days"
        )
    return lo, hi
