"""Reading the local store: which series it holds, which one answers a request (the exact
interval, or a finer one to resample), and the candles themselves. :class:`Reading` is the
half of :class:`~coincast.data.store.db.Store` that only reads; the store inherits it.
"""

from __future__ import annotations

import sqlite3

import numpy as np
import pandas as pd

from ...coins import resolve_offline
from ...errors import NameFormError
from ...intervals import INTERVALS, check_interval, interval_ms
from ...series import COLUMNS, make_frame, resample, to_ms
from .failures import guarded
from .keys import SeriesInfo, SeriesKey, _text, _ts
from .wording import nothing_stored, several_series, too_coarse

_READ_DTYPE = np.dtype([("ts", "i8")] + [(c, "f8") for c in (*COLUMNS, "market_cap")])


class Reading:
    """What a :class:`~coincast.data.store.db.Store` reads, from its connection ``_db``."""

    _db: sqlite3.Connection

    def _series_id(self, key: SeriesKey, create: bool = False) -> int | None:
        db = self._db
        sql = "SELECT id FROM series WHERE source=? AND coin=? AND quote=? AND interval=?"
        row = db.execute(sql, (key.source, key.coin, key.quote, key.interval)).fetchone()
        if row is None and create:
            cur = db.execute(
                "INSERT INTO series (source, coin, quote, interval) VALUES (?, ?, ?, ?)",
                (key.source, key.coin, key.quote, key.interval),
            )
            return int(cur.lastrowid)
        return None if row is None else int(row[0])

    @guarded
    def missing_ranges(self, key: SeriesKey, start: int, end: int) -> list[tuple[int, int]]:
        """The parts of ``[start, end)`` (epoch ms) not yet covered for ``key``."""
        sid = self._series_id(key)
        covered = []
        if sid is not None:
            sql = (
                "SELECT start, end FROM coverage "
                "WHERE series_id=? AND end>? AND start<? ORDER BY start"
            )
            covered = self._db.execute(sql, (sid, start, end)).fetchall()
        gaps, at = [], start
        for s, e in covered:
            if s > at:
                gaps.append((at, s))
            at = max(at, e)
        if at < end:
            gaps.append((at, end))
        return gaps

    @guarded
    def list_series(self) -> list[SeriesInfo]:
        """Every stored series with its row count and span, sorted by coin."""
        sql = (
            "SELECT s.source, s.coin, s.quote, s.interval, COUNT(c.ts), MIN(c.ts), MAX(c.ts) "
            "FROM series s LEFT JOIN candles c ON c.series_id = s.id "
            "GROUP BY s.id ORDER BY s.coin, s.source, s.quote, s.interval"
        )
        out = []
        for *names, n, lo, hi in self._db.execute(sql):
            key = SeriesKey(*(x if isinstance(x, str) else _text(x) for x in names))
            out.append(SeriesInfo(key, int(n), _ts(lo), _ts(hi)))
        # A store written before names were checked may hold any text; it still lists.
        rank = {iv: n for n, iv in enumerate(INTERVALS)}
        return sorted(
            out,
            key=lambda i: (
                i.key.coin, i.key.source, i.key.quote, rank.get(i.key.interval, len(rank)),
                i.key.interval,
            ),
        )  # fmt: skip

    @guarded
    def info(self, key: SeriesKey) -> SeriesInfo | None:
        """Row count and span of one stored series, or ``None`` if it is not stored."""
        sid = self._series_id(key)
        if sid is None:
            return None
        sql = "SELECT COUNT(*), MIN(ts), MAX(ts) FROM candles WHERE series_id=?"
        n, lo, hi = self._db.execute(sql, (sid,)).fetchone()
        return SeriesInfo(key, int(n), _ts(lo), _ts(hi))

    @guarded
    def resolve(
        self,
        coin: str,
        interval: str | None = None,
        source: str | None = None,
        quote: str | None = None,
    ) -> SeriesKey:
        """Pick the stored series to read for ``coin`` at ``interval``.

        The exact interval if stored, else the coarsest stored one finer than it (to be
        resampled). With several sources or quotes and no choice given, the error lists them.
        """
        if interval is not None:
            check_interval(interval)
        held = self._keys_with_rows()  # not list_series: counting every candle is slow
        coin = self._stored_coin(coin, held)
        keys = [k for k in held if k.coin == coin]
        keys = [k for k in keys if source in (None, k.source) and quote in (None, k.quote)]
        if not keys:
            raise nothing_stored(coin, interval, source, quote, self.list_series())
        usable = keys
        if interval is not None:
            usable = [k for k in keys if interval_ms(k.interval) <= interval_ms(interval)]
            if not usable:
                have = sorted({k.interval for k in keys}, key=interval_ms)
                raise too_coarse(coin, interval, have)
        pairs = sorted({(k.source, k.quote) for k in usable})
        if len(pairs) > 1:
            raise several_series(coin, pairs)
        if interval is None:
            # Without an interval, the finest stored series is the one to read.
            return min(usable, key=lambda k: interval_ms(k.interval))
        exact = [k for k in usable if k.interval == interval]
        return exact[0] if exact else max(usable, key=lambda k: interval_ms(k.interval))

    @guarded
    def read_candles(
        self,
        coin: str,
        interval: str | None = None,
        *,
        source: str | None = None,
        quote: str | None = None,
        start: pd.Timestamp | None = None,
        end: pd.Timestamp | None = None,
        min_complete: float = 1.0,
    ) -> pd.DataFrame:
        """Read a stored series as a candle frame, resampled to ``interval`` when needed.

        ``coin`` is an id or a known symbol (``"btc"`` reads ``bitcoin``). ``start`` and
        ``end`` (inclusive) limit the rows returned. A resampled bar is kept when at least
        ``min_complete`` of its stored sub-bars are present (default: all; see
        :func:`coincast.series.resample`).

        Raises
        ------
        StoreError
            When nothing is stored for the coin (and ``source``, ``quote``), or several
            sources or quotes are and neither ``source=`` nor ``quote=`` picks one.

        Examples
        --------
        >>> from coincast.data.sources import synthetic_candles
        >>> from coincast.data.store import Store
        >>> with Store(":memory:") as s:
        ...     _ = s.write_candles(synthetic_candles(10, coin="bitcoin"))
        ...     s.read_candles("BTC", "1d").attrs["coin"]
        'bitcoin'
        """
        key = self.resolve(coin, interval, source, quote)
        frame = self.read_key(key, start=start, end=end)
        if interval and interval != key.interval:
            return resample(frame, interval, min_complete)
        return frame

    @guarded
    def read_key(
        self, key: SeriesKey, *, start: pd.Timestamp | None = None, end: pd.Timestamp | None = None
    ) -> pd.DataFrame:
        """Read exactly the stored series ``key`` (no resampling)."""
        sid = self._series_id(key)
        lo = -(2**62) if start is None else to_ms(start)
        hi = 2**62 if end is None else to_ms(end)
        rows = iter(())
        if sid is not None:
            sql = (
                "SELECT ts, open, high, low, close, volume, market_cap FROM candles "
                "WHERE series_id=? AND ts BETWEEN ? AND ? ORDER BY ts"
            )
            rows = self._db.execute(sql, (sid, lo, hi))
        # Straight from the cursor into typed arrays: no list of a million tuples.
        data = np.fromiter(rows, dtype=_READ_DTYPE)
        cols = {c: data[c] for c in COLUMNS}
        if len(data) and not np.isnan(data["market_cap"]).all():
            cols["market_cap"] = data["market_cap"]
        return make_frame(
            data["ts"],
            cols,
            coin=key.coin,
            quote=key.quote,
            interval=key.interval,
            source=key.source,
        )

    def _keys_with_rows(self) -> list[SeriesKey]:
        """The keys of the series holding at least one candle (an index probe each)."""
        sql = (
            "SELECT s.source, s.coin, s.quote, s.interval FROM series s "
            "WHERE EXISTS (SELECT 1 FROM candles c WHERE c.series_id = s.id) ORDER BY s.id"
        )
        return [
            SeriesKey(*(x if isinstance(x, str) else _text(x) for x in names))
            for names in self._db.execute(sql)
        ]

    def _stored_coin(self, coin: str, held: list[SeriesKey]) -> str:
        """``coin`` as stored: the name itself when a series in ``held`` has it, else its id
        when it is a known symbol (``btc`` -> ``bitcoin``)."""
        if any(k.coin == coin for k in held):
            return coin  # a store written before names were checked may hold any text
        try:
            return resolve_offline(coin)
        except NameFormError:
            return coin
