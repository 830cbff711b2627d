"""The tests of the search: arch's figures, unchanged, and an honest size."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from arch.bootstrap import MCS, SPA, RealityCheck

from coincast.evaluation.sweep import verdicts as v
from coincast.evaluation.verdicts import ALPHA


def _losses(seed=0, t=200, n=6, skill=0.0):
    rng = np.random.default_rng(seed)
    e = rng.standard_normal(t)  # the naive forecast's errors
    naive = pd.Series(np.abs(e))
    noise = rng.normal(0.0, 0.1, (t, n))
    trials = pd.DataFrame(np.abs(e[:, None] - noise), columns=[f"trial-{i:04d}" for i in range(n)])
    trials.iloc[:, 0] *= 1 - skill
    return naive, trials


def test_spa_and_reality_check_are_archs_figures():
    naive, trials = _losses(skill=0.05)
    got = v.spa(naive, trials, seed=3, reps=300)
    ref = SPA(naive.to_numpy(), trials.to_numpy(), reps=300, seed=3)
    ref.compute()
    assert [got[k] for k in ("lower", "consistent", "upper")] == ref.pvalues.tolist()
    assert got["best"] == "trial-0000" and got["stat"] == pytest.approx(
        trials.mean().min() - naive.mean()
    )
    rc = v.reality_check(naive, trials, seed=3, reps=300)
    ref = RealityCheck(naive.to_numpy(), trials.to_numpy(), reps=300, seed=3, studentize=False)
    ref.compute()
    assert rc["pvalue"] == ref.pvalues["upper"] and rc["lower"] == ref.pvalues["lower"]


def test_mcs_is_archs():
    naive, trials = _losses(skill=0.2)
    losses = trials.assign(naive=naive)
    got = v.mcs(losses, seed=1, reps=300)
    ref = MCS(losses, size=ALPHA, reps=300, seed=1)
    ref.compute()
    assert got["included"] == [str(m) for m in ref.included]
    assert got["excluded"] == [str(m) for m in ref.excluded]
    assert got["pvalues"] == {str(m): float(p) for m, p in ref.pvalues["Pvalue"].items()}
    assert "trial-0000" in got["included"] and "naive" in got["excluded"]


def test_a_real_edge_is_found():
    naive, trials = _losses(skill=0.3, t=300)
    word, line = v.headline(v.spa(naive, trials, reps=300), trials.shape[1])
    assert word == "better" and line.startswith("the best of 6 configurations is better than naive")


def test_the_verdict_after_the_search_has_its_size_while_face_value_does_not():
    """N no-skill trials (naive plus independent noise): the SPA says "better" in about 5 %
    of repetitions or fewer; the best validation score at face value says so most times."""
    spa_says, face_says = 0, 0
    reps = 200
    for seed in range(reps):
        naive, trials = _losses(seed=seed, t=150, n=20)
        word, _ = v.headline(v.spa(naive, trials, seed=seed, reps=200), trials.shape[1])
        spa_says += word == "better"
        face_says += v.face_value((trials.mean() / naive.mean()).to_numpy())
    assert spa_says / reps <= 0.08
    assert face_says / reps >= 0.5


def test_twin_trials_and_a_copy_of_naive_are_handled():
    """Two trials with the same settings give the same losses; one may copy naive's."""
    naive, trials = _losses(skill=0.2)
    trials["trial-0009"] = trials["trial-0000"]
    trials["trial-0010"] = naive
    got = v.mcs(trials.assign(naive=naive), reps=200)
    assert got["twins"] == {"trial-0009": "trial-0000", "naive": "trial-0010"}
    assert got["pvalues"]["trial-0009"] == got["pvalues"]["trial-0000"]
    assert ("trial-0009" in got["included"]) == ("trial-0000" in got["included"])
    s = v.spa(naive, trials, reps=200)
    assert s["constant"] == ["trial-0010"] and s["models"] == 8
    ref = SPA(naive.to_numpy(), trials.drop(columns="trial-0010").to_numpy(), reps=200, seed=0)
    ref.compute()
    assert s["consistent"] == ref.pvalues["consistent"]
