"""``coincast backtest`` and ``coincast report``: the honest evaluation from the command line."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path

import typer
from rich.table import Table

from ..coins import resolve_offline
from ..errors import CoincastError
from ..evaluation.adapters import LSTMTraining
from ..evaluation.backtest import WalkForward
from ..evaluation.run import DEFAULT_MODELS, run_backtest, scores_json
from ..evaluation.verdicts import verdict
from ..models.forecaster import LSTMConfig
from ..reporting.folder import save_backtest
from .common import handles_errors, open_store, out, parse_time, print_json
from .model import (
    COIN_EMBEDDING,
    EXOG,
    LEARN,
    SKIP_SHORT,
    many_coin_settings,
    read_config,
    read_frames,
    split_list,
)


@handles_errors
def backtest_cmd(
    coins: list[str] = typer.Argument(
        ..., help="Coin ids or symbols in the store; with several, the LSTM can learn from all."
    ),
    models: str = typer.Option(
        ",".join(DEFAULT_MODELS), "--models", "-m", help="Comma-separated models."
    ),
    interval: str = typer.Option("1d", "--interval", "-i", help="Bar interval."),
    source: str | None = typer.Option(None, "--source", "-s", help="Stored source to read."),
    quote: str | None = typer.Option(None, "--quote", "-q", help="Quote currency to read."),
    horizon: int = typer.Option(1, "--horizon", min=1, help="Steps forecast at each cutoff."),
    test: int | None = typer.Option(None, "--test", help="Test on the last N bars [365]."),
    start: str | None = typer.Option(None, "--start", help="First test bar (with --end)."),
    end: str | None = typer.Option(None, "--end", help="Last test bar."),
    refit_every: int = typer.Option(30, "--refit-every", min=1, help="Refit every K cutoffs."),
    window: str = typer.Option("expanding", "--window", help="expanding or rolling."),
    window_size: int | None = typer.Option(None, "--window-size", help="Rows of a rolling window."),
    refit_epochs: int = typer.Option(5, "--refit-epochs", min=1, help="LSTM epochs per refit."),
    warm_start: bool = typer.Option(True, "--warm-start/--scratch", help="LSTM refits continue."),
    lookback: int | None = typer.Option(None, help="LSTM input steps [30]."),
    hidden: int | None = typer.Option(None, help="LSTM hidden units [64]."),
    layers: int | None = typer.Option(None, help="LSTM layers [2]."),
    epochs: int | None = typer.Option(None, help="LSTM epochs of the first fit [50]."),
    batch: int | None = typer.Option(None, help="Windows per mini-batch [64]."),
    lr: float | None = typer.Option(None, help="Adam learning rate [0.001]."),
    learn: str | None = LEARN,
    head: str | None = typer.Option(None, help="point (default), quantile or gaussian."),
    target: str | None = typer.Option(
        None, "--target", help="The coin to backtest when several are listed [the first]."
    ),
    exog: str | None = EXOG,
    compare_training: str | None = typer.Option(
        None,
        "--compare-training",
        help="Train the LSTM several ways side by side: single, global, single+exog, "
        "global+exog (comma-separated).",
    ),
    coin_embedding: bool | None = COIN_EMBEDDING,
    skip_short: bool = SKIP_SHORT,
    features: str | None = typer.Option(None, help="Comma-separated LSTM inputs [log_return]."),
    seed: int | None = typer.Option(None, help="Random seed [0]."),
    threads: int | None = typer.Option(None, help="CPU threads [all cores]."),
    config: Path | None = typer.Option(None, "--config", "-c", help="TOML or YAML LSTM settings."),
    out_dir: Path | None = typer.Option(
        None, "--out", "-o", help="Folder [backtests/COIN-INTERVAL-TIME]."
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
    flags = dict(
        lookback=lookback, hidden=hidden, layers=layers, epochs=epochs, batch=batch, lr=lr,
        target=learn, head=head, seed=seed, threads=threads,
        features=split_list(features) if features else None,
        **many_coin_settings(exog, coin_embedding, skip_short),
    )  # fmt: skip
    settings = {**read_config(config), **{k: v for k, v in flags.items() if v is not None}}
    settings.setdefault("log_every", 0)
    try:
        cfg = LSTMConfig(**settings)
    except ValueError as exc:
        from ..models.forecaster import _first_error

        raise CoincastError(_first_error(exc)) from None
    names = list(dict.fromkeys(resolve_offline(c) for c in coins))
    coin = resolve_offline(target) if target else names[0]
    if coin not in names:
        raise CoincastError(f"--target {target} is not among the listed coins: list it too")
    if len(names) > 1:  # the global model stops early on the backtested coin's validation
        cfg = cfg.model_copy(update={"target_coin": coin})
    with open_store() as store:
        frames = read_frames(store, names, interval, source, quote)
        exog_frames = read_frames(
            store, [c for c in cfg.exog if c not in frames], interval, source, quote
        )
    folder = out_dir or Path("backtests") / f"{coin}-{interval}-{datetime.now(UTC):%Y%m%d-%H%M%S}"
    spec = WalkForward(
        horizon=horizon, test=test, start=parse_time(start, "--start"),
        end=parse_time(end, "--end"), refit_every=refit_every, window=window,
        window_size=window_size,
    )  # fmt: skip
    lstm = LSTMTraining(
        cfg, refit_epochs=refit_epochs, warm_start=warm_start, others=frames, exog=exog_frames,
        variants=split_list(compare_training) if compare_training else None,
    )  # fmt: skip
    result = run_backtest(frames[coin], spec, models=split_list(models), lstm=lstm)
    report = save_backtest(result, folder)
    if as_json:
        print_json(scores_json(result) | {"report": str(report)})
        return
    _print_scores(result)
    out.print(f"Report: {report}")


def _print_scores(result) -> None:
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
