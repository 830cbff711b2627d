"""Start-up: a command imports only what it uses.

Times fresh processes side by side, alternating, so a busy machine slows each alike:
``coincast --version`` against ``python -c "import typer"`` and ``coincast data list``
against ``python -c "import pandas"`` (targets: within 1.5x), plus ``coincast --help`` and
``coincast backtest --help`` (which loads PyTorch) for scale. Prints the median of
``--repeat`` runs of each, and the ratios.

Usage: python benchmarks/bench_startup.py [--repeat 9]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

PY = sys.executable
CASES = {
    "python -c 'import typer'": [PY, "-c", "import typer"],
    "coincast --version": [PY, "-m", "coincast", "--version"],
    "python -c 'import pandas'": [PY, "-c", "import pandas"],
    "coincast data list": [PY, "-m", "coincast", "data", "list"],
    "coincast --help": [PY, "-m", "coincast", "--help"],
    "coincast backtest --help": [PY, "-m", "coincast", "backtest", "--help"],
}
TARGETS = [("coincast --version", "python -c 'import typer'", 1.5),
           ("coincast data list", "python -c 'import pandas'", 1.5)]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=9)
    repeat = parser.parse_args().repeat
    times: dict[str, list[float]] = {name: [] for name in CASES}
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "COINCAST_STORE": os.path.join(tmp, "c.db")}
        subprocess.run(CASES["coincast --version"], env=env, capture_output=True, check=True)
        for _ in range(repeat):
            for name, cmd in CASES.items():
                t0 = time.perf_counter()
                subprocess.run(cmd, env=env, capture_output=True, check=True)
                times[name].append(time.perf_counter() - t0)
    print(f"{'command':<28}{'median s':>10}{'min':>8}{'max':>8}")
    for name, ts in times.items():
        print(f"{name:<28}{statistics.median(ts):>10.3f}{min(ts):>8.3f}{max(ts):>8.3f}")
    failed = False
    for cmd, base, target in TARGETS:
        ratio = statistics.median(times[cmd]) / statistics.median(times[base])
        ok = ratio <= target
        failed |= not ok
        print(f"{cmd} / {base}: {ratio:.2f}x (target <= {target}x) {'ok' if ok else 'FAIL'}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
