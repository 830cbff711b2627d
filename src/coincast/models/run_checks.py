"""What a run folder must pass before any of it is trusted: ``run.json`` read within bounds
(size, encoding, nesting), its fields checked against each other and against the config, and
the weights' safetensors header checked against the network the config describes, all
before a tensor is allocated. Every refusal is one :class:`RunError` naming the file and the
field, ending in what to do.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from pydantic import ValidationError

from ..errors import CoincastError
from .config import ConfigError, LSTMConfig, shown
from .lstm import LSTMNet

if TYPE_CHECKING:
    from .runs import RunRecord

#: The largest ``run.json`` read: a record of a few coins and a long history is ~100 kB.
MAX_RECORD_BYTES = 10 << 20
#: The largest safetensors header read: about 150 bytes per tensor, for a dozen tensors.
MAX_HEADER_BYTES = 1 << 20
DAMAGED = "the file was edited or is damaged; retrain with `coincast train`"


class RunError(CoincastError):
    """A run folder that is missing, invalid or tampered with."""


def invalid(path: Path, where: str, problem: str) -> RunError:
    """``PATH is invalid at WHERE: PROBLEM; the file was edited or is damaged...``."""
    return RunError(f"{path} is invalid at {where}: {problem}; {DAMAGED}")


def read_json(path: Path) -> Any:
    """The JSON document in ``path``: at most :data:`MAX_RECORD_BYTES` of UTF-8, nested no
    deeper than Python's JSON reader follows."""
    with path.open("rb") as f:
        data = f.read(MAX_RECORD_BYTES + 1)
    if len(data) > MAX_RECORD_BYTES:
        raise RunError(
            f"{path} is larger than {MAX_RECORD_BYTES >> 20} MiB, more than any run record; "
            f"{DAMAGED}"
        )
    try:
        return json.loads(data.decode("utf-8"), parse_constant=_no_constant)
    except UnicodeDecodeError as exc:
        raise RunError(
            f"{path} is not valid JSON (not UTF-8 text: byte {data[exc.start]:#04x} at offset "
            f"{exc.start}); {DAMAGED}"
        ) from None
    except RecursionError:
        raise RunError(f"{path} is not valid JSON (nested too deep); {DAMAGED}") from None
    except ValueError as exc:
        raise RunError(f"{path} is not valid JSON ({exc}); the file is damaged") from None


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is no JSON number; coincast never writes it")


def schema_error(path: Path, exc: ValidationError | ConfigError) -> RunError:
    """The first error of ``run.json``'s schema, naming the field; a config setting as
    :class:`~coincast.models.config.LSTMConfig` states it, with its rule."""
    if isinstance(exc, ConfigError):
        return invalid(path, "config", str(exc.spelled(exc.field, None)))
    e = exc.errors()[0]
    loc = [str(p) for p in e["loc"]]
    msg = str(e["msg"]).removeprefix("Value error, ")
    if e["type"] not in ("missing", "extra_forbidden") and loc:
        msg = f"{msg} (got {shown(e.get('input'))})"
    return invalid(path, ".".join(loc) or "run.json", msg)


def check_record(path: Path, record: RunRecord) -> None:
    """Check that the fields of a schema-valid ``run.json`` agree with each other and with
    its config: the network's inputs, the coins kept and skipped, one scaler per coin kept
    with one value per input (features) and per step (target), and the data of each."""
    cfg, inputs = record.config, record.config.inputs()
    if record.features != inputs:
        raise invalid(path, "features", f"lists {shown(record.features)}, but the config's "
                      f"inputs are {shown(inputs)}")  # fmt: skip
    _check_coins(path, record)
    kept = [c for c in record.coins if c not in record.skipped]
    for coin, sc in record.scalers.items():
        for part, size, what in (("features", len(inputs), f"inputs ({', '.join(inputs)})"),
                                 ("target", cfg.trained_horizon, "steps of horizon")):  # fmt: skip
            for key in ("mean", "std"):
                n = len(getattr(sc[part], key))
                if n != size:
                    raise invalid(path, f"scalers.{coin}.{part}.{key}",
                                  f"has {n} values; the network has {size} {what}")  # fmt: skip
    if sorted(record.data) != sorted(kept):
        raise invalid(path, "data", f"records {sorted(record.data)}; the coins kept are {kept}")
    for coin, d in record.data.items():
        if d.coin != coin:
            raise invalid(path, f"data.{coin}.coin", f"is {d.coin!r}, not {coin!r}")
    _check_exog(path, record)
    if record.best_epoch > len(record.history):
        raise invalid(path, "best_epoch", f"is {record.best_epoch}, after the last epoch of "
                      f"history ({len(record.history)})")  # fmt: skip


def _check_coins(path: Path, record: RunRecord) -> None:
    coins = record.coins
    if not coins or len(set(coins)) != len(coins):
        raise invalid(path, "coins", f"is {shown(coins)}; it must list each coin once")
    for field in ("skipped", "dropped"):
        stray = [c for c in getattr(record, field) if c not in coins]
        if stray:
            raise invalid(path, field, f"names {stray[0]!r}, which is not among coins {coins}")
    kept = [c for c in coins if c not in record.skipped]
    if sorted(record.scalers) != sorted(kept):
        raise invalid(path, "scalers", f"has scalers of {sorted(record.scalers)}; the coins "
                      f"kept are {kept}")  # fmt: skip
    target = record.config.target_coin
    if target is not None and target not in kept:
        raise invalid(path, "config.target_coin", f"is {target!r}, not among the coins kept "
                      f"{kept}")  # fmt: skip


def _check_exog(path: Path, record: RunRecord) -> None:
    wanted = [c for c in record.config.exog if c not in record.coins]
    if sorted(record.exog_data) != sorted(wanted):
        raise invalid(path, "exog_data", f"records {sorted(record.exog_data)}; the config's "
                      f"exog coins not trained on are {wanted}")  # fmt: skip


# -- the weights ---------------------------------------------------------------------------


def expected_tensors(config: LSTMConfig, n_coins: int) -> dict[str, tuple[int, ...]]:
    """Name and shape of every tensor of the network ``config`` describes, for ``n_coins``
    coins, built on PyTorch's meta device: no memory is allocated for them.

    Examples
    --------
    >>> expected_tensors(LSTMConfig(hidden=8, layers=1), 1)["head.weight"]
    (1, 8)
    """
    with torch.device("meta"):
        net = LSTMNet.from_config(config, n_coins=n_coins)
    return {k: tuple(v.shape) for k, v in net.state_dict().items()}


def _data_bytes(tensors: dict[str, tuple[int, ...]]) -> int:
    return sum(4 * math.prod(shape) for shape in tensors.values())  # float32


def check_weights_size(path: Path, tensors: dict[str, tuple[int, ...]]) -> None:
    """Refuse a weights file larger than the network's tensors and a header could be."""
    size, data = path.stat().st_size, _data_bytes(tensors)
    if size > 8 + MAX_HEADER_BYTES + data:
        raise RunError(
            f"{path} has {size:,} bytes, far more than the {data:,} bytes of weights of the "
            f"network in run.json; {DAMAGED}"
        )


def check_weights_header(path: Path, tensors: dict[str, tuple[int, ...]]) -> None:
    """Check the safetensors header of ``path`` against ``tensors`` (name -> shape): the same
    names, float32, the same shapes, and data inside the file; before any tensor is read."""
    header, room = _read_header(path)
    have, want = set(header), set(tensors)
    if have != want:
        lacks, extra = sorted(want - have), sorted(have - want)
        what = f"lacks tensor {lacks[0]}" if lacks else f"holds tensor {extra[0]}, unknown to it"
        raise RunError(f"{path} does not fit the network in run.json: it {what}; {DAMAGED}")
    for name, shape in tensors.items():
        entry = header[name]
        problem = _tensor_problem(entry, shape, room)
        if problem:
            raise RunError(
                f"{path} does not fit the network in run.json: tensor {name} {problem}; {DAMAGED}"
            )


def _read_header(path: Path) -> tuple[dict[str, Any], int]:
    """The header's tensor entries, and the bytes of data the file holds after it."""
    size = path.stat().st_size
    with path.open("rb") as f:
        head = f.read(8)
        if len(head) < 8:
            raise RunError(f"{path} is not a safetensors file: it has only {size} bytes; {DAMAGED}")
        n = int.from_bytes(head, "little")
        if not 0 < n <= min(MAX_HEADER_BYTES, size - 8):
            raise RunError(
                f"{path} is not a safetensors file: its header claims {n:,} bytes, the file "
                f"holds {size:,}; {DAMAGED}"
            )
        raw = f.read(n)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError):
        header = None
    if not isinstance(header, dict) or not all(isinstance(v, dict) for v in header.values()):
        raise RunError(f"{path} is not a safetensors file: its header is no table; {DAMAGED}")
    header.pop("__metadata__", None)
    return header, size - 8 - n


def _tensor_problem(entry: dict[str, Any], shape: tuple[int, ...], room: int) -> str | None:
    """What is wrong with one header entry, in words; None when nothing is."""
    dtype, got, offsets = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
    if dtype != "F32":
        return f"is stored as {shown(dtype)}, the network's tensors are F32 (float32)"
    if not isinstance(got, list) or tuple(got) != shape:
        return f"has shape {shown(got)}; the config in run.json implies {list(shape)}"
    ok = (isinstance(offsets, list) and len(offsets) == 2
          and all(isinstance(x, int) and not isinstance(x, bool) for x in offsets))  # fmt: skip
    if not ok or not 0 <= offsets[0] <= offsets[1]:
        return f"has data offsets {shown(offsets)}, no byte range"
    if offsets[1] > room:
        return f"ends at byte {offsets[1]:,} of data, past the {room:,} the file holds (truncated)"
    if offsets[1] - offsets[0] != 4 * math.prod(shape):
        return f"has {offsets[1] - offsets[0]:,} bytes of data, not {4 * math.prod(shape):,}"
    return None
