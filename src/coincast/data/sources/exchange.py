"""Exchanges through ccxt: ``fetch_ohlcv`` paginated with ``since``, any timeframe offered.

``exchange:binance`` (the default exchange) serves every interval down to ``1s`` and years
of history; ``kraken``, ``coinbase``, ``bitstamp`` and any other ccxt exchange id work the
same way. Network errors are retried with backoff (honouring ``Retry-After``); an exchange
that cannot be reached at all gets two quick retries; exchange errors such as an unknown
symbol are not retried, nor is an answer of the wrong shape, past the deadline or the size
cap (ccxt's session gets the same :class:`~.transport.GuardedAdapter` as CoinGecko's). A page
is stored only when every row is a candle with finite prices > 0 and a volume >= 0 (or
none). No API key is configured or sent: only public market data is read.
"""

from __future__ import annotations

import difflib
import json
import logging
import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import numpy as np
import pandas as pd

from ...coins import TICKERS, resolve_offline
from ...errors import IntervalError, SourceError, UnknownCoinError, worded
from ...intervals import interval_ms
from ...series import make_frame
from .base import split_range
from .http import (
    UNREACHABLE_RETRIES,
    UNREACHABLE_WAIT,
    RetryPolicy,
    is_json_type,
    retry_after,
    unreachable,
)
from .transport import (
    GuardError,
    HttpLimits,
    failed_host,
    guard_session,
    in_chain,
    server_text,
    unreachable_cause,
)

if TYPE_CHECKING:
    import ccxt

log = logging.getLogger(__name__)

DEFAULT_EXCHANGE = "binance"
PAGE_LIMIT = 1000  # candles per request (Binance's maximum; most exchanges allow 500-1000)
#: What ccxt's parsers raise on JSON of the wrong shape (a dict for a list, deep nesting ...).
UNREADABLE = (KeyError, IndexError, TypeError, ValueError, AttributeError, RecursionError)


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
        head = (
            f"unknown exchange {exchange_id!r}{hint} Use a ccxt exchange id such as "
            "binance, kraken, coinbase or bitstamp: "
        )
        raise worded(
            SourceError(head + "get_source('exchange:binance')"), head + "--source exchange:binance"
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
    limits
        Deadline and size cap of each request (default: from ``COINCAST_HTTP_DEADLINE`` and
        ``COINCAST_HTTP_MAX_BYTES``, else 60 s and 64 MiB).
    """

    default_quote = "usdt"

    def __init__(
        self,
        exchange_id: str = DEFAULT_EXCHANGE,
        *,
        exchange: ccxt.Exchange | None = None,
        policy: RetryPolicy | None = None,
        page_limit: int = PAGE_LIMIT,
        limits: HttpLimits | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.exchange_id = exchange_id
        self.name = f"exchange:{exchange_id}"
        self.limits = limits or HttpLimits.resolve()
        self.exchange = exchange if exchange is not None else make_exchange(exchange_id)
        if getattr(self.exchange, "session", None) is not None:
            guard_session(self.exchange.session, self.limits)
        # ccxt swallows unparseable JSON; keeping the last parsed answer lets us notice.
        self.exchange.enableLastJsonResponse = True
        self.exchange.enableLastHttpResponse = True  # what it was, when it is not JSON
        self.exchange.enableLastResponseHeaders = True  # its type, and Retry-After
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
        if self.exchange.markets:
            return self.exchange.markets
        self.exchange.last_json_response = None
        markets = self.exchange.load_markets(reload=True)
        if self.exchange.last_json_response is None or not markets:
            raise self._unreadable("market list")
        return markets

    def _page(self, symbol: str, interval: str, since: int, limit: int) -> list[list[Any]]:
        self.requests_made += 1
        self.exchange.last_json_response = None
        rows = self.exchange.fetch_ohlcv(symbol, interval, since=since, limit=limit)
        # ccxt swallows unparseable (e.g. truncated) JSON and returns [] or junk rows.
        if self.exchange.last_json_response is None:
            raise self._unreadable("OHLCV")
        problems = _row_problems(rows) or _lost_rows(self.exchange.last_json_response, rows)
        if problems:
            raise SourceError(
                f"{self.exchange_id}'s OHLCV answer for {symbol} {interval} from "
                f"{pd.Timestamp(since, unit='ms', tz='UTC'):%Y-%m-%d %H:%M} UTC is not wholly "
                f"valid: {problems}; nothing was stored for this range, and the next fetch "
                "asks for it again"
            )
        return rows

    def _unreadable(self, what: str) -> Exception:
        """Why ccxt could not parse the last answer: ccxt.BadResponse (retried) when it looks
        truncated; a SourceError (final) when it is not JSON, or JSON nested too deeply."""
        headers = getattr(self.exchange, "last_response_headers", None) or {}
        ctype = str(headers.get("Content-Type", ""))
        text = getattr(self.exchange, "last_http_response", None)
        text = text if isinstance(text, str) else ""
        if ctype and not is_json_type(ctype):
            return SourceError(
                f"{self.exchange_id} answered the {what} request with "
                f"{server_text(ctype, limit=60)}, not JSON: '{server_text(text[:1000], limit=100)}'"
                "; nothing was stored from it"
            )
        try:
            json.loads(text)
        except RecursionError:
            return SourceError(
                f"{self.exchange_id}'s {what} answer is JSON nested too deeply to read; nothing "
                "was stored from it"
            )
        except ValueError:  # truncated: worth another try
            return _ccxt().BadResponse(f"{self.exchange_id} sent an unreadable {what} answer")
        return SourceError(
            f"{self.exchange_id}'s {what} answer has an unexpected shape (JSON that is neither "
            "an object nor a list); nothing was stored from it"
        )

    def _call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(*args)`` retrying ccxt's transient failures (network, 429/418, 5xx, bad JSON):
        with backoff, or two quick retries when the exchange cannot be reached at all."""
        ccxt = _ccxt()
        quick, cause = 0, None
        for attempt in range(self.policy.retries + 1):
            try:
                return fn(*args)
            except ccxt.BaseError as exc:
                self._raise_unless_transient(exc)
                last = exc
            except UNREADABLE as exc:
                raise SourceError(
                    f"{self.exchange_id} sent an answer coincast cannot read "
                    f"({type(exc).__name__}: it is not shaped as ccxt expects); nothing was "
                    "stored from it"
                ) from None
            cause = unreachable_cause(last)
            quick += cause is not None
            if attempt == self.policy.retries or quick > UNREACHABLE_RETRIES:
                break
            wait = (
                UNREACHABLE_WAIT * 2 ** (quick - 1)
                if cause
                else self.policy.delay(attempt, self._retry_after(last))
            )
            log.info("%s: %s; retrying in %.1f s", self.exchange_id, type(last).__name__, wait)
            self.sleep(wait)
        if cause is not None:
            host = failed_host(last) or self.exchange_id
            raise unreachable(host, cause)
        raise SourceError(
            f"{self.exchange_id} kept failing ({type(last).__name__}) after {attempt + 1} "
            "attempts; try again later"
        )

    def _raise_unless_transient(self, exc: Exception) -> None:
        """A SourceError for a failure retrying cannot mend: a guard (deadline, size cap)
        stopped the answer, or the exchange refused (BadSymbol, BadRequest ...)."""
        ccxt = _ccxt()
        guard = in_chain(exc, GuardError)
        if guard is not None:
            url = getattr(guard.request, "url", None) or ""
            raise SourceError(guard.explain(self.exchange_id, urlsplit(url).path or "a request"))
        if not isinstance(exc, ccxt.OperationFailed):
            raise SourceError(f"{self.exchange_id} refused the request: {_short(exc)}") from None

    def _retry_after(self, exc: Exception) -> float | None:
        ccxt = _ccxt()
        if not isinstance(exc, ccxt.DDoSProtection | ccxt.RateLimitExceeded):
            return None
        headers = getattr(self.exchange, "last_response_headers", None) or {}
        value = headers.get("Retry-After") or headers.get("retry-after")
        return retry_after(value, self.policy.max_retry_after, self.exchange_id)


def _row_problems(rows: Any) -> str:
    """What is wrong with ccxt's OHLCV rows, or ``""``: each must be ``[ts, o, h, l, c, v]``
    with finite prices > 0 and a volume that is finite and >= 0, or None (some exchanges
    report none)."""
    if not isinstance(rows, list):
        return f"it is a {type(rows).__name__}, not a list of candles"
    shape = price = volume = 0
    for r in rows:
        if not isinstance(r, list) or len(r) < 6 or not (_is_number(r[0]) and abs(r[0]) < 2**53):
            shape += 1
        elif not all(_is_number(x) and math.isfinite(x) and x > 0 for x in r[1:5]):
            price += 1
        elif r[5] is not None and not (_is_number(r[5]) and math.isfinite(r[5]) and r[5] >= 0):
            volume += 1
    counts = (
        (shape, "are not [time, open, high, low, close, volume] rows"),
        (price, "have a price that is missing, not finite or not > 0"),
        (volume, "have a volume that is not finite or negative"),
    )
    return "; ".join(f"{n} of {len(rows)} rows {what}" for n, what in counts if n)


def _lost_rows(raw: Any, rows: list[list[Any]]) -> str:
    """What ccxt dropped without a word: rows of a list answer it could not read (or that
    lie before the requested start), or an answer holding no list at all."""
    if isinstance(raw, list):
        lost = len(raw) - len(rows)
        return f"{lost} of {len(raw)} rows are not candles at or after the requested start" * (
            lost > 0
        )
    inner = raw.values() if isinstance(raw, dict) else ()
    holds = any(isinstance(v, list) or (isinstance(v, dict) and v) for v in inner)
    return "" if holds or rows else f"it is a {type(raw).__name__} holding no list of candles"


def _is_number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


def _short(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return server_text(text, limit=300)
