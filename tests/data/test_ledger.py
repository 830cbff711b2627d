"""The ledger: append-only, one row per forecast, refused when stale or back-dated, and a
hash chain that names the first row changed after it was written."""

from __future__ import annotations

import sqlite3

import pytest

from coincast.data.sources import synthetic_candles
from coincast.data.store import Store
from coincast.data.store.ledger import Forecast, Ledger, StaleForecastError
from coincast.series import to_ms

H = 3_600_000


@pytest.fixture
def filled(store):
    frame = synthetic_candles(20, "1h", coin="demo")
    store.write_candles(frame.iloc[:10])
    return store, frame


def forecast(last_ts, step=1, yhat=1.5, run="r", lo=None, hi=None):
    at = "2024-01-01T00:00:00+00:00"
    return Forecast(run, "a" * 64, "synthetic", "demo", "usd", "1h", last_ts, 1.0,
                    last_ts + step * H, step, yhat, lo, hi, at)  # fmt: skip


def last_ms(store):
    return to_ms(store.read_candles("demo", "1h").index[-1])


def test_the_same_forecast_is_written_once(filled):
    store, _ = filled
    ledger, t = Ledger(store), last_ms(store)
    assert ledger.append([forecast(t, 1), forecast(t, 2)]) == 2
    assert ledger.append([forecast(t, 1), forecast(t, 2)]) == 0
    assert len(ledger.rows()) == 2
    assert ledger.append([forecast(t, 1, run="other")]) == 1  # another run is another forecast


def test_a_forecast_not_from_the_newest_bar_is_refused(filled):
    store, _ = filled
    with pytest.raises(StaleForecastError, match=r"stale forecast of demo/usd 1h .* newest stored"):
        Ledger(store).append([forecast(last_ms(store) - H)])
    assert Ledger(store).rows().empty


def test_a_forecast_of_a_stored_bar_is_refused(filled):
    store, _ = filled
    t = last_ms(store)
    back = forecast(t, step=-1)  # its target lies before last_ts: already stored
    with pytest.raises(StaleForecastError, match=r"already stored.*no back-dated forecasts"):
        Ledger(store).append([back])


def test_a_write_cut_short_leaves_nothing(filled):
    store, _ = filled
    t = last_ms(store)

    def boom(n):
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        Ledger(store).append([forecast(t, 1), forecast(t, 2)], on_row=boom)
    assert Ledger(store).rows().empty and Ledger(store).verify().ok


def test_scoring_records_actual_and_errors_once_the_bar_is_stored(filled):
    store, frame = filled
    ledger, t = Ledger(store), last_ms(store)
    ledger.append([forecast(t, 1, yhat=2.0), forecast(t, 2, yhat=3.0)])
    assert ledger.score("2024-01-02T00:00:00+00:00") == {}
    store.write_candles(frame.iloc[10:11])
    assert ledger.score("2024-01-02T00:00:00+00:00") == {"demo": 1}
    assert ledger.score("2024-01-02T00:00:00+00:00") == {}  # scored once
    row = ledger.rows().iloc[0]
    actual = float(frame["close"].iloc[10])
    assert row.actual == actual and row.error == abs(actual - 2.0)
    assert row.naive_error == abs(actual - 1.0)
    assert ledger.rows()["actual"].isna().tolist() == [False, True]


def _scored_ledger(filled):
    store, frame = filled
    ledger = Ledger(store)
    for i in range(10, 13):
        t = last_ms(store)
        ledger.append([forecast(t, 1, lo=0.5, hi=2.5), forecast(t, 2)])
        store.write_candles(frame.iloc[i : i + 1])
        ledger.score(f"2024-01-0{i - 8}T00:00:00+00:00")
    return store, ledger


def _raw(store, sql, *args):
    """Change the store behind coincast's back, as someone editing the file would."""
    db = store._db
    for t in ("forecasts", "outcomes"):
        for op in ("update", "delete"):
            db.execute(f"DROP TRIGGER IF EXISTS {t}_no_{op}")
    db.execute(sql, args)


def test_an_intact_ledger_verifies(filled):
    _, ledger = _scored_ledger(filled)
    v = ledger.verify()
    assert v.ok and (v.forecasts, v.outcomes) == (6, 5) and v.broken is None


def test_rows_cannot_be_changed_through_sqlite(filled):
    store, _ = _scored_ledger(filled)
    for sql in ("UPDATE forecasts SET yhat = 0", "DELETE FROM outcomes"):
        with pytest.raises(sqlite3.DatabaseError, match="the ledger is append-only"):
            store._db.execute(sql)


@pytest.mark.parametrize(
    ("sql", "broken"),
    [
        ("UPDATE forecasts SET yhat = 9 WHERE id = 3", "forecast row 3: its row_hash does not"),
        ("UPDATE forecasts SET issued_at = 'x' WHERE id = 5", "forecast row 5: its row_hash"),
        ("DELETE FROM forecasts WHERE id = 2", "forecast row 3: expected id 2"),
        ("UPDATE outcomes SET actual = actual + 1 WHERE id = 2", "outcome row 2: its row_hash"),
        ("UPDATE outcomes SET error = 0 WHERE id = 4", "outcome row 4: its row_hash"),
        ("UPDATE outcomes SET forecast_id = 6 WHERE id = 3", "outcome row 3: its row_hash"),
    ],
)
def test_verify_names_the_first_row_changed(filled, sql, broken):
    store, ledger = _scored_ledger(filled)
    _raw(store, "PRAGMA foreign_keys=OFF")
    _raw(store, sql)
    v = ledger.verify()
    assert not v.ok and v.broken.startswith(broken)


def test_a_rehashed_row_still_breaks_the_link_after_it(filled):
    store, ledger = _scored_ledger(filled)
    from coincast.data.store.ledger import row_hash

    row = ledger.rows().iloc[1]
    values = {k: row[k] for k in Forecast.__dataclass_fields__}
    values.update(yhat=99.0, last_ts=to_ms(row.last_ts), target_ts=to_ms(row.target_ts),
                  step=int(row.step), lo=None, hi=None)  # fmt: skip
    prev = store._db.execute("SELECT prev_hash FROM forecasts WHERE id = 2").fetchone()[0]
    _raw(store, "UPDATE forecasts SET yhat = 99, row_hash = ? WHERE id = 2", row_hash(values, prev))
    assert ledger.verify().broken.startswith("forecast row 3: its prev_hash")


def test_a_store_without_a_ledger_reads_as_empty(store_path):
    with Store(store_path, readonly=True) as s:
        assert Ledger(s).rows().empty and Ledger(s).verify().ok
    with Store(store_path) as s:
        s.write_candles(synthetic_candles(5, "1h", coin="demo"))
    with Store(store_path, readonly=True) as s:
        assert Ledger(s).rows().empty


def test_ints_and_nan_bands_hash_as_they_are_stored(filled):
    import numpy as np

    store, _ = filled
    t = last_ms(store)
    f = Forecast("r", "a" * 64, "synthetic", "demo", "usd", "1h", np.int64(t), 2, t + H, 1, 3,
                 float("nan"), float("nan"), "t")  # fmt: skip
    assert Ledger(store).append([f]) == 1 and Ledger(store).append([f]) == 0
    assert Ledger(store).verify().ok
