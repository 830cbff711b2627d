"""A command group that imports a command's module only when the command runs.

The root help lists every command from its :class:`LazyCommand` (name and one-line help),
without importing anything; running a command, or asking for its own help, imports its
module (and PyTorch, SciPy or matplotlib only if that module needs them).
"""

from __future__ import annotations

from dataclasses import dataclass
from difflib import get_close_matches
from importlib import import_module
from typing import TYPE_CHECKING, Any, ClassVar

import typer
from typer._click.exceptions import UsageError
from typer.core import TyperCommand, TyperGroup

if TYPE_CHECKING:
    from typer._click import Command, Context


@dataclass(frozen=True)
class LazyCommand:
    """A command of the root group: its name, ``module:attribute`` (a command function or a
    Typer app) and the one line the root help shows for it."""

    name: str
    target: str
    help: str

    def load(self) -> Command:
        """The real click command, importing its module."""
        module, attribute = self.target.split(":")
        obj = getattr(import_module(module), attribute)
        if not isinstance(obj, typer.Typer):  # a command function: wrap it in an app
            single = typer.Typer()
            single.command(self.name)(obj)
            obj = single
        command = typer.main.get_command(obj)
        command.name = self.name
        return command


class _Listed(TyperCommand):
    """What the root help sees of a command not loaded yet: its name and one line."""


class LazyGroup(TyperGroup):
    """The root group: commands in :attr:`lazy` are loaded when resolved (run or asked for
    their help); listing them (``coincast --help``) loads nothing."""

    lazy: ClassVar[dict[str, LazyCommand]] = {}

    def list_commands(self, ctx: Context) -> list[str]:
        return [*super().list_commands(ctx), *(n for n in self.lazy if n not in self.commands)]

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        if cmd_name in self.commands or cmd_name not in self.lazy:
            return super().get_command(ctx, cmd_name)
        spec = self.lazy[cmd_name]
        return _Listed(cmd_name, help=spec.help, short_help=spec.help)

    def resolve_command(
        self, ctx: Context, args: list[str]
    ) -> tuple[str | None, Command | None, list[str]]:
        try:
            name, command, rest = super().resolve_command(ctx, args)
        except UsageError as exc:  # Typer suggests only loaded commands: add the lazy ones
            close = get_close_matches(args[0], self.list_commands(ctx)) if args else []
            if close and "Did you mean" not in exc.message:
                listed = ", ".join(repr(c) for c in close)
                exc.message = f"{exc.message.rstrip('.')}. Did you mean {listed}?"
            raise
        if isinstance(command, _Listed) and name is not None:
            command = self.load(name)
        return name, command, rest

    def load(self, name: str) -> Command:
        """The command ``name``, loaded (and kept) if it is lazy."""
        if name not in self.commands:
            self.add_command(self.lazy[name].load(), name)
        return self.commands[name]


def loaded(group: Any) -> dict[str, Command]:
    """Every command of ``group`` (a click group), lazy ones loaded: for tests and docs."""
    if isinstance(group, LazyGroup):
        return {name: group.load(name) if name in group.lazy else group.commands[name]
                for name in group.list_commands(_context(group))}  # fmt: skip
    return dict(group.commands)


def _context(group: Any) -> Context:
    from typer._click import Context

    return Context(group)
