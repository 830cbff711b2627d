"""Validation figures: whose they are (``val_of``), a coin's figures checked by hand, the
median over several coins, and words instead of a silent None where a figure is undefined.

A stub replaces the network: it forecasts each window's last close plus a fixed offset, so
every MAE is known in advance (StatsForecast's "last value + h" test).
"""

from __future__ import annotations

import numpy as np
import pytest

from coincast.dataset.panel import CoinInputs
from coincast.models.inference import validation_metrics
from coincast.series import make_frame


def coin(name: str, close: list[float]) -> CoinInputs:
    close_ = np.asarray(close, dtype="float64")
    cols = {"open": close_, "high": close_, "low": close_, "close": close_,
            "volume": np.ones(len(close_))}  # fmt: skip
    ts = np.arange(len(close_)) * 86_400_000
    frame = make_frame(ts, cols, coin=name, quote="usd", interval="1d", source="synthetic")
    return CoinInputs(name, frame, np.zeros((len(close_), 1)), close_, 0, 0, close_)


# alpha: closes 10, 12, 11, 15; windows end at rows 0, 1, 2 -> actuals 12, 11, 15.
# naive errors |10-12|, |12-11|, |11-15| = 2, 1, 4 -> naive MAE 7/3.
# the stub forecasts close + 1: 11, 13, 12 -> errors 1, 2, 3 -> MAE 2; MAE / naive 6/7.
ALPHA = coin("alpha", [10, 12, 11, 15])
# beta: closes 100, 110, 100; ends 0, 1 -> actuals 110, 100; naive errors 10, 10 -> 10.
# the stub (close + 1): 101, 111 -> errors 9, 11 -> MAE 10; MAE / naive 1.
BETA = coin("beta", [100, 110, 100])
# gamma: closes 5, 7, 9; ends 0, 1 -> naive errors 2, 2 -> 2; stub 6, 8 -> errors 1, 1 -> 1;
# MAE / naive 1/2.
GAMMA = coin("gamma", [5, 7, 9])
# flat: the close never moves, so the naive forecast is perfect and MAE / naive undefined.
FLAT = coin("flat", [1, 1, 1])
INPUTS = {c.coin: c for c in (ALPHA, BETA, GAMMA, FLAT)}
ENDS = {"alpha": np.array([0, 1, 2]), "beta": np.array([0, 1]), "gamma": np.array([0, 1]),
        "flat": np.array([0, 1])}  # fmt: skip


def plus_one(ci: CoinInputs, ends: np.ndarray, _coin: str) -> np.ndarray:
    """Price forecasts (rows, horizon 1): the window's last close + 1."""
    return ci.frame["close"].to_numpy()[ends][:, None] + 1.0


def metrics(coins: list[str], target: str | None = None) -> dict:
    return validation_metrics(INPUTS, {c: ENDS[c] for c in coins}, plus_one, target_coin=target)


def test_one_coin_reports_its_own_figures():
    m = metrics(["alpha"])
    assert m == {
        "val_of": "alpha",
        "val_mae": pytest.approx(2.0, rel=1e-15),
        "val_naive_mae": pytest.approx(7 / 3, rel=1e-15),
        "val_rel_mae": pytest.approx(6 / 7, rel=1e-15),
    }


def test_a_global_model_with_a_target_reports_the_target_coins_figures():
    # build_panel validates on the target coin only, so val_ends holds beta alone
    m = metrics(["beta"], target="beta")
    assert m["val_of"] == "beta (the target coin)"
    assert (m["val_mae"], m["val_naive_mae"], m["val_rel_mae"]) == (10.0, 10.0, 1.0)
    assert not [k for k in m if ":" in k]


def test_a_global_model_without_a_target_reports_the_median_named_as_such():
    m = metrics(["alpha", "beta", "gamma"])
    # MAE / naive: 6/7, 1, 1/2 -> median 6/7
    assert m["val_rel_mae"] == pytest.approx(6 / 7, rel=1e-15)
    assert m["val_of"] == (
        "median MAE / naive over 3 coins (alpha, beta, gamma); MAE and naive MAE are per "
        "coin (val_mae:COIN), in each coin's price"
    )
    # MAEs in dollars of alpha and of beta do not add up: no pooled figure, and words say why
    assert m["val_mae"] is None and m["val_naive_mae"] is None
    assert m["val_mae:alpha"] == pytest.approx(2.0) and m["val_rel_mae:gamma"] == 0.5
    assert (m["val_mae:beta"], m["val_naive_mae:beta"], m["val_rel_mae:beta"]) == (10, 10, 1)


def test_the_median_over_an_even_count_is_the_mean_of_the_middle_two():
    m = metrics(["alpha", "gamma"])
    assert m["val_rel_mae"] == pytest.approx((6 / 7 + 0.5) / 2, rel=1e-15)
    assert m["val_of"].startswith("median MAE / naive over 2 coins (alpha, gamma)")


def test_a_coin_with_a_perfect_naive_forecast_is_left_out_of_the_median_in_words():
    m = metrics(["alpha", "flat", "gamma"])
    assert m["val_rel_mae"] == pytest.approx((6 / 7 + 0.5) / 2, rel=1e-15)
    assert m["val_rel_mae:flat"] is None and m["val_naive_mae:flat"] == 0.0
    assert (
        "over 2 coins (alpha, gamma); left out flat: the naive forecast's MAE is 0" in (m["val_of"])
    )


def test_an_undefined_figure_of_one_coin_says_why():
    m = metrics(["flat"])
    assert m["val_rel_mae"] is None and m["val_mae"] == 1.0 and m["val_naive_mae"] == 0.0
    assert m["val_of"] == (
        "flat; MAE / naive undefined: the naive forecast's MAE is 0 "
        "(the close never moved in the validation slice)"
    )


def test_without_validation_windows_there_are_words_not_figures():
    m = metrics([])
    assert m == {
        "val_of": "none: no validation windows (val_fraction is 0, or too few bars for one)",
        "val_mae": None,
        "val_naive_mae": None,
        "val_rel_mae": None,
    }
