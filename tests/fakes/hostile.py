"""Hostile answers for the fake servers: what a broken, slow or malicious server sends.

A :class:`Reply` replaces one answer of a fake (``FakeCoinGecko.answer`` or
``FakeBinance.answer``): any status, headers and content type; a body given as bytes or as
an edit of the fake's normal JSON payload; sent at once, dripped a byte at a time (from the
status line or after the headers), or endlessly. :func:`closed_port` gives a port nothing
listens on (connection refused); :func:`store_snapshot` hashes a store's every row.
"""

from __future__ import annotations

import copy
import hashlib
import json
import socket
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Reply:
    """One answer a fake sends instead of its own."""

    status: int = 200
    #: bytes: sent as they are; a callable: edits (a deep copy of) the normal JSON payload,
    #: which is then dumped (NaN and Infinity allowed) unless the edit returns bytes itself;
    #: None: the normal payload
    body: bytes | Callable[[Any], Any] | None = None
    content_type: str | None = "application/json"  #: None: no Content-Type header
    headers: dict[str, str] = field(default_factory=dict)
    drip: float = 0.0  #: seconds between single bytes (0: all at once)
    drip_from: str = "body"  #: "body": headers at once, then the drip; "status": all of it
    length: bool = True  #: send Content-Length (else the body ends when the fake hangs up)
    endless: bool = False  #: after the headers, send b"1," until the client hangs up

    def render(self, payload: Any) -> bytes:
        """The body bytes, given the fake's normal JSON payload."""
        if isinstance(self.body, bytes):
            return self.body
        if callable(self.body):
            edited = self.body(copy.deepcopy(payload))
            return edited if isinstance(edited, bytes) else json.dumps(edited).encode()
        return json.dumps(payload).encode()


def send_reply(
    handler: BaseHTTPRequestHandler, reply: Reply, payload: Any, stop: threading.Event
) -> None:
    """Write ``reply`` to ``handler``'s client, straight to the socket."""
    body = b"" if reply.endless else reply.render(payload)
    try:
        reason = HTTPStatus(reply.status).phrase
    except ValueError:
        reason = "Whatever"
    lines = [f"HTTP/1.1 {reply.status} {reason}"]
    if reply.content_type is not None:
        lines.append(f"Content-Type: {reply.content_type}")
    lines += [f"{k}: {v}" for k, v in reply.headers.items()]
    if reply.length and not reply.endless:
        lines.append(f"Content-Length: {len(body)}")
    else:
        lines.append("Connection: close")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    handler.close_connection = True  # one hostile answer per connection
    try:
        if reply.drip and reply.drip_from == "status":
            _drip(handler.wfile, head + body, reply.drip, stop)
            return
        handler.wfile.write(head)
        handler.wfile.flush()
        if reply.endless:
            while not stop.is_set():
                handler.wfile.write(b"1," * 8192)
        elif reply.drip:
            _drip(handler.wfile, body, reply.drip, stop)
        else:
            handler.wfile.write(body)
    except OSError:  # the client hung up: what a guarded client does
        pass


def _drip(out: Any, data: bytes, every: float, stop: threading.Event) -> None:
    for i in range(len(data)):
        out.write(data[i : i + 1])
        out.flush()
        if stop.wait(every):
            return


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on: connecting is refused at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def nested(depth: int) -> bytes:
    """``[[[...]]]`` nested ``depth`` deep: valid JSON no recursive parser can read."""
    return b"[" * depth + b"]" * depth


def store_snapshot(path: Path) -> str:
    """A hash of every row of every table of the store at ``path``: what a fetch that
    failed must leave unchanged."""
    con = sqlite3.connect(path)
    try:
        digest = hashlib.sha256()
        tables = con.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")
        for (table,) in tables.fetchall():
            width = len(con.execute(f"PRAGMA table_info({table})").fetchall())
            order = ", ".join(str(i) for i in range(1, width + 1))
            for row in con.execute(f"SELECT * FROM {table} ORDER BY {order}"):
                digest.update(repr((table, row)).encode())
        return digest.hexdigest()
    finally:
        con.close()
