"""The training loop: Adam on mini-batches of shuffled windows, early stopping on a validation
slice with the best weights restored, gradient clipping, an optional LR schedule, fixed seeds,
and checkpoints that let an interrupted run resume exactly where it stopped.

It knows nothing about features or prices: it takes a network,
:class:`~coincast.dataset.windows.Windows` and a loss, like minGPT's trainer.
"""

from __future__ import annotations

import ctypes
import json
import logging
import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from ..dataset.windows import Windows, run_net
from ..errors import CoincastError, worded
from .train_checks import TrainingDiverged, check_losses, check_settings

__all__ = ["TrainSettings", "TrainingDiverged", "TrainingInterrupted", "train"]

log = logging.getLogger(__name__)

CHECKPOINT = "checkpoint.safetensors"
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameter numbers
_tuned = False


def tune_allocator() -> bool:
    """Keep glibc from returning memory to the kernel after every training step.

    Each step allocates and frees ~20 MB of activations and gradients; with glibc's default
    thresholds that memory is handed back to the kernel and asked for again every step, which
    halved training speed in BENCHMARKS.md. Raising the mmap threshold to 256 MiB and the trim
    threshold to 1 GiB (what ``GLIBC_TUNABLES`` would set before start-up) keeps it in the
    heap. Done once per process, on glibc only; ``COINCAST_MALLOPT=0`` turns it off.
    Returns whether the thresholds are set.
    """
    global _tuned
    if _tuned or os.environ.get("COINCAST_MALLOPT") == "0" or not sys.platform.startswith("linux"):
        return _tuned
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):  # musl or another libc: nothing to tune
        return False
    _tuned = bool(mallopt(_M_MMAP_THRESHOLD, 256 << 20) and mallopt(_M_TRIM_THRESHOLD, 1 << 30))
    log.debug("glibc malloc thresholds raised: %s", _tuned)
    return _tuned


@dataclass
class TrainSettings:
    """How to train: the optimisation part of :class:`~coincast.models.LSTMConfig`
    (:meth:`~coincast.models.LSTMConfig.training`), then where and how this call runs."""

    epochs: int = 50
    batch: int = 64
    lr: float = 1e-3
    clip: float = 1.0  #: max gradient norm
    patience: int = 10  #: epochs without validation improvement before stopping
    lr_schedule: str = "none"  #: none | cosine | plateau
    seed: int = 0
    log_every: int = 10
    device: torch.device | str = "cpu"
    checkpoint_dir: Path | None = None  #: where ``checkpoint.safetensors`` is written
    resume: bool = False  #: continue from the checkpoint in ``checkpoint_dir``
    fingerprint: str = ""  #: identifies data and config; another's checkpoint is refused
    keep_start: bool = False  #: the starting weights are a candidate too (warm-started refit)


@dataclass
class EpochRecord:
    """One epoch of training history."""

    epoch: int
    train_loss: float
    val_loss: float | None
    seconds: float
    windows: int
    lr: float


@dataclass
class TrainResult:
    """What :func:`train` did."""

    history: list[EpochRecord] = field(default_factory=list)
    best_epoch: int = 0
    stopped_early: bool = False


Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  #: loss(outputs, targets)


class TrainingInterrupted(CoincastError):
    """Training was interrupted; the last completed epoch is checkpointed."""


def train(
    net: nn.Module,
    train_set: Windows,
    val_set: Windows | None,
    loss: Loss,
    settings: TrainSettings,
    *,
    on_epoch: Callable[[EpochRecord], None] | None = None,
) -> TrainResult:
    """Train ``net`` in place and leave the best weights (lowest validation loss) in it.

    Parameters
    ----------
    loss
        ``loss(outputs, targets)``: the head's loss (:meth:`coincast.models.heads.Head.loss`).
    settings
        The optimisation settings, and per call: ``checkpoint_dir`` (a checkpoint after every
        epoch), ``resume`` (continue from it: same seed and data give the same weights as an
        uninterrupted run), ``fingerprint`` (a checkpoint made with another is refused) and
        ``keep_start`` (the starting weights are kept when no new epoch beats them on the
        validation slice, for a warm-started refit).
    on_epoch
        Called with each epoch's record.

    Raises
    ------
    TrainingDiverged
        When an epoch's training or validation loss is NaN or infinite (before that epoch
        is checkpointed or reported).

    Examples
    --------
    >>> import numpy as np
    >>> from coincast.models.heads import PointHead
    >>> from coincast.models.lstm import LSTMNet
    >>> w = Windows(np.zeros((20, 1)), np.zeros((11, 1)), np.arange(9, 20), lookback=10)
    >>> r = train(LSTMNet(1, 4, 1), w, None, PointHead().loss, TrainSettings(2, log_every=0))
    >>> len(r.history)
    2
    """
    check_settings(settings)
    tune_allocator()
    loop = _Loop.start(net, loss, settings)
    state = _start(loop, val_set)
    try:
        while state.epoch < settings.epochs and state.bad_epochs < settings.patience:
            record = _epoch(loop, train_set, val_set, state)
            check_losses(record.epoch, record.train_loss, record.val_loss, settings)
            _step_schedule(loop.sched, record)
            _keep_best(net, state, record)
            if settings.checkpoint_dir is not None:
                _save_checkpoint(settings.checkpoint_dir / CHECKPOINT, loop, state)
            if on_epoch is not None:
                on_epoch(record)
    except KeyboardInterrupt:
        raise _interrupted(state.epoch, settings.checkpoint_dir) from None
    net.load_state_dict(state.best_state)
    return TrainResult(state.history, state.best_epoch, state.bad_epochs >= settings.patience)


@dataclass
class _Loop:
    """What every step of one training call uses."""

    net: nn.Module
    loss: Loss
    settings: TrainSettings
    device: torch.device
    opt: torch.optim.Optimizer
    sched: Any  #: an LR scheduler, or None
    shuffle: torch.Generator  #: draws each epoch's order of windows

    @classmethod
    def start(cls, net: nn.Module, loss: Loss, settings: TrainSettings) -> _Loop:
        device = torch.device(settings.device)
        net.to(device)
        opt = torch.optim.Adam(net.parameters(), lr=settings.lr)
        sched = _scheduler(opt, settings)
        shuffle = torch.Generator().manual_seed(settings.seed)
        return cls(net, loss, settings, device, opt, sched, shuffle)


@dataclass
class _State:
    epoch: int = 0
    best_val: float = float("inf")
    best_epoch: int = 0
    bad_epochs: int = 0
    history: list[EpochRecord] = field(default_factory=list)
    best_state: dict[str, torch.Tensor] = field(default_factory=dict)


def _start(loop: _Loop, val_set: Windows | None) -> _State:
    """The state training starts from: fresh (the start weights scored when they are a
    candidate), or the checkpoint's."""
    s = loop.settings
    state = _State(best_state=_copy_state(loop.net))
    if s.keep_start and val_set is not None and len(val_set):
        start = evaluate(loop.net, val_set, loop.loss, loop.device)
        state.best_val = start if math.isfinite(start) else float("inf")
    if not s.resume:
        return state
    if s.checkpoint_dir is None or not (s.checkpoint_dir / CHECKPOINT).exists():
        head = f"no checkpoint to resume in {s.checkpoint_dir}; train without"
        raise worded(f"{head} resume=True", f"{head} --resume")
    return _load_checkpoint(s.checkpoint_dir / CHECKPOINT, loop)


def _interrupted(epoch: int, checkpoint_dir: Path | None) -> TrainingInterrupted:
    if checkpoint_dir is None:
        return TrainingInterrupted(
            f"training interrupted after epoch {epoch}; no checkpoint was kept"
        )
    head = f"training interrupted after epoch {epoch}; resume with"
    return worded(TrainingInterrupted(f"{head} resume=True"), f"{head} --resume")


def _epoch(loop: _Loop, train_set: Windows, val_set: Windows | None, state: _State) -> EpochRecord:
    t0 = time.perf_counter()
    train_loss, n = _train_pass(loop, train_set)
    val_loss = (
        evaluate(loop.net, val_set, loop.loss, loop.device)
        if val_set is not None and len(val_set)
        else None
    )
    state.epoch += 1
    lr = loop.opt.param_groups[0]["lr"]
    record = EpochRecord(state.epoch, train_loss, val_loss, time.perf_counter() - t0, n, lr)
    state.history.append(record)
    s = loop.settings
    if s.log_every and (state.epoch % s.log_every == 0 or state.epoch == s.epochs):
        log.info("%s", format_epoch(record, s.epochs))
    return record


def _train_pass(loop: _Loop, train_set: Windows) -> tuple[float, int]:
    """One pass over the shuffled training windows: mean loss and windows seen."""
    net, opt, s = loop.net, loop.opt, loop.settings
    net.train()
    order = torch.randperm(len(train_set), generator=loop.shuffle)
    total = torch.zeros((), device=loop.device)
    for i in range(0, len(order), s.batch):
        idx = order[i : i + s.batch]
        xb, yb = train_set.batch(idx)  # (B, L, F) [and (B,) coins], (B, H)
        yb = yb.to(loop.device, non_blocking=True)
        opt.zero_grad(set_to_none=True)
        batch_loss = loop.loss(run_net(net, xb, loop.device), yb)
        batch_loss.backward()
        nn.utils.clip_grad_norm_(net.parameters(), s.clip)
        opt.step()
        total += batch_loss.detach() * len(idx)  # no .item(): keeps the device busy
    return float(total) / max(len(order), 1), len(order)


def format_epoch(record: EpochRecord, epochs: int) -> str:
    """``Epoch [k/N], Loss: x, Val: y`` as in the original notebook.

    Examples
    --------
    >>> r = EpochRecord(10, train_loss=0.5, val_loss=0.25, seconds=1.0, windows=9, lr=1e-3)
    >>> format_epoch(r, 50)
    'Epoch [10/50], Loss: 0.5000, Val: 0.2500'
    """
    val = "" if record.val_loss is None else f", Val: {record.val_loss:.4f}"
    return f"Epoch [{record.epoch}/{epochs}], Loss: {record.train_loss:.4f}{val}"


@torch.no_grad()
def evaluate(net: nn.Module, windows: Windows, loss, device, batch: int = 4096) -> float:
    """Mean loss of ``net`` over ``windows`` (eval mode, no gradients)."""
    net.eval()
    total = 0.0
    for i in range(0, len(windows), batch):
        idx = torch.arange(i, min(i + batch, len(windows)))
        xb, yb = windows.batch(idx)
        total += float(loss(run_net(net, xb, device), yb.to(device))) * len(idx)
    return total / max(len(windows), 1)


def _keep_best(net: nn.Module, state: _State, record: EpochRecord) -> None:
    score = record.val_loss if record.val_loss is not None else record.train_loss
    if score < state.best_val:
        state.best_val, state.best_epoch, state.bad_epochs = score, record.epoch, 0
        state.best_state = _copy_state(net)
    else:
        state.bad_epochs += 1


def _copy_state(net: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in net.state_dict().items()}


def _scheduler(opt: torch.optim.Optimizer, s: TrainSettings):
    if s.lr_schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=s.epochs)
    if s.lr_schedule == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(
            opt, factor=0.5, patience=max(1, s.patience // 3)
        )
    if s.lr_schedule != "none":
        raise CoincastError(f"unknown LR schedule {s.lr_schedule!r}; use none, cosine or plateau")
    return None


def _step_schedule(sched, record: EpochRecord) -> None:
    if isinstance(sched, torch.optim.lr_scheduler.ReduceLROnPlateau):
        sched.step(record.val_loss if record.val_loss is not None else record.train_loss)
    elif sched is not None:
        sched.step()


# -- checkpoints: weights, optimizer moments and RNG states in one safetensors file ----------


def _save_checkpoint(path: Path, loop: _Loop, state: _State) -> None:
    tensors = {f"model.{k}": v.contiguous() for k, v in loop.net.state_dict().items()}
    tensors |= {f"best.{k}": v.contiguous() for k, v in state.best_state.items()}
    opt_state = loop.opt.state_dict()
    for pid, moments in opt_state["state"].items():
        for name, value in moments.items():
            tensors[f"optim.{pid}.{name}"] = (
                torch.as_tensor(value).reshape(-1).clone() if name == "step" else value.contiguous()
            )
    tensors["rng.shuffle"] = loop.shuffle.get_state()
    tensors["rng.torch"] = torch.get_rng_state()
    meta = {
        "fingerprint": loop.settings.fingerprint,
        "epoch": str(state.epoch),
        "best_val": repr(state.best_val),
        "best_epoch": str(state.best_epoch),
        "bad_epochs": str(state.bad_epochs),
        "history": json.dumps([asdict(r) for r in state.history]),
        "param_groups": json.dumps(opt_state["param_groups"]),
        "scheduler": json.dumps(loop.sched.state_dict() if loop.sched is not None else None),
    }
    tmp = path.with_name(path.name + ".tmp")
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.cpu() for k, v in tensors.items()}, str(tmp), metadata=meta)
    os.replace(tmp, path)  # atomic: a kill leaves the previous checkpoint intact


def _load_checkpoint(path: Path, loop: _Loop) -> _State:
    from safetensors import safe_open

    try:
        with safe_open(str(path), "pt") as f:
            meta = f.metadata() or {}
        tensors = load_file(str(path))
    except Exception as exc:  # safetensors raises its own errors for damaged files
        head = f"checkpoint {path} cannot be read ({exc}); train without"
        raise worded(f"{head} resume=True", f"{head} --resume") from None
    if meta.get("fingerprint") != loop.settings.fingerprint:
        head = f"checkpoint {path} was made with other data or settings; train without"
        raise worded(f"{head} resume=True", f"{head} --resume")
    try:
        return _restore_checkpoint(tensors, meta, loop)
    except (KeyError, ValueError, TypeError, RuntimeError, IndexError, RecursionError) as exc:
        head = f"checkpoint {path} is damaged ({type(exc).__name__}: {str(exc)[:120]}); train"
        raise worded(f"{head} without resume=True", f"{head} without --resume") from None


def _restore_checkpoint(
    tensors: dict[str, torch.Tensor], meta: dict[str, str], loop: _Loop
) -> _State:
    """Put the loop back where the checkpoint's epoch left it; return that epoch's state."""
    loop.net.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    groups = json.loads(meta["param_groups"])
    moments: dict[int, dict[str, torch.Tensor]] = {}
    for k, v in tensors.items():
        if k.startswith("optim."):
            _, pid, name = k.split(".", 2)
            moments.setdefault(int(pid), {})[name] = v.reshape(()) if name == "step" else v
    loop.opt.load_state_dict({"state": moments, "param_groups": groups})
    if loop.sched is not None and json.loads(meta["scheduler"]) is not None:
        loop.sched.load_state_dict(json.loads(meta["scheduler"]))
    loop.shuffle.set_state(tensors["rng.shuffle"])
    torch.set_rng_state(tensors["rng.torch"])
    return _State(
        epoch=int(meta["epoch"]),
        best_val=float(meta["best_val"]),
        best_epoch=int(meta["best_epoch"]),
        bad_epochs=int(meta["bad_epochs"]),
        history=[EpochRecord(**r) for r in json.loads(meta["history"])],
        best_state={k[5:]: v for k, v in tensors.items() if k.startswith("best.")},
    )
