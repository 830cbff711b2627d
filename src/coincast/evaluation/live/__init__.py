"""The live forecast record: :func:`~.update.update` (one step for cron), and
:func:`~.track.track` (the record's figures, from the ledger only)."""

from __future__ import annotations

from .track import TrackRow, track
from .update import CoinUpdate, UpdateSpec, update, watch

__all__ = ["CoinUpdate", "TrackRow", "UpdateSpec", "track", "update", "watch"]
