"""CoinGecko's market_chart answer: checked point by point, then bucketed into bars.

An answer is used only when it is wholly valid: every point a ``[time, value]`` pair inside
the requested ``[from, to]`` seconds (CoinGecko's extra "now" point lies inside it whenever
the range reaches now), every price a finite number > 0, every market cap and volume null or
a finite number >= 0. An empty answer is valid: CoinGecko answers so for a range before the
coin was listed.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from ...errors import SourceError
from ...series import OHLCV_RULES, aggregate, from_ms, make_frame

#: series name -> (what its points are called, what a valid value is, whether it must be > 0)
_SERIES = {
    "prices": ("price points", "a null, non-numeric, non-finite or non-positive price", True),
    "market_caps": ("market-cap points", "a negative, non-numeric or non-finite value", False),
    "total_volumes": ("volume points", "a negative, non-numeric or non-finite value", False),
}


_FAULTS = (
    "are not [time, value] pairs",
    "have a time that is not a number",
    "lie outside that range",
)


def parse_points(data: Any, coin: str, lo_ms: int, hi_ms: int) -> tuple[np.ndarray, ...]:
    """(ts_ms, price, market_cap, volume) of a market_chart answer to a request for
    ``[lo_ms, hi_ms)``, aligned on the price times and sorted; NaN where a cap or volume is
    null or missing.

    Raises
    ------
    SourceError
        Unless the answer is wholly valid (see the module's docstring), naming the coin, the
        range and what was wrong, e.g. "3 of 720 price points have a null ... price".

    Examples
    --------
    >>> ts, price, cap, vol = parse_points(
    ...     {"prices": [[0, 2.0]], "market_caps": [[0, None]], "total_volumes": [[0, 5]]},
    ...     "demo", 0, 1000)
    >>> price.tolist(), cap.tolist(), vol.tolist()
    ([2.0], [nan], [5.0])
    """
    where = (
        f"CoinGecko's market_chart answer for {coin} "
        f"({from_ms(lo_ms):%Y-%m-%d %H:%M} .. {from_ms(hi_ms - 1):%Y-%m-%d %H:%M:%S} UTC)"
    )
    if not isinstance(data, dict):
        raise SourceError(
            f"{where} has an unexpected shape: it is {_kind(data)}, not an object of prices, "
            "market_caps and total_volumes; nothing was stored for this range"
        )
    series, problems = {}, []
    for name, (noun, wrong, positive) in _SERIES.items():
        points = data.get(name)
        if not isinstance(points, list):
            raise SourceError(
                f"{where} has an unexpected shape: {name!r} is {_kind(points)}, not a list of "
                "[time, value] pairs; nothing was stored for this range"
            )
        series[name], counts = _valid_points(points, lo_ms, hi_ms, positive)
        reasons = (*_FAULTS, f"have {wrong}")
        problems += [
            f"{n} of {len(points)} {noun} {why}"
            for n, why in zip(counts, reasons, strict=True)
            if n
        ]
    if problems:
        raise SourceError(
            f"{where} is not wholly valid: {'; '.join(problems)}; nothing was stored for this "
            "range, and the next fetch asks for it again"
        )
    ts = np.array([t for t, _ in series["prices"]], dtype="int64")
    price = np.array([v for _, v in series["prices"]], dtype="float64")
    order = np.argsort(ts, kind="stable")
    ts, price = ts[order], price[order]
    return ts, price, _align(ts, series["market_caps"]), _align(ts, series["total_volumes"])


def _valid_points(
    points: list[Any], lo_ms: int, hi_ms: int, positive: bool
) -> tuple[list[tuple[int, float]], tuple[int, int, int, int]]:
    """The valid ``(ts, value)`` points, and how many were (not pairs, timeless, outside
    ``[lo_ms, hi_ms)``, of a bad value)."""
    good: list[tuple[int, float]] = []
    shape = timeless = outside = value = 0
    for point in points:
        if not isinstance(point, list) or len(point) != 2:
            shape += 1
            continue
        t, x = _number(point[0]), _number(point[1])
        if t is None or not math.isfinite(t):
            timeless += 1
        elif not lo_ms <= t < hi_ms:
            outside += 1
        elif point[1] is None and not positive:
            good.append((int(t), math.nan))
        elif x is None or not math.isfinite(x) or x < 0 or (positive and x == 0):
            value += 1
        else:
            good.append((int(t), x))
    return good, (shape, timeless, outside, value)


def _number(x: Any) -> float | None:
    """``x`` as a float (an int too large for one is infinite); ``None`` for anything that
    is not a JSON number (null, text, true/false)."""
    if isinstance(x, bool) or not isinstance(x, int | float):
        return None
    try:
        return float(x)
    except OverflowError:
        return math.inf


def _kind(value: Any) -> str:
    return "missing or null" if value is None else f"a {type(value).__name__}"


def _align(ts: np.ndarray, pairs: list[tuple[int, float]]) -> np.ndarray:
    """Values of ``pairs`` (ts, value) at ``ts``; NaN where CoinGecko gave none."""
    lookup = dict(pairs)
    return np.array([lookup.get(t, math.nan) for t in ts.tolist()], dtype="float64")


def bucket(
    ts: np.ndarray,
    price: np.ndarray,
    cap: np.ndarray,
    vol: np.ndarray,
    coin: str,
    quote: str,
    interval: str,
) -> pd.DataFrame:
    """Candles of points: open the first, high the max, low the min, close the last point."""
    columns = {
        "open": price,
        "high": price,
        "low": price,
        "close": price,
        "volume": np.nan_to_num(vol, nan=0.0),
        "market_cap": cap,
    }
    # CoinGecko's volume is a rolling 24 h total, so a bar keeps its last value (no sum).
    starts, cols = aggregate(ts, columns, interval, {**OHLCV_RULES, "volume": "last"})
    return make_frame(starts, cols, coin=coin, quote=quote, interval=interval, source="coingecko")
