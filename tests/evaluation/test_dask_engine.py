"""The Dask engine on a real LocalCluster: jobs, scattered data, errors, killed workers."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import distributed
import pandas as pd
import psutil
import pytest

from coincast.errors import CoincastError
from coincast.evaluation.dask_engine import DaskEngine
from coincast.evaluation.engines import TaskLost, make_engine

#: No wait in these tests may last longer (a hang fails instead of blocking the run).
WAIT = 30


@pytest.fixture(scope="module")
def engine() -> Iterator[DaskEngine]:
    """A LocalCluster of 2 workers shared by this module's tests."""
    with DaskEngine(workers=2) as e:
        yield e


@pytest.fixture
def healthy(engine: DaskEngine) -> DaskEngine:
    """The engine with both its workers up (a test before may have killed one)."""
    engine._client.wait_for_workers(2, timeout=WAIT)
    return engine


# jobs: top-level functions, which the workers import by name


def square(x: int) -> int:
    return x * x


def describe(frame: object) -> tuple[str, int, float]:
    assert isinstance(frame, pd.DataFrame)
    return type(frame).__name__, len(frame), float(frame["close"].sum())


def fail(n: int) -> None:
    raise ValueError(f"bad trial {n}")


def attempt(log: str, seconds: float) -> int:
    """Note this attempt's worker pid in ``log``, sleep, return the pid."""
    with open(log, "a") as f:
        f.write(f"{os.getpid()}\n")
    time.sleep(seconds)
    return os.getpid()


def attempt_on(frame: pd.DataFrame, log: str, seconds: float) -> int:
    return attempt(log, seconds) + len(frame) * 0


def threads() -> tuple[str | None, int]:
    import torch

    return os.environ.get("OMP_NUM_THREADS"), torch.get_num_threads()


def attempts(log: Path, n: int) -> list[int]:
    """The pids of the first ``n`` attempts, waiting for them to start."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        pids = [int(p) for p in log.read_text().split()] if log.exists() else []
        if len(pids) >= n:
            return pids
        time.sleep(0.05)
    raise AssertionError(f"attempt {n} did not start within {WAIT} s")


def settle(future: distributed.Future) -> None:
    """Wait for ``future`` to finish, at most :data:`WAIT` seconds."""
    deadline = time.monotonic() + WAIT
    while not future.done():
        assert time.monotonic() < deadline, f"{future.key} did not finish within {WAIT} s"
        time.sleep(0.05)


def test_jobs_come_back_as_they_finish(healthy: DaskEngine) -> None:
    assert healthy.workers == 2
    futures = [healthy.submit(square, i) for i in range(20)]
    done = [healthy.result(f) for f in healthy.as_completed(futures)]
    assert sorted(done) == [i * i for i in range(20)]


def test_scattered_frame_goes_to_every_worker_once(healthy: DaskEngine) -> None:
    frame = pd.DataFrame({"close": [1.0, 2.0, 3.5]})
    handle = healthy.scatter(frame)
    assert isinstance(handle, distributed.Future)
    assert len(healthy._client.who_has([handle])[handle.key]) == 2  # broadcast, one copy each
    futures = [healthy.submit(describe, handle) for _ in range(6)]
    assert [healthy.result(f) for f in futures] == [("DataFrame", 3, 6.5)] * 6
    # the jobs named the one scattered key; no copy of the frame travelled with them
    assert len(healthy._client.who_has([handle])[handle.key]) == 2


def total(frames: dict[str, pd.DataFrame]) -> dict[str, float]:
    return {k: float(f["close"].sum()) for k, f in frames.items()}


def test_two_dicts_with_the_same_keys_stay_apart(healthy: DaskEngine) -> None:
    # a coin's validation and test frames: dicts keyed alike, the first released early
    first = healthy.scatter({"bitcoin": pd.DataFrame({"close": [1.0, 2.0]})})
    second = healthy.scatter({"bitcoin": pd.DataFrame({"close": [1.0, 2.0, 4.0]})})
    assert first.key != second.key
    assert healthy.result(healthy.submit(total, first)) == {"bitcoin": 3.0}
    del first
    futures = [healthy.submit(total, second) for _ in range(6)]
    assert [healthy.result(f) for f in futures] == [{"bitcoin": 7.0}] * 6


def test_a_failing_job_raises_its_own_error_once(healthy: DaskEngine, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"^bad trial 7$"):
        healthy.result(healthy.submit(fail, 7))
    log = tmp_path / "attempts"
    # an error is not retried: the job ran once
    with pytest.raises(ZeroDivisionError):
        healthy.result(healthy.submit(lambda p: attempt(p, 0) / 0, str(log)))
    assert len(attempts(log, 1)) == 1


def test_workers_use_one_torch_thread(healthy: DaskEngine) -> None:
    assert healthy.result(healthy.submit(threads)) == ("1", 1)


def test_a_job_whose_worker_dies_runs_again_elsewhere(healthy: DaskEngine, tmp_path: Path) -> None:
    log = tmp_path / "attempts"
    future = healthy.submit(attempt, str(log), 2.0)
    (first,) = attempts(log, 1)
    os.kill(first, signal.SIGKILL)
    settle(future)
    done = list(healthy.as_completed([future]))
    assert len(done) == 1
    second = healthy.result(done[0])
    assert second != first
    assert attempts(log, 2) == [first, second]  # two attempts, one result


def test_a_job_whose_workers_die_twice_is_lost(healthy: DaskEngine, tmp_path: Path) -> None:
    log = tmp_path / "attempts"
    future = healthy.submit(attempt, str(log), 30.0)
    for n in (1, 2):
        os.kill(attempts(log, n)[-1], signal.SIGKILL)
    settle(future)
    with pytest.raises(TaskLost, match=r"^job attempt \(attempt-.*\) was lost: 2 workers died"):
        healthy.result(future)
    assert len(attempts(log, 2)) == 2


def test_a_job_whose_data_is_lost_is_lost(healthy: DaskEngine, tmp_path: Path) -> None:
    log = tmp_path / "attempts"
    handle = healthy.scatter(pd.DataFrame({"close": [1.0]}))
    future = healthy.submit(attempt_on, handle, str(log), 30.0)
    (running,) = attempts(log, 1)
    others = set(healthy._client.run(os.getpid).values()) - {running}
    for pid in [*others, running]:  # every copy of the frame, the running job's last
        os.kill(pid, signal.SIGKILL)
    settle(future)
    # cancelled for its lost frame, or failed for its dead workers: lost, either way
    with pytest.raises(TaskLost, match=r"^job attempt_on \(attempt_on-.*\) was lost: "):
        healthy.result(future)


def test_an_engine_joins_a_running_scheduler(healthy: DaskEngine) -> None:
    # after the kills above (some twice within 15 s) the cluster still has both its nannies
    assert len(healthy._cluster.workers) == 2
    with DaskEngine(address=healthy._cluster.scheduler_address) as joined:
        assert joined.workers == 2
        assert joined.result(joined.submit(square, 9)) == 81
    assert healthy.result(healthy.submit(square, 3)) == 9  # closing it left the cluster up


def test_make_engine_starts_and_stops_a_quiet_cluster(capfd: pytest.CaptureFixture) -> None:
    with make_engine("dask", workers=2) as e:
        assert isinstance(e, DaskEngine)
        assert e.workers == 2
        pids = list(e._client.run(os.getpid).values())
        scratch = Path(e._scratch)
        assert scratch.is_dir()
        assert e.result(e.submit(square, 4)) == 16
    assert len(pids) == 2
    assert not [p for p in pids if psutil.pid_exists(p)]
    assert not scratch.exists()
    out, err = capfd.readouterr()
    assert (out, err) == ("", "")


def test_an_unreachable_scheduler_is_one_line_error() -> None:
    start = time.monotonic()
    with pytest.raises(
        CoincastError,
        match=r"^could not reach the Dask scheduler at 'tcp://127\.0\.0\.1:1' within 5 s",
    ) as e:
        DaskEngine(address="tcp://127.0.0.1:1")
    assert time.monotonic() - start < 10
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("address", ["foo", "http://x:1", "tcp://host"])
def test_a_bad_address_is_one_line_error(address: str) -> None:
    with pytest.raises(CoincastError, match=r"^address is .*like tcp://10\.0\.0\.5:8786$"):
        DaskEngine(address=address)


@pytest.mark.parametrize("workers", [0, -1, True, 2000])
def test_workers_must_be_a_sensible_count(workers: object) -> None:
    with pytest.raises(CoincastError, match="workers is"):
        DaskEngine(workers=workers)
