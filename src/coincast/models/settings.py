"""LSTM settings from three layers: defaults, a TOML or YAML file, and explicit values."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from ..errors import CoincastError
from .config import LSTMConfig, _first_error


def read_settings(path: Path | None) -> dict[str, Any]:
    """Settings from a TOML or YAML file: a flat table of :class:`LSTMConfig` fields.

    Parameters
    ----------
    path
        A ``.toml``, ``.yaml`` or ``.yml`` file; ``None`` gives no settings.

    Raises
    ------
    CoincastError
        When the file is missing, unreadable, not a table, or names an unknown setting.

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
        raise CoincastError(f"--config {path}: no such file")
    data = _parse(path)
    if not isinstance(data, dict):
        raise CoincastError(f"--config {path} must hold a table of settings")
    unknown = sorted(map(str, set(data) - set(LSTMConfig.model_fields)))
    if unknown:
        raise CoincastError(
            f"--config {path}: unknown setting(s) {', '.join(unknown)}; "
            f"known: {', '.join(LSTMConfig.model_fields)}"
        )
    return data


def _parse(path: Path) -> Any:
    try:
        if path.suffix.lower() == ".toml":
            return tomllib.loads(path.read_text())
        if path.suffix.lower() in (".yaml", ".yml"):
            return yaml.safe_load(path.read_text()) or {}
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        raise CoincastError(
            f"--config {path} cannot be parsed: {str(exc).splitlines()[0]}"
        ) from None
    raise CoincastError(f"--config {path} must be a .toml, .yaml or .yml file")


def lstm_config(
    path: Path | None = None,
    values: Mapping[str, Any] | None = None,
    defaults: Mapping[str, Any] | None = None,
) -> LSTMConfig:
    """A validated :class:`LSTMConfig`: ``values`` override the file at ``path``, which
    overrides ``defaults``, which override the config's own defaults.

    Raises
    ------
    CoincastError
        Naming the first invalid setting, its value and the rule it breaks.

    Examples
    --------
    >>> lstm_config(values={"hidden": 8}, defaults={"hidden": 4, "log_every": 0}).hidden
    8
    >>> lstm_config(values={"epochs": 0})
    Traceback (most recent call last):
    ...
    coincast.errors.CoincastError: epochs: Input should be greater than or equal to 1 (got 0)
    """
    settings = {**(defaults or {}), **read_settings(path), **(values or {})}
    try:
        return LSTMConfig(**settings)
    except ValueError as exc:
        raise CoincastError(_first_error(exc)) from None
