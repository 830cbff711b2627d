"""Training many same-shape LSTMs together: :func:`train_batched`.

Each member trains as :func:`coincast.models.training.train` would train it alone: its own
windows in its own order (``torch.randperm`` from a generator seeded with its seed, drawn
once per epoch), its own mini-batch size, Adam with its own learning rate (the formula of
``torch.optim.Adam``, bias correction included, on the member's rows of the stacked
weights), its gradient clipped by the norm over all of its own weights, and early stopping
on its own validation loss, after which its weights stay at its best epoch and it stops
costing compute. The members run in lock-step epochs: step ``s`` of an epoch takes batch
``s`` of every member that still has one.

Not supported (refused with a message): LR schedules, checkpoints and resuming, warm starts
(``keep_start``), dropout between layers, coin embeddings, and members on different devices.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

from ..dataset.windows import Windows
from ..errors import CoincastError
from .batched import BatchedLSTM, ShapeMismatch
from .lstm import LSTMNet
from .train_checks import check_losses, check_settings
from .training import EpochRecord, TrainResult, TrainSettings, tune_allocator

__all__ = ["Member", "MemberResult", "train_batched"]

BETA1, BETA2, EPS = 0.9, 0.999, 1e-8  #: torch.optim.Adam's defaults, as training.py uses


@dataclass
class Member:
    """One model of a batched training: its windows and its settings (epochs, batch, lr,
    clip, patience, seed)."""

    train: Windows
    val: Windows | None
    settings: TrainSettings


@dataclass
class MemberResult(TrainResult):
    """What :func:`train_batched` did to one member, as :class:`TrainResult`, plus its best
    weights (an LSTMNet ``state_dict``) and the error that stopped it, if one did (a
    diverged member is frozen at its best epoch; the others train on)."""

    best_state: dict[str, torch.Tensor] = field(default_factory=dict)
    error: str | None = None


def _check(members: Sequence[Member], net: BatchedLSTM) -> None:
    if len(members) != net.members:
        raise ShapeMismatch(f"{len(members)} members for a network of {net.members}")
    devices = {str(torch.device(m.settings.device)) for m in members}
    if len(devices) > 1:
        raise CoincastError(f"members on several devices {sorted(devices)}; use one")
    for k, m in enumerate(members):
        s = m.settings
        check_settings(s)
        unsupported = {"lr_schedule": s.lr_schedule != "none", "checkpoint_dir":
                       s.checkpoint_dir is not None, "resume": s.resume,
                       "keep_start": s.keep_start}  # fmt: skip
        bad = [name for name, on in unsupported.items() if on]
        if bad:
            raise CoincastError(
                f"member {k} sets {', '.join(bad)}; batched training does not support it "
                "(train that member alone with models.training.train)"
            )
        for name, w in (("training", m.train), ("validation", m.val)):
            if w is None:
                continue
            if w.coins is not None:
                raise ShapeMismatch(f"member {k}'s {name} windows have coins (an embedding)")
            if w.x.shape[1] != net.input_size or w.lookback != members[0].train.lookback:
                raise ShapeMismatch(
                    f"member {k}'s {name} windows are {w.lookback} x {w.x.shape[1]} "
                    f"(lookback x features); the members need "
                    f"{members[0].train.lookback} x {net.input_size}"
                )
        if not len(m.train):
            raise CoincastError(f"member {k} has no training windows")


def _gather(sets: list[Windows], idx: list[torch.Tensor], device) -> tuple:
    """Inputs (K, Bmax, L, F) zero-padded, targets per member, and each member's count."""
    xs, ys = zip(*(w.batch(i) for w, i in zip(sets, idx, strict=True)), strict=True)
    n = [len(i) for i in idx]
    top = max(n)
    if min(n) == top:
        return torch.stack(xs).to(device), list(ys), n
    x = xs[0].new_zeros(len(xs), top, *xs[0].shape[1:])
    for k, xk in enumerate(xs):
        x[k, : len(xk)] = xk
    return x.to(device), list(ys), n


def _losses(loss, out: torch.Tensor, ys: list[torch.Tensor], n: list[int], device):
    """Each member's mean loss over its own windows (padding left out): (K,)."""
    if min(n) == max(n):  # one vectorised loss over the members
        return torch.func.vmap(loss)(out, torch.stack(ys).to(device))
    return torch.stack([loss(out[k, : n[k]], ys[k].to(device)) for k in range(len(n))])


@torch.no_grad()
def _evaluate(net: BatchedLSTM, sets: list[Windows], who: list[int], loss, device,
              batch: int = 4096) -> dict[int, float]:  # fmt: skip
    """Mean validation loss of members ``who`` on their sets, chunked as ``evaluate`` is."""
    net.eval()
    total = dict.fromkeys(who, 0.0)
    top = max(len(sets[k]) for k in who)
    for start in range(0, top, batch):
        ks = [k for k in who if len(sets[k]) > start]
        idx = [torch.arange(start, min(start + batch, len(sets[k]))) for k in ks]
        x, ys, n = _gather([sets[k] for k in ks], idx, device)
        out = net(x, torch.tensor(ks, device=device))
        for j, k in enumerate(ks):
            total[k] += float(loss(out[j, : n[j]], ys[j].to(device))) * n[j]
    return {k: total[k] / max(len(sets[k]), 1) for k in who}


class _Adam:
    """``torch.optim.Adam`` (single-tensor CPU formula) on stacked weights, one learning
    rate and one step count per member; only the rows of the members given move."""

    def __init__(self, params: list[nn.Parameter], lr: torch.Tensor) -> None:
        self.params, self.lr = params, lr.double()
        self.m = [torch.zeros_like(p) for p in params]
        self.v = [torch.zeros_like(p) for p in params]
        self.steps = torch.zeros(len(lr), dtype=torch.float64)

    @torch.no_grad()
    def step(self, rows: torch.Tensor) -> None:
        self.steps[rows] += 1
        t = self.steps[rows]
        bc1, bc2_sqrt = 1 - BETA1**t, (1 - BETA2**t).sqrt()  # float64, as Python floats are
        neg_step = (-(self.lr[rows] / bc1)).float()
        bc2_sqrt = bc2_sqrt.float()
        whole = len(rows) == len(self.lr)  # every member moves: in place, no copies
        for p, m, v in zip(self.params, self.m, self.v, strict=True):
            shape = (-1,) + (1,) * (p.dim() - 1)
            if whole:
                g, mk, vk, pk = p.grad, m, v, p
            else:
                g = p.grad.index_select(0, rows)
                mk, vk, pk = (
                    m.index_select(0, rows),
                    v.index_select(0, rows),
                    p.index_select(0, rows),
                )
            mk.lerp_(g, 1 - BETA1)
            vk.mul_(BETA2).addcmul_(g, g, value=1 - BETA2)
            denom = (vk.sqrt() / bc2_sqrt.view(shape)).add_(EPS)
            pk.add_(neg_step.view(shape) * mk / denom)
            if not whole:
                m.index_copy_(0, rows, mk)
                v.index_copy_(0, rows, vk)
                p.index_copy_(0, rows, pk)


@torch.no_grad()
def _clip(params: list[nn.Parameter], rows: torch.Tensor, max_norm: torch.Tensor) -> None:
    """``clip_grad_norm_`` per member: each member's rows scaled by its own total norm."""
    whole = len(rows) == len(max_norm)
    grads = [p.grad if whole else p.grad.index_select(0, rows) for p in params]
    norms = torch.stack([torch.linalg.vector_norm(g.flatten(1), dim=1) for g in grads])  # (P, K)
    total = torch.linalg.vector_norm(norms, dim=0)  # (K,)
    coef = (max_norm[rows] / (total + 1e-6)).clamp(max=1.0)
    for p, g in zip(params, grads, strict=True):
        g.mul_(coef.view(-1, *[1] * (p.dim() - 1)))
        if not whole:
            p.grad.index_copy_(0, rows, g)


def train_batched(
    net: BatchedLSTM | Sequence[LSTMNet],
    members: Sequence[Member],
    loss=None,
) -> tuple[BatchedLSTM, list[MemberResult]]:
    """Train every member of ``net`` (a :class:`BatchedLSTM`, or LSTMNets to stack) on its
    own :class:`Member` data and settings; leave each member's best weights in the network.

    ``loss`` is ``loss(outputs, targets)`` of one member's batch, by default the members'
    head's loss. Returns the network and one :class:`MemberResult` per member (history,
    best epoch, early stop, best weights).

    Raises
    ------
    ShapeMismatch
        When the nets differ in shape, or a member's windows do not fit the network.
    CoincastError
        When a member's settings are refused (see the module docstring).
    """
    if not isinstance(net, BatchedLSTM):
        net = BatchedLSTM.from_nets(net)
    members = list(members)
    _check(members, net)
    tune_allocator()
    loss = loss or net.kind.loss
    device = torch.device(members[0].settings.device)
    net.to(device)
    params = list(net.parameters())
    s = [m.settings for m in members]
    opt = _Adam(params, torch.tensor([x.lr for x in s]))
    clip = torch.tensor([x.clip for x in s], device=device, dtype=torch.float32)
    gens = [torch.Generator().manual_seed(x.seed) for x in s]
    results = [MemberResult() for _ in members]
    best_val = [math.inf] * len(members)
    bad = [0] * len(members)
    best = {k: v.detach().clone() for k, v in net.state_dict().items()}
    epoch = 0
    while True:
        live = [
            k
            for k in range(len(members))
            if results[k].error is None and epoch < s[k].epochs and bad[k] < s[k].patience
        ]
        if not live:
            break
        epoch += 1
        t0 = time.perf_counter()
        train_loss = _train_epoch(net, opt, clip, members, gens, live, loss, device)
        vals = [k for k in live if members[k].val is not None and len(members[k].val)]
        val_loss = _evaluate(net, [m.val for m in members], vals, loss, device) if vals else {}
        seconds = time.perf_counter() - t0
        improved = []
        for k in live:
            rec = EpochRecord(epoch, train_loss[k], val_loss.get(k), seconds,
                              len(members[k].train), s[k].lr)  # fmt: skip
            try:
                check_losses(epoch, rec.train_loss, rec.val_loss, s[k])
            except CoincastError as exc:  # this member diverged: back to its best, frozen
                results[k].error = str(exc)
                _restore(net, best, k)
                continue
            results[k].history.append(rec)
            score = rec.val_loss if rec.val_loss is not None else rec.train_loss
            if score < best_val[k]:
                best_val[k], results[k].best_epoch, bad[k] = score, epoch, 0
                improved.append(k)
            else:
                bad[k] += 1
        if improved:
            rows = torch.tensor(improved, device=device)
            for name, v in net.state_dict().items():
                best[name].index_copy_(0, rows, v.index_select(0, rows))
    net.load_state_dict(best)
    for k, r in enumerate(results):
        r.stopped_early = bad[k] >= s[k].patience
        r.best_state = net.member_state(k)
    return net.eval(), results


def _restore(net: BatchedLSTM, best: dict[str, torch.Tensor], k: int) -> None:
    with torch.no_grad():
        for name, v in net.state_dict().items():
            v[k] = best[name][k]


def _train_epoch(net, opt, clip, members, gens, live, loss, device) -> dict[int, float]:
    """One lock-step epoch of the ``live`` members: their mean training loss."""
    net.train()
    orders = {k: torch.randperm(len(members[k].train), generator=gens[k]) for k in live}
    starts = {k: list(range(0, len(orders[k]), members[k].settings.batch)) for k in live}
    total = {k: torch.zeros((), device=device) for k in live}
    for step in range(max(len(v) for v in starts.values())):
        ks = [k for k in live if step < len(starts[k])]
        idx = []
        for k in ks:
            i, b = starts[k][step], members[k].settings.batch
            idx.append(orders[k][i : i + b])
        x, ys, n = _gather([members[k].train for k in ks], idx, device)
        rows = torch.tensor(ks, device=device)
        for p in net.parameters():
            p.grad = None
        out = net(x, None if len(ks) == net.members else rows)
        per = _losses(loss, out, ys, n, device)
        per.sum().backward()  # members share no weights: each gets its own gradient
        _clip(opt.params, rows, clip)
        opt.step(rows)
        for j, k in enumerate(ks):
            total[k] += per[j].detach() * n[j]
    return {k: float(total[k]) / max(len(orders[k]), 1) for k in live}
