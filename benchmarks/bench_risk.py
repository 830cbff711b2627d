"""Risk forecasts: what can be forecast, and what it costs.

1. The answer. Walk-forward over the last ``--test`` bars (365 daily, 500 hourly) of every coin
   of ``../shared/data/yahoo/daily`` (and ``hourly`` with ``--hourly``), volatility target:
   the LSTM against GARCH, GJR, HAR, EWMA and rolling volatility. Per coin: QLIKE relative to
   GARCH with the DM p-value, and how many models' 1 % and 5 % VaR pass Kupiec and
   conditional coverage. Then the 90 % band coverage of the price models (naive, drift,
   moving average) before and after conformal calibration.
2. The cost: seconds per cutoff of a 365-cutoff volatility backtest per model on BTC daily,
   and of ACI (conformalize) per cutoff.

Usage: python benchmarks/bench_risk.py [--coins BTC,ETH] [--no-lstm] [--hourly] [--test N]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "yahoo"


def load(folder: str, sym: str):
    from coincast.data.sources.files import read_file

    frame, _ = read_file(DATA / folder / f"{sym}-USD_{'1d' if folder == 'daily' else '1h'}.csv",
                         coin=sym.lower())  # fmt: skip
    return frame


def lstm_training():
    from coincast.evaluation.adapters import LSTMTraining
    from coincast.models.config import LSTMConfig

    cfg = LSTMConfig(target="volatility", hidden=16, layers=1, lookback=30, epochs=30,
                     patience=5, log_every=0, seed=0, threads=1)  # fmt: skip
    return LSTMTraining(cfg, refit_epochs=3)


def answer(folder: str, coins: list[str], test: int, with_lstm: bool) -> dict:
    from coincast.errors import CoincastError
    from coincast.evaluation.backtest import WalkForward
    from coincast.evaluation.risk_run import run_risk_backtest

    models = ["lstm", "garch", "gjr", "har", "ewma", "histvol"] if with_lstm else [
        "garch", "gjr", "har", "ewma", "histvol"]  # fmt: skip
    print(f"\n## {folder}: last {test} bars, volatility target, refit every 30\n")
    print("| coin | measure | " + " | ".join(f"{m} QLIKE/GARCH (DM p)" for m in models[1:] if
          m != "garch") + (" | lstm QLIKE/GARCH (DM p)" if with_lstm else "") +
          " | VaR passes (1 %, 5 %) |")  # fmt: skip
    rels: dict[str, list[float]] = {m: [] for m in models}
    per_coin: dict[str, dict[str, float]] = {}
    for sym in coins:
        frame = load(folder, sym)
        t0 = time.perf_counter()
        try:
            r = run_risk_backtest(frame, WalkForward(test=test, refit_every=30), models=models,
                                  lstm=lstm_training())  # fmt: skip
        except CoincastError as exc:
            print(f"| {sym} | failed: {exc} |", flush=True)
            continue
        s = r.scores.set_index("model")
        cells = []
        for m in [x for x in models if x not in ("garch", "lstm")] + (["lstm"] if with_lstm
                                                                          else []):  # fmt: skip
            rel, p = s.loc[m, "rel_qlike"], s.loc[m].get("dm_garch_pvalue")
            rels[m].append(rel)
            per_coin.setdefault(sym, {})[m] = rel
            cells.append(f"{rel:.3f} ({p:.2g})")
        passes = r.tests.groupby("level")["passes"].sum()
        n = r.tests["model"].nunique()
        cells.append(f"{int(passes.get(0.01, 0))}/{n}, {int(passes.get(0.05, 0))}/{n}")
        print(f"| {sym} | {r.meta['measure']} | " + " | ".join(cells) +
              f" |  <!-- {time.perf_counter() - t0:.0f} s -->", flush=True)  # fmt: skip
    print()
    for m, xs in rels.items():
        if xs:
            below = sum(x <= 0.95 for x in xs)
            print(f"- {m}: median QLIKE/GARCH {statistics.median(xs):.3f}; <= 0.95 on "
                  f"{below} of {len(xs)} coins")  # fmt: skip
    return per_coin


def coverage(folder: str, coins: list[str], test: int) -> dict:
    from coincast.evaluation.backtest import WalkForward
    from coincast.evaluation.run import run_backtest

    models = ["naive", "drift", "seasonal", "ma"]
    print(f"\n## {folder}: 90 % band coverage, horizon 1, before / after conformal\n")
    print("| coin | " + " | ".join(models) + " |")
    after_all: dict[str, list[float]] = {m: [] for m in models}
    per_coin: dict[str, dict[str, tuple[float, float]]] = {}
    for sym in coins:
        frame = load(folder, sym)
        spec = WalkForward(test=test, refit_every=30)
        own = run_backtest(frame, spec, models=models, intervals="model").scores.set_index("model")
        cal = run_backtest(frame, spec, models=models, intervals="conformal").scores
        cal = cal.set_index("model")
        cells = []
        for m in models:
            before, after = own.loc[m, "coverage"], cal.loc[m, "coverage"]
            after_all[m].append(after)
            per_coin.setdefault(sym, {})[m] = (before, after)
            b = "-" if before is None or not np.isfinite(before) else f"{before:.1%}"
            cells.append(f"{b} / {after:.1%}")
        print(f"| {sym} | " + " | ".join(cells) + " |", flush=True)
    print()
    for m, xs in after_all.items():
        inside = sum(0.87 <= x <= 0.93 for x in xs)
        print(f"- {m}: conformal coverage {min(xs):.1%}..{max(xs):.1%}; within 87-93 % on "
              f"{inside} of {len(xs)} coins")  # fmt: skip
    return per_coin


def draw_qlike(per_coin: dict, path: Path, title: str) -> None:
    """Per-coin QLIKE relative to GARCH, one bar per model."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    coins = list(per_coin)
    models = list(next(iter(per_coin.values())))
    fig, ax = plt.subplots(figsize=(11, 4.2), layout="constrained")
    width = 0.8 / len(models)
    for i, m in enumerate(models):
        ax.bar(np.arange(len(coins)) + i * width, [per_coin[c].get(m, np.nan) for c in coins],
               width, label=m)  # fmt: skip
    ax.axhline(1.0, color="black", lw=1, label="GARCH")
    ax.axhline(0.95, color="grey", lw=1, ls="--", label="goal 0.95")
    ax.set_xticks(np.arange(len(coins)) + 0.4 - width / 2, coins)
    ax.set_ylabel("QLIKE ÷ GARCH's (lower is better)")
    ax.set_title(title)
    ax.legend(ncol=len(models) + 2, fontsize=8, loc="upper left")
    fig.savefig(path, dpi=110)
    plt.close(fig)


def draw_coverage(per_coin: dict, path: Path) -> None:
    """Coverage of each model's 90 % band per coin, its own against conformal."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    coins = list(per_coin)
    models = list(next(iter(per_coin.values())))
    fig, axes = plt.subplots(1, len(models), figsize=(12, 3.6), sharey=True, layout="constrained")
    for ax, m in zip(axes, models, strict=True):
        before = [100 * per_coin[c][m][0] if per_coin[c][m][0] is not None else np.nan
                  for c in coins]  # fmt: skip
        after = [100 * per_coin[c][m][1] for c in coins]
        x = np.arange(len(coins))
        ax.axhspan(87, 93, color="#dfe", label="87-93 %")
        ax.plot(x, before, "o", color="#c44", label="own band")
        ax.plot(x, after, "s", color="#26a", label="conformal")
        ax.axhline(90, color="black", lw=0.8)
        ax.set_xticks(x, coins, rotation=90, fontsize=7)
        ax.set_title(m)
    axes[0].set_ylabel("coverage of the 90 % band (%)")
    axes[0].legend(fontsize=7, loc="lower left")
    fig.savefig(path, dpi=110)
    plt.close(fig)


def cost() -> None:
    from coincast.evaluation.backtest import WalkForward, walk_forward
    from coincast.evaluation.conformal import conformalize
    from coincast.evaluation.risk_backtest import risk_walk_forward, with_measure
    from coincast.evaluation.risk_models import build_risk_models
    from coincast.models.baselines import Naive

    frame, _ = with_measure(load("daily", "BTC"))
    spec = WalkForward(test=365, refit_every=30)
    print("\n## cost of a 365-cutoff volatility backtest, BTC daily (one run each)\n")
    print("| model | seconds | ms per cutoff |")
    for name in ("ewma", "histvol", "har", "garch", "gjr", "lstm"):
        [model] = build_risk_models(frame, [name], lstm_training(), 1)
        t0 = time.perf_counter()
        risk_walk_forward([model], frame, spec)
        s = time.perf_counter() - t0
        print(f"| {name} | {s:.2f} | {1000 * s / 365:.2f} |", flush=True)
    table = walk_forward([Naive()], frame, WalkForward(test=365, horizon=7))
    times = []
    for _ in range(7):
        t0 = time.perf_counter()
        conformalize(table)
        times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    print(f"\nACI (conformalize) on a 365-cutoff, 7-step table: median {1000 * med:.1f} ms, "
          f"{1000 * med / 365:.3f} ms per cutoff (7 runs)")  # fmt: skip


def _pair(cell: str) -> tuple[float | None, ...]:
    """``88.2% / 89.9%`` as (0.882, 0.899); ``-`` as None."""
    return tuple(None if x.strip() == "-" else float(x.strip(" %")) / 100 for x in cell.split("/"))


def redraw(output: Path, pictures: Path) -> None:
    """The pictures again from a saved run's printed tables (``> bench_risk.txt``)."""
    part, heads, qlike, cov = None, [], {"daily": {}, "hourly": {}}, {}
    for line in output.read_text().splitlines():
        if line.startswith("## "):
            part = "coverage" if "coverage" in line else line[3:].split(":")[0]
        elif line.startswith("| coin"):
            heads = [h.strip().split(" ")[0] for h in line.strip("|").split("|")]
        elif line.startswith("| ") and part in qlike and "failed" not in line:
            cells = [c.strip() for c in line.split("<!--")[0].strip().strip("|").split("|")]
            pairs = zip(heads, cells, strict=True)
            qlike[part][cells[0]] = {h: float(c.split(" ")[0]) for h, c in pairs
                                     if h not in ("coin", "measure", "VaR")}  # fmt: skip
        elif line.startswith("| ") and part == "coverage":
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            cov[cells[0]] = {h: _pair(c) for h, c in zip(heads[1:], cells[1:], strict=True)}
    for folder, per_coin in qlike.items():
        if per_coin:
            when = "last 365 days" if folder == "daily" else "last 500 hours"
            draw_qlike(per_coin, pictures / f"risk-qlike-{folder}.png", f"{folder}, {when}")
    if cov:
        draw_coverage(cov, pictures / "coverage-conformal.png")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--coins", default=None, help="comma-separated symbols (default: all 14)")
    ap.add_argument("--no-lstm", action="store_true")
    ap.add_argument("--hourly", action="store_true", help="also the hourly set (500 bars)")
    ap.add_argument("--test", type=int, default=365)
    ap.add_argument("--skip", default="", help="parts to skip: answer,coverage,cost")
    ap.add_argument("--pictures", type=Path, default=None, help="folder for the PNGs")
    ap.add_argument("--redraw", type=Path, default=None, help="a saved run's output to draw")
    args = ap.parse_args()
    if args.redraw:
        redraw(args.redraw, args.pictures or Path("."))
        return
    every = sorted(p.name.split("-")[0] for p in (DATA / "daily").glob("*-USD_1d.csv"))
    coins = args.coins.split(",") if args.coins else every
    skip = set(args.skip.split(","))
    pics = args.pictures
    if "answer" not in skip:
        daily = answer("daily", coins, args.test, not args.no_lstm)
        if pics and daily:
            draw_qlike(daily, pics / "risk-qlike-daily.png", "Daily, last 365 days")
        if args.hourly:
            hourly = answer("hourly", coins, 500, not args.no_lstm)
            if pics and hourly:
                draw_qlike(hourly, pics / "risk-qlike-hourly.png", "Hourly, last 500 hours")
    if "coverage" not in skip:
        cov = coverage("daily", coins, args.test)
        if pics:
            draw_coverage(cov, pics / "coverage-conformal.png")
    if "cost" not in skip:
        cost()


if __name__ == "__main__":
    main()
