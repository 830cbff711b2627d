"""Where run folders live (``runs/NAME``, named after the coins, the interval and the time),
whether an output path can be written at all (checked before any long computation), and
how a failed training leaves the disk as it found it."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from ..errors import CoincastError, worded
from .runs import RECORD, check_run_name
from .training import CHECKPOINT, TrainingInterrupted

#: The folder of runs named without a path.
RUNS = Path("runs")
#: The longest file or folder name most file systems take, in bytes.
MAX_NAME_BYTES = 255


def run_folder(run: Path) -> Path:
    """A run folder given as a path, or as a bare name under :data:`RUNS`.

    Examples
    --------
    >>> run_folder(Path("btc-1d")).as_posix()
    'runs/btc-1d'
    >>> run_folder(Path("elsewhere/btc-1d")).as_posix()
    'elsewhere/btc-1d'
    """
    if "\x00" in str(run):
        raise CoincastError(f"run {str(run)!r} contains a NUL character; name a run folder")
    return run if run.exists() or len(run.parts) > 1 else RUNS / check_run_name(str(run))


def default_run_folder(
    coins: Sequence[str], interval: str, target_coin: str | None = None, now: datetime | None = None
) -> Path:
    """``runs/COIN-INTERVAL-TIME`` for one coin; ``runs/TARGET-xN-...`` (or ``global-xN``) for
    a model of N coins.

    Examples
    --------
    >>> when = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    >>> default_run_folder(["bitcoin"], "1d", now=when).as_posix()
    'runs/bitcoin-1d-20250102-030405'
    >>> default_run_folder(["bitcoin", "ethereum"], "1h", now=when).name
    'global-x2-1h-20250102-030405'
    """
    label = coins[0] if len(coins) == 1 else f"{target_coin or 'global'}-x{len(coins)}"
    return RUNS / f"{label}-{interval}-{now or datetime.now(UTC):%Y%m%d-%H%M%S}"


def check_new_run(folder: Path, *, resume: bool = False, force: bool = False) -> Path:
    """Return ``folder`` if a run may be written there, else raise :class:`CoincastError`.

    The name must be a valid run name, the path may hold no ``..``, it must be a folder that
    can be made and written (:func:`check_writable`), and a folder that holds a run already
    is refused unless the run is resumed or ``force`` overwrites it.
    """
    check_run_name(folder.name)
    if ".." in folder.parts:
        tail = "is not allowed: no '..' in run paths"
        raise worded(f"folder {folder} {tail}", f"--out {folder} {tail}")
    check_writable(folder, "folder", flag="--out", example="runs/btc-1d")
    if (folder / RECORD).exists() and not (resume or force):
        head = f"{folder} already holds a run; choose another"
        raise worded(f"{head} folder, or force=True", f"{head} --out, or --force")
    return folder


def check_writable(
    path: Path,
    option: str = "--out",
    *,
    flag: str | None = None,
    file: bool = False,
    example: str = "results",
) -> Path:
    """Return ``path`` if a folder (``file=True``: a file) can be made or written there now,
    else raise :class:`CoincastError` naming ``option`` (and ``flag`` in its CLI wording,
    :func:`coincast.errors.worded`), the obstacle and a way out: a NUL character or an
    over-long name, an existing file where a folder is wanted (or the other way round), a
    file above it, or a folder this user may not write.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     check_writable(Path(d) / "new" / "folder") == Path(d) / "new" / "folder"
    True
    """
    says = _obstacle(path, file)
    if says is None:
        return path
    python = says(option, _example(option, example))
    raise worded(python, says(flag, _example(flag, example))) if flag else CoincastError(python)


def _example(name: str, example: str) -> str:
    """``--out results`` for a flag or a placeholder, ``folder='results'`` for an argument."""
    return f"{name} {example}" if name.startswith("-") or name.isupper() else f"{name}={example!r}"


def _obstacle(path: Path, file: bool) -> Callable[[str, str], str] | None:
    """What keeps ``path`` from being written, worded for a name and an example; or None."""
    text = str(path)
    if "\x00" in text:
        return lambda o, eg: f"{o} {text!r} contains a NUL character; e.g. {eg}"
    if any(len(os.fsencode(p)) > MAX_NAME_BYTES for p in path.parts):
        return lambda o, eg: (
            f"{o} {text[:80]}...: a name is longer than {MAX_NAME_BYTES} bytes; e.g. {eg}"
        )
    want, other = ("a file", "folder") if file else ("a folder", "file")
    if path.exists() and path.is_dir() == file:
        return lambda o, eg: f"{o} {path} is a {other}, not {want}; e.g. {eg}"
    base = _existing_ancestor(path.parent if file or not path.exists() else path)
    if not base.is_dir():
        return lambda o, eg: (
            f"{o} {path}: {base} is a file, so nothing can be made under it; e.g. {eg}"
        )
    if not _may(base, os.W_OK | os.X_OK) or (path.exists() and not _may(path, os.W_OK)):
        where = path if path.exists() else base
        return lambda o, eg: (
            f"{o} {path}: {where} is not writable for this user; choose a writable place, e.g. {eg}"
        )
    return None


def _may(path: Path, mode: int) -> bool:
    """Whether this process (its effective user, who writes the files) may access ``path``."""
    return os.access(path, mode, effective_ids=os.access in os.supports_effective_ids)


def _existing_ancestor(path: Path) -> Path:
    """``path`` or its nearest parent that exists (as a file or a folder)."""
    for p in (path, *path.parents):
        if p.exists() or p.is_symlink():
            return p
    return Path(".")


@contextmanager
def undone_on_failure(folder: Path) -> Iterator[None]:
    """Leave the disk as it was when the block fails: remove the folders it made (``folder``
    and any parents), or put back the checkpoint that was in ``folder`` (and remove one it
    wrote). An interrupted training keeps its checkpoint, so that it can resume.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     try:
    ...         with undone_on_failure(Path(d) / "runs" / "r"):
    ...             (Path(d) / "runs" / "r").mkdir(parents=True)
    ...             raise ValueError("training failed")
    ...     except ValueError:
    ...         pass
    ...     (Path(d) / "runs").exists()
    False
    """
    made = _first_missing(folder)
    checkpoint = folder / CHECKPOINT
    kept = folder / f".{CHECKPOINT}.before"
    if made is None and checkpoint.is_file():
        shutil.copy2(checkpoint, kept)
    try:
        yield
    except TrainingInterrupted:
        kept.unlink(missing_ok=True)
        raise
    except BaseException:
        if made is not None:
            shutil.rmtree(made, ignore_errors=True)
        elif kept.exists():
            os.replace(kept, checkpoint)
        else:
            checkpoint.unlink(missing_ok=True)
        raise
    kept.unlink(missing_ok=True)


def _first_missing(folder: Path) -> Path | None:
    """The outermost of ``folder`` and its parents that does not exist yet; None if it does."""
    missing = None
    for p in (folder, *folder.parents):
        if p.exists():
            break
        missing = p
    return missing
