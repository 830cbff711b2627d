"""Incremental fetching, and what a killed fetch leaves behind."""

from __future__ import annotations

import math
import os
import re
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
    with pytest.raises(CoincastError, match=r"^give either days= or start=, not both$"):
        fetch(store, src, "demo", days=3, start="2024-01-01", now=NOW)
    with pytest.raises(CoincastError, match="holds no complete 1d bar"):
        fetch(store, src, "demo", start="2024-06-01", now=NOW)
    assert src.calls == []


@pytest.mark.parametrize(
    ("days", "shown"),
    [
        (math.nan, "nan"),
        (math.inf, "inf"),
        (-math.inf, "-inf"),
        (1e20, "1e+20"),
        (10_000, "10000"),  # reaches back before 2009
        (-1, "-1"),
        (0, "0"),
        (0.0, "0"),
        ("3", "'3'"),
        (True, "True"),
        (None.__class__, "<class 'NoneType'>"),
    ],
)
def test_hostile_days_are_one_clear_error(store, days, shown):
    src = CountingSource()
    says = (
        rf"^{{}}days is {re.escape(shown)}; it must be a finite number of days > 0 reaching no "
        r"further back than 2009-01-03 \(at most 5,629 here\), e.g. {}$"
    )
    with pytest.raises(CoincastError, match=says.format("", "days=365")) as caught:
        fetch(store, src, "demo", days=days, now=NOW)
    assert re.match(says.format("--", "--days 365"), caught.value.cli), caught.value.cli
    assert src.calls == [] and store.list_series() == []


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        ("1900-01-01", None, r"--start 1900-01-01 is before 2009-01-03, the first day any coin"),
        ("1969-12-31", "2024-01-01", r"--start 1969-12-31 is before 2009-01-03"),
        ("2009-01-02 23:59", None, r"--start 2009-01-02 is before 2009-01-03"),
        ("1000-01-01", None, r"--start '1000-01-01' is outside the dates coincast can hold"),
        ("0000-00-00", None, r"--start '0000-00-00' is outside the dates coincast can hold"),
        ("2024-02-30", None, r"--start '2024-02-30' is not a date; use YYYY-MM-DD"),
        (
            "2024-02-01",
            "2024-01-01",
            r"--end \(2024-01-01 00:00\) is before --start \(2024-02-01 00:00\); give an --end",
        ),
        ("2024-05-01", 17, r"--end 17 is not a date|--end \(1970-01-01"),
        (object(), None, r"--start <object object at .*> is not a date"),
    ],
)
def test_hostile_starts_and_ends_are_one_clear_error(store, start, end, message):
    """Worded for Python (``start``), and in ``cli`` for the command line (``--start``)."""
    src = CountingSource()
    with pytest.raises(CoincastError, match=message.replace("--", "")) as caught:
        fetch(store, src, "demo", start=start, end=end, now=NOW)
    assert "--" not in str(caught.value) and re.search(message, caught.value.cli)
    assert src.calls == [] and store.list_series() == []


@pytest.mark.parametrize("name", ["csv", "parquet", "file"])
def test_a_file_source_is_not_fetched_and_says_how_to_import_it(name):
    from coincast.data.sources import get_source

    with pytest.raises(CoincastError, match=r"^files are not fetched; import them: ") as caught:
        get_source(name)
    assert str(caught.value).endswith(": store.write_candles(read_file(path, coin=COIN)[0])")
    assert caught.value.cli.endswith(": coincast import PATH --coin COIN")


def test_the_earliest_start_is_accepted(store):
    r = fetch(store, CountingSource(), "demo", start="2009-01-03", end="2009-01-05", now=NOW)
    assert (r.new_rows, r.start) == (3, pd.Timestamp("2009-01-03", tz="UTC"))


def test_refresh_asks_again_for_covered_ranges_and_replaces_their_bars(store):
    class Shifted(CountingSource):  # answers higher prices once `shift` is set
        shift = 0.0

        def fetch_chunk(self, *args):
            frame = super().fetch_chunk(*args)
            frame[["open", "high", "low", "close"]] += self.shift
            return frame

    src = Shifted()
    first = fetch(store, src, "demo", interval="1h", days=100, now=NOW)
    before = store.read_key(first.key)
    again = fetch(store, src, "demo", interval="1h", days=100, now=NOW)
    assert (again.chunks, len(src.calls)) == (0, 3)
    src.shift = 1.0
    refreshed = fetch(store, src, "demo", interval="1h", days=100, now=NOW, refresh=True)
    assert (refreshed.chunks, refreshed.new_rows, len(src.calls)) == (3, 0, 6)
    assert src.calls[3:] == src.calls[:3]  # the same ranges, asked again
    after = store.read_key(first.key)
    pd.testing.assert_series_equal(after["close"], before["close"] + 1.0)


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
