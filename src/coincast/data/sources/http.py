"""HTTP for the REST sources: a client-side rate limiter and retries that honour Retry-After."""

from __future__ import annotations

import collections
import json
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests

from ...errors import SourceError

log = logging.getLogger(__name__)

RETRY_STATUS = frozenset({429, 500, 502, 503, 504})


class RateLimiter:
    """At most ``calls`` acquisitions in any sliding window of ``period`` seconds.

    Examples
    --------
    >>> limiter = RateLimiter(calls=30, period=60.0)
    >>> limiter.acquire()  # returns at once: the window is empty
    """

    def __init__(
        self,
        calls: int,
        period: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if calls < 1:
            raise ValueError(f"calls ({calls}) must be >= 1")
        self.calls, self.period = calls, period
        self._clock, self._sleep = clock, sleep
        self._times: collections.deque[float] = collections.deque()
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Wait until a call is allowed; return the seconds waited."""
        with self._lock:
            now = self._clock()
            while self._times and self._times[0] <= now - self.period:
                self._times.popleft()
            waited = 0.0
            if len(self._times) >= self.calls:
                waited = self._times[0] + self.period - now
                self._sleep(waited)
                self._times.popleft()
            self._times.append(self._clock())
            return waited


@dataclass
class RetryPolicy:
    """How often and how long to retry transient failures."""

    retries: int = 5  #: attempts after the first
    backoff: float = 1.0  #: first backoff in seconds, doubled each attempt
    max_backoff: float = 60.0  #: cap on one backoff
    max_retry_after: float = 300.0  #: longest Retry-After we accept before giving up

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait before retry ``attempt`` (0-based): Retry-After if given, else
        exponential backoff with jitter."""
        if retry_after is not None:
            return retry_after
        base = min(self.max_backoff, self.backoff * 2**attempt)
        return base * (0.5 + random.random() / 2)


class JsonClient:
    """GET JSON over a pooled :class:`requests.Session` with rate limit and retries.

    Retries on 429/5xx, timeouts, connection errors and unparseable (e.g. truncated) JSON;
    never on other 4xx, which raise at once via ``on_error``.
    """

    def __init__(
        self,
        base_url: str,
        headers: dict[str, str] | None = None,
        *,
        limiter: RateLimiter | None = None,
        policy: RetryPolicy | None = None,
        timeout: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        name: str = "server",
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()
        self.session.headers.update({"Accept": "application/json", **(headers or {})})
        self.limiter = limiter
        self.policy = policy or RetryPolicy()
        self.timeout = timeout
        self.sleep = sleep
        self.name = name

    def get(
        self,
        path: str,
        params: dict[str, Any] | None = None,
        on_error: Callable[[int, Any], Exception] | None = None,
    ) -> Any:
        """GET ``path`` and return the decoded JSON.

        Raises
        ------
        SourceError
            After the last retry, or at once for a non-retryable status (``on_error`` builds
            the exception from the status and decoded body).
        """
        last, retry_after = "", None
        for attempt in range(self.policy.retries + 1):
            if attempt:
                self.sleep(self.policy.delay(attempt - 1, retry_after))
            retry_after = None
            if self.limiter is not None:
                self.limiter.acquire()
            try:
                resp = self.session.get(self.base_url + path, params=params, timeout=self.timeout)
            except (requests.Timeout, requests.ConnectionError) as exc:
                last = f"{type(exc).__name__}"
                log.info("%s %s: %s (attempt %d)", self.name, path, last, attempt + 1)
                continue
            if resp.status_code in RETRY_STATUS:
                retry_after = _retry_after(resp, self.policy.max_retry_after)
                last = f"HTTP {resp.status_code}"
                log.info("%s %s: %s, retry after %s", self.name, path, last, retry_after)
                continue
            if resp.status_code >= 400:
                body = _decode(resp.content)
                if on_error is not None:
                    raise on_error(resp.status_code, body)
                raise SourceError(f"{self.name} answered HTTP {resp.status_code} for {path}")
            try:
                return json.loads(resp.content)
            except ValueError:
                last = "invalid or truncated JSON"
                log.info("%s %s: %s (attempt %d)", self.name, path, last, attempt + 1)
        raise SourceError(
            f"{self.name} kept failing for {path} ({last}) after {self.policy.retries + 1} "
            "attempts; try again later"
        )


def _retry_after(resp: requests.Response, cap: float) -> float | None:
    value = resp.headers.get("Retry-After")
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None  # an HTTP date: rare for APIs; fall back to backoff
    if seconds > cap:
        raise SourceError(f"server asked to wait {seconds:g} s (Retry-After); try again later")
    return max(seconds, 0.0)


def _decode(content: bytes) -> Any:
    try:
        return json.loads(content)
    except ValueError:
        return content[:200].decode("utf-8", "replace")
