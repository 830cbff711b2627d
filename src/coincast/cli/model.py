"""``coincast train`` and ``coincast predict``: the LSTM from the command line."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import typer
from rich.table import Table

from ..errors import CoincastError
from ..evaluation.verdicts import fmt_ratio
from ..models import LSTMForecaster
from ..models.config import LSTMConfig
from ..models.folders import check_new_run, default_run_folder, run_folder, undone_on_failure
from ..models.run_data import Frames, forecast_latest, training_frames
from ..models.runs import load_run, save_run
from ..models.training import EpochRecord, TrainingInterrupted, format_epoch
from ..reporting.plots import plot_forecast
from ..series import parse_time
from .common import (
    coin_ids,
    handles_errors,
    open_store,
    out,
    print_json,
    progress_bar,
    warn,
)
from .options import Series, lstm_options, series_options


@handles_errors
@series_options("Bar interval to train on.")
@lstm_options()
def train_cmd(
    coins: list[str] = typer.Argument(
        ..., help="Coin ids or symbols in the store; several train one global model."
    ),
    *,
    series: Series,
    lstm: LSTMConfig,
    until: str | None = typer.Option(None, "--until", help="Train on data up to this date."),
    out_dir: Path | None = typer.Option(
        None, "--out", "-o", help="Run folder.", show_default="runs/COIN-INTERVAL-TIME"
    ),
    resume: bool = typer.Option(False, "--resume", help="Continue an interrupted run in --out."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing run folder."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Train an LSTM on stored coins (one, or several for a global model) and save the run.

    Flags override the --config file, which overrides the defaults.

    Example: coincast train bitcoin --interval 1d --epochs 50 --out runs/btc-1d

    Example: coincast train bitcoin ethereum solana --target ethereum --exog bitcoin
    """
    model = LSTMForecaster(lstm)
    names = coin_ids(coins)
    folder = out_dir or default_run_folder(names, series["interval"], model.config.target_coin)
    check_new_run(folder, resume=resume, force=force)
    end = parse_time(until, "--until")
    with open_store(readonly=True) as store:
        frames, exog = training_frames(store, names, model.config.exog, **series, end=end)
    if not as_json:
        for frame in frames.values():
            out.print(f"Training on {_bars(frame)}")
    try:
        with undone_on_failure(folder):  # a failed training leaves no folder behind
            _fit(model, frames, exog, folder, resume=resume, quiet=as_json)
            save_run(model, folder)
    except TrainingInterrupted as exc:
        raise CoincastError(
            f"{getattr(exc, 'cli', exc)}: coincast train {' '.join(names)} --out {folder} --resume"
        ) from None
    _warnings(model, as_json)
    _train_summary(model, folder, as_json)


def _bars(frame: pd.DataFrame) -> str:
    """``300 1d bars of ethereum (2024-04-18 .. 2025-02-11)``."""
    first, last = frame.index[0], frame.index[-1]
    return (
        f"{len(frame):,} {frame.attrs['interval']} bars of {frame.attrs['coin']} "
        f"({first:%Y-%m-%d} .. {last:%Y-%m-%d})"
    )


def _fit(
    model: LSTMForecaster, frames: Frames, exog: Frames, folder: Path, *, resume: bool, quiet: bool
) -> None:
    """Train with a progress bar, and a loss line every ``log_every`` epochs."""
    cfg = model.config
    bar = progress_bar("epochs", out, disable=quiet)
    task = bar.add_task("training", total=cfg.epochs)

    def on_epoch(record: EpochRecord) -> None:
        bar.update(task, completed=record.epoch)
        if not quiet and _logged(record.epoch, cfg):
            bar.console.print(format_epoch(record, cfg.epochs))

    with bar:
        model.fit(frames, exog=exog, on_epoch=on_epoch, checkpoint_dir=folder, resume=resume)


def _logged(epoch: int, cfg: LSTMConfig) -> bool:
    return bool(cfg.log_every) and (epoch % cfg.log_every == 0 or epoch == cfg.epochs)


def _warnings(model: LSTMForecaster, as_json: bool) -> None:
    """Coins skipped or bars dropped (on stderr, so that stdout stays the summary or its
    JSON); the last epoch when early stopping ended off-beat."""
    cfg = model.config
    for c in model.skipped:
        warn(f"Skipped {c}: too little history for --lookback {cfg.lookback}")
    for c, n in model.dropped.items():
        if n:
            warn(f"{c}: {n} bars have no bar of {', '.join(cfg.exog)} at the same time; left out")
    last = model.result.history[-1] if model.result.history else None
    if last and cfg.log_every and not _logged(last.epoch, cfg) and not as_json:
        out.print(format_epoch(last, cfg.epochs) + " (early stop)")


def _train_summary(model: LSTMForecaster, folder: Path, as_json: bool) -> None:
    r, m = model.result, model.metrics
    last = r.history[-1] if r.history else None
    summary = {
        "run": str(folder),
        "epochs": len(r.history),
        "best_epoch": r.best_epoch,
        "stopped_early": r.stopped_early,
        "train_loss": last.train_loss if last else None,
        "val_loss": min((h.val_loss for h in r.history if h.val_loss is not None), default=None),
        **m,
    }
    if as_json:
        print_json(summary)
        return
    out.print(f"Run saved to {folder}")
    coins = [k.removeprefix("val_rel_mae:") for k in m if k.startswith("val_rel_mae:")]
    table = Table("epochs", "best epoch", "val loss", "val MAE", "naive MAE", "MAE / naive")
    table.add_row(
        f"{len(r.history)}{' (early stop)' if r.stopped_early else ''}",
        str(r.best_epoch),
        _num(summary["val_loss"]),
        "per coin" if coins else _num(m.get("val_mae")),
        "per coin" if coins else _num(m.get("val_naive_mae")),
        _rel(m.get("val_rel_mae")),
    )
    out.print(table)
    if m.get("val_of"):
        out.print(f"Validation figures: {m['val_of']}.")
    if coins:
        per = Table("coin", "val MAE", "naive MAE", "MAE / naive")
        for c in coins:
            per.add_row(c, _num(m[f"val_mae:{c}"]), _num(m[f"val_naive_mae:{c}"]),
                        _rel(m[f"val_rel_mae:{c}"]))  # fmt: skip
        out.print(per)
    out.print("Validation chose the stopping epoch, so these figures flatter the model; "
              "judge it on a walk-forward backtest.")  # fmt: skip


def _rel(x: float | str | None) -> str:
    """MAE / naive, and whether the model's error is lower than the naive forecast's."""
    if not isinstance(x, float):
        return "-"
    return f"{fmt_ratio(x)} {'(lower)' if x < 1 else '(not lower)'}"


def _price(x: float) -> str:
    return "-" if math.isnan(x) else f"{x:,.8g}"


def _change(x: float, last: float) -> str:
    """``+1.23%``: the forecast's change from the last close."""
    return "-" if math.isnan(x) or not last else f"{(x / last - 1) * 100:+.2f}%"


def _when(ts: pd.Timestamp, interval: str) -> str:
    """A bar's start as people write it: ``2025-01-13`` (days, weeks), ``2025-01-13 13:00``
    (hours, minutes), with seconds for second bars; UTC, as every stored time is."""
    if interval in ("1d", "1w"):
        return ts.strftime("%Y-%m-%d")
    return ts.strftime("%Y-%m-%d %H:%M:%S" if interval == "1s" else "%Y-%m-%d %H:%M")


def _num(x: float | None) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:,.4g}"


@handles_errors
def predict_cmd(
    run: Path = typer.Argument(..., help="Run folder (or a run name under runs/)."),
    horizon: int | None = typer.Option(
        None, "--horizon", "-H", help="Steps (<= the trained horizon)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the forecast as JSON."),
    plot: Path | None = typer.Option(None, "--plot", help="Draw history and forecast to this PNG."),
    coin: str | None = typer.Option(
        None, "--coin", help="The coin to forecast, for a run trained on several."
    ),
) -> None:
    """Forecast the next bars from the latest stored data with a trained run.

    Example: coincast predict runs/btc-1d --horizon 1 --json
    """
    model = load_run(run_folder(run))
    with open_store(readonly=True) as store:
        forecast, frame = forecast_latest(store, model, horizon, coin)
    if plot is not None:
        if plot.suffix.lower() != ".png":
            raise CoincastError(f"--plot {plot} must end in .png")
        plot_forecast(frame, forecast, plot, lookback=model.config.lookback)
    if model.config.target == "volatility":
        from .risk import print_volatility

        print_volatility(forecast, frame, as_json)
        return
    _print_forecast(forecast, frame, as_json, plot)


def _print_forecast(
    forecast: pd.DataFrame, frame: pd.DataFrame, as_json: bool, plot: Path | None
) -> None:
    a = forecast.attrs

    def num(x: float) -> float | None:
        return None if math.isnan(x) else float(x)

    if as_json:
        print_json({
            "coin": a["coin"], "interval": a["interval"], "last_ts": frame.index[-1].isoformat(),
            "last_close": float(frame["close"].iloc[-1]),
            "forecast": [
                {"ts": ts.isoformat(), "yhat": num(r.yhat), "lo": num(r.lo), "hi": num(r.hi)}
                for ts, r in zip(forecast.index, forecast.itertuples(), strict=True)
            ],
        })  # fmt: skip
        return
    out.print(_forecast_table(forecast, frame))
    if plot is not None:
        out.print(f"Picture: {plot}")


def _forecast_table(forecast: pd.DataFrame, frame: pd.DataFrame) -> Table:
    """The forecast with its change from the last close; lo and hi only when there is a band
    (a point head has none)."""
    a = forecast.attrs
    last, iv = float(frame["close"].iloc[-1]), a["interval"]
    bands = bool(forecast[["lo", "hi"]].notna().to_numpy().any())
    table = Table("ts (UTC)", "yhat", "change", *(["lo", "hi"] if bands else []),
                  title=f"{a['coin']}/{a['quote']} {iv} after {_when(frame.index[-1], iv)} "
                  f"(close {last:,.6g})")  # fmt: skip
    for ts, r in zip(forecast.index, forecast.itertuples(), strict=True):
        table.add_row(_when(ts, iv), _price(r.yhat), _change(r.yhat, last),
                      *([_price(r.lo), _price(r.hi)] if bands else []))  # fmt: skip
    return table
