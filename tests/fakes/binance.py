"""A fake Binance spot REST API on 127.0.0.1, for driving the real ccxt ``binance`` client.

``FakeBinance`` serves ``/api/v3/exchangeInfo``, ``/api/v3/klines``, ``/api/v3/time`` and
``/api/v3/ping`` over real HTTP; every other path is a 404, so any stray ccxt call is visible.
BTCUSDT 1d/1w klines are the real ones in ``shared/data/binance``; every other (symbol, interval)
is synthesised on demand from :func:`synthetic_price`, so any range can be served. Klines before
a symbol's listing, inside a ``gaps`` range, or opening after the fake ``now_ms`` do not exist;
the kline containing ``now_ms`` is served as the forming one, as Binance does.

``make_exchange(fake.url)`` gives a real ``ccxt.binance`` whose API URLs all point at the fake and
whose ``load_markets()`` only fetches ``/api/v3/exchangeInfo``. Faults are queued with
:meth:`FakeBinance.fail`; what ccxt 4.5 raises from ``fetch_ohlcv`` for each kind:

- ``"429"`` / ``"418"``: ``DDoSProtection`` (binance's ``handle_errors`` maps both status codes to
  it, so never ``RateLimitExceeded``); ``Retry-After`` is in ``exchange.last_response_headers``.
- ``"500"`` (Binance JSON body, code -1001): ``OperationFailed`` -- NOT a ``NetworkError``.
- ``"502"`` (HTML body from a proxy): ``ExchangeNotAvailable``.
- ``"timeout"`` (reply delayed by ``timeout_delay`` s): ``RequestTimeout``.
- ``"truncated"`` (200, first half of the JSON, matching Content-Length): NO exception. ccxt
  returns the raw text, and ``fetch_ohlcv`` parses it char by char: ``[]`` when ``since`` is
  given, else rows like ``[9, None, None, None, None, None]``; ``load_markets`` gets 0 markets.
  Only ``exchange.last_json_response is None`` gives it away.
- ``"400"`` (code -1121 "Invalid symbol."): ``BadSymbol`` (an ``ExchangeError``).

:meth:`FakeBinance.answer` queues any hostile :class:`~fakes.hostile.Reply` instead.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, urlsplit

import ccxt
import numpy as np
import pandas as pd

from .hostile import Reply, send_reply

DATA_DIR = Path(__file__).resolve().parents[3] / "shared" / "data" / "binance"
REAL_FILES = {("BTCUSDT", "1d"): "BTCUSDT_1d.csv", ("BTCUSDT", "1w"): "BTCUSDT_1wk.csv"}
DAY_MS = 86_400_000
INTERVAL_MS = {"1s": 1_000, "1m": 60_000, "3m": 180_000, "5m": 300_000, "15m": 900_000,
               "30m": 1_800_000, "1h": 3_600_000, "2h": 7_200_000, "4h": 14_400_000,
               "6h": 21_600_000, "8h": 28_800_000, "12h": 43_200_000, "1d": DAY_MS,
               "3d": 3 * DAY_MS, "1w": 7 * DAY_MS}  # fmt: skip
WEEK_OFFSET_MS = 4 * DAY_MS  # 1970-01-01 was a Thursday; Binance weeks open on Monday
#: symbol -> (base asset, quote asset, synthetic price level)
SYMBOLS: dict[str, tuple[str, str, float]] = {
    "BTCUSDT": ("BTC", "USDT", 30_000.0),
    "ETHUSDT": ("ETH", "USDT", 2_000.0),
    "BTCEUR": ("BTC", "EUR", 28_000.0),
    "SOLUSDT": ("SOL", "USDT", 100.0),
}
DEFAULT_LISTING_MS = {"BTCUSDT": 1_502_928_000_000, "ETHUSDT": 1_502_928_000_000,
                      "BTCEUR": 1_578_009_600_000, "SOLUSDT": 1_597_104_000_000}  # fmt: skip
DEFAULT_NOW_MS = 1_740_009_600_000  # 2025-02-20T00:00:00Z
RATE_LIMIT = {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000}  # fmt: skip  # noqa: E501
FAULT_KINDS = ("429", "418", "500", "502", "timeout", "truncated", "400")
INVALID_SYMBOL = {"code": -1121, "msg": "Invalid symbol."}


def _json(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


class RequestRecord(NamedTuple):
    path: str
    query: dict[str, str]
    t: float  # time.monotonic() on arrival
    fault: str | None


@dataclass
class _Fault:
    kind: str
    times: int
    path_contains: str
    retry_after: int
    reply: Reply | None = None


def synthetic_price(symbol: str, t_ms: Any) -> Any:
    """Deterministic price at ``t_ms`` (scalar or array): BTCUSDT is
    ``30000 + 1000 sin(t/3.6e6) + 40 sin(t/7.3e4) + 3 sin(t/1.1e3)``; others are scaled."""
    t = np.asarray(t_ms, dtype=np.float64)
    raw = 1000 * np.sin(t / 3.6e6) + 40 * np.sin(t / 7.3e4) + 3 * np.sin(t / 1.1e3)
    return SYMBOLS[symbol][2] * (1 + raw / 30_000)


@cache
def _real_klines(file: str) -> pd.DataFrame:
    df = pd.read_csv(DATA_DIR / file)
    for col, src in (("open_ms", "datetime"), ("close_ms", "close_time")):
        df[col] = pd.to_datetime(df[src], utc=True).dt.as_unit("ms").astype("int64")
    return df.set_index("open_ms", drop=False)


def _allowed(lo: int, hi: int, gaps: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Inclusive open-time segments of [lo, hi] outside every [start, end) gap."""
    segs = [(lo, hi)] if lo <= hi else []
    for g0, g1 in gaps:
        segs = [s for a, b in segs for s in ((a, min(b, g0 - 1)), (max(a, g1), b)) if s[0] <= s[1]]
    return segs


def _fmt(x: Any) -> str:
    return f"{float(x):.8f}"


class FakeBinance:
    """Fake Binance spot API; use as a context manager, then point ``make_exchange`` at ``.url``."""

    def __init__(
        self,
        *,
        now_ms: int = DEFAULT_NOW_MS,
        gaps: list[tuple[int, int]] | None = None,
        listing_ms: dict[str, int] | None = None,
        timeout_delay: float = 2.0,
    ) -> None:
        self.now_ms = now_ms
        self.gaps = sorted(gaps or [])
        self.listing_ms = {**DEFAULT_LISTING_MS, **(listing_ms or {})}
        self.timeout_delay = timeout_delay
        self.requests: list[RequestRecord] = []
        self._faults: list[_Fault] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    # -- lifecycle -------------------------------------------------------------------------
    def __enter__(self) -> FakeBinance:
        self._stop.clear()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.fake = self  # type: ignore[attr-defined]
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()  # wakes handlers sleeping for a "timeout" fault
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    # -- faults and records ----------------------------------------------------------------
    def fail(
        self, kind: str, times: int = 1, path_contains: str = "klines", retry_after: int = 1
    ) -> None:
        """Queue ``kind`` for the next ``times`` requests whose path contains ``path_contains``."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; use one of {FAULT_KINDS}")
        with self._lock:
            self._faults.append(_Fault(kind, times, path_contains, retry_after))

    def answer(self, reply: Reply, times: int = 1, path_contains: str = "klines") -> None:
        """Queue ``reply`` for the next ``times`` requests whose path contains
        ``path_contains`` (recorded with fault ``"reply"``)."""
        with self._lock:
            self._faults.append(_Fault("reply", times, path_contains, 0, reply))

    def _take_fault(self, path: str, query: dict[str, str]) -> _Fault | None:
        with self._lock:
            fault = next((f for f in self._faults if f.path_contains in path), None)
            if fault is not None:
                fault.times -= 1
                if fault.times <= 0:
                    self._faults.remove(fault)
            kind = fault.kind if fault else None
            self.requests.append(RequestRecord(path, query, time.monotonic(), kind))
            return fault

    def kline_requests(self) -> list[RequestRecord]:
        with self._lock:
            return [r for r in self.requests if r.path.endswith("/klines")]

    # -- endpoints -------------------------------------------------------------------------
    def route(self, path: str, query: dict[str, str]) -> tuple[int, Any]:
        """(status, JSON-able body) for a GET of ``path`` without faults."""
        if path == "/api/v3/ping":
            return 200, {}
        if path == "/api/v3/time":
            return 200, {"serverTime": self.now_ms}
        if path == "/api/v3/exchangeInfo":
            return 200, self.exchange_info()
        if path == "/api/v3/klines":
            return self._klines(query)
        return 404, None

    def exchange_info(self) -> dict[str, Any]:
        def sym(s: str, base: str, quote: str) -> dict[str, Any]:
            filters = [
                {"filterType": "PRICE_FILTER", "minPrice": "0.01000000",
                 "maxPrice": "1000000.00000000", "tickSize": "0.01000000"},
                {"filterType": "LOT_SIZE", "minQty": "0.00001000",
                 "maxQty": "9000.00000000", "stepSize": "0.00001000"},
                {"filterType": "NOTIONAL", "minNotional": "5.00000000", "applyMinToMarket": True,
                 "maxNotional": "9000000.00000000", "applyMaxToMarket": False,
                 "avgPriceMins": 5},
            ]  # fmt: skip
            return {
                "symbol": s, "status": "TRADING", "baseAsset": base, "baseAssetPrecision": 8,
                "quoteAsset": quote, "quotePrecision": 8, "quoteAssetPrecision": 8,
                "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS_LIMIT"],
                "icebergAllowed": True, "ocoAllowed": True, "isSpotTradingAllowed": True,
                "isMarginTradingAllowed": True, "filters": filters, "permissions": [],
                "permissionSets": [["SPOT", "MARGIN"]],
                "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
                "allowedSelfTradePreventionModes": ["EXPIRE_TAKER", "EXPIRE_MAKER"],
            }  # fmt: skip

        return {
            "timezone": "UTC",
            "serverTime": self.now_ms,
            "rateLimits": [RATE_LIMIT],
            "exchangeFilters": [],
            "symbols": [sym(s, b, q) for s, (b, q, _) in SYMBOLS.items()],
        }

    def _klines(self, q: dict[str, str]) -> tuple[int, Any]:
        symbol, interval = q.get("symbol", ""), q.get("interval", "")
        if not symbol or not interval:
            name = "symbol" if not symbol else "interval"
            msg = f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed."
            return 400, {"code": -1102, "msg": msg}
        if symbol not in SYMBOLS:
            return 400, INVALID_SYMBOL
        if interval not in INTERVAL_MS:
            return 400, {"code": -1120, "msg": "Invalid interval."}
        try:
            start, end = (int(q[k]) if k in q else None for k in ("startTime", "endTime"))
            limit = min(max(int(q.get("limit", 500)), 1), 1000)
        except ValueError:
            return 400, {"code": -1100, "msg": "Illegal characters found in a parameter."}
        return 200, self.klines(symbol, interval, start, end, limit)

    def klines(
        self, symbol: str, interval: str, start: int | None, end: int | None, limit: int = 500
    ) -> list[list[Any]]:
        """Kline rows as ``/api/v3/klines`` returns them (open time >= start and <= end)."""
        dur = INTERVAL_MS[interval]
        lo = max(self.listing_ms.get(symbol, 0), start if start is not None else -(2**62))
        hi = min(self.now_ms, end if end is not None else 2**62)
        latest = start is None  # no startTime: Binance returns the most recent klines
        real = REAL_FILES.get((symbol, interval))
        if real is not None:
            df = _real_klines(real)
            opens = df["open_ms"].to_numpy()
            keep = np.zeros(len(opens), dtype=bool)
            for a, b in _allowed(lo, hi, self.gaps):
                keep |= (opens >= a) & (opens <= b)
            opens = opens[keep]
            opens = opens[-limit:] if latest else opens[:limit]
            rows = df.loc[opens]
            cols = ["open", "high", "low", "close", "volume"]
            return [
                [int(r.open_ms), *(_fmt(getattr(r, c)) for c in cols), int(r.close_ms),
                 _fmt(r.quote_asset_volume), int(r.num_trades), _fmt(r.taker_buy_base_vol),
                 _fmt(r.taker_buy_quote_vol), "0"]
                for r in rows.itertuples()
            ]  # fmt: skip
        offset = WEEK_OFFSET_MS if interval == "1w" else 0
        chunks: list[np.ndarray] = []
        left = limit
        segs = _allowed(lo, hi, self.gaps)
        for a, b in reversed(segs) if latest else segs:
            first, last = a + (offset - a) % dur, b - (b - offset) % dur
            k = min(left, (last - first) // dur + 1) if last >= first else 0
            if k:
                begin = last - (k - 1) * dur if latest else first
                chunks.append(np.arange(begin, begin + k * dur, dur, dtype=np.int64))
                left -= k
            if not left:
                break
        opens = np.concatenate(chunks[::-1] if latest else chunks) if chunks else np.zeros(0)
        opens = opens.astype(np.int64)
        o = synthetic_price(symbol, opens)
        c = synthetic_price(symbol, np.minimum(opens + dur, self.now_ms))  # forming: price at now
        mid = synthetic_price(symbol, opens + dur // 2)
        spread = SYMBOLS[symbol][2] * 1e-4
        h, lo_ = np.maximum.reduce([o, c, mid]) + spread, np.minimum.reduce([o, c, mid]) - spread
        vol = (1.5 + np.sin(opens / 5.0e6)) * dur / 60_000
        quote = vol * (o + c) / 2
        return [
            [int(t), _fmt(o[i]), _fmt(h[i]), _fmt(lo_[i]), _fmt(c[i]), _fmt(vol[i]),
             int(t) + dur - 1, _fmt(quote[i]), int(vol[i] * 7) + 1, _fmt(vol[i] / 2),
             _fmt(quote[i] / 2), "0"]
            for i, t in enumerate(opens)
        ]  # fmt: skip


class _Handler(BaseHTTPRequestHandler):
    server_version = "FakeBinance/1.0"

    def log_message(self, format: str, *args: Any) -> None:  # keep pytest output quiet
        pass

    def do_GET(self) -> None:
        fake: FakeBinance = self.server.fake  # type: ignore[attr-defined]
        parts = urlsplit(self.path)
        query = dict(parse_qsl(parts.query))
        fault = fake._take_fault(parts.path, query)
        kind = fault.kind if fault else None
        headers: dict[str, str] = {}
        if fault is not None and fault.reply is not None:
            _, payload = fake.route(parts.path, query)
            return send_reply(self, fault.reply, payload, fake._stop)
        if fault is not None and kind in ("429", "418"):
            headers["Retry-After"] = str(fault.retry_after)
            msg = "Too many requests." if kind == "429" else "Way too many requests; IP banned."
            status, body = int(kind), _json({"code": -1003, "msg": msg})
        elif kind == "500":
            msg = "Internal error; unable to process your request. Please try again."
            status, body = 500, _json({"code": -1001, "msg": msg})
        elif kind == "502":
            html = "<html><head><title>502 Bad Gateway</title></head><body>Bad Gateway</body>"
            return self._send(502, f"{html}</html>".encode(), "text/html", headers)
        elif kind == "400":
            status, body = 400, _json(INVALID_SYMBOL)
        else:
            status, payload = fake.route(parts.path, query)
            if payload is None:
                return self._send(404, b"<html><body>404 Not Found</body></html>", "text/html", {})
            body = _json(payload)
            if kind == "timeout":
                fake._stop.wait(fake.timeout_delay)
            elif kind == "truncated":
                body = body[: len(body) // 2]
        self._send(status, body, "application/json;charset=UTF-8", headers)

    def _send(self, status: int, body: bytes, ctype: str, headers: dict[str, str]) -> None:
        try:
            self.send_response(status)
            headers = {"Content-Type": ctype, "Content-Length": str(len(body)), **headers}
            for k, v in headers.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):  # client gave up (timeout fault)
            pass


def make_exchange(url: str, **config: Any) -> ccxt.binance:
    """A real ``ccxt.binance`` talking only to the fake at ``url``.

    ``config`` goes to the ccxt constructor (``timeout`` ms defaults to 1000, ``enableRateLimit``
    to False); ``options`` given there are merged over the spot-only options set here.
    """
    options = {
        "fetchMarkets": {"types": ["spot"], "loadAllOptions": False},  # no fapi/dapi/eapi
        "fetchMargins": False,  # no sapi margin/allPairs
        "fetchCurrencies": False,  # no sapi capital/config/getall
        "adjustForTimeDifference": False,  # no /api/v3/time on load_markets
        **config.pop("options", {}),
    }
    exchange = ccxt.binance({"timeout": 1000, "enableRateLimit": False, **config})
    exchange.options.update(options)
    base = urlsplit(url)
    api = exchange.urls["api"]
    for key, value in api.items():
        if isinstance(value, str) and value.startswith(("https://", "http://")):
            api[key] = urlsplit(value)._replace(scheme=base.scheme, netloc=base.netloc).geturl()
    return exchange
