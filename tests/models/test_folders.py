"""``coincast.models.folders``: run folders by name, their default names, and the checks."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from coincast.errors import CoincastError
from coincast.models.folders import RUNS, check_new_run, default_run_folder, run_folder

WHEN = datetime(2025, 2, 11, 9, 30, 0, tzinfo=UTC)


def test_run_folder_by_name_or_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert run_folder(Path("btc")) == RUNS / "btc"
    (tmp_path / "here").mkdir()
    assert run_folder(Path("here")) == Path("here")  # an existing folder is taken as it is
    with pytest.raises(CoincastError, match="run name 'bad name' is not allowed"):
        run_folder(Path("bad name"))


@pytest.mark.parametrize(
    ("coins", "target", "name"),
    [
        (["bitcoin"], None, "bitcoin-1d-20250211-093000"),
        (["bitcoin", "ethereum", "solana"], None, "global-x3-1d-20250211-093000"),
        (["bitcoin", "ethereum"], "ethereum", "ethereum-x2-1d-20250211-093000"),
    ],
)
def test_default_run_folder(coins, target, name):
    assert default_run_folder(coins, "1d", target, now=WHEN) == RUNS / name


def test_check_new_run(tmp_path):
    folder = tmp_path / "r"
    assert check_new_run(folder) == folder
    folder.mkdir()
    (folder / "run.json").write_text("{}")
    with pytest.raises(CoincastError, match="already holds a run; choose another folder, or f"):
        check_new_run(folder)
    with pytest.raises(CoincastError) as caught:
        check_new_run(folder)
    assert caught.value.cli.endswith("already holds a run; choose another --out, or --force")
    assert check_new_run(folder, resume=True) == check_new_run(folder, force=True) == folder
    with pytest.raises(CoincastError, match=r"no '\.\.' in run paths"):
        check_new_run(Path("runs/../evil"))
