"""What every HTTP answer passes through: a total deadline, a size cap, and safe server text.

``requests``' ``timeout`` bounds each socket read, not a request: a server that drips a byte
every few seconds never times out, and one that sends gigabytes is read to the end.
:class:`GuardedAdapter`, mounted on a :class:`requests.Session` (ours, or ccxt's), gives each
request a watchdog that shuts its socket down at the deadline, and reads the body itself,
stopping at the size cap. Both come from :class:`HttpLimits` (arguments, else the
``COINCAST_HTTP_DEADLINE`` and ``COINCAST_HTTP_MAX_BYTES`` environment variables).

Text a server sent is only ever shown through :func:`server_text`: one line, cut short, with
any secret (an API key the server echoes) replaced by ``***``.
"""

from __future__ import annotations

import contextlib
import contextvars
import errno
import os
import re
import socket
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from .settings import env_int, env_number, positive_int, positive_number

E = TypeVar("E", bound=BaseException)
DEADLINE_ENV = "COINCAST_HTTP_DEADLINE"
MAX_BYTES_ENV = "COINCAST_HTTP_MAX_BYTES"
DEFAULT_DEADLINE = 60.0  #: seconds; a CoinGecko or Binance answer takes well under one
DEFAULT_MAX_BYTES = 64 * 2**20  #: Binance's full market list is ~20 MB; a chart page ~0.2 MB
MAX_DEADLINE = 86_400.0  #: a day
MAX_MAX_BYTES = 2**40  #: a TiB
_READ_SIZE = 65_536


class GuardError(requests.RequestException):
    """An answer stopped by a guard (too slow, too large): never retried."""

    def explain(self, who: str, what: str) -> str:
        """The one-line message for ``who`` (``CoinGecko``) answering ``what`` (a path)."""
        raise NotImplementedError


class DeadlineExceeded(GuardError):
    """The whole request took longer than its deadline."""

    def __init__(self, seconds: float, **kwargs: Any) -> None:
        self.seconds = seconds
        super().__init__(f"no complete answer within {seconds:g} s ({DEADLINE_ENV})", **kwargs)

    def explain(self, who: str, what: str) -> str:
        return (
            f"{who} sent no complete answer to {what} within {self.seconds:g} s (the deadline, "
            f"{DEADLINE_ENV}); the server or the network is too slow: try again later, or "
            f"raise {DEADLINE_ENV}"
        )


class AnswerTooLarge(GuardError):
    """The answer's body is larger than the size cap."""

    def __init__(self, cap: int, seen: str, **kwargs: Any) -> None:
        self.cap, self.seen = cap, seen
        super().__init__(f"answer larger than {cap:,} bytes ({seen}; {MAX_BYTES_ENV})", **kwargs)

    def explain(self, who: str, what: str) -> str:
        return (
            f"{who}'s answer to {what} is larger than {self.cap:,} bytes ({self.seen}; the size "
            f"cap, {MAX_BYTES_ENV}); nothing was stored from it: check the source's address, "
            f"or raise {MAX_BYTES_ENV}"
        )


@dataclass(frozen=True)
class HttpLimits:
    """The bounds of one HTTP request.

    Examples
    --------
    >>> HttpLimits.resolve(deadline=5).deadline
    5.0
    """

    deadline: float = DEFAULT_DEADLINE  #: seconds one request may take, headers and body
    max_bytes: int = DEFAULT_MAX_BYTES  #: largest answer body accepted (after decompression)

    @classmethod
    def resolve(cls, deadline: float | None = None, max_bytes: int | None = None) -> HttpLimits:
        """The limits from the arguments, else the environment variables, else the defaults.

        Raises
        ------
        SourceError
            For an argument or variable that is not a positive finite number (naming it).
        """
        if deadline is not None:
            seconds = positive_number(deadline, "deadline", "deadline=60", MAX_DEADLINE)
        else:
            raw = os.environ.get(DEADLINE_ENV) or None
            seconds = DEFAULT_DEADLINE
            if raw is not None:
                seconds = env_number(DEADLINE_ENV, raw, "60", MAX_DEADLINE)
        if max_bytes is not None:
            example = f"max_bytes={DEFAULT_MAX_BYTES}"
            size = positive_int(max_bytes, "max_bytes", example, MAX_MAX_BYTES)
        else:
            raw = os.environ.get(MAX_BYTES_ENV) or None
            size = DEFAULT_MAX_BYTES
            if raw is not None:
                size = env_int(MAX_BYTES_ENV, raw, str(DEFAULT_MAX_BYTES), MAX_MAX_BYTES)
        return cls(seconds, size)


# -- text a server sent -----------------------------------------------------------------------


def server_text(text: str, secrets: Iterable[str] = (), limit: int = 200) -> str:
    """``text`` from a server made safe to show: secrets replaced by ``***``, control
    characters and line breaks turned into spaces, cut to ``limit`` characters.

    Examples
    --------
    >>> server_text("bad key K3Y\\n<html>", secrets=["K3Y"])
    'bad key *** <html>'
    """
    for secret in secrets:
        if secret:
            text = re.sub(re.escape(secret), "***", text, flags=re.IGNORECASE)
    text = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


# -- the guard --------------------------------------------------------------------------------

_WATCH: contextvars.ContextVar[_Watch | None] = contextvars.ContextVar("watch", default=None)


class _Watch:
    """Shuts down the sockets of one request when its deadline passes."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.fired = False
        self._socks: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True
        self._timer.start()

    def add(self, sock: socket.socket | None) -> None:
        if sock is None:
            return
        with self._lock:
            self._socks.append(sock)
            fired = self.fired
        if fired:
            _shut(sock)

    def _fire(self) -> None:
        with self._lock:
            self.fired = True
            socks = list(self._socks)
        for sock in socks:
            _shut(sock)

    def stop(self) -> None:
        self._timer.cancel()


def _shut(sock: socket.socket) -> None:
    """Wake a thread blocked reading ``sock``: the base-class shutdown also works for TLS
    sockets, without touching their SSL state from this thread."""
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


def _watched(conn_cls: type[HTTPConnection]) -> type[HTTPConnection]:
    """``conn_cls`` telling the current request's watch about every socket it uses."""

    class Watched(conn_cls):  # type: ignore[valid-type, misc]
        def _new_conn(self) -> socket.socket:
            sock = super()._new_conn()
            watch = _WATCH.get()
            if watch is not None:
                watch.add(sock)
            return sock

        def getresponse(self) -> Any:  # a kept-alive connection is reused without _new_conn
            watch = _WATCH.get()
            if watch is not None:
                watch.add(self.sock)
            return super().getresponse()

    Watched.__name__ = f"Watched{conn_cls.__name__}"
    return Watched


class _WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _watched(HTTPConnection)


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _watched(HTTPSConnection)


def _watch_pools(manager: Any) -> Any:
    manager.pool_classes_by_scheme = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}
    return manager


class GuardedAdapter(HTTPAdapter):
    """A requests adapter enforcing :class:`HttpLimits` on every request it sends.

    Mount it on a session for ``http://`` and ``https://`` (see :func:`guard_session`).
    A request past its deadline raises :class:`DeadlineExceeded`; a body past the size cap
    raises :class:`AnswerTooLarge`. The body is read before :meth:`send` returns.
    """

    def __init__(self, limits: HttpLimits, **kwargs: Any) -> None:
        self.limits = limits
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        _watch_pools(self.poolmanager)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        return _watch_pools(super().proxy_manager_for(proxy, **proxy_kwargs))

    def send(  # type: ignore[override]
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        **kw: Any,
    ) -> requests.Response:
        watch = _Watch(self.limits.deadline)
        token = _WATCH.set(watch)
        try:
            resp = super().send(request, stream=True, timeout=self._clip(timeout), **kw)
            resp._content = self._read(resp, watch)  # type: ignore[attr-defined]
            return resp
        except GuardError:
            raise
        except Exception:
            if watch.fired:
                raise self._late(request) from None
            raise
        finally:
            watch.stop()
            _WATCH.reset(token)

    def _clip(self, timeout: Any) -> Any:
        """No single read may wait longer than the whole request may take."""
        most = self.limits.deadline
        if isinstance(timeout, tuple):
            return tuple(most if t is None else min(t, most) for t in timeout)
        return most if timeout is None else min(timeout, most)

    def _read(self, resp: requests.Response, watch: _Watch) -> bytes:
        """The body, stopping at the size cap; the connection is dropped on any failure."""
        cap = self.limits.max_bytes
        declared = resp.headers.get("Content-Length", "").strip()
        if declared.isdigit() and int(declared) > cap:
            resp.close()
            raise self._large(resp.request, f"{int(declared):,} bytes declared")
        parts, size = [], 0
        try:
            for part in resp.iter_content(_READ_SIZE):
                size += len(part)
                if size > cap:
                    raise self._large(resp.request, f"more than {cap:,} bytes")
                parts.append(part)
        except Exception:
            resp.close()
            raise
        if watch.fired:  # a shut socket looks like the end of a body without Content-Length
            resp.close()
            raise self._late(resp.request)
        return b"".join(parts)

    def _late(self, request: Any) -> DeadlineExceeded:
        return DeadlineExceeded(self.limits.deadline, request=request)

    def _large(self, request: Any, seen: str) -> AnswerTooLarge:
        return AnswerTooLarge(self.limits.max_bytes, seen, request=request)


def guard_session(session: requests.Session, limits: HttpLimits) -> requests.Session:
    """Mount a :class:`GuardedAdapter` with ``limits`` on ``session`` (http and https)."""
    adapter = GuardedAdapter(limits)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


# -- why a connection failed ------------------------------------------------------------------


def unreachable_cause(exc: BaseException) -> str | None:
    """``"connection refused"``, ``"DNS lookup failed"``... when ``exc`` (or what it wraps)
    says the server could not be reached at all; ``None`` for other failures (timeouts,
    dropped connections), which are worth retrying longer."""
    for cause in _chain(exc):
        if isinstance(cause, requests.Timeout | socket.timeout | TimeoutError):
            return None
        if isinstance(cause, socket.gaierror):
            return "DNS lookup failed"
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        if isinstance(cause, OSError) and cause.errno in _UNREACHABLE:
            return _UNREACHABLE[cause.errno]
    return None


_UNREACHABLE = {errno.ENETUNREACH: "network is unreachable", errno.EHOSTUNREACH: "no route to host"}


def in_chain(exc: BaseException, kind: type[E]) -> E | None:
    """The first exception of type ``kind`` among ``exc`` and everything it wraps."""
    return next((e for e in _chain(exc) if isinstance(e, kind)), None)


def failed_host(exc: BaseException) -> str | None:
    """``host[:port]`` of the request behind ``exc``, when one of the exceptions it wraps
    carries the request (requests' do)."""
    for e in _chain(exc):
        url = getattr(getattr(e, "request", None), "url", None)
        if isinstance(url, str):
            parts = urlsplit(url)
            with contextlib.suppress(ValueError):
                return f"{parts.hostname}:{parts.port}" if parts.port else parts.hostname
    return None


def _chain(exc: BaseException) -> Iterable[BaseException]:
    """``exc`` and everything it wraps: causes, contexts, urllib3's ``reason``, ``args``."""
    seen: set[int] = set()
    todo = [exc]
    while todo:
        e = todo.pop()
        if id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        wrapped = [e.__cause__, e.__context__, getattr(e, "reason", None), *e.args]
        todo.extend(w for w in wrapped if isinstance(w, BaseException))
