"""``coincast data list|show|export|gaps``: look at what the store holds."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import typer
from rich.table import Table

from ..data.frames import export_frame, read_frame
from ..series import describe, find_gaps
from .common import handles_errors, open_store, out, print_json, span

data_app = typer.Typer(
    help="Look at stored data: list series, show candles, export them, find gaps.",
    no_args_is_help=True,
)

IntervalOpt = typer.Option(
    None, "--interval", "-i", help="Bar interval; coarser than stored resamples."
)
SourceOpt = typer.Option(
    None, "--source", "-s", help="Stored source (coingecko, exchange:binance, csv, synthetic)."
)
QuoteOpt = typer.Option(None, "--quote", "-q", help="Quote currency (usd, usdt, eur).")
JsonOpt = typer.Option(False, "--json", help="Print JSON instead of a table.")


@data_app.command("list")
@handles_errors
def list_cmd(as_json: bool = JsonOpt) -> None:
    """List every stored series with its row count and span.

    Example: coincast data list --json
    """
    with open_store() as store:
        infos = store.list_series()
    if as_json:
        print_json([i.to_dict() for i in infos])
        return
    if not infos:
        out.print("The store is empty. Fetch something: coincast fetch bitcoin")
        return
    table = Table("source", "coin", "quote", "interval", "rows", "span")
    for i in infos:
        k = i.key
        table.add_row(k.source, k.coin, k.quote, k.interval, f"{i.rows:,}", span(i.start, i.end))
    out.print(table)


@data_app.command("show")
@handles_errors
def show_cmd(
    coin: str = typer.Argument(..., help="Coin id or symbol, e.g. bitcoin or BTC."),
    interval: str | None = IntervalOpt,
    source: str | None = SourceOpt,
    quote: str | None = QuoteOpt,
    tail: int = typer.Option(10, "--tail", "-n", min=1, help="How many of the latest candles."),
    as_json: bool = JsonOpt,
) -> None:
    """Show the latest candles of a coin.

    Example: coincast data show BTC --interval 1w --tail 5
    """
    frame = _read(coin, interval, source, quote).tail(tail)
    if as_json:
        print_json(
            [
                {
                    "ts": ts.isoformat(),
                    **{c: float(row[c]) for c in ("open", "high", "low", "close", "volume")},
                }
                for ts, row in frame.iterrows()
            ]
        )
        return
    a = frame.attrs
    table = Table(
        "ts",
        "open",
        "high",
        "low",
        "close",
        "volume",
        title=f"{a['coin']}/{a['quote']} {a['interval']} ({a['source']})",
    )
    for ts, row in frame.iterrows():
        table.add_row(
            str(ts),
            *(f"{row[c]:,.6g}" for c in ("open", "high", "low", "close")),
            f"{row['volume']:,.0f}",
        )
    out.print(table)


@data_app.command("export")
@handles_errors
def export_cmd(
    coin: str = typer.Argument(..., help="Coin id or symbol."),
    out_path: Path = typer.Option(..., "--out", "-o", help="Target file: .csv or .parquet."),
    interval: str | None = IntervalOpt,
    source: str | None = SourceOpt,
    quote: str | None = QuoteOpt,
) -> None:
    """Export a stored series to CSV or Parquet (readable again by `coincast import`).

    Example: coincast data export bitcoin --interval 1d --out btc.parquet
    """
    frame = _read(coin, interval, source, quote)
    export_frame(frame, out_path)
    out.print(f"Wrote {len(frame):,} candles of {describe(frame)} to {out_path}")


@data_app.command("gaps")
@handles_errors
def gaps_cmd(
    coin: str = typer.Argument(..., help="Coin id or symbol."),
    interval: str | None = IntervalOpt,
    source: str | None = SourceOpt,
    quote: str | None = QuoteOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Find missing bars in a stored series (reported, never filled).

    Example: coincast data gaps bitcoin --interval 1m
    """
    frame = _read(coin, interval, source, quote)
    gaps = find_gaps(frame)
    if as_json:
        print_json(
            [
                {"start": r.start.isoformat(), "end": r.end.isoformat(), "missing": int(r.missing)}
                for r in gaps.itertuples()
            ]
        )
        return
    a = frame.attrs
    missing = int(gaps["missing"].sum())
    name = f"{a['coin']}/{a['quote']} {a['interval']} ({a['source']})"
    if gaps.empty:
        out.print(
            f"{name}: no gaps in {len(frame):,} bars "
            f"({span(frame.index[0], frame.index[-1]) if len(frame) else '-'})"
        )
        return
    table = Table("first missing", "last missing", "bars", title=name)
    for r in gaps.itertuples():
        table.add_row(str(r.start), str(r.end), f"{r.missing:,}")
    out.print(table)
    out.print(f"{len(gaps):,} gaps, {missing:,} missing bars; {len(frame):,} bars present")


def _read(coin: str, interval: str | None, source: str | None, quote: str | None) -> pd.DataFrame:
    with open_store() as store:
        return read_frame(store, coin, interval, source, quote)
