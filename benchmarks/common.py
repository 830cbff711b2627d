"""What the benchmark scripts share: memory and CPU readings, and the markdown table."""

from __future__ import annotations

import os
import resource
import sys
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
