"""The ledger: an append-only, hash-chained record of live forecasts and their outcomes.

Two tables live in the store beside the candles, made on the first write:

- ``forecasts``: what was issued and when, one row per forecast step. Its ``row_hash`` is
  the SHA-256 of the row's issued fields (canonical JSON) and the previous row's hash.
- ``outcomes``: one row per scored forecast, written once its target bar is stored
  (``actual``, ``error``, ``naive_error``), with its own chain; each outcome's hash also
  covers the ``row_hash`` of the forecast it scores.

So an issued forecast is never rewritten to add its score, and a later edit of either an
issued forecast or a recorded outcome breaks a chain: :meth:`Ledger.verify` names the first
broken row. SQLite triggers refuse ``UPDATE`` and ``DELETE`` on both tables; the hashes catch
what is done around them. Cutting rows off the end leaves a shorter valid chain: note the
head hash :meth:`Ledger.verify` gives to detect that.

Examples
--------
>>> from coincast.data.sources import synthetic_candles
>>> from coincast.data.store import Store
>>> with Store(":memory:") as s:
...     frame = synthetic_candles(10, "1h", coin="demo")
...     _ = s.write_candles(frame)
...     last = int(frame.index[-1].value // 1_000_000)
...     f = Forecast("r", "0" * 64, "synthetic", "demo", "usd", "1h", last, 1.0,
...                  last + 3_600_000, 1, 1.1, None, None, "2024-01-01T00:00:00+00:00")
...     ledger = Ledger(s)
...     ledger.append([f]), ledger.append([f]), ledger.verify().ok
(1, 0, True)
"""

from __future__ import annotations

import hashlib
import json
import math
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING

import pandas as pd

from ...errors import StoreError

if TYPE_CHECKING:
    from .db import Store

GENESIS = "0" * 64  #: the ``prev_hash`` of each chain's first row

_SCHEMA = """
CREATE TABLE IF NOT EXISTS forecasts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    issued_at TEXT NOT NULL,  -- ISO time, UTC
    run TEXT NOT NULL, weights_sha256 TEXT NOT NULL,
    source TEXT NOT NULL, coin TEXT NOT NULL, quote TEXT NOT NULL, interval TEXT NOT NULL,
    last_ts INTEGER NOT NULL,  -- the last bar the model saw, epoch ms
    last_close REAL NOT NULL,  -- its close: the naive forecast
    target_ts INTEGER NOT NULL, step INTEGER NOT NULL,
    yhat REAL NOT NULL, lo REAL, hi REAL,
    prev_hash TEXT NOT NULL, row_hash TEXT NOT NULL UNIQUE,
    UNIQUE (run, weights_sha256, source, coin, quote, interval, last_ts, target_ts)
);
CREATE INDEX IF NOT EXISTS forecasts_target ON forecasts (source, coin, quote, interval,
    target_ts);
CREATE TABLE IF NOT EXISTS outcomes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    forecast_id INTEGER NOT NULL UNIQUE REFERENCES forecasts(id),
    scored_at TEXT NOT NULL,
    actual REAL NOT NULL, error REAL NOT NULL, naive_error REAL NOT NULL,
    prev_hash TEXT NOT NULL, row_hash TEXT NOT NULL UNIQUE
);
"""
_TRIGGERS = [
    f"CREATE TRIGGER IF NOT EXISTS {t}_no_{op.lower()} BEFORE {op} ON {t} "
    f"BEGIN SELECT RAISE(ABORT, 'the ledger is append-only: {t} rows are never changed'); END"
    for t in ("forecasts", "outcomes")
    for op in ("UPDATE", "DELETE")
]
#: Run one by one inside the writer's transaction (executescript would commit it).
_STATEMENTS = [s for s in _SCHEMA.split(";") if s.strip()] + _TRIGGERS
TABLES = ("forecasts", "outcomes")


class StaleForecastError(StoreError):
    """A forecast refused: its last bar is not the newest stored one, or its target exists."""


@dataclass(frozen=True)
class Forecast:
    """One issued forecast step: the fields its hash covers (besides ``prev_hash``)."""

    run: str  #: the run folder's name
    weights_sha256: str  #: SHA-256 of the run's model.safetensors bytes
    source: str
    coin: str
    quote: str
    interval: str
    last_ts: int  #: the last bar the model saw (epoch ms)
    last_close: float  #: its close
    target_ts: int  #: the bar forecast (epoch ms)
    step: int  #: 1 .. horizon
    yhat: float
    lo: float | None
    hi: float | None
    issued_at: str  #: ISO time, UTC


_ISSUED = tuple(f.name for f in fields(Forecast))
_SCORED = ("forecast_id", "forecast_hash", "scored_at", "actual", "error", "naive_error")


@dataclass(frozen=True)
class Verification:
    """What :meth:`Ledger.verify` found: ``ok``, rows checked, the first broken row."""

    ok: bool
    forecasts: int
    outcomes: int
    head: str  #: the last forecast row's hash (note it to detect a cut-off tail)
    broken: str | None = None  #: the first broken row, in words


def row_hash(values: dict[str, object], prev_hash: str) -> str:
    """SHA-256 of ``values`` as canonical JSON (sorted keys, exact floats, NaN as null) and
    ``prev_hash``."""
    clean = {k: _plain(v) for k, v in values.items()}
    text = json.dumps(clean, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(f"{prev_hash}|{text}".encode()).hexdigest()


def _issued(f: Forecast) -> dict[str, object]:
    """``f``'s fields as SQLite gives them back (REAL columns as float, NaN bands as NULL),
    so that the hash written is the hash verified."""
    values = asdict(f)
    for k in ("last_close", "yhat", "lo", "hi"):
        v = values[k]
        values[k] = None if v is None or (k in ("lo", "hi") and math.isnan(v)) else float(v)
    for k in ("last_ts", "target_ts", "step"):
        values[k] = int(values[k])
    return values


def _plain(v: object) -> object:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


class Ledger:
    """The forecasts and outcomes of a :class:`~coincast.data.store.Store`."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # -- writing ------------------------------------------------------------------------------

    def append(
        self, forecasts: Sequence[Forecast], on_row: Callable[[int], None] | None = None
    ) -> int:
        """Append ``forecasts`` in one transaction; return how many rows are new.

        A forecast already recorded (same run, weights, series, ``last_ts``, ``target_ts``)
        is skipped. ``on_row(n)`` is called after each row is written, inside the transaction
        (a test hook).

        Raises
        ------
        StaleForecastError
            When a forecast's ``last_ts`` is not the newest stored bar of its series, or its
            target bar is already stored: nothing is written.
        """
        self.store._check_write()
        new = 0
        with self.store._transaction() as db:
            self._create(db)
            for given in forecasts:
                f = Forecast(**_issued(given))  # plain ints and floats, as stored
                self._check_fresh(db, f)
                if self._exists(db, f):
                    continue
                prev = self._head(db, "forecasts")
                values = asdict(f)
                cols = ", ".join((*_ISSUED, "prev_hash", "row_hash"))
                marks = ", ".join("?" * (len(_ISSUED) + 2))
                db.execute(
                    f"INSERT INTO forecasts ({cols}) VALUES ({marks})",
                    (*(values[k] for k in _ISSUED), prev, row_hash(values, prev)),
                )
                new += 1
                if on_row is not None:
                    on_row(new)
        return new

    def score(self, scored_at: str) -> dict[str, int]:
        """Record the outcome of every forecast whose target bar is now stored, in one
        transaction; return how many were scored, per coin."""
        self.store._check_write()
        with self.store._transaction() as db:
            self._create(db)
            sql = (
                "SELECT f.id, f.row_hash, f.yhat, f.last_close, c.close, f.coin FROM forecasts f "
                "JOIN series s ON (s.source, s.coin, s.quote, s.interval) = "
                "(f.source, f.coin, f.quote, f.interval) "
                "JOIN candles c ON c.series_id = s.id AND c.ts = f.target_ts "
                "LEFT JOIN outcomes o ON o.forecast_id = f.id "
                "WHERE o.id IS NULL ORDER BY f.id"
            )
            scored: dict[str, int] = {}
            for fid, fhash, yhat, last_close, actual, coin in db.execute(sql).fetchall():
                scored[coin] = scored.get(coin, 0) + 1
                values = {
                    "forecast_id": fid, "forecast_hash": fhash, "scored_at": scored_at,
                    "actual": actual, "error": abs(actual - yhat),
                    "naive_error": abs(actual - last_close),
                }  # fmt: skip
                prev = self._head(db, "outcomes")
                db.execute(
                    "INSERT INTO outcomes (forecast_id, scored_at, actual, error, naive_error, "
                    "prev_hash, row_hash) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (fid, scored_at, values["actual"], values["error"], values["naive_error"],
                     prev, row_hash(values, prev)),
                )  # fmt: skip
        return scored

    @staticmethod
    def _create(db: sqlite3.Connection) -> None:
        if not _has_tables(db):
            for statement in _STATEMENTS:
                db.execute(statement)

    @staticmethod
    def _check_fresh(db: sqlite3.Connection, f: Forecast) -> None:
        sql = (
            "SELECT MAX(c.ts), SUM(c.ts = ?) FROM candles c JOIN series s ON s.id = c.series_id "
            "WHERE s.source=? AND s.coin=? AND s.quote=? AND s.interval=?"
        )
        newest, target = db.execute(
            sql, (f.target_ts, f.source, f.coin, f.quote, f.interval)
        ).fetchone()
        name = f"{f.coin}/{f.quote} {f.interval} ({f.source})"
        if newest != f.last_ts:
            raise StaleForecastError(
                f"stale forecast of {name} refused: it starts from {_iso(f.last_ts)}, but the "
                f"newest stored bar is {_iso(newest)}; forecast from the newest bar"
            )
        if target:
            raise StaleForecastError(
                f"forecast of {name} for {_iso(f.target_ts)} refused: that bar is already "
                "stored, and the ledger takes no back-dated forecasts"
            )

    @staticmethod
    def _exists(db: sqlite3.Connection, f: Forecast) -> bool:
        sql = (
            "SELECT 1 FROM forecasts WHERE run=? AND weights_sha256=? AND source=? AND coin=? "
            "AND quote=? AND interval=? AND last_ts=? AND target_ts=?"
        )
        key = (f.run, f.weights_sha256, f.source, f.coin, f.quote, f.interval, f.last_ts,
               f.target_ts)  # fmt: skip
        return db.execute(sql, key).fetchone() is not None

    @staticmethod
    def _head(db: sqlite3.Connection, table: str) -> str:
        row = db.execute(f"SELECT row_hash FROM {table} ORDER BY id DESC LIMIT 1").fetchone()
        return GENESIS if row is None else str(row[0])

    # -- reading ------------------------------------------------------------------------------

    def rows(self, coin: str | None = None) -> pd.DataFrame:
        """Every forecast with its outcome (``actual error naive_error`` NaN while pending),
        in the order issued; ``last_ts`` and ``target_ts`` as UTC timestamps."""
        cols = ["id", *_ISSUED, "actual", "error", "naive_error", "scored_at"]
        if not _has_tables(self.store._db):
            return pd.DataFrame(columns=cols)
        sql = (
            f"SELECT f.id, {', '.join('f.' + c for c in _ISSUED)}, o.actual, o.error, "
            "o.naive_error, o.scored_at FROM forecasts f "
            "LEFT JOIN outcomes o ON o.forecast_id = f.id"
            + (" WHERE f.coin = ?" if coin else "")
            + " ORDER BY f.id"
        )
        table = pd.DataFrame(self.store._db.execute(sql, (coin,) if coin else ()).fetchall(),
                             columns=cols)  # fmt: skip
        for c in ("last_ts", "target_ts"):
            table[c] = pd.to_datetime(table[c].astype("int64"), unit="ms", utc=True)
        for c in ("lo", "hi", "actual", "error", "naive_error"):
            table[c] = table[c].astype(float)
        return table

    def verify(self) -> Verification:
        """Check both chains row by row: each row's hash over its fields and the previous
        hash, ids without holes, and each outcome bound to its forecast's hash."""
        db = self.store._db
        if not _has_tables(db):
            return Verification(True, 0, 0, GENESIS)
        prev, hashes, n = GENESIS, {}, 0
        cols = ", ".join(("id", *_ISSUED, "prev_hash", "row_hash"))
        for n, row in enumerate(db.execute(f"SELECT {cols} FROM forecasts ORDER BY id"), 1):
            fid, *values, stored_prev, stored = row
            computed = row_hash(dict(zip(_ISSUED, values, strict=True)), prev)
            problem = _check_link(n, fid, stored_prev, prev, stored, computed)
            if problem:
                return Verification(False, n - 1, 0, prev, f"forecast row {fid}: {problem}")
            hashes[fid], prev = stored, stored
        head, prev, m = prev, GENESIS, 0
        sql = (
            "SELECT id, forecast_id, scored_at, actual, error, naive_error, prev_hash, row_hash "
            "FROM outcomes ORDER BY id"
        )
        for m, (oid, fid, *values, stored_prev, stored) in enumerate(db.execute(sql), 1):
            fields_ = dict(zip(_SCORED, (fid, hashes.get(fid), *values), strict=True))
            problem = _check_link(m, oid, stored_prev, prev, stored, row_hash(fields_, prev))
            if problem is None and fid not in hashes:
                problem = f"it scores forecast {fid}, which is not in the ledger"
            if problem:
                return Verification(False, n, m - 1, head, f"outcome row {oid}: {problem}")
            prev = stored
        return Verification(True, n, m, head)


def _check_link(
    n: int, rid: int, stored_prev: str, prev: str, stored: str, computed: str
) -> str | None:
    """What is wrong with row number ``n`` (id ``rid``) of a chain, or None."""
    if rid != n:
        return f"expected id {n}: rows before it are missing"
    if stored_prev != prev:
        return "its prev_hash is not the previous row's hash (a row was removed or inserted)"
    if stored != computed:
        return "its row_hash does not match its fields (the row was changed after it was written)"
    return None


def _has_tables(db: sqlite3.Connection) -> bool:
    sql = "SELECT COUNT(*) FROM sqlite_master WHERE type='table' AND name IN (?, ?)"
    return db.execute(sql, TABLES).fetchone()[0] == len(TABLES)


def _iso(ms: int | None) -> str:
    return "no bar" if ms is None else pd.Timestamp(ms, unit="ms", tz="UTC").isoformat()
