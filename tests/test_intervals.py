"""``coincast.intervals``: parse_time (interval lengths and bar starts are tested with the
series and the store)."""

from __future__ import annotations

import pandas as pd
import pytest

from coincast.errors import CoincastError
from coincast.series import parse_time


def test_parse_time_is_utc():
    assert parse_time("2024-06-30") == pd.Timestamp("2024-06-30", tz="UTC")
    assert parse_time("2024-06-30T02:00+02:00") == pd.Timestamp("2024-06-30", tz="UTC")
    assert parse_time(None) is None


@pytest.mark.parametrize("text", ["someday", "2024-13-45"])
def test_parse_time_names_the_option(text):
    with pytest.raises(CoincastError, match=f"--until '{text}' is not a date; use YYYY-MM-DD"):
        parse_time(text, "--until")
