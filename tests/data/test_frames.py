"""``coincast.data.frames``: reading one or several coins from the store, and exporting."""

from __future__ import annotations

import pandas as pd
import pytest

from coincast.data.frames import export_frame, read_frame, read_frames
from coincast.data.sources import read_file, synthetic_candles
from coincast.errors import CoincastError, StoreError


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
    with pytest.raises(StoreError, match=r"no stored 1d data for bitcoin up to 2019-01-01"):
        read_frames(filled, ["bitcoin", "ethereum"], "1d", end=pd.Timestamp("2019-01-01", tz="UTC"))


@pytest.mark.parametrize("name", ["out.csv", "sub/out.parquet"])
def test_export_round_trips_through_read_file(tmp_path, name):
    frame = synthetic_candles(5, coin="bitcoin")
    path = tmp_path / name
    export_frame(frame, path)
    back, _ = read_file(path, coin="bitcoin")
    pd.testing.assert_frame_equal(back[list(frame.columns)], frame, check_freq=False)
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left


def test_export_refuses_other_suffixes(tmp_path):
    with pytest.raises(CoincastError, match=r"must end in \.csv or \.parquet"):
        export_frame(synthetic_candles(3), tmp_path / "x.txt")
    assert not list(tmp_path.iterdir())
