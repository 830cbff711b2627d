"""The LSTM's settings: one validated object, stored whole in every run folder.

Every number that sizes a tensor or a loop has an upper bound (:mod:`~coincast.models.limits`),
every float must be finite, and whole numbers must be whole numbers (not ``True``, ``"8"`` or
``8.0``). A setting that breaks its rule raises :class:`ConfigError`: one line naming the
setting, its value, the rule and an example, whether the value came from Python, a flag, a
``--config`` file or a run folder's ``run.json``.
"""

from __future__ import annotations

import json
import math
import typing
from typing import Any, Literal

from annotated_types import Ge, Gt, Le, Lt
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from ..dataset.features import FEATURES, check_features
from ..dataset.panel import exog_name
from ..errors import CoincastError, worded
from . import limits as lim
from .devices import DEVICE, NAMES, available_devices
from .heads import DEFAULT_QUANTILES
from .training import TrainSettings

_FLOATS = ("dropout", "lr", "val_fraction", "clip")


def _whole(default: int, lo: int, hi: int, about: str) -> Any:
    return Field(default, ge=lo, le=hi, strict=True, description=about)


class LSTMConfig(BaseModel):
    """Everything that defines an LSTM run; stored whole in ``run.json``.

    Examples
    --------
    >>> LSTMConfig(hidden=8).hidden
    8
    >>> LSTMConfig(hidden=10**12)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    coincast.models.config.ConfigError: hidden is 1000000000000; it must be a whole number ...
    """

    model_config = ConfigDict(extra="forbid")

    def __init__(self, **values: Any) -> None:
        """Validate ``values``; a setting that breaks its rule raises :class:`ConfigError`
        (one line) instead of pydantic's report."""
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise config_error(exc) from None

    lookback: int = _whole(30, 1, lim.MAX_LOOKBACK, "input steps per window")
    horizon: int = _whole(1, 1, lim.MAX_HORIZON, "steps forecast at once")
    hidden: int = _whole(64, 1, lim.MAX_HIDDEN, "LSTM hidden units per layer")
    layers: int = _whole(2, 1, lim.MAX_LAYERS, "stacked LSTM layers")
    dropout: float = Field(
        0.0, ge=0.0, lt=1.0, allow_inf_nan=False, description="dropout between LSTM layers"
    )
    epochs: int = _whole(50, 1, lim.MAX_EPOCHS, "maximum epochs")
    batch: int = _whole(64, 1, lim.MAX_BATCH, "windows per mini-batch")
    lr: float = Field(
        1e-3, gt=0.0, le=lim.MAX_LR, allow_inf_nan=False, description="Adam learning rate"
    )
    target: Literal["returns", "price", "volatility"] = Field(
        "returns", description="what the LSTM learns"
    )
    head: Literal["point", "quantile", "gaussian"] = Field(
        "point", description="output head (volatility: always gaussian, a log-normal variance)"
    )
    quantiles: tuple[float, ...] = Field(
        DEFAULT_QUANTILES, max_length=lim.MAX_QUANTILES, description="quantile head levels"
    )
    features: list[str] | None = Field(None, description="inputs; default by target")
    recursive: bool = Field(False, strict=True, description="one-step model applied step by step")
    val_fraction: float = Field(
        0.1, ge=0.0, lt=0.9, allow_inf_nan=False, description="last windows for validation"
    )
    patience: int = _whole(10, 1, lim.MAX_EPOCHS, "early-stopping patience in epochs")
    clip: float = Field(1.0, gt=0.0, allow_inf_nan=False, description="max gradient norm")
    lr_schedule: Literal["none", "cosine", "plateau"] = "none"
    seed: int = _whole(0, 0, lim.MAX_SEED, "same seed and data give the same model")
    threads: int | None = Field(
        None, ge=1, le=lim.MAX_THREADS, strict=True, description="CPU threads (default: all cores)"
    )
    device: str = Field(
        "auto", pattern=DEVICE.pattern, strict=True, description="auto, cpu or cuda"
    )
    log_every: int = _whole(10, 0, lim.MAX_EPOCHS, "epochs between loss lines (0: none)")
    target_coin: str | None = Field(
        None, description="the coin to forecast when training on several (default: all)"
    )
    coin_embedding: bool = Field(
        True, strict=True, description="learn a vector per coin (several coins)"
    )
    embed_dim: int = _whole(4, 1, lim.MAX_EMBED, "numbers per coin in the coin embedding")
    exog: list[str] = Field(
        [],
        max_length=lim.MAX_EXOG,
        description="coins whose returns (volatility: realized measure) are extra inputs",
    )
    on_short: Literal["error", "skip"] = Field(
        "error", description="a coin too short for the lookback: error, or skip it"
    )

    @field_validator(*_FLOATS, mode="before")
    @classmethod
    def _no_bool(cls, value: Any) -> Any:
        if isinstance(value, bool):  # pydantic would read True as 1.0
            raise ValueError("a number, not true or false")
        return value

    @field_validator("quantiles")
    @classmethod
    def _quantiles(cls, q: tuple[float, ...]) -> tuple[float, ...]:
        if not q or any(not (math.isfinite(x) and 0 < x < 1) for x in q):
            raise ValueError("levels inside (0, 1)")
        if list(q) != sorted(set(q)):
            raise ValueError("increasing, distinct levels")
        return q

    @model_validator(mode="after")
    def _defaults(self) -> LSTMConfig:
        if self.target == "volatility":
            self._volatility()
        if self.features is None:
            self.features = _own_feature(self.target)
        try:
            check_features(self.features)
        except CoincastError as exc:
            raise ValueError(str(exc)) from None
        if self.recursive and self.exog:
            head = "recursive mode cannot forecast the"
            raise worded(
                ValueError(f"{head} inputs of the exog coins; use direct mode (recursive=False)"),
                f"{head} --exog coins' inputs; use direct mode",
            )
        if len(set(self.exog)) != len(self.exog):
            raise ValueError(f"exog lists a coin twice: {self.exog}")
        if self.recursive and self.features != _own_feature(self.target):
            raise ValueError(
                f"recursive mode feeds forecasts back as inputs, so features must be "
                f"{_own_feature(self.target)} for target {self.target!r}"
            )
        return self

    def _volatility(self) -> None:
        """A volatility target forecasts the log of the realized measure with a Gaussian head,
        so the variance ``exp(mu + sigma^2 / 2)`` is never negative."""
        if self.head == "quantile":
            raise ValueError(
                "target 'volatility' forecasts a log-normal variance with the gaussian head; "
                "drop head='quantile'"
            )
        if self.recursive:
            raise ValueError("recursive mode is for returns or price; use direct mode")
        self.head = "gaussian"

    def training(self) -> TrainSettings:
        """The optimisation settings."""
        return TrainSettings(
            self.epochs, self.batch, self.lr, self.clip, self.patience,
            self.lr_schedule, self.seed, self.log_every,
        )  # fmt: skip

    def inputs(self) -> list[str]:
        """Names of the network's input columns: the features, then one per exog coin."""
        return [*self.features, *(exog_name(c, self.target) for c in self.exog)]

    @property
    def trained_horizon(self) -> int:
        """Steps the network outputs: 1 in recursive mode."""
        return 1 if self.recursive else self.horizon


#: The default inputs of each target: for volatility the HAR idea (the realized measure over
#: a short, medium and long span), the returns, the range and the volume.
OWN_FEATURES = {
    "returns": ["log_return"],
    "price": ["close"],
    "volatility": ["log_rv", "log_rv_mid", "log_rv_long", "log_return", "range",
                   "log_volume_change"],
}  # fmt: skip


def _own_feature(target: str) -> list[str]:
    return list(OWN_FEATURES[target])


def make_config(base: LSTMConfig | None = None, **changes: Any) -> LSTMConfig:
    """``base`` (default: the defaults) with ``changes``, validated like any config (unlike
    ``model_copy(update=...)``, which checks nothing).

    Raises
    ------
    ConfigError
        Naming the first setting that breaks its rule.

    Examples
    --------
    >>> make_config(LSTMConfig(hidden=8), horizon=3).horizon
    3
    >>> make_config(lr=float("inf"))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    coincast.models.config.ConfigError: lr is inf; it must be a finite number > 0 and <= 10, ...
    """
    return LSTMConfig(**{**(base.model_dump() if base is not None else {}), **changes})


# -- errors ---------------------------------------------------------------------------------


class ConfigError(CoincastError):
    """A setting that breaks its rule (``field`` names it; None for a rule of several).

    :meth:`spelled` writes the same message with the setting named as its caller names it:
    ``--lr`` on the command line, ``lr`` in a file.
    """

    def __init__(
        self, message: str, field: str | None = None, value: str = "", example: Any = None
    ) -> None:
        self.field, self.value, self.example = field, value, example
        self.message = message  #: the part after "NAME is VALUE"
        super().__init__(self.spelled(field, None if example is None else f"{field}={example!r}"))

    def spelled(self, name: str | None, example: str | None) -> str:
        """The message for a setting called ``name``, with ``example`` after "e.g."."""
        if name is None:
            return self.message
        tail = f", e.g. {example}" if example else ""
        return f"{name} {self.value}; {self.message}{tail}"


def config_error(exc: ValidationError) -> ConfigError:
    """The first error of a failed :class:`LSTMConfig` validation, in words."""
    e = exc.errors()[0]
    loc = e.get("loc", ())
    msg = str(e.get("msg", exc)).removeprefix("Value error, ")
    if not loc:  # a whole-config rule: its message names the setting (and its flag in .cli)
        cli = getattr(e.get("ctx", {}).get("error"), "cli", None)
        return worded(ConfigError(msg), cli) if cli else ConfigError(msg)
    name = str(loc[0])
    if e.get("type") == "extra_forbidden":
        return ConfigError(f"unknown setting {name!r}; known: {', '.join(LSTMConfig.model_fields)}")
    verb = "holds" if len(loc) > 1 else "is"
    return ConfigError(f"it must be {rule_text(name)}", name, f"{verb} {shown(e.get('input'))}",
                       example_of(name))  # fmt: skip


def shown(value: Any, limit: int = 60) -> str:
    """``value`` as an error message shows it: ``inf``, ``'tpu'``, ``1000000000000``...

    Examples
    --------
    >>> shown(float("nan")), shown("tpu"), shown(list(range(100)))[-12:]
    ('nan', "'tpu'", ' (truncated)')
    """
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "... (truncated)"


#: The rules of the settings whose rule is not a range or a list of choices.
_RULES = {
    "quantiles": f"1 to {lim.MAX_QUANTILES} increasing, distinct levels inside (0, 1)",
    "features": f"a list of distinct names among {', '.join(FEATURES)}",
    "exog": f"a list of up to {lim.MAX_EXOG} distinct coin ids",
    "target_coin": "a coin id, or unset for every coin",
    "threads": f"a whole number from 1 to {lim.MAX_THREADS}, or unset for every core",
}
#: Examples of the settings whose default is None.
_EXAMPLES = {
    "threads": 1,
    "target_coin": "bitcoin",
    "exog": ["bitcoin"],
    "features": ["log_return"],
}


def rule_text(name: str) -> str:
    """The rule of setting ``name`` in words, from its type and bounds.

    Examples
    --------
    >>> rule_text("hidden"), rule_text("lr")
    ('a whole number from 1 to 4096', 'a finite number > 0 and <= 10')
    >>> rule_text("head")
    'point, quantile or gaussian'
    """
    if name == "device":
        return f"{NAMES} (this machine has {', '.join(available_devices())})"
    if name in _RULES:
        return _RULES[name]
    field = LSTMConfig.model_fields[name]
    kind = field.annotation
    if kind is bool:
        return "true or false"
    if typing.get_origin(kind) is Literal:
        names = [str(c) for c in typing.get_args(kind)]
        return f"{', '.join(names[:-1])} or {names[-1]}"
    bounds = {type(m): getattr(m, type(m).__name__.lower()) for m in field.metadata
              if isinstance(m, Ge | Gt | Le | Lt)}  # fmt: skip
    if kind is int:
        return f"a whole number from {bounds[Ge]} to {bounds[Le]}"
    parts = [f"{op} {_num(bounds[t])}" for t, op in ((Gt, ">"), (Ge, ">="), (Lt, "<"), (Le, "<="))
             if t in bounds]  # fmt: skip
    return "a finite number " + " and ".join(parts)


def example_of(name: str) -> Any:
    """A valid value of setting ``name`` to show in an error: its default, or an example."""
    default = LSTMConfig.model_fields[name].get_default(call_default_factory=True)
    if name in _EXAMPLES or default is None:
        return _EXAMPLES.get(name)
    return default


def file_value(value: Any) -> str:
    """``value`` as a TOML or YAML file writes it.

    Examples
    --------
    >>> file_value(0.001), file_value("cpu"), file_value((0.05, 0.5))
    ('0.001', '"cpu"', '[0.05, 0.5]')
    """
    return json.dumps(list(value) if isinstance(value, tuple) else value)


def _num(x: float) -> str:
    return f"{x:g}"
