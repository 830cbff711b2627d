"""A/B of this tree against an earlier commit on the same workloads, in one run: did a change
(a refactor, say) make training, forecasting or a backtest slower?

The base commit is checked out into a temporary git worktree; fresh child processes
alternate between the two trees (A B A B ...), each running one fixed workload on one
thread and printing its seconds, so both sides see the same machine at the same times.
The workloads use only calls both trees have (the public API moved in the layout change,
so each child tries the new names first):

1. ``fit``: LSTMForecaster (64 x 2, window 30, 3 epochs, seed 0) on 3,000 generated daily bars;
2. ``predict``: 200 one-step forecasts from the fitted model;
3. ``backtest``: run_backtest of lstm, naive, drift and arima over 60 cutoffs, refit every 30
   (warm start, 2 refit epochs), scoring and trading included.

Prints the median seconds of each side and the median of the pairs' ratios this tree / base
(below 1: faster), with their range.

    python benchmarks/bench_ab.py --base 4ac9fa5 --repeat 5
    python benchmarks/bench_ab.py --base 4ac9fa5 --head 39f13ef   # two commits
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from common import markdown

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, sys, time
import torch
torch.set_num_threads(1)
import coincast
from coincast.models import LSTMForecaster
try:
    from coincast.data.sources import synthetic_candles
except ImportError:
    from coincast.sources import synthetic_candles
frame = synthetic_candles(3000, seed=7)
work = sys.argv[1]
cfg = dict(lookback=30, hidden=64, layers=2, epochs=3, seed=0, threads=1, log_every=0)
t = time.perf_counter()
if work == "fit":
    LSTMForecaster(**cfg).fit(frame)
elif work == "predict":
    m = LSTMForecaster(**cfg).fit(frame)
    t = time.perf_counter()
    for k in range(200):
        m.predict(frame=frame.iloc[: len(frame) - k])
elif work == "backtest":
    models = ["lstm", "naive", "drift", "arima"]
    try:
        from coincast.evaluation.adapters import LSTMTraining
        from coincast.evaluation.backtest import WalkForward
        from coincast.evaluation.run import run_backtest
        from coincast.models.config import LSTMConfig
        spec = WalkForward(test=60, refit_every=30)
        lstm = LSTMTraining(LSTMConfig(**cfg), refit_epochs=2)
        run_backtest(frame, spec, models=models, lstm=lstm)
    except ImportError:
        from coincast.evaluation import run_backtest
        from coincast.models.forecaster import LSTMConfig
        run_backtest(frame, models=models, test=60, refit_every=30,
                     lstm=LSTMConfig(**cfg), refit_epochs=2)
print(json.dumps({"s": time.perf_counter() - t}))
"""


def run_child(src: Path, work: str) -> float:
    env = os.environ | {"PYTHONPATH": str(src), "OMP_NUM_THREADS": "1"}
    out = subprocess.run(
        [sys.executable, "-c", CHILD, work], env=env, capture_output=True, text=True, check=False
    )
    if out.returncode:
        raise SystemExit(f"{work} failed in {src}:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])["s"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--base", default="4ac9fa5", help="the commit to compare against")
    ap.add_argument("--head", default=None, help="a commit to measure instead of this tree")
    ap.add_argument("--repeat", type=int, default=5, help="child runs per side and workload")
    ap.add_argument("--work", default="fit,predict,backtest", help="comma-separated workloads")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        trees = {"base": (args.base, Path(tmp) / "base")}
        if args.head:
            trees["head"] = (args.head, Path(tmp) / "head")
        for rev, folder in trees.values():
            subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "-q", "--detach",
                            str(folder), rev], check=True)  # fmt: skip
        head = trees["head"][1] / "src" if args.head else ROOT / "src"
        try:
            rows = [measure(w, trees["base"][1] / "src", head, args.repeat)
                    for w in args.work.split(",")]  # fmt: skip
        finally:
            for _, folder in trees.values():
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force",
                                str(folder)], check=False)  # fmt: skip
    this = args.head or "this tree"
    where = f"python {sys.version.split()[0]}, cpus {os.cpu_count()}"
    print(f"\nA/B of {this} against {args.base}, {args.repeat} alternating fresh processes "
          f"per side, one thread, {where}\n")  # fmt: skip
    print(markdown(("workload", args.base, this, "ratio, median of pairs"), rows))


def measure(work: str, base_src: Path, head_src: Path, repeat: int) -> tuple[str, str, str, str]:
    old, new = [], []
    for i in range(repeat):
        for side, times, src in (("base", old, base_src), ("head", new, head_src)):
            times.append(run_child(src, work))
            print(f"  {work} run {i + 1} {side}: {times[-1]:.2f} s", flush=True)
    ratios = sorted(n / o for n, o in zip(new, old, strict=True))  # each pair ran side by side

    def span(x: list[float]) -> str:
        return f"{statistics.median(x):.2f} s ({min(x):.2f}-{max(x):.2f})"

    ratio = statistics.median(ratios)
    return work, span(old), span(new), f"{ratio:.3f}x ({ratios[0]:.2f}-{ratios[-1]:.2f})"


if __name__ == "__main__":
    main()
