"""coincast serve: how long each page takes server-side on a full-size world.

14 coins x 4 intervals (1h: 2 years, 4h: 4 years, 1d: 8 years, 1w: 8 years of synthetic
candles), 50 run folders, 10 backtest folders. Every page is asked for ``--repeat`` times
in process (FastAPI's TestClient: routing, store reads, templates; no network), and the
median and the slowest are printed against the goal of 300 ms a page.

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
GOAL_MS = 300


def build(root: Path) -> None:
    """The world: the store, the run folders (copies of one tiny run), the backtests."""
    with Store(root / "coincast.db") as store:
        for c in range(COINS):
            for interval, n in BARS.items():
                store.write_candles(synthetic_candles(n, interval, coin=f"coin-{c}", seed=c))
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
            "track record": "/track",
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
