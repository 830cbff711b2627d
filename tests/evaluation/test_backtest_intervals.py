"""Which bands a backtest scores: the model's own, conformal ones, or none."""

from __future__ import annotations

import numpy as np
import pytest

from coincast.data.sources import random_walk
from coincast.errors import CoincastError
from coincast.evaluation.backtest import WalkForward
from coincast.evaluation.conformal import conformalize
from coincast.evaluation.run import run_backtest


@pytest.fixture(scope="module")
def results():
    frame = random_walk(500, seed=3)
    spec = WalkForward(test=120, horizon=2)
    return {
        how: run_backtest(frame, spec, models=["ma", "naive"], intervals=how)
        for how in ("auto", "conformal", "model", "none")
    }


def _rows(r, model):
    return r.table[r.table["model"] == model]


def test_auto_keeps_a_models_own_band_and_calibrates_a_point_forecast(results):
    auto, model = results["auto"], results["model"]
    naive = _rows(auto, "naive")
    assert np.array_equal(naive["lo"], _rows(model, "naive")["lo"])
    assert (naive["dist"] == "lognormal").all()
    ma = _rows(auto, "ma")
    assert (ma["dist"] == "conformal").all()
    expected = conformalize(_rows(model, "ma"))
    assert np.allclose(ma["lo"], expected["lo"], equal_nan=True)
    assert ma["lo"].notna().sum() > 150  # a band once 20 errors have matured
    assert auto.meta["intervals"] == "auto"


def test_conformal_calibrates_every_model_and_its_coverage_is_scored(results):
    r = results["conformal"]
    assert (r.table["dist"] == "conformal").all()
    s = r.scores.set_index("model")
    for m in ("ma", "naive"):
        rows = _rows(r, m).dropna(subset=["lo"])
        inside = ((rows["lo"] <= rows["y"]) & (rows["y"] <= rows["hi"])).mean()
        assert s.loc[m, "coverage"] == pytest.approx(inside)
    assert s["crps"].isna().all()  # a conformal band states no distribution


def test_none_scores_no_band(results):
    s = results["none"].scores
    assert s["coverage"].isna().all()


def test_an_unknown_interval_rule_is_named():
    with pytest.raises(
        CoincastError, match=r"intervals is 'calibrated'; use one of auto, conformal"
    ):
        run_backtest(
            random_walk(200), WalkForward(test=5), models=["naive"], intervals="calibrated"
        )
