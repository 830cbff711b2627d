"""Shared fixtures: the real market data in ../shared/data, temporary stores, fake servers."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from coincast.data.store import Store
from coincast.series import make_frame

#: Real market data beside the repository (see ../shared/data/README.md); never copied here.
DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "data"

requires_data = pytest.mark.skipif(
    not DATA_DIR.is_dir(),
    reason=f"real market data not found at {DATA_DIR} (the shared/ folder beside the repository)",
)


@pytest.fixture
def data_dir() -> Path:
    """The shared data folder; skips the test when it is absent."""
    if not DATA_DIR.is_dir():
        pytest.skip(f"real market data not found at {DATA_DIR}")
    return DATA_DIR


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    """Path of a fresh store file in a temporary folder."""
    return tmp_path / "coincast.db"


@pytest.fixture
def store(store_path: Path) -> Iterator[Store]:
    """A fresh store in a temporary file."""
    with Store(store_path) as s:
        yield s


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test sees the user's store, keys or CoinGecko settings."""
    for var in ("COINGECKO_API_KEY", "COINGECKO_API_PLAN", "COINGECKO_BASE_URL", "COINCAST_STORE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("COINCAST_HOME", str(tmp_path / "home"))


def frame_of(ts_ms, close, interval="1m", **cols):
    """A candle frame of closes at epoch-ms times (open/high/low default to the close)."""
    close = np.asarray(close, dtype=float)
    data = {
        "open": cols.get("open", close),
        "high": cols.get("high", close),
        "low": cols.get("low", close),
        "close": close,
        "volume": cols.get("volume", np.ones(len(close))),
    }
    return make_frame(
        np.asarray(ts_ms), data, coin="x", quote="usd", interval=interval, source="test"
    )


@pytest.fixture
def notes(caplog, monkeypatch):
    """The notices the library gives (``coincast.notice``), captured whether or not a CLI
    test of this process has routed them to stderr."""
    log = logging.getLogger("coincast.notice")
    monkeypatch.setattr(log, "propagate", False)
    monkeypatch.setattr(log, "handlers", [caplog.handler])
    old = log.level
    log.setLevel(logging.INFO)  # setLevel, not the attribute: it clears isEnabledFor's cache
    yield caplog
    log.setLevel(old)


PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def kept(monkeypatch: pytest.MonkeyPatch) -> Iterator[list]:
    """Every figure a plot function saves, kept open (``save`` closes it otherwise) and laid
    out as it was written, so a test can measure what the PNG shows."""
    import matplotlib.pyplot as plt  # only for the picture tests

    figures: list = []
    close = plt.close
    monkeypatch.setattr(plt, "close", lambda fig=None: figures.append(fig))
    yield figures
    for fig in figures:
        close(fig)


def png_size(path: Path) -> tuple[int, int]:
    """Width and height of a PNG file, from its header; fails on anything else."""
    import struct

    data = Path(path).read_bytes()
    assert data.startswith(PNG) and data[12:16] == b"IHDR", f"{path} is not a PNG"
    return struct.unpack(">II", data[16:24])
