"""What the dashboard's tests share: the secret no URL may reach, the world's paths, and the
live record the world's ledger holds."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

SECRET = "top secret, never served"
#: the live records in the world's ledger: (coin, interval, run) -> (scored, pending)
RECORDS = {("bitcoin", "1d", "btc-1d"): (19, 3), ("ethereum", "1d", "eth-live"): (4, 1)}
#: the world's sweep: its name and number of trials
SWEEP, SWEEP_TRIALS = "tiny", 2


@dataclass
class World:
    root: Path
    store: Path
    runs: Path
    backtests: Path
    secret: Path
    sweeps: Path  #: the sweeps' folder beside the store
