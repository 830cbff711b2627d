"""What the dashboard's tests share: the secret no URL may reach, and the world's paths."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

SECRET = "top secret, never served"


@dataclass
class World:
    root: Path
    store: Path
    runs: Path
    backtests: Path
    secret: Path
