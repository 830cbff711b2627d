"""The ``coincast`` app: global options, and every command loaded only when it runs.

``coincast --version``, ``--help`` and the data commands never import PyTorch, SciPy,
statsmodels or matplotlib: each command's module (and what it imports) is loaded when that
command is run or its help is asked for. The root help lists them from :data:`COMMANDS`.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import ClassVar

import typer

from .common import err, state
from .lazy import LazyCommand, LazyGroup

#: the commands, in the order ``coincast --help`` lists them
COMMANDS = (
    LazyCommand("fetch", "coincast.cli.ingest:fetch_cmd",
                "Fetch price history into the store; only what is missing is asked for "
                "(--refresh: all)."),
    LazyCommand("import", "coincast.cli.ingest:import_cmd",
                "Import candles from a CSV or Parquet file into the store (source 'csv')."),
    LazyCommand("data", "coincast.cli.data:data_app",
                "Look at stored data: list series, show candles, export them, find gaps, delete "
                "one."),
    LazyCommand("config", "coincast.cli.config:config_app",
                "Show or change your settings: the order sources are preferred in."),
    LazyCommand("train", "coincast.cli.model:train_cmd",
                "Train an LSTM on stored coins (one, or several for a global model) and save "
                "the run."),
    LazyCommand("predict", "coincast.cli.model:predict_cmd",
                "Forecast the next bars from the latest stored data with a trained run."),
    LazyCommand("backtest", "coincast.cli.evaluate:backtest_cmd",
                "Walk-forward backtest of the LSTM and the baselines, scored against the naive "
                "forecast."),
    LazyCommand("report", "coincast.cli.evaluate:report_cmd",
                "(Re)build the HTML report of a backtest folder, offline, from its saved "
                "results."),
    LazyCommand("explain", "coincast.cli.explain:explain_cmd",
                "Draw the LSTM's gates, memory, saliency and gradient through time for one "
                "window, with a one-page HTML explanation."),
    LazyCommand("update", "coincast.cli.live:update_cmd",
                "One live step for cron: fetch new bars, refit when due, forecast, record, "
                "score."),
    LazyCommand("watch", "coincast.cli.live:watch_cmd",
                "Run `coincast update` on a schedule in the foreground; Ctrl-C or SIGTERM stops "
                "it."),
    LazyCommand("track", "coincast.cli.live:track_cmd",
                "The live track record, from the ledger only: MAE against naive on the same "
                "bars, interval coverage, Diebold-Mariano p-value, direction, forecasts scored "
                "and pending."),
    LazyCommand("demo", "coincast.cli.demo:demo_cmd",
                "Fetch BTC and ETH, train an LSTM, backtest it against the baselines, write "
                "reports."),
)  # fmt: skip


class _Commands(LazyGroup):
    lazy: ClassVar[dict[str, LazyCommand]] = {c.name: c for c in COMMANDS}


app = typer.Typer(
    name="coincast",
    cls=_Commands,
    help="Forecast cryptocurrency prices with LSTM networks, and tell the truth about how good "
    "the forecasts are.\n\nExample: coincast fetch bitcoin --days 90 && coincast backtest "
    "bitcoin --test 30",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        from .._version import __version__

        sys.stdout.write(f"coincast {__version__}\n")
        raise typer.Exit()


@app.callback()
def root(
    store: Path | None = typer.Option(
        None,
        "--store",
        envvar="COINCAST_STORE",
        help="Store file (default: $COINCAST_HOME/coincast.db, else the user data dir).",
    ),
    verbose: bool = typer.Option(
        False, "--verbose", "-v", help="Log what happens (requests, retries)."
    ),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version and exit."
    ),
) -> None:
    """coincast: fetch prices, keep them in a local store, forecast, and check the forecast."""
    import logging

    from .config import show_notices  # the source a command chose, as one stderr line

    state.store_path = store
    show_notices()
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )


def main() -> None:
    """Entry point of the ``coincast`` console script: never a traceback for the user,
    unless ``COINCAST_DEBUG`` is set."""
    try:
        app(prog_name="coincast")
    except Exception as exc:
        if os.environ.get("COINCAST_DEBUG"):
            raise
        err.print(
            f"Error: unexpected {type(exc).__name__}: {exc}. This is a bug in coincast; "
            "set COINCAST_DEBUG=1 to see where, and please report it.",
            markup=False,
        )
        sys.exit(1)
