"""coincast update: the cost of one live step for 14 coins, daily and hourly, warm model.

The 14 coins of ``../shared/data/yahoo`` (daily: about ten years each; hourly: about 90 days)
are replayed bar by bar from memory (a source that serves the files' candles up to "now":
no network, as the goal says). The first update fetches the history up to ``--steps`` bars
before the end and trains the run (one model for the 14 coins, the settings below): that is
the warm model, and its cost is printed but not part of the figure. Then ``--steps``
updates, each one bar later: fetch the new bar of every coin, forecast, append to the
ledger, score what matured, and refit (warm start, the same epochs) every ``--refit-every``
steps. Printed: seconds per step and per coin per step, steps without a refit and with one
apart (medians), against the goal of 5 s per coin per step on 2 cores.

Usage: python benchmarks/bench_live.py [--steps 6] [--refit-every 3] [--epochs 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import pandas as pd
from common import markdown

from coincast.data.sources.files import read_file
from coincast.data.store import Store
from coincast.evaluation.live import UpdateSpec, update
from coincast.intervals import interval_ms

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "yahoo"
FOLDERS = {"1d": ("daily", "1d"), "1h": ("hourly", "1h")}
GOAL_S = 5.0


class Replay:
    """A source serving the candles of ``frames`` (one frame per coin) from memory."""

    name = "replay"
    default_quote = "usd"

    def __init__(self, frames: dict[str, pd.DataFrame]) -> None:
        self.frames = frames

    def resolve_coin(self, coin: str) -> str:
        return coin

    def check_request(self, coin: str, quote: str, interval: str, start_ms: int,
                      end_ms: int) -> None:  # fmt: skip
        """Every request can be served."""

    def chunks(self, interval: str, start_ms: int, end_ms: int) -> list[tuple[int, int]]:
        return [(start_ms, end_ms)]

    def fetch_chunk(self, coin: str, quote: str, interval: str, start_ms: int,
                    end_ms: int) -> pd.DataFrame:  # fmt: skip
        f = self.frames[coin]
        ms = f.index.asi8 // 1_000_000
        part = f[(ms >= start_ms) & (ms < end_ms)].copy()
        part.attrs = {**f.attrs, "source": self.name}
        return part


def frames_of(interval: str) -> dict[str, pd.DataFrame]:
    """The 14 coins' candles at ``interval``, by coin id."""
    folder, suffix = FOLDERS[interval]
    out = {}
    for path in sorted((DATA / folder).glob(f"*_{suffix}.csv")):
        frame, _ = read_file(path, coin=path.name.split("-")[0].lower())
        out[frame.attrs["coin"]] = frame  # the symbol resolved: ada is cardano
    return out


def settings(folder: Path, epochs: int) -> Path:
    path = folder / "lstm.toml"
    path.write_text(f"epochs = {epochs}\nlog_every = 0\nthreads = 2\n")
    return path


def one_interval(interval: str, args: argparse.Namespace) -> dict[str, object]:
    """The steps of one interval; their timings."""
    frames = frames_of(interval)
    # the common last bar; each step makes one more bar of every coin complete
    last = min(f.index[-1] for f in frames.values())
    bar = pd.Timedelta(milliseconds=interval_ms(interval))
    first_now = last - (args.steps - 1) * bar  # the bar before it is the first one seen
    root = Path(tempfile.mkdtemp(prefix="bench-live-"))
    spec = UpdateSpec(list(frames), interval, root / "runs" / "live",
                      config=settings(root, args.epochs), refit_every=args.refit_every,
                      days=4000)  # fmt: skip
    source = Replay(frames)
    steps: list[tuple[float, bool, int, int]] = []
    with Store(root / "coincast.db") as store:
        t0 = time.perf_counter()
        first = update(store, source, spec, now=first_now)
        warm_s = time.perf_counter() - t0
        bad = [r.error for r in first if r.error]
        assert not bad, bad
        for k in range(1, args.steps + 1):
            t0 = time.perf_counter()
            got = update(store, source, spec, now=first_now + k * bar)
            wall = time.perf_counter() - t0
            assert not [r.error for r in got if r.error], got
            steps.append((wall, any(r.refit for r in got), sum(r.issued for r in got),
                          sum(r.scored for r in got)))  # fmt: skip
            print(f"  {interval} step {k}: {wall:.2f} s (refit: {steps[-1][1]})", flush=True)
    return {"interval": interval, "coins": len(frames), "warm_s": warm_s, "steps": steps,
            "bars": min(len(f) for f in frames.values())}  # fmt: skip


def row(res: dict[str, object], refit: bool) -> tuple[str, ...]:
    walls = [s[0] for s in res["steps"] if s[1] == refit]  # type: ignore[index]
    if not walls:
        return (str(res["interval"]), "refit" if refit else "forecast + score", "0", "-", "-",
                "-")  # fmt: skip
    med = statistics.median(walls)
    per = med / int(res["coins"])  # type: ignore[arg-type]
    return (str(res["interval"]), "refit" if refit else "forecast + score", str(len(walls)),
            f"{med:.2f}", f"{per:.2f}", f"{GOAL_S / per:.0f}x under" if per < GOAL_S
            else f"{per / GOAL_S:.1f}x over")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=6, help="timed updates per interval")
    ap.add_argument("--refit-every", type=int, default=3, help="refit after this many bars")
    ap.add_argument("--epochs", type=int, default=3, help="epochs of the first training")
    ap.add_argument("--interval", choices=list(FOLDERS), action="append",
                    help="only this interval (repeatable; default both)")  # fmt: skip
    args = ap.parse_args(argv)
    results = [one_interval(i, args) for i in args.interval or list(FOLDERS)]
    print(f"\n## update: {results[0]['coins']} coins, one step = one new bar of each\n")
    for res in results:
        print(f"- {res['interval']}: first update (history up to the first step, training the"
              f" warm model, {args.epochs} epochs): {res['warm_s']:.1f} s; fewest bars of a "
              f"coin: {res['bars']}")  # fmt: skip
    print()
    head = ("interval", "step", "n", "median s", "s per coin", f"vs goal {GOAL_S:g} s/coin")
    print(markdown(head, [row(r, refit) for r in results for refit in (False, True)]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
