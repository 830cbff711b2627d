"""A fake CoinGecko API v3 server for tests, serving real market data over real HTTP.

Usage::

    with FakeCoinGecko() as api:
        requests.get(f"{api.url}/coins/bitcoin/market_chart/range", params=...)
        api.fail("429", retry_after=2)   # the next market_chart request gets a 429
        api.answer(Reply(content_type="text/html", body=b"<html>"))  # any hostile answer

Faithful to the real API: the paths and JSON shapes of ``/ping``, ``/coins/list`` and
``/coins/{id}/market_chart/range`` (``[[ms, value], ...]`` triples of prices, market caps and
volumes); automatic granularity (span <= 90 days -> hourly, else daily at 00:00 UTC); a final
extra point stamped exactly "now" when the range reaches now; the 365-day history limit for
keyless/demo callers (401, error_code 10012, CoinGecko's own message); 429 with
``Retry-After``; two coins sharing the symbol ``btc`` in ``/coins/list``.

Simplified: no 5-minutely data for spans <= 1 day (hourly instead); prices are Yahoo closes
from ``shared/data/yahoo`` (hourly only 2024-11-14 .. 2025-02-10), so ranges outside a file
return no points rather than CoinGecko's data; nothing after the fake's ``now`` is served;
market caps are price times a made-up constant supply; only usd and eur (usd * 0.9); the
missing-key 401 body is approximate; ``/coins/list`` holds the 14 coins and three decoys.
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import re
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import numpy as np
import pandas as pd

from .hostile import Reply, send_reply

DATA_DIR = Path(__file__).resolve().parents[3] / "shared" / "data"
FAULT_KINDS = ("429", "500", "503", "timeout", "truncated", "malformed", "404")

# id -> (symbol, name, made-up circulating supply used for market caps)
COINS: dict[str, tuple[str, str, float]] = {
    "bitcoin": ("btc", "Bitcoin", 19.5e6),
    "ethereum": ("eth", "Ethereum", 120e6),
    "solana": ("sol", "Solana", 480e6),
    "cardano": ("ada", "Cardano", 35e9),
    "avalanche-2": ("avax", "Avalanche", 410e6),
    "binancecoin": ("bnb", "BNB", 145e6),
    "dogecoin": ("doge", "Dogecoin", 147e9),
    "polkadot": ("dot", "Polkadot", 1.5e9),
    "chainlink": ("link", "Chainlink", 630e6),
    "litecoin": ("ltc", "Litecoin", 75e6),
    "matic-network": ("matic", "Polygon", 9.3e9),
    "tether": ("usdt", "Tether", 140e9),
    "usd-coin": ("usdc", "USDC", 56e9),
    "ripple": ("xrp", "XRP", 57e9),
}
DECOYS = [
    {"id": "batcat", "symbol": "btc", "name": "Batcat"},
    {"id": "bitcoin-cash", "symbol": "bch", "name": "Bitcoin Cash"},
    {"id": "ethereum-classic", "symbol": "etc", "name": "Ethereum Classic"},
]
RANGE_LIMIT_BODY = {
    "error": {
        "status": {
            "error_code": 10012,
            "error_message": "Your request exceeds the allowed time range. Public API users are "
            "limited to querying historical data within the past 365 days. Upgrade to a paid "
            "plan to enjoy full historical data access: https://www.coingecko.com/en/api/pricing.",
        }
    }
}
_CANNED: dict[str, tuple[int, bytes]] = {  # faults answered without looking at the request
    "429": (
        429,
        b'{"status":{"error_code":429,"error_message":"You\'ve exceeded the Rate Limit."}}',
    ),
    "500": (500, b'{"error":"internal"}'),
    "503": (503, b'{"error":"internal"}'),
    "404": (404, b'{"error":"coin not found"}'),
    "malformed": (200, b'{"prices": "oops"}'),
}
_CHART = re.compile(r"^/api/v3/coins/([^/]+)/market_chart/range$")
_EPOCH = pd.Timestamp(0, tz="UTC")
_MS = pd.Timedelta(milliseconds=1)


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the fake saw it."""

    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    time: float  # time.monotonic() at arrival
    fault: str | None  # the fault applied to it, if any


@functools.cache
def load_series(coin: str, interval: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (ms timestamps, close, volume) for a coin id and ``"1h"`` or ``"1d"``, cached."""
    name = {"1h": "hourly", "1d": "daily"}[interval]
    path = DATA_DIR / "yahoo" / name / f"{COINS[coin][0].upper()}-USD_{interval}.csv"
    frame = pd.read_csv(path, usecols=["Date", "Close", "Volume"])
    ts = pd.to_datetime(frame["Date"], utc=True)
    ms = ((ts - _EPOCH) // _MS).to_numpy(dtype=np.int64)
    return ms, frame["Close"].to_numpy(np.float64), frame["Volume"].to_numpy(np.float64)


class FakeCoinGecko:
    """A CoinGecko look-alike on ``127.0.0.1``; use as a context manager."""

    def __init__(
        self,
        *,
        now: pd.Timestamp = pd.Timestamp("2025-02-11 12:00", tz="UTC"),
        require_key: str | None = None,
        timeout_delay: float = 2.0,
    ) -> None:
        self.now = now if now.tzinfo is not None else now.tz_localize("UTC")
        self.require_key = require_key
        self.timeout_delay = timeout_delay
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._faults: deque[tuple[str, str, Any]] = deque()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> FakeCoinGecko:
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()  # wakes handlers sleeping in a "timeout" fault
        if self._server is not None and self._thread is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server.drop_connections()  # a stopped fake must not answer kept-alive sockets
            self._thread.join(timeout=2.0)

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:PORT/api/v3`` (no trailing slash)."""
        assert self._server is not None, "start the fake with `with FakeCoinGecko() as api:`"
        return f"http://127.0.0.1:{self._server.server_address[1]}/api/v3"

    def url_for(self, host: str) -> str:
        """The base URL with another name for this host, e.g. ``localhost``."""
        return self.url.replace("127.0.0.1", host, 1)

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of every request received so far, in arrival order."""
        with self._lock:
            return list(self._requests)

    def data_requests(self) -> list[RecordedRequest]:
        """Only the market_chart requests."""
        return [r for r in self.requests if "market_chart" in r.path]

    def fail(
        self,
        kind: str,
        times: int = 1,
        path_contains: str = "market_chart",
        retry_after: int | None = None,
    ) -> None:
        """Queue ``times`` faults of ``kind``; each applies to the next matching request (FIFO)."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"kind ({kind!r}) must be one of {FAULT_KINDS}")
        with self._lock:
            self._faults.extend([(kind, path_contains, retry_after)] * times)

    def answer(self, reply: Reply, times: int = 1, path_contains: str = "market_chart") -> None:
        """Queue ``reply`` (see :mod:`fakes.hostile`) for the next ``times`` matching requests,
        in the same FIFO queue as :meth:`fail` (recorded with fault ``"reply"``)."""
        with self._lock:
            self._faults.extend([("reply", path_contains, reply)] * times)

    def _arrive(
        self, path: str, query: dict[str, str], headers: dict[str, str]
    ) -> tuple[str | None, Any]:
        """Record a request and pop the first queued fault that matches its path."""
        with self._lock:
            fault = next((f for f in self._faults if f[1] in path), None)
            if fault is not None:
                self._faults.remove(fault)
            kind = fault[0] if fault else None
            self._requests.append(RecordedRequest(path, query, headers, time.monotonic(), kind))
            return (kind, fault[2] if fault else None)

    def _respond(
        self, path: str, query: dict[str, str], headers: dict[str, str]
    ) -> tuple[int, Any]:
        """The normal (fault-free) answer as ``(status, json_body)``."""
        key = headers.get("x-cg-pro-api-key") or headers.get("x-cg-demo-api-key")
        if self.require_key is not None and key != self.require_key:
            return 401, {"status": {"error_code": 10002, "error_message": "API key missing"}}
        if path == "/api/v3/ping":
            return 200, {"gecko_says": "(V3) To the Moon!"}
        if path == "/api/v3/coins/list":
            coins = [{"id": i, "symbol": s, "name": n} for i, (s, n, _) in COINS.items()]
            return 200, sorted(coins + DECOYS, key=lambda c: c["id"])
        match = _CHART.match(path)
        if match is None:
            return 404, {"error": "not found"}
        coin = match.group(1)
        if coin not in COINS:
            return 404, {"error": "coin not found"}
        rate = {"usd": 1.0, "eur": 0.9}.get(query.get("vs_currency", ""))
        if rate is None:
            return 400, {"error": "invalid vs_currency"}
        try:
            start, end = float(query["from"]), float(query["to"])
            if not (math.isfinite(start) and math.isfinite(end)):
                raise ValueError
        except (KeyError, ValueError):
            return 400, {"error": "from and to must be unix timestamps in seconds"}
        limit = (self.now - pd.Timedelta(days=365) - _EPOCH).total_seconds()
        if "x-cg-pro-api-key" not in headers and start < limit:
            return 401, RANGE_LIMIT_BODY
        return 200, self._chart(coin, start, end, rate)

    def _chart(self, coin: str, start: float, end: float, rate: float) -> dict[str, Any]:
        interval = "1h" if end - start <= 90 * 86400 else "1d"
        ms, close, volume = load_series(coin, interval)
        now_ms = (self.now - _EPOCH) // _MS
        known = ms <= now_ms  # the future does not exist yet
        keep = known & (ms >= start * 1000) & (ms <= end * 1000)
        t, p, v = ms[keep].tolist(), (close[keep] * rate).tolist(), (volume[keep] * rate).tolist()
        if start * 1000 <= now_ms <= end * 1000 and known.any() and (not t or t[-1] < now_ms):
            last = np.flatnonzero(known)[-1]  # CoinGecko's latest point is stamped "now"
            t.append(now_ms)
            p.append(float(close[last] * rate))
            v.append(float(volume[last] * rate))
        supply = COINS[coin][2]
        return {
            "prices": [[a, b] for a, b in zip(t, p, strict=True)],
            "market_caps": [[a, b * supply] for a, b in zip(t, p, strict=True)],
            "total_volumes": [[a, b] for a, b in zip(t, v, strict=True)],
        }


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, fake: FakeCoinGecko) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.fake = fake
        self.lock = threading.Lock()
        self.open: set[socket.socket] = set()  # connections being served

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        with self.lock:
            self.open.add(request)
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self.lock:
                self.open.discard(request)

    def drop_connections(self) -> None:
        with self.lock:
            conns = list(self.open)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients that time out and hang up are expected; keep stderr clean


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        self.close_connection = True  # the request may be unparsed or carry an unread body
        self._send(code, json.dumps({"error": message or "error"}).encode())

    def do_GET(self) -> None:
        fake = self.server.fake
        parts = urlsplit(self.path)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        headers = {k.lower(): v for k, v in self.headers.items()}
        kind, retry_after = fake._arrive(parts.path, query, headers)
        if kind == "reply":
            _, payload = fake._respond(parts.path, query, headers)
            return send_reply(self, retry_after, payload, fake._stopping)
        if kind in _CANNED:
            wait = str(1 if retry_after is None else retry_after)
            return self._send(*_CANNED[kind], {"Retry-After": wait} if kind == "429" else None)
        if kind == "timeout":
            fake._stopping.wait(fake.timeout_delay)
        try:
            status, payload = fake._respond(parts.path, query, headers)
        except Exception as exc:  # surface fake bugs (e.g. missing data) to the test, not stderr
            status, payload = 500, {"error": f"fake server error: {type(exc).__name__}: {exc}"}
        body = json.dumps(payload).encode()
        self._send(status, body[: len(body) // 2] if kind == "truncated" else body)

    def _send(self, status: int, body: bytes, extra: dict[str, str] | None = None) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for name, value in (extra or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)
        except OSError:  # the client gave up (e.g. after a read timeout)
            self.close_connection = True
