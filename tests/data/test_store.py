"""The SQLite store: round trips, idempotent upserts, coverage, series choice, bad files."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import os
import re
import shutil
import sqlite3
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coincast.data.sources.synthetic import synthetic_candles
from coincast.data.store import SeriesKey, Store, key_of
from coincast.data.store.failures import explain
from coincast.errors import IntervalError, NotAStoreError, StoreError
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
        IntervalError, match=r"demo is stored at 1h, coarser than 1m.*'demo', interval='1m'\)"
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
        StoreError,
        match=r"choose one: source='csv', quote='usd'; or source='synthetic', quote='usd'$",
    ):
        store.read_candles("demo", "1d")
    assert store.read_candles("demo", "1d", source="csv").attrs["source"] == "csv"


def test_nothing_stored_says_how_to_fetch(store):
    with pytest.raises(
        StoreError,
        match=r"no stored data for coin='bitcoin', interval='1h'\. Fetch it first: "
        r"coincast\.fetch\(store, get_source\('coingecko'\), 'bitcoin', interval='1h'\)",
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
    with pytest.raises(StoreError, match=r"refused the write \(SQLITE_CONSTRAINT_NOTNULL"):
        store.write_candles(bad)
    assert store.info(key_of(good)).rows == 10
    key = key_of(good)
    feb = int(pd.Timestamp("2024-02-01", tz="UTC").value // 1e6)
    assert store.missing_ranges(key, feb, feb + 10 * 86_400_000) == [(feb, feb + 10 * 86_400_000)]


# -- what a store path may hold: look before writing anything ---------------------------------


def file_digest(path) -> str:
    """The bytes of ``path`` and of any -wal/-journal file beside it."""
    parts = [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-journal")]
    return hashlib.sha256(
        b"|".join(p.read_bytes() if p.exists() else b"-" for p in parts)
    ).hexdigest()


def rows_digest(path) -> str:
    """Every row of every table of the SQLite file at ``path``, and its user_version."""
    db = sqlite3.connect(path)
    try:
        dump = "\n".join(db.iterdump()) + str(db.execute("PRAGMA user_version").fetchone())
    finally:
        db.close()
    return hashlib.sha256(dump.encode()).hexdigest()


def foreign_db(path, tables=("users", "posts"), version=0, wal=False):
    db = sqlite3.connect(path)
    if wal:
        db.execute("PRAGMA journal_mode=WAL")
    for t in tables:
        db.execute(f'CREATE TABLE "{t}" (a)')
        db.execute(f'INSERT INTO "{t}" VALUES (1)')
    db.execute(f"PRAGMA user_version={version}")
    db.commit()
    db.close()
    return path


FOREIGN = [
    pytest.param(("users", "posts"), 0, False, "tables: posts, users", id="two-tables"),
    pytest.param(("meta", "coins"), 0, False, "tables: coins, meta", id="our-generic-names"),
    pytest.param(("posts",), 7, False, "tables: posts", id="other-user-version"),
    pytest.param(("series", "candles"), 0, False, "tables: candles, series", id="our-names-v0"),
    pytest.param(("logs",), 0, True, "tables: logs", id="wal"),
    pytest.param((), 3, False, "tables: none", id="no-tables-but-versioned"),
    pytest.param([f"t{i:02d}" for i in range(20)], 0, False, "t07 and 12 more", id="many"),
    pytest.param(("x\ny", "z" * 100), 0, False, r"'x\\ny', 'zzzz", id="odd-names"),
]


@pytest.mark.parametrize(("tables", "version", "wal", "listing"), FOREIGN)
@pytest.mark.parametrize("readonly", [False, True], ids=["write", "read"])
def test_another_applications_database_is_refused_untouched(
    tmp_path, tables, version, wal, listing, readonly
):
    path = foreign_db(tmp_path / "app.db", tables, version, wal)
    # Closed at once: a WAL file's last connection checkpoints when it closes, which must
    # not happen (at garbage collection) between the two digests.
    with contextlib.closing(sqlite3.connect(path)) as db:
        mode = db.execute("PRAGMA journal_mode").fetchone()[0]
    before = file_digest(path)
    with pytest.raises(
        NotAStoreError,
        match=rf"app\.db is an SQLite database of another application \(.*{listing}.*\), "
        r"not a coincast store; open a Store at another path$",
    ) as caught:
        Store(path, readonly=readonly)
    # In Python the message says Store; the CLI's wording (--store) rides along as .cli.
    assert caught.value.cli.endswith("), not a coincast store; give another --store")
    assert file_digest(path) == before
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == mode
    names = {n for (n,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert names == set(tables)


NOT_SQLITE = [
    pytest.param(b"these are my notes, not a database\n" * 100, "a text file", id="text"),
    pytest.param(
        b"timestamp,open,high,low,close\n2024-01-01,1,2,0.5,1.5\n", "a text file", id="csv"
    ),
    pytest.param(gzip.compress(b"x" * 1000), "a gzip file", id="gzip"),
    pytest.param(b"PK\x03\x04" + bytes(200), "a zip file", id="xlsx"),
    pytest.param(b"\x89PNG\r\n\x1a\n" + bytes(200), "a PNG image", id="png"),
    pytest.param(b"PAR1" + bytes(200) + b"PAR1", "a Parquet file", id="parquet"),
    pytest.param(bytes(range(256)) * 8, "binary data", id="random-bytes"),
    pytest.param(b"\x00garbage" * 512, "binary data", id="nul-garbage"),
]


@pytest.mark.parametrize(("data", "kind"), NOT_SQLITE)
@pytest.mark.parametrize("readonly", [False, True], ids=["write", "read"])
def test_a_file_that_is_not_sqlite_is_named_and_left_intact(tmp_path, data, kind, readonly):
    path = tmp_path / "notes.db"
    path.write_bytes(data)
    with pytest.raises(
        NotAStoreError,
        match=rf"notes\.db is not a coincast store: it is {kind}.*, not an SQLite database; "
        r"open a Store at another path \(a new file name makes a new store\)$",
    ) as caught:
        Store(path, readonly=readonly)
    assert caught.value.cli.endswith(
        ", not an SQLite database; give another --store (a new file name makes a new store)"
    )
    assert path.read_bytes() == data
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.db"]


def test_sqlite_magic_followed_by_garbage_is_not_a_database(tmp_path):
    path = tmp_path / "fake.db"
    data = b"SQLite format 3\x00" + bytes(range(256)) * 16
    path.write_bytes(data)
    for readonly in (False, True):
        with pytest.raises(
            StoreError, match=r"fake\.db is not an SQLite database \(SQLITE_NOTADB: file is not"
        ) as caught:
            Store(path, readonly=readonly)
        # SQLite's failures too: Store in Python, --store in the CLI's wording (.cli)
        assert str(caught.value).endswith("; open a Store at another path (a new file name "
                                          "makes a new store)")  # fmt: skip
        assert caught.value.cli.endswith(
            "; give another --store (a new file name makes a new store)"
        )
    assert path.read_bytes() == data


@pytest.mark.parametrize(
    "dropped", [("coverage",), ("candles", "coverage"), ("meta",), ("coins", "meta", "series")]
)
@pytest.mark.parametrize("readonly", [False, True], ids=["write", "read"])
def test_a_tampered_store_names_the_missing_tables(store_path, dropped, readonly):
    with Store(store_path) as s:
        s.write_candles(synthetic_candles(5, coin="demo"))
    db = sqlite3.connect(store_path)
    for t in dropped:
        db.execute(f"DROP TABLE {t}")
    db.commit()
    db.close()
    before = rows_digest(store_path)
    missing = ", ".join(
        t for t in ("series", "candles", "coverage", "coins", "meta") if t in dropped
    )
    with pytest.raises(
        NotAStoreError,
        match=rf"is a coincast store missing the table\(s\) {missing}: it was changed outside "
        "coincast. Restore it from a backup, or open a Store at another path$",
    ) as caught:
        Store(store_path, readonly=readonly)
    assert caught.value.cli.endswith(". Restore it from a backup, or give another --store")
    assert rows_digest(store_path) == before


def test_an_empty_file_or_empty_database_becomes_a_store(tmp_path):
    empty = tmp_path / "empty.db"
    empty.touch()
    blank = tmp_path / "blank.db"
    sqlite3.connect(blank).execute("VACUUM").connection.close()  # a header, no tables
    for path in (empty, blank):
        with Store(path, readonly=True) as s:  # read-only: reads as empty, changes nothing
            assert s.list_series() == [] and s.exists
        with Store(path) as s:
            s.write_candles(synthetic_candles(3, coin="demo"))
        with Store(path, readonly=True) as s:
            assert s.list_series()[0].rows == 3
    assert empty.stat().st_size > 0


def test_a_missing_store_opened_read_only_creates_nothing(tmp_path):
    path = tmp_path / "x" / "new" / "c.db"
    with Store(path, readonly=True) as s:
        assert not s.exists and s.list_series() == []
        assert s.missing_ranges(SeriesKey("t", "c", "usd", "1h"), 0, H) == [(0, H)]
        with pytest.raises(StoreError, match=r"no stored data for coin='bitcoin'\. Fetch it first"):
            s.read_candles("bitcoin")
        with pytest.raises(StoreError, match=r"c\.db was opened read-only \(readonly=True\)"):
            s.write_candles(synthetic_candles(3, coin="demo"))
    assert not (tmp_path / "x").exists()


def test_a_store_opened_read_only_refuses_writes_and_is_unchanged(store_path):
    with Store(store_path) as s:
        s.write_candles(synthetic_candles(5, coin="demo"))
    before = rows_digest(store_path)
    with Store(store_path, readonly=True) as s:
        assert s.read_candles("demo").shape == (5, 5)
        for write in (
            lambda: s.write_candles(synthetic_candles(5, coin="other")),
            lambda: s.add_coverage(SeriesKey("t", "c", "usd", "1h"), 0, H),
            lambda: s.save_coins([], pd.Timestamp("2025-01-01", tz="UTC")),
        ):
            with pytest.raises(StoreError, match="was opened read-only"):
                write()
        with pytest.raises(sqlite3.OperationalError) as info:
            s._db.execute("DELETE FROM candles")  # below the guard, SQLite refuses too
        assert explain(info.value, "c.db").startswith(
            "the store c.db is read-only (SQLITE_READONLY"
        )
    assert rows_digest(store_path) == before


# -- each SQLite failure says what happened ---------------------------------------------------


def test_disk_full_says_so_and_saves_nothing(store_path):
    with Store(store_path) as s:
        s.write_candles(synthetic_candles(10, coin="demo"))
        before = rows_digest(store_path)
        pages = s._db.execute("PRAGMA page_count").fetchone()[0]
        s._db.execute(f"PRAGMA max_page_count={pages}")  # SQLite's own limit: a full disk
        with pytest.raises(
            StoreError,
            match=r"could not be written: the disk is full \(SQLITE_FULL: database or disk is "
            r"full\); nothing of this command was saved. Free some disk space",
        ) as info:
            s.write_candles(synthetic_candles(5000, "1h", coin="big"))
        assert "another coincast" not in str(info.value)
    assert rows_digest(store_path) == before


def test_a_locked_store_asks_about_another_coincast(store_path):
    Store(store_path).close()
    with Store(store_path) as holder, Store(store_path, timeout=0.05) as s:
        holder._db.execute("BEGIN IMMEDIATE")
        with pytest.raises(
            StoreError,
            match=r"is locked \(SQLITE_BUSY: database is locked\); is another coincast writing "
            "to it\\? Try again when it has finished",
        ):
            s.write_candles(synthetic_candles(3, coin="demo"))
        holder._db.execute("ROLLBACK")
        assert s.write_candles(synthetic_candles(3, coin="demo")) == 3


def test_a_damaged_store_says_so(store_path):
    with Store(store_path) as s:
        s.write_candles(synthetic_candles(3000, "1h", coin="demo"))
    data = bytearray(store_path.read_bytes())
    page = 4096
    data[3 * page : 12 * page] = bytes(range(256)) * (9 * page // 256)  # btree pages
    store_path.write_bytes(bytes(data))
    with (
        pytest.raises(
            StoreError, match=r"is damaged \(SQLITE_CORRUPT.*\); restore it from a backup"
        ) as info,
        Store(store_path, readonly=True) as s,
    ):
        s.read_key(SeriesKey("synthetic", "demo", "usd", "1h"))
    assert "another coincast" not in str(info.value)


def test_a_folder_that_cannot_be_made_is_named(tmp_path):
    blocker = tmp_path / "file.txt"
    blocker.write_text("a file where a folder should be")
    with pytest.raises(
        StoreError,
        match=r"cannot create the folder .*file\.txt/sub for the store .*\(Not a directory\)",
    ):
        Store(blocker / "sub" / "c.db")
    assert blocker.read_text() == "a file where a folder should be"


#: Run Python without the root's power to ignore file modes, so chmod binds (as for a user).
AS_USER = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search,-fowner"]

CHMOD_SCRIPT = """
import sys
from coincast.data.store import Store
from coincast.data.sources.synthetic import synthetic_candles
from coincast.errors import StoreError
for path, mode in zip(sys.argv[1::2], sys.argv[2::2]):
    try:
        with Store(path, readonly=mode == "read") as s:
            if mode == "read":
                print("rows", sum(i.rows for i in s.list_series()))
            else:
                s.write_candles(synthetic_candles(3, coin="other"))
                print("wrote")
    except StoreError as exc:
        print(exc)
"""


def run_as_user(*args: str) -> list[str]:
    """Run :data:`CHMOD_SCRIPT` (pairs of store path and ``read``/``write``) as an ordinary
    user would: as root, through setpriv, without the power to ignore file modes."""
    prefix = []
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("running as root without setpriv: chmod would not bind")
        prefix = AS_USER
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    cmd = [*prefix, sys.executable, "-c", CHMOD_SCRIPT, *args]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60)
    if done.returncode and "setpriv" in done.stderr:
        pytest.skip(f"setpriv cannot drop capabilities here: {done.stderr.strip()}")
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()


READ_ONLY = (
    r"the store .*c\.db is read-only \(SQLITE_READONLY\w*: attempt to write a readonly "
    r"database\); coincast cannot write to it. Make the file and its folder writable "
    r"\(chmod u\+w\), or open a Store at another path \(a new file name makes a new store\)"
)


@pytest.mark.parametrize("what", ["file", "folder"])
def test_a_read_only_file_or_folder_is_named_and_still_readable(tmp_path, what):
    folder = tmp_path / "ro"
    folder.mkdir()
    path = folder / "c.db"
    with Store(path) as s:
        s.write_candles(synthetic_candles(5, coin="demo"))
    before = rows_digest(path)
    path.chmod(0o444) if what == "file" else folder.chmod(0o555)
    new, sub = folder / "new.db", folder / "sub" / "new.db"
    try:
        said = run_as_user(
            str(path), "write", str(path), "read", str(new), "write", str(sub), "write"
        )
    finally:
        path.chmod(0o644)
        folder.chmod(0o755)
    assert re.fullmatch(READ_ONLY, said[0]), said[0]
    assert said[1] == "rows 5"
    if what == "folder":
        assert "cannot open the store" in said[2] and "SQLITE_CANTOPEN" in said[2], said[2]
        assert "cannot create the folder" in said[3] and "Permission denied" in said[3], said[3]
        assert not new.exists() and not sub.parent.exists()
    assert rows_digest(path) == before


def test_a_renamed_column_says_the_store_was_changed_outside_coincast(store_path):
    with Store(store_path) as s:
        s.write_candles(synthetic_candles(5, coin="demo"))
    db = sqlite3.connect(store_path)
    db.execute("ALTER TABLE candles RENAME COLUMN volume TO vol")
    db.commit()
    db.close()
    with (
        Store(store_path, readonly=True) as s,
        pytest.raises(
            StoreError,
            match=r"lacks part of coincast's schema \(no such column: volume\); it was changed "
            "outside coincast. Restore it from a backup",
        ),
    ):
        s.read_candles("demo")
