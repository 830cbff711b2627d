"""``coincast data ...`` and the data side of other commands: suggestions, summaries,
deleting a series, the source preference."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from coincast.cli import app
from coincast.data.sources import synthetic_candles
from coincast.data.store import Store

runner = CliRunner()


def run(store: Path, *args: str):
    return runner.invoke(app, ["--store", str(store), *args])


@pytest.fixture
def filled(store_path: Path) -> Path:
    with Store(store_path) as s:
        for seed, coin in enumerate(("bitcoin", "ethereum")):
            s.write_candles(synthetic_candles(40, coin=coin, seed=seed))
    return store_path


def one_error(result) -> str:
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    return lines[0]


@pytest.mark.parametrize(
    "args",
    [
        ["data", "show", "bitcoinn"],
        ["data", "gaps", "bitcoinn"],
        ["data", "export", "bitcoinn", "--out", "x.csv"],
        ["train", "bitcoinn", "--epochs", "1"],
        ["backtest", "bitcoinn", "--test", "5"],
    ],
)
def test_a_mistyped_coin_gets_did_you_mean(filled, args):
    assert "did you mean bitcoin (stored)" in one_error(run(filled, *args))
