"""Benchmarks of a sweep: many small LSTMs trained on one machine.

Run from the project root::

    python benchmarks/bench_sweep.py --part batched [--repeat K] [--epochs E] [--threads T]
    python benchmarks/bench_sweep.py --part methods
    python benchmarks/bench_sweep.py --part ceiling [--threads T]
    python benchmarks/bench_sweep.py --part engine [--trials 32] [--repeat 2]
    python benchmarks/bench_sweep.py --part projection
    python benchmarks/bench_sweep.py --part answer [--trials 100] [--answer eth-hourly]
    python benchmarks/bench_sweep.py --part pruning [--trials 40] [--answer eth-hourly]

``--part engine``, ``projection``, ``answer`` and ``pruning`` live in ``sweep_engines.py``
(see there).

``--part batched`` (:func:`batched_training`): 16 same-shape configs (LSTM 1 -> 64 x 2,
lookback 30, batch 64, BTC daily from ``../shared/data``; 4 learning rates x 4 seeds) trained
as one :class:`~coincast.models.batched.BatchedLSTM` with
:func:`~coincast.models.batched_training.train_batched`, and one after another with the
ordinary loop (:func:`coincast.models.training.train`), the same epochs, alternating in
one process; windows per second of each (training windows x epochs x members / wall
seconds, validation included) and their ratio, the median of ``--repeat`` runs with the
min-max spread. Then the curve: batched windows per second for 1, 4, 16 and 64 members on
the first ``--curve-windows`` training windows (one epoch), and the process's peak RSS
(``ru_maxrss``, which only grows: each row is the peak so far).

``--part methods`` (:func:`methods`): one training step (forward, loss, backward; no
optimizer) of M members by each way of running them together, the measurement behind the
choice in :mod:`coincast.models.batched`.

``--part ceiling`` (:func:`ceiling`): the most any batched network could gain here. It times
the matrix products alone that one training step of 16 members must make (the gate
equations' products, forward and backward, with no elementwise work at all, so no
implementation of the same equations can be faster), against one ``nn.LSTM`` step of each
member one after another, wall seconds on ``--threads`` threads, and the rate of a large
``sgemm`` for reference.

The machine is shared: other processes' CPU time during each run is printed (``/proc/stat``)
because two busy threads on two shared cores slow down by large factors when anything else
runs.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
import warnings
from pathlib import Path

import torch
from common import busy_cpu_s, markdown, peak_mb
from torch import nn

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
BTC_DAILY = DATA / "yahoo" / "daily" / "BTC-USD_1d.csv"
LOOKBACK, HIDDEN, LAYERS, BATCH = 30, 64, 2, 64
LRS, SEEDS = (1e-3, 2e-3, 3e-3, 5e-3), (0, 1, 2, 3)
RATIO_TARGET = 4.0


def btc_panel(lookback: int = LOOKBACK):
    """Training and validation windows of BTC daily log returns, as a fit builds them."""
    from coincast.data.sources.files import read_file
    from coincast.dataset.panel import build_panel, coin_inputs

    frame, _ = read_file(BTC_DAILY, coin="btc")
    coin = frame.attrs.get("coin", "bitcoin")
    ci = coin_inputs(coin, frame, ["log_return"], "returns")
    return build_panel({coin: ci}, [coin], lookback=lookback, horizon=1, target="returns",
                       fraction=0.1)  # fmt: skip


def configs(n: int, epochs: int):
    """``n`` training settings: the learning rates x seeds grid, repeated as needed."""
    from coincast.models.training import TrainSettings

    grid = [(lr, seed) for lr in LRS for seed in SEEDS]
    return [TrainSettings(epochs=epochs, batch=BATCH, lr=grid[k % 16][0],
                          seed=grid[k % 16][1] + 16 * (k // 16), patience=epochs + 1,
                          log_every=0) for k in range(n)]  # fmt: skip


def new_nets(settings):
    from coincast.models.lstm import LSTMNet

    nets = []
    for s in settings:
        torch.manual_seed(s.seed)
        nets.append(LSTMNet(1, HIDDEN, LAYERS))
    return nets


class Timed:
    """Wall seconds of a block and the CPU seconds other processes took meanwhile."""

    def __enter__(self) -> Timed:
        gc.collect()
        self.busy, self.t0 = busy_cpu_s(), time.perf_counter()
        self.cpu0 = time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.t0
        own = self.cpu = time.process_time() - self.cpu0
        busy = busy_cpu_s()
        self.others = None if busy is None or self.busy is None else busy - self.busy - own


def run_sequential(panel, settings) -> Timed:
    from coincast.models.training import train

    nets = new_nets(settings)
    with Timed() as t:
        for net, s in zip(nets, settings, strict=True):
            train(net, panel.train, panel.val, net.kind.loss, s)
    return t


def run_batched(train_set, val_set, settings) -> Timed:
    from coincast.models.batched_training import Member, train_batched

    nets = new_nets(settings)
    with Timed() as t:
        train_batched(nets, [Member(train_set, val_set, s) for s in settings])
    return t


def spread(xs: list[float], fmt: str = "{:,.0f}") -> str:
    return f"{fmt.format(statistics.median(xs))} ({fmt.format(min(xs))}-{fmt.format(max(xs))})"


def batched_training(
    repeat: int = 3,
    epochs: int = 3,
    curve_windows: int = 640,
    curve: tuple[int, ...] = (1, 4, 16, 64),
    train_windows: int = 0,
) -> int:
    """16 configs batched vs one after another, then the member-count curve; returns the
    exit code (1 when the ratio misses its target)."""
    if not BTC_DAILY.exists():
        print(f"skipped: {BTC_DAILY} not found")
        return 0
    from coincast.dataset.windows import Windows

    panel = btc_panel()
    print(f"peak RSS before training: {peak_mb():,.0f} MB")
    if train_windows:
        t = panel.train
        panel.train = Windows(t.x.numpy(), t.y.numpy(), t.ends.numpy()[-train_windows:],
                              LOOKBACK)  # fmt: skip
    n_train = len(panel.train)
    settings = configs(16, epochs)
    work = n_train * epochs * len(settings)
    threads = torch.get_num_threads()
    print(f"BTC daily: {n_train} training, {len(panel.val)} validation windows; "
          f"{len(settings)} configs x {epochs} epochs; {threads} threads")  # fmt: skip
    seq, bat, others, seq_cpu, bat_cpu = [], [], [], [], []
    for r in range(repeat):  # alternating, the order swapped every other repeat
        order = ("seq", "bat") if r % 2 == 0 else ("bat", "seq")
        for which in order:
            if which == "seq":
                t = run_sequential(panel, settings)
                seq.append(work / t.wall)
                seq_cpu.append(work / t.cpu)
            else:
                t = run_batched(panel.train, panel.val, settings)
                bat.append(work / t.wall)
                bat_cpu.append(work / t.cpu)
            others.append(t.others or 0.0)
            print(f"  repeat {r + 1} {which}: {t.wall:6.1f} s, others' CPU {t.others or 0:.0f} s",
                  flush=True)  # fmt: skip
    ratios = [b / s for b, s in zip(bat, seq, strict=True)]
    cpu_ratios = [b / s for b, s in zip(bat_cpu, seq_cpu, strict=True)]
    ok = statistics.median(ratios) >= RATIO_TARGET
    rows = [
        ("16 sequential trainings (windows/s)", spread(seq), "", ""),
        ("16 batched as one network (windows/s)", spread(bat), "", ""),
        ("ratio batched / sequential", spread(ratios, "{:.2f}x"), f">= {RATIO_TARGET:g}x",
         "PASS" if ok else "FAIL"),
        ("16 sequential, per CPU second of this process", spread(seq_cpu), "", ""),
        ("16 batched, per CPU second of this process", spread(bat_cpu), "", ""),
        ("ratio per CPU second", spread(cpu_ratios, "{:.2f}x"), "", "less noisy"),
        ("other processes' CPU per run (s)", spread(others, "{:.0f}"), "", "shared machine"),
    ]  # fmt: skip
    print()
    print(markdown(("figure", "median (min-max)", "target", "result"), rows))
    small = Windows(panel.train.x.numpy(), panel.train.y.numpy(),
                    panel.train.ends.numpy()[:curve_windows], LOOKBACK)  # fmt: skip
    val = Windows(panel.val.x.numpy(), panel.val.y.numpy(),
                  panel.val.ends.numpy()[:BATCH * 4], LOOKBACK)  # fmt: skip
    seq_rate = statistics.median(seq)
    curve_rows = []
    for m in curve:
        rates, cpu_rates = [], []
        for _ in range(repeat):
            t = run_batched(small, val, configs(m, 1))
            rates.append(len(small) * m / t.wall)
            cpu_rates.append(len(small) * m / t.cpu)
        curve_rows.append((str(m), spread(rates), f"{statistics.median(rates) / seq_rate:.2f}x",
                           spread(cpu_rates), f"{peak_mb():,.0f}"))  # fmt: skip
        print(f"  {m} members: {spread(rates)} windows/s", flush=True)
    print(f"\nCurve: one epoch over {len(small)} training windows per member "
          f"(validation {len(val)}); ratio against the sequential rate above\n")  # fmt: skip
    print(markdown(("members", "windows/s", "vs sequential", "per CPU second",
                    "peak RSS so far (MB)"),
                   curve_rows))  # fmt: skip
    return 0 if ok else 1


def methods(members: tuple[int, ...] = (1, 16, 64), repeat: int = 5) -> int:
    """One forward + backward step of M members (batch 64), per way of running them."""
    from torch.func import functional_call, stack_module_state, vmap

    from coincast.models.batched import BatchedLSTM
    from coincast.models.lstm import LSTMNet

    def sequential(m):
        nets = [LSTMNet(1, HIDDEN, LAYERS) for _ in range(m)]
        x, y = torch.randn(m, BATCH, LOOKBACK, 1), torch.randn(m, BATCH, 1)

        def step():
            for k, n in enumerate(nets):
                n.zero_grad()
                nn.functional.mse_loss(n(x[k]), y[k]).backward()

        return step

    def bmm(m, manual=False):
        b = BatchedLSTM.from_nets([LSTMNet(1, HIDDEN, LAYERS) for _ in range(m)])
        b.manual_backward = manual
        x, y = torch.randn(m, BATCH, LOOKBACK, 1), torch.randn(m, BATCH, 1)

        def step():
            b.zero_grad()
            ((b(x) - y) ** 2).mean(dim=(1, 2)).sum().backward()

        return step

    def vmapped(m):
        params, bufs = stack_module_state([LSTMNet(1, HIDDEN, LAYERS) for _ in range(m)])
        base = LSTMNet(1, HIDDEN, LAYERS).to("meta")
        x, y = torch.randn(m, BATCH, LOOKBACK, 1), torch.randn(m, BATCH, 1)

        def one(p, b, xx, yy):
            return nn.functional.mse_loss(functional_call(base, (p, b), (xx,)), yy)

        def step():
            vmap(one)(params, bufs, x, y).sum().backward()

        return step

    def block_diagonal(m):  # one nn.LSTM of hidden m * 64, weights masked block-diagonal
        lstm, head = nn.LSTM(m, m * HIDDEN, LAYERS, batch_first=True), nn.Linear(m * HIDDEN, m)
        masks = {}
        for name, p in lstm.named_parameters():
            if name.startswith("weight"):
                rows = torch.arange(p.shape[0]) % (m * HIDDEN) // HIDDEN
                cols = torch.arange(p.shape[1]) // (1 if name == "weight_ih_l0" else HIDDEN)
                masks[name] = (rows[:, None] == cols[None, :]).float()
        hm = (torch.arange(m)[:, None] == (torch.arange(m * HIDDEN) // HIDDEN)[None, :]).float()
        x, y = torch.randn(BATCH, LOOKBACK, m), torch.randn(BATCH, m)

        def step():
            lstm.zero_grad()
            head.zero_grad()
            w = {n: p * masks[n] if n in masks else p for n, p in lstm.named_parameters()}
            out, _ = functional_call(lstm, w, (x,))
            z = nn.functional.linear(out[:, -1], head.weight * hm, head.bias)
            ((z - y) ** 2).mean(0).sum().backward()

        return step

    ways = {"nn.LSTM, one net after another": sequential,
            "bmm gate equations, autograd (chosen)": bmm,
            "bmm gate equations, hand-written backward": lambda m: bmm(m, manual=True),
            "torch.func vmap + functional_call": vmapped,
            "block-diagonal nn.LSTM (grouped)": block_diagonal}  # fmt: skip
    rows = []
    for name, make in ways.items():
        cells = [name]
        for m in members:
            if make is block_diagonal and m > 16:
                cells.append("not run (M times the work)")
                continue
            try:
                step = make(m)
                for _ in range(2):
                    step()
                ts = []
                for _ in range(repeat):
                    t0 = time.process_time()  # CPU seconds: less noisy on a shared machine
                    step()
                    ts.append(time.process_time() - t0)
                cells.append(f"{m * BATCH / statistics.median(ts):,.0f}")
            except (RuntimeError, NotImplementedError) as exc:
                cells.append(f"fails: {str(exc)[:40]}")
            print(f"  {name}, {m} members: {cells[-1]}", flush=True)
        rows.append(tuple(cells))
    print(f"\nWindows per CPU second of one step (median of {repeat}), "
          f"{torch.get_num_threads()} threads\n")  # fmt: skip
    print(markdown(("method", *(f"M = {m}" for m in members)), rows))
    return 0


def ceiling(members: int = 16, repeat: int = 7) -> int:
    """Products-only step of ``members`` batched members against nn.LSTM steps: the bound."""
    from coincast.models.lstm import LSTMNet

    m, b, steps, h, g = members, BATCH, LOOKBACK, HIDDEN, 4 * HIDDEN
    widths = [1] + [h] * (LAYERS - 1)

    def rand(*shape):
        return torch.randn(*shape)

    seq = {k: rand(m, steps * b, w) for k, w in enumerate(widths)}
    w_ih = {k: rand(m, w, g) for k, w in enumerate(widths)}
    w_hh, h_t, d_t = rand(m, h, g), rand(m, b, h), rand(m, b, g)
    d_all, h_all = rand(m, g, steps * b), rand(m, steps * b, h)

    def products():  # every bmm of one forward + backward of the gate equations
        for k in range(len(widths)):
            torch.bmm(seq[k], w_ih[k])  # input projection, all steps at once
            for _ in range(steps):
                torch.bmm(h_t, w_hh)  # recurrence, forward
                torch.bmm(d_t, w_hh.transpose(1, 2))  # recurrence, backward
            torch.bmm(d_all, h_all)  # grad of w_hh, all steps at once
            torch.bmm(d_all, seq[k])  # grad of w_ih
            if k:
                torch.bmm(d_all.transpose(1, 2), w_ih[k].transpose(1, 2))  # grad of inputs

    nets = [LSTMNet(1, HIDDEN, LAYERS) for _ in range(m)]
    x, y = rand(m, b, steps, 1), rand(m, b, 1)

    def sequential():
        for k, n in enumerate(nets):
            n.zero_grad()
            nn.functional.mse_loss(n(x[k]), y[k]).backward()

    a, c = sum(2 * g * (w + h) for w in widths), 1024  # forward FLOPs a window, a step
    flops = 3 * steps * a * m * b  # the backward costs twice the forward
    big = rand(c, c)
    rows, figures = [], {}
    for name, fn, work in (("nn.LSTM step, 16 members one after another", sequential, m * b),
                           ("the batched step's matrix products alone", products, m * b),
                           ("sgemm 1024 x 1024 (GFLOP/s)", lambda: big @ big, None)):  # fmt: skip
        for _ in range(2):
            fn()
        ts = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            fn()
            ts.append(time.perf_counter() - t0)
        med = statistics.median(ts)
        figures[name] = work / med if work else 2 * c**3 / med / 1e9
        gf = flops / med / 1e9 if work else figures[name]
        rows.append((name, f"{figures[name]:,.0f}" if work else "-", f"{gf:,.0f}"))
        print(f"  {name}: {rows[-1][1]} windows/s, {rows[-1][2]} GFLOP/s", flush=True)
    names = list(figures)
    bound = figures[names[1]] / figures[names[0]]
    print(f"\n{m} members, batch {b}, lookback {steps}, LSTM 1 -> {h} x {LAYERS}, "
          f"{torch.get_num_threads()} threads, wall, median of {repeat}; "
          f"{flops / (m * b) / 1e6:.1f} MFLOP a window\n")  # fmt: skip
    print(markdown(("what", "windows/s", "GFLOP/s"), rows))
    perfect = figures[names[2]] * 1e9 / (flops / (m * b)) / figures[names[0]]
    verdict = "reachable" if max(bound, perfect) >= RATIO_TARGET else "out of reach"
    print(
        f"\nceiling of any batched network of these equations: {bound:.2f}x nn.LSTM; "
        f"with every product at the large sgemm's rate, {perfect:.2f}x "
        f"(goal {RATIO_TARGET:g}x: {verdict})"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--part", choices=["batched", "methods", "ceiling", "engine", "projection",
                                       "answer", "pruning"],
                    default="batched")  # fmt: skip
    ap.add_argument("--trials", type=int, default=32, help="trials of --part engine/answer")
    ap.add_argument("--repeat", type=int, default=3, help="repeats per figure (default 3)")
    ap.add_argument("--epochs", type=int, default=3, help="epochs per training (default 3)")
    ap.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    ap.add_argument(
        "--train-windows",
        type=int,
        default=0,
        help="only the last N training windows (default: all)",
    )
    ap.add_argument("--answer", default="btc-daily", choices=["btc-daily", "eth-hourly"],
                    help="the protocol of --part answer")  # fmt: skip
    ap.add_argument("--members", default="1,4,16,64", help="member counts of the curve")
    ap.add_argument("--curve-windows", type=int, default=640,
                    help="training windows per member in the curve (default 640)")  # fmt: skip
    args = ap.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    torch.set_num_threads(args.threads)
    warnings.simplefilter("ignore")
    if args.part == "ceiling":
        return ceiling()
    if args.part == "methods":
        return methods(tuple(int(m) for m in args.members.split(",")), args.repeat)
    if args.part in ("engine", "projection", "answer", "pruning"):
        import sweep_engines

        torch.set_num_threads(1)
        if args.part == "engine":
            sweep_engines.engine(args.trials, args.repeat)
        elif args.part == "projection":
            sweep_engines.projection()
        elif args.part == "pruning":
            sweep_engines.pruning(args.trials, args.answer)
        else:
            sweep_engines.answer(args.trials, args.answer)
        return 0
    curve = tuple(int(m) for m in args.members.split(","))
    return batched_training(args.repeat, args.epochs, args.curve_windows, curve, args.train_windows)


if __name__ == "__main__":
    sys.exit(main())
