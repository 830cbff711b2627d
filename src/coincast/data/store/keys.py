"""Names of stored series: the key (source, coin, quote, interval) and its summary."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from ...series import from_ms


@dataclass(frozen=True)
class SeriesKey:
    """Identifies one stored series."""

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


def _ts(ms: int | None) -> pd.Timestamp | None:
    return None if ms is None else from_ms(ms)


def key_of(frame: pd.DataFrame) -> SeriesKey:
    """The :class:`SeriesKey` named by a candle frame's attrs."""
    a = frame.attrs
    return SeriesKey(a["source"], a["coin"], a["quote"], a["interval"])
