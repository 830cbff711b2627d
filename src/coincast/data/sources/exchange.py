"""Exchanges through ccxt: ``fetch_ohlcv`` paginated with ``since``, any timeframe offered.

``exchange:binance`` (the default exchange) serves every interval down to ``1s`` and years
of history; ``kraken``, ``coinbase``, ``bitstamp`` and any other ccxt exchange id work the
same way. Network errors are retried with backoff (honouring ``Retry-After``); exchange errors
such as an unknown symbol are not.
"""

from __future__ import annotations

import difflib
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ...coins import TICKERS, resolve_offline
from ...errors import IntervalError, SourceError, UnknownCoinError
from ...intervals import interval_ms
from ...series import make_frame
from .base import split_range
from .http import RetryPolicy

if TYPE_CHECKING:
    import ccxt

log = logging.getLogger(__name__)

DEFAULT_EXCHANGE = "binance"
PAGE_LIMIT = 1000  # candles per request (Binance's maximum; most exchanges allow 500-1000)


def _ccxt():  # -> the ccxt module
    """ccxt, imported on first use: it is large, and most commands never need it."""
    import ccxt

    return ccxt


def make_exchange(exchange_id: str) -> ccxt.Exchange:
    """A ccxt exchange object for ``exchange_id`` with ccxt's own rate limiting on."""
    ccxt = _ccxt()
    cls = getattr(ccxt, exchange_id, None)
    if exchange_id not in ccxt.exchanges or cls is None:
        close = difflib.get_close_matches(exchange_id, ccxt.exchanges, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise SourceError(
            f"unknown exchange {exchange_id!r}{hint} Use a ccxt exchange id such as "
            "binance, kraken, coinbase or bitstamp: --source exchange:binance"
        )
    return cls({"enableRateLimit": True, "timeout": 30_000})


class ExchangeSource:
    """Candles from one exchange.

    Parameters
    ----------
    exchange_id
        A ccxt exchange id (``binance``).
    exchange
        A ready ccxt exchange object (tests point one at a fake server); built from
        ``exchange_id`` when omitted.
    """

    default_quote = "usdt"

    def __init__(
        self,
        exchange_id: str = DEFAULT_EXCHANGE,
        *,
        exchange: ccxt.Exchange | None = None,
        policy: RetryPolicy | None = None,
        page_limit: int = PAGE_LIMIT,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.exchange_id = exchange_id
        self.name = f"exchange:{exchange_id}"
        self.exchange = exchange if exchange is not None else make_exchange(exchange_id)
        # ccxt swallows unparseable JSON; keeping the last parsed answer lets us notice.
        self.exchange.enableLastJsonResponse = True
        self.policy = policy or RetryPolicy()
        self.page_limit = page_limit
        self.sleep = sleep
        self.requests_made = 0

    def resolve_coin(self, coin: str) -> str:
        """CoinGecko-style id for a coin (``BTC`` -> ``bitcoin``); checked against markets
        once the quote is known (:meth:`check_request`)."""
        return resolve_offline(coin)

    def market(self, coin: str, quote: str) -> str:
        """The ccxt market symbol: (``bitcoin``, ``usdt``) -> ``BTC/USDT``."""
        symbol = f"{TICKERS.get(coin, coin.upper())}/{quote.upper()}"
        markets = self._call(self._markets)
        if symbol not in markets:
            base = symbol.split("/")[0]
            same_base = sorted(m for m in markets if m.startswith(base + "/"))[:8]
            close = same_base or difflib.get_close_matches(symbol, list(markets), n=5)
            hint = f"; markets there: {', '.join(close)}" if close else ""
            raise UnknownCoinError(f"{self.exchange_id} has no market {symbol}{hint}")
        return symbol

    def check_request(
        self, coin: str, quote: str, interval: str, start_ms: int, end_ms: int
    ) -> None:
        """Refuse a timeframe the exchange does not offer, or a market it does not list."""
        offered = getattr(self.exchange, "timeframes", None) or {}
        if interval not in offered:
            raise IntervalError(
                f"{self.exchange_id} does not offer {interval} candles; it offers: "
                f"{' '.join(offered)}"
            )
        self.market(coin, quote)

    def chunks(self, interval: str, start_ms: int, end_ms: int) -> list[tuple[int, int]]:
        """One page (``page_limit`` candles) per chunk."""
        return split_range(start_ms, end_ms, self.page_limit * interval_ms(interval))

    def fetch_chunk(
        self, coin: str, quote: str, interval: str, start_ms: int, end_ms: int
    ) -> pd.DataFrame:
        """Candles for bars starting in ``[start_ms, end_ms)``: one ``fetch_ohlcv`` call."""
        symbol = self.market(coin, quote)
        limit = min(self.page_limit, -(-(end_ms - start_ms) // interval_ms(interval)))
        rows = self._call(self._page, symbol, interval, start_ms, limit)
        data = np.array(rows, dtype="float64").reshape(-1, 6) if rows else np.empty((0, 6))
        ts = data[:, 0].astype("int64")
        keep = (ts >= start_ms) & (ts < end_ms)
        data[:, 5] = np.nan_to_num(data[:, 5], nan=0.0)
        cols = dict(zip(("open", "high", "low", "close", "volume"), data[keep, 1:].T, strict=True))
        return make_frame(
            ts[keep], cols, coin=coin, quote=quote, interval=interval, source=self.name
        )

    def _markets(self) -> dict[str, Any]:
        ccxt = _ccxt()
        if self.exchange.markets:
            return self.exchange.markets
        self.exchange.last_json_response = None
        markets = self.exchange.load_markets(reload=True)
        if self.exchange.last_json_response is None or not markets:
            raise ccxt.BadResponse(f"{self.exchange_id} sent an unreadable market list")
        return markets

    def _page(self, symbol: str, interval: str, since: int, limit: int) -> list[list[Any]]:
        ccxt = _ccxt()
        self.requests_made += 1
        self.exchange.last_json_response = None
        rows = self.exchange.fetch_ohlcv(symbol, interval, since=since, limit=limit)
        # ccxt swallows unparseable (e.g. truncated) JSON and returns [] or junk rows.
        if self.exchange.last_json_response is None or not _well_formed(rows):
            raise ccxt.BadResponse(f"{self.exchange_id} sent an unreadable OHLCV answer")
        return rows

    def _call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(*args)`` retrying ccxt's transient failures (network, 429/418, 5xx, bad JSON)."""
        ccxt = _ccxt()
        last: Exception | None = None
        for attempt in range(self.policy.retries + 1):
            try:
                return fn(*args)
            except ccxt.ExchangeError as exc:  # BadSymbol, BadRequest, ...: not transient
                raise SourceError(
                    f"{self.exchange_id} refused the request: {_short(exc)}"
                ) from None
            except ccxt.OperationFailed as exc:  # NetworkError, DDoSProtection, timeouts, 5xx
                last = exc
                if attempt == self.policy.retries:
                    break
                wait = self.policy.delay(attempt, self._retry_after(exc))
                log.info("%s: %s; retrying in %.1f s", self.exchange_id, type(exc).__name__, wait)
                self.sleep(wait)
        raise SourceError(
            f"{self.exchange_id} kept failing ({type(last).__name__}) after "
            f"{self.policy.retries + 1} attempts; try again later"
        )

    def _retry_after(self, exc: Exception) -> float | None:
        ccxt = _ccxt()
        if not isinstance(exc, ccxt.DDoSProtection | ccxt.RateLimitExceeded):
            return None
        headers = getattr(self.exchange, "last_response_headers", None) or {}
        value = headers.get("Retry-After") or headers.get("retry-after")
        try:
            seconds = float(value) if value is not None else None
        except ValueError:
            return None
        if seconds is not None and seconds > self.policy.max_retry_after:
            raise SourceError(
                f"{self.exchange_id} asked to wait {seconds:g} s (Retry-After); try again later"
            )
        return seconds


def _well_formed(rows: Any) -> bool:
    return isinstance(rows, list) and all(
        isinstance(r, list)
        and len(r) >= 6
        and all(isinstance(x, int | float) for x in r[:5])
        and isinstance(r[5], int | float | None)  # some exchanges report no volume
        for r in rows
    )


def _short(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:300]
