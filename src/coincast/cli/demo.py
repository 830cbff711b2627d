"""``coincast demo``: the whole pipeline that exists so far, end to end, in one command."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from ..errors import CoincastError
from ..fetch import fetch
from ..plots import plot_prices
from ..series import find_gaps, resample
from ..sources import CoinGeckoSource, SyntheticSource
from ..store import Store
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
    """Run the pipeline end to end: fetch BTC and ETH, store, resample, find gaps, plot, export.

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
    out.print(f"Store: {store_path}")
    out.print(f"Picture: {picture}")
    out.print(f"CSV exports: {', '.join(str(out_dir / f'{c}_1d.csv') for c in DEMO_COINS)}")
    out.print("Next (coming): train an LSTM on this data and backtest it against naive baselines.")


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
