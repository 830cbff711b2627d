"""Exceptions raised by coincast.

Every error a user can cause derives from :class:`CoincastError`; the CLI turns it into one
``Error: ...`` line and exit code 1. Messages name the value, the requirement and the fix.
"""

from __future__ import annotations


class CoincastError(Exception):
    """Base class of every error coincast raises on purpose."""


class DataError(CoincastError):
    """Candle data breaks the canonical frame's contract (prices, ordering, NaN)."""


class ParseError(DataError):
    """A file could not be read as candles; the message names file, row and column."""


class UnknownCoinError(CoincastError):
    """A coin id or symbol that no source knows; the message lists close matches."""


class SourceError(CoincastError):
    """A data source failed or refused the request (after any retries)."""


class HistoryLimitError(SourceError):
    """The request reaches further back than the source's plan allows."""


class IntervalError(CoincastError):
    """An interval that is unknown, or finer than the stored or served data."""


class StoreError(CoincastError):
    """The local store cannot answer (no such series, ambiguous choice, bad file)."""


class ShortHistoryError(DataError):
    """A series has too few rows for one window of lookback, horizon and feature warm-up."""
