"""``coincast backtest --learn volatility``: the risk backtest from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from coincast.cli import app
from coincast.data.sources import synthetic_candles
from coincast.data.store import Store
from coincast.series import resample

runner = CliRunner()
RISK = ["--learn", "volatility", "--test", "30", "--refit-every", "15", "--epochs", "2",
        "--hidden", "4", "--lookback", "10", "--threads", "1"]  # fmt: skip


def run(store: Path, *args: str):
    return runner.invoke(app, ["--store", str(store), *args])


def _daily(store_path: Path, hourly: bool = False) -> None:
    with Store(store_path) as s:
        if hourly:
            h = synthetic_candles(24 * 260, "1h", coin="bitcoin", seed=2)
            s.write_candles(h)
            s.write_candles(resample(h, "1d"))
        else:
            s.write_candles(synthetic_candles(260, coin="bitcoin", seed=2))


def test_the_json_carries_every_figure_and_the_folder_every_table(store_path, tmp_path):
    _daily(store_path)
    folder = tmp_path / "risk"
    result = run(store_path, "backtest", "btc", *RISK, "--models", "lstm,garch,ewma",
                 "--out", str(folder), "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["learn"] == "volatility" and data["measure"] == "garman-klass"
    assert [m["model"] for m in data["models"]] == ["lstm", "garch", "ewma"]
    lstm = data["models"][0]
    for key in ("qlike", "rel_qlike", "mse", "mz_slope", "mz_r2", "mz_pvalue",
                "dm_garch_pvalue", "dm_ewma_pvalue", "pit_pvalue"):  # fmt: skip
        assert key in lstm
    assert [t["level"] for t in lstm["var_tests"]] == [0.01, 0.05]
    assert {"kupiec_pvalue", "cc_pvalue", "es_pvalue", "passes"} <= set(lstm["var_tests"][0])
    assert lstm["next"][0]["vol_annual_pct"] > 0
    assert {r["kind"] for r in lstm["regimes"]} == {"trend", "vol"}
    assert any(v.startswith("lstm: QLIKE") for v in data["verdicts"])
    for name in ("table.csv", "scores.csv", "tests.csv", "regimes.csv", "forecast.csv",
                 "risk.json", "report.html"):  # fmt: skip
        assert (folder / name).exists(), name
    table = pd.read_csv(folder / "table.csv")
    assert set(table["model"]) == {"lstm", "garch", "ewma"} and len(table) == 90
    assert "Value-at-risk" in (folder / "report.html").read_text()
    again = run(store_path, "report", str(folder))
    assert again.exit_code == 1
    assert "is a risk backtest (--learn volatility): its report.html is written by" in again.output


def test_the_table_prints_qlike_against_garch_and_the_var_verdicts(store_path, tmp_path):
    _daily(store_path, hourly=True)
    result = run(store_path, "backtest", "bitcoin", *RISK, "--models", "garch,har",
                 "--out", str(tmp_path / "r"))  # fmt: skip
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert "QLIKE/GARCH" in text and "Kupiec p" in text and "Next bar" in text
    assert "realized variance from 1h bars" in text  # finer bars are stored: RV
    assert "har: QLIKE" in text and "VaR exceeded on" in text


def test_an_unknown_volatility_model_is_one_line(store_path, tmp_path):
    _daily(store_path)
    result = run(store_path, "backtest", "bitcoin", *RISK, "--models", "garch,arima",
                 "--out", str(tmp_path / "r"))  # fmt: skip
    assert result.exit_code == 1
    assert "unknown volatility model(s) arima; known: lstm, ewma, histvol, garch, gjr, har" in (
        result.output
    )
    assert "Traceback" not in result.output


def test_a_volatility_run_predicts_the_next_bars_volatility_and_var(store_path, tmp_path):
    _daily(store_path)
    folder = tmp_path / "vol-run"
    trained = run(store_path, "train", "bitcoin", "--learn", "volatility", "--horizon", "2",
                  "--epochs", "2", "--hidden", "4", "--lookback", "10", "--threads", "1",
                  "--out", str(folder))  # fmt: skip
    assert trained.exit_code == 0, trained.output
    meta = json.loads((folder / "run.json").read_text())
    assert meta["config"]["head"] == "gaussian"
    assert meta["metrics"]["measure"] == "Garman-Klass range estimator (OHLC)"
    result = run(store_path, "predict", str(folder), "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    first, second = data["forecast"]
    assert data["learn"] == "volatility" and first["variance"] > 0
    assert second["variance_horizon"] == first["variance"] + second["variance"]
    assert first["vol_annual_pct"] == pytest.approx((first["variance"] * 365) ** 0.5 * 100)
    assert first["es1"] < first["var1"] < first["var5"] < 0
    text = run(store_path, "predict", str(folder)).stdout
    assert "volatility (annual)" in text and "VaR 1 %" in text


@pytest.mark.timeout(300)
def test_the_risk_backtest_on_the_local_engine_gives_the_same_tables(store_path, tmp_path):
    _daily(store_path)
    args = ("backtest", "btc", *RISK, "--models", "lstm,ewma,histvol")
    alone = run(store_path, *args, "--out", str(tmp_path / "alone"))
    jobs = run(store_path, *args, "--engine", "local", "--workers", "2", "--out",
               str(tmp_path / "jobs"))  # fmt: skip
    assert alone.exit_code == 0 and jobs.exit_code == 0, jobs.output
    for name in ("table.csv", "scores.csv", "tests.csv", "forecast.csv"):
        a, b = (pd.read_csv(tmp_path / f / name) for f in ("alone", "jobs"))
        pd.testing.assert_frame_equal(a, b)
