"""The engine and answer parts of ``bench_sweep.py`` (``--part engine``, ``--part answer``).

``engine``: the same sweep of tiny trials on the local process pool and on a Dask
LocalCluster, alternating, in one run: wall seconds per trial, engine start-up, and a
projection from a measured realistic trial to 1,000 trials x 50 coins on a 10-node cluster.

``answer``: a sweep on BTC daily (validation 2023, test 2024-02-13..2025-02-11) or ETH hourly
(:data:`ANSWERS`) with its SPA and MCS verdicts, whatever they say.

``pruning``: the same sweep (one protocol of :data:`ANSWERS`, TPE) with pruning between
series only and with pruning inside the series too, one after the other in one run: wall
time, trials complete and pruned, the LSTM cutoffs walked, the best validation score and the
SPA verdict.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "yahoo"

TINY = {
    "params": {"hidden": [2, 4, 8], "lr": {"low": 1e-3, "high": 1e-2, "log": True}},
    "fixed": {"epochs": 1, "lookback": 10, "threads": 1},
    "walk": {"refit_every": 15, "refit_epochs": 1},
}
REAL = {
    "params": {
        "hidden": [16, 32, 64],
        "layers": [1, 2],
        "lookback": {"low": 10, "high": 60, "step": 10},
        "lr": {"low": 1e-4, "high": 1e-2, "log": True},
        "dropout": {"low": 0.0, "high": 0.3},
    },
    "fixed": {"epochs": 20, "patience": 5, "threads": 1},
    "walk": {"refit_every": 30, "refit_epochs": 3},
}


def btc(rows: int | None = None):
    from coincast.data.sources.files import read_file

    frame, _ = read_file(DATA / "daily" / "BTC-USD_1d.csv", coin="bitcoin")
    return frame if rows is None else frame.iloc[-rows:]


def _sweep(frames, space: dict, trials: int, periods, engine, name: str, sampler="random", *,
           interval: str = "1d", coin: str = "bitcoin", progress=None,
           prune: str = "inside"):  # fmt: skip
    from coincast.evaluation.sweep import Place, SweepPlan, parse_space, run_sweep

    plan = SweepPlan(space=parse_space(space), coins=(coin,), intervals=(interval,),
                     trials=trials, sampler=sampler, periods=periods, top_k=3,
                     prune=prune)  # fmt: skip
    place = Place.beside(Path(tempfile.mkdtemp()) / "coincast.db", name)
    print(f"  sweep kept in {place.folder}", flush=True)
    t0 = time.perf_counter()
    board = run_sweep({interval: frames}, plan, place, engine=engine, progress=progress)
    board["folder"] = str(place.folder)
    return time.perf_counter() - t0, board


def engine(trials: int = 32, repeat: int = 2) -> None:
    """Local pool against Dask on the same tiny sweep, alternating."""
    from coincast.evaluation.engines import make_engine
    from coincast.evaluation.sweep import Periods

    frames, periods = {"bitcoin": btc(160)}, Periods(valid=40, test=20)
    walls: dict[str, list[float]] = {"local": [], "dask": []}
    starts: dict[str, list[float]] = {"local": [], "dask": []}
    for k in range(repeat):
        for name in ("local", "dask"):
            t0 = time.perf_counter()
            with make_engine(name, workers=2) as e:
                starts[name].append(time.perf_counter() - t0)
                wall, _ = _sweep(frames, TINY, trials, periods, e, f"{name}-{k}")
            walls[name].append(wall)
            print(f"  {name} run {k + 1}: {wall:.1f} s", flush=True)
    print(f"\n## engine: a {trials}-trial sweep of tiny trials, 2 workers (median of {repeat})\n")
    print("| engine | start-up s | sweep s | s per trial |")
    print("|---|---:|---:|---:|")
    for name in walls:
        w = statistics.median(walls[name])
        print(f"| {name} | {statistics.median(starts[name]):.2f} | {w:.1f} | {w / trials:.2f} |")
    ratio = statistics.median(walls["dask"]) / statistics.median(walls["local"])
    print(f"\nDask / local, sweep time: {ratio:.2f}x")


def projection() -> None:
    """One realistic trial timed, and what 1,000 trials x 50 coins would take on 10 nodes."""
    from coincast.evaluation.engines import LocalEngine
    from coincast.evaluation.sweep import Periods

    frames = {"bitcoin": btc()}
    with LocalEngine(workers=1) as e:
        wall, _ = _sweep(frames, REAL, 2, Periods(valid=365, test=365), e, "one")
    per = wall / 2  # the test-period look of the top trials is included, generously
    cores = 10 * 2
    hours = 1000 * 50 * per / cores / 3600
    print(f"\n## projection\n\nOne realistic trial (365 one-step validation cutoffs, refit every"
          f" 30, up to 20 epochs, BTC daily, 1 thread): {per:.0f} s on this machine. 1,000 "
          f"trials x 50 coins = 50,000 series-backtests; on 10 nodes of 2 cores, one trial "
          f"per core, Dask's per-task overhead (~0.01 s) negligible against {per:.0f} s: "
          f"about {hours:.0f} hours. Assumes the nodes' cores are as fast as these, the data "
          f"scattered once per node (a daily coin is ~0.3 MB), and no pruning (pruning "
          f"between coins would cut the losing trials' 50 coins short).")  # fmt: skip


#: The answer's protocols: the file, the validation and the test periods.
ANSWERS = {
    "btc-daily": ("daily/BTC-USD_1d.csv", "bitcoin", "1d", "2023-01-01..2023-12-31",
                  "2024-02-13..2025-02-11"),
    # the hourly files hold 2024-11-14..2025-02-10: about 26 days to validate, 30 to test
    "eth-hourly": ("hourly/ETH-USD_1h.csv", "ethereum", "1h", "2024-12-15..2025-01-09",
                   "2025-01-12..2025-02-10"),
}  # fmt: skip


def pruning(trials: int, which: str = "eth-hourly") -> None:
    """Between-series pruning only, then inside the series too: the same TPE sweep."""
    import pandas as pd

    from coincast.data.sources.files import read_file
    from coincast.evaluation.engines import LocalEngine
    from coincast.evaluation.sweep import Periods, parse_period

    path, coin, interval, valid, test = ANSWERS[which]
    frame, _ = read_file(DATA / path, coin=coin)
    periods = Periods(valid=parse_period(valid, "--valid"), test=parse_period(test, "--test"))
    rows = []
    for inside in (False, True):
        with LocalEngine(workers=2) as e:
            wall, board = _sweep({coin: frame}, REAL, trials, periods, e, "pruning", "tpe",
                                 interval=interval, coin=coin,
                                 prune="inside" if inside else "series")  # fmt: skip
        states = [t["state"] for t in board["trials"]]
        walked = sum(
            int((pd.read_csv(Path(board["folder"]) / t["name"] / "table.csv")["model"]
                 == "lstm").sum())
            for t in board["trials"]
        )  # fmt: skip
        best = min(t["valid_score"] for t in board["trials"] if t["state"] == "complete")
        spa = board["spa"]["valid"]["consistent"]
        rows.append((("inside and between series" if inside else "between series only"),
                     f"{wall:.0f} s", states.count("complete"), states.count("pruned"),
                     f"{walked:,}", f"{best:.4f}", f"{spa:.2f}"))  # fmt: skip
        print(f"  {rows[-1]}", flush=True)
    print(f"\n## pruning: {trials} trials, {which}, TPE, 2 workers\n")
    print("| pruning | wall | complete | pruned | LSTM cutoffs walked | best valid | SPA p |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print("| " + " | ".join(map(str, r)) + " |")


def answer(trials: int, which: str = "btc-daily") -> None:
    """The honest answer on one protocol of :data:`ANSWERS`, whatever it says."""
    from coincast.data.sources.files import read_file
    from coincast.evaluation.engines import LocalEngine
    from coincast.evaluation.sweep import Periods, parse_period

    path, coin, interval, valid, test = ANSWERS[which]
    frame, _ = read_file(DATA / path, coin=coin)
    periods = Periods(valid=parse_period(valid, "--valid"), test=parse_period(test, "--test"))
    t0 = time.perf_counter()

    def progress(done: int, total: int) -> None:
        print(f"  {done}/{total} trials, {time.perf_counter() - t0:.0f} s", flush=True)

    with LocalEngine(workers=2) as e:
        wall, board = _sweep({coin: frame}, REAL, trials, periods, e, "answer", "tpe",
                             interval=interval, coin=coin, progress=progress)  # fmt: skip
    print(f"\n## answer: {trials} trials, {which} (valid {valid}, test {test}), TPE "
          f"({wall / 60:.0f} min, 2 workers)\n")  # fmt: skip
    for line in board["verdict"]["words"]:
        print(f"- {line}")
    print("\n| trial | valid MAE/naive | test MAE/naive | hidden | layers | lookback | lr |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for t in board["trials"][:10]:
        p, ts = t["params"], t.get("test_score")
        print(f"| {t['name']} | {t['valid_score']:.4f} | "
              f"{'-' if ts is None else f'{ts:.4f}'} | {p.get('hidden')} | {p.get('layers')} | "
              f"{p.get('lookback')} | {p.get('lr', 0):.2g} |")  # fmt: skip
    print(
        f"\nbaselines: {board['baselines']}\nSPA: {board['spa']}\n"
        f"reality check: {board['reality_check']}\nMCS: {board['mcs']}"
    )
