"""The store's read errors, worded twice: for Python (the arguments of
:meth:`~coincast.data.store.db.Store.read_candles`, ``coincast.fetch(...)``) as the message,
and for the command line (``--source``, ``coincast fetch``) as the exception's ``cli``
attribute, which the CLI prints instead."""

from __future__ import annotations

from ...coins import close_coins
from ...errors import CoincastError, IntervalError, StoreError, worded
from .keys import SeriesInfo


def nothing_stored(
    coin: str, interval: str | None, source: str | None, quote: str | None, stored: list[SeriesInfo]
) -> CoincastError:
    have = sorted({str(i.key) for i in stored if i.key.coin == coin})
    hint = f"; stored for {coin}: {', '.join(have)}" if have else ""
    if not have:  # a typo of a stored coin (or of a well-known one)?
        filled = {i.key.coin for i in stored if i.rows}
        near = [f"{c} (stored)" if c in filled else c for c in close_coins(coin, filled)]
        hint = f"; did you mean {' or '.join(near)}?" if near else ""
    asked = {"coin": coin, "interval": interval, "source": source, "quote": quote}
    args = ", ".join(f"{k}={v!r}" for k, v in asked.items() if v)
    every = f", interval={interval!r}" if interval else ""
    then = " Or fetch it: " if hint.endswith("?") else ". Fetch it first: "
    python = (
        f"no stored data for {args}{hint}{then}coincast.fetch(store, "
        f"get_source({source or 'coingecko'!r}), {coin!r}{every}), or read what is stored"
    )
    what = " ".join(x for x in (coin, interval, source and f"from {source}", quote) if x)
    cli = f"no stored data for {what}{hint}{then}coincast fetch {coin}" + (
        f" --interval {interval}" if interval else ""
    )
    return worded(StoreError(python), cli)


def too_coarse(coin: str, interval: str, have: list[str]) -> CoincastError:
    head = f"{coin} is stored at {', '.join(have)}, coarser than {interval}; bars cannot be split"
    tail = "(CoinGecko serves 5m at the finest)"
    python = (
        f"{head}. Fetch {interval} data, e.g. coincast.fetch(store, "
        f"get_source('exchange:binance'), {coin!r}, interval={interval!r}) {tail}"
    )
    cli = (
        f"{head}. Fetch {interval} data, e.g. `coincast fetch {coin} --interval {interval} "
        f"--source exchange:binance` {tail}"
    )
    return worded(IntervalError(python), cli)


def several_series(coin: str, pairs: list[tuple[str, str]]) -> CoincastError:
    head = f"{coin} is stored from several sources or quotes; choose one: "
    python = "; or ".join(f"source={s!r}, quote={q!r}" for s, q in pairs)
    cli = ", ".join(f"--source {s} --quote {q}" for s, q in pairs)
    return worded(StoreError(head + python), head + cli)
