"""LSTM settings from three layers: defaults, a TOML or YAML file, and explicit values."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from ..errors import CoincastError, worded
from .config import ConfigError, LSTMConfig, file_value


def read_settings(path: Path | None) -> dict[str, Any]:
    """Settings from a TOML or YAML file: a flat table of :class:`LSTMConfig` fields.

    Parameters
    ----------
    path
        A ``.toml``, ``.yaml`` or ``.yml`` file; ``None`` gives no settings.

    Raises
    ------
    CoincastError
        When the file is missing, unreadable, not a table, or names an unknown setting; the
        message calls it ``settings file PATH``, its ``cli`` ``--config PATH``.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     _ = (Path(d) / "lstm.toml").write_text("hidden = 8\\nhead = 'quantile'\\n")
    ...     read_settings(Path(d) / "lstm.toml")
    {'hidden': 8, 'head': 'quantile'}
    """
    if path is None:
        return {}
    if not path.is_file():
        raise _said(path, ": no such file")
    data = _parse(path)
    if not isinstance(data, dict):
        raise _said(path, " must hold a table of settings")
    unknown = sorted(map(str, set(data) - set(LSTMConfig.model_fields)))
    if unknown:
        raise _said(
            path,
            f": unknown setting(s) {', '.join(unknown)}; "
            f"known: {', '.join(LSTMConfig.model_fields)}",
        )
    return data


def _said(path: Path, tail: str, error: type[CoincastError] = CoincastError) -> CoincastError:
    """An error about the settings file at ``path``: named so in Python, as ``--config PATH``
    on the command line (its ``cli``)."""
    return worded(error(f"settings file {path}{tail}"), f"--config {path}{tail}")


#: The largest settings file read: a flat table of a few dozen settings is a few kB.
MAX_SETTINGS_BYTES = 1 << 20


def _parse(path: Path) -> Any:
    suffix = path.suffix.lower()
    if suffix not in (".toml", ".yaml", ".yml"):
        raise _said(path, " must be a .toml, .yaml or .yml file")
    text = _text(path)
    try:
        if suffix == ".toml":
            return tomllib.loads(text)
        return yaml.safe_load(text) or {}
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        raise _said(path, f" cannot be parsed: {str(exc).splitlines()[0]}") from None
    except RecursionError:
        raise _said(
            path, " cannot be parsed: it nests too deep; write a flat table of settings"
        ) from None


def _text(path: Path) -> str:
    """The file's text: at most :data:`MAX_SETTINGS_BYTES` of UTF-8."""
    with path.open("rb") as f:
        data = f.read(MAX_SETTINGS_BYTES + 1)
    if len(data) > MAX_SETTINGS_BYTES:
        raise _said(
            path,
            f" is larger than {MAX_SETTINGS_BYTES >> 20} MiB; a settings file "
            "is a short table of settings: check the path",
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _said(
            path,
            f" is not UTF-8 text (byte {data[exc.start]:#04x} at offset {exc.start}); "
            "save it as UTF-8",
        ) from None


def lstm_config(
    path: Path | None = None,
    values: Mapping[str, Any] | None = None,
    defaults: Mapping[str, Any] | None = None,
) -> LSTMConfig:
    """A validated :class:`LSTMConfig`: ``values`` override the file at ``path``, which
    overrides ``defaults``, which override the config's own defaults.

    Raises
    ------
    ConfigError
        Naming the first invalid setting, its value, the rule it breaks and an example; a
        setting from the file is named as the file spells it, after ``settings file PATH:``
        (``--config PATH:`` in its ``cli``).

    Examples
    --------
    >>> lstm_config(values={"hidden": 8}, defaults={"hidden": 4, "log_every": 0}).hidden
    8
    >>> lstm_config(values={"epochs": 0})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    coincast.models.config.ConfigError: epochs is 0; it must be a whole number from 1 to ...
    """
    in_file = read_settings(path)
    settings = {**(defaults or {}), **in_file, **(values or {})}
    try:
        return LSTMConfig(**settings)
    except ConfigError as exc:
        error = exc
    if error.field in in_file and error.field not in (values or {}):
        example = None if error.example is None else f"{error.field} = {file_value(error.example)}"
        raise _said(path, f": {error.spelled(error.field, example)}", ConfigError) from None
    raise error from None
