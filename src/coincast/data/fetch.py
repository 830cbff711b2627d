"""Incremental fetching: ask a source only for what the store lacks, one chunk at a time.

Each chunk is fetched, validated and written in one transaction together with the range it
covers, so a fetch killed at any moment leaves a consistent store, and the next fetch resumes
with the first range not yet covered. A second identical fetch makes no data request;
``refresh=True`` (``fetch --refresh``) asks for the whole range again, covered or not.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from ..errors import worded
from ..intervals import bar_start, check_interval, interval_ms
from ..series import from_ms, parse_time, to_ms, utc, validate_candles
from .sources.base import Source, utc_now
from .store import SeriesKey, Store

log = logging.getLogger(__name__)

#: progress(done_chunks, total_chunks) after each chunk is stored.
Progress = Callable[[int, int], None]
#: No coin has a price before Bitcoin's first block; a range reaching further back is a typo.
EARLIEST = pd.Timestamp("2009-01-03", tz="UTC")
DAY_MS = 86_400_000
DEFAULT_DAYS = 364


@dataclass(frozen=True)
class FetchResult:
    """What one :func:`fetch` did.

    Examples
    --------
    >>> from coincast.data.sources import get_source
    >>> from coincast.data.store import Store
    >>> with Store(":memory:") as s:
    ...     r = fetch(s, get_source("synthetic"), "demo", interval="1d", days=10)
    >>> r.key.coin, r.new_rows == r.total_rows
    ('demo', True)
    """

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
    refresh: bool = False,
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
        or the last ``days`` days (default 364), as in :class:`FetchRange`. Only complete
        bars are fetched: the bar still forming at ``now`` is left for a later fetch.
    refresh
        Ask for the whole range again, even the parts already covered (the answers replace
        the stored bars); by default only what the store lacks is asked for.

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
    lo, hi = FetchRange(start, end, days).bounds(interval, now if now is not None else utc_now())
    chunks = _missing_chunks(store, source, key, lo, hi, refresh)
    new = _download(store, source, key, chunks, progress)
    return _result(store, key, new, len(chunks))


Chunk = tuple[int, int]  #: ``[start, end)`` in epoch ms


def _series_key(source: Source, coin: str, quote: str | None, interval: str) -> SeriesKey:
    """The stored series a fetch fills: the source's coin id, the quote (lower-cased)."""
    quote = (quote or source.default_quote).lower()
    return SeriesKey(source.name, source.resolve_coin(coin), quote, interval)


def _missing_chunks(
    store: Store, source: Source, key: SeriesKey, lo: int, hi: int, refresh: bool
) -> list[Chunk]:
    """The source's chunks covering what the store lacks of ``[lo, hi)`` (all of it when
    refreshing); the source checks the whole request first (its history limit), so nothing
    is fetched when it is refused."""
    missing = [(lo, hi)] if refresh else store.missing_ranges(key, lo, hi)
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


@dataclass(frozen=True)
class FetchRange:
    """The bar starts a fetch asks for: ``start`` to ``end``, or the last ``days`` days.

    Examples
    --------
    >>> lo, hi = FetchRange(days=2).bounds("1d", pd.Timestamp("2024-01-03 12:00", tz="UTC"))
    >>> str(from_ms(lo)), str(from_ms(hi))  # the bar of 01-03 is still forming
    ('2024-01-01 00:00:00+00:00', '2024-01-03 00:00:00+00:00')
    """

    start: pd.Timestamp | str | None = None  #: first bar (inclusive)
    end: pd.Timestamp | str | None = None  #: last bar (inclusive); default: the last complete one
    days: float | None = None  #: the last ``days`` days instead of ``start`` (default 364)

    def bounds(self, interval: str, now: pd.Timestamp) -> tuple[int, int]:
        """``[lo, hi)`` in epoch ms, aligned to bar starts, ending at the last complete bar.

        Raises
        ------
        CoincastError
            For ``days`` that is not a finite number > 0, a range starting before
            :data:`EARLIEST`, an ``end`` before ``start``, or a range holding no whole bar.
        """
        if self.days is not None and self.start is not None:
            raise worded(
                "give either days= or start=, not both", "give either --days or --start, not both"
            )
        start, end = _when(self.start, "start"), _when(self.end, "end")
        if start is not None and end is not None and end < start:
            raise worded(
                f"end ({end:%Y-%m-%d %H:%M}) is before start ({start:%Y-%m-%d %H:%M}); "
                "give an end on or after start",
                f"--end ({end:%Y-%m-%d %H:%M}) is before --start ({start:%Y-%m-%d %H:%M}); "
                "give an --end on or after --start",
            )
        now_ms, step = to_ms(now), interval_ms(interval)
        hi = bar_start(now_ms, interval)  # start of the bar still forming: excluded
        if end is not None:  # inclusive: the bar starting at or containing `end` is the last
            hi = min(hi, bar_start(to_ms(end), interval) + step)
        if self.days is not None:
            lo = bar_start(now_ms - _days_ms(self.days, now_ms), interval)
        elif start is not None:
            lo = bar_start(to_ms(_not_too_early(start)) + step - 1, interval)  # first whole bar
        else:
            lo = bar_start(now_ms - DEFAULT_DAYS * DAY_MS, interval)
        if lo >= hi:
            head = f"the range {from_ms(lo)} .. {from_ms(hi)} holds no complete {interval} bar"
            raise worded(
                f"{head}; widen it with start=/end= or days=",
                f"{head}; widen it with --start/--end or --days",
            )
        return lo, hi


def _when(value: Any, option: str) -> pd.Timestamp | None:
    """``value`` (text or a timestamp) as a UTC timestamp, named ``option`` in errors (its
    flag ``--option`` in their CLI wording)."""
    if value is None or isinstance(value, str):
        return parse_time(value, option, flag=f"--{option}")
    try:
        return utc(value)
    except (ValueError, TypeError, OverflowError):
        tail = f"{value!r} is not a date; use YYYY-MM-DD"
        raise worded(f"{option} {tail}", f"--{option} {tail}") from None


def _not_too_early(start: pd.Timestamp) -> pd.Timestamp:
    if start < EARLIEST:
        says = (
            f"{{}} {start:%Y-%m-%d} is before {EARLIEST:%Y-%m-%d}, the first day any coin had "
            "a price; give a later {}"
        )
        raise worded(says.format("start", "start"), says.format("--start", "--start"))
    return start


def _days_ms(days: Any, now_ms: int) -> int:
    """``days`` in ms, if it is a finite number > 0 reaching no further back than EARLIEST."""
    most = (now_ms - to_ms(EARLIEST)) / DAY_MS
    number = isinstance(days, int | float) and not isinstance(days, bool)
    if not number or not math.isfinite(days) or not 0 < days <= most:
        shown = f"{days:g}" if number else repr(days)
        head = (
            f"days is {shown}; it must be a finite number of days > 0 reaching no further "
            f"back than {EARLIEST:%Y-%m-%d} (at most {max(most, 0):,.0f} here), e.g."
        )
        raise worded(f"{head} days=365", f"--{head} --days 365")
    return int(days * DAY_MS)
