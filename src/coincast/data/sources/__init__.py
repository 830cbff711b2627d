"""Where candles come from: CoinGecko, exchanges via ccxt, files, and a synthetic generator.

Network and generated sources implement :class:`~coincast.data.sources.base.Source`; files are read
with :func:`~coincast.data.sources.files.read_file`. :func:`get_source` builds one from its name.
"""

from __future__ import annotations

from typing import Any

from ...errors import SourceError, worded
from .base import Source
from .coingecko import CoinGeckoSource
from .exchange import DEFAULT_EXCHANGE, ExchangeSource
from .files import read_file
from .synthetic import (
    SyntheticSource,
    predictable_candles,
    random_walk,
    synthetic_candles,
)
from .transport import HttpLimits


def get_source(name: str, **kwargs: Any) -> Source:
    """Build a source from its CLI name: ``coingecko``, ``exchange[:id]`` or ``synthetic``.

    Examples
    --------
    >>> get_source("synthetic").name
    'synthetic'
    """
    kind, _, arg = name.strip().lower().partition(":")
    if kind == "coingecko" and not arg:
        return CoinGeckoSource(**kwargs)
    if kind == "exchange":
        return ExchangeSource(arg or DEFAULT_EXCHANGE, **kwargs)
    if kind == "synthetic" and not arg:
        return SyntheticSource(**kwargs)
    if kind in ("csv", "parquet", "file"):
        head = "files are not fetched; import them: "
        raise worded(
            SourceError(head + "store.write_candles(read_file(path, coin=COIN)[0])"),
            head + "coincast import PATH --coin COIN",
        )
    raise SourceError(
        f"unknown source {name!r}; use coingecko, exchange:binance (or another ccxt exchange id) "
        "or synthetic"
    )


__all__ = [
    "CoinGeckoSource",
    "ExchangeSource",
    "HttpLimits",
    "Source",
    "SyntheticSource",
    "get_source",
    "predictable_candles",
    "random_walk",
    "read_file",
    "synthetic_candles",
]
