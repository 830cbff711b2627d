"""What a URL may name: a stored coin, a known interval, or one folder directly inside a
root. Every name from a URL passes here before it touches the disk or the store; anything
else is answered with 404, never a file."""

from __future__ import annotations

import re
from pathlib import Path

from ...coins import check_coin_id, check_quote
from ...errors import CoincastError
from ...intervals import check_interval

#: a folder or file name: one path segment, letters, digits and ``._-``, no leading dot
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
#: a source as the store keeps it (see :mod:`coincast.data.store.keys`)
_SOURCE = re.compile(r"[a-z0-9][a-z0-9:._-]{0,63}")


class NotFound(CoincastError):
    """A URL names something the dashboard does not serve (or that does not exist)."""


def folder_name(name: str) -> str:
    """``name`` if it is one plain path segment (no ``/``, ``\\``, ``..`` or leading dot)."""
    if not _NAME.fullmatch(name) or ".." in name:
        raise NotFound(f"{name!r} is not a folder name")
    return name


def child(root: Path, name: str) -> Path:
    """``root / name`` once ``name`` is a plain segment and the resolved path (symlinks
    followed) stays inside the resolved ``root``.

    Examples
    --------
    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> child(root, "btc-1d") == (root / "btc-1d").resolve()
    True
    >>> child(root, "..")
    Traceback (most recent call last):
    coincast.reporting.web.safety.NotFound: '..' is not a folder name
    """
    base = root.resolve()
    path = (base / folder_name(name)).resolve()
    if path.parent != base:
        raise NotFound(f"{name!r} leads outside {root}")
    return path


def coin_id(coin: str) -> str:
    """A coin id in the form the store keeps (``coincast.coins`` rules)."""
    try:
        c = check_coin_id(coin)
    except CoincastError:
        raise NotFound(f"{coin[:40]!r} is not a coin id") from None
    if c != coin:
        raise NotFound(f"{coin[:40]!r} is not a coin id as stored")
    return c


def interval(value: str) -> str:
    """A known interval (``1h``, ``1d``, ...)."""
    try:
        check_interval(value)
    except CoincastError:
        raise NotFound(f"{value[:40]!r} is not an interval") from None
    return value


def source(value: str | None) -> str | None:
    """A source name as stored, or ``None``."""
    if value is not None and not _SOURCE.fullmatch(value):
        raise NotFound(f"{value[:40]!r} is not a source name")
    return value


def quote(value: str | None) -> str | None:
    """A quote currency as stored, or ``None``."""
    if value is None:
        return None
    try:
        if check_quote(value) == value:
            return value
    except CoincastError:
        pass
    raise NotFound(f"{value[:40]!r} is not a quote currency")
