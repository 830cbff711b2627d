"""Opening the store file: look before writing anything.

A store path may name anything: a new file, a coincast store, another application's SQLite
database, a CSV file, a folder. :func:`connect` checks what is there before it changes a
byte: only a coincast store, an empty file or an empty SQLite database is opened, and only a
store opened for writing is created or initialised. Opened read-only, a store that does not
exist reads as empty and nothing is created.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from urllib.parse import quote

from ...errors import NotAStoreError, StoreError, listed, worded
from ..sniff import describe, head
from .failures import ANOTHER, refusal

SCHEMA_VERSION = 1
#: ``PRAGMA application_id`` of a coincast store ("coin"), set when a store is created.
APPLICATION_ID = 0x636F696E
TABLES = ("series", "candles", "coverage", "coins", "meta")

_SQLITE_MAGIC = b"SQLite format 3\x00"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS series (
    id INTEGER PRIMARY KEY,
    source TEXT NOT NULL, coin TEXT NOT NULL, quote TEXT NOT NULL, interval TEXT NOT NULL,
    UNIQUE (source, coin, quote, interval)
);
CREATE TABLE IF NOT EXISTS candles (
    series_id INTEGER NOT NULL REFERENCES series(id),
    ts INTEGER NOT NULL,  -- bar start, epoch milliseconds UTC
    open REAL NOT NULL, high REAL NOT NULL, low REAL NOT NULL, close REAL NOT NULL,
    volume REAL NOT NULL, market_cap REAL,
    PRIMARY KEY (series_id, ts)
) WITHOUT ROWID;
-- [start, end) ranges of bar starts already fetched, so re-fetches skip them (gaps included).
CREATE TABLE IF NOT EXISTS coverage (
    series_id INTEGER NOT NULL REFERENCES series(id),
    start INTEGER NOT NULL, end INTEGER NOT NULL,
    PRIMARY KEY (series_id, start)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS coins (id TEXT PRIMARY KEY, symbol TEXT NOT NULL, name TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


def connect(path: str, *, readonly: bool, timeout: float) -> tuple[sqlite3.Connection, bool]:
    """A connection to the store at ``path`` and whether its file exists.

    Parameters
    ----------
    path
        The store file, or ``":memory:"``.
    readonly
        Create nothing and write nothing: a missing file (or an empty one) is answered by an
        empty store in memory, and the connection refuses writes.
    timeout
        Seconds to wait for another process's lock.

    Raises
    ------
    NotAStoreError
        When ``path`` holds something other than a coincast store, an empty file or an empty
        SQLite database; nothing is written to it.
    StoreError
        When ``path`` is a folder, or its folder cannot be made.
    sqlite3.Error
        When SQLite fails (see :mod:`.failures` for the words).
    """
    if path == ":memory:":
        return _memory(readonly), True
    p = Path(path)
    _check_file(p)
    if not p.exists():
        if readonly:
            return _memory(readonly), False
        _make_folder(p)
    if not readonly:
        return _open(p, "rwc", readonly, timeout), True
    try:
        return _open(p, "rw", readonly, timeout), True
    except sqlite3.OperationalError as exc:
        # A WAL store in a folder we cannot write to: SQLite cannot make its -shm file, and
        # reads the file as it is, nobody else being able to change it there either.
        if os.access(p.parent, os.W_OK) or not _cannot_open(exc):
            raise
    return _open(p, "ro&immutable=1", readonly, timeout), True


def _cannot_open(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorname", "")
    return code.startswith(("SQLITE_READONLY", "SQLITE_CANTOPEN"))


def _open(p: Path, mode: str, readonly: bool, timeout: float) -> sqlite3.Connection:
    """Open the file at ``p`` with the URI ``mode``; check it before anything is written;
    initialise an empty database (unless ``readonly``: an empty store in memory answers)."""
    db = sqlite3.connect(_uri(p, mode), uri=True, timeout=timeout, isolation_level=None)
    db.text_factory = _text
    try:
        empty = _check_contents(db, p)
        if empty and readonly:
            db.close()
            return _memory(readonly)
        _settings(db, readonly)
        if empty:
            _create_schema(db)
    except BaseException:
        db.close()
        raise
    return db


def _text(data: bytes) -> str:
    """Stored text as ``str``; bytes that are not UTF-8 (written outside coincast) are
    replaced, so that reading such a store still works."""
    return data.decode("utf-8", errors="replace")


def _uri(p: Path, mode: str) -> str:
    return f"file:{quote(str(p.absolute()))}?mode={mode}"


def _memory(readonly: bool) -> sqlite3.Connection:
    db = sqlite3.connect(":memory:", isolation_level=None)
    _create_schema(db)
    _settings(db, readonly)
    return db


def _check_file(p: Path) -> None:
    """Refuse a folder, a device or pipe, and a file that is not SQLite, before opening."""
    if p.is_dir():
        raise StoreError(f"store path {p} is a folder; give a file such as {p}/coincast.db")
    if not p.exists():
        return
    if not p.is_file():
        raise refusal(f"store path {p} is not a regular file (a device or pipe); {ANOTHER}")
    try:
        data = head(p)
    except OSError as exc:
        raise refusal(
            f"cannot read the store {p} ({exc.strerror or exc}); make it readable (chmod u+r), "
            f"or {ANOTHER}"
        ) from None
    if data and not data.startswith(_SQLITE_MAGIC):
        raise refusal(
            f"{p} is not a coincast store: it is {describe(data)}, not an SQLite database; "
            f"{ANOTHER}",
            NotAStoreError,
        )


def _make_folder(p: Path) -> None:
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        head = f"cannot create the folder {p.parent} for the store {p} ({exc.strerror or exc}); "
        raise worded(
            StoreError(head + "open a Store in a folder you can write to"),
            head + "give a --store in a folder you can write to",
        ) from None


def _check_contents(db: sqlite3.Connection, p: Path) -> bool:
    """Whether the open database is empty (to be initialised); refuse one that is not a
    coincast store, or a store that is newer or lacks tables. Reads only."""
    version = db.execute("PRAGMA user_version").fetchone()[0]
    app = db.execute("PRAGMA application_id").fetchone()[0]
    rows = db.execute("SELECT type, name FROM sqlite_master").fetchall()
    tables = sorted(str(n) for t, n in rows if t == "table" and not str(n).startswith("sqlite_"))
    if not rows and version == 0 and app == 0:
        return True
    ours = app == APPLICATION_ID or (version >= 1 and {"series", "candles"} & set(tables))
    if not ours:
        head = (
            f"{p} is an SQLite database of another application (tables: {listed(tables, most=8)})"
        )
        raise worded(
            NotAStoreError(f"{head}, not a coincast store; open a Store at another path"),
            f"{head}, not a coincast store; give another --store",
        )
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"{p} has store schema {version}, newer than this coincast's {SCHEMA_VERSION}; "
            "upgrade coincast"
        )
    missing = [t for t in TABLES if t not in tables]
    if missing:
        head = (
            f"{p} is a coincast store missing the table(s) {', '.join(missing)}: it was changed "
            "outside coincast. Restore it from a backup, or "
        )
        raise worded(
            NotAStoreError(head + "open a Store at another path"), head + "give another --store"
        )
    return False


def _settings(db: sqlite3.Connection, readonly: bool) -> None:
    if readonly:
        db.execute("PRAGMA query_only=ON")
        return
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")  # with WAL: consistent after any crash
    db.execute("PRAGMA foreign_keys=ON")


def _create_schema(db: sqlite3.Connection) -> None:
    db.executescript(
        f"BEGIN IMMEDIATE;{_SCHEMA}PRAGMA user_version={SCHEMA_VERSION};"
        f"PRAGMA application_id={APPLICATION_ID};COMMIT;"
    )
