"""What the benchmark scripts share: memory and CPU readings, and the markdown table."""

from __future__ import annotations

import os
import resource
import sys
import time
from pathlib import Path


def peak_mb() -> float:
    """Peak resident set size of this process so far, in MB (Linux reports KiB)."""
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kib * 1024 / 1e6 if sys.platform != "darwin" else kib / 1e6


def status_mb(field: str) -> float | None:
    """A ``/proc/self/status`` memory field (``VmRSS``: now, ``VmHWM``: peak) in MB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024 / 1e6
    except OSError:
        pass
    return None


def busy_cpu_s() -> float | None:
    """CPU seconds the whole machine has been busy (all processes), from ``/proc/stat``."""
    try:
        v = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None
    return sum(v[i] for i in (0, 1, 2, 5, 6, 7) if i < len(v)) / os.sysconf("SC_CLK_TCK")


def markdown(head: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    """A markdown table with padded columns."""
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]

    def line(cells: tuple[str, ...]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    return "\n".join([line(head), "| " + " | ".join("-" * w for w in widths) + " |"]
                     + [line(r) for r in rows])  # fmt: skip


#: The head of every benchmark's summary table.
SUMMARY_HEAD = ("figure", "median (min-max) / value", "target", "result")


class Figures:
    """Collects the figures for the final table, printing each as it comes."""

    widths = (50, 34)  #: name and value columns of the running printout

    def __init__(self) -> None:
        self.rows: list[tuple[str, str, str, str]] = []

    def add(self, name: str, value: str, target: str = "", result: str = "") -> None:
        self.rows.append((name, value, target, result))
        w_name, w_value = self.widths
        print(f"  {name:<{w_name}} {value:>{w_value}}  {target:<10} {result}", flush=True)

    def check(self, name: str, value: str, target: str, ok: bool) -> None:
        self.add(name, value, target, "PASS" if ok else "FAIL")

    def table(self) -> str:
        return markdown(SUMMARY_HEAD, self.rows)

    def finish(self, repeat: int, started: float) -> int:
        """Print the summary table; return the exit code (1 when a target failed)."""
        print(f"\nSummary (medians of {repeat}; total {time.perf_counter() - started:.0f} s)\n")
        print(self.table())
        failed = [r[0].strip() for r in self.rows if r[3] == "FAIL"]
        if failed:
            print(f"\nFAILED: {', '.join(failed)}")
        return 1 if failed else 0
