"""The user's settings file, and the one setting it holds: the order sources are preferred in.

When a coin is stored from several sources and no ``--source`` is given, commands read the
first source in this order (and say so on stderr) instead of stopping at "choose one". The
order lives in ``config.toml`` in :func:`config_dir` as ``source_order = ["csv", ...]``;
``*`` in an entry matches any text (``exchange:*`` is every exchange). Sources no entry
matches come after those that do, alphabetically.
"""

from __future__ import annotations

import fnmatch
import logging
import os
import re
import tomllib
from collections.abc import Sequence
from pathlib import Path

import platformdirs

from ..errors import CoincastError, shown

CONFIG_FILENAME = "config.toml"
#: The order when the settings file names none: your own files first, then CoinGecko's
#: aggregate, then exchanges, and made-up data last.
DEFAULT_SOURCE_ORDER = ("csv", "coingecko", "exchange:*", "synthetic")
#: An entry of the order: a source name, ``*`` standing for any text.
_ENTRY = re.compile(r"[a-z0-9*][a-z0-9:._*-]{0,63}")

#: Where a command's choice of source is told (the CLI shows it as one stderr line).
notices = logging.getLogger("coincast.notice")


def config_dir() -> Path:
    """``$COINCAST_HOME`` if set, else the per-user config directory (~/.config/coincast)."""
    env = os.environ.get("COINCAST_HOME")
    return Path(env).expanduser() if env else Path(platformdirs.user_config_dir("coincast"))


def config_path() -> Path:
    """The settings file: ``config_dir() / "config.toml"`` (it need not exist)."""
    return config_dir() / CONFIG_FILENAME


def read_settings(path: Path | None = None) -> dict[str, object]:
    """The settings file as a dict; empty when there is none.

    Raises
    ------
    CoincastError
        When the file is not TOML, naming the file, the problem and the fix.
    """
    path = path or config_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CoincastError(
            f"the settings file {path} is not TOML ({exc}); fix it or delete it "
            "(coincast config set writes a new one)"
        ) from None


def check_source_order(entries: Sequence[object]) -> tuple[str, ...]:
    """``entries`` as a source order: lower-cased source names, ``*`` allowed, each once.

    Examples
    --------
    >>> check_source_order(["CSV", " exchange:* "])
    ('csv', 'exchange:*')
    """
    order = tuple(dict.fromkeys(e.strip().lower() if isinstance(e, str) else e for e in entries))
    bad = [e for e in order if not isinstance(e, str) or not _ENTRY.fullmatch(e)]
    if bad or not order:
        raise CoincastError(
            f"source order {shown(bad[0]) if bad else 'is empty'}: give source names "
            "separated by commas, '*' for any text, e.g. csv,coingecko,exchange:*,synthetic"
        )
    return order


def source_order(path: Path | None = None) -> tuple[str, ...]:
    """The preferred order of sources: the settings file's, else :data:`DEFAULT_SOURCE_ORDER`.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     source_order(Path(d) / "config.toml")
    ('csv', 'coingecko', 'exchange:*', 'synthetic')
    """
    path = path or config_path()
    order = read_settings(path).get("source_order")
    if order is None:
        return DEFAULT_SOURCE_ORDER
    if not isinstance(order, list):
        raise CoincastError(
            f"source_order in {path} must be a list of source names, e.g. "
            '["csv", "coingecko"]; set it with coincast config set source-order csv,coingecko'
        )
    return check_source_order(order)


def save_source_order(order: Sequence[str], path: Path | None = None) -> Path:
    """Write ``order`` to the settings file (atomically, keeping its other settings).

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = save_source_order(["coingecko", "csv"], Path(d) / "config.toml")
    ...     source_order(p)
    ('coingecko', 'csv')
    """
    path = path or config_path()
    settings = read_settings(path)
    settings["source_order"] = list(check_source_order(order))
    lines = [f"{key} = {_toml(value)}" for key, value in settings.items()]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def _toml(value: object) -> str:
    """A TOML value for the settings this module writes (strings, numbers, lists of them)."""
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def rank_sources(sources: Sequence[str], order: Sequence[str]) -> list[str]:
    """``sources`` best first: by the first entry of ``order`` each matches, then by name.

    Examples
    --------
    >>> rank_sources(["synthetic", "exchange:kraken", "coingecko"], DEFAULT_SOURCE_ORDER)
    ['coingecko', 'exchange:kraken', 'synthetic']
    """

    def rank(source: str) -> tuple[int, str]:
        hits = [n for n, e in enumerate(order) if fnmatch.fnmatchcase(source, e)]
        return (hits[0] if hits else len(order), source)

    return sorted(set(sources), key=rank)
