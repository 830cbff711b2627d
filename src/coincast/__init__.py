"""coincast: forecast cryptocurrency prices with LSTM networks, and tell the truth about how
good the forecasts are.

The data layer in a few lines::

    from coincast import Store, fetch, get_source
    with Store("coincast.db") as store:
        fetch(store, get_source("coingecko"), "bitcoin", interval="1d", days=90)
        btc = store.read_candles("bitcoin", "1w")   # resampled from daily
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("coincast")
except PackageNotFoundError:  # running from a source tree
    __version__ = "0.0.0"

from .data.fetch import FetchResult, fetch
from .data.sources import get_source, read_file
from .data.store import SeriesKey, Store
from .errors import CoincastError
from .intervals import INTERVALS
from .series import find_gaps, resample, validate_candles

__all__ = [
    "INTERVALS",
    "CoincastError",
    "FetchResult",
    "SeriesKey",
    "Store",
    "__version__",
    "fetch",
    "find_gaps",
    "get_source",
    "read_file",
    "resample",
    "validate_candles",
]
