"""The live track record as the dashboard shows it: the figures of
:func:`coincast.evaluation.live.track` (never computed again here), one record's forecasts
from the ledger (the numbers formatted as ``coincast track`` does: ``fmt_figure`` and
``fmt_share`` of :mod:`coincast.evaluation.live.track`)."""

from __future__ import annotations

import pandas as pd

from ...data.store import Store
from ...data.store.ledger import Ledger
from ...evaluation.live.track import TrackRow, track
from .safety import NotFound


def summary(store: Store) -> list[TrackRow]:
    """The live record of every (coin, interval, run) in the store's ledger (``[]`` when
    the store has none), as ``coincast track`` prints it."""
    return track(store)


def record(store: Store, coin: str, interval: str, run: str) -> tuple[TrackRow, pd.DataFrame]:
    """The figures of one run forecasting one coin at one interval, and its forecasts (each
    with its outcome once scored), in the order issued.

    Raises
    ------
    NotFound
        When the ledger holds no forecast of ``run`` for ``coin`` at ``interval``.

    Examples
    --------
    >>> with Store(":memory:") as s:
    ...     record(s, "bitcoin", "1d", "btc")
    Traceback (most recent call last):
    coincast.reporting.web.safety.NotFound: no live forecasts of run 'btc' for bitcoin 1d
    """
    rows = [r for r in track(store, coin) if (r.interval, r.run) == (interval, run)]
    if not rows:
        raise NotFound(f"no live forecasts of run {run!r} for {coin} {interval}")
    table = Ledger(store).rows(coin)
    table = table[(table["interval"] == interval) & (table["run"] == run)]
    return rows[0], table.reset_index(drop=True)
