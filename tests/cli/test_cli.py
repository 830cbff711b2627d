"""The command line: exact outputs, exit codes, one-line errors, help everywhere."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from rich.table import Table
from typer.main import get_command
from typer.testing import CliRunner

from coincast.cli import app
from coincast.cli.lazy import loaded
from coincast.data.store import Store
from coincast.series import COLUMNS, make_frame

runner = CliRunner()


def run(store: Path, *args: str, env: dict | None = None):
    return runner.invoke(app, ["--store", str(store), *args], env=env)


def test_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.stdout.startswith("coincast ")


def _commands(group, prefix=()):
    for name, cmd in loaded(group).items():
        yield (*prefix, name), cmd
        if hasattr(cmd, "commands"):
            yield from _commands(cmd, (*prefix, name))


def test_every_command_has_help_with_an_example():
    root = get_command(app)
    for path, cmd in _commands(root):
        result = runner.invoke(app, [*path, "--help"])
        assert result.exit_code == 0, path
        if not hasattr(cmd, "commands"):
            assert "Example: coincast" in result.stdout, f"{' '.join(path)} --help has no example"


def test_fetch_synthetic_then_incremental(store_path):
    args = ["fetch", "demo", "--source", "synthetic", "--interval", "1h", "--days", "2", "--json"]
    first = json.loads(run(store_path, *args).stdout)
    assert first[0]["coin"] == "demo" and first[0]["rows"] == first[0]["new_rows"] >= 47
    second = run(store_path, *args)
    assert second.exit_code == 0
    assert json.loads(second.stdout)[0]["new_rows"] == 0
    table = run(
        store_path, "fetch", "demo", "--source", "synthetic", "--interval", "1h", "--days", "2"
    )
    assert "demo/usd" in table.stdout and "new rows" in table.stdout


def test_import_and_data_commands(store_path, data_dir):
    csv = data_dir / "yahoo" / "daily" / "ETH-USD_1d.csv"
    imported = run(store_path, "import", str(csv), "--coin", "ETH")
    assert imported.exit_code == 0
    assert "Imported 2,652 candles (2,652 new) of ethereum/usd 1d (inferred)" in imported.stdout
    again = run(store_path, "import", str(csv), "--coin", "ETH", "--json")
    assert json.loads(again.stdout)["new_rows"] == 0

    listed = json.loads(run(store_path, "data", "list", "--json").stdout)
    assert listed == [
        {
            "source": "csv",
            "coin": "ethereum",
            "quote": "usd",
            "interval": "1d",
            "rows": 2652,
            "start": "2017-11-09T00:00:00+00:00",
            "end": "2025-02-11T00:00:00+00:00",
        }
    ]
    shown = json.loads(run(store_path, "data", "show", "eth", "--tail", "2", "--json").stdout)
    assert [c["ts"] for c in shown] == ["2025-02-10T00:00:00+00:00", "2025-02-11T00:00:00+00:00"]
    assert set(shown[0]) == {"ts", "open", "high", "low", "close", "volume"}
    weekly = json.loads(run(store_path, "data", "show", "ethereum", "-i", "1w", "--json").stdout)
    assert all(pd.Timestamp(c["ts"]).day_name() == "Monday" for c in weekly)
    assert json.loads(run(store_path, "data", "gaps", "ethereum", "--json").stdout) == {
        "gaps": [],
        "stored_interval": "1d",
        "min_complete": 1.0,
        "incomplete": [],  # read as stored: nothing resampled
    }


def test_export_round_trips_through_import(tmp_path, store_path, data_dir):
    run(
        store_path, "import", str(data_dir / "yahoo" / "hourly" / "SOL-USD_1h.csv"), "--coin", "sol"
    )
    for name in ("sol.csv", "sol.parquet"):
        out = tmp_path / name
        assert run(store_path, "data", "export", "solana", "--out", str(out)).exit_code == 0
        other = tmp_path / f"{name}.db"
        assert run(other, "import", str(out), "--coin", "solana").exit_code == 0
        with Store(store_path) as a, Store(other) as b:
            pd.testing.assert_frame_equal(a.read_candles("solana"), b.read_candles("solana"))


def test_gaps_table_on_minute_data(store_path, data_dir):
    run(
        store_path, "import", str(data_dir / "yahoo" / "minute" / "BTC-USD_1m.csv"), "--coin", "btc"
    )
    result = run(store_path, "data", "gaps", "bitcoin")
    assert result.exit_code == 0
    assert "missing bars; 32,007 bars present" in result.stdout
    gaps = json.loads(run(store_path, "data", "gaps", "bitcoin", "--json").stdout)["gaps"]
    assert gaps and all(g["missing"] >= 1 for g in gaps)


def test_gaps_of_resampled_real_minutes_name_the_incomplete_bars(store_path, data_dir):
    run(
        store_path, "import", str(data_dir / "yahoo" / "minute" / "BTC-USD_1m.csv"), "--coin", "btc"
    )
    lines = run(store_path, "data", "gaps", "bitcoin", "-i", "1h").stdout.splitlines()
    assert lines[:2] == [
        "bitcoin/usd 1h (csv): no bars",
        "696 1h bars are made from incomplete 1m data: 696 dropped, 0 kept (a bar is kept with "
        "at least 100% of its 1m bars; --min-complete)",
    ]
    assert re.match(r"^│ 2025-01-13 13:00:00\+00:00 +│ 34/60 +│ 56\.7% +│ no +│$", lines[6])
    loose = json.loads(
        run(store_path, "data", "gaps", "btc", "-i", "1h", "--min-complete", "0.5", "--json").stdout
    )
    assert loose["stored_interval"] == "1m" and loose["min_complete"] == 0.5
    assert len(loose["incomplete"]) == 696 and all(b["kept"] for b in loose["incomplete"])
    assert loose["incomplete"][0] == {
        "ts": "2025-01-13T13:00:00+00:00", "rows": 34, "expected": 60, "complete": 34 / 60,
        "kept": True,
    }  # fmt: skip


def _minutes_store(store_path: Path) -> None:
    """Five hours of demo minutes: 59/60, 60, 34/60 (inside), 60, 59/60."""
    ts = np.r_[1:154, 180:299] * 60_000
    ones = np.ones(len(ts))
    frame = make_frame(ts, {c: ones for c in COLUMNS}, coin="demo", quote="usd", interval="1m",
                       source="synthetic")  # fmt: skip
    with Store(store_path) as s:
        s.write_candles(frame)


def test_data_gaps_shows_the_rule_the_count_and_the_worst_bars(store_path):
    _minutes_store(store_path)
    result = run(store_path, "data", "gaps", "demo", "-i", "1h")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert "1970-01-01 02:00:00+00:00" in lines[4] and lines[4].endswith("│ 1    │")
    assert lines[6] == "1 gaps, 1 missing bars; 2 bars present"  # hours 1 and 3 are whole
    assert lines[7] == (
        "3 1h bars are made from incomplete 1m data: 3 dropped, 0 kept (a bar is kept with at "
        "least 100% of its 1m bars; --min-complete)"
    )
    worst = [re.sub(r" *│ *", "|", line).strip("|") for line in lines[12:15]]
    assert worst == [
        "1970-01-01 02:00:00+00:00|34/60|56.7%|no",
        "1970-01-01 00:00:00+00:00|59/60|98.3%|no",
        "1970-01-01 04:00:00+00:00|59/60|98.3%|no",
    ]
    loose = run(store_path, "data", "gaps", "demo", "-i", "1h", "--min-complete", "0.95")
    assert (
        "3 1h bars are made from incomplete 1m data: 1 dropped, 2 kept (a bar is kept with "
        "at least 95% of its 1m bars" in loose.stdout
    )
    assert "4 bars present" in loose.stdout
    whole = run(store_path, "data", "gaps", "demo", "-i", "1m").stdout
    assert "incomplete" not in whole and "272 bars present" in whole


def test_data_show_gives_the_share_of_a_short_bar(store_path):
    _minutes_store(store_path)
    shown = json.loads(run(store_path, "data", "show", "demo", "-i", "1h", "--min-complete", "0.5",
                           "--json").stdout)  # fmt: skip
    assert [round(b["complete"] * 60) for b in shown] == [59, 60, 34, 60, 59]
    plain = json.loads(run(store_path, "data", "show", "demo", "-i", "1h", "--json").stdout)
    assert [b["ts"][11:16] for b in plain] == ["01:00", "03:00"] and "complete" not in plain[0]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["fetch", "demo", "--source", "synthetic", "--interval", "2h"], "unknown interval '2h'"),
        (["fetch", "demo", "--source", "nowhere"], "unknown source 'nowhere'"),
        (
            ["fetch", "demo", "--source", "synthetic", "--start", "2024-13-45"],
            "--start '2024-13-45' is not a date",
        ),
        (["fetch", "demo", "--source", "synthetic", "--end", "2024-01-01"], "--end needs --start"),
        (["import", "missing.csv", "--coin", "btc"], "missing.csv: no such file"),
        (["data", "show", "bitcoin"], "no stored data for bitcoin"),
        (["data", "export", "bitcoin", "--out", "x.txt"], "no stored data"),
        (["fetch", "bad coin!", "--source", "synthetic"], "coin 'bad coin!' is not a valid id"),
    ],
)
def test_errors_are_one_line_with_exit_code_1(store_path, args, message):
    result = run(store_path, *args)
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ")
    assert message in lines[0]


def test_usage_errors_exit_2(store_path):
    assert run(store_path, "fetch").exit_code == 2
    assert run(store_path, "import", "x.csv").exit_code == 2  # --coin missing
    assert run(store_path, "data", "show", "btc", "--tail", "0").exit_code == 2


def test_ambiguous_source_lists_choices(store_path, data_dir):
    run(store_path, "import", str(data_dir / "yahoo" / "daily" / "BTC-USD_1d.csv"), "--coin", "btc")
    run(
        store_path,
        "import",
        str(data_dir / "binance" / "BTCUSDT_1d.csv"),
        "--coin",
        "btc",
        "--quote",
        "usdt",
    )
    result = run(store_path, "data", "show", "bitcoin")
    assert result.exit_code == 1
    assert "choose one: --source csv --quote usd, --source csv --quote usdt" in result.stderr
    ok = run(store_path, "data", "show", "bitcoin", "--quote", "usdt", "--json", "--tail", "1")
    assert json.loads(ok.stdout)[0]["ts"] == "2025-02-20T00:00:00+00:00"


def test_export_refuses_unknown_suffix(store_path, tmp_path):
    run(store_path, "fetch", "demo", "--source", "synthetic", "--days", "5")
    result = run(store_path, "data", "export", "demo", "--out", str(tmp_path / "x.txt"))
    assert result.exit_code == 1 and "must end in .csv or .parquet" in result.stderr
    assert not (tmp_path / "x.txt").exists()


def test_corrupt_store_is_refused_and_untouched(tmp_path):
    path = tmp_path / "store.db"
    path.write_bytes(b"\x00garbage" * 512)
    before = path.read_bytes()
    result = run(path, "data", "list")
    assert result.exit_code == 1 and "is not a coincast store" in result.stderr
    assert path.read_bytes() == before


def test_coingecko_through_the_cli(store_path, data_dir, monkeypatch):
    from fakes.coingecko import FakeCoinGecko

    with FakeCoinGecko() as fake:
        env = {"COINGECKO_BASE_URL": fake.url}
        limited = run(
            store_path, "fetch", "BTC", "--start", "2025-01-01", "--end", "2025-01-31", env=env
        )
        assert limited.exit_code == 1
        assert "serve only the past 365 days" in limited.stderr
        assert "--source exchange:binance" in limited.stderr
        env |= {"COINGECKO_API_KEY": "secret-key", "COINGECKO_API_PLAN": "pro"}
        args = ["fetch", "BTC", "eth", "--start", "2025-01-01", "--end", "2025-01-31", "--json"]
        result = run(store_path, *args, env=env)
        assert result.exit_code == 0, result.output
        rows = json.loads(result.stdout)
        assert [(r["coin"], r["rows"]) for r in rows] == [("bitcoin", 31), ("ethereum", 31)]
        assert all(r.headers.get("x-cg-pro-api-key") == "secret-key" for r in fake.data_requests())
        assert "secret-key" not in result.output
        unknown = run(store_path, "fetch", "bitcoinn", "--days", "5", env=env)
        assert unknown.exit_code == 1 and "did you mean: bitcoin" in unknown.stderr


@pytest.mark.timeout(600)  # ~20 s alone on 2 cores; minutes when the machine is shared
def test_demo_offline(tmp_path):
    out = tmp_path / "demo"
    result = runner.invoke(app, ["demo", "--offline", "--out", str(out), "--test", "20"])
    assert result.exit_code == 0, result.output
    assert "synthetic source" in result.stderr
    assert (out / "prices.png").stat().st_size > 10_000
    for coin in ("bitcoin", "ethereum"):
        report = (out / f"backtest-{coin}" / "report.html").read_text()
        assert 'id="metrics"' in report and 'id="last-value"' in report
        assert (out / f"backtest-{coin}" / "table.csv").exists()
    assert "Reports:" in result.stdout
    inside = out / "explain-bitcoin" / "explain.html"
    flat = result.stdout.replace("\n", "")  # rich wraps long lines
    assert f"Inside the LSTM (gates, memory, gradients): {inside}" in flat
    assert "forget gate" in inside.read_text()
    for model in ("lstm", "naive", "drift", "seasonal", "ma", "arima"):
        assert re.search(rf"│ bitcoin\s+│ {model}\s+│", result.stdout), model


class Bar:
    """A stand-in for a rich progress bar: what each task was last told."""

    def __init__(self) -> None:
        self.tasks: dict[int, dict] = {}

    def add_task(self, description: str, total: float | None = None) -> int:
        self.tasks[len(self.tasks)] = {"description": description, "total": total}
        return len(self.tasks) - 1

    def update(self, task: int, **fields: float) -> None:
        self.tasks[task].update(fields)


def test_the_demos_look_inside_shows_its_progress_like_the_backtest(tmp_path):
    from coincast.cli.demo import _explain
    from coincast.data.sources import predictable_candles

    bar = Bar()
    page = _explain(predictable_candles(120, coin="bitcoin"), tmp_path / "explain", bar, epochs=2)
    assert page.name == "explain.html"
    training, explain = bar.tasks.values()
    assert training == {"description": "bitcoin training", "total": 2, "completed": 2}
    assert explain["description"] == "bitcoin explain"
    assert explain["completed"] == explain["total"] > 3  # the computations, pictures, page


BACKTEST = ["--test", "20", "--refit-every", "10", "--epochs", "3", "--hidden", "8",
            "--lookback", "10", "--threads", "1"]  # fmt: skip


def test_backtest_json_and_report_rebuild(store_path, data_dir, tmp_path):
    run(store_path, "import", str(data_dir / "yahoo" / "daily" / "ETH-USD_1d.csv"), "--coin", "eth")
    folder = tmp_path / "bt"
    result = run(store_path, "backtest", "eth", *BACKTEST, "--out", str(folder), "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data) == {
        "coin",
        "interval",
        "horizon",
        "test_start",
        "test_end",
        "mase_scale",
        "metrics",
        "report",
    }
    assert data["test_start"] == "2025-01-23T00:00:00+00:00"
    assert data["test_end"] == "2025-02-11T00:00:00+00:00"
    assert data["mase_scale"]["window"] == 365  # the last year of daily training bars
    keys = {"model", "n", "rel_mae", "mae", "rmse", "mape", "smape", "mase", "dm_stat",
            "dm_pvalue", "directional_accuracy", "directional_n", "directional_stat",
            "directional_pvalue", "info_slope", "info_pvalue", "copies_last", "coverage",
            "crps", "crps_method", "per_step", "var_tests"}  # fmt: skip
    assert all(set(m) == keys for m in data["metrics"])
    by = {m["model"]: m for m in data["metrics"]}
    assert set(by) == {"lstm", "naive", "drift", "seasonal", "ma", "arima"}
    assert by["naive"]["rel_mae"] == 1.0 and by["naive"]["copies_last"] is True
    assert [s["step"] for s in by["lstm"]["per_step"]] == [1]  # horizon 1: one step
    assert by["lstm"]["per_step"][0]["mae"] == pytest.approx(by["lstm"]["mae"])
    assert by["naive"]["crps_method"] == "log-normal, closed form"
    table = pd.read_csv(folder / "table.csv")
    assert len(table) == 6 * 20
    rebuilt = run(store_path, "report", str(folder), "-o", str(tmp_path / "again.html"))
    assert rebuilt.exit_code == 0 and (tmp_path / "again.html").stat().st_size > 50_000


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--models", "lstm,prophet"], "unknown model(s) prophet"),
        (["--test", "2000"], "Shorten --test or fetch more history"),
        (["--test", "5", "--start", "2025-01-01"], "either --test N or --start/--end"),
    ],
)
def test_backtest_errors(store_path, data_dir, args, message):
    run(store_path, "import", str(data_dir / "yahoo" / "daily" / "SOL-USD_1d.csv"), "--coin", "sol")
    result = run(store_path, "backtest", "sol", *BACKTEST[2:], *args)
    assert result.exit_code == 1
    assert message in result.stderr and result.stderr.startswith("Error: ")


def test_report_of_a_folder_without_results(tmp_path, store_path):
    missing = run(store_path, "report", str(tmp_path / "nope"))
    assert missing.exit_code == 1 and "no folder" in missing.stderr
    empty = run(store_path, "report", str(tmp_path))
    assert empty.exit_code == 1 and "table.csv" in empty.stderr


def test_console_script_never_prints_a_traceback(tmp_path):
    exe = Path(sys.executable).with_name("coincast")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "coincast"]
    result = subprocess.run(
        [
            *cmd,
            "--store",
            str(tmp_path / "s.db"),
            "import",
            str(tmp_path / "nope.csv"),
            "--coin",
            "x",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("Error: ")


def test_backtest_table_prints_ratios_and_p_values_that_do_not_round_into_a_verdict():
    from coincast.cli import common
    from coincast.cli.demo import _add_rows
    from coincast.cli.evaluate import _print_scores
    from coincast.evaluation.result import BacktestResult
    from coincast.evaluation.verdicts import verdicts

    scores = pd.DataFrame([
        {"model": "naive", "steps": 1, "n": 300, "mae": 10.0, "rel_mae": 1.0, "rmse": 12.0,
         "mape": 0.02, "mase": 0.98, "dm_stat": None, "dm_pvalue": None,
         "directional_accuracy": None, "directional_pvalue": None, "directional_stat": None,
         "info_slope": None, "info_pvalue": None, "copies_last": True, "coverage": 0.9,
         "crps": 7.0},
        {"model": "lstm", "steps": 1, "n": 300, "mae": 10.004, "rel_mae": 1.0004,
         "rmse": 12.0, "mape": 0.02, "mase": 0.98039, "dm_stat": 1.97, "dm_pvalue": 0.0496,
         "directional_accuracy": 0.5, "directional_pvalue": 0.61, "directional_stat": 0.5,
         "info_slope": 0.02, "info_pvalue": 0.61, "copies_last": True, "coverage": None,
         "crps": None},
    ])  # fmt: skip
    meta = {"coin": "bitcoin", "interval": "1d", "horizon": 1, "test_start": "2025-01-01",
            "test_end": "2025-10-27", "cutoffs": 300,
            "mase_scale": {"window": 365, "value": 10.2}}  # fmt: skip
    result = BacktestResult(pd.DataFrame(), scores, verdicts(scores), pd.DataFrame(), meta)
    with common.out.capture() as cap:
        _print_scores(result)
    text = cap.get()
    row = next(line for line in text.splitlines() if "│ lstm" in line)
    assert "1.0004 worse" in row and "0.0496" in row and "0.9804" in row
    assert "MASE (scale: naive MAE over the last 365 training bars)" in text
    summary = Table("coin", "model", "MAE / naive", "DM p", "direction right", "verdict")
    _add_rows(summary, "bitcoin", scores)
    with common.out.capture() as cap:
        common.out.print(summary)
    row = next(line for line in cap.get().splitlines() if "│ lstm" in line)
    assert "1.0004" in row and "0.0496" in row and "worse than naive" in row
