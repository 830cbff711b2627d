"""CoinGecko source end to end, against the fake CoinGecko server serving real market data.

Every test that talks to the fake needs ``../shared/data`` (the ``data_dir`` fixture skips
with a reason when it is absent). The fake's clock is 2025-02-11 12:00 UTC unless a test
says otherwise; sources share that clock and ``fetch`` is always given ``now=fake.now``.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fakes.coingecko import COINS, FakeCoinGecko
from hypothesis import given
from hypothesis import strategies as st

from coincast.data.fetch import fetch
from coincast.data.sources import http as httpmod
from coincast.data.sources.coingecko import CoinGeckoSource
from coincast.data.sources.http import JsonClient, RateLimiter, RetryPolicy
from coincast.data.store import SeriesKey, Store
from coincast.errors import HistoryLimitError, IntervalError, SourceError, UnknownCoinError
from coincast.series import find_gaps

pytestmark = pytest.mark.timeout(60)

DAY = pd.Timedelta(days=1)
SECRET = "CG-s3cr3t-K3y-do-not-log"


# -- helpers ----------------------------------------------------------------------------------


def make_source(fake: FakeCoinGecko, **kw: object) -> CoinGeckoSource:
    """The source as the tests build it: fast retries, short timeout, the fake's clock."""
    kw = {
        "base_url": fake.url,
        "policy": RetryPolicy(retries=4, backoff=0.01, max_backoff=0.05),
        "timeout": 0.5,
        "clock": lambda: fake.now,
        "calls_per_minute": 1000,
        **kw,
    }
    return CoinGeckoSource(**kw)  # type: ignore[arg-type]


def yahoo(data_dir: Path, interval: str, symbol: str = "BTC") -> pd.DataFrame:
    """A Yahoo CSV from shared/data indexed by UTC bar start (ns)."""
    folder = {"1h": "hourly", "1d": "daily"}[interval]
    frame = pd.read_csv(data_dir / "yahoo" / folder / f"{symbol}-USD_{interval}.csv")
    frame.index = pd.DatetimeIndex(pd.to_datetime(frame["Date"], utc=True)).as_unit("ns")
    return frame


def between(frame: pd.DataFrame, lo: pd.Timestamp, hi: pd.Timestamp) -> pd.DataFrame:
    """Rows with ``lo <= index < hi``."""
    return frame[(frame.index >= lo) & (frame.index < hi)]


def assert_index(actual: pd.Index, expected: pd.Index) -> None:
    pd.testing.assert_index_equal(
        pd.DatetimeIndex(actual).as_unit("ns"),
        pd.DatetimeIndex(expected).as_unit("ns"),
        check_names=False,
        check_freq=False,
    )


def reference(interval: str, **range_kw: object) -> pd.DataFrame:
    """The fault-free result of a fetch, from its own fake and in-memory store."""
    with FakeCoinGecko() as fake, Store(":memory:") as store:
        r = fetch(store, make_source(fake), "bitcoin", interval=interval, now=fake.now, **range_kw)
        return store.read_key(r.key)


def reference_queries(interval: str, **range_kw: object) -> list[dict[str, str]]:
    """The market_chart queries a fault-free fetch makes, in order (a retry after a read
    timeout on a loaded machine repeats its query: counted once)."""
    with FakeCoinGecko() as fake, Store(":memory:") as store:
        fetch(store, make_source(fake), "bitcoin", interval=interval, now=fake.now, **range_kw)
        queries = [r.query for r in fake.data_requests()]
    return [q for i, q in enumerate(queries) if i == 0 or q != queries[i - 1]]


def injector(
    fake: FakeCoinGecko, plan: dict[int, list[tuple[str, dict[str, object]]]]
) -> Callable[[int, int], None]:
    """A ``progress`` callback queueing ``plan[done]`` faults once ``done`` chunks are stored
    (``plan[0]`` is queued at once), so faults land on chosen chunks."""
    for kind, kw in plan.get(0, []):
        fake.fail(kind, **kw)  # type: ignore[arg-type]

    def progress(done: int, total: int) -> None:
        for kind, kw in plan.get(done, []):
            fake.fail(kind, **kw)  # type: ignore[arg-type]

    return progress


def stored_keys_ok(frame: pd.DataFrame) -> None:
    assert frame.index.is_unique
    assert frame.index.is_monotonic_increasing


# -- 1. daily bars ----------------------------------------------------------------------------


def test_daily_fetch_matches_yahoo_closes(data_dir: Path, store: Store) -> None:
    with FakeCoinGecko() as fake:
        r = fetch(store, make_source(fake), "bitcoin", interval="1d", days=200, now=fake.now)
        frame = store.read_key(r.key)
        requests = fake.data_requests()

    # now = 2025-02-11 12:00: the bar still forming (02-11) is left out -> 200 whole days.
    lo, hi = pd.Timestamp("2024-07-26", tz="UTC"), pd.Timestamp("2025-02-11", tz="UTC")
    assert r.key == SeriesKey("coingecko", "bitcoin", "usd", "1d")
    assert (r.new_rows, r.total_rows, r.chunks) == (200, 200, 1)
    assert (r.start, r.end) == (lo, hi - DAY)
    assert len(requests) == 1

    expected = between(yahoo(data_dir, "1d"), lo, hi)
    assert len(expected) == 200
    assert_index(frame.index, expected.index)
    np.testing.assert_array_equal(frame["close"].to_numpy(), expected["Close"].to_numpy())
    # One daily point per bar: open == high == low == close.
    for col in ("open", "high", "low"):
        np.testing.assert_array_equal(frame[col].to_numpy(), frame["close"].to_numpy())
    # Volume comes from total_volumes (Yahoo's volume in the fake); market cap is kept.
    np.testing.assert_array_equal(frame["volume"].to_numpy(), expected["Volume"].to_numpy())
    assert "market_cap" in frame.columns
    assert frame["market_cap"].notna().all()
    supply = COINS["bitcoin"][2]
    np.testing.assert_allclose(frame["market_cap"], expected["Close"].to_numpy() * supply)


# -- 2. hourly bars and gaps ------------------------------------------------------------------


def test_hourly_fetch_matches_yahoo_and_reports_the_missing_hour_as_a_gap(
    data_dir: Path, store: Store
) -> None:
    with FakeCoinGecko() as fake:
        r = fetch(
            store,
            make_source(fake),
            "bitcoin",
            interval="1h",
            start="2025-01-01",
            end="2025-01-30 23:00",
            now=fake.now,
        )
        frame = store.read_key(r.key)

    lo, hi = pd.Timestamp("2025-01-01", tz="UTC"), pd.Timestamp("2025-01-31", tz="UTC")
    expected = between(yahoo(data_dir, "1h"), lo, hi)
    assert len(expected) == 30 * 24 - 1  # Yahoo lacks 2025-01-02 14:00
    assert r.new_rows == r.total_rows == len(frame) == 30 * 24 - 1
    assert_index(frame.index, expected.index)
    np.testing.assert_array_equal(frame["close"].to_numpy(), expected["Close"].to_numpy())

    gaps = find_gaps(frame)
    assert len(gaps) == 1
    gap = gaps.iloc[0]
    assert gap["start"] == gap["end"] == pd.Timestamp("2025-01-02 14:00", tz="UTC")
    assert gap["missing"] == 1
    assert pd.Timestamp("2025-01-02 14:00", tz="UTC") not in frame.index  # not filled


def test_4h_bars_aggregate_the_hourly_points(data_dir: Path, store: Store) -> None:
    with FakeCoinGecko() as fake:
        r = fetch(
            store,
            make_source(fake),
            "bitcoin",
            interval="4h",
            start="2025-01-01",
            end="2025-01-10 20:00",
            now=fake.now,
        )
        frame = store.read_key(r.key)

    hourly = between(
        yahoo(data_dir, "1h"),
        pd.Timestamp("2025-01-01", tz="UTC"),
        pd.Timestamp("2025-01-11", tz="UTC"),
    )["Close"]
    bars = hourly.resample("4h").agg(["first", "max", "min", "last"])
    assert r.new_rows == len(frame) == 60
    assert_index(frame.index, bars.index)
    for col, rule in (("open", "first"), ("high", "max"), ("low", "min"), ("close", "last")):
        np.testing.assert_array_equal(frame[col].to_numpy(), bars[rule].to_numpy(), err_msg=col)
    # The bar holding the missing 14:00 hour is built from its 3 points, not dropped.
    assert pd.Timestamp("2025-01-02 12:00", tz="UTC") in frame.index


def test_weekly_bars_aggregate_daily_points_monday_aligned(data_dir: Path, store: Store) -> None:
    with FakeCoinGecko() as fake:
        r = fetch(store, make_source(fake), "bitcoin", interval="1w", days=200, now=fake.now)
        frame = store.read_key(r.key)

    assert (frame.index.day_of_week == 0).all()  # Mondays
    assert frame.index[-1] == pd.Timestamp("2025-02-03", tz="UTC")  # last whole week
    daily = between(yahoo(data_dir, "1d"), frame.index[0], frame.index[-1] + 7 * DAY)["Close"]
    weeks = daily.resample("W-MON", label="left", closed="left").agg(["first", "max", "last"])
    np.testing.assert_array_equal(frame["open"].to_numpy(), weeks["first"].to_numpy())
    np.testing.assert_array_equal(frame["high"].to_numpy(), weeks["max"].to_numpy())
    np.testing.assert_array_equal(frame["close"].to_numpy(), weeks["last"].to_numpy())


# -- 3. daily bars from a short range ---------------------------------------------------------


def test_daily_short_range_is_widened_to_daily_points(data_dir: Path, store: Store) -> None:
    with FakeCoinGecko() as fake:
        r = fetch(store, make_source(fake), "bitcoin", interval="1d", days=30, now=fake.now)
        short = store.read_key(r.key)
        (req,) = fake.data_requests()

    span = int(req.query["to"]) - int(req.query["from"])
    assert span > 90 * 86_400, "a <= 90 day request would get hourly points"
    assert r.new_rows == len(short) == 30
    assert short.index[0] == pd.Timestamp("2025-01-12", tz="UTC")
    assert short.index[-1] == pd.Timestamp("2025-02-10", tz="UTC")
    long = reference("1d", days=200)
    pd.testing.assert_frame_equal(short, long.loc[short.index[0] :])


def test_daily_short_range_near_the_365_day_limit_stays_inside_it(
    data_dir: Path, store: Store
) -> None:
    # The widened request must not reach before the keyless limit (the fake would answer 401).
    with FakeCoinGecko() as fake:
        r = fetch(
            store,
            make_source(fake),
            "bitcoin",
            interval="1d",
            start="2024-02-20",
            end="2024-03-01",
            now=fake.now,
        )
        frame = store.read_key(r.key)
        (req,) = fake.data_requests()

    limit = (fake.now - 365 * DAY).timestamp()
    assert int(req.query["from"]) >= limit
    assert int(req.query["to"]) - int(req.query["from"]) > 90 * 86_400
    expected = between(
        yahoo(data_dir, "1d"),
        pd.Timestamp("2024-02-20", tz="UTC"),
        pd.Timestamp("2024-03-02", tz="UTC"),
    )
    assert len(frame) == 11
    assert_index(frame.index, expected.index)
    np.testing.assert_array_equal(frame["close"].to_numpy(), expected["Close"].to_numpy())


def test_daily_short_range_at_the_365_day_limit_keeps_its_first_bar(
    data_dir: Path, store: Store
) -> None:
    # now = 2025-02-11 12:00: 2024-02-13 00:00 is 364.5 days back, inside the keyless limit.
    with FakeCoinGecko() as fake:
        r = fetch(
            store,
            make_source(fake),
            "bitcoin",
            interval="1d",
            start="2024-02-13",
            end="2024-03-01",
            now=fake.now,
        )
        frame = store.read_key(r.key)
        (req,) = fake.data_requests()

    assert int(req.query["from"]) <= pd.Timestamp("2024-02-13", tz="UTC").timestamp()
    expected = between(
        yahoo(data_dir, "1d"),
        pd.Timestamp("2024-02-13", tz="UTC"),
        pd.Timestamp("2024-03-02", tz="UTC"),
    )
    assert len(frame) == 18
    assert_index(frame.index, expected.index)


def test_short_hourly_range_at_the_365_day_limit_requests_its_bars(
    data_dir: Path, store: Store
) -> None:
    # 2024-02-12 13:00..20:00 is after now-365d (02-12 12:00): check_request accepts it.
    with FakeCoinGecko() as fake:
        fetch(
            store,
            make_source(fake),
            "bitcoin",
            interval="1h",
            start="2024-02-12 13:00",
            end="2024-02-12 20:00",
            now=fake.now,
        )
        (req,) = fake.data_requests()
    assert int(req.query["from"]) <= pd.Timestamp("2024-02-12 13:00", tz="UTC").timestamp()
    assert int(req.query["to"]) >= pd.Timestamp("2024-02-12 20:59:59", tz="UTC").timestamp()


def test_short_hourly_range_is_widened_to_hourly_points(data_dir: Path, store: Store) -> None:
    # A span of a day or less near now would get 5-minute points from CoinGecko.
    with FakeCoinGecko(now=pd.Timestamp("2025-02-05 12:00", tz="UTC")) as fake:
        r = fetch(store, make_source(fake), "bitcoin", interval="1h", days=0.25, now=fake.now)
        frame = store.read_key(r.key)
        (req,) = fake.data_requests()

    assert int(req.query["to"]) - int(req.query["from"]) > 86_400
    assert int(req.query["to"]) < fake.now.timestamp()  # the forming bar is not asked for
    lo, hi = pd.Timestamp("2025-02-05 06:00", tz="UTC"), pd.Timestamp("2025-02-05 12:00", tz="UTC")
    expected = between(yahoo(data_dir, "1h"), lo, hi)
    assert (r.chunks, r.new_rows, len(frame)) == (1, 6, 6)  # only bars in the asked range
    assert_index(frame.index, expected.index)
    np.testing.assert_array_equal(frame["close"].to_numpy(), expected["Close"].to_numpy())


# -- 4. transient faults ----------------------------------------------------------------------

# 1h over 200 days: three chunks of at most 89 days (the first one before the hourly data).
FAULT_DAYS = 200


@pytest.mark.parametrize("kind", ["429", "500", "503", "timeout", "truncated"])
def test_a_transient_fault_is_retried_and_leaves_the_same_store(
    data_dir: Path, store: Store, kind: str
) -> None:
    expected = reference("1h", days=FAULT_DAYS)
    with FakeCoinGecko(timeout_delay=1.0) as fake:
        kw = {"retry_after": 1} if kind == "429" else {}
        progress = injector(fake, {1: [(kind, kw)]})  # hits chunk 2, which holds data
        r = fetch(
            store,
            make_source(fake),
            "bitcoin",
            interval="1h",
            now=fake.now,
            progress=progress,
            days=FAULT_DAYS,
        )
        requests = fake.data_requests()

    assert r.chunks == 3
    # Three chunks, the faulted one asked again. A loaded machine may time out one more
    # answer (the client's read timeout is short, to test timeouts): that is a retry too.
    assert len({(q.query["from"], q.query["to"]) for q in requests}) == 3
    assert [q.fault for q in requests].count(kind) == 1 and requests[1].fault == kind
    assert len(requests) >= 3 + 1
    got = store.read_key(r.key)
    stored_keys_ok(got)
    pd.testing.assert_frame_equal(got, expected)


def test_many_faults_across_chunks_leave_exactly_the_fault_free_store(
    data_dir: Path, store: Store
) -> None:
    expected = reference("1h", days=FAULT_DAYS)
    expected_queries = reference_queries("1h", days=FAULT_DAYS)
    assert len(expected_queries) == 3
    plan: dict[int, list[tuple[str, dict[str, object]]]] = {
        0: [("500", {})],
        1: [("429", {"retry_after": 1}), ("timeout", {}), ("truncated", {})],
        2: [("503", {}), ("truncated", {})],
    }
    faults = sum(len(v) for v in plan.values())
    with FakeCoinGecko(timeout_delay=1.0) as fake:
        progress = injector(fake, plan)
        r = fetch(
            store,
            make_source(fake),
            "bitcoin",
            interval="1h",
            now=fake.now,
            progress=progress,
            days=FAULT_DAYS,
        )
        requests = fake.data_requests()

    assert r.chunks == 3
    # Every injected fault was met, in order, and each chunk was asked again until answered.
    # A loaded machine may time out one more answer (the client's read timeout is short, to
    # test timeouts): that is one more retry of the same chunk, not a fault of the store.
    assert [q.fault for q in requests if q.fault] == [
        "500", "429", "timeout", "truncated", "503", "truncated",
    ]  # fmt: skip
    assert 3 + faults <= len(requests) <= 3 + faults + 2
    # Each retry repeats its chunk's request; the answered ones are the fault-free ones.
    answered = [q.query for q in requests if q.fault is None]
    assert [dict(t) for t in dict.fromkeys(tuple(sorted(q.items())) for q in answered)] == (
        expected_queries
    )
    for prev, nxt in itertools.pairwise(requests):
        if prev.fault is not None:
            assert nxt.query == prev.query
    # Retry-After is honoured: >= 1 s, not the 0.01 s backoff of the policy.
    for prev, nxt in itertools.pairwise(requests):
        if prev.fault == "429":
            assert nxt.time - prev.time >= 1.0
            assert nxt.time - prev.time < 5.0
    got = store.read_key(r.key)
    stored_keys_ok(got)
    pd.testing.assert_frame_equal(got, expected)
    assert r.new_rows == r.total_rows == len(expected)
    assert store.integrity_check() == "ok"


def test_retry_after_is_honoured_with_the_default_policy(data_dir: Path, store: Store) -> None:
    with FakeCoinGecko() as fake:
        source = CoinGeckoSource(base_url=fake.url, clock=lambda: fake.now, timeout=5.0)
        fake.fail("429", retry_after=1)
        r = fetch(store, source, "bitcoin", interval="1d", days=10, now=fake.now)
        first, second = fake.data_requests()

    assert (first.fault, second.fault) == ("429", None)
    assert 1.0 <= second.time - first.time < 3.0
    assert r.new_rows == 10


def test_a_retry_after_beyond_the_cap_fails_at_once(data_dir: Path, store: Store) -> None:
    with FakeCoinGecko() as fake:
        fake.fail("429", retry_after=1000)
        started = time.monotonic()
        with pytest.raises(SourceError, match=r"asked to wait 1000 s \(Retry-After\)"):
            fetch(store, make_source(fake), "bitcoin", interval="1d", days=10, now=fake.now)
        assert time.monotonic() - started < 5
        assert len(fake.data_requests()) == 1


# -- 5. fatal faults: nothing partial, resume cleanly ------------------------------------------


@pytest.mark.parametrize(
    ("kind", "times", "message"),
    [
        ("malformed", 1, r"market_chart answer for bitcoin \(.*\) has an unexpected shape"),
        ("500", 5, r"kept failing for /coins/bitcoin/market_chart/range \(HTTP 500\) after 5"),
    ],
)
def test_a_failing_chunk_stores_nothing_and_a_later_fetch_resumes(
    data_dir: Path, store: Store, kind: str, times: int, message: str
) -> None:
    expected = reference("1h", days=FAULT_DAYS)
    expected_queries = reference_queries("1h", days=FAULT_DAYS)
    with FakeCoinGecko() as fake:
        source = make_source(fake)
        progress = injector(fake, {2: [(kind, {"times": times})]})  # chunk 3 fails
        with pytest.raises(SourceError, match=message):
            fetch(
                store,
                source,
                "bitcoin",
                interval="1h",
                now=fake.now,
                progress=progress,
                days=FAULT_DAYS,
            )
        failed = fake.data_requests()
        key = SeriesKey("coingecko", "bitcoin", "usd", "1h")

        # Chunks 1-2 stayed stored; chunk 3 stored nothing at all.
        chunk3_start = pd.Timestamp(int(expected_queries[2]["from"]), unit="s", tz="UTC")
        partial = store.read_key(key)
        pd.testing.assert_frame_equal(partial, expected[expected.index < chunk3_start])
        assert len(partial) > 0
        lo_ms = int(expected_queries[0]["from"]) * 1000
        hi_ms = int(fake.now.timestamp() * 1000)
        assert store.missing_ranges(key, lo_ms, hi_ms) == [
            (int(chunk3_start.value // 10**6), hi_ms)
        ]
        assert store.integrity_check() == "ok"
        assert len(failed) == 2 + times

        # A later fault-free fetch asks only for the missing chunk and completes the store.
        r = fetch(store, source, "bitcoin", interval="1h", now=fake.now, days=FAULT_DAYS)
        resumed = fake.data_requests()[len(failed) :]

    assert [q.query for q in resumed] == [expected_queries[2]]
    assert r.chunks == 1
    assert r.new_rows == len(expected) - len(partial)
    pd.testing.assert_frame_equal(store.read_key(key), expected)
    assert store.integrity_check() == "ok"


# -- 6. unknown coins and other 4xx: no retry --------------------------------------------------


def test_an_unknown_coin_fails_at_resolution_with_close_matches(
    data_dir: Path, store: Store
) -> None:
    with FakeCoinGecko() as fake:
        with pytest.raises(
            UnknownCoinError, match=r"unknown coin 'bitcoinn'; did you mean: bitcoin"
        ):
            fetch(store, make_source(fake), "bitcoinn", interval="1d", days=10, now=fake.now)
        assert fake.data_requests() == []
    assert store.list_series() == []


def test_a_404_from_market_chart_is_not_retried(data_dir: Path) -> None:
    with FakeCoinGecko() as fake:
        source = make_source(fake)
        end = int(fake.now.timestamp() * 1000) // 86_400_000 * 86_400_000
        with pytest.raises(UnknownCoinError, match=r"CoinGecko has no coin 'notacoin'"):
            source.fetch_chunk("notacoin", "usd", "1d", end - 200 * 86_400_000, end)
        (req,) = fake.data_requests()
        assert req.path == "/api/v3/coins/notacoin/market_chart/range"


def test_a_404_during_fetch_is_not_retried_and_stores_nothing(data_dir: Path, store: Store) -> None:
    with FakeCoinGecko() as fake:
        fake.fail("404")
        with pytest.raises(UnknownCoinError, match=r"CoinGecko has no coin 'bitcoin'"):
            fetch(store, make_source(fake), "bitcoin", interval="1d", days=10, now=fake.now)
        assert len(fake.data_requests()) == 1
    key = SeriesKey("coingecko", "bitcoin", "usd", "1d")
    assert store.read_key(key).empty
    assert store.info(key) is None  # not even coverage was recorded


def test_a_400_is_not_retried(data_dir: Path, store: Store) -> None:
    with FakeCoinGecko() as fake:
        with pytest.raises(SourceError, match=r"HTTP 400 for .*market_chart/range: invalid vs_c"):
            fetch(store, make_source(fake), "bitcoin", quote="gbp", days=10, now=fake.now)
        assert len(fake.data_requests()) == 1


# -- 7. history limit, keys and plans ----------------------------------------------------------


def test_keyless_history_beyond_365_days_is_refused_before_any_data_request(
    data_dir: Path, store: Store
) -> None:
    with FakeCoinGecko() as fake:
        start = fake.now - 400 * DAY
        with pytest.raises(HistoryLimitError, match=r"365 days") as info:
            fetch(store, make_source(fake), "bitcoin", start=start, now=fake.now)
        assert fake.data_requests() == []
    assert "use get_source('exchange:binance') for longer history" in str(info.value)
    assert "use --source exchange:binance for longer history" in info.value.cli
    assert store.list_series() == []


def test_a_server_side_range_refusal_is_a_history_limit_error(data_dir: Path, store: Store) -> None:
    # A source clock two days behind the server's passes the client check; CoinGecko's own
    # 401 (error 10012) must then read as a HistoryLimitError, with no retry.
    with FakeCoinGecko() as fake:
        source = make_source(fake, clock=lambda: fake.now - 2 * DAY)
        with pytest.raises(HistoryLimitError, match=r"refused the date range.*365 days") as info:
            fetch(store, source, "bitcoin", start=fake.now - 366 * DAY, now=fake.now)
        assert len(fake.data_requests()) == 1
    assert "Use get_source('exchange:binance') for longer" in str(info.value)
    assert "Use --source exchange:binance for longer" in info.value.cli


def test_a_pro_key_lifts_the_history_limit_and_is_sent_as_pro_header(
    data_dir: Path, store: Store
) -> None:
    with FakeCoinGecko() as fake:
        source = make_source(fake, api_key="k", plan="pro")
        r = fetch(store, source, "bitcoin", start="2024-01-08", now=fake.now)
        frame = store.read_key(r.key)
        requests = fake.requests

    assert r.chunks == 2
    assert all(q.headers.get("x-cg-pro-api-key") == "k" for q in requests)
    assert all("x-cg-demo-api-key" not in q.headers for q in requests)
    expected = between(
        yahoo(data_dir, "1d"), pd.Timestamp("2024-01-08", tz="UTC"), fake.now.floor("D")
    )
    assert len(frame) == 400
    assert_index(frame.index, expected.index)
    np.testing.assert_array_equal(frame["close"].to_numpy(), expected["Close"].to_numpy())


def test_a_demo_key_is_sent_as_demo_header_and_keeps_the_limit(
    data_dir: Path, store: Store
) -> None:
    with FakeCoinGecko() as fake:
        source = make_source(fake, api_key="k")
        fetch(store, source, "bitcoin", days=10, now=fake.now)
        with pytest.raises(HistoryLimitError, match=r"365 days"):
            fetch(store, source, "bitcoin", start=fake.now - 400 * DAY, now=fake.now)
        requests = fake.requests

    assert requests
    assert all(q.headers.get("x-cg-demo-api-key") == "k" for q in requests)
    assert all("x-cg-pro-api-key" not in q.headers for q in requests)


def test_keyless_requests_send_no_key_header(data_dir: Path, store: Store) -> None:
    with FakeCoinGecko() as fake:
        fetch(store, make_source(fake), "bitcoin", days=10, now=fake.now)
        requests = fake.requests
    assert requests
    for q in requests:
        assert "x-cg-demo-api-key" not in q.headers
        assert "x-cg-pro-api-key" not in q.headers


def test_environment_variables_are_honoured(
    data_dir: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FakeCoinGecko() as fake:
        monkeypatch.setenv("COINGECKO_BASE_URL", fake.url)
        monkeypatch.setenv("COINGECKO_API_KEY", "envkey")
        monkeypatch.setenv("COINGECKO_API_PLAN", "PRO")
        monkeypatch.setenv("COINGECKO_CALLS_PER_MINUTE", "7")
        source = CoinGeckoSource(
            policy=RetryPolicy(retries=1, backoff=0.01), timeout=0.5, clock=lambda: fake.now
        )
        assert source.client.limiter is not None
        assert source.client.limiter.calls == 7
        r = fetch(store, source, "bitcoin", start="2024-01-08", now=fake.now)
        requests = fake.requests

    assert r.total_rows == 400
    assert requests  # the env URL was used: the fake saw the requests
    assert all(q.headers.get("x-cg-pro-api-key") == "envkey" for q in requests)


def test_an_unknown_plan_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COINGECKO_API_PLAN", "enterprise")
    with pytest.raises(SourceError, match=r"COINGECKO_API_PLAN is 'enterprise'; use demo or pro"):
        CoinGeckoSource(base_url="http://127.0.0.1:9")


def test_the_key_never_appears_in_logs_or_errors(
    data_dir: Path, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with FakeCoinGecko() as fake:
        fake.fail("429", retry_after=0)
        fake.fail("500")
        source = make_source(fake, api_key=SECRET, plan="pro")
        fetch(store, source, "bitcoin", days=10, now=fake.now)
        assert fake.data_requests()[0].headers["x-cg-pro-api-key"] == SECRET

        demo = make_source(fake, api_key=SECRET, plan="demo")
        with pytest.raises(HistoryLimitError) as limit:
            fetch(store, demo, "bitcoin", start=fake.now - 400 * DAY, now=fake.now)

    with FakeCoinGecko(require_key="another-key") as fake:
        wrong = make_source(fake, api_key=SECRET, plan="pro")
        with pytest.raises(SourceError, match=r"HTTP 401.*check COINGECKO_API_KEY") as refused:
            fetch(store, wrong, "BTC", days=10, now=fake.now)  # refused at /coins/list

    assert "HTTP 429" in caplog.text  # the retries were logged ...
    assert SECRET not in caplog.text  # ... without the key
    for record in caplog.records:
        assert SECRET not in record.getMessage()
    for exc in (limit.value, refused.value):
        assert SECRET not in str(exc)
        assert SECRET not in repr(exc)


# -- 8. incremental fetching -------------------------------------------------------------------


def test_a_second_identical_fetch_makes_no_data_request(data_dir: Path, store: Store) -> None:
    with FakeCoinGecko() as fake:
        source = make_source(fake)
        first = fetch(store, source, "bitcoin", interval="1h", days=30, now=fake.now)
        before = store.read_key(first.key)
        n = len(fake.data_requests())
        second = fetch(store, source, "bitcoin", interval="1h", days=30, now=fake.now)
        assert len(fake.data_requests()) == n

    assert second.new_rows == 0
    assert second.chunks == 0
    assert second.total_rows == first.total_rows
    pd.testing.assert_frame_equal(store.read_key(first.key), before)


def test_a_covered_gap_is_not_refetched(data_dir: Path, store: Store) -> None:
    rng = {"start": "2025-01-02", "end": "2025-01-02 23:00"}
    with FakeCoinGecko() as fake:
        source = make_source(fake)
        first = fetch(store, source, "bitcoin", interval="1h", now=fake.now, **rng)
        second = fetch(store, source, "bitcoin", interval="1h", now=fake.now, **rng)
        assert len(fake.data_requests()) == 1
    assert first.new_rows == 23
    assert (second.new_rows, second.chunks) == (0, 0)


def test_a_later_fetch_requests_only_the_new_part(data_dir: Path, store: Store) -> None:
    with FakeCoinGecko(now=pd.Timestamp("2025-01-20 12:00", tz="UTC")) as fake:
        source = make_source(fake)
        first = fetch(store, source, "bitcoin", interval="1h", start="2025-01-01", now=fake.now)
        n = len(fake.data_requests())
        fake.now = pd.Timestamp("2025-02-01 12:00", tz="UTC")
        second = fetch(store, source, "bitcoin", interval="1h", start="2025-01-01", now=fake.now)
        new = fake.data_requests()[n:]
        # Six hours later: a short request (widened to keep hourly points), six new bars.
        fake.now = pd.Timestamp("2025-02-01 18:00", tz="UTC")
        third = fetch(store, source, "bitcoin", interval="1h", start="2025-01-01", now=fake.now)
        newest = fake.data_requests()[n + len(new) :]
        # The whole range fetched at once at the latest time, for comparison.
        with Store(":memory:") as fresh:
            whole_source = make_source(fake)
            fetch(fresh, whole_source, "bitcoin", interval="1h", start="2025-01-01", now=fake.now)
            whole = fresh.read_key(first.key)

    assert len(new) == 1
    old_end = pd.Timestamp("2025-01-20 12:00", tz="UTC").timestamp()
    new_end = pd.Timestamp("2025-02-01 12:00", tz="UTC").timestamp()
    assert int(new[0].query["from"]) == old_end
    assert int(new[0].query["to"]) == new_end - 1
    assert first.new_rows == 19 * 24 + 12 - 1  # minus the missing 01-02 14:00
    assert second.new_rows == 12 * 24
    assert second.total_rows == first.new_rows + second.new_rows
    assert len(newest) == 1
    assert int(newest[0].query["to"]) == pd.Timestamp("2025-02-01 18:00", tz="UTC").timestamp() - 1
    assert (third.chunks, third.new_rows) == (1, 6)
    assert third.total_rows == second.total_rows + 6
    pd.testing.assert_frame_equal(store.read_key(first.key), whole)


# -- 9. coin resolution ------------------------------------------------------------------------


def test_symbols_names_and_ids_resolve_through_the_coin_list(data_dir: Path, store: Store) -> None:
    with FakeCoinGecko() as fake:
        source = make_source(fake, store=store)
        for name in ("BTC", "btc", "bitcoin", "Bitcoin", " BTC "):
            assert source.resolve_coin(name) == "bitcoin", name
        # "btc" is also the symbol of the decoy "batcat": the known-symbols table decides.
        assert {c["id"] for c in source.coin_list() if c["symbol"] == "btc"} == {
            "bitcoin",
            "batcat",
        }
        assert source.resolve_coin("bch") == "bitcoin-cash"
        assert source.resolve_coin("Bitcoin Cash") == "bitcoin-cash"
        assert source.resolve_coin("ETC") == "ethereum-classic"  # unique symbol, not in table
        assert source.resolve_coin("batcat") == "batcat"
        coin_lists = [q for q in fake.requests if q.path.endswith("/coins/list")]
        assert len(coin_lists) == 1  # cached in the store after the first resolution

        # A new source on the same store uses the cache ...
        again = make_source(fake, store=store)
        assert again.resolve_coin("ETH") == "ethereum"
        assert len([q for q in fake.requests if q.path.endswith("/coins/list")]) == 1
        # ... until it is a day old.
        fake.now = fake.now + 2 * DAY
        assert again.resolve_coin("ETH") == "ethereum"
        assert len([q for q in fake.requests if q.path.endswith("/coins/list")]) == 2
    cached, _ = store.load_coins()
    assert {"id": "bitcoin", "symbol": "btc", "name": "Bitcoin"} in cached


def test_a_well_known_id_needs_no_coin_list(data_dir: Path, store: Store) -> None:
    with FakeCoinGecko() as fake:
        source = make_source(fake, store=store)
        assert [source.resolve_coin(c) for c in ("bitcoin", "ethereum")] == ["bitcoin", "ethereum"]
        fetch(store, source, "bitcoin", days=10, now=fake.now)
        assert not [q for q in fake.requests if q.path.endswith("/coins/list")]
        assert fake.data_requests()  # the candles were asked for
        assert source.resolve_coin("BTC") == "bitcoin"  # a symbol still reads the list
        assert len([q for q in fake.requests if q.path.endswith("/coins/list")]) == 1


# -- 10. intervals -----------------------------------------------------------------------------


@pytest.mark.parametrize("interval", ["1s", "1m"])
def test_intervals_finer_than_5m_point_to_an_exchange(
    data_dir: Path, store: Store, interval: str
) -> None:
    with FakeCoinGecko() as fake:
        with pytest.raises(
            IntervalError,
            match=rf"does not serve {interval} data.*get_source\('exchange:binance'\)",
        ) as info:
            fetch(store, make_source(fake), "bitcoin", interval=interval, days=1, now=fake.now)
        assert info.value.cli.endswith(f"; use --source exchange:binance for {interval}")
        assert fake.data_requests() == []


def test_5m_beyond_the_last_day_is_refused(data_dir: Path, store: Store) -> None:
    with FakeCoinGecko() as fake:
        with pytest.raises(IntervalError, match=r"5m data only for the last 24 hours") as info:
            fetch(store, make_source(fake), "bitcoin", interval="5m", days=2, now=fake.now)
        assert fake.data_requests() == []
    # In Python the message names the argument and get_source; the CLI's flags ride in .cli.
    head = "CoinGecko serves 5m data only for the last 24 hours; fetch less "
    assert str(info.value) == (
        f"{head}(days=1) or use get_source('exchange:binance') for longer minute history"
    )
    assert info.value.cli == (
        f"{head}(--days 1) or use --source exchange:binance for longer minute history"
    )


def test_5m_over_the_last_day_is_served(data_dir: Path, store: Store) -> None:
    with FakeCoinGecko() as fake:  # now = 12:00, on a 5-minute boundary
        r = fetch(store, make_source(fake), "bitcoin", interval="5m", days=1, now=fake.now)
    assert r.new_rows > 0
    assert r.start is not None
    assert r.start >= fake.now - DAY


def test_5m_over_the_last_day_is_served_at_any_time_of_day(data_dir: Path, store: Store) -> None:
    with FakeCoinGecko(now=pd.Timestamp("2025-02-10 12:03", tz="UTC")) as fake:
        r = fetch(store, make_source(fake), "bitcoin", interval="5m", days=1, now=fake.now)
    assert r.new_rows > 0


# -- 11. rate limiter --------------------------------------------------------------------------


def test_rate_limiter_sleeps_until_the_window_frees() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    limiter = RateLimiter(calls=3, period=60, clock=lambda: now[0], sleep=sleep)
    for t in (0.0, 1.0, 2.0):
        now[0] = t
        assert limiter.acquire() == 0.0
    now[0] = 3.0
    assert limiter.acquire() == pytest.approx(57.0)  # until the call at t=0 leaves the window
    assert now[0] == pytest.approx(60.0)
    assert limiter.acquire() == pytest.approx(1.0)  # next: the call at t=1
    assert slept == pytest.approx([57.0, 1.0])
    now[0] = 200.0
    assert limiter.acquire() == 0.0  # the window emptied
    assert len(slept) == 2


def test_rate_limiter_refuses_zero_calls() -> None:
    with pytest.raises(ValueError, match=r"calls \(0\) must be >= 1"):
        RateLimiter(calls=0)


def test_json_client_spaces_real_requests(data_dir: Path) -> None:
    with FakeCoinGecko() as fake:
        client = JsonClient(fake.url, limiter=RateLimiter(2, 1.0), timeout=2.0)
        started = time.monotonic()
        for _ in range(3):
            assert client.get("/ping") == {"gecko_says": "(V3) To the Moon!"}
        elapsed = time.monotonic() - started
        times = [q.time for q in fake.requests]

    assert elapsed >= 1.0
    assert len(times) == 3
    assert times[1] - times[0] < 0.5  # the first two went at once
    assert times[2] - times[0] >= 0.9  # the third waited for the window


# -- 12. backoff -------------------------------------------------------------------------------


@given(
    attempt=st.integers(0, 30),
    backoff=st.floats(0.001, 10.0),
    cap=st.floats(0.001, 120.0),
)
def test_backoff_delay_is_capped_exponential_with_jitter(
    attempt: int, backoff: float, cap: float
) -> None:
    policy = RetryPolicy(backoff=backoff, max_backoff=cap)
    base = min(cap, backoff * 2**attempt)
    delay = policy.delay(attempt, None)
    assert 0.5 * base <= delay <= base


def test_backoff_doubles_until_the_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    policy = RetryPolicy(backoff=1.0, max_backoff=10.0)
    monkeypatch.setattr(httpmod.random, "random", lambda: 0.0)
    assert [policy.delay(a, None) for a in range(6)] == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0]
    monkeypatch.setattr(httpmod.random, "random", lambda: 1.0)
    assert [policy.delay(a, None) for a in range(6)] == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    # Retry-After wins over backoff, even beyond the backoff cap.
    assert policy.delay(0, 3.0) == 3.0
    assert policy.delay(5, 30.0) == 30.0


def test_backoff_jitter_spreads_delays() -> None:
    policy = RetryPolicy(backoff=1.0, max_backoff=60.0)
    delays = {policy.delay(3, None) for _ in range(50)}
    assert len(delays) > 1
    assert all(4.0 <= d <= 8.0 for d in delays)
