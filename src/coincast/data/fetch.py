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
from ..series import validate_candles
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
    now = now if now is not None else utc_now()
    coin = source.resolve_coin(coin)
    quote = (quote or source.default_quote).lower()
    lo, hi = _range(interval, start, end, days, now)
    key = SeriesKey(source.name, coin, quote, interval)
    missing = store.missing_ranges(key, lo, hi)
    pieces = [c for s, e in missing for c in source.chunks(interval, s, e)]
    if pieces:
        source.check_request(coin, quote, interval, pieces[0][0], pieces[-1][1])
    new = 0
    for i, (s, e) in enumerate(pieces):
        frame = validate_candles(source.fetch_chunk(coin, quote, interval, s, e))
        new += store.write_candles(frame, covered=(s, e))
        log.debug("%s: stored %d bars for [%d, %d)", key, len(frame), s, e)
        if progress is not None:
            progress(i + 1, len(pieces))
    info = store.info(key)
    return FetchResult(
        key,
        new,
        info.rows if info else 0,
        info.start if info else None,
        info.end if info else None,
        len(pieces),
    )


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
    now_ms = _ms(now)
    hi = bar_start(now_ms, interval)  # start of the bar still forming: excluded
    if end is not None:  # inclusive: the bar starting at or containing `end` is the last
        hi = min(hi, bar_start(_ms(end), interval) + interval_ms(interval))
    if days is not None:
        if days <= 0:
            raise CoincastError(f"--days must be > 0, got {days:g}")
        lo = bar_start(now_ms - int(days * 86_400_000), interval)
    elif start is not None:
        lo = bar_start(_ms(start) + interval_ms(interval) - 1, interval)  # first whole bar
    else:
        lo = bar_start(now_ms - 365 * 86_400_000 + 86_400_000, interval)
    if lo >= hi:
        raise CoincastError(
            f"the range {pd.Timestamp(lo, unit='ms', tz='UTC')} .. "
            f"{pd.Timestamp(hi, unit='ms', tz='UTC')} holds no complete {interval} bar; "
            "widen it with --start/--end or --days"
        )
    return lo, hi


def _ms(t: pd.Timestamp | str) -> int:
    ts = pd.Timestamp(t)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return int(ts.value // 1_000_000)
