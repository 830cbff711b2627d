"""One live step: fetch, refit when due, forecast from the newest bar, record, score."""

from __future__ import annotations

import json
import threading

import pytest
from live_setup import hours, make_spec

from coincast.data.sources import SyntheticSource
from coincast.data.store import Store
from coincast.data.store.ledger import Ledger
from coincast.errors import CoincastError, SourceError
from coincast.evaluation.live import UpdateSpec, update, watch
from coincast.evaluation.live.update import LIVE, recover_run, weights_sha256


@pytest.fixture
def spec(tmp_path):
    return make_spec(tmp_path)


class Flaky(SyntheticSource):
    """The synthetic source, failing for the coins in ``down``."""

    def __init__(self, down=()):
        super().__init__()
        self.down = set(down)

    def fetch_chunk(self, coin, quote, interval, start_ms, end_ms):
        if coin in self.down:
            raise SourceError(f"{coin}: connection refused")
        return super().fetch_chunk(coin, quote, interval, start_ms, end_ms)


def test_the_first_update_trains_forecasts_and_records(store, spec):
    [r] = update(store, SyntheticSource(), spec, now=hours(0))
    assert (r.new_bars, r.refit, r.issued, r.scored, r.error) == (192, True, 2, 0, None)
    rows = Ledger(store).rows()
    assert rows["step"].tolist() == [1, 2]
    assert (rows["last_ts"] == store.read_candles("demo", "1h").index[-1]).all()
    assert rows["weights_sha256"].eq(weights_sha256(spec.run)).all()
    assert json.loads((spec.run / LIVE).read_text())["fit_to"] == str(
        rows["last_ts"][0].isoformat()
    )


def test_an_update_run_twice_records_once(store, spec):
    update(store, SyntheticSource(), spec, now=hours(0))
    [again] = update(store, SyntheticSource(), spec, now=hours(0))
    assert (again.new_bars, again.refit, again.issued) == (0, False, 0)
    assert len(Ledger(store).rows()) == 2 and Ledger(store).verify().ok


def test_bars_that_arrive_score_forecasts_and_a_refit_comes_when_due(store, spec):
    update(store, SyntheticSource(), spec, now=hours(0))
    before = weights_sha256(spec.run)
    steps = [update(store, SyntheticSource(), spec, now=hours(k))[0] for k in (1, 2, 3)]
    assert [s.refit for s in steps] == [False, False, True]
    assert [s.scored for s in steps] == [1, 2, 2]
    rows = Ledger(store).rows()
    assert rows["weights_sha256"].iloc[-1] == weights_sha256(spec.run) != before
    assert rows.groupby(["last_ts", "target_ts"]).size().max() == 1
    assert len(rows) == 8 and Ledger(store).verify().ok


def test_a_failing_coin_does_not_stop_the_others(store, spec):
    spec.coins = ["demo", "down"]
    spec.run = spec.run.parent / "global"
    update(store, SyntheticSource(), spec, now=hours(0))
    results = update(store, Flaky({"down"}), spec, now=hours(1))
    ok, bad = results
    assert ok.error is None and ok.new_bars == 1 and ok.issued == 2 and not ok.refit
    assert bad.error == "fetch of down failed: down: connection refused" and bad.issued == 0


def test_without_a_run_or_settings_it_says_what_to_give(store, tmp_path):
    spec = UpdateSpec(["demo"], "1h", tmp_path / "runs" / "none", days=2)
    with pytest.raises(CoincastError, match=r"no run folder .*give a trained run with --run"):
        update(store, SyntheticSource(), spec, now=hours(0))


def test_a_swap_cut_short_is_finished_or_undone(tmp_path, store, spec):
    update(store, SyntheticSource(), spec, now=hours(0))
    run = spec.run
    prev = run.parent / f".{run.name}.prev" / run.name
    prev.parent.mkdir()
    run.rename(prev)  # killed between the two renames, the new folder lost
    recover_run(run)
    assert (run / "run.json").exists() and not prev.parent.exists()


def test_watch_runs_steps_until_stopped():
    stop, seen = threading.Event(), []

    def step():
        seen.append(1)
        if len(seen) == 3:
            stop.set()
        return []

    assert watch(step, 0.01, stop) == 3


def test_watch_reports_a_failed_step_and_goes_on():
    stop, errors = threading.Event(), []

    def step():
        if errors:
            stop.set()
            return []
        raise CoincastError("network down")

    assert watch(step, 0.0, stop, on_error=errors.append) == 2
    assert str(errors[0]) == "network down"


def test_the_ledger_survives_a_reopen(store_path, spec):
    with Store(store_path) as s:
        update(s, SyntheticSource(), spec, now=hours(0))
    with Store(store_path, readonly=True) as s:
        assert len(Ledger(s).rows()) == 2 and Ledger(s).verify().ok


def test_two_updates_of_one_run_take_turns(store_path, spec):
    from coincast.evaluation.live.update import locked

    done = []

    def other():
        with Store(store_path) as s:
            done.append(update(s, SyntheticSource(), spec, now=hours(0)))

    with locked(spec.run):
        t = threading.Thread(target=other)
        t.start()
        t.join(0.5)
        assert t.is_alive() and not done  # waits for the lock
    t.join(60)
    assert done and done[0][0].issued == 2
