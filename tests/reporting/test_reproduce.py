"""The report's Reproduce command: what the CLI reads from it is the backtest that was run
(the same coins, models, series, test bars and LSTM settings). The command is parsed by the
real ``coincast backtest``, stopped just before it would run."""

from __future__ import annotations

import json
import shlex
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

import coincast.cli.evaluate as evaluate
from coincast.cli.app import app
from coincast.data.sources import synthetic_candles
from coincast.evaluation.adapters import LSTMTraining
from coincast.evaluation.backtest import WalkForward, plan
from coincast.evaluation.run import run_backtest
from coincast.models.config import LSTMConfig
from coincast.reporting.inputs import _clean
from coincast.reporting.reproduce import backtest_command
from coincast.series import resample

FRAME = synthetic_candles(150, coin="bitcoin")
SPEC = WalkForward(horizon=2, test=6, refit_every=3)
LSTM = LSTMTraining(
    LSTMConfig(lookback=10, hidden=4, layers=1, epochs=1, head="quantile", lr=0.003,
               quantiles=(0.1, 0.5, 0.9), seed=3, threads=1, log_every=0, recursive=True),
    refit_epochs=2, warm_start=False,
)  # fmt: skip


class Stop(Exception):
    """Raised where the backtest would start: the CLI has parsed everything by then."""


@pytest.fixture(scope="module")
def meta() -> dict:
    """A real backtest's meta, as its folder keeps it (JSON)."""
    result = run_backtest(FRAME, SPEC, models=["lstm", "drift"], lstm=LSTM)
    return json.loads(json.dumps(_clean(result.meta)))


def parse(command: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Run ``command`` through the CLI up to the backtest; what it would have run."""
    seen: dict[str, Any] = {}

    def frames(store, coins, exog, **series):
        seen.update(coins=list(coins), series=series)
        return {c: FRAME for c in coins}, {}

    def backtest(frame, spec, *, models, lstm, intervals="auto", progress=None, engine=None):
        seen.update(spec=spec, models=list(models), lstm=lstm, intervals=intervals)
        raise Stop

    monkeypatch.setattr(evaluate, "training_frames", frames)
    monkeypatch.setattr(evaluate, "run_backtest", backtest)
    words = shlex.split(command.replace("\\\n", " "))
    assert words[:2] == ["coincast", "backtest"]
    result = CliRunner().invoke(app, words[1:])
    assert isinstance(result.exception, Stop), result.output
    return seen


def _settings(config: dict) -> dict:
    """An LSTM config as plain JSON, without what the command sets by itself."""
    plain = json.loads(json.dumps(_clean(config)))
    return {k: v for k, v in plain.items() if k not in ("horizon", "refit_epochs", "warm_start")}


def test_the_command_reruns_the_same_backtest(meta, monkeypatch):
    seen = parse(backtest_command(meta), monkeypatch)
    assert seen["coins"] == ["bitcoin"] and seen["models"] == ["lstm", "drift", "naive"]
    assert seen["series"] == {"interval": "1d", "source": "synthetic", "quote": "usd",
                              "min_complete": 1.0}  # fmt: skip
    spec = seen["spec"]
    assert (spec.horizon, spec.refit_every, spec.window) == (2, 3, "expanding")
    np.testing.assert_array_equal(plan(FRAME, spec).cutoffs, plan(FRAME, SPEC).cutoffs)
    lstm = seen["lstm"]
    assert _settings(lstm.config.model_dump()) == _settings(meta["config"])
    assert (lstm.refit_epochs, lstm.warm_start) == (2, False)
    assert "--recursive" in backtest_command(meta)
    assert "--scratch" in backtest_command(meta)
    assert seen["intervals"] == "auto" and "--intervals" not in backtest_command(meta)


def test_the_bands_asked_for_are_asked_for_again(meta, monkeypatch):
    seen = parse(backtest_command({**meta, "intervals": "conformal"}), monkeypatch)
    assert seen["intervals"] == "conformal"


def test_a_global_lstm_with_variants_and_other_coins(meta, monkeypatch):
    glob = {**meta, "coins": ["bitcoin", "ethereum"], "training": ["lstm-single", "lstm-global"],
            "window": "rolling", "window_size": 50,
            "config": {**meta["config"], "exog": ["ethereum"], "target_coin": "bitcoin",
                       "coin_embedding": False, "on_short": "skip", "recursive": False,
                       "features": ["log_return", "range"], "lr_schedule": "cosine"}}  # fmt: skip
    seen = parse(backtest_command(glob), monkeypatch)
    assert seen["coins"] == ["bitcoin", "ethereum"]
    lstm = seen["lstm"]
    assert list(lstm.variants) == ["single", "global"]
    assert _settings(lstm.config.model_dump()) == _settings(glob["config"])
    assert (seen["spec"].window, seen["spec"].window_size) == ("rolling", 50)


def test_intraday_bars_pin_their_hour_and_odd_names_are_quoted():
    meta = {"coin": "my coin", "interval": "1h", "horizon": 1, "models": ["naive"],
            "test_start": "2024-01-05T13:00:00+00:00", "test_end": "2024-01-06T00:00:00+00:00",
            "refit_every": 30, "data": {"source": "csv", "quote": "usd"}}  # fmt: skip
    command = backtest_command(meta)
    assert "coincast backtest 'my coin' --models naive" in command
    assert "--start 2024-01-05T13:00 --end 2024-01-06 " in command
    assert "+00:00" not in command


def test_a_backtest_of_the_last_n_bars_is_repeated_with_test_n(meta, monkeypatch):
    command = backtest_command(meta)
    assert "--test 6 " in command and "--start" not in command
    assert parse(command, monkeypatch)["spec"].test == 6


def test_a_rolling_window_and_min_complete_are_recorded_and_repeated(monkeypatch):
    hourly = synthetic_candles(24 * 120, coin="bitcoin", interval="1h").iloc[5:]
    daily = resample(hourly, "1d", min_complete=0.5)  # the first day has 19 of 24 hours
    spec = WalkForward(test=5, window="rolling", window_size=60)
    meta = json.loads(json.dumps(_clean(run_backtest(daily, spec, models=["drift"]).meta)))
    assert (meta["test"], meta["window_size"], meta["data"]["min_complete"]) == (5, 60, 0.5)
    command = backtest_command(meta)
    assert "--test 5 " in command and "--window rolling --window-size 60" in command
    seen = parse(command, monkeypatch)
    assert seen["series"]["min_complete"] == 0.5
    assert (seen["spec"].test, seen["spec"].window, seen["spec"].window_size) == (
        5,
        "rolling",
        60,
    )
