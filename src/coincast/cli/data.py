"""``coincast data list|show|export|gaps|delete``: look at what the store holds, and
remove a series."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import typer
from rich.table import Table

from ..data.frames import GapReport, export_frame, find_series, gap_report, read_frame
from ..series import describe
from .common import fail, handles_errors, open_store, out, print_json, span

data_app = typer.Typer(
    help="Look at stored data: list series, show candles, export them, find gaps, delete one."
    "\n\nExample: coincast data show bitcoin --tail 5",
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
MinCompleteOpt = typer.Option(
    1.0,
    "--min-complete",
    min=0.0,
    max=1.0,
    help="When resampling, keep a bar with at least this share of its stored sub-bars "
    "(1: whole bars only; 0.9 allows 10 % missing).",
)
#: How many of the least complete bars `data gaps` lists.
WORST = 5
#: How many of the largest gaps `data gaps` lists without --all.
LARGEST = 10


@data_app.command("list")
@handles_errors
def list_cmd(as_json: bool = JsonOpt) -> None:
    """List every stored series with its row count and span.

    Example: coincast data list --json
    """
    with open_store(readonly=True) as store:
        infos, exists = store.list_series(), store.exists
    if as_json:
        print_json([i.to_dict() for i in infos])
        return
    if not infos:
        what = "The store is empty" if exists else f"There is no store at {store.path} yet"
        out.print(
            f"{what}. Fill it: coincast fetch bitcoin, or coincast import FILE --coin bitcoin"
        )
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
    min_complete: float = MinCompleteOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Show the latest candles of a coin.

    Example: coincast data show BTC --interval 1w --tail 5
    """
    frame = _read(coin, interval, source, quote, min_complete).tail(tail)
    # A bar resampled from short data (--min-complete below 1) says how short it is.
    short = "complete" in frame.columns
    columns = ["open", "high", "low", "close", "volume", *(["complete"] if short else [])]
    if as_json:
        print_json(
            [
                {
                    "ts": ts.isoformat(),
                    **{c: float(row[c]) for c in columns},
                }
                for ts, row in frame.iterrows()
            ]
        )
        return
    a = frame.attrs
    table = Table("ts", *columns, title=f"{a['coin']}/{a['quote']} {a['interval']} ({a['source']})")
    for ts, row in frame.iterrows():
        table.add_row(
            str(ts),
            *(f"{row[c]:,.6g}" for c in ("open", "high", "low", "close")),
            f"{row['volume']:,.0f}",
            *([f"{row['complete']:.1%}"] if short else []),
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
    min_complete: float = MinCompleteOpt,
) -> None:
    """Export a stored series to CSV or Parquet (readable again by `coincast import`).

    Example: coincast data export bitcoin --interval 1d --out btc.parquet
    """
    frame = _read(coin, interval, source, quote, min_complete)
    export_frame(frame, out_path)
    out.print(f"Wrote {len(frame):,} candles of {describe(frame)} to {out_path}")


@data_app.command("gaps")
@handles_errors
def gaps_cmd(
    coin: str = typer.Argument(..., help="Coin id or symbol."),
    interval: str | None = IntervalOpt,
    source: str | None = SourceOpt,
    quote: str | None = QuoteOpt,
    min_complete: float = MinCompleteOpt,
    every: bool = typer.Option(
        False, "--all", help=f"List every gap (default: the {LARGEST} largest)."
    ),
    as_json: bool = JsonOpt,
) -> None:
    """Find missing bars in a stored series (reported, never filled) and, when resampling,
    the bars made from incomplete data.

    Prints the count of gaps, the bars missing and the largest gaps (--all: every one, in
    time order; --json: everything).

    Example: coincast data gaps bitcoin --interval 1h --min-complete 0.9
    """
    with open_store(readonly=True) as store:
        report = gap_report(store, coin, interval, source, quote, min_complete)
    if as_json:
        print_json(_gaps_json(report))
        return
    frame, gaps = report.frame, report.gaps
    name = describe(frame)
    if frame.empty:
        out.print(f"{name}: no bars")
    elif gaps.empty:
        out.print(
            f"{name}: no gaps in {len(frame):,} bars ({span(frame.index[0], frame.index[-1])})"
        )
    else:
        _print_gaps(name, gaps, every)
        missing = int(gaps["missing"].sum())
        out.print(f"{len(gaps):,} gaps, {missing:,} missing bars; {len(frame):,} bars present")
    if report.stored != frame.attrs["interval"]:
        _print_incomplete(report)


@data_app.command("delete")
@handles_errors
def delete_cmd(
    coin: str = typer.Argument(..., help="Coin id or symbol."),
    interval: str | None = typer.Option(
        None, "--interval", "-i", help="The stored interval, when the coin has several."
    ),
    source: str | None = SourceOpt,
    quote: str | None = QuoteOpt,
    yes: bool = typer.Option(False, "--yes", "-y", help="Delete without asking."),
) -> None:
    """Delete one stored series: its candles and the record of what was fetched.

    Asks first (--yes: does not). A coin stored at several intervals, sources or quotes needs
    --interval, --source or --quote to say which; nothing is deleted until one is named.

    Example: coincast data delete bitcoin --source csv --interval 1d --yes
    """
    with open_store(readonly=True) as store:
        info = find_series(store, coin, interval, source, quote)
    what = f"{info.key}: {info.rows:,} candles ({span(info.start, info.end)})"
    if not yes and not typer.confirm(f"Delete {what}?", default=False, err=True):
        fail(f"nothing deleted; {info.key} is kept (--yes deletes without asking)")
    with open_store() as store:
        gone = store.delete_series(info.key)
    out.print(f"Deleted {info.key}: {gone:,} candles")


def _print_gaps(name: str, gaps: pd.DataFrame, every: bool) -> None:
    """The gaps in time order (``every``), else the :data:`LARGEST` largest, largest first."""
    shown = gaps
    if not every and len(gaps) > LARGEST:
        shown = gaps.sort_values("missing", ascending=False, kind="stable").head(LARGEST)
    table = Table("first missing", "last missing", "bars", title=name)
    for r in shown.itertuples():
        table.add_row(str(r.start), str(r.end), f"{r.missing:,}")
    out.print(table)
    if len(shown) < len(gaps):
        out.print(f"The {LARGEST} largest of {len(gaps):,} gaps; --all lists every one.")


def _print_incomplete(report: GapReport) -> None:
    """The bars resampled from incomplete stored data: how many, the rule, the worst."""
    short, stored, iv = report.incomplete, report.stored, report.frame.attrs["interval"]
    rule = f"a bar is kept with at least {report.min_complete:.0%} of its {stored} bars"
    if short.empty:
        out.print(f"Every {iv} bar is made from whole {stored} data ({rule}).")
        return
    kept = int(short["kept"].sum())
    out.print(
        f"{len(short):,} {iv} bars are made from incomplete {stored} data: "
        f"{len(short) - kept:,} dropped, {kept:,} kept ({rule}; --min-complete)"
    )
    table = Table("bar", f"{stored} bars", "complete", "kept", title="least complete")
    for ts, r in short.head(WORST).iterrows():
        table.add_row(
            str(ts), f"{r['rows']:,}/{r['expected']:,}", f"{r['complete']:.1%}",
            "yes" if r["kept"] else "no",
        )  # fmt: skip
    out.print(table)


def _gaps_json(report: GapReport) -> dict:
    return {
        "gaps": [
            {"start": r.start.isoformat(), "end": r.end.isoformat(), "missing": int(r.missing)}
            for r in report.gaps.itertuples()
        ],
        "stored_interval": report.stored,
        "min_complete": report.min_complete,
        "incomplete": [
            {
                "ts": ts.isoformat(),
                "rows": int(r["rows"]),
                "expected": int(r["expected"]),
                "complete": float(r["complete"]),
                "kept": bool(r["kept"]),
            }
            for ts, r in report.incomplete.iterrows()
        ],
    }


def _read(
    coin: str, interval: str | None, source: str | None, quote: str | None, min_complete: float
) -> pd.DataFrame:
    with open_store(readonly=True) as store:
        return read_frame(store, coin, interval, source, quote, min_complete)
