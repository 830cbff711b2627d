"""Where coincast keeps things: the store path and other settings read from the environment."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

STORE_FILENAME = "coincast.db"


def home_dir() -> Path:
    """``$COINCAST_HOME`` if set, else the per-user data directory (~/.local/share/coincast)."""
    env = os.environ.get("COINCAST_HOME")
    return Path(env).expanduser() if env else Path(platformdirs.user_data_dir("coincast"))


def default_store_path() -> Path:
    """The store used when no ``--store`` is given: ``home_dir() / "coincast.db"``."""
    return home_dir() / STORE_FILENAME
