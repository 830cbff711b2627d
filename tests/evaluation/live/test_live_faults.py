"""kill -9 at any point of an update: the next update resumes with no duplicate, no gap, a
chain that verifies, and the same candles as a clean run."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from live_setup import SETTINGS, hours

from coincast.data.sources import SyntheticSource
from coincast.data.store import Store
from coincast.data.store.ledger import Ledger
from coincast.evaluation.live import update

pytestmark = pytest.mark.slow

SRC = Path(__file__).resolve().parents[3] / "src"

# Runs update at hours(3) (a refit is due) and SIGKILLs itself at the point named in argv.
KILLER = """
import os, signal, sys
from pathlib import Path
import pandas as pd
from coincast.data.sources import SyntheticSource
from coincast.data.store import Store
from coincast.evaluation.live import UpdateSpec, update
d, point = Path(sys.argv[1]), sys.argv[2]
def hook(p):
    if p == point:
        os.kill(os.getpid(), signal.SIGKILL)
spec = UpdateSpec(["demo"], "1h", d / "runs" / "live-demo", config=d / "lstm.toml",
                  refit_every=3, days=8)
with Store(d / "coincast.db") as s:
    update(s, SyntheticSource(), spec, now=pd.Timestamp(sys.argv[3]), hook=hook)
print("not killed")
"""


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """A store and run after updates at hours(0..2)."""
    from coincast.evaluation.live import UpdateSpec

    d = tmp_path_factory.mktemp("base")
    (d / "lstm.toml").write_text(SETTINGS)
    spec = UpdateSpec(["demo"], "1h", d / "runs" / "live-demo", config=d / "lstm.toml",
                      refit_every=3, days=8)  # fmt: skip
    with Store(d / "coincast.db") as s:
        for k in range(3):
            update(s, SyntheticSource(), spec, now=hours(k))
    return d, spec


def _copy(base, tmp_path):
    d, spec = base
    here = tmp_path / "copy"
    shutil.copytree(d, here)
    spec = type(spec)(**{**spec.__dict__, "run": here / "runs" / "live-demo",
                         "config": here / "lstm.toml"})  # fmt: skip
    return here, spec


def _state(d):
    with Store(d / "coincast.db", readonly=True) as s:
        rows = Ledger(s).rows()
        return s.read_candles("demo", "1h"), rows, Ledger(s).verify()


@pytest.fixture(scope="module")
def clean(base, tmp_path_factory):
    d, spec = _copy(base, tmp_path_factory.mktemp("clean"))
    with Store(d / "coincast.db") as s:
        update(s, SyntheticSource(), spec, now=hours(3))
    return _state(d)


POINTS = ["after_fetch", "refit_saved", "swap_midway", "after_refit", "ledger_row", "after_write"]


@pytest.fixture(scope="module")
def killed(base, tmp_path_factory):
    """Per kill point, a copy of the base killed there by a real subprocess (all started
    at once: most of their time is importing torch)."""
    env = {"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"}
    started = {}
    for point in POINTS:
        d, spec = _copy(base, tmp_path_factory.mktemp(point))
        cmd = [sys.executable, "-c", KILLER, str(d), point, str(hours(3))]
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)  # fmt: skip
        started[point] = (d, spec, proc)
    out = {}
    for point, (d, spec, proc) in started.items():
        _, stderr = proc.communicate(timeout=180)
        out[point] = (d, spec, proc.returncode, stderr)
    return out


@pytest.mark.parametrize("point", POINTS)
def test_a_killed_update_resumes_without_duplicate_or_gap(killed, clean, point):
    d, spec, returncode, stderr = killed[point]
    assert returncode == -signal.SIGKILL, stderr[-2000:]
    with Store(d / "coincast.db") as s:
        update(s, SyntheticSource(), spec, now=hours(3))
    candles, rows, verified = _state(d)
    want_candles, want_rows, _ = clean
    assert verified.ok, verified.broken
    assert candles.equals(want_candles)
    keys = ["last_ts", "target_ts", "step"]
    assert rows[keys].equals(want_rows[keys])  # the same forecasts, each once, in order
    assert rows["id"].tolist() == list(range(1, len(rows) + 1))
    assert rows["actual"].notna().sum() == want_rows["actual"].notna().sum()
    assert rows["weights_sha256"].nunique() == want_rows["weights_sha256"].nunique()
    assert [p.name for p in (d / "runs").glob(".*")] == [".live-demo.lock"]  # nothing half-swapped
