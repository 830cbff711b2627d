"""The local store: one SQLite file (WAL) holding candles from every source.

Candles are keyed by (source, coin, quote, interval, ts). Each write is one transaction of
idempotent upserts together with the time range it covers, so a killed fetch leaves a
consistent store and a later fetch asks the network only for ranges not yet covered.

Examples
--------
>>> from coincast.data.sources.synthetic import random_walk
>>> with Store(":memory:") as store:
...     new = store.write_candles(random_walk(100, seed=1))
...     store.read_candles("synthetic-walk", interval="1d").shape
(100, 5)
"""

from __future__ import annotations

import itertools
import math
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from ...errors import StoreError
from ...intervals import interval_ms
from ...series import COLUMNS, ms_from_index
from .failures import guarded, store_error
from .keys import SeriesKey, check_key, key_of
from .opening import connect
from .reading import Reading

_UPSERT = (
    "INSERT INTO candles (series_id, ts, open, high, low, close, volume, market_cap) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (series_id, ts) DO UPDATE SET "
    "open=excluded.open, high=excluded.high, low=excluded.low, close=excluded.close, "
    "volume=excluded.volume, market_cap=coalesce(excluded.market_cap, candles.market_cap)"
)


_WRITE_SLICE = 50_000


class Store(Reading):
    """A coincast store in one SQLite file.

    Parameters
    ----------
    path
        The database file (created with its folder if missing), or ``":memory:"``. A file
        that is not a coincast store (another application's database, a CSV file) is refused
        before anything is written to it.
    readonly
        Open for reading only: nothing is created or changed, not even a missing folder; a
        store that does not exist yet reads as empty (:attr:`exists` is then ``False``).
    timeout
        Seconds to wait when another process holds the write lock.

    Raises
    ------
    StoreError
        Naming the file, what is wrong with it and what to do (see :mod:`.failures`).

    Examples
    --------
    >>> from coincast.data.sources import synthetic_candles
    >>> with Store(":memory:") as store:
    ...     store.write_candles(synthetic_candles(48, "1h", coin="bitcoin"))
    ...     len(store.read_candles("btc", "1d"))
    48
    2
    """

    def __init__(self, path: str | Path, *, readonly: bool = False, timeout: float = 30) -> None:
        self.path = str(path)
        self.readonly = readonly
        try:
            self._db, self.exists = connect(self.path, readonly=readonly, timeout=timeout)
        except sqlite3.Error as exc:
            raise store_error(exc, self.path) from exc

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)

    # -- lifecycle --------------------------------------------------------------------------

    @guarded
    def close(self) -> None:
        """Close the database connection."""
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing ------------------------------------------------------------------------------

    @guarded
    def write_candles(self, frame: pd.DataFrame, covered: tuple[int, int] | None = None) -> int:
        """Upsert a validated candle frame in one transaction; return how many rows are new.

        Parameters
        ----------
        frame
            A canonical candle frame (see :mod:`coincast.series`).
        covered
            ``[start, end)`` epoch-ms range of bar starts this write covers, recorded so that
            incremental fetches skip it. Defaults to the frame's first to last bar.
        """
        key = key_of(frame)
        self._check_write(key)
        ts = ms_from_index(frame.index)
        if covered is None and len(ts):
            covered = (int(ts[0]), int(ts[-1]) + interval_ms(key.interval))
        cols = [frame[c].to_numpy() for c in COLUMNS]
        cap = frame["market_cap"].to_numpy() if "market_cap" in frame.columns else None
        with self._transaction() as db:
            sid = self._series_id(key, create=True)
            before = self._count(sid, ts)
            # Slices keep the Python objects of only one slice alive at a time.
            for a in range(0, len(ts), _WRITE_SLICE):
                db.executemany(_UPSERT, _rows(sid, ts, cols, cap, slice(a, a + _WRITE_SLICE)))
            if covered is not None and covered[1] > covered[0]:
                self._add_coverage(sid, *covered)
            return self._count(sid, ts) - before

    def _check_write(self, key: SeriesKey | None = None) -> None:
        """Refuse a write to a store opened read-only, or under a key no series may have."""
        if self.readonly:
            raise StoreError(
                f"the store {self.path} was opened read-only (readonly=True); open it with "
                "Store(path) to write"
            )
        if key is not None:
            check_key(key)

    def _count(self, sid: int, ts: np.ndarray) -> int:
        if not len(ts):
            return 0
        sql = "SELECT COUNT(*) FROM candles WHERE series_id=? AND ts BETWEEN ? AND ?"
        return int(self._db.execute(sql, (sid, int(ts[0]), int(ts[-1]))).fetchone()[0])

    @guarded
    def add_coverage(self, key: SeriesKey, start: int, end: int) -> None:
        """Record ``[start, end)`` as fetched even though it holds no candles (a gap)."""
        self._check_write(key)
        with self._transaction():
            self._add_coverage(self._series_id(key, create=True), start, end)

    def _add_coverage(self, sid: int, start: int, end: int) -> None:
        db = self._db
        sql = "SELECT start, end FROM coverage WHERE series_id=? AND start<=? AND end>=?"
        touching = db.execute(sql, (sid, end, start)).fetchall()
        for s, e in touching:
            start, end = min(start, s), max(end, e)
        db.execute(
            "DELETE FROM coverage WHERE series_id=? AND start<=? AND end>=?", (sid, end, start)
        )
        db.execute("INSERT INTO coverage VALUES (?, ?, ?)", (sid, start, end))

    # -- coin list cache ------------------------------------------------------------------------

    @guarded
    def save_coins(self, coins: list[dict[str, str]], fetched_at: pd.Timestamp) -> None:
        """Replace the cached coin list (id, symbol, name) in one transaction."""
        self._check_write()
        with self._transaction() as db:
            db.execute("DELETE FROM coins")
            db.executemany(
                "INSERT OR REPLACE INTO coins VALUES (?, ?, ?)",
                ((c["id"], c["symbol"], c["name"]) for c in coins),
            )
            db.execute(
                "INSERT OR REPLACE INTO meta VALUES ('coins_fetched_at', ?)",
                (fetched_at.isoformat(),),
            )

    @guarded
    def load_coins(self) -> tuple[list[dict[str, str]], pd.Timestamp | None]:
        """The cached coin list and when it was fetched (``None`` if never)."""
        rows = self._db.execute("SELECT id, symbol, name FROM coins").fetchall()
        at = self._db.execute("SELECT value FROM meta WHERE key='coins_fetched_at'").fetchone()
        coins = [{"id": i, "symbol": s, "name": n} for i, s, n in rows]
        return coins, (pd.Timestamp(at[0]) if at else None)

    @guarded
    def integrity_check(self) -> str:
        """SQLite's ``PRAGMA integrity_check`` result (``"ok"`` when sound)."""
        return str(self._db.execute("PRAGMA integrity_check").fetchone()[0])

    @guarded
    def delete_series(self, key: SeriesKey) -> int:
        """Remove one series (candles, coverage, name) in one transaction; return how many
        candles went (0, and nothing changed, when ``key`` is not stored)."""
        self._check_write()
        with self._transaction() as db:
            sid = self._series_id(key)
            if sid is None:
                return 0
            gone = db.execute("DELETE FROM candles WHERE series_id=?", (sid,)).rowcount
            for sql in ("DELETE FROM coverage WHERE series_id=?", "DELETE FROM series WHERE id=?"):
                db.execute(sql, (sid,))
            return int(gone)


class _Transaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT`` (or ``ROLLBACK`` on error); re-entrant."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        self.outer = False

    def __enter__(self) -> sqlite3.Connection:
        if not self.db.in_transaction:
            self.db.execute("BEGIN IMMEDIATE")
            self.outer = True
        return self.db

    def __exit__(self, exc_type: object, *_: object) -> None:
        if not self.outer:
            return
        if exc_type is None:
            self.db.execute("COMMIT")
        elif self.db.in_transaction:  # SQLite may have rolled back itself (a full disk)
            self.db.execute("ROLLBACK")


def _rows(
    sid: int, ts: np.ndarray, cols: list[np.ndarray], cap: np.ndarray | None, part: slice
) -> Iterator[tuple]:
    """Rows ``(series_id, ts, open, high, low, close, volume, market_cap)`` of one slice."""
    caps = (
        itertools.repeat(None)
        if cap is None
        else (None if math.isnan(x) else x for x in cap[part].tolist())
    )
    return zip(itertools.repeat(sid), ts[part].tolist(), *(c[part].tolist() for c in cols), caps)
