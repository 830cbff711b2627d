"""Benchmark: one backtest's models walked one after another, or as jobs of a local engine.

The backtest is ``coincast backtest bitcoin ethereum solana litecoin --compare-training
single,global --test 60 --refit-every 30`` as a library call: bitcoin daily from
../shared/data/yahoo/daily, the default models plus the LSTM trained on bitcoin alone and on
the four coins (a global model). It runs without an engine and with ``LocalEngine(workers)``
(a fresh engine each time, its start included), alternating, and prints each wall time, the
medians and their ratio. The two tables must be the same.

Run from the project root: ``python benchmarks/bench_engine_backtest.py`` (``--epochs 10``
for a shorter run; ``--threads`` sets the LSTM's threads, the same in both).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import pandas as pd

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "yahoo" / "daily"
SYMBOLS = ("BTC", "ETH", "SOL", "LTC")


def load() -> dict[str, pd.DataFrame]:
    """The four coins' daily candles, keyed by coin id."""
    from coincast.coins import resolve_offline
    from coincast.data.sources.files import read_file

    out = {}
    for symbol in SYMBOLS:
        coin = resolve_offline(symbol)
        out[coin], _ = read_file(DATA / f"{symbol}-USD_1d.csv", coin=coin, interval="1d")
    return out


def backtest(frames: dict[str, pd.DataFrame], args: argparse.Namespace, engine=None, progress=None):
    """The benchmarked backtest of bitcoin (see the module docstring)."""
    from coincast.evaluation.adapters import LSTMTraining
    from coincast.evaluation.backtest import WalkForward
    from coincast.evaluation.run import DEFAULT_MODELS, run_backtest
    from coincast.models.config import LSTMConfig

    extra = {} if args.epochs is None else {"epochs": args.epochs}
    cfg = LSTMConfig(threads=args.threads, log_every=0, device="cpu", target_coin="bitcoin",
                     **extra)  # fmt: skip
    how = LSTMTraining(cfg, variants=["single", "global"], others=frames)
    spec = WalkForward(test=args.test, refit_every=args.refit_every)
    return run_backtest(frames["bitcoin"], spec, models=DEFAULT_MODELS, lstm=how, engine=engine,
                        progress=progress)  # fmt: skip


def timed(frames: dict[str, pd.DataFrame], args: argparse.Namespace, parallel: bool):
    """(wall seconds, table, seconds from the start to each model's last cutoff) of one
    backtest; with ``parallel`` on a fresh local engine."""
    from coincast.evaluation.engines import LocalEngine

    done: dict[str, float] = {}
    t0 = time.perf_counter()

    def progress(model: str, k: int, total: int) -> None:
        if k == total:
            done[model] = time.perf_counter() - t0

    if parallel:
        with LocalEngine(workers=args.workers) as engine:
            table = backtest(frames, args, engine, progress).table
    else:
        table = backtest(frames, args, progress=progress).table
    return time.perf_counter() - t0, table, done


def _per_model(done: dict[str, float], parallel: bool) -> str:
    """Each model's seconds: its own walk (one after another), or when its job finished."""
    if parallel:
        return ", ".join(f"{m} {t:.1f}" for m, t in sorted(done.items(), key=lambda x: x[1]))
    ends = list(done.values())
    own = [b - a for a, b in zip([0.0, *ends[:-1]], ends, strict=True)]
    return ", ".join(f"{m} {t:.1f}" for m, t in zip(done, own, strict=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2, help="Local engine workers.")
    parser.add_argument("--repeats", type=int, default=2, help="Runs of each, alternating.")
    parser.add_argument("--epochs", type=int, default=None, help="LSTM epochs [its default].")
    parser.add_argument("--threads", type=int, default=1, help="LSTM threads [1].")
    parser.add_argument("--test", type=int, default=60, help="Test bars (cutoffs) [60].")
    parser.add_argument("--refit-every", type=int, default=30, help="Refit every K [30].")
    args = parser.parse_args()
    import coincast.evaluation.run  # noqa: F401  (imports are not what is timed)

    frames = load()
    walls: dict[str, list[float]] = {"sequential": [], "engine": []}
    tables = {}
    for rep in range(args.repeats):
        for name in ("sequential", "engine"):
            parallel = name == "engine"
            wall, tables[name], done = timed(frames, args, parallel)
            walls[name].append(wall)
            print(f"run {rep + 1} {name:<10} {wall:7.1f} s  "
                  f"({'finished at' if parallel else 'per model'}: {_per_model(done, parallel)} s)",
                  flush=True)  # fmt: skip
    pd.testing.assert_frame_equal(tables["sequential"], tables["engine"])
    seq, eng = (statistics.median(walls[k]) for k in ("sequential", "engine"))
    print(f"median sequential {seq:.1f} s, LocalEngine({args.workers}) {eng:.1f} s: "
          f"{seq / eng:.2f}x (the tables are the same)")  # fmt: skip


if __name__ == "__main__":
    main()
