"""The sweeps kept beside the store (``<store dir>/sweeps/NAME/``, see
:class:`coincast.evaluation.sweep.study.Place`), read from their ``leaderboard.json`` only:
a sweep without one has not finished, and its Optuna study is never opened here."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .catalog import served_files
from .safety import NotFound, child, folder_name

BOARD = "leaderboard.json"


@dataclass
class Sweep:
    """One sweep folder: its leaderboard once finished, or why it cannot be read."""

    name: str
    board: dict[str, Any] | None = None  #: leaderboard.json, as saved
    files: list[str] = field(default_factory=list)  #: the plain files the dashboard serves
    error: str | None = None

    @property
    def finished(self) -> bool:
        return self.board is not None

    @property
    def trials(self) -> list[dict[str, Any]]:
        return list(self.board["trials"]) if self.board else []

    @property
    def best(self) -> float | None:
        """The best validation score of a complete trial."""
        scores = [t["valid_score"] for t in self.trials
                  if t.get("state") == "complete" and t.get("valid_score") is not None]  # fmt: skip
        return min(scores) if scores else None

    @property
    def verdict(self) -> list[str]:
        """The verdict in plain words, as ``coincast sweep show`` prints it first."""
        if self.board is None:
            return []
        from ...evaluation.sweep.leaderboard import lines

        shown = lines(self.board)
        return shown[: len(shown) - len(self.trials) - 1]  # then the score line, the trials

    @property
    def score(self) -> str:
        return str((self.board or {}).get("score", ""))


def root(store: str) -> Path | None:
    """The folder the sweeps beside the store file ``store`` are kept in (``None`` for an
    in-memory store)."""
    if store == ":memory:":
        return None
    from ...evaluation.sweep.study import Place

    return Place.beside(store, "x").folder.parent


def sweeps(store: str) -> list[Sweep]:
    """Every sweep folder beside ``store`` (a leaderboard.json or trial folders in it),
    newest first; a folder leading outside is none of them."""
    top = root(store)
    if top is None or not top.is_dir():
        return []
    found = []
    for p in top.iterdir():
        try:
            if _is_sweep(top, p.name):
                found.append(sweep(store, p.name))
        except NotFound:
            continue
    return sorted(found, key=lambda s: _mtime(top / s.name), reverse=True)


def _is_sweep(top: Path, name: str) -> bool:
    folder = child(top, folder_name(name))
    return folder.is_dir() and ((folder / BOARD).is_file() or any(folder.glob("trial-[0-9]*")))


def _mtime(folder: Path) -> float:
    board = folder / BOARD
    return (board if board.is_file() else folder).stat().st_mtime


def sweep(store: str, name: str) -> Sweep:
    """The sweep ``name`` beside ``store``: its leaderboard.json (a plain file, never a
    symlink) read by :func:`~coincast.evaluation.sweep.leaderboard.load_leaderboard`.

    Raises
    ------
    NotFound
        When ``name`` is no sweep folder of that root (or leads outside it).
    """
    top = root(store)
    if top is None:
        raise NotFound(f"no sweep {name!r}: the store is in memory")
    folder = child(top, name)
    if not folder.is_dir() or not _is_sweep(top, name):
        raise NotFound(f"no sweep {name!r} beside the store")
    out = Sweep(name, files=served_files(folder))
    path = folder / BOARD
    if path.is_file() and not path.is_symlink():
        from ...evaluation.sweep.leaderboard import load_leaderboard
        from ...evaluation.sweep.study import Place

        try:
            board = load_leaderboard(Place.beside(store, name))
            if not isinstance(board, dict) or not isinstance(board.get("trials"), list):
                raise ValueError("it holds no list of trials")
            out.board = board
        except (OSError, ValueError) as exc:  # json.JSONDecodeError is a ValueError
            out.error = f"{BOARD} cannot be read: {type(exc).__name__}: {exc}"
    return out


def params(trial: dict[str, Any]) -> str:
    """A trial's settings as ``coincast sweep show`` prints them: ``hidden=4, lr=0.01``."""
    return ", ".join(f"{k}={v}" for k, v in (trial.get("params") or {}).items())
