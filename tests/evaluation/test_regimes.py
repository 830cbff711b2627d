"""Regime labels: trends on constructed series, volatility across a break, the labels of a
cutoff blind to what follows it, rows labelled by cutoff, metrics per regime, bad input."""

from __future__ import annotations

import doctest

import numpy as np
import pandas as pd
import pytest

from coincast.errors import CoincastError
from coincast.evaluation import regimes as rg
from coincast.evaluation.regimes import RULE, by_regime, label_rows, regime_labels
from coincast.series import make_frame

DAY = 86_400_000


def frame_of(log_close: np.ndarray) -> pd.DataFrame:
    close = 100 * np.exp(np.asarray(log_close, dtype="float64"))
    ts = pd.Timestamp("2021-01-01", tz="UTC").value // 10**6 + np.arange(len(close)) * DAY
    cols = {
        "open": close,
        "high": close,
        "low": close,
        "close": close,
        "volume": np.ones(len(close)),
    }
    return make_frame(ts, cols, coin="x", quote="usd", interval="1d", source="test")


def noise(n: int, sigma: float = 0.01, seed: int = 0) -> np.ndarray:
    return sigma * np.random.default_rng(seed).standard_normal(n)


def test_docstring_examples_hold():
    result = doctest.testmod(rg, extraglobs={"np": np, "pd": pd})
    assert result.attempted >= 5 and result.failed == 0


def test_rule_is_stated():
    assert "trend_window" in RULE and "vol_window" in RULE and "median" in RULE


@pytest.mark.parametrize(("drift", "label"), [(0.01, "up"), (-0.01, "down"), (0.0, "sideways")])
def test_trend_on_constructed_series(drift, label):
    # a steady rise or fall of 1 % a bar with 1 % noise on the level, or flat noise
    f = frame_of(drift * np.arange(300) + noise(300))
    labels = regime_labels(f, f.index)
    assert labels["trend"].iloc[:30].isna().all()  # 30 bars of return need 31 closes
    assert (labels["trend"].iloc[30:] == label).all()
    assert labels.index.name == "cutoff" and labels.index.equals(f.index)


def test_a_random_walk_is_mostly_sideways():
    f = frame_of(np.cumsum(noise(2000, seed=4)))
    share = regime_labels(f, f.index)["trend"].value_counts(normalize=True)
    assert 0.55 < share["sideways"] < 0.8  # about 68 % for a driftless walk
    assert 0.1 < share["up"] < 0.25 and 0.1 < share["down"] < 0.25


def test_threshold_is_in_standard_errors():
    # one-bar returns m +/- d, alternating: any 30 of them sum to 30 m with sample sd
    # d sqrt(30 / 29), so the 30-bar return is exactly 1.5 standard errors
    d = 0.01
    m = 1.5 * d * np.sqrt(30 / 29) * np.sqrt(30) / 30
    f = frame_of(np.cumsum(np.r_[0.0, m + d * np.tile([1.0, -1.0], 50)]))
    at = f.index[40:]
    assert (regime_labels(f, at, threshold=1.49)["trend"] == "up").all()
    assert (regime_labels(f, at, threshold=1.51)["trend"] == "sideways").all()
    fall = frame_of(-np.log(f["close"].to_numpy() / 100))
    assert (regime_labels(fall, at, threshold=1.49)["trend"] == "down").all()


def test_volatility_high_after_a_break():
    r = np.r_[noise(250, 0.01, seed=1), noise(150, 0.04, seed=2)]
    f = frame_of(np.cumsum(r))
    vol = regime_labels(f, f.index)["vol"]
    assert vol.iloc[:30].isna().all()  # 30 returns need 31 closes
    assert (vol.iloc[250 + 30 :] == "high").all()  # the window is past the break
    assert 0.2 < (vol.iloc[30:250] == "high").mean() < 0.8  # calm: above its median, or not
    assert (vol.iloc[30:250] == "low").any()


def test_labels_of_a_cutoff_ignore_what_follows():
    r = np.r_[noise(250, 0.01, seed=1), noise(150, 0.04, seed=2)]
    f = frame_of(np.cumsum(r) + 0.002 * np.arange(400))
    clean = regime_labels(f, f.index)
    for cut in (60, 200, 300):
        bad = f.copy()
        bad.iloc[cut + 1 :, bad.columns.get_loc("close")] *= 1000  # every later close
        bad.iloc[cut + 1 :: 2, bad.columns.get_loc("close")] /= 50  # and wild swings
        dirty = regime_labels(bad, bad.index)
        pd.testing.assert_frame_equal(dirty.iloc[: cut + 1], clean.iloc[: cut + 1])
        assert (dirty.iloc[cut + 1 :] != clean.iloc[cut + 1 :]).any(axis=None)


def test_label_rows_and_by_regime_exact():
    f = frame_of(np.r_[np.zeros(40), 0.02 * np.arange(1, 41)] + noise(80, 0.001))
    labels = regime_labels(f, f.index[[35, 75]])
    assert labels["trend"].tolist() == ["sideways", "up"]
    table = pd.DataFrame(
        {
            "model": ["a", "a", "b", "b", "a"],
            "cutoff": f.index[[35, 75, 35, 75, 75]],
            "y": [1.0, 2.0, 3.0, 4.0, 6.0],
        }
    )
    t = label_rows(table, labels)
    assert t["trend"].tolist() == ["sideways", "up", "sideways", "up", "up"]
    assert list(t.columns) == ["model", "cutoff", "y", "trend", "vol"]
    out = by_regime(t, lambda g: {"mean": g["y"].mean(), "max": g["y"].max()})
    trend = out[out["kind"] == "trend"].set_index(["model", "regime"])
    assert trend.loc[("a", "up"), ["n", "mean", "max"]].tolist() == [2, 4.0, 6.0]
    assert trend.loc[("b", "sideways"), ["n", "mean", "max"]].tolist() == [1, 3.0, 3.0]
    assert set(out["kind"]) == {"trend", "vol"}
    assert out.groupby("kind")["n"].sum().tolist() == [5, 5]


def test_by_regime_leaves_unlabelled_rows_out():
    t = pd.DataFrame(
        {"model": "m", "y": [1.0, 2.0, 3.0], "trend": ["up", None, "up"], "vol": [None] * 3}
    )
    out = by_regime(t, lambda g: g["y"].sum())
    assert out.values.tolist() == [["m", "trend", "up", 2, 4.0]]


def test_bad_input():
    f = frame_of(noise(50))
    with pytest.raises(
        CoincastError, match=r"trend_window must be an integer >= 2 \(bars\), got 1"
    ):
        regime_labels(f, f.index, trend_window=1)
    with pytest.raises(
        CoincastError, match=r"vol_window must be an integer >= 2 \(bars\), got 2.5"
    ):
        regime_labels(f, f.index, vol_window=2.5)
    with pytest.raises(CoincastError, match=r"threshold must be a number >= 0 .*got -1"):
        regime_labels(f, f.index, threshold=-1)
    with pytest.raises(CoincastError, match=r"cutoff 1999-01-01 00:00:00\+00:00 is not a bar"):
        regime_labels(f, [pd.Timestamp("1999-01-01", tz="UTC")])
    with pytest.raises(CoincastError, match=r"frame lacks a close column"):
        regime_labels(f.drop(columns="close"), f.index)
    labels = regime_labels(f, f.index[:10])
    with pytest.raises(CoincastError, match=r"cutoff .* of the table has no label"):
        label_rows(pd.DataFrame({"model": "m", "cutoff": f.index[[5, 20]]}), labels)
    with pytest.raises(CoincastError, match=r"lacks a cutoff column"):
        label_rows(pd.DataFrame({"model": ["m"]}), labels)
    with pytest.raises(CoincastError, match=r"labels lack column\(s\) vol"):
        label_rows(pd.DataFrame({"cutoff": f.index[:1]}), labels.drop(columns="vol"))
    with pytest.raises(CoincastError, match=r"lacks column\(s\) trend, vol; label it first"):
        by_regime(pd.DataFrame({"model": ["m"]}), len)
