"""``coincast explain``: look inside a trained LSTM on one window of stored data."""

from __future__ import annotations

from pathlib import Path

import typer

from ..explain import explain
from ..models.folders import run_folder
from ..models.run_data import window_for
from ..models.runs import load_run
from .common import err, handles_errors, open_store, out, progress_bar, span


@handles_errors
def explain_cmd(
    run: Path = typer.Argument(..., help="Run folder (or a run name under runs/)."),
    window: str = typer.Option(
        "LAST", "--window", "-w", help="Last bar of the window: LAST or a date (YYYY-MM-DD)."
    ),
    coin: str | None = typer.Option(None, "--coin", help="Coin to look at (multi-coin runs)."),
    out_dir: Path | None = typer.Option(
        None, "--out", "-o", help="Folder for the page and pictures [RUN/explain]."
    ),
) -> None:
    """Draw the LSTM's gates, memory, saliency and gradient through time for one window,
    with a one-page HTML explanation.

    Example: coincast explain runs/btc-1d --window 2024-06-30
    """
    folder = run_folder(run)
    model = load_run(folder)
    with open_store(readonly=True) as store:
        inputs = window_for(store, model, window, coin)
    with progress_bar("steps", err) as bar:
        task = bar.add_task("explain", total=None)
        result = explain(
            model, inputs, out_dir or folder / "explain",
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )  # fmt: skip
    out.print(
        f"Window: {len(inputs.index)} bars, {span(inputs.index[0], inputs.index[-1])}; "
        f"{len(result.pictures)} pictures in {result.html.parent}"
    )
    out.print(f"Explanation: {result.html}")
