"""What every command shares: the store option, error handling, output helpers."""

from __future__ import annotations

import functools
import json
import logging
import sqlite3
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import typer

from ..coins import resolve_offline
from ..data.paths import default_store_path
from ..errors import CoincastError

if TYPE_CHECKING:  # pandas, the store and rich load only when used
    import pandas as pd
    from rich.console import Console
    from rich.progress import Progress

    from ..data.store import Store


# Wide tables when piped (rich would wrap at 80 columns); the terminal's width otherwise.
# markup=False: coin names, paths and server messages are printed literally ("[/b]" is text,
# not a closing tag); styled words are built with rich.text.Text, never from markup strings.
class _Lazy:
    """A rich Console made on first use (rich.console costs ~30 ms of ``--version``)."""

    def __init__(self, **options: Any) -> None:
        self._options, self._console = options, None

    def __getattr__(self, name: str) -> Any:
        if self._console is None:
            from rich.console import Console

            options = dict(self._options)
            if options.pop("wide_when_piped", False):
                options["width"] = None if sys.stdout.isatty() else 160
            self._console = Console(**options)
        return getattr(self._console, name)


out: Console = _Lazy(highlight=False, markup=False, wide_when_piped=True)  # type: ignore[assignment]
err: Console = _Lazy(stderr=True, highlight=False, markup=False, soft_wrap=True)  # type: ignore[assignment]

F = TypeVar("F", bound=Callable[..., Any])


class State:
    """Global options, set by the app callback."""

    store_path: Path | None = None


state = State()


def handles_errors(fn: F) -> F:
    """Turn coincast's errors into one ``Error: ...`` line on stderr and exit code 1."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except CoincastError as exc:
            fail(getattr(exc, "cli", None) or str(exc))  # the library's words, in flags
        except KeyboardInterrupt:
            err.print("Interrupted; the store keeps every chunk completed so far.")
            raise typer.Exit(130) from None
        except sqlite3.Error as exc:
            from ..data.store.failures import explain

            fail(explain(exc, str(store_path())))
        except OSError as exc:
            fail(f"{exc.strerror or exc} ({exc.filename})" if exc.filename else str(exc))

    return wrapper  # type: ignore[return-value]


def fail(message: str) -> None:
    """Print ``Error: message`` (one line, literally) to stderr and exit with code 1."""
    from rich.text import Text

    err.print(Text.assemble(("Error:", "bold red"), " ", one_line(message)))
    logging.getLogger("coincast").debug("error", exc_info=True)
    raise typer.Exit(1)


def warn(message: str, label: str = "") -> None:
    """Print a warning (one line, literally, in yellow) to stderr, so stdout stays clean for
    ``--json``; ``label`` is a bold prefix such as ``"NOTICE:"``."""
    from rich.text import Text

    parts: list[str | tuple[str, str]] = [(label + " ", "bold yellow")] if label else []
    err.print(Text.assemble(*parts, (one_line(message), "yellow")))


def one_line(text: str) -> str:
    """``text`` on one line: runs of whitespace (newlines included) become one space, and
    control characters (NUL, escape sequences) are shown as ``\\x..`` escapes."""
    line = " ".join(str(text).split())
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in line)


def store_path() -> Path:
    """The store named by ``--store``, else ``$COINCAST_HOME/coincast.db`` or the user dir."""
    return state.store_path or default_store_path()


@contextmanager
def open_store(*, readonly: bool = False) -> Iterator[Store]:
    """The store at :func:`store_path`; ``readonly`` for commands that only read it: they
    create nothing (a missing store reads as empty) and change nothing."""
    from ..data.store import Store

    with Store(store_path(), readonly=readonly) as store:
        yield store


def print_json(data: Any) -> None:
    """Print ``data`` as JSON on stdout (plain, no colour)."""
    sys.stdout.write(json.dumps(data, indent=2, default=_default) + "\n")


def _default(x: Any) -> Any:
    if hasattr(x, "isoformat"):  # pd.Timestamp, datetime
        return x.isoformat()
    raise TypeError(type(x).__name__)


def coin_ids(coins: list[str]) -> list[str]:
    """The ids of ``coins`` (ids or symbols) in order, each once."""
    return list(dict.fromkeys(resolve_offline(c) for c in coins))


def span(start: pd.Timestamp | None, end: pd.Timestamp | None) -> str:
    """``2024-01-01 .. 2024-12-31`` (times shown only when not midnight)."""
    if start is None or end is None:
        return "-"
    return f"{_short(start)} .. {_short(end)}"


def _short(t: pd.Timestamp) -> str:
    if t == t.normalize():
        return t.strftime("%Y-%m-%d")
    return t.strftime("%Y-%m-%d %H:%M:%S" if t.second else "%Y-%m-%d %H:%M")


def progress_bar(unit: str, console: Console, disable: bool = False) -> Progress:
    """A transient progress bar counting ``unit``, with the time spent and an ETA (terminals
    only: piped output gets no progress noise)."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(unit, markup=False),
        TimeElapsedColumn(),
        TextColumn("eta", markup=False),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=disable or not console.is_terminal,
    )
