"""What the training loop refuses: settings that are no numbers or absurd numbers, before the
first step, and an epoch whose loss is NaN or infinite, before anything of it is kept."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from ..errors import CoincastError, worded
from . import limits as lim

if TYPE_CHECKING:
    from .training import TrainSettings


class TrainingDiverged(CoincastError):
    """The loss became NaN or infinite; the epoch's weights are not kept."""


#: (setting, lowest, highest) of the whole-number settings of the loop.
_WHOLE = (
    ("epochs", 1, lim.MAX_EPOCHS),
    ("batch", 1, lim.MAX_BATCH),
    ("patience", 1, lim.MAX_EPOCHS),
    ("log_every", 0, lim.MAX_EPOCHS),
    ("seed", 0, lim.MAX_SEED),
)


def check_settings(s: TrainSettings) -> None:
    """Raise :class:`CoincastError` naming the first setting of ``s`` that breaks its rule
    (the rules of :class:`~coincast.models.config.LSTMConfig`)."""
    for name, lo, hi in _WHOLE:
        value = getattr(s, name)
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            raise CoincastError(
                f"TrainSettings.{name} is {value!r}; it must be a whole number from {lo} to {hi}"
            )
    for name, hi in (("lr", lim.MAX_LR), ("clip", math.inf)):
        value = getattr(s, name)
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if not (ok and math.isfinite(value) and 0 < value <= hi):
            upper = "" if hi == math.inf else f" and <= {hi:g}"
            raise CoincastError(
                f"TrainSettings.{name} is {value!r}; it must be a finite number > 0{upper}"
            )


def check_losses(epoch: int, train_loss: float, val_loss: float | None, s: TrainSettings) -> None:
    """Raise :class:`TrainingDiverged` when an epoch's training or validation loss is NaN or
    infinite: the weights have blown up, or the data holds values far outside the range the
    scalers were fit on. The message says which loss and what to change."""
    if not math.isfinite(train_loss):
        head = f"training diverged: the training loss became {train_loss} at epoch {epoch}"
        tail = "or check the data for absurd values; nothing was saved"

        def says(lr: str, clip: str) -> str:
            return f"{head}; lower {lr} (now {s.lr:g}) or {clip} (now {s.clip:g}), {tail}"

        raise worded(TrainingDiverged(says("lr", "clip")), says("--lr", "--clip"))
    if val_loss is not None and not math.isfinite(val_loss):
        head = (
            f"training diverged: the validation loss became {val_loss} at epoch {epoch} "
            f"(training loss {train_loss:.4g}); the validation bars lie far outside the range "
            "of the training bars (check the data for absurd values), or lower"
        )
        tail = f" (now {s.lr:g}); nothing was saved"
        raise worded(TrainingDiverged(f"{head} lr{tail}"), f"{head} --lr{tail}")
