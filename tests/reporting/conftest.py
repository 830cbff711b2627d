"""Fixtures for the pictures: the figures a plot function drew, kept open to be measured, and
the size of a PNG file."""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from pathlib import Path

import matplotlib.pyplot as plt
import pytest

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def kept(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[plt.Figure]]:
    """Every figure a plot function saves, kept open (``save`` closes it otherwise), laid out
    as it was written, so a test can measure what the PNG shows."""
    figures: list[plt.Figure] = []
    close = plt.close
    monkeypatch.setattr(plt, "close", lambda fig=None: figures.append(fig))
    yield figures
    for fig in figures:
        close(fig)


def _png_size(path: Path) -> tuple[int, int]:
    data = Path(path).read_bytes()
    assert data.startswith(PNG), f"{path} is not a PNG"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


@pytest.fixture
def png_size() -> Callable[[Path], tuple[int, int]]:
    """Width and height of a PNG file, from its header; fails on anything else."""
    return _png_size
