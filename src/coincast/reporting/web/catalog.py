"""What the dashboard shows, read from disk: the store's series, the run folders' run.json
(never their weights) and the backtest folders' report.json. Plain data in, plain data out;
the routes turn it into pages."""

from __future__ import annotations

import csv
import json
import os
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...data.store import Store
from ...data.store.keys import SeriesInfo
from ...errors import CoincastError
from ...models.forecaster import LSTMForecaster
from ...models.runs import RECORD, WEIGHTS, RunRecord, load_run, read_record
from .safety import NotFound, child

#: the files of a backtest folder the dashboard serves, by suffix
SERVED = {
    ".html": "text/html; charset=utf-8",
    ".png": "image/png",
    ".svg": "image/svg+xml",
    ".csv": "text/csv; charset=utf-8",
    ".json": "application/json",
}
#: rows of the ledger shown, newest first
LEDGER_ROWS = 500


@dataclass
class Coin:
    """A stored coin and its series."""

    coin: str
    series: list[SeriesInfo] = field(default_factory=list)


#: the store's listing by file: the file's state it was read at, when, and the listing
_LISTINGS: dict[str, tuple[tuple, float, list[SeriesInfo]]] = {}
#: a listing is read again after this many seconds even when the file looks unchanged
LISTING_TTL = 30.0


def _stamp(path: str) -> tuple:
    """What a write changes: the store file's size and mtime, and its WAL's size (the WAL's
    mtime moves whenever a reader opens the store, so it says nothing)."""
    try:
        st = os.stat(path)
        wal = os.stat(path + "-wal").st_size if os.path.exists(path + "-wal") else None
    except OSError:
        return (None,)
    return (st.st_size, st.st_mtime_ns, wal)


def listing(store: Store) -> list[SeriesInfo]:
    """``store.list_series()``, read again when the store file has changed or the last read
    is older than :data:`LISTING_TTL` (its counts scan every candle: ~0.2 s for 14 coins x
    4 intervals of years)."""
    if store.path == ":memory:":
        return store.list_series()
    stamp, now = _stamp(store.path), time.monotonic()
    cached = _LISTINGS.get(store.path)
    if cached is None or cached[0] != stamp or now - cached[1] > LISTING_TTL:
        _LISTINGS[store.path] = cached = (stamp, now, store.list_series())
    return cached[2]


def coins(store: Store) -> list[Coin]:
    """Every coin in the store, with its series in the store's order."""
    out: dict[str, Coin] = {}
    for info in listing(store):
        out.setdefault(info.key.coin, Coin(info.key.coin)).series.append(info)
    return list(out.values())


@dataclass
class RunSummary:
    """One run folder as listed: its run.json, or why it could not be read."""

    name: str
    record: RunRecord | None = None
    error: str | None = None

    @property
    def interval(self) -> str:
        return next(iter(self.record.data.values())).interval if self.record else ""


def runs(root: Path) -> list[RunSummary]:
    """Every folder under ``root`` holding a run.json, newest first (invalid ones too, with
    the reason)."""
    if not root.is_dir():
        return []
    out = []
    for folder in sorted(p for p in root.iterdir() if (p / RECORD).is_file()):
        try:
            out.append(run(root, folder.name))
        except CoincastError as exc:
            out.append(RunSummary(folder.name, error=str(exc)))
    return sorted(out, key=lambda r: r.record.created if r.record else "", reverse=True)


def run(root: Path, name: str) -> RunSummary:
    """The run folder ``name`` under ``root`` (validated run.json; weights not read)."""
    return RunSummary(name, read_record(child(root, name)))


#: loaded runs by folder, with the state of their files when loaded (most recent last)
_MODELS: dict[Path, tuple[tuple, LSTMForecaster]] = {}
_MODELS_KEPT = 4
_MODELS_LOCK = threading.Lock()


def model(root: Path, name: str) -> LSTMForecaster:
    """The run ``name`` under ``root`` loaded (checked by :func:`load_run`), kept while its
    run.json and weights are unchanged (loading checks every byte: ~0.2 s)."""
    folder = child(root, name)
    stamp = tuple(_stamp(str(folder / f)) for f in (RECORD, WEIGHTS))
    with _MODELS_LOCK:
        cached = _MODELS.pop(folder, None)
        if cached is None or cached[0] != stamp:
            cached = (stamp, load_run(folder))
        _MODELS[folder] = cached
        while len(_MODELS) > _MODELS_KEPT:
            _MODELS.pop(next(iter(_MODELS)))
        return cached[1]


@dataclass
class Backtest:
    """One backtest folder: its meta and headline scores, or why they could not be read."""

    name: str
    kind: str  #: "backtest" (report.json) or "risk" (risk.json)
    meta: dict[str, Any] = field(default_factory=dict)
    scores: list[dict[str, str]] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def pictures(self) -> list[str]:
        return [f for f in self.files if f.endswith((".png", ".svg"))]


def backtests(root: Path) -> list[Backtest]:
    """Every folder under ``root`` holding a report.html, newest first."""
    if not root.is_dir():
        return []
    found = []
    for p in sorted(root.iterdir()):
        try:
            if _is_backtest(p):
                found.append(backtest(root, p.name))
        except NotFound:  # a symlink leading outside the root is no backtest of it
            continue
    return sorted(found, key=lambda b: str(b.meta.get("created", "")), reverse=True)


def _is_backtest(folder: Path) -> bool:
    return folder.is_dir() and (folder / "report.html").is_file() and folder.name[0] != "."


def backtest(root: Path, name: str) -> Backtest:
    """The backtest folder ``name`` under ``root``: meta from report.json (or risk.json),
    scores from scores.csv, and the files the dashboard serves."""
    folder = child(root, name)
    if not _is_backtest(folder):
        raise FileNotFoundError(folder)
    kind = "risk" if (folder / "risk.json").is_file() else "backtest"
    out = Backtest(name, kind, files=served_files(folder))
    try:
        doc = json.loads((folder / ("risk.json" if kind == "risk" else "report.json")).read_text())
        meta = doc.get("meta", {}) if isinstance(doc, dict) else {}
        out.meta = meta if isinstance(meta, dict) else {}
        if (folder / "scores.csv").is_file():
            with (folder / "scores.csv").open(newline="") as f:
                out.scores = list(csv.DictReader(f))[:50]
    except (OSError, ValueError) as exc:
        out.error = f"{type(exc).__name__}: {exc}"
    return out


def served_files(folder: Path) -> list[str]:
    """The plain files directly in ``folder`` that may be served (by suffix; no symlinks)."""
    return sorted(
        p.name
        for p in folder.iterdir()
        if p.suffix in SERVED and p.is_file() and not p.is_symlink() and p.name[0] != "."
    )


def ledger(store_path: str) -> tuple[list[str], list[tuple]] | None:
    """The live record's forecasts (:mod:`coincast.data.store.ledger`: the ``forecasts``
    table with each one's outcome, once scored), newest first, as (columns, rows); ``None``
    when the store or the ledger is absent. Opened read-only: nothing is created or changed."""
    path = Path(store_path)
    if store_path == ":memory:" or not path.is_file():
        return None
    db = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)
    try:
        found = db.execute(
            "SELECT COUNT(*) FROM sqlite_master WHERE type='table' "
            "AND name IN ('forecasts', 'outcomes')"
        ).fetchone()[0]
        if found < 2:
            return None
        cur = db.execute(
            "SELECT f.issued_at AS issued, f.run, f.coin, f.interval, "
            "strftime('%Y-%m-%d %H:%M', f.last_ts / 1000, 'unixepoch') AS last_bar, "
            "strftime('%Y-%m-%d %H:%M', f.target_ts / 1000, 'unixepoch') AS target_bar, "
            "f.step, f.yhat AS forecast, f.lo, f.hi, o.actual, o.error, "
            "o.naive_error AS naive_error "
            "FROM forecasts f LEFT JOIN outcomes o ON o.forecast_id = f.id "
            f"ORDER BY f.id DESC LIMIT {LEDGER_ROWS}"
        )
        return [d[0] for d in cur.description], cur.fetchall()
    finally:
        db.close()
