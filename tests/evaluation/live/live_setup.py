"""Tiny LSTM settings and a clock for the live tests (not a conftest.py: the tests import
it by name, and a second ``conftest`` module would shadow tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from coincast.evaluation.live import UpdateSpec

T0 = pd.Timestamp("2024-01-11", tz="UTC")
SETTINGS = (
    "epochs = 1\nhidden = 4\nlookback = 10\nhorizon = 2\nhead = 'quantile'\nlog_every = 0\n"
    "threads = 1\n"  # one thread: two contend on a small machine, and take much longer
)


def hours(k: int) -> pd.Timestamp:
    return T0 + pd.Timedelta(hours=k)


def make_spec(tmp_path: Path) -> UpdateSpec:
    """A one-coin spec training a tiny LSTM, refit every 3 bars."""
    (tmp_path / "lstm.toml").write_text(SETTINGS)
    return UpdateSpec(["demo"], "1h", tmp_path / "runs" / "live-demo",
                      config=tmp_path / "lstm.toml", refit_every=3, days=8)  # fmt: skip
