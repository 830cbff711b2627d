"""``coincast.data.frames``: reading one or several coins from the store, and exporting."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from coincast.data.frames import export_frame, gap_report, read_frame, read_frames
from coincast.data.sources import read_file, synthetic_candles
from coincast.errors import CoincastError, NameFormError, StoreError
from coincast.series import COLUMNS, make_frame


@pytest.fixture
def filled(store):
    for seed, coin in enumerate(("bitcoin", "ethereum")):
        store.write_candles(synthetic_candles(20, coin=coin, seed=seed))
    return store


def test_read_frame_takes_symbols_and_any_case(filled):
    frame = read_frame(filled, "BTC", "1d", source="SYNTHETIC", quote="USD")
    assert frame.attrs["coin"] == "bitcoin" and len(frame) == 20


def test_read_frames_reads_each_coin_up_to_end(filled):
    end = pd.Timestamp("2020-01-10", tz="UTC")
    frames = read_frames(filled, ["bitcoin", "ethereum"], "1d", end=end)
    assert list(frames) == ["bitcoin", "ethereum"]
    assert all(f.index[-1] == end and len(f) == 10 for f in frames.values())


def test_read_frames_names_the_coin_with_no_bar_before_end(filled):
    with pytest.raises(StoreError, match=r"no stored 1d data for bitcoin up to 2019-01-01") as e:
        read_frames(filled, ["bitcoin", "ethereum"], "1d", end=pd.Timestamp("2019-01-01", tz="UTC"))
    assert str(e.value).endswith(
        "fetch it: coincast.fetch(store, get_source('coingecko'), 'bitcoin', interval='1d')"
    )
    assert e.value.cli.endswith("fetch it: coincast fetch bitcoin --interval 1d")


@pytest.mark.parametrize("name", ["out.csv", "sub/out.parquet"])
def test_export_round_trips_through_read_file(tmp_path, name):
    frame = synthetic_candles(5, coin="bitcoin")
    path = tmp_path / name
    export_frame(frame, path)
    back, _ = read_file(path, coin="bitcoin")
    pd.testing.assert_frame_equal(back[list(frame.columns)], frame, check_freq=False)
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left


def test_export_refuses_other_suffixes(tmp_path):
    with pytest.raises(CoincastError, match=r"must end in \.csv or \.parquet") as caught:
        export_frame(synthetic_candles(3), tmp_path / "x.txt")
    assert str(caught.value).startswith(f"path {tmp_path / 'x.txt'} must end")
    assert caught.value.cli.startswith(f"--out {tmp_path / 'x.txt'} must end")
    assert not list(tmp_path.iterdir())


# -- resampled reads: the completeness rule ------------------------------------------------------


def _write_minutes(store, minutes: np.ndarray) -> None:
    ones = np.ones(len(minutes))
    cols = {c: ones for c in COLUMNS}
    frame = make_frame(
        minutes * 60_000, cols, coin="demo", quote="usd", interval="1m", source="synthetic"
    )
    store.write_candles(frame)


def _short_hours(store) -> None:
    """Demo minutes: hour 0 has 40 of 60, hour 1 is whole, hour 2 has 59 of 60."""
    _write_minutes(store, np.r_[0:40, 60:179])


def test_reading_a_coarser_interval_keeps_whole_bars_unless_told(store):
    _short_hours(store)
    assert read_frame(store, "demo", "1h").index.hour.tolist() == [1]
    loose = read_frame(store, "demo", "1h", min_complete=0.6)
    assert loose.index.hour.tolist() == [0, 1, 2]
    assert loose["complete"].tolist() == [40 / 60, 1.0, 59 / 60]
    frames = read_frames(store, ["demo"], "1h", min_complete=0.9)
    assert frames["demo"].index.hour.tolist() == [1, 2]


def test_read_frames_says_when_no_bar_is_complete_enough(store):
    _write_minutes(store, np.arange(40))  # 40 minutes: no whole hour
    head = (
        "no 1h bar of demo is complete enough: the stored 1m data fills at most 67% of one, "
        "and a bar needs 100% (min_complete); fetch whole 1m data, or lower min_complete"
    )
    with pytest.raises(StoreError) as caught:
        read_frames(store, ["demo"], "1h")
    assert str(caught.value) == (
        f"{head} (coincast.data.frames.gap_report(store, 'demo', '1h') shows the bars)"
    )
    assert caught.value.cli == (
        f"{head} (--min-complete on the command line; coincast data gaps demo -i 1h shows the bars)"
    )


def test_gap_report_counts_the_bars_made_from_incomplete_data(store):
    _short_hours(store)
    r = gap_report(store, "demo", "1h", min_complete=0.9)
    assert r.stored == "1m" and r.min_complete == 0.9
    assert r.frame.index.hour.tolist() == [1, 2]
    assert r.gaps.empty  # hour 0 was dropped at the start: no hole between kept bars
    assert r.incomplete.index.hour.tolist() == [0, 2]  # least complete first
    assert r.incomplete["rows"].tolist() == [40, 59]
    assert r.incomplete["complete"].tolist() == [40 / 60, 59 / 60]
    assert r.incomplete["kept"].tolist() == [False, True]
    as_stored = gap_report(store, "demo")
    assert as_stored.stored == "1m" and as_stored.incomplete.empty
    assert as_stored.gaps["missing"].tolist() == [20]  # minutes 40..59


@pytest.mark.parametrize("quote", ["", " ", "us d", "../x", "<b>", "q" * 17, "usd\x00"])
def test_every_reader_refuses_a_malformed_quote(filled, quote):
    readers = [
        lambda: read_frame(filled, "btc", "1d", quote=quote),
        lambda: read_frames(filled, ["bitcoin"], "1d", quote=quote),
        lambda: gap_report(filled, "btc", "1d", quote=quote),
    ]
    for read in readers:
        with pytest.raises(NameFormError, match=r"is not a valid quote currency: a quote is 1 to"):
            read()


@pytest.mark.parametrize("coin", ["", "../x", "<script>", "a\x00b", "x" * 5000])
def test_every_reader_refuses_a_malformed_coin(filled, coin):
    for read in (lambda: read_frame(filled, coin), lambda: gap_report(filled, coin)):
        with pytest.raises(NameFormError, match=r"is not a valid id: a coin id is 1 to 64"):
            read()


def test_a_mistyped_coin_is_told_the_close_stored_names(filled):
    # In Python the message names the arguments; the CLI's wording rides along as .cli.
    with pytest.raises(StoreError, match=r"no stored data for coin='bitcoinn'; did you mean "
                       r"bitcoin \(stored\)\? Or fetch it: coincast\.fetch\(") as e:  # fmt: skip
        read_frame(filled, "bitcoinn")
    assert e.value.cli.endswith(
        "did you mean bitcoin (stored)? Or fetch it: coincast fetch bitcoinn"
    )
    with pytest.raises(StoreError, match=r"interval='1d'; did you mean ethereum \(stored\)\?"):
        read_frames(filled, ["etherium"], "1d")
    with pytest.raises(StoreError, match=r"no stored data for coin='dogecoin'\. Fetch it first"):
        gap_report(filled, "doge")  # nothing close: the plain message


def test_close_coins_ranks_stored_names_before_known_ones():
    from coincast.coins import close_coins

    assert close_coins("solanna", ["solana-x", "solana"]) == ["solana", "solana-x"]
    assert close_coins("zeta", ["beta"]) == []  # short names are not near at one letter
    assert close_coins("ethereun") == ["ethereum"]
    assert close_coins("bitcoin", ["bitcoin"]) == []  # never the name itself


def _from(store, source: str, rows: int, coin: str = "bitcoin") -> None:
    frame = synthetic_candles(rows, coin=coin)
    frame.attrs["source"] = source
    store.write_candles(frame)


def test_read_frames_takes_the_preferred_source_and_tells_it(store, notes):
    from coincast.data.frames import preferred_source

    for source, rows in (("exchange:kraken", 10), ("exchange:binance", 12), ("synthetic", 14)):
        _from(store, source, rows)
    frames = read_frames(store, ["bitcoin"], "1w")
    assert frames["bitcoin"].attrs["source"] == "exchange:binance"  # exchanges by name
    assert notes.messages == [
        "bitcoin is stored from exchange:binance, exchange:kraken, synthetic; reading "
        "exchange:binance, the first in the source order (csv, coingecko, exchange:*, "
        "synthetic; coincast config set source-order changes it, --source, or source= in "
        "Python, picks one)"
    ]
    assert preferred_source(store, "ethereum") is None  # none stored
    _from(store, "csv", 5, coin="ethereum")
    assert preferred_source(store, "ethereum") is None  # only one: nothing to choose


def test_the_settings_file_lives_in_the_user_config_dir_without_coincast_home(monkeypatch):
    import platformdirs

    from coincast.data.preferences import config_path

    monkeypatch.delenv("COINCAST_HOME")
    assert config_path() == Path(platformdirs.user_config_dir("coincast")) / "config.toml"


def test_rank_sources_puts_unmatched_sources_last_by_name():
    from coincast.data.preferences import check_source_order, rank_sources

    order = check_source_order(["coingecko", "exchange:b*"])
    assert rank_sources(["zeta", "exchange:kraken", "exchange:bybit", "coingecko", "alpha"],
                        order) == ["coingecko", "exchange:bybit", "alpha", "exchange:kraken",
                                   "zeta"]  # fmt: skip
    with pytest.raises(CoincastError, match=r"source order is empty: give source names"):
        check_source_order([])


def test_find_series_asks_in_arguments_and_in_flags(store):
    from coincast.data.frames import find_series

    _from(store, "synthetic", 5)
    _from(store, "csv", 5)
    with pytest.raises(StoreError, match=r"; name one with interval=, source= and quote=$") as e:
        find_series(store, "bitcoin")
    assert e.value.cli.endswith("; name one with --interval, --source and --quote")
    with pytest.raises(StoreError, match=r"; give one of those intervals as interval=$") as e:
        find_series(store, "bitcoin", "1h")
    assert e.value.cli.endswith("; give one of those intervals with --interval")
