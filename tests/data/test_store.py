"""The SQLite store: round trips, idempotent upserts, coverage, series choice, bad files."""

from __future__ import annotations

import sqlite3

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coincast.data.sources.synthetic import synthetic_candles
from coincast.data.store import SeriesKey, Store, key_of
from coincast.errors import IntervalError, StoreError
from coincast.series import make_frame

H = 3_600_000


def test_write_then_read_gives_the_same_frame(store):
    f = synthetic_candles(500, "1h", seed=3, coin="demo")
    assert store.write_candles(f) == 500
    back = store.read_key(key_of(f))
    pd.testing.assert_frame_equal(back, f)
    assert back.attrs == f.attrs


finite = st.floats(min_value=1e-6, max_value=1e9, allow_nan=False, allow_infinity=False)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    bars=st.lists(st.integers(-(10**6), 10**6), min_size=1, max_size=60, unique=True),
    prices=st.lists(st.tuples(finite, finite, finite), min_size=60, max_size=60),
    caps=st.booleans(),
)
def test_round_trip_property(tmp_path, bars, prices, caps):
    bars = sorted(bars)
    p = np.array(prices[: len(bars)])
    lo, hi = p.min(axis=1), p.max(axis=1)
    cols = {"open": p[:, 0], "high": hi, "low": lo, "close": p[:, 2], "volume": p[:, 1]}
    if caps:
        cols["market_cap"] = p[:, 1] * 10
    f = make_frame(np.array(bars) * H, cols, coin="c", quote="usd", interval="1h", source="t")
    with Store(tmp_path / "prop.db") as s:
        s.write_candles(f)
        pd.testing.assert_frame_equal(s.read_key(key_of(f)), f, check_exact=True)
        s.write_candles(f)  # idempotent
        assert s.info(key_of(f)).rows == len(f)
    (tmp_path / "prop.db").unlink()


def test_upsert_is_idempotent_and_updates_values(store):
    f = synthetic_candles(100, "1d", seed=1, coin="demo")
    assert store.write_candles(f) == 100
    assert store.write_candles(f) == 0
    changed = f.copy()
    changed.attrs.update(f.attrs)
    changed.loc[changed.index[-1], ["close", "high"]] = [1e9, 1e9]
    assert store.write_candles(changed.iloc[-5:]) == 0
    back = store.read_key(key_of(f))
    assert len(back) == 100 and back["close"].iloc[-1] == 1e9


def test_coverage_merges_and_reports_missing_ranges(store):
    key = SeriesKey("t", "c", "usd", "1h")
    assert store.missing_ranges(key, 0, 10 * H) == [(0, 10 * H)]
    store.add_coverage(key, 2 * H, 4 * H)
    store.add_coverage(key, 6 * H, 7 * H)
    assert store.missing_ranges(key, 0, 10 * H) == [(0, 2 * H), (4 * H, 6 * H), (7 * H, 10 * H)]
    store.add_coverage(key, 4 * H, 6 * H)  # touching both neighbours: one range remains
    assert store.missing_ranges(key, 0, 10 * H) == [(0, 2 * H), (7 * H, 10 * H)]
    assert store._db.execute("SELECT COUNT(*) FROM coverage").fetchone()[0] == 1
    assert store.missing_ranges(key, 2 * H, 7 * H) == []


def test_read_resamples_coarser_and_refuses_finer(store):
    store.write_candles(synthetic_candles(24 * 14, "1h", seed=2, coin="demo", start="2024-01-01"))
    daily = store.read_candles("demo", "1d")
    assert len(daily) == 14 and daily.attrs["interval"] == "1d"
    with pytest.raises(
        IntervalError, match=r"demo is stored at 1h, coarser than 1m.*--interval 1m"
    ):
        store.read_candles("demo", "1m")


def test_the_exact_interval_is_preferred_then_the_coarsest_finer(store):
    store.write_candles(synthetic_candles(48, "1h", coin="demo", start="2024-01-01"))
    store.write_candles(synthetic_candles(4, "1d", coin="demo", start="2024-01-01"))
    assert store.resolve("demo", "1d").interval == "1d"
    assert store.resolve("demo", "4h").interval == "1h"
    assert store.resolve("demo").interval == "1h"


def test_ambiguous_source_lists_the_choices(store):
    f = synthetic_candles(10, "1d", coin="demo")
    store.write_candles(f)
    other = f.copy()
    other.attrs.update(f.attrs, source="csv")
    store.write_candles(other)
    with pytest.raises(
        StoreError, match="choose one: --source csv --quote usd, --source synthetic"
    ):
        store.read_candles("demo", "1d")
    assert store.read_candles("demo", "1d", source="csv").attrs["source"] == "csv"


def test_nothing_stored_says_how_to_fetch(store):
    with pytest.raises(
        StoreError, match=r"no stored data for bitcoin 1h.*coincast fetch bitcoin --interval 1h"
    ):
        store.read_candles("bitcoin", "1h")


def test_list_series(store):
    store.write_candles(synthetic_candles(10, "1d", coin="b", start="2024-01-01"))
    store.write_candles(synthetic_candles(5, "1h", coin="a", start="2024-01-01"))
    infos = store.list_series()
    assert [(i.key.coin, i.rows) for i in infos] == [("a", 5), ("b", 10)]
    d = infos[1].to_dict()
    assert d == {
        "source": "synthetic",
        "coin": "b",
        "quote": "usd",
        "interval": "1d",
        "rows": 10,
        "start": "2024-01-01T00:00:00+00:00",
        "end": "2024-01-10T00:00:00+00:00",
    }


def test_not_a_database_is_refused_and_left_intact(tmp_path):
    path = tmp_path / "notes.db"
    path.write_bytes(b"these are my notes, not a database" * 100)
    before = path.read_bytes()
    with pytest.raises(StoreError, match="is not a coincast store"):
        Store(path)
    assert path.read_bytes() == before


def test_folder_as_store_path(tmp_path):
    with pytest.raises(StoreError, match="is a folder"):
        Store(tmp_path)


def test_wal_mode_and_integrity(store_path):
    with Store(store_path) as s:
        s.write_candles(synthetic_candles(10, coin="demo"))
        assert s.integrity_check() == "ok"
    mode = sqlite3.connect(store_path).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_newer_schema_is_refused(store_path):
    Store(store_path).close()
    db = sqlite3.connect(store_path)
    db.execute("PRAGMA user_version=99")
    db.close()
    with pytest.raises(StoreError, match="schema 99, newer than"):
        Store(store_path)


def test_coin_list_cache(store):
    coins = [{"id": "bitcoin", "symbol": "btc", "name": "Bitcoin"}]
    at = pd.Timestamp("2025-01-01", tz="UTC")
    assert store.load_coins() == ([], None)
    store.save_coins(coins, at)
    assert store.load_coins() == (coins, at)


def test_failed_write_leaves_nothing_behind(store):
    good = synthetic_candles(10, coin="demo", start="2024-01-01")
    store.write_candles(good)
    bad = synthetic_candles(10, coin="demo", start="2024-02-01")
    bad.attrs.update(good.attrs)
    bad.iloc[5, 0] = None  # NOT NULL constraint fails mid-chunk
    with pytest.raises(sqlite3.IntegrityError):
        store.write_candles(bad)
    assert store.info(key_of(good)).rows == 10
    key = key_of(good)
    feb = int(pd.Timestamp("2024-02-01", tz="UTC").value // 1e6)
    assert store.missing_ranges(key, feb, feb + 10 * 86_400_000) == [(feb, feb + 10 * 86_400_000)]
