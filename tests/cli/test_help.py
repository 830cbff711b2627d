"""Every command group's help shows an example, as every command's does (tests/cli/test_cli.py)."""

from __future__ import annotations

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from coincast.cli import app
from coincast.cli.lazy import loaded

runner = CliRunner()

MISSING: dict[tuple[str, ...], str] = {}  #: groups known to lack an example, and the fix


def _groups(group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [prefix]
    for name, cmd in loaded(group).items():
        if hasattr(cmd, "commands"):
            found += _groups(cmd, (*prefix, name))
    return found


GROUPS = _groups(get_command(app))


def test_there_are_groups_beside_the_root() -> None:
    assert ("data",) in GROUPS


@pytest.mark.parametrize("path", GROUPS, ids=lambda p: " ".join(("coincast", *p)))
def test_every_group_help_has_an_example(path: tuple[str, ...]) -> None:
    result = runner.invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    if path in MISSING:
        assert "Example: coincast" not in result.stdout, f"it has one now: drop {path} from MISSING"
        pytest.xfail(f"no example yet: {MISSING[path]}")
    assert "Example: coincast" in result.stdout, f"{' '.join(path)} --help has no example"
