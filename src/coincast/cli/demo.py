"""``coincast demo``: the whole pipeline that exists so far, end to end, in one command."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from ..errors import CoincastError
from ..fetch import fetch
from ..models import LSTMForecaster
from ..plots import plot_forecast, plot_prices
from ..runs import save_run
from ..series import find_gaps, resample
from ..sources import CoinGeckoSource, SyntheticSource
from ..store import Store
from ..training import format_epoch
from .common import err, handles_errors, out, span, state
from .data import export_frame

DEMO_COINS = ("bitcoin", "ethereum")


@handles_errors
def demo_cmd(
    out_dir: Path = typer.Option(
        Path("demo-out"), "--out", "-o", help="Folder for the demo's store and files."
    ),
    offline: bool = typer.Option(False, "--offline", help="Use the synthetic source; no network."),
    days: int = typer.Option(
        364, "--days", "-d", min=2, max=364, help="Days of daily history to fetch."
    ),
) -> None:
    """Run the pipeline end to end: fetch BTC and ETH, store, resample, find gaps, export,
    train an LSTM, forecast the next week and draw it.

    Falls back to the synthetic source, with a notice, when CoinGecko cannot be reached.

    Example: coincast demo --out demo-out
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    source = _pick_source(offline)
    store_path = state.store_path or out_dir / "coincast.db"
    frames = []
    with Store(store_path) as store:
        if isinstance(source, CoinGeckoSource):
            source.store = store
        table = Table(
            "coin", "interval", "source", "new rows", "rows", "span", "gaps", "weekly bars"
        )
        for coin in DEMO_COINS:
            r = fetch(store, source, coin, interval="1d", days=days)
            daily = store.read_key(r.key)
            weekly = resample(daily, "1w")
            gaps = find_gaps(daily)
            export_frame(daily, out_dir / f"{coin}_1d.csv")
            frames.append(daily)
            table.add_row(
                coin,
                "1d",
                r.key.source,
                f"{r.new_rows:,}",
                f"{r.total_rows:,}",
                span(r.start, r.end),
                str(len(gaps)),
                str(len(weekly)),
            )
    picture = plot_prices(frames, out_dir / "prices.png", title="coincast demo: daily closes")
    out.print(table)
    _forecast(frames[0], out_dir)
    out.print(f"Store: {store_path}")
    out.print(f"Pictures: {picture}, {out_dir / 'forecast.png'}")
    out.print(f"Run folder: {out_dir / 'runs' / 'bitcoin-1d'}")
    out.print(f"CSV exports: {', '.join(str(out_dir / f'{c}_1d.csv') for c in DEMO_COINS)}")
    out.print("Next (coming): walk-forward backtests of the LSTM against naive baselines.")


def _forecast(frame, out_dir: Path) -> None:
    """Train a small LSTM (quantile head) on the daily series and forecast the next week."""
    out.print(f"Training an LSTM on {len(frame)} daily bars of {frame.attrs['coin']} ...")
    model = LSTMForecaster(horizon=7, head="quantile", lookback=30, epochs=40, log_every=10)
    model.fit(frame, on_epoch=lambda r: r.epoch % 10 == 0 and out.print(format_epoch(r, 40)))
    save_run(model, out_dir / "runs" / "bitcoin-1d")
    forecast = model.predict()
    plot_forecast(frame, forecast, out_dir / "forecast.png")
    rel = model.metrics.get("val_rel_mae")
    if rel is not None:
        out.print(
            f"Validation MAE / naive MAE = {rel:.3f} (below 1 is better than tomorrow = today; "
            "this slice also chose the stopping epoch, so only a backtest can tell)."
        )
    last, close = forecast.iloc[-1], forecast.attrs["last_close"]
    out.print(
        f"Forecast for {forecast.index[-1]:%Y-%m-%d}: {last.yhat:,.2f} "
        f"(90 % band {last.lo:,.2f} .. {last.hi:,.2f}); last close {close:,.2f}"
    )


def _pick_source(offline: bool) -> CoinGeckoSource | SyntheticSource:
    if offline:
        err.print(
            "[bold yellow]Offline demo:[/] using the synthetic source "
            "(generated prices, not market data)."
        )
        return SyntheticSource()
    try:
        source = CoinGeckoSource()
    except CoincastError:
        source = None
    if source is not None and source.ping():
        return source
    err.print(
        "[bold yellow]NOTICE: CoinGecko cannot be reached; the demo uses the SYNTHETIC source "
        "(generated prices, not market data).[/]"
    )
    return SyntheticSource()
