"""ExchangeSource against a fake Binance spot API driven by the real ccxt client.

Every test talks real HTTP to ``tests/fakes/binance.py`` on 127.0.0.1 through ``ccxt.binance``,
so pagination, ccxt's error mapping and our retries are exercised end to end.
"""

from __future__ import annotations

import math
import socket
import time
from pathlib import Path

import ccxt
import numpy as np
import pandas as pd
import pytest
from fakes.binance import DEFAULT_NOW_MS, FakeBinance, make_exchange, synthetic_price
from fakes.hostile import Reply, closed_port, nested, store_snapshot

from coincast.data.fetch import fetch
from coincast.data.sources import get_source
from coincast.data.sources.exchange import ExchangeSource
from coincast.data.sources.http import RetryPolicy
from coincast.data.sources.transport import HttpLimits
from coincast.data.store import SeriesKey, Store
from coincast.errors import IntervalError, SourceError, UnknownCoinError
from coincast.intervals import bar_start
from coincast.series import COLUMNS, find_gaps, index_from_ms

POLICY = RetryPolicy(retries=4, backoff=0.01, max_backoff=0.05)
MIN_MS = 60_000
HOUR_MS = 3_600_000
BARS = 2500  # 1m bars in the multi-page fetches: pages of 1000, 1000 and 500
KEY_1M = SeriesKey("exchange:binance", "bitcoin", "usdt", "1m")


class Sleeps(list[float]):
    """A ``sleep`` that records the requested waits instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def source_for(
    fake: FakeBinance, sleep=None, policy: RetryPolicy = POLICY, **config
) -> ExchangeSource:
    exchange = make_exchange(fake.url, **config)
    return ExchangeSource(
        "binance", exchange=exchange, policy=policy, sleep=sleep if sleep is not None else Sleeps()
    )


def now_of(fake: FakeBinance) -> pd.Timestamp:
    return pd.Timestamp(fake.now_ms, unit="ms", tz="UTC")


def kline_frame(rows: list[list]) -> pd.DataFrame:
    """The OHLCV frame of kline rows as ``/api/v3/klines`` returns them."""
    ts = np.array([r[0] for r in rows], dtype="int64")
    values = np.array([[float(x) for x in r[1:6]] for r in rows], dtype="float64")
    return pd.DataFrame(values.reshape(-1, 5), columns=list(COLUMNS), index=index_from_ms(ts))


def assert_candles_equal(got: pd.DataFrame, expected: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(got[list(COLUMNS)], expected[list(COLUMNS)], check_exact=True)


def fetch_1m(store: Store, source: ExchangeSource, fake: FakeBinance, progress=None):
    """The last ``BARS`` complete 1m bars before the fake's now: three pages."""
    now = now_of(fake)
    start = now - pd.Timedelta(minutes=BARS)
    return fetch(store, source, "bitcoin", interval="1m", start=start, now=now, progress=progress)


def fail_after_first_page(fake: FakeBinance, kind: str, **kw):
    """A progress callback queueing ``kind`` once page 1 is stored: page 2 meets the fault."""

    def progress(done: int, total: int) -> None:
        if done == 1:
            fake.fail(kind, **kw)

    return progress


@pytest.fixture(scope="module")
def clean_1m(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    """What a fault-free ``fetch_1m`` stores."""
    path = tmp_path_factory.mktemp("clean") / "clean.db"
    with FakeBinance() as fake, Store(path) as clean:
        result = fetch_1m(clean, source_for(fake), fake)
        assert result.new_rows == BARS
        assert len(fake.kline_requests()) == 3
        return clean.read_key(KEY_1M)


# -- real data, pagination, fine intervals -------------------------------------------------------


@pytest.mark.parametrize(
    ("interval", "file"), [("1d", "BTCUSDT_1d.csv"), ("1w", "BTCUSDT_1wk.csv")]
)
def test_real_btc_klines_are_stored_exactly(
    data_dir: Path, store: Store, interval: str, file: str
) -> None:
    csv = pd.read_csv(data_dir / "binance" / file)
    ts = pd.to_datetime(csv["datetime"], utc=True).dt.as_unit("ms").astype("int64").to_numpy()
    expected = pd.DataFrame(
        csv[list(COLUMNS)].to_numpy(dtype="float64"), columns=list(COLUMNS), index=index_from_ms(ts)
    )
    now_ms = DEFAULT_NOW_MS + 13 * HOUR_MS  # mid-bar: the bar holding now is still forming
    forming = bar_start(now_ms, interval)
    assert ts[-1] == forming  # the CSV (like Binance) has the forming bar ...
    expected = expected[ts < forming]  # ... which must not be stored
    with FakeBinance(now_ms=now_ms) as fake:
        result = fetch(
            store,
            source_for(fake),
            "bitcoin",
            interval=interval,
            quote="usdt",
            start="2018-01-01",
            now=now_of(fake),
        )
        klines = fake.kline_requests()
    key = SeriesKey("exchange:binance", "bitcoin", "usdt", interval)
    assert result.key == key
    assert [i.key for i in store.list_series()] == [key]
    got = store.read_key(key)
    assert len(got) == result.new_rows == result.total_rows == len(expected)
    assert got.index[0] == pd.Timestamp("2018-01-01", tz="UTC")
    assert_candles_equal(got, expected)
    assert len(klines) == result.chunks == math.ceil(len(expected) / 1000)
    assert {r.query["symbol"] for r in klines} == {"BTCUSDT"}


def test_one_second_candles_paginate_and_match_the_exchange(store: Store) -> None:
    with FakeBinance() as fake:
        now = now_of(fake)
        lo = fake.now_ms - 2500 * 1000
        result = fetch(
            store,
            source_for(fake),
            "BTC",
            interval="1s",
            start=now - pd.Timedelta(seconds=2500),
            now=now,
        )
        klines = fake.kline_requests()
        served = fake.klines("BTCUSDT", "1s", lo, fake.now_ms - 1, limit=5000)
    assert result.new_rows == 2500
    assert len(served) == 2500
    got = store.read_key(SeriesKey("exchange:binance", "bitcoin", "usdt", "1s"))
    assert len(got) == 2500
    assert got.index[0] == pd.Timestamp(lo, unit="ms", tz="UTC")
    assert got.index[-1] == now - pd.Timedelta(seconds=1)
    assert_candles_equal(got, kline_frame(served))
    opens = got.index.as_unit("ms").asi8
    np.testing.assert_allclose(got["open"], synthetic_price("BTCUSDT", opens), rtol=0, atol=1e-8)
    np.testing.assert_allclose(
        got["close"], synthetic_price("BTCUSDT", opens + 1000), rtol=0, atol=1e-8
    )
    assert [(int(r.query["startTime"]), r.query["limit"]) for r in klines] == [
        (lo, "1000"),
        (lo + 1_000_000, "1000"),
        (lo + 2_000_000, "500"),
    ]
    assert {r.query["interval"] for r in klines} == {"1s"}


# -- gaps and coverage ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "gap_minutes",
    [
        pytest.param([(950, 1100)], id="across-page-boundary"),
        pytest.param([(900, 2100)], id="covers-a-whole-page"),
        pytest.param([(1950, BARS + 1)], id="tail-up-to-now"),
    ],
)
def test_maintenance_gaps_are_missing_reported_and_not_refetched(
    store: Store, gap_minutes: list[tuple[int, int]]
) -> None:
    lo = DEFAULT_NOW_MS - BARS * MIN_MS
    gaps = [(lo + a * MIN_MS, lo + b * MIN_MS) for a, b in gap_minutes]
    all_bars = lo + MIN_MS * np.arange(BARS)
    in_gap = np.zeros(BARS, dtype=bool)
    for g0, g1 in gaps:
        in_gap |= (all_bars >= g0) & (all_bars < g1)
    with FakeBinance(gaps=gaps) as fake:
        first = fetch_1m(store, source_for(fake), fake)
        got = store.read_key(KEY_1M)
        assert np.array_equal(got.index.as_unit("ms").asi8, all_bars[~in_gap])
        assert first.new_rows == int((~in_gap).sum())
        assert first.chunks == 3
        expected_gaps = [
            (g0, min(g1, fake.now_ms) - MIN_MS, (min(g1, fake.now_ms) - g0) // MIN_MS)
            for g0, g1 in gaps
            if g1 < fake.now_ms  # a gap reaching now has no bar after it: not a hole
        ]
        found = find_gaps(got)
        assert [
            (int(s.value // 10**6), int(e.value // 10**6), int(n))
            for s, e, n in found.itertuples(index=False)
        ] == expected_gaps
        assert store.missing_ranges(KEY_1M, lo, fake.now_ms) == []

        before = len(fake.requests)
        again = fetch_1m(store, source_for(fake), fake)
        assert again.chunks == 0
        assert again.new_rows == 0
        assert len(fake.requests) == before  # no klines, not even exchangeInfo
    assert_candles_equal(store.read_key(KEY_1M), got)


# -- transient faults ----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["429", "418", "500", "502", "timeout", "truncated"])
def test_transient_fault_mid_fetch_is_retried_to_the_same_store(
    store: Store, clean_1m: pd.DataFrame, kind: str
) -> None:
    sleeps = Sleeps()
    with FakeBinance(timeout_delay=1.0) as fake:
        source = source_for(fake, sleep=sleeps, timeout=500)
        progress = fail_after_first_page(fake, kind, retry_after=2)
        result = fetch_1m(store, source, fake, progress=progress)
        klines = fake.kline_requests()
    assert result.new_rows == BARS
    assert_candles_equal(store.read_key(KEY_1M), clean_1m)
    assert len(klines) == 3 + 1  # pages + faults
    assert [r.fault for r in klines] == [None, kind, None, None]
    assert klines[1].query == klines[2].query  # the same page asked again
    if kind in ("429", "418"):
        assert sleeps == [2.0]  # exactly Retry-After
    else:
        assert len(sleeps) == 1
        assert 0 < sleeps[0] <= POLICY.max_backoff
    assert store.integrity_check() == "ok"


def test_retry_after_is_really_waited(store: Store) -> None:
    with FakeBinance() as fake:
        fake.fail("429", retry_after=1)
        now = now_of(fake)
        result = fetch(
            store,
            source_for(fake, sleep=time.sleep),
            "bitcoin",
            interval="1m",
            start=now - pd.Timedelta(minutes=1500),
            now=now,
        )
        klines = fake.kline_requests()
    assert result.new_rows == 1500
    assert [r.fault for r in klines] == ["429", None, None]
    assert klines[1].t - klines[0].t >= 1.0  # measured where the server saw them
    assert klines[2].t - klines[1].t < 1.0  # no wait once the server is happy


# -- errors that are not retried -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("coin", "quote", "message"),
    [
        ("notacoin", "usdt", r"binance has no market NOTACOIN/USDT; markets there: \S+/USDT"),
        ("solana", "eur", r"binance has no market SOL/EUR; markets there: SOL/USDT"),
    ],
)
def test_unknown_market_fails_before_any_kline_request(
    store: Store, coin: str, quote: str, message: str
) -> None:
    with FakeBinance() as fake:
        with pytest.raises(UnknownCoinError, match=message):
            fetch(store, source_for(fake), coin, interval="1h", quote=quote, now=now_of(fake))
        assert fake.kline_requests() == []
    assert store.list_series() == []


def test_invalid_symbol_mid_fetch_is_not_retried(store: Store, clean_1m: pd.DataFrame) -> None:
    sleeps = Sleeps()
    with FakeBinance() as fake:
        progress = fail_after_first_page(fake, "400")
        with pytest.raises(SourceError, match=r"binance refused the request: .*Invalid symbol"):
            fetch_1m(store, source_for(fake, sleep=sleeps), fake, progress=progress)
        klines = fake.kline_requests()
    assert [r.fault for r in klines] == [None, "400"]  # one request for the failing page
    assert sleeps == []
    assert_candles_equal(store.read_key(KEY_1M), clean_1m.iloc[:1000])


def test_exhausted_retries_keep_earlier_pages_and_resume_later(
    store: Store, clean_1m: pd.DataFrame
) -> None:
    lo = DEFAULT_NOW_MS - BARS * MIN_MS
    sleeps = Sleeps()
    with FakeBinance() as fake:
        progress = fail_after_first_page(fake, "502", times=10)
        with pytest.raises(SourceError, match=r"kept failing \(ExchangeNotAvailable\) after 5"):
            fetch_1m(store, source_for(fake, sleep=sleeps), fake, progress=progress)
        klines = fake.kline_requests()
    assert [r.fault for r in klines] == [None] + ["502"] * 5
    assert {int(r.query["startTime"]) for r in klines[1:]} == {lo + 1000 * MIN_MS}
    assert len(sleeps) == 4
    assert_candles_equal(store.read_key(KEY_1M), clean_1m.iloc[:1000])  # page 2: nothing
    assert store.missing_ranges(KEY_1M, lo, DEFAULT_NOW_MS) == [
        (lo + 1000 * MIN_MS, DEFAULT_NOW_MS)
    ]
    assert store.integrity_check() == "ok"

    with FakeBinance() as recovered:  # later: the exchange answers again
        result = fetch_1m(store, source_for(recovered), recovered)
        starts = [int(r.query["startTime"]) for r in recovered.kline_requests()]
    assert starts == [lo + 1000 * MIN_MS, lo + 2000 * MIN_MS]  # only the missing pages
    assert result.chunks == 2
    assert result.new_rows == BARS - 1000
    assert_candles_equal(store.read_key(KEY_1M), clean_1m)


# -- quotes and intervals ------------------------------------------------------------------------


def test_quote_selects_the_market_and_is_stored(store: Store) -> None:
    with FakeBinance() as fake:
        lo = fake.now_ms - 48 * HOUR_MS
        result = fetch(store, source_for(fake), "bitcoin", interval="1h", quote="eur", days=2,
                       now=now_of(fake))  # fmt: skip
        klines = fake.kline_requests()
        served = fake.klines("BTCEUR", "1h", lo, fake.now_ms - 1, limit=1000)
    key = SeriesKey("exchange:binance", "bitcoin", "eur", "1h")
    assert result.key == key
    assert [i.key for i in store.list_series()] == [key]
    assert {r.query["symbol"] for r in klines} == {"BTCEUR"}
    got = store.read_key(key)
    assert len(got) == 48
    assert_candles_equal(got, kline_frame(served))


def test_interval_the_exchange_does_not_offer(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FakeBinance() as fake:
        source = source_for(fake)
        offered = {k: v for k, v in source.exchange.timeframes.items() if k != "1s"}
        monkeypatch.setattr(source.exchange, "timeframes", offered)
        with pytest.raises(
            IntervalError, match=r"binance does not offer 1s candles; it offers: 1m"
        ):
            fetch(store, source, "bitcoin", interval="1s", days=0.01, now=now_of(fake))
        assert fake.requests == []
    assert store.list_series() == []


# -- choosing an exchange ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("exchange:binanse", r"unknown exchange 'binanse'; did you mean binance"),
        ("exchange:krakn", r"unknown exchange 'krakn'; did you mean kraken"),
        ("exchange:notanexchange", r"unknown exchange 'notanexchange'.*binance, kraken"),
    ],
)
def test_unknown_exchange_suggests_close_ids(name: str, message: str) -> None:
    with pytest.raises(SourceError, match=message) as caught:
        get_source(name)
    assert str(caught.value).endswith(": get_source('exchange:binance')")
    assert caught.value.cli.endswith(": --source exchange:binance")


def test_plain_exchange_source_defaults_to_binance_without_network(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_network(*args: object) -> None:
        raise AssertionError("building a source must not touch the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    source = get_source("exchange")
    assert isinstance(source, ExchangeSource)
    assert source.name == "exchange:binance"
    assert isinstance(source.exchange, ccxt.binance)
    assert source.default_quote == "usdt"
    assert source.requests_made == 0
    assert get_source("exchange:Kraken").name == "exchange:kraken"


# -- listing date --------------------------------------------------------------------------------


def test_range_before_listing_stores_from_listing_on(store: Store) -> None:
    listing = DEFAULT_NOW_MS - 500 * HOUR_MS
    with FakeBinance(listing_ms={"SOLUSDT": listing}) as fake:
        now = now_of(fake)
        result = fetch(store, source_for(fake), "SOL", interval="1h",
                       start=now - pd.Timedelta(hours=2500), now=now)  # fmt: skip
        served = fake.klines("SOLUSDT", "1h", listing, fake.now_ms - 1, limit=1000)
        assert len(fake.kline_requests()) == 3
        again = fetch(store, source_for(fake), "SOL", interval="1h",
                      start=now - pd.Timedelta(hours=2500), now=now)  # fmt: skip
        assert len(fake.kline_requests()) == 3  # the empty pre-listing range is remembered
    key = SeriesKey("exchange:binance", "solana", "usdt", "1h")
    assert result.key == key
    assert result.new_rows == 500
    assert result.start == pd.Timestamp(listing, unit="ms", tz="UTC")
    assert again.chunks == 0
    got = store.read_key(key)
    assert len(got) == 500
    assert_candles_equal(got, kline_frame(served))


# -- regressions -----------------------------------------------------------------------------


def test_injected_exchange_without_extra_config_fetches(store: Store) -> None:
    with FakeBinance() as fake:
        source = ExchangeSource(
            "binance", exchange=make_exchange(fake.url), policy=POLICY, sleep=Sleeps()
        )
        result = fetch(store, source, "bitcoin", interval="1h", days=1, now=now_of(fake))
    assert result.new_rows == 24


def test_truncated_market_list_is_retried(store: Store) -> None:
    with FakeBinance() as fake:
        fake.fail("truncated", path_contains="exchangeInfo")
        result = fetch(store, source_for(fake), "bitcoin", interval="1h", days=1, now=now_of(fake))
        infos = [r for r in fake.requests if r.path.endswith("/exchangeInfo")]
    assert result.new_rows == 24
    assert [r.fault for r in infos] == ["truncated", None]


def test_retry_after_beyond_the_policy_gives_up(store: Store) -> None:
    sleeps = Sleeps()
    policy = RetryPolicy(retries=4, backoff=0.01, max_backoff=0.05, max_retry_after=5)
    with FakeBinance() as fake:
        fake.fail("418", retry_after=60)
        with pytest.raises(SourceError, match=r"60"):
            source = source_for(fake, sleep=sleeps, policy=policy)
            fetch(store, source, "bitcoin", interval="1h", days=1, now=now_of(fake))
        assert len(fake.kline_requests()) == 1  # no early retry that would extend the ban
    assert sleeps == []


# -- hostile servers (see also test_hostile_servers.py) ------------------------------------------


def guarded_source(fake: FakeBinance, sleeps: Sleeps, deadline: float = 5.0) -> ExchangeSource:
    """A source whose requests have a short deadline and a 100 kB size cap."""
    return ExchangeSource(
        "binance",
        exchange=make_exchange(fake.url),
        policy=POLICY,
        sleep=sleeps,
        limits=HttpLimits(deadline=deadline, max_bytes=100_000),
    )


def edit_row(i: int, j: int, value: object):
    def edit(rows: list) -> list:
        rows[i][j] = value
        return rows

    return edit


ROWS = r"binance's OHLCV answer for BTC/USDT 1h from 2025-02-19 00:00 UTC is not wholly valid: "
KEEP = r"; nothing was stored for this range, and the next fetch asks for it again$"
HOSTILE_KLINES = {
    "negative close": (Reply(body=edit_row(3, 4, "-1")), ROWS + r"1 of 24 rows have a price"),
    "null high": (Reply(body=edit_row(3, 2, None)), ROWS + r"1 of 24 rows have a price that is"),
    "text open": (Reply(body=edit_row(3, 1, "abc")), ROWS + r"1 of 24 rows have a price"),
    "zero low": (Reply(body=edit_row(0, 3, "0")), ROWS + r"1 of 24 rows have a price"),
    "NaN volume": (Reply(body=edit_row(5, 5, "NaN")), ROWS + r"1 of 24 rows have a volume"),
    "time 1e30": (Reply(body=edit_row(0, 0, 10**30)), ROWS + r"1 of 24 rows are not \[time,"),
    "rows before the start": (
        Reply(body=lambda rows: [[rows[0][0] - 3_600_000, *rows[0][1:]], *rows]),
        ROWS + r"1 of 25 rows are not candles at or after the requested start",
    ),
    "rows of text": (Reply(body=b'["abc", "def"]'), ROWS + r"2 of 2 rows are not candles at"),
    "an object": (Reply(body=b'{"a": 1}'), ROWS + r"it is a dict holding no list of candles"),
}
HOSTILE_FINAL = {
    "html": (
        Reply(body=b"<html>\n<b>502</b></html>", content_type="text/html"),
        r"^binance answered the OHLCV request with text/html, not JSON: '<html> <b>502</b>"
        r"</html>'; nothing was stored from it$",
    ),
    "a string": (
        Reply(body=b'"hello"'),
        r"^binance's OHLCV answer has an unexpected shape \(JSON that is neither an object nor",
    ),
    "40k deep": (Reply(body=nested(40_000)), r"^binance's OHLCV answer is JSON nested too deeply"),
    "drip": (
        Reply(drip=0.2),
        r"^binance sent no complete answer to /api/v3/klines within 1 s \(the deadline, COINCAST",
    ),
    "endless": (
        Reply(endless=True),
        r"^binance's answer to /api/v3/klines is larger than 100,000 bytes \(more than 100,000",
    ),
    "Retry-After inf": (
        Reply(429, b'{"code":-1003}', headers={"Retry-After": "inf"}),
        r"^binance asked to wait inf s \(Retry-After\); try again later$",
    ),
}


@pytest.mark.parametrize("case", [*HOSTILE_KLINES, *HOSTILE_FINAL])
def test_a_hostile_kline_answer_fails_at_once_and_changes_nothing(
    store_path: Path, case: str
) -> None:
    reply, match = HOSTILE_KLINES.get(case) or HOSTILE_FINAL[case]
    match += ".*" + KEEP if case in HOSTILE_KLINES else ""
    sleeps = Sleeps()
    with FakeBinance() as fake:
        with Store(store_path) as store:  # something already stored
            fetch(store, source_for(fake), "ETH", interval="1h", days=1, now=now_of(fake))
        before = store_snapshot(store_path)
        fake.answer(reply, times=10)
        started = time.monotonic()
        with Store(store_path) as store, pytest.raises(SourceError, match=match):
            source = guarded_source(fake, sleeps, 1.0 if case == "drip" else 5.0)
            fetch(store, source, "bitcoin", interval="1h", days=1, now=now_of(fake))
        assert time.monotonic() - started < 5.0
        assert [r.fault for r in fake.kline_requests()][-2:] == [None, "reply"]  # no retry
    assert store_snapshot(store_path) == before
    assert sleeps == []


@pytest.mark.parametrize("value", ["nan", "-1", "soon", "", "Wed, 21 Oct 2015 07:28:00 GMT"])
def test_an_unreadable_exchange_retry_after_falls_back_to_backoff(store: Store, value: str) -> None:
    sleeps = Sleeps()
    with FakeBinance() as fake:
        fake.answer(Reply(429, b'{"code":-1003}', headers={"Retry-After": value}))
        result = fetch(
            store, guarded_source(fake, sleeps), "bitcoin", interval="1h", days=1, now=now_of(fake)
        )
        faults = [r.fault for r in fake.kline_requests()]
    assert result.new_rows == 24
    assert faults[0] == "reply" and faults[-1] is None  # (a loaded machine may time out too)
    assert sleeps and all(0 <= s <= 0.05 for s in sleeps)  # the policy's backoff, not NaN


def test_an_unreachable_exchange_is_reported_in_under_5_s(store: Store) -> None:
    port = closed_port()
    source = ExchangeSource("binance", exchange=make_exchange(f"http://127.0.0.1:{port}"))
    started = time.monotonic()
    with pytest.raises(
        SourceError,
        match=rf"^could not reach 127\.0\.0\.1:{port} \(connection refused\); check the network, "
        r"or use get_source\('synthetic'\), or read a file with read_file$",
    ) as caught:
        fetch(store, source, "bitcoin", interval="1h", days=1)
    assert caught.value.cli.endswith("or use --source synthetic or `coincast import FILE`")
    assert time.monotonic() - started < 5.0  # two quick retries, not the policy's backoff
    assert store.list_series() == []


def test_an_oversize_market_list_stops_at_the_cap(store: Store) -> None:
    with FakeBinance() as fake:
        fake.answer(Reply(body=b" " * 200_000), path_contains="exchangeInfo")
        with pytest.raises(
            SourceError, match=r"^binance's answer to /api/v3/exchangeInfo is larger"
        ):
            fetch(store, guarded_source(fake, Sleeps()), "bitcoin", interval="1h", days=1,
                  now=now_of(fake))  # fmt: skip
    assert store.list_series() == []
