"""Run folders: ``runs/<name>/model.safetensors`` (weights only, never pickle) and
``run.json`` (full config, features, scaler parameters, data range and hash, package
versions, training history and metrics). Loading validates ``run.json`` and checks the
weights' SHA-256 before reading them, so a tampered or truncated run is refused.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
from dataclasses import asdict, fields
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Literal

import torch
from pydantic import BaseModel, ConfigDict, ValidationError
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from ..errors import CoincastError
from .forecaster import LSTMConfig, LSTMForecaster
from .state import FittedState
from .training import EpochRecord, TrainResult

FORMAT = "coincast-run/2"
WEIGHTS = "model.safetensors"
RECORD = "run.json"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_STATE_FIELDS = {f.name for f in fields(FittedState)}  #: keys of run.json it restores


class RunError(CoincastError):
    """A run folder that is missing, invalid or tampered with."""


class DataRecord(BaseModel):
    """The data a model was trained on."""

    model_config = ConfigDict(extra="forbid")
    source: str
    coin: str
    quote: str
    interval: str
    start: str | None
    end: str | None
    rows: int
    sha256: str


class ScalerRecord(BaseModel):
    """Scaler parameters (fit on the training slice only)."""

    model_config = ConfigDict(extra="forbid")
    mean: list[float]
    std: list[float]


class RunRecord(BaseModel):
    """The schema of ``run.json`` (version 2: one or several coins).

    ``coins`` to ``dropped`` are the fields of :class:`~coincast.models.state.FittedState`,
    by the same names.
    """

    model_config = ConfigDict(extra="forbid")
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
    history: list[dict[str, float | int | None]]
    best_epoch: int
    stopped_early: bool
    metrics: dict[str, float | str | None]  #: validation figures; val_of says whose
    weights: dict[Literal["file", "sha256"], str]


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
        When the folder or a file is missing, ``run.json`` is invalid, or the weights do not
        match the SHA-256 recorded in it.
    """
    folder = Path(folder)
    record = read_record(folder)
    weights = folder / record.weights["file"]
    if Path(record.weights["file"]).name != record.weights["file"] or not weights.is_file():
        raise RunError(f"{weights} is missing; the run folder is incomplete")
    if _sha256(weights) != record.weights["sha256"]:
        raise RunError(
            f"{weights} does not match run.json (SHA-256 differs): the file was changed or "
            "truncated; retrain or restore the run folder"
        )
    try:
        state = load_file(str(weights))  # safetensors: tensors only, no code runs
    except (SafetensorError, OSError) as exc:
        raise RunError(f"{weights} is not a safetensors file ({exc})") from None
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
        [EpochRecord(**h) for h in record.history], record.best_epoch, record.stopped_early
    )
    return f


def read_record(folder: Path) -> RunRecord:
    """Read and validate ``run.json`` of a run folder."""
    path = folder / RECORD
    if not folder.is_dir():
        raise RunError(
            f"no run folder {folder}; train one with `coincast train COIN --out {folder}`"
        )
    if not path.is_file():
        raise RunError(f"{folder} has no run.json; it is not a coincast run folder")
    try:
        data = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as exc:
        raise RunError(f"{path} is not valid JSON ({exc}); the file is damaged") from None
    if isinstance(data, dict) and data.get("format") == "coincast-run/1":
        data = _from_v1(data)
    try:
        return RunRecord.model_validate(data)
    except ValidationError as exc:
        e = exc.errors()[0]
        where = ".".join(str(p) for p in e["loc"]) or "run.json"
        raise RunError(f"{path} is invalid at {where}: {e['msg']}") from None


def _from_v1(data: dict) -> dict:
    """A one-coin run written by coincast 0.1 (``coincast-run/1``), in today's shape."""
    coin = str((data.get("data") or {}).get("coin", ""))
    return {
        **data,
        "format": FORMAT,
        "coins": [coin],
        "scalers": {coin: data.get("scalers")},
        "data": {coin: data.get("data")},
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
