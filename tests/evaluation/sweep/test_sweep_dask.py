"""The same sweep on a real Dask cluster: the engine is swapped, the answer is not."""

from __future__ import annotations

import pytest

pytest.importorskip("distributed", reason="the dask extra is not installed")

from test_sweep_study import _frames, _plan

from coincast.evaluation.engines import LocalEngine, make_engine
from coincast.evaluation.sweep import Place, run_sweep


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_sweep_on_dask_scores_every_trial_as_the_local_engine_does(tmp_path):
    plan = _plan()
    with make_engine("dask", workers=2) as engine:
        on_dask = run_sweep(_frames(), plan, Place.beside(tmp_path / "a.db", "dask"),
                            engine=engine)  # fmt: skip
    with LocalEngine(workers=2) as engine:
        local = run_sweep(_frames(), plan, Place.beside(tmp_path / "b.db", "local"), engine=engine)
    key = lambda board: sorted((t["number"], t["valid_score"]) for t in board["trials"])  # noqa: E731
    assert key(on_dask) == key(local)
    assert [t["state"] for t in on_dask["trials"]] == ["complete"] * 4
    assert on_dask["spa"] == local["spa"]
