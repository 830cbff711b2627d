"""Benchmarks of the data layer: parse, import, store, read, resample, incremental fetch.

Run from the project root::

    python benchmarks/bench_data.py [--rows N] [--repeat K]

Every timed figure is the median of ``--repeat`` runs (default 3), printed with its min-max
spread. Figures that are compared (our read against a raw ``sqlite3`` fetch, a full fetch
against an incremental one) are measured side by side in the same loop, so machine noise hits
both alike. Peak memory (``ru_maxrss``) is measured in a fresh subprocess per heavy case, so
one case's peak does not hide another's; the subprocesses run this script with a hidden
``--case`` flag.

The real minute files are read from ``../shared/data`` (relative to the project root); when that
folder is absent the file cases are skipped with a note. The 1M-row series is generated.

Targets (from the issue): the store ingests 1M candles in under 10 s and reads them back in
under 2 s. With ``--rows`` other than 1,000,000 the targets scale linearly with the rows.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import common
from common import peak_mb, status_mb

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
MINUTE_FILES = (("BTC", "BTC-USD_1m.csv"), ("ETH", "ETH-USD_1m.csv"))
START_MS = 1_577_836_800_000  # 2020-01-01 00:00 UTC, a whole minute
NOW = "2024-06-01"  # the fixed "now" of the incremental fetch case
INGEST_S_PER_1M = 10.0
READ_S_PER_1M = 2.0
RESULT_TAG = "BENCH-RESULT "


# -- helpers -----------------------------------------------------------------------------------


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    """Seconds one call of ``fn`` takes (after a garbage collection), and its result."""
    gc.collect()
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def file_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*")) / 1e6


class Figures(common.Figures):
    """The shared figures, plus timings with optional rates and targets."""

    widths = (44, 26)

    def timing(
        self, name: str, times: list[float], rows: int | None = None, target_s: float | None = None
    ) -> float:
        med = statistics.median(times)
        value = f"{med:.3f} s ({min(times):.3f}-{max(times):.3f})"
        if rows is not None:
            value = f"{med:.3f} s {spread(times)}, {rows / med / 1e3:,.0f} k rows/s"
        target = result = ""
        if target_s is not None:
            target = f"< {target_s:g} s"
            result = "PASS" if med < target_s else "FAIL"
        self.add(name, value, target, result)
        return med

    def holds(self, name: str, ok: bool, what: str) -> None:
        self.add(name, what, "must hold", "PASS" if ok else "FAIL")


def spread(times: list[float]) -> str:
    return f"({min(times):.3f}-{max(times):.3f})"


# -- the cases run in subprocesses (peak memory) ---------------------------------------------


def run_case(case: str, rows: int, db: str | None) -> dict[str, float]:
    """Run one heavy case in this fresh process and return its figures."""
    out: dict[str, float] = {"python_mb": peak_mb()}
    t0 = time.perf_counter()
    import coincast  # noqa: F401  (the baseline: what importing coincast costs)

    out.update(import_s=time.perf_counter() - t0, import_mb=peak_mb())
    from coincast.data.store import SeriesKey, Store

    if case == "baseline":
        out["peak_mb"] = peak_mb()
    elif case == "ingest1m":
        from coincast.data.sources.synthetic import generate

        frame = generate("bench", "1m", START_MS, START_MS + rows * 60_000)
        out["frame_mb"] = peak_mb()
        with Store(db) as store:
            t, new = timed(lambda: store.write_candles(frame))
        out.update(peak_mb=peak_mb(), seconds=t, new_rows=new)
    elif case == "read1m":
        with Store(db) as store:
            t, frame = timed(lambda: store.read_key(SeriesKey("synthetic", "bench", "usd", "1m")))
        out.update(peak_mb=peak_mb(), seconds=t, rows=len(frame))
    else:
        raise SystemExit(f"unknown case {case!r}")
    hwm = status_mb("VmHWM")
    if hwm is not None:
        out["hwm_mb"] = hwm
    return out


def subprocess_case(case: str, rows: int, db: Path | None = None) -> dict[str, float]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--case", case, "--rows", str(rows)]
    if db is not None:
        cmd += ["--db", str(db)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(RESULT_TAG)]
    if proc.returncode or not lines:
        raise RuntimeError(f"case {case} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    out = json.loads(lines[-1][len(RESULT_TAG) :])
    hwm = out.get("hwm_mb")
    if hwm is not None and out["peak_mb"] > hwm * 1.1 + 5:
        print(
            f"  warning: case {case}: ru_maxrss {out['peak_mb']:.0f} MB exceeds VmHWM "
            f"{hwm:.0f} MB; the child inherited its parent's peak, trust VmHWM"
        )
    return out


# -- the benchmark -----------------------------------------------------------------------------


def bench_files(fig: Figures, repeat: int, tmp: Path) -> None:
    from coincast.data.sources.files import read_file
    from coincast.data.store import Store

    minute = DATA / "yahoo" / "minute"
    if not minute.is_dir():
        print(f"  note: {minute} is absent: parse and import of the minute files skipped")
        return
    for sym, name in MINUTE_FILES:
        path = minute / name
        if not path.is_file():
            print(f"  note: {path} is absent: skipped")
            continue
        frame, _ = read_file(path, coin=sym)  # warm-up (lazy imports, file cache)
        n = len(frame)
        parse, imp = [], []
        for k in range(repeat):
            db = tmp / f"import-{sym}-{k}.db"

            def load(path: Path = path, sym: str = sym, db: Path = db) -> int:
                frame, _ = read_file(path, coin=sym)
                with Store(db) as store:
                    return store.write_candles(frame)

            parse.append(timed(lambda path=path, sym=sym: read_file(path, coin=sym))[0])
            t, new = timed(load)
            imp.append(t)
            if new != n:
                print(f"  warning: import of {name} added {new} rows, expected {n}")
        fig.timing(f"parse {name} ({n:,} rows)", parse, rows=n)
        med = fig.timing(f"import {name} (parse + store)", imp, rows=n)
        fig.add(
            f"  store share of import {name}",
            f"{1 - statistics.median(parse) / med:.0%} of the time",
        )


def bench_big(fig: Figures, rows: int, repeat: int, tmp: Path) -> Path:
    """Ingest, upsert, read, resample and gaps on the generated series; return a store file."""
    from coincast.data.sources.synthetic import generate
    from coincast.data.store import SeriesKey, Store
    from coincast.series import find_gaps, make_frame, resample

    scale = rows / 1_000_000
    label = f"{rows / 1e6:g}M" if rows >= 1_000_000 else f"{rows:,}"
    gen, frame = timed(lambda: generate("bench", "1m", START_MS, START_MS + rows * 60_000))
    assert len(frame) == rows
    fig.add(f"generate {label} 1m rows (not counted)", f"{gen:.3f} s")

    # Ingest into a fresh store, then re-write the same rows (idempotent upsert).
    ingest, upsert, news = [], [], []
    for k in range(repeat):
        db = tmp / f"ingest-{k}.db"
        with Store(db) as store:
            t, new = timed(lambda store=store: store.write_candles(frame))
            ingest.append(t)
            t, again = timed(lambda store=store: store.write_candles(frame))
            upsert.append(t)
            news.append((new, again))
        if k:
            for p in tmp.glob(f"ingest-{k}.db*"):
                p.unlink()
    db = tmp / "ingest-0.db"
    fig.timing(f"ingest {label} (one write_candles)", ingest, target_s=INGEST_S_PER_1M * scale)
    fig.add(f"  ingest {label} rate", f"{rows / statistics.median(ingest) / 1e3:,.0f} k rows/s")
    fig.timing(f"re-write same {label} (upsert)", upsert)
    fig.holds(
        "  re-write adds 0 rows",
        all(n == rows and a == 0 for n, a in news),
        f"new {news[0][0]:,}, then {news[0][1]:,}",
    )
    size = file_mb(db)
    fig.add(f"store size, {label} rows", f"{size:.1f} MB, {size * 1e6 / rows:.0f} B/row")

    # Read back, side by side with a raw sqlite3 fetch of the same query.
    key = SeriesKey("synthetic", "bench", "usd", "1m")
    sql = (
        "SELECT ts, open, high, low, close, volume, market_cap FROM candles "
        "WHERE series_id=? AND ts BETWEEN ? AND ? ORDER BY ts"
    )
    raw = sqlite3.connect(db)
    sid = raw.execute("SELECT id FROM series").fetchone()[0]
    import numpy as np

    ours, fetch_only, to_array, free, to_frame = [], [], [], [], []
    with Store(db) as store:
        for _ in range(repeat):
            t, back = timed(lambda store=store: store.read_key(key))
            assert len(back) == rows
            ours.append(t)
            t, got = timed(lambda: raw.execute(sql, (sid, -(2**62), 2**62)).fetchall())
            fetch_only.append(t)
            t, arr = timed(lambda got=got: np.array(got, dtype="float64"))
            to_array.append(t)
            t0 = time.perf_counter()
            del got  # freeing 1M tuples of 7 Python objects is part of that way's cost
            free.append(time.perf_counter() - t0)
            t, _ = timed(
                lambda arr=arr: make_frame(
                    arr[:, 0].astype("int64"),
                    {c: arr[:, i + 1] for i, c in enumerate(("open", "high", "low", "close"))}
                    | {"volume": arr[:, 5]},
                    coin="bench",
                    quote="usd",
                    interval="1m",
                    source="synthetic",
                )
            )
            to_frame.append(t)
            del arr
        read_med = fig.timing(f"read {label} back (read_key)", ours, target_s=READ_S_PER_1M * scale)
        fig.add(f"  read {label} rate", f"{rows / read_med / 1e3:,.0f} k rows/s")
        raw_med = fig.timing("  raw sqlite3 fetchall, same query", fetch_only)
        fig.add("  ratio read_key / raw fetchall", f"{read_med / raw_med:.2f}x")
        tuples = [sum(x) for x in zip(fetch_only, to_array, free, to_frame, strict=True)]
        tuples_med = fig.timing("  list-of-tuples read (fetchall, np.array, frame)", tuples)
        fig.add("  ratio read_key / list-of-tuples read", f"{read_med / tuples_med:.2f}x")

        # Resample and gaps on the frame read back; read+resample end to end.
        for iv in ("1h", "1d"):
            times = [timed(lambda iv=iv: resample(back, iv))[0] for _ in range(repeat)]
            fig.timing(f"resample {label} 1m -> {iv}", times, rows=rows)
        e2e = [
            timed(lambda store=store: store.read_candles("bench", "1h"))[0] for _ in range(repeat)
        ]
        fig.timing(f"read_candles({label} 1m, '1h') end to end", e2e, rows=rows)
        times = [timed(lambda: find_gaps(back))[0] for _ in range(repeat)]
        fig.timing(f"find_gaps on {label}", times, rows=rows)
    raw.close()
    return db


def bench_fetch(fig: Figures, repeat: int, tmp: Path) -> None:
    import pandas as pd

    from coincast.data.fetch import fetch
    from coincast.data.sources.synthetic import SyntheticSource
    from coincast.data.store import Store

    now = pd.Timestamp(NOW, tz="UTC")
    full, same, extended, chunks, new_rows = [], [], [], [], []
    for k in range(repeat):
        with Store(tmp / f"fetch-{k}.db") as store:
            src = SyntheticSource()

            def go(now: pd.Timestamp = now, store: Store = store, src: SyntheticSource = src):
                return fetch(store, src, "bench", interval="1h", days=730, now=now)

            t, r_full = timed(go)
            full.append(t)
            t, r_same = timed(go)
            same.append(t)
            t, r_ext = timed(lambda go=go: go(now + pd.Timedelta(days=1)))
            extended.append(t)
            chunks.append((r_full.chunks, r_same.chunks, r_ext.chunks))
            new_rows.append((r_full.new_rows, r_same.new_rows, r_ext.new_rows))
    n = new_rows[0][0]
    f = fig.timing(f"fetch synthetic 1h, 2 years ({n:,} bars)", full)
    s = fig.timing("  identical fetch again", same)
    e = fig.timing("  fetch extended by 1 day", extended)
    fig.holds(
        "  identical fetch makes no chunk fetch",
        all(c[1] == 0 for c in chunks),
        f"chunks {chunks[0][0]}, {chunks[0][1]}, {chunks[0][2]}",
    )
    fig.holds(
        "  extended fetch adds exactly 1 day",
        all(r[1] == 0 and r[2] == 24 for r in new_rows),
        f"new rows {new_rows[0][1]}, then {new_rows[0][2]}",
    )
    fig.add("  ratio full / identical", f"{f / s:,.0f}x")
    fig.add("  ratio full / extended by 1 day", f"{f / e:,.0f}x")


def bench_memory(fig: Figures, rows: int, tmp: Path) -> None:
    label = f"{rows / 1e6:g}M" if rows >= 1_000_000 else f"{rows:,}"
    base = subprocess_case("baseline", rows)
    fig.add("peak RSS: bare python", f"{base['python_mb']:.0f} MB")
    fig.add("peak RSS: import coincast", f"{base['import_mb']:.0f} MB")
    fig.add("  import coincast time (one run)", f"{base['import_s']:.3f} s")
    db = tmp / "rss.db"
    ing = subprocess_case("ingest1m", rows, db)
    fig.add(
        f"peak RSS: ingest {label} process",
        f"{ing['peak_mb']:.0f} MB",
    )
    fig.add(
        "  of which write_candles above the frame",
        f"{ing['peak_mb'] - ing['frame_mb']:.0f} MB ({ing['frame_mb']:.0f} before)",
    )
    rd = subprocess_case("read1m", rows, db)
    fig.add(f"peak RSS: read {label} process", f"{rd['peak_mb']:.0f} MB")
    fig.add(
        "  of which read_key above import",
        f"{rd['peak_mb'] - rd['import_mb']:.0f} MB",
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000, help="rows of the generated series")
    ap.add_argument("--repeat", type=int, default=3, help="repeats per figure (median quoted)")
    ap.add_argument("--case", help=argparse.SUPPRESS)
    ap.add_argument("--db", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.case:
        print(RESULT_TAG + json.dumps(run_case(args.case, args.rows, args.db)), flush=True)
        return 0
    if args.rows < 2 or args.repeat < 1:
        ap.error("--rows must be >= 2 and --repeat >= 1")

    fig = Figures()
    t0 = time.perf_counter()
    print(
        f"coincast data-layer benchmarks: rows={args.rows:,} repeat={args.repeat} "
        f"python {sys.version.split()[0]} sqlite {sqlite3.sqlite_version} cpus {os.cpu_count()}"
    )
    with tempfile.TemporaryDirectory(prefix="coincast-bench-") as d:
        tmp = Path(d)
        # Memory first: a child's ru_maxrss starts at its parent's peak (Linux keeps it
        # across fork and exec), so the children must be spawned while this process is small.
        print("\n[7] peak memory, one fresh process per case")
        bench_memory(fig, args.rows, tmp)
        memory, fig.rows = fig.rows, []  # listed last in the summary
        print("\n[1-2] minute files: parse and import")
        bench_files(fig, args.repeat, tmp)
        print(f"\n[3-5, 8] generated {args.rows:,}-row series: ingest, read, resample, size")
        bench_big(fig, args.rows, args.repeat, tmp)
        print("\n[6] incremental fetch (synthetic source)")
        bench_fetch(fig, args.repeat, tmp)
        fig.rows += memory
    return fig.finish(args.repeat, t0)


if __name__ == "__main__":
    sys.exit(main())
