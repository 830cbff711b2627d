"""The LSTM's settings: one validated object, stored whole in every run folder."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..dataset.features import check_features
from ..dataset.panel import exog_name
from ..errors import CoincastError
from .heads import DEFAULT_QUANTILES
from .training import TrainSettings


class LSTMConfig(BaseModel):
    """Everything that defines an LSTM run; stored whole in ``run.json``."""

    model_config = ConfigDict(extra="forbid")

    lookback: int = Field(30, ge=1, description="input steps per window")
    horizon: int = Field(1, ge=1, description="steps forecast at once")
    hidden: int = Field(64, ge=1, description="LSTM hidden units per layer")
    layers: int = Field(2, ge=1, description="stacked LSTM layers")
    dropout: float = Field(0.0, ge=0.0, lt=1.0, description="dropout between LSTM layers")
    epochs: int = Field(50, ge=1, description="maximum epochs")
    batch: int = Field(64, ge=1, description="windows per mini-batch")
    lr: float = Field(1e-3, gt=0.0, description="Adam learning rate")
    target: Literal["returns", "price"] = Field("returns", description="what the LSTM learns")
    head: Literal["point", "quantile", "gaussian"] = Field("point", description="output head")
    quantiles: tuple[float, ...] = Field(DEFAULT_QUANTILES, description="quantile head levels")
    features: list[str] | None = Field(None, description="inputs; default by target")
    recursive: bool = Field(False, description="one-step model applied step by step")
    val_fraction: float = Field(0.1, ge=0.0, lt=0.9, description="last windows for validation")
    patience: int = Field(10, ge=1, description="early-stopping patience in epochs")
    clip: float = Field(1.0, gt=0.0, description="max gradient norm")
    lr_schedule: Literal["none", "cosine", "plateau"] = "none"
    seed: int = Field(0, description="same seed and data give the same model")
    threads: int | None = Field(None, ge=1, description="CPU threads (default: all cores)")
    device: str = Field("auto", description="auto, cpu or cuda")
    log_every: int = Field(10, ge=0, description="epochs between loss lines (0: none)")
    target_coin: str | None = Field(
        None, description="the coin to forecast when training on several (default: all)"
    )
    coin_embedding: bool = Field(True, description="learn a vector per coin (several coins)")
    embed_dim: int = Field(4, ge=1, description="numbers per coin in the coin embedding")
    exog: list[str] = Field([], description="coins whose returns are extra inputs")
    on_short: Literal["error", "skip"] = Field(
        "error", description="a coin too short for the lookback: error, or skip it"
    )

    @field_validator("quantiles")
    @classmethod
    def _quantiles(cls, q: tuple[float, ...]) -> tuple[float, ...]:
        if not q or any(not 0 < x < 1 for x in q) or list(q) != sorted(set(q)):
            raise ValueError("quantiles must be increasing, distinct and inside (0, 1)")
        return q

    @model_validator(mode="after")
    def _defaults(self) -> LSTMConfig:
        if self.features is None:
            self.features = ["log_return"] if self.target == "returns" else ["close"]
        try:
            check_features(self.features)
        except CoincastError as exc:
            raise ValueError(str(exc)) from None
        if self.recursive and self.exog:
            raise ValueError(
                "recursive mode cannot forecast the --exog coins' inputs; use direct mode"
            )
        if len(set(self.exog)) != len(self.exog):
            raise ValueError(f"exog lists a coin twice: {self.exog}")
        if self.recursive and self.features != _own_feature(self.target):
            raise ValueError(
                f"recursive mode feeds forecasts back as inputs, so features must be "
                f"{_own_feature(self.target)} for target {self.target!r}"
            )
        return self

    def training(self) -> TrainSettings:
        """The optimisation settings."""
        return TrainSettings(
            self.epochs, self.batch, self.lr, self.clip, self.patience,
            self.lr_schedule, self.seed, self.log_every,
        )  # fmt: skip

    def inputs(self) -> list[str]:
        """Names of the network's input columns: the features, then one per exog coin."""
        return [*self.features, *(exog_name(c) for c in self.exog)]

    @property
    def trained_horizon(self) -> int:
        """Steps the network outputs: 1 in recursive mode."""
        return 1 if self.recursive else self.horizon


def _own_feature(target: str) -> list[str]:
    return ["log_return"] if target == "returns" else ["close"]


def _first_error(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        e = errors()[0]
        where = ".".join(str(p) for p in e.get("loc", ()))
        msg = str(e.get("msg", exc)).removeprefix("Value error, ")
        if not where:  # a whole-config rule: its message names the setting
            return msg
        return f"{where}: {msg} (got {e.get('input')!r})"
    return str(exc)
