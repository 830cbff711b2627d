"""``coincast config show|set``: the user's settings file, and the notices it leads to."""

from __future__ import annotations

import logging

import typer

from ..data.preferences import (
    DEFAULT_SOURCE_ORDER,
    config_path,
    notices,
    read_settings,
    save_source_order,
    source_order,
)
from ..errors import CoincastError, shown
from .common import handles_errors, out, warn

config_app = typer.Typer(
    help="Show or change your settings: the order sources are preferred in."
    "\n\nExample: coincast config set source-order csv,coingecko",
    no_args_is_help=True,
)

#: The settings ``coincast config set`` knows, as typed on the command line.
SETTINGS = ("source-order",)


@config_app.command("show")
@handles_errors
def show_cmd() -> None:
    """Show the settings file and every setting, saying which are defaults.

    Example: coincast config show
    """
    path = config_path()
    written = "source_order" in read_settings(path)
    out.print(f"Settings file: {path}{'' if path.exists() else ' (not written yet)'}")
    out.print(
        f"source-order = {','.join(source_order(path))}" + ("" if written else " (the default)")
    )


@config_app.command("set")
@handles_errors
def set_cmd(
    name: str = typer.Argument(..., help=f"The setting: {', '.join(SETTINGS)}."),
    value: str = typer.Argument(..., help="Its value, e.g. csv,coingecko,exchange:*,synthetic."),
) -> None:
    """Change a setting in the settings file.

    source-order: the sources to read a coin from when it is stored from several and no
    --source is given, best first; '*' matches any text. Default: csv,coingecko,exchange:*,
    synthetic.

    Example: coincast config set source-order coingecko,exchange:*,csv,synthetic
    """
    if name not in SETTINGS:
        raise CoincastError(
            f"unknown setting {shown(name)}; the settings are: {', '.join(SETTINGS)} "
            f"(e.g. coincast config set source-order {','.join(DEFAULT_SOURCE_ORDER)})"
        )
    path = save_source_order(value.split(","))
    out.print(f"source-order = {','.join(source_order(path))} (saved to {path})")


class _Notices(logging.Handler):
    """A notice from the library (the source a command chose) as one stderr line."""

    def emit(self, record: logging.LogRecord) -> None:
        warn(record.getMessage(), "NOTE:")


def show_notices() -> None:
    """Show :data:`coincast.data.preferences.notices` on stderr (once, however often called)."""
    if not any(isinstance(h, _Notices) for h in notices.handlers):
        notices.addHandler(_Notices())
    notices.setLevel(logging.INFO)
    notices.propagate = False
