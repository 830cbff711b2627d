"""A sweep's two periods: validation (where the trials are scored and the search happens)
and test (touched once, at the end). Each is a number of bars or a ``START..END`` span; by
default the test period is the last 365 bars and the validation period the 365 before.

A trial's frames are cut at the validation period's last bar: no trial is given a test bar.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from ...errors import CoincastError
from ...series import describe, parse_time

DEFAULT_BARS = 365

Period = int | tuple[pd.Timestamp, pd.Timestamp]


def parse_period(text: str | int | None, flag: str) -> Period:
    """``"2024-01-01..2024-06-30"`` (both inclusive) or a number of bars (``"90"``).

    Examples
    --------
    >>> parse_period("90", "--valid"), parse_period(None, "--test")
    (90, 365)
    >>> parse_period("2024-01-01..2024-03-31", "--test")[1].month
    3
    """
    if text is None:
        return DEFAULT_BARS
    if isinstance(text, int) or str(text).strip().isdigit():
        n = int(text)
        if n < 1:
            raise CoincastError(f"{flag} is {n} bars; it must be at least 1")
        return n
    start, sep, end = str(text).partition("..")
    if not sep or not start.strip() or not end.strip():
        raise CoincastError(f"{flag} is {text!r}; give START..END (e.g. 2024-01-01..2024-06-30) "
                            "or a number of bars")  # fmt: skip
    lo, hi = parse_time(start, flag), parse_time(end, flag)
    if lo > hi:
        raise CoincastError(f"{flag} {text}: the start is after the end")
    return (lo, hi)


@dataclass(frozen=True)
class Periods:
    """The validation and test periods of a sweep (numbers of bars, or spans)."""

    valid: Period = DEFAULT_BARS
    test: Period = DEFAULT_BARS

    def rows(self, frame: pd.DataFrame) -> tuple[int, int, int, int]:
        """``(valid_first, valid_last, test_first, test_last)``: row positions in ``frame``.

        Examples
        --------
        >>> from coincast.data.sources import synthetic_candles
        >>> Periods(valid=20, test=10).rows(synthetic_candles(100))
        (70, 89, 90, 99)
        """
        n = len(frame)
        t0, t1 = _span(frame, self.test, n - 1, "--test")
        v0, v1 = _span(frame, self.valid, t0 - 1, "--valid")
        if v1 >= t0:
            raise CoincastError(
                f"the validation period ({frame.index[v0]:%Y-%m-%d} .. {frame.index[v1]:%Y-%m-%d}) "
                f"must end before the test period starts ({frame.index[t0]:%Y-%m-%d}) in "
                f"{describe(frame)}"
            )
        return v0, v1, t0, t1

    def describe(self) -> dict:
        """The periods as JSON stores them."""
        return {k: v if isinstance(v, int) else [v[0].isoformat(), v[1].isoformat()]
                for k, v in (("valid", self.valid), ("test", self.test))}  # fmt: skip


def _span(frame: pd.DataFrame, period: Period, last: int, flag: str) -> tuple[int, int]:
    """First and last row of ``period``; a number of bars ends at row ``last``."""
    if isinstance(period, int):
        first = last - period + 1
    else:
        first = int(frame.index.searchsorted(period[0]))
        last = int(frame.index.searchsorted(period[1], side="right")) - 1
    if first < 1 or last < first:
        raise CoincastError(
            f"{flag}: the period does not fit in {describe(frame)} ({len(frame)} rows); shorten "
            "--valid or --test, or fetch more history"
        )
    return first, last
