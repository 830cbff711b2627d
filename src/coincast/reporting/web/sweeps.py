"""The sweeps kept beside the store (``<store dir>/sweeps/NAME/``, see
:class:`coincast.evaluation.sweep.study.Place`), read from their ``leaderboard.json``; a sweep
without one has not finished, and shows the trials it has finished so far from their own
``trial-NNNN/scores.json``. Its Optuna study is never opened here."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .catalog import served_files
from .safety import NotFound, child, folder_name

BOARD = "leaderboard.json"
SCORES = "scores.json"  #: in each finished trial's folder, written before Optuna is told
MAX_SCORES_BYTES = 1 << 20  #: a trial's scores.json larger than this is not read


@dataclass
class Sweep:
    """One sweep folder: its leaderboard once finished, or why it cannot be read."""

    name: str
    board: dict[str, Any] | None = None  #: leaderboard.json, as saved
    files: list[str] = field(default_factory=list)  #: the plain files the dashboard serves
    error: str | None = None
    so_far: list[dict[str, Any]] = field(default_factory=list)  #: unfinished: trials done

    @property
    def finished(self) -> bool:
        return self.board is not None

    @property
    def trials(self) -> list[dict[str, Any]]:
        return list(self.board["trials"]) if self.board else []

    @property
    def best(self) -> float | None:
        """The best validation score of a complete trial (of those so far, unfinished)."""
        trials = self.trials if self.finished else self.so_far
        scores = [t["valid_score"] for t in trials
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
    else:
        out.so_far = trials_so_far(folder)
    return out


def trials_so_far(folder: Path) -> list[dict[str, Any]]:
    """The finished trials of an unfinished sweep, from each ``trial-NNNN/scores.json`` (a
    plain file of at most :data:`MAX_SCORES_BYTES`; one that cannot be read is left out):
    ``number``, ``state``, ``params`` and ``valid_score``, complete ones first, best first.

    Examples
    --------
    >>> import json, tempfile
    >>> d = Path(tempfile.mkdtemp()); (d / "trial-0003").mkdir()
    >>> _ = (d / "trial-0003" / SCORES).write_text(json.dumps(
    ...     {"trial": 3, "params": {"hidden": 8}, "score": 1.02, "state": "pruned"}))
    >>> trials_so_far(d)
    [{'number': 3, 'state': 'pruned', 'params': {'hidden': 8}, 'valid_score': 1.02}]
    """
    import json

    rows = []
    for trial in sorted(folder.glob("trial-[0-9][0-9][0-9][0-9]")):
        path = trial / SCORES
        try:
            if trial.is_symlink() or path.is_symlink() or not path.is_file():
                continue
            if path.stat().st_size > MAX_SCORES_BYTES:
                continue
            about = json.loads(path.read_text(encoding="utf-8"))
            row = {"number": int(about["trial"]), "state": str(about["state"]),
                   "params": dict(about.get("params") or {}),
                   "valid_score": float(about["score"])}  # fmt: skip
        except (OSError, ValueError, TypeError, KeyError, RecursionError):
            continue
        rows.append(row)
    return sorted(rows, key=lambda r: (r["state"] != "complete", r["valid_score"], r["number"]))


def params(trial: dict[str, Any]) -> str:
    """A trial's settings as ``coincast sweep show`` prints them: ``hidden=4, lr=0.01``."""
    return ", ".join(f"{k}={v}" for k, v in (trial.get("params") or {}).items())
