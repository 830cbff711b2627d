"""Seeded synthetic candles: realistic paths for offline demos, known signals for tests.

- :func:`synthetic_candles` / :class:`SyntheticSource`: a price path with fat tails (Student-t
  shocks) and volatility clustering (GARCH(1,1)), deterministic per (coin, interval, seed).
  Any range of any interval can be generated; a bar's value does not depend on which range
  was asked for, so incremental fetches from this source behave like a real one.
- :func:`predictable_candles`: log returns with a known sinusoidal component plus small
  noise, for tests that must prove a model learns.
- :func:`random_walk`: Gaussian log returns, nothing to learn.
"""

from __future__ import annotations

import zlib

import numpy as np
import pandas as pd

from ...coins import check_coin_id
from ...intervals import bar_start, interval_ms
from ...series import make_frame, to_ms

BLOCK = 4096  # bars generated together; block ends are pinned to a smooth anchor path
ORIGIN = pd.Timestamp("2015-01-01", tz="UTC")
_YEAR_MS = 365.25 * 86_400_000


class SyntheticSource:
    """The ``synthetic`` source: generated, never fetched; any coin name, any interval."""

    name = "synthetic"
    default_quote = "usd"

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed

    def resolve_coin(self, coin: str) -> str:
        """Any well-formed id is a synthetic coin."""
        return check_coin_id(coin)

    def check_request(
        self, coin: str, quote: str, interval: str, start_ms: int, end_ms: int
    ) -> None:
        """Every request can be served."""

    def chunks(self, interval: str, start_ms: int, end_ms: int) -> list[tuple[int, int]]:
        """Chunks of 100,000 bars."""
        size = 100_000 * interval_ms(interval)
        return [(s, min(s + size, end_ms)) for s in range(start_ms, end_ms, size)]

    def fetch_chunk(
        self, coin: str, quote: str, interval: str, start_ms: int, end_ms: int
    ) -> pd.DataFrame:
        """Generated candles for bars starting in ``[start_ms, end_ms)``."""
        return generate(coin, interval, start_ms, end_ms, seed=self.seed, quote=quote)


def generate(
    coin: str, interval: str, start_ms: int, end_ms: int, *, seed: int = 0, quote: str = "usd"
) -> pd.DataFrame:
    """Realistic candles of ``coin`` for bars starting in ``[start_ms, end_ms)``.

    Examples
    --------
    >>> f = generate("demo", "1h", 0, 48 * 3_600_000)
    >>> len(f), f.attrs["source"]
    (48, 'synthetic')
    """
    step = interval_ms(interval)
    origin = bar_start(to_ms(ORIGIN), interval)
    first = -(-(start_ms - origin) // step)  # bar numbers relative to the origin
    stop = -(-(end_ms - origin) // step)
    parts = [
        _block(coin, interval, seed, b, origin, step)
        for b in range(first // BLOCK, -(-stop // BLOCK))
    ]
    ts = np.arange(first // BLOCK * BLOCK, -(-stop // BLOCK) * BLOCK) * step + origin
    cols = {k: np.concatenate([p[k] for p in parts]) if parts else np.array([]) for k in _KEYS}
    take = slice(first - first // BLOCK * BLOCK, stop - first // BLOCK * BLOCK)
    return make_frame(
        ts[take],
        {k: v[take] for k, v in cols.items()},
        coin=coin,
        quote=quote,
        interval=interval,
        source="synthetic",
    )


_KEYS = ("open", "high", "low", "close", "volume")


def _anchor(bar: int, step: int, origin: int, base: float) -> float:
    """Smooth long-run log price: cycles of four years and one year around ``base``."""
    t = (origin + bar * step - to_ms(ORIGIN)) / _YEAR_MS
    return base + 1.2 * np.sin(2 * np.pi * t / 4) + 0.25 * np.sin(2 * np.pi * t + 1.0)


def _block(coin: str, interval: str, seed: int, b: int, origin: int, step: int) -> dict:
    key = zlib.crc32(f"{coin}|{interval}|{seed}|{b}".encode())
    rng = np.random.default_rng([seed, key, b & 0xFFFFFFFF])
    base = np.log(10.0 + zlib.crc32(coin.encode()) % 50_000)
    scale = np.sqrt(step / 86_400_000) * 0.035  # ~3.5 % daily volatility
    r, sigma = _garch_t(rng, BLOCK, scale)
    # Pin the block's ends to the anchor path so neighbouring blocks join continuously.
    a0, a1 = _anchor(b * BLOCK, step, origin, base), _anchor((b + 1) * BLOCK, step, origin, base)
    k = np.arange(1, BLOCK + 1) / BLOCK
    logc = a0 + np.cumsum(r) - k * (r.sum() - (a1 - a0))
    logo = np.r_[a0, logc[:-1]]
    wick = np.abs(rng.standard_normal((2, BLOCK))) * sigma * 0.6
    close, open_ = np.exp(logc), np.exp(logo)
    high = np.maximum(open_, close) * np.exp(wick[0])
    low = np.minimum(open_, close) * np.exp(-wick[1])
    volume = np.exp(rng.normal(10, 0.5, BLOCK)) * (1 + 30 * np.abs(r))
    return {"open": open_, "high": high, "low": low, "close": close, "volume": volume}


def _garch_t(rng: np.random.Generator, n: int, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """GARCH(1,1) returns with Student-t (5 dof) shocks: fat tails, volatility clusters."""
    omega, alpha, beta = 0.05, 0.10, 0.85  # unconditional variance = 1
    z = rng.standard_t(5, n) / np.sqrt(5 / 3)
    var, r = np.empty(n), np.empty(n)
    v = 1.0
    for i in range(n):
        var[i] = v
        r[i] = np.sqrt(v) * z[i]
        v = omega + alpha * r[i] ** 2 + beta * v
    sigma = np.sqrt(var) * scale
    return r * scale, sigma


def synthetic_candles(
    n: int,
    interval: str = "1d",
    *,
    seed: int = 0,
    coin: str = "synthetic",
    start: str = "2020-01-01",
) -> pd.DataFrame:
    """``n`` realistic candles from ``start`` (see :func:`generate`).

    Examples
    --------
    >>> synthetic_candles(30, seed=1).shape
    (30, 5)
    """
    s = bar_start(to_ms(start), interval)
    return generate(coin, interval, s, s + n * interval_ms(interval), seed=seed)


def _from_log_returns(
    r: np.ndarray, interval: str, start: str, coin: str, rng: np.random.Generator
) -> pd.DataFrame:
    step = interval_ms(interval)
    s = bar_start(to_ms(start), interval)
    close = 100.0 * np.exp(np.cumsum(r))
    open_ = np.r_[100.0, close[:-1]]
    wick = np.abs(rng.standard_normal((2, len(r)))) * 0.002
    cols = {
        "open": open_,
        "high": np.maximum(open_, close) * np.exp(wick[0]),
        "low": np.minimum(open_, close) * np.exp(-wick[1]),
        "close": close,
        "volume": np.exp(rng.normal(10, 0.3, len(r))),
    }
    ts = s + np.arange(len(r), dtype="int64") * step
    return make_frame(ts, cols, coin=coin, quote="usd", interval=interval, source="synthetic")


def predictable_candles(
    n: int,
    interval: str = "1d",
    *,
    seed: int = 0,
    period: int = 7,
    amplitude: float = 0.02,
    noise: float = 0.004,
    coin: str = "synthetic-signal",
    start: str = "2020-01-01",
) -> pd.DataFrame:
    """Candles whose log returns are ``amplitude * sin(2 pi t / period)`` plus small noise.

    The next return is predictable from the recent ones, so a model that learns beats the
    naive forecast by a wide margin.

    Examples
    --------
    >>> f = predictable_candles(30)
    >>> len(f), f.attrs["coin"]
    (30, 'synthetic-signal')
    """
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    r = amplitude * np.sin(2 * np.pi * t / period) + noise * rng.standard_normal(n)
    return _from_log_returns(r, interval, start, coin, rng)


def random_walk(
    n: int,
    interval: str = "1d",
    *,
    seed: int = 0,
    sigma: float = 0.02,
    coin: str = "synthetic-walk",
    start: str = "2020-01-01",
) -> pd.DataFrame:
    """Candles whose log returns are i.i.d. Gaussian: nothing beats the naive forecast.

    Examples
    --------
    >>> random_walk(30, "1h").attrs["interval"]
    '1h'
    """
    rng = np.random.default_rng(seed)
    return _from_log_returns(sigma * rng.standard_normal(n), interval, start, coin, rng)
