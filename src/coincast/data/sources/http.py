"""HTTP for the REST sources: a client-side rate limiter, retries that honour Retry-After,
and a JSON client that keeps its API key on its own host (see :mod:`.transport` for the
deadline and size cap every request gets)."""

from __future__ import annotations

import collections
import json
import logging
import math
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests

from ...errors import CoincastError, SourceError, worded
from .transport import GuardError, HttpLimits, guard_session, server_text, unreachable_cause

log = logging.getLogger(__name__)

RETRY_STATUS = frozenset({429, 500, 502, 503, 504})


class RateLimiter:
    """At most ``calls`` acquisitions in any sliding window of ``period`` seconds.

    Examples
    --------
    >>> limiter = RateLimiter(calls=30, period=60.0)
    >>> limiter.acquire()  # returns at once: the window is empty, nothing was waited
    0.0
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


REDIRECT_STATUS = frozenset({301, 302, 303, 307, 308})
MAX_REDIRECTS = 5
UNREACHABLE_RETRIES = 2  #: quick retries when a server cannot be reached at all
UNREACHABLE_WAIT = 0.25  #: seconds before the first of them, doubled for the next
#: what to do when a server cannot be reached: in flags (an error's ``cli``) ...
WAY_OUT = "check the network, or use --source synthetic or `coincast import FILE`"
#: ... and in Python (its message)
WAY_OUT_PY = "check the network, or use get_source('synthetic'), or read a file with read_file"


def unreachable(host: str, cause: str) -> CoincastError:
    """The :class:`~coincast.errors.SourceError` for a server that cannot be reached: the way
    out in Python (:data:`WAY_OUT_PY`), and in flags (:data:`WAY_OUT`) as its ``cli``."""
    head = f"could not reach {host} ({cause}); "
    return worded(SourceError(head + WAY_OUT_PY), head + WAY_OUT)


_TRANSIENT = (requests.Timeout, requests.ConnectionError, requests.exceptions.ChunkedEncodingError)


def retry_after(value: str | None, cap: float, who: str) -> float | None:
    """Seconds a ``Retry-After`` header asks to wait; ``None`` when absent or unreadable
    (an HTTP date, garbage, NaN), so that backoff decides.

    Raises
    ------
    SourceError
        When the server asks for longer than ``cap`` seconds (infinity included).

    Examples
    --------
    >>> retry_after("2", 300, "CoinGecko"), retry_after("nan", 300, "CoinGecko")
    (2.0, None)
    """
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    if math.isnan(seconds):
        return None
    if seconds > cap:
        raise SourceError(f"{who} asked to wait {seconds:g} s (Retry-After); try again later")
    return max(seconds, 0.0)


def check_base_url(url: str, setting: str, example: str) -> str:
    """``url`` without a trailing slash, if it is an http(s) URL with a host; else a
    SourceError naming ``setting`` (``COINGECKO_BASE_URL``)."""
    if _origin(url) is None:
        raise SourceError(
            f"{setting} is {url!r}; it must be an http:// or https:// URL with a host, "
            f"e.g. {example}"
        )
    return url.rstrip("/")


class _Retry(Exception):
    """One attempt failed in a way worth another."""

    def __init__(self, reason: str, wait: float | None = None, unreachable: bool = False) -> None:
        super().__init__(reason)
        self.reason, self.wait, self.unreachable = reason, wait, unreachable


class _Session(requests.Session):
    """A session that never follows (or even parses) a redirect itself: JsonClient does."""

    def get_redirect_target(self, resp: requests.Response) -> None:
        return None


class JsonClient:
    """GET JSON over a pooled :class:`requests.Session` with rate limit and retries.

    Retries on 429/5xx, timeouts, dropped connections and truncated JSON; a server that
    cannot be reached at all (connection refused, DNS failure) gets two quick retries.
    Fails at once on other 4xx (via ``on_error``), on an answer that is not JSON, past the
    deadline or the size cap (:class:`~.transport.HttpLimits`), and on a redirect to
    another host: redirects are followed only within the base URL's scheme, host and port,
    so the headers (the API key) never reach another host. Text from the server appears in
    messages only through :meth:`clean`.
    """

    def __init__(
        self,
        base_url: str,
        headers: dict[str, str] | None = None,
        *,
        limiter: RateLimiter | None = None,
        policy: RetryPolicy | None = None,
        timeout: float = 30.0,
        limits: HttpLimits | None = None,
        sleep: Callable[[float], None] = time.sleep,
        name: str = "server",
        setting: str = "the base URL",
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.secrets = tuple(v for v in (headers or {}).values() if v)
        self.limits = limits or HttpLimits.resolve()
        self.session = guard_session(_Session(), self.limits)
        self.session.headers.update({"Accept": "application/json", **(headers or {})})
        self.limiter = limiter
        self.policy = policy or RetryPolicy()
        self.timeout = timeout
        self.sleep = sleep
        self.name = name
        self.setting = setting  #: where the user sets base_url, named in messages
        self.host = _netloc(self.base_url)
        self._origin = _origin(self.base_url)

    def clean(self, text: str, limit: int = 200) -> str:
        """Server text safe for a message: one line, at most ``limit`` characters, with the
        client's header values (the API key) replaced by ``***``."""
        return server_text(text, self.secrets, limit)

    def get(
        self,
        path: str,
        params: dict[str, Any] | None = None,
        on_error: Callable[[int, Any, str], Exception] | None = None,
    ) -> Any:
        """GET ``path`` and return the decoded JSON.

        Raises
        ------
        SourceError
            After the last retry, or at once for a failure retrying cannot mend.
            ``on_error(status, json_body_or_None, clean_text)`` builds the exception for a
            non-retryable 4xx.
        """
        last = _Retry("no attempt")
        quick = 0
        for attempt in range(self.policy.retries + 1):
            try:
                return self._attempt(path, params, on_error)
            except _Retry as retry:
                last = retry
            log.info("%s %s: %s (attempt %d)", self.name, path, last.reason, attempt + 1)
            if last.unreachable:
                quick += 1
                if quick > UNREACHABLE_RETRIES:
                    break
            if attempt < self.policy.retries:
                self.sleep(self._wait(attempt, quick, last))
        if last.unreachable:
            raise unreachable(self.host, last.reason)
        raise SourceError(
            f"{self.name} kept failing for {path} ({last.reason}) after {attempt + 1} "
            "attempts; try again later"
        )

    def _wait(self, attempt: int, quick: int, retry: _Retry) -> float:
        if retry.unreachable:
            return UNREACHABLE_WAIT * 2 ** (quick - 1)
        return self.policy.delay(attempt, retry.wait)

    def _attempt(
        self, path: str, params: dict[str, Any] | None, on_error: Callable[..., Exception] | None
    ) -> Any:
        resp = self._follow(path, params)
        status = resp.status_code
        if status in RETRY_STATUS:
            wait = retry_after(
                resp.headers.get("Retry-After"), self.policy.max_retry_after, self.name
            )
            raise _Retry(f"HTTP {status}", wait)
        if status >= 400:
            text = self.clean(resp.content[:4000].decode("utf-8", "replace"))
            if on_error is not None:
                raise on_error(status, _json_or_none(resp.content), text)
            raise SourceError(f"{self.name} answered HTTP {status} for {path}: {text}")
        if not 200 <= status < 300:
            raise SourceError(f"{self.name} answered HTTP {status} for {path}, not 200 with JSON")
        return self._json(resp, path)

    def _follow(self, path: str, params: dict[str, Any] | None) -> requests.Response:
        """The answer to ``path``, following redirects only within the base URL's origin."""
        url = self.base_url + path
        for _ in range(MAX_REDIRECTS + 1):
            resp = self._send(url, params, path)
            location = resp.headers.get("Location")
            if resp.status_code not in REDIRECT_STATUS or not location:
                return resp
            target = _join(resp.url, location)
            if _origin(target) != self._origin:
                where = self.clean(_netloc(target) or target, 100)
                raise SourceError(
                    f"{self.name} redirected {path} to another host ({where}); coincast follows "
                    f"redirects only within {self.host}, so the API key never leaves it. If "
                    f"that host is right, set it in {self.setting}"
                )
            url, params = target, None
        raise SourceError(
            f"{self.name} redirected {path} more than {MAX_REDIRECTS} times; check {self.setting}"
        )

    def _send(self, url: str, params: dict[str, Any] | None, path: str) -> requests.Response:
        if self.limiter is not None:
            self.limiter.acquire()
        try:
            return self.session.get(url, params=params, timeout=self.timeout, allow_redirects=False)
        except GuardError as exc:
            raise SourceError(exc.explain(self.name, path)) from None
        except _TRANSIENT as exc:
            cause = unreachable_cause(exc)
            raise _Retry(cause or type(exc).__name__, unreachable=cause is not None) from None
        except requests.RequestException as exc:  # an invalid URL, a bad TLS certificate ...
            text = self.clean(str(exc), 150)
            raise SourceError(
                f"{self.name} request for {path} failed ({type(exc).__name__}: {text}); "
                f"check {self.setting}"
            ) from None

    def _json(self, resp: requests.Response, path: str) -> Any:
        """The decoded body; an answer that is not JSON fails at once with what it was."""
        ctype = resp.headers.get("Content-Type", "")
        if ctype and not is_json_type(ctype):
            head = self.clean(resp.content[:1000].decode("utf-8", "replace"), 100)
            raise SourceError(
                f"{self.name} answered {path} with {self.clean(ctype, 60)}, not JSON: "
                f"'{head}'; check {self.setting}"
            )
        try:
            return json.loads(resp.content)
        except RecursionError:
            raise SourceError(
                f"{self.name}'s answer to {path} is JSON nested too deeply to read; "
                "nothing was stored from it"
            ) from None
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise _Retry("invalid or truncated JSON") from None
        except ValueError as exc:  # e.g. an integer of more than 4300 digits
            raise SourceError(
                f"{self.name}'s answer to {path} holds JSON coincast cannot read "
                f"({self.clean(str(exc), 100)}); nothing was stored from it"
            ) from None


def is_json_type(ctype: str) -> bool:
    """Whether a Content-Type names JSON (``application/json``, ``text/json``, ``*+json``)."""
    kind = ctype.split(";")[0].strip().lower()
    return kind in ("application/json", "text/json") or kind.endswith("+json")


def _json_or_none(content: bytes) -> Any:
    """A (small) error body decoded, or ``None`` when it is not readable JSON."""
    if len(content) > 65_536:
        return None
    try:
        return json.loads(content)
    except (ValueError, RecursionError):
        return None


def _origin(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an http(s) URL; ``None`` for anything else."""
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not host:
        return None
    return scheme, host.lower(), port or (443 if scheme == "https" else 80)


def _join(base: str, location: str) -> str:
    """``location`` (a redirect's target) resolved against ``base``; itself if unreadable."""
    try:
        return urljoin(base, location)
    except ValueError:  # e.g. "http://[::1" (an unclosed IPv6 address)
        return location


def _netloc(url: str) -> str:
    """``host`` or ``host:port`` of ``url``, without any user name or password."""
    try:
        parts = urlsplit(url)
        host, port = parts.hostname or "", parts.port
    except ValueError:
        return ""
    return f"{host}:{port}" if port else host
