"""Run folders: ``runs/<name>/model.safetensors`` (weights only, never pickle) and
``run.json`` (full config, features, scaler parameters, data range and hash, package
versions, training history and metrics). Loading validates ``run.json`` (its schema, then its
fields against each other: :mod:`~coincast.models.run_checks`), and checks the weights' size,
SHA-256 and safetensors header against the network the config describes before reading them,
so a tampered, truncated or crafted run is refused before a tensor is allocated.
"""

from __future__ import annotations

import hashlib
import os
import platform
import re
from dataclasses import asdict, fields
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Annotated, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from ..errors import worded
from .config import ConfigError
from .forecaster import LSTMConfig, LSTMForecaster
from .limits import MAX_EPOCHS
from .run_checks import (
    RunError,
    check_record,
    check_weights_header,
    check_weights_size,
    expected_tensors,
    read_json,
    schema_error,
)
from .state import FittedState
from .training import EpochRecord, TrainResult

__all__ = ["RunError", "RunRecord", "check_run_name", "load_run", "read_record", "save_run"]

FORMAT = "coincast-run/2"
WEIGHTS = "model.safetensors"
RECORD = "run.json"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_STATE_FIELDS = {f.name for f in fields(FittedState)}  #: keys of run.json it restores


Finite = Annotated[float, Field(allow_inf_nan=False)]
Spread = Annotated[float, Field(allow_inf_nan=False, gt=0)]
SHA256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
STRICT = ConfigDict(extra="forbid", strict=True)  # "300" is no number, 1 is no true


class DataRecord(BaseModel):
    """The data a model was trained on."""

    model_config = STRICT
    source: str
    coin: str
    quote: str
    interval: str
    start: str | None
    end: str | None
    rows: int = Field(ge=0)
    sha256: SHA256


class ScalerRecord(BaseModel):
    """Scaler parameters (fit on the training slice only): finite means, spreads > 0."""

    model_config = STRICT
    mean: list[Finite]
    std: list[Spread]


class EpochLine(BaseModel):
    """One epoch of ``history``: the fields of :class:`~coincast.models.training.EpochRecord`
    (losses None in runs saved by versions that let a loss become NaN)."""

    model_config = STRICT
    epoch: int = Field(ge=1)
    train_loss: float | None
    val_loss: float | None
    seconds: float
    windows: int = Field(ge=0)
    lr: float


class WeightsRecord(BaseModel):
    """Which file holds the weights, and its SHA-256."""

    model_config = STRICT
    file: Literal["model.safetensors"]
    sha256: SHA256


class RunRecord(BaseModel):
    """The schema of ``run.json`` (version 2: one or several coins).

    ``coins`` to ``dropped`` are the fields of :class:`~coincast.models.state.FittedState`,
    by the same names.
    """

    model_config = STRICT
    format: Literal["coincast-run/2"]
    name: str
    created: str
    model: Literal["lstm"]
    config: LSTMConfig
    coins: list[str]  #: coins trained on, in coin-embedding order
    features: list[str]  #: the network's input columns
    scalers: dict[str, dict[Literal["features", "target"], ScalerRecord]]  #: per coin
    data: dict[str, DataRecord]  #: per coin trained on
    exog_data: dict[str, DataRecord]  #: per exog coin not trained on
    skipped: list[str]
    dropped: dict[str, int] = {}  #: per coin, bars without exog bars (older runs: none kept)
    packages: dict[str, str]
    history: list[EpochLine] = Field(max_length=MAX_EPOCHS)
    best_epoch: int = Field(ge=0)
    stopped_early: bool
    metrics: dict[str, float | str | None]  #: validation figures; val_of says whose
    weights: WeightsRecord


def check_run_name(name: str) -> str:
    """Return ``name`` if it is a safe folder name (letters, digits, ``._-``; no paths)."""
    if not _NAME.match(name) or name in (".", "..") or ".." in name:
        raise RunError(
            f"run name {name!r} is not allowed: use letters, digits, '.', '_' and '-' "
            "(no '/' or '..'), e.g. btc-1d"
        )
    return name


def save_run(forecaster: LSTMForecaster, folder: str | Path) -> Path:
    """Write ``model.safetensors`` and ``run.json`` into ``folder`` (created if needed).

    The weights are written first and ``run.json`` last, each atomically, so a folder with
    a ``run.json`` always holds the weights it describes.

    Examples
    --------
    >>> import tempfile
    >>> from coincast.data.sources import predictable_candles
    >>> f = LSTMForecaster(epochs=1, hidden=8, layers=1, log_every=0).fit(predictable_candles(200))
    >>> folder = save_run(f, Path(tempfile.mkdtemp()) / "demo")
    >>> sorted(p.name for p in folder.iterdir())
    ['model.safetensors', 'run.json']
    >>> load_run(folder).config.hidden
    8
    """
    folder = Path(folder)
    check_run_name(folder.name)
    net = forecaster._fitted()
    folder.mkdir(parents=True, exist_ok=True)
    weights = folder / WEIGHTS
    tmp = folder / (WEIGHTS + ".tmp")
    save_file({k: v.contiguous().cpu() for k, v in net.state_dict().items()}, str(tmp))
    os.replace(tmp, weights)
    record = RunRecord(
        format=FORMAT,
        name=folder.name,
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        model="lstm",
        config=forecaster.config,
        **forecaster.state.to_record(),
        packages=package_versions(),
        history=[asdict(r) for r in forecaster.result.history],
        best_epoch=forecaster.result.best_epoch,
        stopped_early=forecaster.result.stopped_early,
        metrics=forecaster.metrics,
        weights={"file": WEIGHTS, "sha256": _sha256(weights)},
    )
    _write_atomic(folder / RECORD, record.model_dump_json(indent=2))
    return folder


def load_run(folder: str | Path) -> LSTMForecaster:
    """Load a run folder written by :func:`save_run`.

    Raises
    ------
    RunError
        When the folder or a file is missing, ``run.json`` is invalid or its fields disagree,
        or the weights are not the file it describes (size, SHA-256, tensor names, dtypes or
        shapes): each before a tensor is allocated.

    Examples
    --------
    >>> try:
    ...     load_run("no/such/run")
    ... except RunError as exc:
    ...     print(str(exc).split(";")[0])
    no run folder no/such/run
    """
    folder = Path(folder)
    record = read_record(folder)
    weights = folder / record.weights.file
    if not weights.is_file():
        raise RunError(f"{weights} is missing; the run folder is incomplete")
    tensors = expected_tensors(record.config, len(record.coins))
    check_weights_size(weights, tensors)
    if _sha256(weights) != record.weights.sha256:
        raise RunError(
            f"{weights} does not match run.json (SHA-256 differs): the file was changed or "
            "truncated; retrain or restore the run folder"
        )
    check_weights_header(weights, tensors)
    try:
        state = load_file(str(weights))  # safetensors: tensors only, no code runs
    except (SafetensorError, OSError) as exc:
        raise RunError(f"{weights} is not a safetensors file ({exc})") from None
    return _forecaster(record, state, weights)


def _forecaster(record: RunRecord, state: dict[str, torch.Tensor], weights: Path) -> LSTMForecaster:
    """The forecaster ``record`` describes, with the weights ``state`` read from ``weights``."""
    f = LSTMForecaster(record.config)
    f.state = FittedState.from_record(record.model_dump(include=_STATE_FIELDS))
    f.net = f._new_net()
    try:
        f.net.load_state_dict(state)
    except RuntimeError as exc:
        raise RunError(
            f"{weights} does not fit the network in run.json: {str(exc)[:200]}"
        ) from None
    f.net.eval()
    f.metrics = dict(record.metrics)
    f.result = TrainResult(
        [EpochRecord(**h.model_dump()) for h in record.history],
        record.best_epoch,
        record.stopped_early,
    )
    return f


def read_record(folder: Path) -> RunRecord:
    """Read and validate ``run.json`` of a run folder: its schema, then its fields against
    each other and the config (:func:`~coincast.models.run_checks.check_record`)."""
    if "\x00" in str(folder):
        raise RunError(f"run folder {str(folder)!r} contains a NUL character; name a folder")
    path = folder / RECORD
    if not folder.is_dir():
        raise worded(
            RunError(
                f"no run folder {folder}; train a model and save it there: "
                f"LSTMForecaster(...).fit(frame).save({str(folder)!r})"
            ),
            f"no run folder {folder}; train one with `coincast train COIN --out {folder}`",
        )
    if not path.is_file():
        raise RunError(f"{folder} has no run.json; it is not a coincast run folder")
    data = read_json(path)
    if isinstance(data, dict) and data.get("format") == "coincast-run/1":
        data = _from_v1(data)
    try:
        record = RunRecord.model_validate(data)
    except (ValidationError, ConfigError) as exc:
        raise schema_error(path, exc) from None
    except RecursionError:
        raise RunError(f"{path} is invalid: it nests too deep; the file is damaged") from None
    check_record(path, record)
    return record


def _from_v1(data: dict) -> dict:
    """A one-coin run written by coincast 0.1 (``coincast-run/1``), in today's shape."""
    old = data.get("data")
    coin = str(old.get("coin", "")) if isinstance(old, dict) else ""
    return {
        **data,
        "format": FORMAT,
        "coins": [coin],
        "scalers": {coin: data.get("scalers")},
        "data": {coin: old},
        "exog_data": {},
        "skipped": [],
    }


def package_versions() -> dict[str, str]:
    """Versions of Python and the packages a result depends on."""
    out = {"python": platform.python_version(), "torch": torch.__version__}
    for name in ("coincast", "numpy", "pandas", "safetensors"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "unknown"
    return out


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
