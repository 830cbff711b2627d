"""A sweep's search space, from a TOML file: the LSTM settings searched (choices or ranges),
those every trial shares, the coins and intervals covered, and how each trial walks.

A space file::

    coins = ["bitcoin", "ethereum"]        # optional: the command line's COIN... wins
    intervals = ["1d"]                     # optional: --interval wins; default 1d

    [params]                               # searched: any LSTMConfig setting
    hidden = [16, 32, 64]                  # choices
    lookback = {low = 10, high = 60, step = 10}
    lr = {low = 1e-4, high = 1e-2, log = true}

    [fixed]                                # every trial's settings beside the searched ones
    epochs = 20

    [walk]                                 # how each trial's walk-forward refits
    refit_every = 30
    refit_epochs = 5

Every mistake is one :class:`SpaceError` line naming the setting.
"""

from __future__ import annotations

import json
import tomllib
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from difflib import get_close_matches
from pathlib import Path
from typing import Any

from ...errors import CoincastError
from ...models.config import ConfigError, LSTMConfig, make_config

#: Settings a sweep gives every trial unless the space says otherwise (quiet training).
SWEEP_DEFAULTS: dict[str, Any] = {"log_every": 0}
#: The keys of a range.
RANGE_KEYS = ("low", "high", "step", "log")
#: The walk settings a space may set, and their defaults.
WALK_DEFAULTS = {"refit_every": 30, "refit_epochs": 5}
TABLES = ("params", "fixed", "walk")


class SpaceError(CoincastError):
    """A search space that cannot be searched: the message names the setting."""


@dataclass(frozen=True)
class Choice:
    """A setting searched among listed values."""

    name: str
    values: tuple[Any, ...]

    def encoded(self) -> list[Any]:
        """The values as Optuna stores them: lists become JSON text."""
        return [_encode(v) for v in self.values]

    def distribution(self) -> Any:
        from optuna.distributions import CategoricalDistribution

        return CategoricalDistribution(self.encoded())

    def decode(self, x: Any) -> Any:
        return self.values[self.encoded().index(x)]

    def grid(self) -> list[Any]:
        return self.encoded()


@dataclass(frozen=True)
class Range:
    """A setting searched in ``[low, high]`` (every ``step``, or on a log scale)."""

    name: str
    low: float
    high: float
    step: float | None = None
    log: bool = False
    whole: bool = False  #: a whole-number setting

    def distribution(self) -> Any:
        from optuna.distributions import FloatDistribution, IntDistribution

        if self.whole:
            return IntDistribution(int(self.low), int(self.high), log=self.log,
                                   step=int(self.step or 1))  # fmt: skip
        return FloatDistribution(self.low, self.high, log=self.log, step=self.step)

    def decode(self, x: Any) -> Any:
        return int(x) if self.whole else float(x)

    def grid(self) -> list[Any]:
        if self.log or (self.step is None and not self.whole):
            raise SpaceError(
                f"the grid sampler needs choices or stepped ranges; {self.name} is a continuous "
                "range: give it a step (without log), or use --sampler tpe or random"
            )
        step = self.step or 1
        count = round((self.high - self.low) / step) + 1
        values = [self.low + i * step for i in range(count) if self.low + i * step <= self.high]
        return [int(v) if self.whole else float(v) for v in values]


Param = Choice | Range


@dataclass(frozen=True)
class Space:
    """What a sweep searches; see the module docstring for the file.

    Examples
    --------
    >>> s = parse_space({"params": {"hidden": [4, 8], "lr": {"low": 1e-4, "high": 1e-2,
    ...                  "log": True}}, "fixed": {"epochs": 1}})
    >>> sorted(s.params), s.config({"hidden": 8, "lr": 0.001}).hidden
    (['hidden', 'lr'], 8)
    """

    params: dict[str, Param]
    fixed: dict[str, Any] = field(default_factory=dict)
    walk: dict[str, int] = field(default_factory=lambda: dict(WALK_DEFAULTS))
    coins: tuple[str, ...] = ()
    intervals: tuple[str, ...] = ()
    raw: dict[str, Any] = field(default_factory=dict)  #: the file as read, for the study

    def distributions(self) -> dict[str, Any]:
        """Optuna's distribution of every searched setting."""
        return {n: p.distribution() for n, p in self.params.items()}

    def grid(self) -> dict[str, list[Any]]:
        """The grid sampler's values of every searched setting."""
        return {n: p.grid() for n, p in self.params.items()}

    def base(self) -> LSTMConfig:
        """The config every trial starts from."""
        return make_config(**(SWEEP_DEFAULTS | self.fixed))

    def settings(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """The searched settings of a trial's Optuna ``params``, decoded."""
        return {n: self.params[n].decode(params[n]) for n in self.params}

    def config(self, params: Mapping[str, Any]) -> LSTMConfig:
        """A trial's full config; a combination LSTMConfig refuses is a :class:`SpaceError`."""
        chosen = self.settings(params)
        try:
            return make_config(self.base(), **chosen)
        except ConfigError as exc:
            shown = ", ".join(f"{k}={v!r}" for k, v in chosen.items())
            raise SpaceError(f"space: the sampled settings ({shown}) are refused: {exc}") from None


def load_space(path: str | Path) -> Space:
    """The space in the TOML file at ``path`` (see the module docstring)."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SpaceError(f"space file {path} not found") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SpaceError(f"space file {path} is not valid TOML: {exc}") from None
    return parse_space(raw)


def parse_space(raw: Mapping[str, Any]) -> Space:
    """The :class:`Space` of a parsed space file; every mistake a :class:`SpaceError`."""
    unknown = [k for k in raw if k not in (*TABLES, "coins", "intervals")]
    if unknown:
        raise SpaceError(
            f"space: unknown key {unknown[0]!r}; a space has coins, intervals and the tables "
            f"[{'], ['.join(TABLES)}]"
        )
    for table in TABLES:
        if not isinstance(raw.get(table, {}), dict):
            raise SpaceError(f"space: {table} must be a table, e.g. [{table}]")
    fixed = dict(raw.get("fixed", {}))
    for name in fixed:
        _known(name, "fixed")
    base = _check(lambda: make_config(**(SWEEP_DEFAULTS | fixed)), "[fixed]")
    params = {
        name: _param(name, value, fixed, base) for name, value in raw.get("params", {}).items()
    }
    if not params:
        raise SpaceError("space: [params] names no setting to search, e.g. hidden = [16, 32]")
    return Space(params, fixed, _walk(raw.get("walk", {})), _names(raw, "coins"),
                 _names(raw, "intervals"), dict(raw))  # fmt: skip


def _known(name: str, table: str) -> None:
    known = list(LSTMConfig.model_fields)
    if name in known:
        return
    close = get_close_matches(name, known, n=1, cutoff=0.5)
    if not close:
        close = [k for k in known if name in k or k in name][:1]
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise SpaceError(
        f"space: unknown setting {name!r} in [{table}]; {hint}known: {', '.join(known)}"
    )


def _check(build, where: str) -> LSTMConfig:
    try:
        return build()
    except ConfigError as exc:
        raise SpaceError(f"space {where}: {exc}") from None


def _param(name: str, value: Any, fixed: Mapping[str, Any], base: LSTMConfig) -> Param:
    _known(name, "params")
    if name == "horizon":
        raise SpaceError(
            "space: [params] horizon is not searched (every trial must forecast the "
            "same bars); set it in [fixed]"
        )
    if name in fixed:
        raise SpaceError(f"space: {name} is both searched ([params]) and fixed ([fixed]); drop one")
    kind = LSTMConfig.model_fields[name].annotation
    kind = next((a for a in typing.get_args(kind) if a is not type(None)), kind)
    if isinstance(value, dict):
        param = _range(name, value, kind)
        corners = [param.low, param.high]
    elif isinstance(value, list):
        if not value:
            raise SpaceError(f"space: [params] {name} lists no choice; give at least one value")
        if len({_encode(v) for v in value}) != len(value):
            raise SpaceError(f"space: [params] {name} lists a value twice: {value}")
        param, corners = Choice(name, tuple(value)), value
    else:
        raise SpaceError(
            f"space: [params] {name} is {value!r}; give choices ({name} = [a, b]) or a range "
            f"({name} = {{low = ..., high = ...}}); a single value belongs in [fixed]"
        )
    for v in corners:  # each value on its own must be a setting LSTMConfig accepts
        _check(lambda v=v: make_config(base, **{name: v}), f"[params] {name}")
    if name == "target" and "volatility" in corners:
        raise SpaceError("space: [params] target 'volatility' is not swept (price forecasts only)")
    if name == "target" and base.target == "volatility":
        raise SpaceError("space: [fixed] target 'volatility' is not swept (price forecasts only)")
    return param


def _range(name: str, value: dict, kind: Any) -> Range:
    bad = [k for k in value if k not in RANGE_KEYS]
    if bad:
        raise SpaceError(f"space: [params] {name} has unknown key {bad[0]!r}; a range has "
                         f"{', '.join(RANGE_KEYS)}")  # fmt: skip
    if kind not in (int, float):
        raise SpaceError(f"space: [params] {name} takes choices, not a range, e.g. {name} = [...]")
    if "low" not in value or "high" not in value:
        raise SpaceError(f"space: [params] {name} needs both low and high")
    whole = kind is int
    for key in ("low", "high", "step"):
        v = value.get(key)
        ok = isinstance(v, int) if whole else isinstance(v, int | float)
        if v is not None and (isinstance(v, bool) or not ok):
            what = "a whole number" if whole else "a number"
            raise SpaceError(f"space: [params] {name} {key} is {v!r}; it must be {what}")
    low, high, step, log = value["low"], value["high"], value.get("step"), value.get("log", False)
    if not isinstance(log, bool):
        raise SpaceError(f"space: [params] {name} log is {log!r}; it must be true or false")
    if low > high:
        raise SpaceError(f"space: [params] {name} is an empty range: low {low} > high {high}")
    if step is not None and step <= 0:
        raise SpaceError(f"space: [params] {name} step is {step}; it must be > 0")
    if log and step is not None and not whole:
        raise SpaceError(f"space: [params] {name}: a range takes step or log, not both")
    if log and low <= 0:
        raise SpaceError(f"space: [params] {name}: a log range needs low > 0, got {low}")
    return Range(name, low, high, step, log, whole)


def _walk(walk: Mapping[str, Any]) -> dict[str, int]:
    for key, v in walk.items():
        if key not in WALK_DEFAULTS:
            raise SpaceError(f"space: unknown setting {key!r} in [walk]; known: "
                             f"{', '.join(WALK_DEFAULTS)}")  # fmt: skip
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise SpaceError(f"space: [walk] {key} is {v!r}; it must be a whole number >= 1")
    return WALK_DEFAULTS | dict(walk)


def _names(raw: Mapping[str, Any], key: str) -> tuple[str, ...]:
    v = raw.get(key, [])
    if not isinstance(v, list) or not all(isinstance(x, str) and x for x in v):
        raise SpaceError(f'space: {key} must be a list of names, e.g. {key} = ["..."]')
    return tuple(v)


def _encode(v: Any) -> Any:
    return json.dumps(v) if isinstance(v, list | tuple | dict) else v
