"""``coincast update``, ``watch`` and ``track``: the live forecast record."""

from __future__ import annotations

import re
import signal
import threading
from pathlib import Path

import typer
from rich.table import Table

from ..data.sources import get_source
from ..data.store.ledger import Ledger
from ..errors import CoincastError
from ..evaluation.live import CoinUpdate, UpdateSpec, track, update, watch
from ..evaluation.live.track import fmt_figure, fmt_share
from ..models.folders import run_folder
from .common import coin_ids, err, fail, handles_errors, open_store, out, print_json

_COINS = typer.Argument(..., help="Coin ids or symbols to forecast.")
_INTERVAL = typer.Option("1h", "--interval", "-i", help="Bar interval.")
_RUN = typer.Option(
    None, "--run", help="Run folder (or name under runs/).", show_default="runs/live-COIN-INTERVAL"
)
_MODEL = typer.Option(
    None, "--model", help="LSTM settings file (.toml/.yaml): train the run from it when missing."
)
_REFIT = typer.Option(None, "--refit-every", min=1, help="Refit (warm start) every N new bars.")
_SOURCE = typer.Option("coingecko", "--source", help="coingecko, exchange[:id] or synthetic.")
_QUOTE = typer.Option(None, "--quote", help="Quote currency (the source's default).")
_DAYS = typer.Option(None, "--days", help="History the first fetch asks for.", show_default="364")


def _spec(
    coins: list[str], interval: str, run: Path | None, model: Path | None,
    refit_every: int | None, quote: str | None, days: float | None,
) -> UpdateSpec:  # fmt: skip
    names = coin_ids(coins)
    folder = run_folder(run) if run else run_folder(Path(f"live-{'-'.join(names)}-{interval}"))
    return UpdateSpec(names, interval, folder, model, refit_every, quote, days)


@handles_errors
def update_cmd(
    coins: list[str] = _COINS,
    interval: str = _INTERVAL,
    run: Path | None = _RUN,
    model: Path | None = _MODEL,
    refit_every: int | None = _REFIT,
    source: str = _SOURCE,
    quote: str | None = _QUOTE,
    days: float | None = _DAYS,
    as_json: bool = typer.Option(False, "--json", help="Print what was done as JSON."),
) -> None:
    """One live step for cron: fetch new bars, refit when due, forecast, record, score.

    Exit code 1 when any coin failed (the others are still done).

    Example: coincast update bitcoin --interval 1h --model lstm.toml --refit-every 24
    """
    spec = _spec(coins, interval, run, model, refit_every, quote, days)
    with open_store() as store:
        results = update(store, get_source(source), spec)
    _print(results, as_json)
    if any(r.error for r in results):
        raise typer.Exit(1)


def _print(results: list[CoinUpdate], as_json: bool) -> None:
    if as_json:
        print_json([r.to_dict() for r in results])
        return
    table = Table("coin", "new bars", "refit", "forecast from", "issued", "scored", "status")
    for r in results:
        last = r.last_ts.strftime("%Y-%m-%d %H:%M") if r.last_ts is not None else "-"
        table.add_row(r.coin, str(r.new_bars), "yes" if r.refit else "no", last, str(r.issued),
                      str(r.scored), "ok" if r.error is None else "failed")  # fmt: skip
    out.print(table)
    for r in results:
        if r.error:
            err.print(f"Error: {r.coin}: {r.error}", markup=False)


def parse_every(text: str) -> float:
    """``"1h"`` -> 3600.0; ``s``, ``m``, ``h`` or ``d`` after a whole number."""
    m = re.fullmatch(r"\s*(\d+)\s*([smhd])\s*", text)
    if not m or int(m[1]) == 0:
        raise CoincastError(f"--every {text!r} is not a period; give e.g. 30m, 1h or 1d")
    return int(m[1]) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[m[2]]


@handles_errors
def watch_cmd(
    coins: list[str] = _COINS,
    interval: str = _INTERVAL,
    every: str = typer.Option("1h", "--every", help="Period between updates: 30m, 1h, 1d."),
    run: Path | None = _RUN,
    model: Path | None = _MODEL,
    refit_every: int | None = _REFIT,
    source: str = _SOURCE,
    quote: str | None = _QUOTE,
    days: float | None = _DAYS,
) -> None:
    """Run `coincast update` on a schedule in the foreground; Ctrl-C or SIGTERM stops it.

    A step in progress finishes before it stops (a second Ctrl-C stops at once; every write
    is one transaction, so nothing is half-written either way).

    Example: coincast watch bitcoin ethereum --interval 1h --every 1h --run btc-1h
    """
    period = parse_every(every)
    spec = _spec(coins, interval, run, model, refit_every, quote, days)
    src = get_source(source)
    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        err.print("Stopping after the current step...", markup=False)

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, on_signal)

    def step() -> list[CoinUpdate]:
        with open_store() as store:
            return update(store, src, spec)

    def on_step(results: list[CoinUpdate]) -> None:
        _print(results, False)
        if not stop.is_set():
            out.print(f"Next update in {every}.")

    try:
        runs = watch(step, period, stop, on_step, on_error=lambda e: err.print(
            f"Error: {getattr(e, 'cli', None) or e}", markup=False))  # fmt: skip
    except KeyboardInterrupt:
        runs = -1
    out.print(
        "Stopped; the ledger and the store hold every completed step." if runs else "Stopped."
    )


@handles_errors
def track_cmd(
    what: str | None = typer.Argument(
        None, help="A coin (id or symbol) to show alone, or 'verify' to check the hash chain."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """The live track record, from the ledger only: MAE against naive on the same bars,
    interval coverage, Diebold-Mariano p-value, direction, forecasts scored and pending.

    `coincast track verify` checks the whole hash chain and names the first broken row.

    Example: coincast track bitcoin --json
    """
    with open_store(readonly=True) as store:
        if what == "verify":
            _verify(Ledger(store), as_json)
            return
        rows = track(store, coin_ids([what])[0] if what else None)
    if as_json:
        print_json([r.to_dict() for r in rows])
        return
    if not rows:
        out.print("No live forecasts recorded yet; run `coincast update COIN --model lstm.toml`.")
        return
    table = Table("coin", "interval", "run", "scored", "pending", "MAE", "naive MAE",
                  "MAE / naive", "coverage", "DM p", "direction")  # fmt: skip
    for r in rows:
        table.add_row(r.coin, r.interval, r.run, str(r.scored), str(r.pending),
                      fmt_figure(r.mae), fmt_figure(r.naive_mae), fmt_figure(r.rel_mae),
                      fmt_share(r.coverage), fmt_figure(r.dm_p),
                      fmt_share(r.directional))  # fmt: skip
    out.print(table)


def _verify(ledger: Ledger, as_json: bool) -> None:
    v = ledger.verify()
    if as_json:
        print_json(v.__dict__)
    if not v.ok:
        fail(f"the ledger's hash chain is broken at {v.broken}")
    if not as_json:
        out.print(f"Ledger verified: {v.forecasts} forecasts, {v.outcomes} outcomes; "
                  f"head {v.head}")  # fmt: skip
