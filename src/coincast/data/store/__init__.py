"""The local store: one SQLite file (WAL) holding candles from every source (see :mod:`.db`)."""

from __future__ import annotations

from .db import Store
from .keys import SeriesInfo, SeriesKey, key_of

__all__ = ["SeriesInfo", "SeriesKey", "Store", "key_of"]
