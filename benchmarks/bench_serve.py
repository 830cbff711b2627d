"""coincast serve: how long each page takes server-side on a full-size world.

14 coins x 4 intervals (1h: 2 years, 4h: 4 years, 1d: 8 years, 1w: 8 years of synthetic
candles), 50 run folders, 10 backtest folders, a live record of 60 days x 3 steps for
every coin (through the real ledger) and a real sweep of 30 tiny trials. Every page is asked
for ``--repeat`` times in process (FastAPI's TestClient: routing, store reads, templates; no
network), and the median and the slowest are printed against the goal of 300 ms a page.

Usage: python benchmarks/bench_serve.py [--repeat 15]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from common import markdown
from fastapi.testclient import TestClient

from coincast.data.sources import synthetic_candles
from coincast.data.store import Store
from coincast.evaluation.run import WalkForward, run_backtest
from coincast.models.forecaster import LSTMForecaster
from coincast.models.runs import save_run
from coincast.reporting.folder import save_backtest
from coincast.reporting.web import catalog, create_app

COINS = 14
BARS = {"1h": 2 * 365 * 24, "4h": 4 * 365 * 6, "1d": 8 * 365, "1w": 8 * 52}
RUNS, BACKTESTS = 50, 10
LIVE_BARS, SWEEP_TRIALS = 60, 30  #: days of live record per coin; trials of the sweep
GOAL_MS = 300


def build(root: Path) -> None:
    """The world: the store (with a live record of every coin's daily bars), the run folders
    (copies of one tiny run), the backtests and a sweep."""
    with Store(root / "coincast.db") as store:
        for c in range(COINS):
            for interval, n in BARS.items():
                frame = synthetic_candles(n, interval, coin=f"coin-{c}", seed=c)
                if interval == "1d":
                    live_record(store, frame)
                else:
                    store.write_candles(frame)
    sweep(root / "coincast.db")
    model = LSTMForecaster(epochs=3, hidden=4, layers=1, log_every=0)
    with Store(root / "coincast.db", readonly=True) as store:
        first = save_run(model.fit(store.read_candles("coin-0", "1d")), root / "runs" / "run-0")
    record = json.loads((first / "run.json").read_text())
    for i in range(1, RUNS):
        folder = shutil.copytree(first, root / "runs" / f"run-{i}")
        (folder / "run.json").write_text(json.dumps({**record, "name": f"run-{i}"}))
    result = run_backtest(synthetic_candles(300), WalkForward(test=30), models=["drift"])
    first = save_backtest(result, root / "backtests" / "bt-0").parent
    for i in range(1, BACKTESTS):
        shutil.copytree(first, root / "backtests" / f"bt-{i}")


def live_record(store: Store, frame, bars: int = LIVE_BARS, horizon: int = 3) -> None:
    """The last ``bars`` bars of ``frame`` stored one by one as ``coincast update`` does:
    before each, ``horizon`` forecasts from the newest bar; after it, the matured scored."""
    from coincast.data.store.ledger import Forecast, Ledger
    from coincast.intervals import interval_ms

    store.write_candles(frame.iloc[:-bars])
    ledger, ts, day = Ledger(store), frame.index.asi8 // 1_000_000, interval_ms("1d")
    for k in range(len(frame) - bars, len(frame) + 1):
        last, close = int(ts[k - 1]), float(frame["close"].iloc[k - 1])
        ledger.append([
            Forecast("live-1d", "ab" * 32, "synthetic", frame.attrs["coin"], "usd", "1d", last,
                     close, last + step * day, step, close * (1 + 0.01 * step), close * 0.97,
                     close * 1.05, f"2026-12-01T00:{k % 60:02d}:00+00:00")
            for step in range(1, horizon + 1)
        ])  # fmt: skip
        if k < len(frame):
            store.write_candles(frame.iloc[k : k + 1])
            ledger.score(f"2026-12-01T01:{k % 60:02d}:00+00:00")


def sweep(store: Path) -> None:
    """A real sweep of :data:`SWEEP_TRIALS` tiny trials beside ``store``, with its page."""
    from coincast.evaluation.sweep import Periods, Place, SweepPlan, parse_space, run_sweep
    from coincast.reporting.sweep_report import write_sweep_report

    space = parse_space({"params": {"hidden": [2, 4, 8], "lr": {"low": 1e-3, "high": 1e-2}},
                         "fixed": {"epochs": 1, "lookback": 10, "threads": 1},
                         "walk": {"refit_every": 15, "refit_epochs": 1}})  # fmt: skip
    plan = SweepPlan(space, ("coin-0",), trials=SWEEP_TRIALS, sampler="random",
                     periods=Periods(valid=30, test=20), top_k=3)  # fmt: skip
    place = Place.beside(store, "sweep")
    with Store(store, readonly=True) as s:
        frames = {"1d": {"coin-0": s.read_candles("coin-0", "1d").iloc[-130:]}}
    write_sweep_report(run_sweep(frames, plan, place), place.folder)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        t = time.perf_counter()
        build(root)
        print(f"world built in {time.perf_counter() - t:.0f} s")
        app = create_app(root / "coincast.db", root / "runs", root / "backtests")
        client = TestClient(app, base_url="http://127.0.0.1")
        pages = {
            "coins (/)": "/",
            "coins (/, listing uncached)": "/",
            "series 1h (17,520 bars)": "/series/coin-3/1h",
            "series 1d (2,920 bars)": "/series/coin-3/1d",
            "runs (50)": "/runs",
            "run": "/runs/run-7",
            "forecast (loads weights)": "/runs/run-7/forecast",
            "backtests (10)": "/backtests",
            "backtest": "/backtests/bt-3",
            "report.html": "/backtests/bt-3/report.html",
            f"track record ({COINS} coins x {LIVE_BARS} days)": "/track",
            "one coin's record": "/track/coin-3/1d/live-1d",
            "sweeps": "/sweeps",
            f"sweep ({SWEEP_TRIALS} trials)": "/sweeps/sweep",
            "sweep report.html": "/sweeps/sweep/report.html",
        }
        rows = []
        for name, url in pages.items():
            assert client.get(url).status_code == 200, url  # warm: imports, caches
            ms = []
            for _ in range(args.repeat):
                if name.endswith("uncached)"):
                    catalog._LISTINGS.clear()
                t = time.perf_counter()
                r = client.get(url)
                ms.append((time.perf_counter() - t) * 1000)
            size = len(r.content) / 1e3
            med = statistics.median(ms)
            rows.append((name, f"{med:.0f} ms", f"{max(ms):.0f} ms", f"{size:,.0f} kB",
                         "yes" if med < GOAL_MS else "NO"))  # fmt: skip
            print(f"{name:28s} median {med:6.0f} ms  max {max(ms):6.0f} ms  {size:8,.0f} kB")
    print()
    head = ("page", "median", "slowest", "size", f"under {GOAL_MS} ms")
    print(markdown(head, rows))


if __name__ == "__main__":
    main()
