"""Exceptions raised by coincast.

Every error a user can cause derives from :class:`CoincastError`; the CLI turns it into one
``Error: ...`` line and exit code 1. Messages name the value, the requirement and the fix.
"""

from __future__ import annotations

from typing import TypeVar

E = TypeVar("E", bound=Exception)


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


class NotAStoreError(StoreError):
    """The store path holds something else: another application's database, a file that is
    not SQLite, or a coincast store changed outside coincast (tables missing)."""


class NameFormError(CoincastError):
    """A coin id or quote currency not in the form coincast stores (see :mod:`coincast.coins`)."""


class ShortHistoryError(DataError):
    """A series has too few rows for one window of lookback, horizon and feature warm-up."""


def worded(error: E | str, cli: str) -> E | CoincastError:
    """``error``, worded for Python (argument names: ``test=``), carrying in its ``cli``
    attribute its wording in the command line's flags (``--test``), which the CLI prints
    instead (:func:`coincast.cli.common.handles_errors`). A string becomes a
    :class:`CoincastError`; another exception keeps its type (a ``ValueError`` raised in a
    pydantic validator carries its ``cli`` through:
    :func:`coincast.models.config.config_error`).

    Examples
    --------
    >>> exc = worded("test must be >= 1, got 0", "--test must be >= 1, got 0")
    >>> str(exc), exc.cli
    ('test must be >= 1, got 0', '--test must be >= 1, got 0')
    >>> type(worded(StoreError("no such series"), "no such series")).__name__
    'StoreError'
    """
    exc = CoincastError(error) if isinstance(error, str) else error
    exc.cli = cli  # type: ignore[attr-defined]
    return exc


def shown(value: object, limit: int = 40) -> str:
    """``value`` as a message shows it: quoted, control characters escaped (``repr``), and cut
    after ``limit`` characters, with the full length said.

    Examples
    --------
    >>> shown("bitcoin")
    "'bitcoin'"
    >>> shown("x" * 5000, limit=3)
    "'xxx'... (5,000 characters)"
    """
    text = str(value)
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}... ({len(text):,} characters)"


def listed(names: list[object], most: int = 12) -> str:
    """Names for a message, comma-separated: a plain short name as it is, another one as
    :func:`shown` gives it; at most ``most``, then how many more.

    Examples
    --------
    >>> listed(["a", "b c", "x" * 50], most=2)
    'a, b c and 1 more'
    >>> listed([])
    'none'
    """
    if not names:
        return "none"
    plain = [str(n) if str(n).isprintable() and len(str(n)) <= 40 else shown(n) for n in names]
    more = f" and {len(names) - most} more" if len(names) > most else ""
    return ", ".join(plain[:most]) + more
