"""The walk-forward backtest: one loop for every model, nothing seen after a cutoff."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from coincast.data.sources import synthetic_candles
from coincast.errors import CoincastError
from coincast.evaluation.adapters import LSTMModel
from coincast.evaluation.backtest import WalkForward, plan, walk_forward
from coincast.intervals import interval_ms
from coincast.models.baselines import MovingAverage
from coincast.models.forecaster import LSTMConfig
from coincast.series import make_frame, ms_from_index

DAY = 86_400_000


def arange_frame(n: int, interval: str = "1d", drop: tuple[int, ...] = ()) -> pd.DataFrame:
    t = np.array([i for i in range(n) if i not in drop])
    close = 100.0 + t
    cols = {"open": close, "high": close, "low": close, "close": close, "volume": np.ones(len(t))}
    ts = t * interval_ms(interval) + 1_700_000_000_000 // DAY * DAY
    return make_frame(ts, cols, coin="c", quote="usd", interval=interval, source="test")


class LastPlusH:
    """Predicts last close + h: exact on close = 100 + t, so any off-by-one shows."""

    name = "stub"
    min_rows = 10

    def __init__(self) -> None:
        self.calls: list[tuple[str, pd.Timestamp, int]] = []

    def fit(self, frame):
        self.frame = frame
        self.calls.append(("fit", frame.index[-1], len(frame)))
        return self

    def update(self, frame):
        self.frame = frame
        self.calls.append(("update", frame.index[-1], len(frame)))
        return self

    def predict(self, horizon):
        step = interval_ms(self.frame.attrs["interval"])
        last_ms = int(ms_from_index(self.frame.index)[-1])
        ts = pd.to_datetime(last_ms + step * np.arange(1, horizon + 1), unit="ms", utc=True)
        yhat = float(self.frame["close"].iloc[-1]) + np.arange(1, horizon + 1)
        return pd.DataFrame(
            {"yhat": yhat, "lo": np.nan, "hi": np.nan}, index=pd.Index(ts, name="ts")
        )


def test_last_value_plus_h_on_arange_scores_zero_error():
    frame = arange_frame(60)
    table = walk_forward([LastPlusH()], frame, WalkForward(horizon=3, test=20, refit_every=1))
    assert list(table.columns) == [
        "coin",
        "model",
        "cutoff",
        "ts",
        "step",
        "y",
        "yhat",
        "lo",
        "hi",
        "last",
        "dist",
    ]
    assert table["dist"].isna().all()  # a stub model states no band
    assert (table["yhat"] == table["y"]).all()
    assert (table["ts"] > table["cutoff"]).all()
    # 20 test bars, forecast from the bar before each; steps beyond the data are not scored
    assert table.groupby("step").size().to_dict() == {1: 20, 2: 19, 3: 18}
    assert table["cutoff"].min() == frame.index[39] and table["ts"].max() == frame.index[59]
    one = table[table["step"] == 1]
    assert (one["last"] == one["y"] - 1).all()


def test_each_cutoff_sees_exactly_the_rows_up_to_it_and_refits_every_k():
    frame = arange_frame(50)
    model = LastPlusH()
    walk_forward([model], frame, WalkForward(test=10, refit_every=4))
    kinds = [k for k, _, _ in model.calls]
    assert kinds == ["fit", "update", "update", "update"] * 2 + ["fit", "update"]
    assert [last for _, last, _ in model.calls] == list(frame.index[39:49])
    assert [n for _, _, n in model.calls] == list(range(40, 50))


def test_rolling_window_limits_what_a_model_sees():
    model = LastPlusH()
    spec = WalkForward(test=5, refit_every=1, window="rolling", window_size=12)
    walk_forward([model], arange_frame(50), spec)
    assert {n for _, _, n in model.calls} == {12}


def test_gaps_are_not_scored_and_start_end_select_the_test_period():
    frame = arange_frame(40, drop=(30,))
    table = walk_forward([LastPlusH()], frame, WalkForward(test=8, refit_every=1))
    assert pd.Timestamp(frame.index[0]) + pd.Timedelta(days=30) not in set(table["ts"])
    assert (table["yhat"] == table["y"]).all()
    start, end = frame.index[20], frame.index[24]
    t2 = walk_forward([LastPlusH()], frame, WalkForward(start=start, end=end, refit_every=1))
    assert list(t2["ts"]) == list(frame.index[20:25])


def test_plan_errors_name_the_fix():
    frame = arange_frame(40)
    with pytest.raises(CoincastError, match="either test= or start=/end="):
        plan(frame, WalkForward(test=5, start=frame.index[30]))
    with pytest.raises(
        CoincastError,
        match=r"leaving 5 rows to train on; at least 30.*Shorten the test period \(test=, start=\)",
    ):
        plan(frame, WalkForward(test=35), min_rows=30)
    with pytest.raises(CoincastError, match=r"holds no bar.*; check start= and end=$"):
        plan(frame, WalkForward(start="2100-01-01"))
    with pytest.raises(CoincastError, match=r"^refit_every must be >= 1"):
        walk_forward([LastPlusH()], frame, WalkForward(test=5, refit_every=0))


def _small_lstm() -> LSTMModel:
    cfg = LSTMConfig(lookback=10, hidden=8, layers=1, epochs=3, threads=1, log_every=0)
    return LSTMModel(cfg, refit_epochs=2)


def test_no_model_sees_the_future(tmp_path):
    """Poison every row after one cutoff: forecasts up to that cutoff must not change."""
    frame = synthetic_candles(260, seed=5)
    k = 230  # the poisoned rows start after row k
    poisoned = frame.copy()
    poisoned.attrs.update(frame.attrs)
    wild = np.linspace(5.0, 50.0, len(frame) - k - 1)
    for col in ("open", "high", "low", "close"):
        poisoned.iloc[k + 1 :, poisoned.columns.get_loc(col)] = frame[col].iloc[k + 1 :] * wild
    spec = WalkForward(test=40, refit_every=7)
    run = lambda f: walk_forward([LastPlusH(), _small_lstm()], f, spec)  # noqa: E731
    a, b = run(frame), run(poisoned)
    seen = a["cutoff"] <= frame.index[k]
    assert seen.sum() > 0 and (~seen).sum() > 0
    pd.testing.assert_series_equal(a.loc[seen, "yhat"], b.loc[seen, "yhat"])
    assert not np.allclose(a.loc[~seen, "yhat"], b.loc[~seen, "yhat"])


def test_lstm_refits_warm_start_with_few_epochs():
    frame = synthetic_candles(200, seed=2)
    model = _small_lstm()
    table = walk_forward([model], frame, WalkForward(test=12, refit_every=5))
    assert model.fits == 3 and len(model.first_history) <= 3
    assert len(model.model.result.history) <= 2  # the last refit: refit_epochs
    assert set(table["model"]) == {"lstm"} and len(table) == 12


def test_the_loop_asks_each_model_for_the_history_it_needs():
    hungry = LastPlusH()
    hungry.name, hungry.min_rows = "hungry", 45
    with pytest.raises(CoincastError, match=r"leaving 40 rows to train on; at least 45"):
        walk_forward([LastPlusH(), hungry], arange_frame(60), WalkForward(test=20))
    assert LSTMModel(LSTMConfig(lookback=10, horizon=3)).min_rows == 10 + 3 + 30


def test_two_configurations_of_one_class_sit_side_by_side():
    short, long = MovingAverage(3, alias="ma-3"), MovingAverage(5, alias="ma-5")
    table = walk_forward([short, long], arange_frame(40), WalkForward(test=5))
    assert list(dict.fromkeys(table["model"])) == ["ma-3", "ma-5"]
    assert table.groupby("model")["yhat"].first().to_dict() == {"ma-3": 133.0, "ma-5": 132.0}
    with pytest.raises(CoincastError, match=r"two models are named 'ma'; give each its own alias"):
        walk_forward([MovingAverage(3), MovingAverage(5)], arange_frame(40), WalkForward(test=5))


def test_walk_forward_spec_is_checked_when_made():
    assert WalkForward().test == 365 and WalkForward(start="2024-01-01").test is None
    with pytest.raises(CoincastError, match="a rolling window needs window_size") as caught:
        WalkForward(window="rolling")
    # In Python the message names the arguments; the CLI's flags ride along as .cli.
    assert caught.value.cli == "--window rolling needs --window-size (rows per window)"
    with pytest.raises(CoincastError, match=r"^window must be expanding or rolling") as caught:
        WalkForward(window="sliding")  # type: ignore[arg-type]
    assert caught.value.cli == "--window must be expanding or rolling, got 'sliding'"
    with pytest.raises(CoincastError, match=r"^test must be >= 1"):
        WalkForward(test=0)


@pytest.mark.parametrize(
    ("kwargs", "python", "cli"),
    [
        ({"test": 0}, "test must be >= 1, got 0", "--test must be >= 1, got 0"),
        ({"horizon": 0}, "horizon must be >= 1, got 0", "--horizon must be >= 1, got 0"),
        ({"refit_every": 0}, "refit_every must be >= 1, got 0", "--refit-every must be >= 1"),
        (
            {"test": 5, "start": "2024-01-01"},
            "give WalkForward either test= or start=/end=, not both",
            "give either --test N or --start/--end, not both",
        ),
    ],
)
def test_walk_forward_errors_name_python_arguments_and_the_cli_its_flags(kwargs, python, cli):
    with pytest.raises(CoincastError) as info:
        WalkForward(**kwargs)
    assert str(info.value) == python
    assert info.value.cli.startswith(cli)
