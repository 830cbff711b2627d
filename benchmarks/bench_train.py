"""Benchmarks of LSTM training: loop throughput, a glibc malloc setting, memory, accuracy.

Run from the project root::

    python benchmarks/bench_train.py [--repeat K] [--quick]

1. Throughput (windows/s) of our training loop (``coincast.models.training.train``) side by
   side with the bare step of the same network (zero_grad, forward, MSE, backward, clip, Adam
   step on pre-gathered batches): the speed limit. LSTM(1 -> 64 x 2), batch 64, window 30, 2
   threads, one epoch over a generated 20,000-row hourly series per run, the three runs interleaved
   in one fresh process, once as shipped (coincast raises glibc's malloc thresholds when training
   starts) and once with that off (``COINCAST_MALLOPT=0``). Plain glibc makes either loop run
   at about half or full speed depending on the heap's history (see BENCHMARKS.md), so the
   95 % target is judged as shipped, with the allocator out of the way.
2. ``GLIBC_TUNABLES`` (malloc thresholds): the throughput case in fresh processes, plain and
   with the setting alternating, with their user and system CPU time; plus thresholds set
   in-process with ``mallopt`` (32/64 MiB, and coincast's own 256 MiB/1 GiB) and a process
   whose heap was warmed by freeing one big array.
3. Peak RSS of ``LSTMForecaster.fit`` on 1,000,000 generated one-minute candles (one epoch).
4. Accuracy on BTC daily: fit to 2024-02-12 (the last year validates, for early stopping
   only), then one-step forecasts for every day of 2024-02-13..2025-02-11; MAE, MASE against
   the naive forecast, MAPE and directional accuracy, default model (3 seeds) and the usual
   price-level recipe for contrast.

Every timed figure is the median of ``--repeat`` runs (default 3) with its min-max spread.
Peak memory is ``ru_maxrss`` (cross-checked with ``VmHWM``) of a fresh subprocess started
before this process grows; the subprocesses run this script with a hidden ``--case`` flag.
The machine is shared: the CPU time other processes took during each timed run is measured
(``/proc/stat``) and printed, because two busy OpenMP threads on two shared cores slow down
by large factors when anything else runs.

Targets (from the issue): our loop >= 95 % of the bare step; peak RSS of the 1M-row fit under
1.5 GB; MASE <= 1.00 for the default model. BTC daily is read from ``../shared/data``; the
accuracy case is skipped with a note when it is absent.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from common import Figures, busy_cpu_s, peak_mb, status_mb

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
BTC_DAILY = DATA / "yahoo" / "daily" / "BTC-USD_1d.csv"
START_MS = 1_577_836_800_000  # 2020-01-01 00:00 UTC
RESULT_TAG = "BENCH-RESULT "
TUNABLES = "glibc.malloc.mmap_threshold=268435456:glibc.malloc.trim_threshold=1073741824"
# What coincast could set in-process instead: glibc's own ceiling for its dynamic thresholds.
MALLOPT_MMAP, MALLOPT_TRIM = 32 * 2**20, 64 * 2**20
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # from glibc's malloc.h

LOOKBACK, HIDDEN, LAYERS, BATCH, THREADS = 30, 64, 2, 64, 2
ISSUE_SPEED_LIMIT = 4_700  # windows/s, the issue's bare-step figure
SHARE_TARGET = 0.95
RSS_TARGET_MB = 1500.0
MASE_TARGET = 1.00
ISSUE_NAIVE_MAE, ISSUE_NAIVE_MAPE = 1434.8, 0.0200
TRAIN_END, VAL_START = "2024-02-12", "2023-02-13"
TEST_START, TEST_END = "2024-02-13", "2025-02-11"


# -- helpers -----------------------------------------------------------------------------------


class Meter:
    """Wall time, this process's user/system CPU, and the CPU other processes took meanwhile."""

    def __enter__(self) -> Meter:
        gc.collect()
        self._busy = busy_cpu_s()
        self._ru = resource.getrusage(resource.RUSAGE_SELF)
        self._t = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self._t
        ru = resource.getrusage(resource.RUSAGE_SELF)
        busy = busy_cpu_s()
        self.user = ru.ru_utime - self._ru.ru_utime
        self.sys = ru.ru_stime - self._ru.ru_stime
        self.others = (
            None
            if busy is None or self._busy is None
            else max(0.0, busy - self._busy - self.user - self.sys) / self.wall
        )  # cores' worth of CPU that other processes used during the run


def med(xs: list[float]) -> float:
    return statistics.median(xs)


def rate(xs: list[float]) -> str:
    return f"{med(xs):,.0f} win/s ({min(xs):,.0f}-{max(xs):,.0f})"


def ratio(xs: list[float]) -> str:
    return f"{med(xs):.2f}x ({min(xs):.2f}-{max(xs):.2f})"


def load(xs: list[float | None]) -> str:
    got = [x for x in xs if x is not None]
    return f"{med(got):.2f} cores ({min(got):.2f}-{max(got):.2f})" if got else "n/a"


def child(case: str, *args: str, env: dict[str, str] | None = None) -> dict:
    """Run ``case`` in a fresh process; its figures, plus its whole-life user/sys CPU."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--case", case, *args]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(RESULT_TAG)]
    if proc.returncode or not lines:
        raise RuntimeError(f"case {case} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    out = json.loads(lines[-1][len(RESULT_TAG) :])
    out["child_user"] = after.ru_utime - before.ru_utime
    out["child_sys"] = after.ru_stime - before.ru_stime
    return out


def env_with(tunables: str | None, library: bool = False) -> dict[str, str]:
    """The environment of a child: ``GLIBC_TUNABLES`` or not, and coincast's own in-process
    malloc tuning (``training.tune_allocator``) on (``library``) or off (``COINCAST_MALLOPT=0``)."""
    env = {k: v for k, v in os.environ.items() if k not in ("GLIBC_TUNABLES", "COINCAST_MALLOPT")}
    if tunables:
        env["GLIBC_TUNABLES"] = tunables
    if not library:
        env["COINCAST_MALLOPT"] = "0"
    return env


# -- the throughput case: our loop and the bare step on the same windows -------------------


def first_defined(x) -> int:
    """First row with every feature defined (the features' leading warm-up), as ``fit`` uses."""
    import numpy as np

    return int(np.argmax(np.isfinite(x).all(axis=1)))


def throughput_windows(rows: int):
    """Scaled log-return windows of a generated hourly series, built as ``fit`` builds them."""
    from coincast.data.sources.synthetic import generate
    from coincast.dataset.features import compute_features
    from coincast.dataset.windows import Scaler, Windows, target_level, targets_at, window_ends

    frame = generate("bench", "1h", START_MS, START_MS + rows * 3_600_000)
    x = compute_features(frame, ["log_return"])
    warm = first_defined(x)
    ends = window_ends(warm, len(frame) - 1, LOOKBACK, 1)
    y = targets_at(target_level(frame["close"].to_numpy(), "returns"), ends, 1, "returns")
    fs, ts = Scaler.fit(x[warm:]), Scaler.fit(y)
    return Windows(fs.transform(x), ts.transform(y), ends, LOOKBACK)


def new_net(seed: int):
    import torch

    from coincast.models.lstm import LSTMNet

    torch.manual_seed(seed)
    return LSTMNet(1, HIDDEN, LAYERS)


def run_ours(windows, seed: int) -> Meter:
    """One epoch of ``coincast.models.training.train`` (no validation set), timed from outside."""
    from coincast.models.heads import PointHead
    from coincast.models.training import TrainSettings, train

    net = new_net(seed)
    settings = TrainSettings(epochs=1, batch=BATCH, seed=seed, log_every=0)
    with Meter() as m:
        train(net, windows, None, PointHead().loss, settings)
    m.windows = len(windows)
    return m


def epoch_batches(windows, seed: int) -> list:
    """The batches of one shuffled epoch, gathered before the clock starts."""
    import torch

    order = torch.randperm(len(windows), generator=torch.Generator().manual_seed(seed))
    return [windows.batch(order[i : i + BATCH]) for i in range(0, len(order), BATCH)]


def run_bare(batches: list, seed: int, clip: bool, steps: int | None = None) -> Meter:
    """The speed limit: the same network, loss, optimizer (and clipping) on ready tensors."""
    import torch
    from torch import nn

    net = new_net(seed)
    params = list(net.parameters())
    opt = torch.optim.Adam(params, lr=1e-3)
    todo = batches if steps is None else batches[:steps]
    with Meter() as m:
        for xb, yb in todo:
            opt.zero_grad(set_to_none=True)
            loss = nn.functional.mse_loss(net(xb), yb)
            loss.backward()
            if clip:
                nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
    m.windows = sum(len(yb) for _, yb in todo)
    return m


def warm_up(windows) -> None:
    """First calls build oneDNN primitives and fill caches: keep them off the clock."""
    from coincast.dataset.windows import Windows

    run_bare(epoch_batches(windows, 99), 99, clip=True, steps=20)
    y, ends = windows.y.numpy()[:1280], windows.ends.numpy()[:1280]
    small = Windows(windows.x.numpy(), y, ends, LOOKBACK)
    run_ours(small, 99)


def case_loop(rows: int, repeat: int) -> dict:
    """One fresh process: ``repeat`` rounds of our loop and the bare step (with and without
    clipping), interleaved, the order rotated each round."""
    import torch

    torch.set_num_threads(THREADS)
    windows = throughput_windows(rows)
    warm_up(windows)
    out: dict[str, list] = {
        "ours": [],
        "clip": [],
        "noclip": [],
        "log": [],
        "windows": len(windows),
    }
    kinds = ["ours", "clip", "noclip"]
    for k in range(repeat):
        batches = epoch_batches(windows, k)
        for kind in kinds[k % 3 :] + kinds[: k % 3]:
            m = (
                run_ours(windows, k)
                if kind == "ours"
                else run_bare(batches, k, clip=kind == "clip")
            )
            out[kind].append(m.windows / m.wall)
            out["log"].append((k + 1, kind, m.windows / m.wall, m.user, m.sys, m.wall, m.others))
    return out


def bench_throughput(fig: Figures, rows: int, repeat: int) -> None:
    modes = (
        ("coincast as shipped (mallopt in train)", None, True),
        ("plain glibc malloc (COINCAST_MALLOPT=0)", None, False),
    )
    for label, tun, library in modes:
        r = child("loop", "--rows", str(rows), "--repeat", str(repeat), env=env_with(tun, library))
        print(f"  {label}: {r['windows']:,} windows per epoch, {THREADS} threads")
        for k, kind, speed, user, sys_, wall, others in r["log"]:
            print(
                f"    round {k} {kind:<6} {speed:8,.0f} win/s  cpu {(user + sys_) / wall:.2f} "
                f"cores (sys {sys_ / wall:.2f}), others "
                f"{'n/a' if others is None else f'{others:.2f}'}",
                flush=True,
            )
        fig.add(f"{label}: our loop, train() 1 epoch", rate(r["ours"]))
        fig.add("  bare step with clip (the speed limit)", rate(r["clip"]))
        fig.add("  bare step without clip", rate(r["noclip"]))
        share = [a / b for a, b in zip(r["ours"], r["clip"], strict=True)]
        value = f"{med(share):.1%} ({min(share):.1%}-{max(share):.1%})"
        if library:  # the allocator out of the way: the comparison measures the loop
            fig.check(
                "  ours / bare with clip, same round",
                value,
                f">= {SHARE_TARGET:.0%}",
                med(share) >= SHARE_TARGET,
            )
        else:  # see BENCHMARKS.md: plain glibc makes either loop land at ~8k or ~18k
            fig.add("  ours / bare with clip, same round", value)
        share = [a / b for a, b in zip(r["ours"], r["noclip"], strict=True)]
        fig.add(
            "  ours / bare without clip, same round",
            f"{med(share):.1%} ({min(share):.1%}-{max(share):.1%})",
        )
        fig.add(
            f"  ours / the issue's {ISSUE_SPEED_LIMIT:,} win/s",
            f"{med(r['ours']) / ISSUE_SPEED_LIMIT:.2f}x",
        )
        logs = r["log"]
        shares = [x[4] / (x[3] + x[4]) for x in logs]
        fig.add(
            "  runs in the slow heap mode (sys > 10 % of CPU)",
            f"{sum(x > 0.1 for x in shares)} of {len(shares)}; sys {min(shares):.0%}-"
            f"{max(shares):.0%} of CPU",
        )
        fig.add("  other processes' CPU during these runs", load([x[6] for x in logs]))


def case_throughput(rows: int, variant: str) -> dict:
    """One fresh process: our loop and the bare step once each, under one malloc variant."""
    if variant == "mallopt":
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        ok = libc.mallopt(M_MMAP_THRESHOLD, MALLOPT_MMAP) and libc.mallopt(
            M_TRIM_THRESHOLD, MALLOPT_TRIM
        )
        if not ok:
            raise SystemExit("mallopt refused the thresholds")
    import numpy as np
    import torch

    torch.set_num_threads(THREADS)
    windows = throughput_windows(rows)
    if variant == "prefree":
        big = np.ones(30 * 2**20 // 8)  # 30 MB, mmapped; freeing it raises glibc's thresholds
        del big
    warm_up(windows)
    ours = run_ours(windows, 0)
    bare = run_bare(epoch_batches(windows, 0), 0, clip=True)
    return {
        "ours": ours.windows / ours.wall,
        "bare": bare.windows / bare.wall,
        "user": ours.user + bare.user,
        "sys": ours.sys + bare.sys,
        "wall": ours.wall + bare.wall,
        "others": [ours.others, bare.others],
    }


def bench_glibc(fig: Figures, rows: int, repeat: int) -> None:
    variants = {
        "plain": None,
        "tunables": TUNABLES,
        "mallopt": None,
        "prefree": None,
        "coincast": None,
    }
    labels = {
        "plain": "plain glibc malloc",
        "tunables": "GLIBC_TUNABLES of the issue",
        "mallopt": "mallopt 32/64 MiB in-process",
        "prefree": "plain, heap warmed by a 30 MB free",
        "coincast": "coincast as shipped (mallopt 256 MiB/1 GiB in train)",
    }
    got: dict[str, list[dict]] = {k: [] for k in variants}
    names = list(variants)
    for k in range(repeat):
        for v in names[k % len(names) :] + names[: k % len(names)]:  # rotate the order
            env = env_with(variants[v], library=v == "coincast")
            r = child("throughput", "--rows", str(rows), "--variant", v, env=env)
            got[v].append(r)
            print(
                f"    round {k + 1} {v:<8} ours {r['ours']:8,.0f}  bare {r['bare']:8,.0f} win/s  "
                f"timed part: user {r['user']:.1f} s sys {r['sys']:.1f} s of {r['wall']:.1f} s; "
                f"whole child: user {r['child_user']:.1f} s sys {r['child_sys']:.1f} s",
                flush=True,
            )
    plain = [r["ours"] for r in got["plain"]]
    for v in names:
        rs = got[v]
        fig.add(f"{labels[v]}: our loop", rate([r["ours"] for r in rs]))
        fig.add("  bare step with clip", rate([r["bare"] for r in rs]))
        share = [r["ours"] / r["bare"] for r in rs]
        fig.add("  ours / bare", f"{med(share):.1%} ({min(share):.1%}-{max(share):.1%})")
        slow = sum(r["sys"] > 0.1 * (r["user"] + r["sys"]) for r in rs)
        fig.add("  children in the slow heap mode (sys > 10 %)", f"{slow} of {len(rs)}")
        fig.add(
            "  CPU of the timed part: user / sys",
            f"{med([r['user'] for r in rs]):.1f} s / {med([r['sys'] for r in rs]):.1f} s "
            f"of {med([r['wall'] for r in rs]):.1f} s",
        )
        fig.add(
            "  whole child (getrusage children): user / sys",
            f"{med([r['child_user'] for r in rs]):.1f} s / "
            f"{med([r['child_sys'] for r in rs]):.1f} s",
        )
        if v != "plain":
            fig.add(
                f"  ratio {v} / plain, same round",
                ratio([r["ours"] / p for r, p in zip(rs, plain, strict=True)]),
            )
    fig.add(
        "  other processes' CPU during these runs",
        load([o for rs in got.values() for r in rs for o in r["others"]]),
    )


# -- the memory case -------------------------------------------------------------------------


def case_rss(rows: int, batch: int) -> dict:
    """Fit an LSTMForecaster (1 epoch) on ``rows`` generated minute candles; memory on the way."""
    out: dict[str, float | None] = {"python_mb": peak_mb()}
    import coincast.models.forecaster as fc
    from coincast.data.sources.synthetic import generate

    out["import_mb"] = peak_mb()
    t0 = time.perf_counter()
    frame = generate("bench", "1m", START_MS, START_MS + rows * 60_000)
    out.update(generate_s=time.perf_counter() - t0, frame_mb=peak_mb(), rows=len(frame))
    real_train = fc.train

    def spy(*args, **kwargs):
        # Entered after fit built features, scalers and windows: the data's memory.
        out.update(data_rss_mb=status_mb("VmRSS"), data_peak_mb=status_mb("VmHWM"))
        out["train_windows"] = len(args[1])
        t = time.perf_counter()
        result = real_train(*args, **kwargs)
        out["train_s"] = time.perf_counter() - t
        return result

    fc.train = spy
    f = fc.LSTMForecaster(
        lookback=LOOKBACK, hidden=HIDDEN, layers=LAYERS, batch=batch, epochs=1,
        threads=THREADS, device="cpu", log_every=0, seed=0,
    )  # fmt: skip
    t = time.perf_counter()
    f.fit(frame)
    out.update(
        fit_s=time.perf_counter() - t,
        epoch_s=f.result.history[0].seconds,
        peak_mb=peak_mb(),
        hwm_mb=status_mb("VmHWM"),
        end_rss_mb=status_mb("VmRSS"),
    )
    return out


def bench_memory(fig: Figures, rows: int, batch: int) -> None:
    label = f"{rows / 1e6:g}M" if rows >= 1_000_000 else f"{rows:,}"
    cases = (("coincast", None, True), ("plain glibc malloc", None, False))
    for name, tun, library in cases:
        env = env_with(tun, library)
        r = child("rss", "--rows", str(rows), "--batch", str(batch), env=env)
        hwm = r.get("hwm_mb")
        if hwm is not None and r["peak_mb"] > hwm * 1.1 + 5:
            print(f"  warning: ru_maxrss {r['peak_mb']:.0f} MB > VmHWM {hwm:.0f} MB: trust VmHWM")
        peak = min(r["peak_mb"], hwm) if hwm is not None else r["peak_mb"]
        if name == "coincast":
            fig.add("peak RSS: import coincast (+ torch)", f"{r['import_mb']:.0f} MB")
            fig.add(f"  after generating {label} 1m candles", f"{r['frame_mb']:.0f} MB")
            fig.add(
                "  after fit built features/scalers/windows",
                f"{r['data_rss_mb']:.0f} MB now, {r['data_peak_mb']:.0f} MB peak",
            )
            fig.check(
                f"peak RSS: fit {label} rows, 1 epoch, batch {batch}",
                f"{peak:.0f} MB",
                f"< {RSS_TARGET_MB:g} MB",
                peak < RSS_TARGET_MB,
            )
            fig.add(
                "  fit time (1 epoch + validation metrics)",
                f"{r['fit_s']:.1f} s; epoch {r['train_windows'] / r['epoch_s']:,.0f} win/s",
            )
        else:
            fig.add(f"  the same fit with {name}", f"{peak:.0f} MB peak, fit {r['fit_s']:.1f} s")


# -- the accuracy protocol -------------------------------------------------------------------


def scores(pred, last, actual) -> dict[str, float]:
    import numpy as np

    err = np.abs(pred - actual)
    naive = np.abs(last - actual)
    dp, da = np.sign(pred - last), np.sign(actual - last)
    counted = (dp != 0) & (da != 0)
    return {
        "mae": float(err.mean()),
        "mase": float(err.mean() / naive.mean()),
        "mape": float((err / actual).mean()),
        "dir": float((dp[counted] == da[counted]).mean()) if counted.any() else float("nan"),
        "flat": int((dp == 0).sum()),
        "up": float((dp > 0).mean()),
        "change": float(np.mean(pred / last - 1)),
    }


def bench_accuracy(fig: Figures, seeds: list[int], recipe_seeds: list[int], epochs: int) -> None:
    import numpy as np
    import pandas as pd

    from coincast.data.sources.files import read_file
    from coincast.dataset.features import compute_features
    from coincast.dataset.windows import window_ends
    from coincast.models.forecaster import LSTMConfig, LSTMForecaster

    if not BTC_DAILY.is_file():
        print(f"  note: {BTC_DAILY} is absent: the accuracy protocol is skipped")
        return
    frame, _ = read_file(BTC_DAILY, coin="BTC")
    idx = frame.index

    def day(s: str) -> pd.Timestamp:
        return pd.Timestamp(s, tz="UTC")

    train = frame.iloc[: int(idx.searchsorted(day(TRAIN_END), side="right"))]
    test = np.flatnonzero((idx >= day(TEST_START)) & (idx <= day(TEST_END)))
    close = frame["close"].to_numpy(dtype="float64")
    actual, last = close[test], close[test - 1]
    if not len(test) or np.any(np.diff(idx[test[0] - 1 : test[-1] + 1].asi8) != 86_400 * 10**9):
        raise SystemExit("the test year of BTC-USD_1d.csv is not whole daily bars")
    naive = scores(last, last, actual)
    print(f"  train rows {len(train):,} to {train.index[-1].date()}, test days {len(test)}")
    fig.check(
        f"naive forecast, {len(test)} test days: MAE / MAPE",
        f"{naive['mae']:,.1f} USD / {naive['mape']:.2%}",
        "= issue",
        abs(naive["mae"] - ISSUE_NAIVE_MAE) < 0.1 and abs(naive["mape"] - ISSUE_NAIVE_MAPE) < 5e-5,
    )
    ups = np.sign(actual - last)
    fig.add(
        "  test days with a rise / fall / no change",
        f"{(ups > 0).mean():.1%} / {(ups < 0).mean():.1%} / {int((ups == 0).sum())} days",
    )
    n_val = int((idx[: len(train)] >= day(VAL_START)).sum())  # validation targets: the last year
    # What a network that outputs a constant 0 (scaled) gives: the training windows' mean log
    # return (the target scaler's mean) added to every last close. No LSTM, no test data.
    fit_rows = np.log(close[: len(train) - n_val])
    drift = float(np.diff(fit_rows)[LOOKBACK:].mean())  # the training targets
    d = scores(last * np.exp(drift), last, actual)
    fig.add(
        "naive + training drift (no LSTM): MASE",
        f"{d['mase']:.3f} (drift {np.expm1(drift):+.3%}/day)",
    )

    def run(seed: int, **kw: object) -> dict[str, float]:
        cfg = LSTMConfig(epochs=epochs, seed=seed, log_every=0, **kw)
        x = compute_features(train, cfg.features)
        ends = window_ends(first_defined(x), len(train) - 1, cfg.lookback, 1)
        frac = n_val / len(ends)  # fit's split takes round(len(ends) * frac) = n_val ends
        assert round(len(ends) * frac) == n_val and idx[ends[-n_val] + 1] == day(VAL_START)
        t = time.perf_counter()
        f = LSTMForecaster(cfg, val_fraction=frac).fit(train)
        s = scores(f.predict_rows(frame, test - 1)[:, 0], last, actual)
        s.update(
            fit_s=time.perf_counter() - t,
            best=f.result.best_epoch,
            ran=len(f.result.history),
            val_rel=f.metrics["val_rel_mae"],
        )
        print(
            f"    {cfg.target:<7} seed {seed}: MAE {s['mae']:8,.1f}  MASE {s['mase']:.3f}  "
            f"MAPE {s['mape']:.2%}  dir {s['dir']:.1%}  up {s['up']:.0%}  flat {s['flat']}  "
            f"best epoch {s['best']}/{s['ran']}  val MAE/naive {s['val_rel']:.3f}  "
            f"{s['fit_s']:.1f} s",
            flush=True,
        )
        return s

    default = [run(s) for s in seeds]
    s0 = default[0]
    what = f"default LSTM (returns, point, seed {seeds[0]})"
    fig.add(f"{what}: MAE", f"{s0['mae']:,.1f} USD")
    fig.check(
        "  MASE (MAE / naive MAE)",
        f"{s0['mase']:.3f}",
        f"<= {MASE_TARGET:.2f}",
        s0["mase"] <= MASE_TARGET,
    )
    fig.add("  MAPE", f"{s0['mape']:.2%}")
    fig.add(
        "  directional accuracy",
        f"{s0['dir']:.1%} ({s0['flat']} flat, {s0['up']:.0%} predicted up)",
    )
    fig.add("  mean predicted change", f"{s0['change']:+.3%}/day")
    fig.add("  best epoch / epochs run", f"{s0['best']} / {s0['ran']}")
    fig.add("  validation year MAE / naive (chose the epoch)", f"{s0['val_rel']:.3f}")

    def spread(name: str, rs: list[dict], fmt: str, key: str) -> None:
        xs = [r[key] for r in rs]
        fig.add(name, f"{fmt.format(med(xs))} ({fmt.format(min(xs))}-{fmt.format(max(xs))})")

    if len(default) > 1:
        tag = f"seeds {','.join(map(str, seeds))}"
        spread(f"default LSTM, {tag}: MASE", default, "{:.3f}", "mase")
        spread("  MAE (USD)", default, "{:,.1f}", "mae")
        spread("  directional accuracy", default, "{:.1%}", "dir")
        spread("  best epoch", default, "{:.0f}", "best")
    recipe = [run(s, target="price", features=["close"]) for s in recipe_seeds]
    tag = f"seed{'s' if len(recipe_seeds) > 1 else ''} {','.join(map(str, recipe_seeds))}"
    spread(f"usual recipe (price target, close), {tag}: MASE", recipe, "{:.3f}", "mase")
    spread("  MAE (USD)", recipe, "{:,.1f}", "mae")
    spread("  MAPE", recipe, "{:.2%}", "mape")
    spread("  directional accuracy", recipe, "{:.1%}", "dir")


# -- main ------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=None, help="repeats per figure (default 3)")
    ap.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    ap.add_argument("--case", help=argparse.SUPPRESS)
    ap.add_argument("--rows", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--batch", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--variant", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.case == "throughput":
        print(RESULT_TAG + json.dumps(case_throughput(args.rows, args.variant)), flush=True)
        return 0
    if args.case == "loop":
        print(RESULT_TAG + json.dumps(case_loop(args.rows, args.repeat)), flush=True)
        return 0
    if args.case == "rss":
        print(RESULT_TAG + json.dumps(case_rss(args.rows, args.batch)), flush=True)
        return 0
    if args.case:
        raise SystemExit(f"unknown case {args.case!r}")
    repeat = args.repeat if args.repeat is not None else (1 if args.quick else 3)
    if repeat < 1:
        ap.error("--repeat must be >= 1")
    q = args.quick
    tp_rows = 4_000 if q else 20_000
    rss_rows, rss_batch = (100_000, 1024) if q else (1_000_000, 1024)
    seeds, recipe_seeds, epochs = ([0], [0], 3) if q else ([0, 1, 2], [0, 1, 2], 50)

    fig = Figures()
    t0 = time.perf_counter()
    print(
        f"coincast LSTM training benchmarks: repeat={repeat}{' (quick)' if q else ''} "
        f"python {sys.version.split()[0]} cpus {os.cpu_count()} "
        f"GLIBC_TUNABLES={os.environ.get('GLIBC_TUNABLES', '(unset)')}"
    )
    # Every heavy case runs in a fresh child while this process is small (a child's ru_maxrss
    # starts at its parent's peak: Linux keeps it across fork and exec); this process imports
    # torch only for the accuracy protocol, last.
    print(f"\n[1] throughput: our loop and the bare step, x{repeat} interleaved, fresh processes")
    bench_throughput(fig, tp_rows, repeat)
    print(f"\n[2] glibc malloc settings: the throughput case in fresh processes, x{repeat} each")
    bench_glibc(fig, tp_rows, repeat)
    print(f"\n[3] peak memory: fit on {rss_rows:,} generated 1m candles, one fresh process each")
    bench_memory(fig, rss_rows, rss_batch)
    print(f"\n[4] accuracy: BTC daily, test {TEST_START}..{TEST_END}, one-step")
    bench_accuracy(fig, seeds, recipe_seeds, epochs)
    return fig.finish(repeat, t0)


if __name__ == "__main__":
    sys.exit(main())
