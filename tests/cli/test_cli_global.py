"""``coincast train/predict/backtest`` with several coins: one global LSTM, --target, --exog,
--coin and --compare-training.

The store holds 120 synthetic daily bars of four coins (``delta`` only ever as an --exog
input); every network is tiny (8 hidden units, one layer, one thread, two epochs).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from coincast.cli import app
from coincast.data.sources import synthetic_candles
from coincast.data.store import Store
from coincast.models.runs import load_run

runner = CliRunner()

COINS = ("alpha", "beta", "gamma", "delta")
TINY = ("--hidden", "8", "--layers", "1", "--lookback", "5", "--epochs", "2", "--threads", "1")
BACKTEST = ("--test", "10", "--refit-every", "5", "--refit-epochs", "1", "--models", "lstm,naive")
VARIANTS = ["lstm-single", "lstm-global", "lstm-global+exog"]


def run(store: Path, *args: str):
    return runner.invoke(app, ["--store", str(store), *args])


def ok(result):
    assert result.exit_code == 0, (result.output, result.stderr)
    return result


def one_error(result, message: str) -> None:
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert message in lines[0], lines[0]


@pytest.fixture
def store(store_path, tmp_path, monkeypatch) -> Path:
    """A store of four synthetic coins, with ``tmp_path`` as the working directory."""
    monkeypatch.chdir(tmp_path)
    with Store(store_path) as s:
        for seed, coin in enumerate(COINS):
            s.write_candles(synthetic_candles(120, coin=coin, seed=seed))
    return store_path


@pytest.fixture
def frames(store) -> dict[str, pd.DataFrame]:
    with Store(store) as s:
        return {c: s.read_candles(c, "1d") for c in COINS}


def record(folder: str) -> dict:
    return json.loads((Path(folder) / "run.json").read_text())


# -- train and predict -------------------------------------------------------------------------


def test_train_several_coins_with_a_target_and_exog_then_predict(store, frames):
    result = ok(run(store, "train", "alpha", "beta", "gamma", "--target", "beta",
                    "--exog", "delta", *TINY, "--out", "runs/g", "--json"))  # fmt: skip
    summary = json.loads(result.stdout)
    assert summary["run"] == "runs/g" and summary["epochs"] == 2
    rec = record("runs/g")
    assert rec["format"] == "coincast-run/2"
    assert rec["coins"] == ["alpha", "beta", "gamma"]
    assert rec["config"]["target_coin"] == "beta" and rec["config"]["exog"] == ["delta"]
    assert rec["features"] == ["log_return", "ret:delta"]
    assert set(rec["scalers"]) == set(rec["data"]) == {"alpha", "beta", "gamma"}
    assert list(rec["exog_data"]) == ["delta"]
    assert rec["exog_data"]["delta"]["rows"] == 120 and rec["skipped"] == []

    default = json.loads(ok(run(store, "predict", "runs/g", "--json")).stdout)
    assert default["coin"] == "beta"  # the target coin
    gamma = json.loads(ok(run(store, "predict", "runs/g", "--coin", "gamma", "--json")).stdout)
    last = frames["gamma"].index[-1]
    assert gamma["coin"] == "gamma" and gamma["last_ts"] == last.isoformat()
    assert gamma["last_close"] == frames["gamma"]["close"].iloc[-1]
    assert [f["ts"] for f in gamma["forecast"]] == [(last + pd.Timedelta(days=1)).isoformat()]


def test_train_prints_each_coin_it_trains_on(store):
    result = ok(run(store, "train", "alpha", "beta", *TINY, "--out", "runs/two"))
    lines = result.stdout.splitlines()
    assert lines[:2] == [
        "Training on 120 1d bars of alpha (2020-01-01 .. 2020-04-29)",
        "Training on 120 1d bars of beta (2020-01-01 .. 2020-04-29)",
    ]
    assert "Run saved to runs/two" in lines


def test_train_summary_of_a_global_model_names_whose_figures_it_shows(store):
    text = ok(run(store, "train", "alpha", "beta", "gamma", *TINY, "--out", "runs/m")).stdout
    lines = text.splitlines()
    row = next(i for i, line in enumerate(lines) if line.startswith("┃ epochs")) + 2
    assert re.match(r"^│ 2 +│ [12] +│ [\d.]+ +│ per coin +│ per coin +│ [\d.]+ \(", lines[row])
    assert (
        "Validation figures: median MAE / naive over 3 coins (alpha, beta, gamma); MAE and "
        "naive MAE are per coin (val_mae:COIN), in each coin's price."
    ) in lines
    coin_row = re.compile(r"^│ (alpha|beta|gamma) ")
    per = [line.split("│")[1].strip() for line in lines if coin_row.match(line)]
    assert per == ["alpha", "beta", "gamma"]
    summary = json.loads(ok(run(store, "train", "alpha", "beta", "gamma", *TINY, "--out",
                                "runs/m2", "--json")).stdout)  # fmt: skip
    rel = sorted(summary[f"val_rel_mae:{c}"] for c in ("alpha", "beta", "gamma"))
    assert summary["val_rel_mae"] == rel[1]  # the median of three is the middle one

    target = ok(run(store, "train", "alpha", "beta", "--target", "beta", *TINY, "--out", "runs/t"))
    assert "Validation figures: beta (the target coin)." in target.stdout.splitlines()
    assert "per coin" not in target.stdout


def test_predict_on_a_run_of_several_coins_needs_coin(store):
    ok(run(store, "train", "alpha", "beta", "gamma", *TINY, "--out", "runs/all"))
    one_error(
        run(store, "predict", "runs/all"),
        "this model forecasts 3 coins (alpha, beta, gamma); say which: --coin COIN",
    )
    one_error(
        run(store, "predict", "runs/all", "--coin", "delta"),
        "--coin delta is not one of the coins this model was trained on: alpha, beta, gamma",
    )
    one_error(
        run(store, "predict", "runs/all", "--coin", "gama"),
        "--coin gama is not one of the coins this model was trained on: alpha, beta, gamma; "
        "did you mean gamma?",
    )
    forecast = json.loads(ok(run(store, "predict", "runs/all", "--coin", "alpha", "--json")).stdout)
    assert forecast["coin"] == "alpha" and len(forecast["forecast"]) == 1


def test_train_with_an_exog_coin_that_is_not_stored(store, tmp_path):
    one_error(
        run(store, "train", "alpha", "beta", "--exog", "zeta", *TINY, "--out", "runs/z"),
        "no stored data for zeta 1d. Fetch it first: coincast fetch zeta --interval 1d",
    )
    assert not (tmp_path / "runs").exists()


def test_train_with_a_target_that_is_not_listed(store):
    one_error(
        run(store, "train", "alpha", "beta", "--target", "gamma", *TINY, "--out", "runs/t"),
        "--target gamma is not among the coins trained on (alpha, beta); list it too",
    )


def test_skip_short_and_no_coin_embedding(store):
    with Store(store) as s:
        s.write_candles(synthetic_candles(8, coin="tiny", seed=9))
    coins = ("alpha", "beta", "tiny", "--target", "alpha", *TINY)
    one_error(
        run(store, "train", *coins, "--lookback", "10", "--out", "runs/short"),
        "lookback (10) + horizon (1) + feature warm-up (1) needs at least 12 rows; "
        "tiny/usd 1d (synthetic) has 8. Fetch more history or reduce --lookback",
    )
    result = ok(run(store, "train", *coins, "--lookback", "10", "--skip-short",
                    "--no-coin-embedding", "--out", "runs/short"))  # fmt: skip
    assert "Skipped tiny: too little history for --lookback 10" in result.stderr
    rec = record("runs/short")
    assert rec["skipped"] == ["tiny"] and set(rec["scalers"]) == {"alpha", "beta"}
    assert rec["config"]["coin_embedding"] is False and rec["config"]["on_short"] == "skip"
    assert not any(k.startswith("embed") for k in load_run("runs/short").net.state_dict())
    one_error(run(store, "predict", "runs/short", "--coin", "tiny"), "--coin tiny was skipped")
    ok(run(store, "predict", "runs/short", "--coin", "beta"))


# -- backtest --compare-training -----------------------------------------------------------------

COMPARE = ("backtest", "alpha", "beta", "gamma", "--exog", "delta",
           "--compare-training", "single,global,global+exog", *TINY, *BACKTEST)  # fmt: skip


def test_compare_training_json_scores_the_three_variants(store):
    result = ok(run(store, *COMPARE, "--out", "bt/json", "--json"))
    answer = json.loads(result.stdout)
    assert answer["coin"] == "alpha"  # the first listed coin is backtested
    assert [m["model"] for m in answer["metrics"]] == [*VARIANTS, "naive"]
    assert all(m["mae"] > 0 for m in answer["metrics"])
    page = Path(answer["report"]).read_text()
    assert "<td>alpha, beta, gamma</td>" in page  # what the global LSTM learned from
    assert "<td>lstm-single, lstm-global, lstm-global+exog</td>" in page


PAIR_LINE = re.compile(
    r"^- (lstm-\S+) (?:vs (lstm-\S+): not distinguishable|beats (lstm-\S+)) "
    r"\(MAE ratio \d+\.\d{4,}, DM p (?:= [\d.]+|< 0\.001)\)$"
)


def test_compare_training_prints_one_line_per_pair(store):
    result = ok(run(store, *COMPARE, "--out", "bt/text"))
    lines = result.stdout.splitlines()
    for name in VARIANTS:
        assert any(line.startswith(f"│ {name} ") for line in lines), name
    pairs = [line for line in lines if " vs " in line or " beats " in line]
    assert len(pairs) == 3, lines
    for line in pairs:
        assert PAIR_LINE.match(line), line
    named = [{a, b or c} for a, b, c in (PAIR_LINE.match(line).groups() for line in pairs)]
    assert named == [{"lstm-single", "lstm-global"}, {"lstm-single", "lstm-global+exog"},
                     {"lstm-global", "lstm-global+exog"}]  # fmt: skip


@pytest.mark.parametrize(
    ("training", "extra", "message"),
    [
        (
            "single,doubled",
            ("--exog", "delta"),
            "unknown training variant(s) doubled; use a comma-separated list of single, "
            "global, single+exog, global+exog",
        ),
        ("single,global+exog", (), "a +exog variant needs the coins to read: --exog bitcoin"),
    ],
)
def test_compare_training_errors(store, training, extra, message):
    one_error(
        run(store, "backtest", "alpha", "beta", *extra, "--compare-training", training,
            *TINY, *BACKTEST, "--out", "bt/bad"),
        message,
    )  # fmt: skip


# -- backtest --engine ---------------------------------------------------------------------------


@pytest.mark.timeout(300)
def test_compare_training_on_the_local_engine_scores_as_without(store):
    alone = json.loads(ok(run(store, *COMPARE, "--out", "bt/alone", "--json")).stdout)
    result = ok(run(store, *COMPARE, "--engine", "local", "--workers", "2", "--out", "bt/local",
                    "--json"))  # fmt: skip
    jobs = json.loads(result.stdout)
    assert jobs.pop("report") == "bt/local/report.html" and alone.pop("report")
    assert jobs == alone


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("--engine", "ray"), "--engine ray: use local or dask"),
        (("--workers", "2"), "--workers is for an engine: add --engine local or --engine dask"),
        (("--engine", "local", "--address", "tcp://10.0.0.5:8786"),
         "--address is for --engine dask; drop it or use --engine dask"),
    ],
)  # fmt: skip
def test_engine_option_errors(store, extra, message):
    one_error(run(store, "backtest", "alpha", *extra, *TINY, *BACKTEST, "--out", "bt/e"), message)
