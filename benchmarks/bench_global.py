"""Benchmark and answer for training one LSTM on many coins.

1. Throughput and memory: training windows per second, and the peak memory of the whole
   process, for the global model on all 14 daily coins against one coin (bitcoin). Each run
   is a fresh child process so its peak memory is its own; the runs alternate and the medians
   are compared.
2. The answer (``--answer daily`` and/or ``hourly``): the same walk-forward backtest of every
   coin with the LSTM trained on that coin only (``single``), on all 14 coins (``global``)
   and on all 14 with bitcoin's returns as an extra input (``global+exog``), next to the
   naive and drift forecasts. Prints per-coin MASE and MAE/naive, the Diebold-Mariano tests
   between the variants per coin and pooled over coins (errors scaled by each coin's naive
   MAE), and draws docs/images/global-mase-<set>.png.

Run from the project root on a quiet machine: ``python benchmarks/bench_global.py``
(``--quick`` for a smoke run; ``--answer none`` for the throughput part only).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import Figures, markdown, status_mb

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "yahoo"
SYMBOLS = ("BTC", "ETH", "BNB", "XRP", "ADA", "SOL", "DOGE", "DOT", "AVAX", "LINK", "LTC",
           "MATIC", "USDC", "USDT")  # fmt: skip
SETS = {
    # folder, file suffix, test bars, refit every
    "daily": ("daily", "1d", 365, 30),
    "hourly": ("hourly", "1h", 336, 48),
}
VARIANTS = ["single", "global", "global+exog"]
NAMES = [f"lstm-{v}" for v in VARIANTS]


def load(kind: str) -> dict[str, pd.DataFrame]:
    """Every coin of one set, keyed by coin id, read from ../shared/data."""
    from coincast.coins import resolve_offline
    from coincast.data.sources.files import read_file

    folder, suffix, _, _ = SETS[kind]
    frames = {}
    for sym in SYMBOLS:
        coin = resolve_offline(sym)
        frames[coin], _ = read_file(DATA / folder / f"{sym}-USD_{suffix}.csv", coin=coin)
    return frames


# -- 1. throughput and memory ------------------------------------------------------------------


def _train_child(coins: str, epochs: int, queue) -> None:
    from coincast.models import LSTMForecaster

    frames = load("daily")
    data = frames if coins == "all" else {"bitcoin": frames["bitcoin"]}
    f = LSTMForecaster(epochs=epochs, patience=epochs, threads=1, log_every=0, device="cpu")
    f.fit(data)
    h = f.result.history
    queue.put({
        "windows_per_s": sum(r.windows for r in h) / sum(r.seconds for r in h),
        "windows": h[0].windows,
        "peak_mb": status_mb("VmHWM"),
    })  # fmt: skip


def child(coins: str, epochs: int) -> dict:
    """One training run in a fresh process (its own peak memory)."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    p = ctx.Process(target=_train_child, args=(coins, epochs, queue))
    p.start()
    out = queue.get()
    p.join()
    return out


def bench_throughput(fig: Figures, repeat: int, epochs: int) -> None:
    runs: dict[str, list[dict]] = {"one": [], "all": []}
    for i in range(repeat):
        for coins in ("one", "all") if i % 2 == 0 else ("all", "one"):
            r = child(coins, epochs)
            runs[coins].append(r)
            print(f"  run {i + 1} {coins:>3}: {r['windows']:,} windows/epoch, "
                  f"{r['windows_per_s']:,.0f} windows/s, peak {r['peak_mb']:.0f} MB")  # fmt: skip
    one = statistics.median(r["windows_per_s"] for r in runs["one"])
    all_ = statistics.median(r["windows_per_s"] for r in runs["all"])
    fig.add("training windows/s, bitcoin only", f"{one:,.0f}", "", "")
    fig.add("training windows/s, 14 coins", f"{all_:,.0f}", "", "")
    ratio = all_ / one
    fig.check("14 coins / 1 coin, windows/s", f"{ratio:.2f}", ">= 0.95", ratio >= 0.95)
    mem_one = statistics.median(r["peak_mb"] for r in runs["one"])
    mem_all = statistics.median(r["peak_mb"] for r in runs["all"])
    fig.add("peak memory, bitcoin only (MB)", f"{mem_one:.0f}", "", "")
    fig.add("peak memory, 14 coins (MB)", f"{mem_all:.0f}", "", "")


# -- 2. the answer -------------------------------------------------------------------------------


def answer(kind: str, fig: Figures, quick: bool, out_dir: Path) -> None:
    from coincast.evaluation.adapters import LSTMTraining
    from coincast.evaluation.backtest import WalkForward
    from coincast.evaluation.compare import by_coin, pairwise
    from coincast.evaluation.run import run_backtest
    from coincast.evaluation.scoring import recent_naive_scale
    from coincast.models.config import LSTMConfig
    from coincast.reporting.compare_plots import plot_by_coin

    frames = load(kind)
    _, _, test, refit = SETS[kind]
    if quick:
        frames = {c: frames[c] for c in list(frames)[:3]}
        test, refit = 20, 10
    cfg = LSTMConfig(threads=1, log_every=0, device="cpu", exog=["bitcoin"],
                     epochs=5 if quick else 50)  # fmt: skip
    shared: dict = {}  # the global models are fit once per refit and serve every coin
    scores, tables, scales, pairs = {}, [], {}, {}
    t0 = time.perf_counter()
    for coin, frame in frames.items():
        t = time.perf_counter()
        r = run_backtest(
            frame, WalkForward(test=test, refit_every=refit), models=["lstm", "naive", "drift"],
            lstm=LSTMTraining(cfg, variants=VARIANTS, others=frames, shared=shared),
        )  # fmt: skip
        scores[coin], pairs[coin] = r.scores, r.comparison
        tables.append(r.table)
        close = frame["close"].to_numpy(dtype="float64")
        scales[coin] = recent_naive_scale(close[: len(close) - test])  # every training close
        s = r.scores.set_index("model")
        print(f"  {coin:<14} {time.perf_counter() - t:6.1f} s  MASE "
              + "  ".join(f"{m.removeprefix('lstm-')} {s.at[m, 'mase']:.3f}"
                          for m in [*NAMES, "naive"]))  # fmt: skip
    fig.add(f"{kind}: backtest wall time, {len(frames)} coins", f"{time.perf_counter() - t0:.0f} s",
            "", "")  # fmt: skip
    models = [*NAMES, "naive", "drift"]
    table = by_coin(scores, models)
    print()
    print(per_coin_markdown(table, pairs, scores))
    pooled = pairwise(pd.concat(tables, ignore_index=True), NAMES, scale=scales)
    print()
    print(pooled_markdown(pooled))
    wins = table["best"].value_counts()
    for m in models:
        fig.add(f"{kind}: coins where {m} has the lowest MASE", str(int(wins.get(m, 0))), "", "")
    for m in NAMES:
        med = float(np.nanmedian(table[f"rel_mae:{m}"]))
        fig.add(f"{kind}: median MAE/naive, {m}", f"{med:.4f}", "", "below naive" if med < 1
                else "not below naive")  # fmt: skip
    picture = plot_by_coin(
        table, [*NAMES, "naive"], out_dir / f"global-mase-{kind}.png",
        f"{kind} bars, last {test}: MASE per coin (lower is better)",
    )  # fmt: skip
    print(f"\npicture: {picture}")


def per_coin_markdown(
    table: pd.DataFrame, pairs: dict[str, pd.DataFrame], scores: dict[str, pd.DataFrame]
) -> str:
    head = ("coin", *(f"MASE {m.removeprefix('lstm-')}" for m in NAMES), "MASE naive",
            "single vs naive", "global vs single", "global+exog vs global")  # fmt: skip
    rows = []
    for r in table.to_dict("records"):
        p = pairs[r["coin"]].set_index(["a", "b"])
        s = scores[r["coin"]].set_index("model").loc["lstm-single"]
        vs_naive = pd.Series(
            {"ratio": s["rel_mae"], "dm_stat": s["dm_stat"], "dm_pvalue": s["dm_pvalue"]}
        )
        rows.append((
            r["coin"], *(f"{r[f'mase:{m}']:.3f}" for m in [*NAMES, "naive"]),
            verdict(vs_naive),
            verdict(p.loc[("lstm-single", "lstm-global")], flip=True),
            verdict(p.loc[("lstm-global", "lstm-global+exog")], flip=True),
        ))  # fmt: skip
    return markdown(head, rows)


def verdict(row: pd.Series, flip: bool = False) -> str:
    """'better'/'worse'/'same' for the second model of a pair (``flip``) or the first, by the
    one rule of every verdict (:func:`coincast.evaluation.verdicts.verdict`)."""
    from coincast.evaluation.verdicts import verdict as judge

    ratio, p, stat = row["ratio"], row["dm_pvalue"], row["dm_stat"]
    word = judge(p, None if pd.isna(stat) else -stat if flip else stat)
    if word is None:
        return "n/a"
    ratio = 1 / ratio if flip else ratio
    return f"{'same' if word == 'no different' else word} ({ratio:.3f}, p {p:.2f})"


def pooled_markdown(pooled: pd.DataFrame) -> str:
    rows = [(r["a"], r["b"], str(r["n"]), f"{r['ratio']:.4f}", f"{r['dm_stat']:.2f}",
             f"{r['dm_pvalue']:.3f}", r["better"] if isinstance(r["better"], str) else "neither")
            for r in pooled.to_dict("records")]  # fmt: skip
    return markdown(("a", "b", "forecasts", "MAE a / b", "DM stat", "p", "better"), rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="a smoke run: tiny and fast")
    ap.add_argument("--repeat", type=int, default=3,
                    help="throughput runs per setting (0: skip that part)")  # fmt: skip
    ap.add_argument("--epochs", type=int, default=3, help="epochs per throughput run")
    ap.add_argument("--answer", default="daily,hourly",
                    help="sets to answer for: daily, hourly, both (comma) or none")  # fmt: skip
    ap.add_argument("--out", type=Path, default=Path("docs/images"), help="picture folder")
    args = ap.parse_args(argv)
    if not DATA.is_dir():
        print(f"needs the shared data at {DATA}")
        return 1
    started = time.perf_counter()
    fig = Figures()
    if args.repeat > 0:
        print("Throughput and memory (fresh process per run):")
        bench_throughput(fig, 1 if args.quick else args.repeat, 1 if args.quick else args.epochs)
    for kind in [k for k in args.answer.split(",") if k and k != "none"]:
        print(f"\nThe answer, {kind}:")
        answer(kind, fig, args.quick, args.out)
    return fig.finish(1 if args.quick else max(args.repeat, 1), started)


if __name__ == "__main__":
    sys.exit(main())
