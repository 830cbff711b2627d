"""``target="volatility"``: the LSTM learns the log realized measure of the next bars."""

from __future__ import annotations

import numpy as np
import pytest

from coincast.data.sources import synthetic_candles
from coincast.dataset.panel import coin_inputs, exog_name
from coincast.dataset.realized import choose_measure, har_means, log_measure
from coincast.dataset.windows import targets_at
from coincast.models.base import Z90
from coincast.models.config import ConfigError, LSTMConfig
from coincast.models.inference import forecast_frame


def test_a_volatility_target_takes_the_gaussian_head_and_the_har_inputs():
    cfg = LSTMConfig(target="volatility", exog=["ethereum"])
    assert cfg.head == "gaussian"
    assert cfg.features[:3] == ["log_rv", "log_rv_mid", "log_rv_long"]
    assert cfg.inputs()[-1] == "rv:ethereum" == exog_name("ethereum", "volatility")


@pytest.mark.parametrize(
    ("changes", "message"),
    [({"head": "quantile"}, "forecasts a log-normal variance with the gaussian head"),
     ({"recursive": True}, "recursive mode is for returns or price")],
)  # fmt: skip
def test_what_a_volatility_target_cannot_do_is_refused(changes, message):
    with pytest.raises(ConfigError, match=message):
        LSTMConfig(target="volatility", **changes)


def test_targets_are_the_log_measure_of_the_bars_after_each_window():
    frame = synthetic_candles(120, seed=1)
    ci = coin_inputs("synthetic", frame, ["log_rv", "log_return"], "volatility")
    m = choose_measure(frame)
    assert ci.measure == m.detail
    np.testing.assert_allclose(ci.level, log_measure(m.values, "1d"))
    ends = np.array([40, 80])
    y = targets_at(ci.level, ends, 3, "volatility")
    np.testing.assert_allclose(y, np.log(m.values[ends[:, None] + [1, 2, 3]] + 1e-8))
    np.testing.assert_allclose(ci.actual, m.values)
    # the inputs are the HAR means up to each bar, nothing later
    np.testing.assert_allclose(ci.x[:, 0], log_measure(har_means(m.values, "1d")[:, 0], "1d"))


def test_the_forecast_is_the_log_normal_mean_of_the_variance_and_its_band():
    frame = synthetic_candles(50)
    mu, s = np.array([-7.0, -6.5]), np.array([0.8, 1.1])
    f = forecast_frame((mu, mu - Z90 * s, mu + Z90 * s), frame, "volatility")
    np.testing.assert_allclose(f["yhat"], np.exp(mu + s**2 / 2))
    np.testing.assert_allclose(f["lo"], np.exp(mu - Z90 * s))
    np.testing.assert_allclose(f["hi"], np.exp(mu + Z90 * s))
