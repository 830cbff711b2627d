"""Commands import only what they use: the light ones never load PyTorch, SciPy,
statsmodels or matplotlib, and the root help lists every command without loading any."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from coincast.cli import app
from coincast.cli.app import COMMANDS
from coincast.cli.lazy import loaded

HEAVY = ("torch", "scipy", "statsmodels", "matplotlib", "sklearn", "arch")
SRC = Path(__file__).resolve().parents[2] / "src"


def _loaded_after(args: list[str], store: Path, cwd: Path) -> tuple[list[str], str]:
    """The heavy modules in ``sys.modules`` after ``coincast ARGS`` in a fresh interpreter,
    and what it printed."""
    code = (
        "import sys, json\n"
        "from coincast.cli.app import app\n"
        "try:\n"
        f"    app({args!r}, prog_name='coincast')\n"
        "except SystemExit as e:\n"
        "    code = e.code\n"
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]), file=sys.stderr)\n"
    )
    env = {"PYTHONPATH": str(SRC), "COINCAST_STORE": str(store), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=cwd
    )
    return json.loads(done.stderr.strip().splitlines()[-1]), done.stdout + done.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["--version"],
        ["--help"],
        ["data", "--help"],
        ["data", "list"],
        ["fetch", "--help"],
        ["import", "--help"],
        ["fetch", "demo", "--source", "synthetic", "--days", "5"],
        ["data", "show", "demo"],
        ["data", "gaps", "demo"],
        ["data", "export", "demo", "--out", "demo.csv"],
        ["import", "demo.csv", "--coin", "again"],
    ],
    ids=" ".join,
)
def test_light_commands_load_no_heavy_module(args, tmp_path):
    store = tmp_path / "c.db"
    _loaded_after(["fetch", "demo", "--source", "synthetic", "--days", "30"], store, tmp_path)
    _loaded_after(["data", "export", "demo", "--out", "demo.csv"], store, tmp_path)
    heavy, output = _loaded_after(args, store, tmp_path)
    assert heavy == [], f"coincast {' '.join(args)} loaded {heavy}: {output[-300:]}"


def test_a_heavy_command_loads_its_modules(tmp_path):
    """The probe can fail: train's help needs PyTorch (its flags come from the config)."""
    heavy, _ = _loaded_after(["backtest", "--help"], tmp_path / "c.db", tmp_path)
    assert "scipy" in heavy or "torch" in heavy


def test_the_root_help_lists_each_command_with_its_own_first_line():
    commands = loaded(get_command(app))
    assert [c.name for c in COMMANDS] == list(commands)
    for spec in COMMANDS:
        own = " ".join(commands[spec.name].help.split("\n\n")[0].split())
        assert spec.help == own, spec.name
    text = CliRunner().invoke(app, ["--help"]).stdout
    for spec in COMMANDS:
        assert spec.name in text


def test_a_mistyped_command_is_matched_against_every_command():
    result = CliRunner().invoke(app, ["backtets"])
    assert result.exit_code == 2 and "Did you mean 'backtest'?" in result.output
