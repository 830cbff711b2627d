"""Names of stored series: the key (source, coin, quote, interval) and its summary."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd

from ...coins import check_coin_id, check_quote
from ...errors import NameFormError, shown
from ...intervals import check_interval
from ...series import FIRST_MS, LAST_MS, from_ms

#: A source name as stored: ``coingecko``, ``exchange:binance``, ``csv``, ``synthetic``.
_SOURCE = re.compile(r"[a-z0-9][a-z0-9:._-]{0,63}")


@dataclass(frozen=True)
class SeriesKey:
    """Identifies one stored series.

    Examples
    --------
    >>> str(SeriesKey("coingecko", "bitcoin", "usd", "1d"))
    'bitcoin/usd 1d (coingecko)'
    """

    source: str
    coin: str
    quote: str
    interval: str

    def __str__(self) -> str:
        return f"{self.coin}/{self.quote} {self.interval} ({self.source})"


@dataclass(frozen=True)
class SeriesInfo:
    """A stored series with its row count and time span."""

    key: SeriesKey
    rows: int
    start: pd.Timestamp | None
    end: pd.Timestamp | None

    def to_dict(self) -> dict[str, object]:
        """JSON-ready dict: ``source, coin, quote, interval, rows, start, end``."""
        k = self.key
        return {
            "source": k.source,
            "coin": k.coin,
            "quote": k.quote,
            "interval": k.interval,
            "rows": self.rows,
            "start": self.start.isoformat() if self.start is not None else None,
            "end": self.end.isoformat() if self.end is not None else None,
        }


def _ts(ms: object) -> pd.Timestamp | None:
    """The time of a stored bar start; ``None`` for none, or for a value no bar can have
    (a store changed outside coincast), so that listing such a store still works."""
    if not isinstance(ms, int) or not FIRST_MS <= ms <= LAST_MS:
        return None
    return from_ms(ms)


def _text(value: object) -> str:
    """A stored name that is not text (a blob in a store changed outside coincast) as text."""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def key_of(frame: pd.DataFrame) -> SeriesKey:
    """The :class:`SeriesKey` named by a candle frame's attrs."""
    a = frame.attrs
    return SeriesKey(a["source"], a["coin"], a["quote"], a["interval"])


def check_key(key: SeriesKey) -> None:
    """Refuse a key that must not name a stored series: every part in its stored form (coin
    and quote as :mod:`coincast.coins` checks them, a known interval, a plain source name).

    The last guard before a write: names reach the store from users, files and servers, and
    each entry point checks them first; this check makes sure none slips through.

    Raises
    ------
    NameFormError
        Naming the part and the value (cut to 40 characters).
    IntervalError
        When the interval is unknown.
    """
    for part, value, canonical in (
        ("coin", key.coin, check_coin_id(key.coin)),
        ("quote", key.quote, check_quote(key.quote)),
    ):
        if canonical != value:
            raise NameFormError(
                f"{part} {shown(value)} is not in the form the store keeps: give {canonical!r} "
                "(coincast.coins.check_coin_id and check_quote give that form)"
            )
    check_interval(key.interval)
    if not isinstance(key.source, str) or not _SOURCE.fullmatch(key.source):
        raise NameFormError(
            f"source {shown(key.source)} is not a valid source name: 1 to 64 lowercase letters, "
            "digits, ':', '-', '_' or '.', e.g. coingecko or exchange:binance"
        )
