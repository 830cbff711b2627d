"""``coincast backtest`` and ``coincast report``: the honest evaluation from the command line."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.table import Table

from ..coins import resolve_offline
from ..errors import CoincastError
from ..evaluation.adapters import LSTMTraining
from ..evaluation.backtest import WalkForward
from ..evaluation.result import BacktestResult
from ..evaluation.risk_models import DEFAULT_RISK_MODELS
from ..evaluation.run import DEFAULT_MODELS, run_backtest, scores_json
from ..evaluation.verdicts import fmt_p, fmt_ratio, verdict
from ..models.config import LSTMConfig
from ..models.folders import check_writable
from ..models.run_data import Frames, finer_frame, training_frames
from ..reporting.folder import save_backtest, save_risk_backtest
from .common import coin_ids, err, handles_errors, open_store, out, print_json, progress_bar
from .options import (
    EngineChoice,
    Series,
    engine_options,
    lstm_options,
    series_options,
    split_list,
    walk_forward_options,
)

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID


@handles_errors
@series_options()
@walk_forward_options()
@lstm_options(own=("horizon", "target_coin"), defaults={"log_every": 0})
@engine_options(
    "Walk the models in parallel, each one a job: local (processes here) or dask. By "
    "default none: they walk one after another, here. The table is the same either way.",
)
def backtest_cmd(
    coins: list[str] = typer.Argument(
        ..., help="Coin ids or symbols in the store; with several, the LSTM can learn from all."
    ),
    models: str | None = typer.Option(
        None,
        "--models",
        "-m",
        help="Comma-separated models. With --learn volatility: lstm, garch, gjr, har, ewma, "
        "histvol.",
        show_default=f"{','.join(DEFAULT_MODELS)}; volatility: {','.join(DEFAULT_RISK_MODELS)}",
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
    engine: EngineChoice,
    intervals: str = typer.Option(
        "auto",
        "--intervals",
        help="The 90 % bands: conformal (every model's, from its own past errors), model (its "
        "own), none, or auto (its own; conformal for a model without one).",
    ),
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

    Example: coincast backtest bitcoin --learn volatility --models lstm,garch,gjr,har,ewma
    """
    names = coin_ids(coins)
    coin = resolve_offline(target) if target else names[0]
    if coin not in names:
        raise CoincastError(f"--target {target} is not among the listed coins: list it too")
    if len(names) > 1:  # the global model stops early on the backtested coin's validation
        lstm = lstm.model_copy(update={"target_coin": coin})
    stamp = f"{datetime.now(UTC):%Y%m%d-%H%M%S}"
    folder = out_dir or Path("backtests") / f"{coin}-{series['interval']}-{stamp}"
    check_writable(folder, "--out", example="backtests/btc")  # before hours of fitting
    risk = lstm.target == "volatility"
    with open_store(readonly=True) as store:
        frames, exog = training_frames(store, names, lstm.exog, **series)
        finer = finer_frame(store, frames[coin]) if risk else None
    if risk:
        from .risk import risk_backtest, show_risk

        asked = split_list(models) if models else list(DEFAULT_RISK_MODELS)
        result = risk_backtest(coin, frames, exog, asked, lstm, walk, finer, engine)
        show_risk(result, save_risk_backtest(result, folder), as_json)
        return
    training = split_list(compare_training) if compare_training else None
    asked = split_list(models) if models else list(DEFAULT_MODELS)
    walk = walk | {"intervals": intervals}
    result = _backtest(coin, frames, exog, asked, training, lstm, walk, engine)
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
    engine: EngineChoice,
) -> BacktestResult:
    """The one call of :func:`~coincast.evaluation.run.run_backtest`: ``coin`` walked forward,
    the global LSTM trained on every frame, on ``engine``; ``walk`` holds the walk-forward
    options."""
    walk = dict(walk)
    training_opts = {k: walk.pop(k) for k in ("refit_epochs", "warm_start")}
    intervals = walk.pop("intervals", "auto")
    how = LSTMTraining(lstm, others=frames, exog=exog, variants=training, **training_opts)
    with engine.open() as pool, progress_bar("cutoffs", err) as bar:
        return run_backtest(
            frames[coin], WalkForward(**walk), models=models, lstm=how, intervals=intervals,
            progress=per_model(bar), engine=pool,
        )  # fmt: skip


def per_model(bar: Progress, coin: str = "") -> Callable[[str, int, int], None]:
    """A ``progress(model, done, total)`` callback for a walk-forward backtest: one line of
    ``bar`` per model (with ``coin`` in front, when given)."""
    tasks: dict[str, TaskID] = {}

    def progress(model: str, done: int, total: int) -> None:
        if model not in tasks:
            tasks[model] = bar.add_task(f"{coin} {model}".strip(), total=total)
        bar.update(tasks[model], completed=done, total=total)

    return progress


def _print_scores(result: BacktestResult) -> None:
    m = result.meta
    scale = m.get("mase_scale") or {}
    table = Table(
        "model", "MAE/naive", "MAE", "RMSE", "MAPE", "DM p", "direction", "PT p",
        "knows more?", "cover (90 %)", "CRPS", "MASE*",
        title=f"{m['coin']} {m['interval']}, horizon {m['horizon']}: "
        f"{m['test_start'][:10]} .. {m['test_end'][:10]} ({m['cutoffs']} cutoffs)",
    )  # fmt: skip
    for r in result.scores.to_dict("records"):
        rel = r.get("rel_mae")
        judged = verdict(r.get("dm_pvalue"), r.get("dm_stat"))
        word = f" {judged}" if judged in ("better", "worse") else ""
        vs = "-" if rel is None else fmt_ratio(rel) + word
        table.add_row(
            r["model"], vs, _f(r["mae"]), _f(r["rmse"]), _pct(r["mape"]), _p(r["dm_pvalue"]),
            _pct(r["directional_accuracy"]), _direction_p(r), _knows(r), _pct(r["coverage"]),
            _f(r.get("crps")), "-" if r["mase"] is None else fmt_ratio(r["mase"]),
        )  # fmt: skip
    out.print(table)
    bars = f"the last {scale['window']:,} training bars" if scale.get("window") else "training bars"
    out.print(
        f"* MASE (scale: naive MAE over {bars}). MAE/naive is the headline; PT p: "
        "Pesaran-Timmermann direction test; knows more?: does the forecast's change carry "
        "information about the actual change (H0: slope 0)."
    )
    for line in result.verdicts:
        out.print(f"- {line}")


def _p(p) -> str:
    return "-" if p is None or (isinstance(p, float) and not math.isfinite(p)) else fmt_p(p)


def _direction_p(r: dict) -> str:
    """The step's PT p-value; a row pooling several steps is tested step by step."""
    return "per step" if (r.get("steps") or 1) > 1 else _p(r.get("directional_pvalue"))


def _knows(r: dict) -> str:
    slope = r.get("info_slope")
    judged = verdict(r.get("info_pvalue"), None if slope is None else -slope)
    if judged is None:
        return "no" if r.get("copies_last") else "-"
    return {"better": "yes", "worse": "no (wrong way)"}.get(judged, "no")


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
    if (folder / "risk.json").is_file() and not (folder / "report.json").is_file():
        raise CoincastError(
            f"{folder} is a risk backtest (--learn volatility): its report.html is written by "
            "the backtest itself; rerun `coincast backtest COIN --learn volatility` to redo it"
        )
    check_writable(folder, "FOLDER", example="backtests/btc")  # its pictures are redrawn
    if out_file is not None:
        check_writable(out_file, "--out", file=True, example="report.html")
        if out_file.suffix.lower() not in (".html", ".htm"):
            raise CoincastError(f"--out {out_file} must end in .html")
    path = build_report(folder, load_report_inputs(folder), out=out_file)
    out.print(f"Report: {path}")
