"""Benchmark of looking inside the LSTM: the gate-by-gate cell against ``nn.LSTM``, and the
cost of ``explain`` and of the notebook.

Run from the project root::

    python benchmarks/bench_explain.py [--repeat K] [--quick]

1. Forward pass of one window batch through ``nn.LSTM`` (fused kernels) and through
   ``coincast.models.cell.ScratchLSTM`` (one line per gate, a Python loop over steps), same
   weights, side by side in one process: the price of readability. Also the largest output
   difference between them (the tests require < 1e-5).
2. ``explain`` wall time (trace, saliency, gradient through time with three fresh networks,
   pictures and the page) for the default network (64 units x 2 layers) on a 30-bar and a
   365-bar window.
3. The quickstart notebook executed end to end with nbclient (offline, 10 epochs), as the
   tests run it.

Every timed figure is the median of ``--repeat`` runs (default 3) with its min-max spread;
one thread (``torch.set_num_threads(1)``), as the tests use.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
from common import Figures

ROOT = Path(__file__).resolve().parents[1]


def timed(fn, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def spread(xs: list[float], unit: str = "s", scale: float = 1.0) -> str:
    m = statistics.median(xs) * scale
    return f"{m:.3g} {unit} ({min(xs) * scale:.3g}-{max(xs) * scale:.3g})"


def bench_cell(fig: Figures, repeat: int, quick: bool) -> None:
    from coincast.models.cell import ScratchLSTM

    torch.manual_seed(0)
    lstm = torch.nn.LSTM(1, 64, 2, batch_first=True).eval()
    scratch = ScratchLSTM.from_torch(lstm).eval()
    for batch, length in [(64, 30)] if quick else [(1, 30), (64, 30), (64, 365)]:
        x = torch.randn(batch, length, 1)
        with torch.no_grad():
            diff = float((lstm(x)[0] - scratch(x)[0]).abs().max())
            t_fused, t_scratch = [], []
            for _ in range(repeat):  # interleaved: the machine is shared and noisy
                t_fused += timed(lambda x=x: lstm(x), 1)
                t_scratch += timed(lambda x=x: scratch(x), 1)
        ratio = statistics.median(t_scratch) / statistics.median(t_fused)
        label = f"batch {batch} x {length} steps"
        fig.add(f"nn.LSTM forward, {label}", spread(t_fused, "ms", 1e3))
        fig.add(f"ScratchLSTM forward, {label}", spread(t_scratch, "ms", 1e3))
        fig.add(f"ScratchLSTM / nn.LSTM time, {label}", f"{ratio:.1f}x")
        fig.check(f"max abs difference, {label}", f"{diff:.1e}", "< 1e-5", diff < 1e-5)


def bench_explain(fig: Figures, repeat: int, quick: bool) -> None:
    from coincast.data.sources import predictable_candles
    from coincast.explain import explain
    from coincast.models import LSTMForecaster

    frame = predictable_candles(800)
    for lookback in [30] if quick else [30, 365]:
        model = LSTMForecaster(lookback=lookback, epochs=1, threads=1, log_every=0).fit(frame)
        inputs = model.window_inputs(frame)
        with tempfile.TemporaryDirectory() as tmp:
            times = timed(lambda m=model, i=inputs, d=tmp: explain(m, i, d), repeat)
        fig.check(f"explain, 64 units x 2 layers, {lookback}-bar window", spread(times),
                  "< 10 s", statistics.median(times) < 10)  # fmt: skip


def bench_notebook(fig: Figures, repeat: int) -> None:
    try:
        import nbformat
        from nbclient import NotebookClient
    except ImportError:
        fig.add("notebook", "skipped: nbclient not installed")
        return
    path = ROOT / "examples" / "quickstart.ipynb"
    times = []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as tmp:
            env = {"COINCAST_OFFLINE": "1", "COINCAST_NB_EPOCHS": "10", "COINCAST_HOME": tmp}
            old = {k: os.environ.get(k) for k in env}
            os.environ.update(env)
            try:
                nb = nbformat.read(path, as_version=4)
                t = time.perf_counter()
                NotebookClient(nb, timeout=300, kernel_name="python3",
                               resources={"metadata": {"path": tmp}}).execute()  # fmt: skip
                times.append(time.perf_counter() - t)
            finally:
                for k, v in old.items():
                    os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
    fig.check("quickstart notebook end to end (10 epochs)", spread(times), "< 60 s",
              statistics.median(times) < 60)  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=3, help="runs per figure (default 3)")
    ap.add_argument("--quick", action="store_true", help="a smoke run: fewer cases")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    started = time.perf_counter()
    fig = Figures()
    print("The cell, gate by gate, against nn.LSTM:")
    bench_cell(fig, args.repeat, args.quick)
    print("\nexplain:")
    bench_explain(fig, args.repeat, args.quick)
    print("\nThe notebook:")
    bench_notebook(fig, 1 if args.quick else args.repeat)
    return fig.finish(args.repeat, started)


if __name__ == "__main__":
    sys.exit(main())
