"""CoinGecko: ``/coins/{id}/market_chart/range`` turned into candles.

CoinGecko returns points (price, market cap, 24 h volume), not candles, at a granularity it
chooses from the span of the request: within the last day 5-minutely, up to 90 days hourly,
above 90 days daily (00:00 UTC). Each chunk is sized so CoinGecko picks the granularity the
interval needs; points are bucketed into bars (first, max, min, last point).

Keyless and demo plans reach 365 days back; the pro plan reaches further.

An answer is used only when it is wholly valid (:mod:`.chart` says what that means); any
other answer fails its chunk, which is then neither stored nor recorded as covered, so the
next fetch asks again. An empty answer is valid (CoinGecko answers so for a range before
the coin was listed) and its range is recorded as covered; ``fetch --refresh`` asks again.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pandas as pd

from ... import coins as coinmod
from ...errors import (
    HistoryLimitError,
    IntervalError,
    SourceError,
    UnknownCoinError,
    shown,
    worded,
)
from ...intervals import bar_start, interval_ms
from ...series import from_ms, to_ms
from .base import Clock, split_range, utc_now
from .chart import bucket, parse_points
from .http import JsonClient, RateLimiter, RetryPolicy, check_base_url
from .settings import env_int, positive_int
from .transport import HttpLimits

PUBLIC_URL = "https://api.coingecko.com/api/v3"
PRO_URL = "https://pro-api.coingecko.com/api/v3"
DAY_MS = 86_400_000
HOUR_MS = 3_600_000
HISTORY_DAYS = 365  # keyless and demo plans
HOURLY_MAX_DAYS = 90  # spans up to this get hourly points
DAILY_MIN_MS = 91 * DAY_MS  # spans above 90 days get daily points
COINS_TTL = pd.Timedelta(days=1)
SUPPORTED = ("5m", "15m", "30m", "1h", "4h", "1d", "1w")
#: the source for what CoinGecko cannot serve: in flags (an error's ``cli``), in Python
BINANCE, BINANCE_PY = "--source exchange:binance", "get_source('exchange:binance')"
RATE_ENV = "COINGECKO_CALLS_PER_MINUTE"
DEFAULT_RATE = 30
MAX_RATE = 10_000  # calls per minute; CoinGecko's largest plan allows 1000


class CoinGeckoSource:
    """The CoinGecko source.

    Parameters
    ----------
    api_key, plan
        Default to ``COINGECKO_API_KEY`` and ``COINGECKO_API_PLAN`` (``demo`` or ``pro``).
        The key is sent as a header and never logged.
    base_url
        Defaults to ``COINGECKO_BASE_URL``, else the public or pro URL for the plan.
        Redirects are followed only within its scheme, host and port: the key stays there.
    calls_per_minute
        Client-side rate limit (default ``COINGECKO_CALLS_PER_MINUTE`` or 30).
    limits
        Deadline and size cap of each request (default: from ``COINCAST_HTTP_DEADLINE`` and
        ``COINCAST_HTTP_MAX_BYTES``, else 60 s and 64 MiB).
    """

    name = "coingecko"
    default_quote = "usd"

    def __init__(
        self,
        *,
        api_key: str | None = None,
        plan: str | None = None,
        base_url: str | None = None,
        calls_per_minute: int | None = None,
        policy: RetryPolicy | None = None,
        timeout: float = 30.0,
        limits: HttpLimits | None = None,
        clock: Clock = utc_now,
        store: Any = None,
    ) -> None:
        key = _checked_key(
            api_key if api_key is not None else os.environ.get("COINGECKO_API_KEY") or None
        )
        self.plan = (plan or os.environ.get("COINGECKO_API_PLAN") or "demo").lower()
        if self.plan not in ("demo", "pro"):
            raise SourceError(f"COINGECKO_API_PLAN is {shown(self.plan)}; use demo or pro")
        self.headers = {}  #: the key header, sent only to the base URL's host
        if key:
            self.headers["x-cg-pro-api-key" if self.plan == "pro" else "x-cg-demo-api-key"] = key
        url, setting = _base_url(base_url, PRO_URL if self.plan == "pro" and key else PUBLIC_URL)
        self.full_history = self.plan == "pro" and bool(key)
        self.clock = clock
        self.store = store  # optional: caches /coins/list
        self.client = JsonClient(
            url,
            self.headers,
            limiter=RateLimiter(_rate(calls_per_minute), 60.0),
            policy=policy,
            timeout=timeout,
            limits=limits,
            name="CoinGecko",
            setting=setting,
        )

    def ping(self, timeout: float = 5.0) -> bool:
        """True when CoinGecko answers ``/ping`` within ``timeout`` seconds (no retries)."""
        probe = JsonClient(
            self.client.base_url,
            self.headers,
            policy=RetryPolicy(retries=0),
            timeout=timeout,
            limits=HttpLimits(min(timeout, self.client.limits.deadline), 65_536),
            name="CoinGecko",
            setting=self.client.setting,
        )
        try:
            probe.get("/ping")
        except SourceError:
            return False
        return True

    # -- coins -----------------------------------------------------------------------------

    def coin_list(self) -> list[dict[str, str]]:
        """CoinGecko's ``/coins/list`` (id, symbol, name), cached in the store for a day."""
        now = self.clock()
        if self.store is not None:
            cached, at = self.store.load_coins()
            if cached and at is not None and now - at < COINS_TTL:
                return cached
        data = self.client.get("/coins/list", on_error=self._error("/coins/list"))
        if not isinstance(data, list) or not all(_is_coin(x) for x in data):
            raise SourceError(
                "CoinGecko's /coins/list answer has an unexpected shape (not a list of objects "
                f"with string id, symbol and name); nothing was stored, check {self.client.setting}"
            )
        coins = [{"id": x["id"], "symbol": x["symbol"], "name": x["name"]} for x in data]
        if self.store is not None:
            self.store.save_coins(coins, now)
        return coins

    def resolve_coin(self, coin: str) -> str:
        """Resolve ``BTC``, ``btc`` or ``Bitcoin`` to CoinGecko's id via ``/coins/list``; a
        well-known id as it is spelled (``bitcoin``, a key of :data:`coincast.coins.TICKERS`)
        needs no request."""
        if coin in coinmod.TICKERS:
            return coin
        return coinmod.resolve(coin, self.coin_list())

    # -- candles ---------------------------------------------------------------------------

    def check_request(
        self, coin: str, quote: str, interval: str, start_ms: int, end_ms: int
    ) -> None:
        """Refuse intervals CoinGecko cannot serve and ranges beyond the plan's history."""
        now_ms = to_ms(self.clock())
        if interval not in SUPPORTED:
            head = (
                f"CoinGecko does not serve {interval} data (its finest is 5-minute points for "
                "the last day); use "
            )
            raise worded(
                IntervalError(f"{head}{BINANCE_PY} for {interval}"),
                f"{head}{BINANCE} for {interval}",
            )
        if interval_ms(interval) < HOUR_MS and start_ms < bar_start(now_ms - DAY_MS, interval):
            head = f"CoinGecko serves {interval} data only for the last 24 hours; fetch less "
            tail = " for longer minute history"
            raise worded(
                IntervalError(f"{head}(days=1) or use {BINANCE_PY}{tail}"),
                f"{head}(--days 1) or use {BINANCE}{tail}",
            )
        oldest = now_ms - HISTORY_DAYS * DAY_MS
        if not self.full_history and start_ms < oldest:
            asked = from_ms(start_ms).date()
            head = (
                f"CoinGecko's keyless and demo plans serve only the past {HISTORY_DAYS} days "
                f"(asked from {asked}); use "
            )
            tail = " for longer history, or set COINGECKO_API_KEY with COINGECKO_API_PLAN=pro"
            raise worded(HistoryLimitError(f"{head}{BINANCE_PY}{tail}"), f"{head}{BINANCE}{tail}")

    def chunks(self, interval: str, start_ms: int, end_ms: int) -> list[tuple[int, int]]:
        """Daily bars: up to 365 days a request; intraday: up to 90 (hourly) or 1 day."""
        step = interval_ms(interval)
        if step >= DAY_MS:
            size = 365 * DAY_MS
        elif step >= HOUR_MS:
            size = (HOURLY_MAX_DAYS - 1) * DAY_MS
        else:
            size = DAY_MS
        size = max(step, size // step * step)
        return split_range(start_ms, end_ms, size)

    def fetch_chunk(
        self, coin: str, quote: str, interval: str, start_ms: int, end_ms: int
    ) -> pd.DataFrame:
        """Candles for bars starting in ``[start_ms, end_ms)`` from one range request."""
        lo, hi = self._request_span(interval, start_ms, end_ms)
        path = f"/coins/{coin}/market_chart/range"
        params = {"vs_currency": quote, "from": lo // 1000, "to": (hi - 1) // 1000}
        data = self.client.get(path, params, on_error=self._error(path, coin))
        asked = (params["from"] * 1000, (params["to"] + 1) * 1000)  # CoinGecko's [from, to] s
        ts, price, cap, vol = parse_points(data, coin, *asked)
        keep = (ts >= start_ms) & (ts < end_ms)
        return bucket(ts[keep], price[keep], cap[keep], vol[keep], coin, quote, interval)

    def _request_span(self, interval: str, start_ms: int, end_ms: int) -> tuple[int, int]:
        """Widen a short request so CoinGecko answers with the same granularity as every
        other chunk: daily points (00:00 UTC) for daily bars, hourly points for 1h and 4h
        (a span of a day or less near now would get 5-minutely points)."""
        step = interval_ms(interval)
        least = DAILY_MIN_MS + DAY_MS if step >= DAY_MS else 2 * DAY_MS if step >= HOUR_MS else 0
        if end_ms - start_ms >= least:
            return start_ms, end_ms
        now_ms = to_ms(self.clock())
        floor = -(2**62) if self.full_history else now_ms - HISTORY_DAYS * DAY_MS + DAY_MS
        lo = min(start_ms, max(end_ms - least, floor))
        return lo, max(end_ms, lo + least)

    def _error(self, path: str, coin: str | None = None) -> Callable[[int, Any, str], Exception]:
        """Builds the exception for a 4xx answer (``text``: the body, already cleaned)."""

        def build(status: int, body: Any, text: str) -> Exception:
            code, message = _status_fields(body)
            text = self.client.clean(message) if message else text
            if status == 404 and coin is not None:
                return UnknownCoinError(f"CoinGecko has no coin {coin!r} ({text})")
            if (status in (401, 403) and code == 10012) or "time range" in text:
                head = f"CoinGecko refused the date range: {text} Use "
                tail = " for longer history, or a pro key (COINGECKO_API_PLAN=pro)"
                return worded(
                    HistoryLimitError(f"{head}{BINANCE_PY}{tail}"), f"{head}{BINANCE}{tail}"
                )
            if status in (401, 403):
                return SourceError(
                    f"CoinGecko refused the request (HTTP {status}): {text}; "
                    "check COINGECKO_API_KEY and COINGECKO_API_PLAN"
                )
            return SourceError(f"CoinGecko answered HTTP {status} for {path}: {text}")

        return build


def _base_url(given: str | None, default: str) -> tuple[str, str]:
    """The base URL and where it was set (named in messages about it)."""
    if given:
        return check_base_url(given, "base_url", f"base_url={PUBLIC_URL!r}"), "base_url"
    env = os.environ.get("COINGECKO_BASE_URL") or None
    if env is not None:
        example = f"COINGECKO_BASE_URL={PUBLIC_URL}"
        return check_base_url(env, "COINGECKO_BASE_URL", example), "COINGECKO_BASE_URL"
    return default, "COINGECKO_BASE_URL"


def _checked_key(key: str | None) -> str | None:
    """``key`` if an HTTP header can carry it (visible ASCII, at most 256 characters); the
    message never shows the key itself."""
    if key is None or (len(key) <= 256 and all("!" <= c <= "~" for c in key)):
        return key
    bad = sum(not "!" <= c <= "~" for c in key)
    what = f"{bad} character(s) an HTTP header cannot carry" if bad else "over 256 characters"
    raise SourceError(
        f"the CoinGecko API key (COINGECKO_API_KEY) has {what} (a space, a non-ASCII letter or "
        "a control character); copy the key again from your CoinGecko dashboard"
    )


def _rate(calls_per_minute: int | None) -> int:
    """The rate limit from the argument, else ``COINGECKO_CALLS_PER_MINUTE``, else 30."""
    if calls_per_minute is not None:
        return positive_int(calls_per_minute, "calls_per_minute", "calls_per_minute=30", MAX_RATE)
    raw = os.environ.get(RATE_ENV) or None
    return DEFAULT_RATE if raw is None else env_int(RATE_ENV, raw, str(DEFAULT_RATE), MAX_RATE)


def _is_coin(x: Any) -> bool:
    return isinstance(x, dict) and all(isinstance(x.get(k), str) for k in ("id", "symbol", "name"))


def _status_fields(body: Any) -> tuple[Any, str]:
    """(error_code, error_message) of a CoinGecko error body, wherever it nests them:
    ``{"error": "..."}``, ``{"status": {...}}``, ``{"error": {"status": {...}}}``."""
    node = body
    for _ in range(3):
        if not isinstance(node, dict):
            break
        if "error_message" in node or "error_code" in node:
            message = node.get("error_message")
            return node.get("error_code"), message if isinstance(message, str) else ""
        node = node.get("error", node.get("status"))
        if isinstance(node, str):
            return None, node
    return None, ""
