"""The interface every network or generated source implements."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import pandas as pd


class Source(Protocol):
    """A place candles come from.

    ``fetch_chunk`` returns the canonical candle frame for bars starting in
    ``[start_ms, end_ms)``; :func:`coincast.data.fetch.fetch` splits a request with ``chunks``,
    writes each chunk in one transaction and records what it covered.
    """

    name: str  #: stored source name: "coingecko", "exchange:binance", "synthetic"
    default_quote: str  #: quote used when none is given ("usd", "usdt")

    def resolve_coin(self, coin: str) -> str:
        """Canonical coin id for an id, symbol or name; raise UnknownCoinError otherwise."""
        ...

    def check_request(
        self, coin: str, quote: str, interval: str, start_ms: int, end_ms: int
    ) -> None:
        """Raise before any data request when the source cannot serve this at all."""
        ...

    def chunks(self, interval: str, start_ms: int, end_ms: int) -> list[tuple[int, int]]:
        """Split ``[start_ms, end_ms)`` into the ranges fetched (and stored) one at a time."""
        ...

    def fetch_chunk(
        self, coin: str, quote: str, interval: str, start_ms: int, end_ms: int
    ) -> pd.DataFrame:
        """Candles for bars starting in ``[start_ms, end_ms)``."""
        ...


Clock = Callable[[], pd.Timestamp]


def utc_now() -> pd.Timestamp:
    """The current time, tz-aware UTC."""
    return pd.Timestamp.now(tz="UTC")


def split_range(start_ms: int, end_ms: int, size_ms: int) -> list[tuple[int, int]]:
    """``[start, end)`` cut into consecutive pieces of at most ``size_ms``."""
    return [(s, min(s + size_ms, end_ms)) for s in range(start_ms, end_ms, size_ms)]
