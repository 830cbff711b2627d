"""Where run folders live: ``runs/NAME``, named after the coins, the interval and the time."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from ..errors import CoincastError
from .runs import RECORD, check_run_name

#: The folder of runs named without a path.
RUNS = Path("runs")


def run_folder(run: Path) -> Path:
    """A run folder given as a path, or as a bare name under :data:`RUNS`.

    Examples
    --------
    >>> run_folder(Path("btc-1d")).as_posix()
    'runs/btc-1d'
    >>> run_folder(Path("elsewhere/btc-1d")).as_posix()
    'elsewhere/btc-1d'
    """
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

    The name must be a valid run name, the path may hold no ``..``, and a folder that holds
    a run already is refused unless the run is resumed or ``force`` overwrites it.
    """
    check_run_name(folder.name)
    if ".." in folder.parts:
        raise CoincastError(f"--out {folder} is not allowed: no '..' in run paths")
    if (folder / RECORD).exists() and not (resume or force):
        raise CoincastError(f"{folder} already holds a run; choose another --out, or --force")
    return folder
