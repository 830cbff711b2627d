"""The time scales coincast knows: ``1s 1m 5m 15m 30m 1h 4h 1d 1w``.

Weekly bars start on Monday 00:00 UTC (as on Binance and Yahoo); every other bar starts on a
multiple of its length since the Unix epoch.
"""

from __future__ import annotations

from .errors import IntervalError

#: Interval name -> length in milliseconds, finest first.
INTERVALS: dict[str, int] = {
    "1s": 1_000,
    "1m": 60_000,
    "5m": 300_000,
    "15m": 900_000,
    "30m": 1_800_000,
    "1h": 3_600_000,
    "4h": 14_400_000,
    "1d": 86_400_000,
    "1w": 604_800_000,
}

# The Unix epoch (1970-01-01) was a Thursday; Monday-aligned weeks are offset by 4 days.
_WEEK_OFFSET_MS = 4 * 86_400_000


def interval_ms(interval: str) -> int:
    """Length of ``interval`` in milliseconds.

    Examples
    --------
    >>> interval_ms("1h")
    3600000
    """
    check_interval(interval)
    return INTERVALS[interval]


def check_interval(interval: str) -> str:
    """Return ``interval`` if it is known, else raise :class:`IntervalError`."""
    if interval not in INTERVALS:
        known = " ".join(INTERVALS)
        raise IntervalError(f"unknown interval {interval!r}; use one of: {known}")
    return interval


def bar_start(ts_ms: int, interval: str) -> int:
    """Start (ms) of the bar of ``interval`` that contains the instant ``ts_ms``."""
    step = interval_ms(interval)
    offset = _WEEK_OFFSET_MS if interval == "1w" else 0
    return (ts_ms - offset) // step * step + offset


def bars_per_year(interval: str) -> int:
    """Bars of ``interval`` in 365 days, rounded: the "last year of bars" every windowed
    statistic states (e.g. MASE's scale).

    Examples
    --------
    >>> bars_per_year("1d"), bars_per_year("1h"), bars_per_year("1w"), bars_per_year("4h")
    (365, 8760, 52, 2190)
    """
    return max(1, round(365 * 86_400_000 / interval_ms(interval)))
