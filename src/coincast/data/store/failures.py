"""SQLite's failures in words: what happened to the store file, and what to do about it.

Every :class:`sqlite3.Error` the store meets becomes one line naming the file, what went
wrong (disk full, read-only, locked, damaged, not a database, changed outside coincast) and
the fix; :class:`~coincast.data.store.Store` raises it as a
:class:`~coincast.errors.StoreError`, and the CLI prints the same words for any
``sqlite3.Error`` that escapes elsewhere.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable
from typing import Any, TypeVar

from ...errors import CoincastError, StoreError, worded

F = TypeVar("F", bound=Callable[..., Any])

#: the way to another store, in flags (an error's ``cli``) ...
ANOTHER = "give another --store (a new file name makes a new store)"
#: ... and in Python (its message)
ANOTHER_PY = "open a Store at another path (a new file name makes a new store)"


def refusal(message: str, error: type[StoreError] = StoreError) -> CoincastError:
    """``message``, worded in flags (:data:`ANOTHER`), as an ``error`` that says it in Python
    (:data:`ANOTHER_PY`) and carries the flags' wording as its ``cli``.

    Examples
    --------
    >>> exc = refusal(f"the store x.db is damaged; {ANOTHER}")
    >>> str(exc)
    'the store x.db is damaged; open a Store at another path (a new file name makes a new store)'
    >>> exc.cli
    'the store x.db is damaged; give another --store (a new file name makes a new store)'
    """
    return worded(error(message.replace(ANOTHER, ANOTHER_PY)), message)


def explain(exc: sqlite3.Error, path: str) -> str:
    """One line saying what ``exc`` means for the store at ``path`` and how to go on, in the
    command line's words (``--store``; :func:`store_error` says it in Python).

    Examples
    --------
    >>> try:
    ...     sqlite3.connect(":memory:").execute("SELECT * FROM candles")
    ... except sqlite3.Error as exc:
    ...     print(explain(exc, "c.db"))  # doctest: +ELLIPSIS
    the store c.db lacks part of coincast's schema (no such table: candles); ...
    """
    code = getattr(exc, "sqlite_errorname", None) or type(exc).__name__
    said = f"{code}: {exc}"
    where = f"the store {path}"
    for prefixes, message in _MESSAGES:
        if code.startswith(prefixes):
            return message.format(where=where, path=path, said=said)
    if "no such table" in str(exc) or "no such column" in str(exc):
        return (
            f"{where} lacks part of coincast's schema ({exc}); it was changed outside coincast. "
            f"Restore it from a backup, or {ANOTHER}"
        )
    return f"{where} failed ({said}); try again, or {ANOTHER}"


_MESSAGES: tuple[tuple[tuple[str, ...], str], ...] = (
    (
        ("SQLITE_FULL",),
        "{where} could not be written: the disk is full ({said}); nothing of this command "
        "was saved. Free some disk space and run it again",
    ),
    (
        ("SQLITE_READONLY", "SQLITE_PERM", "SQLITE_AUTH"),
        "{where} is read-only ({said}); coincast cannot write to it. Make the file and its "
        "folder writable (chmod u+w), or " + ANOTHER,
    ),
    (
        ("SQLITE_CANTOPEN",),
        "cannot open {where} ({said}); its folder must exist and be writable by you. Check "
        "the permissions, or " + ANOTHER,
    ),
    (
        ("SQLITE_BUSY", "SQLITE_LOCKED"),
        "{where} is locked ({said}); is another coincast writing to it? Try again when it "
        "has finished",
    ),
    (
        ("SQLITE_NOTADB",),
        "{path} is not an SQLite database ({said}), so not a coincast store; " + ANOTHER,
    ),
    (
        ("SQLITE_CORRUPT",),
        "{where} is damaged ({said}); restore it from a backup, or " + ANOTHER,
    ),
    (
        ("SQLITE_CONSTRAINT",),
        "{where} refused the write ({said}); nothing of it was saved. Write only frames that "
        "coincast.series.validate_candles accepts",
    ),
    (
        ("SQLITE_IOERR",),
        "reading or writing {where} failed ({said}); check the disk and try again",
    ),
)


def store_error(exc: sqlite3.Error, path: str) -> CoincastError:
    """``exc`` as a :class:`~coincast.errors.StoreError` carrying :func:`explain`'s line, in
    Python's words (:data:`ANOTHER_PY`), with the command line's as its ``cli``."""
    return refusal(explain(exc, path))


def guarded(method: F) -> F:
    """Raise an :class:`sqlite3.Error` inside a method of an object with a ``path`` (the
    :class:`~coincast.data.store.Store`) as a :class:`~coincast.errors.StoreError` saying
    what happened to the file."""

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.Error as exc:
            raise store_error(exc, self.path) from exc

    return wrapper  # type: ignore[return-value]
