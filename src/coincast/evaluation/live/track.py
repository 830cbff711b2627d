"""The live track record, from the ledger only: per coin and run, how the forecasts issued
before their bars existed compare with the naive forecast on the same bars.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import pandas as pd

from ...data.store import Store
from ...data.store.ledger import Ledger
from ..metrics import coverage, directional_accuracy, dm_test


@dataclass(frozen=True)
class TrackRow:
    """The live record of one run forecasting one coin."""

    coin: str
    interval: str
    run: str
    scored: int  #: forecasts whose target bar is stored
    pending: int  #: forecasts still waiting for it
    mae: float | None  #: mean |actual - yhat| over the scored
    naive_mae: float | None  #: mean |actual - last close| over the same bars
    rel_mae: float | None  #: mae / naive_mae (below 1: better than naive)
    coverage: float | None  #: share of actuals inside [lo, hi] (None: no bands)
    dm_p: float | None  #: Diebold-Mariano p-value, absolute loss, model vs naive
    directional: float | None  #: share of moves whose direction the forecast got right
    first: pd.Timestamp | None  #: the first bar scored
    last: pd.Timestamp | None  #: the last bar scored

    def to_dict(self) -> dict[str, object]:
        """JSON-ready dict (times as ISO strings)."""
        d = asdict(self)
        for k in ("first", "last"):
            d[k] = d[k].isoformat() if d[k] is not None else None
        return d


def track(store: Store, coin: str | None = None) -> list[TrackRow]:
    """The live record of every (coin, interval, run) in the ledger, or of one ``coin``.

    Examples
    --------
    >>> with Store(":memory:") as s:
    ...     track(s)
    []
    """
    rows = Ledger(store).rows(coin)
    out = []
    for (c, iv, run), group in rows.groupby(["coin", "interval", "run"], sort=True):
        out.append(_figures(str(c), str(iv), str(run), group))
    return out


def _figures(coin: str, interval: str, run: str, group: pd.DataFrame) -> TrackRow:
    done = group[group["actual"].notna()].sort_values(["target_ts", "step"])
    n = len(done)
    mae = _mean(done["error"]) if n else None
    naive = _mean(done["naive_error"]) if n else None
    banded = done[done["lo"].notna() & done["hi"].notna()]
    cov = coverage(banded["actual"], banded["lo"], banded["hi"]) if len(banded) else None
    h = int(done["step"].max()) if n else 1
    _, p = dm_test(done["error"], done["naive_error"], h=h, power=1) if n else (None, None)
    share, _ = (
        directional_accuracy(done["actual"], done["yhat"], done["last_close"]) if n else (None, 0)
    )
    return TrackRow(
        coin, interval, run, n, len(group) - n, mae, naive,
        mae / naive if mae is not None and naive else None, cov, p, share,
        done["target_ts"].iloc[0] if n else None, done["target_ts"].iloc[-1] if n else None,
    )  # fmt: skip


def _mean(x: pd.Series) -> float | None:
    v = float(x.mean())
    return v if math.isfinite(v) else None


def fmt_figure(x: float | None) -> str:
    """A figure of the track record as ``coincast track`` and the dashboard print it (four
    significant digits, ``-`` for none).

    >>> fmt_figure(1234.5678), fmt_figure(0.012345), fmt_figure(None)
    ('1,235', '0.01235', '-')
    """
    return "-" if x is None else f"{x:,.4g}"


def fmt_share(x: float | None) -> str:
    """A share as ``coincast track`` and the dashboard print it; ``-`` for none.

    >>> fmt_share(0.755), fmt_share(None)
    ('76%', '-')
    """
    return "-" if x is None else f"{x:.0%}"
