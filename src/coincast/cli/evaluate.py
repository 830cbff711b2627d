"""``coincast backtest`` and ``coincast report``: the honest evaluation from the command line."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from ..coins import resolve_offline
from ..errors import CoincastError
from ..evaluation.adapters import LSTMTraining
from ..evaluation.backtest import WalkForward
from ..evaluation.result import BacktestResult
from ..evaluation.run import DEFAULT_MODELS, run_backtest, scores_json
from ..evaluation.verdicts import verdict
from ..models.config import LSTMConfig
from ..models.run_data import Frames, training_frames
from ..reporting.folder import save_backtest
from .common import coin_ids, handles_errors, open_store, out, print_json
from .options import Series, lstm_options, series_options, split_list, walk_forward_options


@handles_errors
@series_options()
@walk_forward_options()
@lstm_options(own=("horizon", "target_coin"), defaults={"log_every": 0})
def backtest_cmd(
    coins: list[str] = typer.Argument(
        ..., help="Coin ids or symbols in the store; with several, the LSTM can learn from all."
    ),
    models: str = typer.Option(
        ",".join(DEFAULT_MODELS), "--models", "-m", help="Comma-separated models."
    ),
    *,
    series: Series,
    walk: dict[str, Any],
    target: str | None = typer.Option(
        None,
        "--target",
        help="The coin to backtest when several are listed.",
        show_default="the first",
    ),
    compare_training: str | None = typer.Option(
        None,
        "--compare-training",
        help="Train the LSTM several ways side by side: single, global, single+exog, "
        "global+exog (comma-separated).",
    ),
    lstm: LSTMConfig,
    out_dir: Path | None = typer.Option(
        None, "--out", "-o", help="Folder.", show_default="backtests/COIN-INTERVAL-TIME"
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the metrics as JSON."),
) -> None:
    """Walk-forward backtest of the LSTM and the baselines, scored against the naive forecast.

    Writes the tidy table, the scores, pictures and report.html into --out. With several
    coins the LSTM is one global model trained on all of them; --compare-training puts the
    ways of training it side by side and tests which is better.

    Example: coincast backtest bitcoin --test 365 --refit-every 30 --out backtests/btc

    Example: coincast backtest ethereum bitcoin solana --exog bitcoin
    --compare-training single,global,global+exog
    """
    names = coin_ids(coins)
    coin = resolve_offline(target) if target else names[0]
    if coin not in names:
        raise CoincastError(f"--target {target} is not among the listed coins: list it too")
    if len(names) > 1:  # the global model stops early on the backtested coin's validation
        lstm = lstm.model_copy(update={"target_coin": coin})
    with open_store() as store:
        frames, exog = training_frames(store, names, lstm.exog, **series)
    stamp = f"{datetime.now(UTC):%Y%m%d-%H%M%S}"
    folder = out_dir or Path("backtests") / f"{coin}-{series['interval']}-{stamp}"
    training = split_list(compare_training) if compare_training else None
    result = _backtest(coin, frames, exog, split_list(models), training, lstm, walk)
    report = save_backtest(result, folder)
    if as_json:
        print_json(scores_json(result) | {"report": str(report)})
        return
    _print_scores(result)
    out.print(f"Report: {report}")


def _backtest(
    coin: str,
    frames: Frames,
    exog: Frames,
    models: list[str],
    training: list[str] | None,
    lstm: LSTMConfig,
    walk: dict[str, Any],
) -> BacktestResult:
    """The one call of :func:`~coincast.evaluation.run.run_backtest`: ``coin`` walked forward,
    the global LSTM trained on every frame; ``walk`` holds the walk-forward options."""
    walk = dict(walk)
    training_opts = {k: walk.pop(k) for k in ("refit_epochs", "warm_start")}
    how = LSTMTraining(lstm, others=frames, exog=exog, variants=training, **training_opts)
    return run_backtest(frames[coin], WalkForward(**walk), models=models, lstm=how)


def _print_scores(result: BacktestResult) -> None:
    m = result.meta
    table = Table(
        "model", "MAE", "RMSE", "MAPE", "MASE", "MAE/naive", "direction", "DM p", "copy?",
        "coverage", title=f"{m['coin']} {m['interval']}, horizon {m['horizon']}: "
        f"{m['test_start'][:10]} .. {m['test_end'][:10]} ({m['cutoffs']} cutoffs)",
    )  # fmt: skip
    for r in result.scores.to_dict("records"):
        rel = r.get("rel_mae")
        judged = verdict(r.get("dm_pvalue"), r.get("dm_stat"))
        word = f" {judged}" if judged in ("better", "worse") else ""
        vs = "-" if rel is None else _f(rel, 3) + word
        copy = "yes" if r["lagged_copy"] else "no"
        table.add_row(
            r["model"], _f(r["mae"]), _f(r["rmse"]), _pct(r["mape"]), _f(r["mase"], 3), vs,
            _pct(r["directional_accuracy"]), _f(r["dm_pvalue"], 2), copy, _pct(r["coverage"]),
        )  # fmt: skip
    out.print(table)
    for line in result.verdicts:
        out.print(f"- {line}")


def _f(x, digits: int = 4) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "-"
    return f"{x:,.{digits}g}"


def _pct(x) -> str:
    return "-" if x is None or (isinstance(x, float) and not math.isfinite(x)) else f"{x:.1%}"


@handles_errors
def report_cmd(
    folder: Path = typer.Argument(..., help="A backtest folder (written by coincast backtest)."),
    out_file: Path | None = typer.Option(
        None, "--out", "-o", help="HTML file [FOLDER/report.html]."
    ),
) -> None:
    """(Re)build the HTML report of a backtest folder, offline, from its saved results.

    Example: coincast report backtests/btc -o btc-report.html
    """
    from ..reporting.report import build_report, load_report_inputs

    if not folder.is_dir():
        raise CoincastError(
            f"no folder {folder}; run `coincast backtest COIN --out {folder}` first"
        )
    if out_file is not None and out_file.suffix.lower() not in (".html", ".htm"):
        raise CoincastError(f"--out {out_file} must end in .html")
    path = build_report(folder, load_report_inputs(folder), out=out_file)
    out.print(f"Report: {path}")
