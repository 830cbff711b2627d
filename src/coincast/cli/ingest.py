"""``coincast fetch`` and ``coincast import``: prices into the store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.progress import Progress, TaskID
from rich.table import Table

from ..data.fetch import FetchResult, fetch
from ..data.sources import Source, get_source, read_file
from ..data.store import Store, key_of
from ..errors import CoincastError
from ..series import parse_time
from .common import err, fail, handles_errors, open_store, out, print_json, progress_bar, span


@handles_errors
def fetch_cmd(
    coins: list[str] = typer.Argument(..., help="Coin ids or symbols: bitcoin ETH sol."),
    source: str = typer.Option(
        "coingecko",
        "--source",
        "-s",
        help="coingecko, exchange:<ccxt id> (e.g. exchange:binance) or synthetic.",
    ),
    quote: str | None = typer.Option(
        None, "--quote", "-q", help="Quote currency (default usd; usdt on exchanges)."
    ),
    interval: str = typer.Option("1d", "--interval", "-i", help="1s 1m 5m 15m 30m 1h 4h 1d 1w."),
    days: float | None = typer.Option(None, "--days", "-d", help="The last N days (default 364)."),
    start: str | None = typer.Option(None, "--start", help="First bar, e.g. 2024-01-01."),
    end: str | None = typer.Option(
        None, "--end", help="Last bar (inclusive; default: the last complete bar)."
    ),
    refresh: bool = typer.Option(
        False, "--refresh", help="Ask again for ranges already stored (their bars are replaced)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Fetch price history into the store; only what is missing is asked for (--refresh: all).

    Example: coincast fetch bitcoin ethereum --interval 1h --days 30
    """
    if end is not None and start is None and days is None:
        raise CoincastError("--end needs --start (or use --days)")
    src = get_source(source)
    t0, t1 = parse_time(start, "--start"), parse_time(end, "--end")
    options = {
        "interval": interval,
        "quote": quote,
        "start": t0,
        "end": t1,
        "days": days,
        "refresh": refresh,
    }
    with open_store() as store, progress_bar("chunks", err) as bar:
        if hasattr(src, "store"):
            src.store = store  # caches CoinGecko's coin list
        results, failures = _fetch_each(store, src, coins, bar, options)
    _fetch_summary(results, as_json)
    if failures:
        fail("; ".join(failures) if len(failures) > 1 else failures[0])


def _fetch_each(
    store: Store, src: Source, coins: list[str], bar: Progress, options: dict[str, Any]
) -> tuple[list[FetchResult], list[str]]:
    """Fetch each coin with ``options`` (a progress line each): the results, and one
    ``coin: error`` line per coin that failed (the others are fetched all the same)."""
    results: list[FetchResult] = []
    failures: list[str] = []
    for coin in coins:
        task = bar.add_task(coin, total=None)

        def progress(done: int, total: int, task: TaskID = task) -> None:
            bar.update(task, completed=done, total=total)

        try:
            r = fetch(store, src, coin, **options, progress=progress)
        except CoincastError as exc:
            failures.append(f"{coin}: {getattr(exc, 'cli', None) or exc}")  # in flags
            bar.remove_task(task)
            continue
        bar.update(task, completed=max(r.chunks, 1), total=max(r.chunks, 1))
        results.append(r)
    return results, failures


def _fetch_summary(results: list[FetchResult], as_json: bool) -> None:
    if as_json:
        print_json(
            [
                {
                    "source": r.key.source,
                    "coin": r.key.coin,
                    "quote": r.key.quote,
                    "interval": r.key.interval,
                    "new_rows": r.new_rows,
                    "rows": r.total_rows,
                    "start": r.start,
                    "end": r.end,
                }
                for r in results
            ]
        )
        return
    if not results:
        return
    table = Table("coin", "interval", "source", "new rows", "total rows", "span")
    for r in results:
        k = r.key
        table.add_row(
            f"{k.coin}/{k.quote}",
            k.interval,
            k.source,
            f"{r.new_rows:,}",
            f"{r.total_rows:,}",
            span(r.start, r.end),
        )
    out.print(table)


@handles_errors
def import_cmd(
    path: Path = typer.Argument(
        ..., help="A .csv or .parquet file (Yahoo, Binance klines or generic)."
    ),
    coin: str = typer.Option(
        ..., "--coin", "-c", help="The coin the file holds, e.g. bitcoin or BTC."
    ),
    quote: str = typer.Option("usd", "--quote", "-q", help="Quote currency of the prices."),
    interval: str | None = typer.Option(
        None, "--interval", "-i", help="Bar interval (inferred if omitted)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Import candles from a CSV or Parquet file into the store (source 'csv').

    Example: coincast import BTC-USD_1d.csv --coin bitcoin
    """
    frame, info = read_file(path, coin=coin, quote=quote, interval=interval)
    with open_store() as store:
        new = store.write_candles(frame)
        total = store.info(key_of(frame))
    a = frame.attrs
    if as_json:
        print_json(
            {
                "file": str(path),
                "layout": info.layout,
                "coin": a["coin"],
                "quote": a["quote"],
                "interval": a["interval"],
                "rows": len(frame),
                "new_rows": new,
                "start": frame.index[0],
                "end": frame.index[-1],
            }
        )
        return
    how = "inferred" if info.inferred else "given"
    out.print(
        f"Imported {len(frame):,} candles ({new:,} new) of "
        f"{a['coin']}/{a['quote']} {a['interval']} "
        f"({how}) from {path} [{info.layout} layout], {span(frame.index[0], frame.index[-1])}; "
        f"{total.rows if total else len(frame):,} stored."
    )
