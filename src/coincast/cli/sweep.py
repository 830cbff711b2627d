"""``coincast sweep COIN... --space SPACE.toml`` and ``coincast sweep show NAME``: a
hyper-parameter search scored on the validation period, its best tried once on the test.

Both forms live in one group: an argument that is not a subcommand's name (``show``) starts a
sweep, as if ``run`` were written before it (``coincast sweep run show`` sweeps a coin named
show).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer
from typer.core import TyperGroup

from ..errors import CoincastError
from ..evaluation.sweep import (
    Place,
    SweepPlan,
    lines,
    load_leaderboard,
    load_space,
    parse_period,
    run_sweep,
)
from ..evaluation.sweep.space import Choice, Space
from ..evaluation.sweep.study import SAMPLERS
from ..models.run_data import training_frames
from .common import coin_ids, err, handles_errors, open_store, out, print_json, progress_bar
from .common import store_path as current_store
from .options import EngineChoice, engine_options


class _SweepGroup(TyperGroup):
    """``sweep COIN...`` runs ``sweep run COIN...``; ``sweep show NAME`` shows one."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


sweep_app = typer.Typer(
    cls=_SweepGroup,
    no_args_is_help=True,
    help="Search LSTM settings on the validation period; test the best once, honestly.\n\n"
    "Example: coincast sweep bitcoin --space space.toml --trials 50\n\n"
    "Example: coincast sweep show bitcoin-1d-20260101-120000 --json",
)


@sweep_app.command("run")
@handles_errors
@engine_options(
    "Where the trials run: local (processes here) or dask (a cluster started here, or --address).",
    default="local",
    workers_help="Trials at once.",
)
def run_cmd(
    coins: list[str] | None = typer.Argument(
        None, help="Coin ids or symbols in the store.", show_default="the space's coins"
    ),
    space: Path = typer.Option(..., "--space", help="The search space (TOML)."),
    trials: int = typer.Option(20, "--trials", "-n", help="Finished trials to reach."),
    sampler: str = typer.Option("tpe", "--sampler", help=f"{', '.join(SAMPLERS)}."),
    interval: str | None = typer.Option(
        None, "--interval", "-i", help="Bar interval.", show_default="the space's, else 1d"
    ),
    source: str | None = typer.Option(None, "--source", "-s", help="Stored source to read."),
    quote: str | None = typer.Option(None, "--quote", "-q", help="Quote currency to read."),
    valid: str | None = typer.Option(
        None,
        "--valid",
        help="Validation period: START..END or a number of bars.",
        show_default="the 365 bars before the test period",
    ),
    test: str | None = typer.Option(
        None,
        "--test",
        help="Test period: START..END or a number of bars.",
        show_default="the last 365 bars",
    ),
    top_k: int = typer.Option(5, "--top-k", help="Best trials backtested on the test period."),
    prune: str = typer.Option(
        "inside",
        "--prune",
        help="Stop losing trials early: inside (at each refit segment of a series, and "
        "between series), series (between series only) or none (every trial runs to the end, "
        "and all enter the tests).",
    ),
    name: str | None = typer.Option(
        None, "--name", help="The sweep's name.", show_default="COINS-INTERVAL-TIME"
    ),
    resume: bool = typer.Option(False, "--resume", help="Continue the sweep --name."),
    as_json: bool = typer.Option(False, "--json", help="Print the leaderboard as JSON."),
    *,
    engine: EngineChoice,
) -> None:
    """Run a sweep (the default: coincast sweep COIN... is coincast sweep run COIN...).

    Each trial is a walk-forward backtest on the validation period only, scored by MAE ÷
    naive on the same bars, averaged over the coins; at the end the top-k and the baselines
    are backtested once on the test period, and the search is tested (Hansen's SPA, White's
    reality check, a Model Confidence Set). Pruning works between coins (and intervals).
    The leaderboard and its HTML page (report.html, named at the end) are written in the
    sweep's folder, sweeps/NAME/ beside the store.

    Example: coincast sweep bitcoin ethereum --space space.toml --trials 50 --workers 4

    Example: coincast sweep bitcoin --space space.toml --name btc --resume
    """
    plan, exog = _plan(coins, load_space(space), trials, sampler, interval, valid, test, top_k)
    plan = replace(plan, prune=prune)
    label = (
        name
        or f"{'-'.join(plan.coins)}-{'-'.join(plan.intervals)}-{datetime.now(UTC):%Y%m%d-%H%M%S}"
    )
    if resume and name is None:
        raise CoincastError("--resume needs the --name of the sweep to continue")
    frames = {}
    with open_store(readonly=True) as store:
        for i in plan.intervals:
            own, extra = training_frames(store, plan.coins, exog, i, source, quote)
            frames[i] = own | extra
    place = Place.beside(current_store(), label)
    with (
        engine.open() as pool,
        progress_bar("trials", err) as bar,
    ):
        task = bar.add_task(f"sweep {label}", total=plan.trials)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        board = run_sweep(frames, plan, place, engine=pool, resume=resume, progress=progress)
    _show(board, as_json, _report(board, place))


@sweep_app.command("show")
@handles_errors
def show_cmd(
    name: str = typer.Argument(..., help="The sweep's name."),
    as_json: bool = typer.Option(False, "--json", help="Print the leaderboard as JSON."),
    html: bool = typer.Option(
        False, "--html", help="Also (re)write the sweep's page, report.html, and name it."
    ),
) -> None:
    """Print a sweep's leaderboard: the verdict on the search first, then every trial.

    With --html, (re)write its HTML page in the sweep's folder, from what exists (a sweep
    not yet scored on its test period gets a page that says so).

    Example: coincast sweep show btc --json

    Example: coincast sweep show btc --html
    """
    place = Place.beside(current_store(), name)
    board = load_leaderboard(place)
    _show(board, as_json, _report(board, place) if html else None)


def _plan(
    coins, space: Space, trials, sampler, interval, valid, test, top_k
) -> tuple[SweepPlan, list[str]]:
    names = tuple(coin_ids(list(coins))) if coins else tuple(coin_ids(list(space.coins)))
    intervals = (interval,) if interval else (space.intervals or ("1d",))
    periods = {"valid": parse_period(valid, "--valid"), "test": parse_period(test, "--test")}
    from ..evaluation.sweep import Periods

    plan = SweepPlan(space, names, tuple(intervals), trials, sampler, Periods(**periods), top_k)
    exog = list(space.base().exog)
    if isinstance(p := space.params.get("exog"), Choice):
        exog += [c for v in p.values for c in v]
    return plan, list(dict.fromkeys(exog))


def _report(board: dict, place: Place) -> Path:
    from ..reporting.sweep_report import write_sweep_report  # matplotlib: only when drawing

    return write_sweep_report(board, place.folder)


def _show(board: dict, as_json: bool, report: Path | None = None) -> None:
    if as_json:
        print_json(board | ({"report": str(report)} if report else {}))
        return
    for line in lines(board):
        out.print(line)
    if report:
        out.print(f"Report: {report}")
