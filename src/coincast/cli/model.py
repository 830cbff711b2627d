"""``coincast train`` and ``coincast predict``: the LSTM from the command line."""

from __future__ import annotations

import math
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import typer
import yaml
from rich.table import Table

from ..coins import resolve_offline
from ..errors import CoincastError
from ..models import LSTMForecaster
from ..models.forecaster import LSTMConfig
from ..models.runs import RECORD, check_run_name, load_run, save_run
from ..models.training import format_epoch
from ..reporting.plots import plot_forecast
from .common import handles_errors, open_store, out, parse_time, print_json, progress_bar

RUNS = Path("runs")

# Flags shared by `train` and `backtest`.
LEARN = typer.Option(None, "--learn", help="returns (default) or price.")
EXOG = typer.Option(None, "--exog", help="Comma-separated coins whose returns are extra inputs.")
COIN_EMBEDDING = typer.Option(
    None, "--coin-embedding/--no-coin-embedding", help="Several coins: a vector per coin [on]."
)
SKIP_SHORT = typer.Option(
    False, "--skip-short", help="Skip coins too short for the lookback (else an error)."
)


def many_coin_settings(exog: str | None, coin_embedding: bool | None, skip_short: bool) -> dict:
    """LSTMConfig settings from the several-coins flags (None: not given)."""
    return {
        "exog": [resolve_offline(c) for c in split_list(exog)] if exog else None,
        "coin_embedding": coin_embedding,
        "on_short": "skip" if skip_short else None,
    }


@handles_errors
def train_cmd(
    coins: list[str] = typer.Argument(
        ..., help="Coin ids or symbols in the store; several train one global model."
    ),
    interval: str = typer.Option("1d", "--interval", "-i", help="Bar interval to train on."),
    source: str | None = typer.Option(None, "--source", "-s", help="Stored source to read."),
    quote: str | None = typer.Option(None, "--quote", "-q", help="Quote currency to read."),
    horizon: int | None = typer.Option(None, help="Steps to forecast at once [1]."),
    lookback: int | None = typer.Option(None, help="Input steps per window [30]."),
    hidden: int | None = typer.Option(None, help="LSTM hidden units [64]."),
    layers: int | None = typer.Option(None, help="Stacked LSTM layers [2]."),
    dropout: float | None = typer.Option(None, help="Dropout between layers [0]."),
    epochs: int | None = typer.Option(None, help="Maximum epochs [50]."),
    batch: int | None = typer.Option(None, help="Windows per mini-batch [64]."),
    lr: float | None = typer.Option(None, help="Adam learning rate [0.001]."),
    learn: str | None = LEARN,
    head: str | None = typer.Option(None, help="point (default), quantile or gaussian."),
    target: str | None = typer.Option(
        None, "--target", help="With several coins: the one to forecast [all of them]."
    ),
    exog: str | None = EXOG,
    coin_embedding: bool | None = COIN_EMBEDDING,
    skip_short: bool = SKIP_SHORT,
    features: str | None = typer.Option(
        None,
        help="Comma-separated inputs: log_return, log_volume_change, range, rsi, macd, "
        "volatility, close [log_return].",
    ),
    recursive: bool | None = typer.Option(None, "--recursive/--direct", help="Multi-step mode."),
    val_fraction: float | None = typer.Option(None, help="Share of windows for validation [0.1]."),
    patience: int | None = typer.Option(None, help="Early-stopping patience in epochs [10]."),
    seed: int | None = typer.Option(None, help="Random seed [0]."),
    threads: int | None = typer.Option(None, help="CPU threads [all cores]."),
    log_every: int | None = typer.Option(None, help="Epochs between loss lines [10]."),
    until: str | None = typer.Option(None, "--until", help="Train on data up to this date."),
    out_dir: Path | None = typer.Option(
        None, "--out", "-o", help="Run folder [runs/COIN-INTERVAL-TIME]."
    ),
    config: Path | None = typer.Option(
        None, "--config", "-c", help="TOML or YAML file of settings."
    ),
    resume: bool = typer.Option(False, "--resume", help="Continue an interrupted run in --out."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing run folder."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Train an LSTM on stored coins (one, or several for a global model) and save the run.

    Flags override the --config file, which overrides the defaults in [brackets].

    Example: coincast train bitcoin --interval 1d --epochs 50 --out runs/btc-1d

    Example: coincast train bitcoin ethereum solana --target ethereum --exog bitcoin
    """
    flags = dict(
        horizon=horizon, lookback=lookback, hidden=hidden, layers=layers, dropout=dropout,
        epochs=epochs, batch=batch, lr=lr, target=learn, head=head, recursive=recursive,
        val_fraction=val_fraction, patience=patience, seed=seed, threads=threads,
        log_every=log_every, target_coin=resolve_offline(target) if target else None,
        features=split_list(features) if features else None,
        **many_coin_settings(exog, coin_embedding, skip_short),
    )  # fmt: skip
    settings = {**read_config(config), **{k: v for k, v in flags.items() if v is not None}}
    model = LSTMForecaster(**settings)
    names = list(dict.fromkeys(resolve_offline(c) for c in coins))
    stamp = f"{datetime.now(UTC):%Y%m%d-%H%M%S}"
    label = names[0] if len(names) == 1 else f"{model.config.target_coin or 'global'}-x{len(names)}"
    folder = out_dir or RUNS / f"{label}-{interval}-{stamp}"
    check_run_name(folder.name)
    if ".." in folder.parts:
        raise CoincastError(f"--out {folder} is not allowed: no '..' in run paths")
    if (folder / RECORD).exists() and not (resume or force):
        raise CoincastError(f"{folder} already holds a run; choose another --out, or --force")
    end = parse_time(until, "--until")
    with open_store() as store:
        frames = read_frames(store, names, interval, source, quote, end)
        exog_frames = read_frames(
            store, [c for c in model.config.exog if c not in frames], interval, source, quote, end
        )
    cfg = model.config

    bar = progress_bar("epochs", out, disable=as_json)
    task = bar.add_task("training", total=cfg.epochs)

    def on_epoch(record) -> None:
        bar.update(task, completed=record.epoch)
        if as_json:
            return
        if cfg.log_every and (record.epoch % cfg.log_every == 0 or record.epoch == cfg.epochs):
            bar.console.print(format_epoch(record, cfg.epochs))

    if not as_json:
        for frame in frames.values():
            first, last = frame.index[0], frame.index[-1]
            out.print(
                f"Training on {len(frame):,} {frame.attrs['interval']} bars of "
                f"{frame.attrs['coin']} ({first:%Y-%m-%d} .. {last:%Y-%m-%d})"
            )
    with bar:
        try:
            model.fit(
                frames, exog=exog_frames, on_epoch=on_epoch, checkpoint_dir=folder, resume=resume
            )
        except CoincastError as exc:
            if "interrupted" in str(exc):
                raise CoincastError(
                    f"{exc}: coincast train {' '.join(names)} --out {folder} --resume"
                ) from None
            raise
    for c in model.skipped:
        out.print(f"[yellow]Skipped {c}: too little history for --lookback {cfg.lookback}")
    for c, n in model.dropped.items():
        if n:
            out.print(f"[yellow]{c}: {n} bars have no bar of {', '.join(cfg.exog)} "
                      "at the same time; left out")  # fmt: skip
    last = model.result.history[-1] if model.result.history else None
    shown = cfg.log_every and last and (last.epoch % cfg.log_every == 0 or last.epoch == cfg.epochs)
    if last and cfg.log_every and not shown and not as_json:
        out.print(format_epoch(last, cfg.epochs) + " (early stop)")
    save_run(model, folder)
    _train_summary(model, folder, as_json)


def split_list(text: str) -> list[str]:
    """``"a, b,c"`` -> ``["a", "b", "c"]``."""
    return [t.strip() for t in text.split(",") if t.strip()]


def read_frames(store, coins, interval, source, quote, end=None) -> dict[str, pd.DataFrame]:
    """Stored candles of each coin; an error naming the coin when one has none."""
    frames = {}
    for c in coins:
        frame = store.read_candles(c, interval, source=source, quote=quote, end=end)
        if frame.empty:
            until = "" if end is None else f" up to {end}"
            raise CoincastError(
                f"no stored {interval} data for {c}{until}; fetch it: "
                f"coincast fetch {c} --interval {interval}"
            )
        frames[c] = frame
    return frames


def run_frames(model: LSTMForecaster) -> tuple[dict[str, pd.DataFrame], dict[str, pd.DataFrame]]:
    """The latest stored candles of every coin a loaded run reads: coins, exog coins."""
    with open_store() as store:
        frames = {c: _stored(store, d) for c, d in model.data.items() if c in model.scalers}
        exog = {c: _stored(store, d) for c, d in model.exog_data.items()}
    return frames, exog


def _stored(store, d: dict) -> pd.DataFrame:
    return read_frames(store, [d["coin"]], d["interval"], d["source"], d["quote"])[d["coin"]]


def read_config(path: Path | None) -> dict[str, Any]:
    """Settings from a TOML or YAML file (a flat table of LSTMConfig fields)."""
    if path is None:
        return {}
    if not path.is_file():
        raise CoincastError(f"--config {path}: no such file")
    try:
        if path.suffix.lower() == ".toml":
            data = tomllib.loads(path.read_text())
        elif path.suffix.lower() in (".yaml", ".yml"):
            data = yaml.safe_load(path.read_text()) or {}
        else:
            raise CoincastError(f"--config {path} must be a .toml, .yaml or .yml file")
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        raise CoincastError(
            f"--config {path} cannot be parsed: {str(exc).splitlines()[0]}"
        ) from None
    if not isinstance(data, dict):
        raise CoincastError(f"--config {path} must hold a table of settings")
    unknown = sorted(map(str, set(data) - set(LSTMConfig.model_fields)))
    if unknown:
        raise CoincastError(
            f"--config {path}: unknown setting(s) {', '.join(unknown)}; "
            f"known: {', '.join(LSTMConfig.model_fields)}"
        )
    return data


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
    table = Table("epochs", "best epoch", "val loss", "val MAE", "naive MAE", "MAE / naive")
    rel = m.get("val_rel_mae")
    table.add_row(
        f"{len(r.history)}{' (early stop)' if r.stopped_early else ''}",
        str(r.best_epoch),
        _num(summary["val_loss"]),
        _num(m.get("val_mae")),
        _num(m.get("val_naive_mae")),
        _num(rel) + ("" if rel is None else " (lower)" if rel < 1 else " (not lower)"),
    )
    out.print(table)
    out.print("Validation chose the stopping epoch, so these figures flatter the model; "
              "judge it on a walk-forward backtest.")  # fmt: skip


def _price(x: float) -> str:
    return "-" if math.isnan(x) else f"{x:,.8g}"


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
    coin = model.forecast_coin(resolve_offline(coin) if coin else None)
    frames, exog = run_frames(model)
    frame = frames[coin]
    forecast = model.predict(horizon, frame=frame, coin=coin, exog=frames | exog)
    if plot is not None:
        if plot.suffix.lower() != ".png":
            raise CoincastError(f"--plot {plot} must end in .png")
        plot_forecast(frame, forecast, plot)
    _print_forecast(forecast, frame, as_json, plot)


def run_folder(run: Path) -> Path:
    """A run folder given as a path, or as a name under ``runs/``."""
    return run if run.exists() or len(run.parts) > 1 else RUNS / check_run_name(str(run))


def window_for(model: LSTMForecaster, window: str = "LAST", coin: str | None = None):
    """The input window of a loaded run ending at bar ``window`` (``LAST`` or a date), read
    from the store: what ``coincast explain`` looks inside."""
    coin = model.forecast_coin(resolve_offline(coin) if coin else None)
    frames, exog = run_frames(model)
    end = None if window.upper() == "LAST" else parse_time(window, "--window")
    return model.window_inputs(frames[coin], end, coin=coin, exog=frames | exog)


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
    table = Table("ts", "yhat", "lo", "hi", title=f"{a['coin']}/{a['quote']} {a['interval']} "
                  f"after {frame.index[-1]} (close {frame['close'].iloc[-1]:,.6g})")  # fmt: skip
    for ts, r in zip(forecast.index, forecast.itertuples(), strict=True):
        table.add_row(str(ts), _price(r.yhat), _price(r.lo), _price(r.hi))
    out.print(table)
    if plot is not None:
        out.print(f"Picture: {plot}")
