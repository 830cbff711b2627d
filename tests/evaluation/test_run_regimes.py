"""A price backtest's figures split by regime."""

from __future__ import annotations

import numpy as np
import pytest

from coincast.data.sources import random_walk
from coincast.evaluation.backtest import WalkForward
from coincast.evaluation.regimes import label_rows, regime_labels
from coincast.evaluation.run import run_backtest


def test_each_regime_gets_its_mae_its_ratio_to_naive_and_its_coverage():
    frame = random_walk(600, seed=7)
    r = run_backtest(frame, WalkForward(test=200), models=["drift", "ma"])
    reg = r.regimes
    assert set(reg["kind"]) == {"trend", "vol"}
    assert (reg.loc[reg["model"] == "naive", "rel_mae"] == 1.0).all()
    labels = regime_labels(frame, r.table["cutoff"].drop_duplicates())
    one = label_rows(r.table[r.table["step"] == 1], labels)
    for row in reg.to_dict("records"):
        g = one[(one["model"] == row["model"]) & (one[row["kind"]] == row["regime"])]
        n = one[(one["model"] == "naive") & (one[row["kind"]] == row["regime"])]
        mae = (g["y"] - g["yhat"]).abs().mean()
        assert row["n"] == len(g) and row["mae"] == pytest.approx(mae)
        assert row["rel_mae"] == pytest.approx(mae / (n["y"] - n["yhat"]).abs().mean())
        band = g.dropna(subset=["lo"])
        inside = ((band["lo"] <= band["y"]) & (band["y"] <= band["hi"])).mean()
        assert row["coverage"] == pytest.approx(inside) or np.isnan(row["coverage"])
    assert "trend" in r.meta["regime_rule"]
