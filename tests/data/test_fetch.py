"""Incremental fetching, and what a killed fetch leaves behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pandas as pd
import pytest

from coincast.data.fetch import fetch
from coincast.data.sources import SyntheticSource
from coincast.data.store import Store
from coincast.errors import CoincastError

NOW = pd.Timestamp("2024-06-01 12:34", tz="UTC")


class CountingSource(SyntheticSource):
    """The synthetic source, counting chunk requests, with small chunks."""

    def __init__(self, chunk_bars: int = 1000) -> None:
        super().__init__()
        self.calls: list[tuple[int, int]] = []
        self.chunk_bars = chunk_bars

    def chunks(self, interval, start_ms, end_ms):
        from coincast.intervals import interval_ms

        size = self.chunk_bars * interval_ms(interval)
        return [(s, min(s + size, end_ms)) for s in range(start_ms, end_ms, size)]

    def fetch_chunk(self, coin, quote, interval, start_ms, end_ms):
        self.calls.append((start_ms, end_ms))
        return super().fetch_chunk(coin, quote, interval, start_ms, end_ms)


def test_fetch_stores_complete_bars_only(store):
    src = CountingSource()
    r = fetch(store, src, "demo", interval="1h", days=3, now=NOW)
    assert r.new_rows == r.total_rows == 72
    assert r.end == pd.Timestamp("2024-06-01 11:00", tz="UTC")  # 12:00 is still forming
    assert r.key.source == "synthetic" and r.key.quote == "usd"


def test_second_identical_fetch_requests_nothing(store):
    src = CountingSource()
    first = fetch(store, src, "demo", interval="1h", days=100, now=NOW)
    assert first.chunks == len(src.calls) == 3
    again = fetch(store, src, "demo", interval="1h", days=100, now=NOW)
    assert again.chunks == 0 and again.new_rows == 0 and len(src.calls) == 3
    assert again.total_rows == first.total_rows == 2400


def test_extending_the_range_fetches_only_the_new_part(store):
    src = CountingSource()
    fetch(store, src, "demo", interval="1h", days=10, now=NOW)
    src.calls.clear()
    later = NOW + pd.Timedelta(hours=5)
    r = fetch(store, src, "demo", interval="1h", days=10, now=later)
    assert r.new_rows == 5 and src.calls == [(src.calls[0][0], src.calls[0][0] + 5 * 3_600_000)]
    earlier = fetch(
        store, src, "demo", interval="1h", start="2024-05-01", end="2024-05-03", now=later
    )
    assert earlier.new_rows == 49  # May 1 and 2, and the bar starting at --end (inclusive)


def test_start_end_are_inclusive_bar_starts(store):
    r = fetch(
        store,
        CountingSource(),
        "demo",
        interval="1d",
        start="2024-01-01",
        end="2024-01-31",
        now=NOW,
    )
    assert r.new_rows == 31
    assert r.start == pd.Timestamp("2024-01-01", tz="UTC")
    assert r.end == pd.Timestamp("2024-01-31", tz="UTC")


def test_bad_ranges_are_clear_errors(store):
    src = CountingSource()
    with pytest.raises(CoincastError, match="either --days or --start"):
        fetch(store, src, "demo", days=3, start="2024-01-01", now=NOW)
    with pytest.raises(CoincastError, match="--days must be > 0"):
        fetch(store, src, "demo", days=-1, now=NOW)
    with pytest.raises(CoincastError, match="holds no complete 1d bar"):
        fetch(store, src, "demo", start="2024-06-01", now=NOW)
    assert src.calls == []


def test_progress_reports_each_chunk(store):
    seen = []
    fetch(
        store,
        CountingSource(),
        "demo",
        interval="1h",
        days=100,
        now=NOW,
        progress=lambda done, total: seen.append((done, total)),
    )
    assert seen == [(1, 3), (2, 3), (3, 3)]


CHILD = textwrap.dedent(
    """
    import sys
    import pandas as pd
    sys.path.insert(0, {tests!r})
    import time
    from test_fetch import CountingSource, NOW
    from coincast.data.fetch import fetch
    from coincast.data.store import Store

    class Slow(CountingSource):  # a network's latency between chunk writes
        def fetch_chunk(self, *args):
            time.sleep(0.03)
            return super().fetch_chunk(*args)

    with Store({path!r}) as store:
        print("ready", flush=True)
        fetch(store, Slow(chunk_bars=5000), "demo", interval="1m", days=40, now=NOW,
              progress=lambda done, total: print("chunk", done, flush=True))
    print("done", flush=True)
    """
)


def _run_and_kill(path, after_chunk: int, delay: float) -> None:
    code = CHILD.format(tests=os.path.dirname(__file__), path=str(path))
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    target = "ready" if after_chunk == 0 else f"chunk {after_chunk}"
    for line in child.stdout:
        if line.strip() == target:
            break
    time.sleep(delay)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL, "the fetch ended before it could be killed"


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    path = tmp_path_factory.mktemp("whole") / "whole.db"
    with Store(path) as s:
        r = fetch(s, CountingSource(chunk_bars=5000), "demo", interval="1m", days=40, now=NOW)
        return s.read_key(r.key)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("after_chunk", "delay"), [(0, 0.0), (1, 0.01), (3, 0.036), (6, 0.042), (9, 0.048)]
)
def test_kill_9_leaves_a_sound_store_that_resumes_exactly(
    tmp_path, uninterrupted, after_chunk, delay
):
    path = tmp_path / "killed.db"
    _run_and_kill(path, after_chunk, delay)
    with Store(path) as s:
        assert s.integrity_check() == "ok"
        info = s.list_series()
        stored = info[0].rows if info else 0
        assert stored % 5000 == 0 or stored == len(uninterrupted)  # whole chunks only
        src = CountingSource(chunk_bars=5000)
        r = fetch(s, src, "demo", interval="1m", days=40, now=NOW)
        assert stored < len(uninterrupted)
        assert len(src.calls) == 12 - stored // 5000  # only what was missing
        pd.testing.assert_frame_equal(s.read_key(r.key), uninterrupted)
