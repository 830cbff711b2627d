"""Reliability: how many hostile inputs coincast meets cleanly.

Runs the fuzz harness of ``tests/fuzzing.py`` (the same cases as ``tests/cli/test_fuzz.py``,
many more of them) and prints, per family of inputs, how many were tried, how many ran
(exit 0), how many were refused with a clean error (exit 1 with one ``Error:`` line, or a
usage error), how many crashed and how many lost data (a failed command that changed the
store). The goal for the last two is 0. Each crash and loss is listed once per kind.

Usage: python benchmarks/bench_reliability.py [--examples N]   (default 300 per family)
"""

from __future__ import annotations

import argparse
import collections
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from fakes.coingecko import FakeCoinGecko
from fuzzing import (
    config_cases,
    env_cases,
    file_cases,
    flag_cases,
    make_world,
    run_case,
    run_cases,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st


def campaign(name: str, strategy, world, examples: int) -> collections.Counter:
    """Run ``examples`` cases of ``strategy``; count the outcomes, print each new failure."""
    counts: collections.Counter = collections.Counter()
    seen: set[str] = set()

    @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(st.data())
    def one(data):
        case = data.draw(strategy)
        outcome = run_case(case, world)
        counts[outcome.kind] += 1
        if outcome.kind in ("crash", "lost"):
            key = outcome.kind + ":" + outcome.detail.splitlines()[0][:80] if outcome.detail else ""
            if key not in seen:
                seen.add(key)
                print(f"  {outcome.kind}: {case.describe()[:300]}\n    {outcome.detail[:300]}")

    one()
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=300, help="cases per family")
    n = parser.parse_args().examples
    with tempfile.TemporaryDirectory() as tmp, FakeCoinGecko() as api:
        world = make_world(Path(tmp) / "world")
        world.base_url = api.url
        families = {
            "flags and arguments": (flag_cases(), n),
            "config files": (config_cases(), max(n // 10, 10)),
            "imported files": (file_cases(world.csv), n),
            "damaged run folders": (run_cases(), n // 2),
            "environment variables": (env_cases(), n // 4),
        }
        total: collections.Counter = collections.Counter()
        rows = []
        for name, (strategy, examples) in families.items():
            t0 = time.perf_counter()
            print(f"{name} ...")
            counts = campaign(name, strategy, world, examples)
            total += counts
            rows.append((name, counts, time.perf_counter() - t0))
    print(f"\n{'family':<24}{'tried':>7}{'ran':>7}{'refused':>9}{'crashed':>9}{'lost':>6}{'s':>7}")
    for name, c, secs in [*rows, ("all", total, sum(r[2] for r in rows))]:
        tried = sum(c.values())
        print(f"{name:<24}{tried:>7}{c['ok']:>7}{c['error']:>9}{c['crash']:>9}{c['lost']:>6}"
              f"{secs:>7.0f}")  # fmt: skip


if __name__ == "__main__":
    main()
