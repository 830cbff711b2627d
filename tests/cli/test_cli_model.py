"""``coincast train`` and ``coincast predict``: exact outputs, run folders, one-line errors.

Every test trains a tiny LSTM (8 hidden units, one layer, one thread) on the last 300 daily
bars of the real ETH-USD file (2024-04-18 .. 2025-02-11), inside its own ``tmp_path``, so
the relative ``runs/`` folder never leaves it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from coincast.cli import app
from coincast.models import LSTMForecaster
from coincast.models.training import TrainingInterrupted

runner = CliRunner()

#: A network small enough to train in about a second on one core.
TINY = ("--hidden", "8", "--layers", "1", "--lookback", "10", "--threads", "1")
FIRST, LAST = "2024-04-18T00:00:00+00:00", "2025-02-11T00:00:00+00:00"
LAST_CLOSE = 2589.8212890625
SUMMARY_KEYS = [
    "run",
    "epochs",
    "best_epoch",
    "stopped_early",
    "train_loss",
    "val_loss",
    "val_of",
    "val_mae",
    "val_naive_mae",
    "val_rel_mae",
]
EPOCH_LINE = re.compile(r"^Epoch \[(\d+)/(\d+)\], Loss: \d+\.\d{4}, Val: \d+\.\d{4}$")


def run(store: Path, *args: str):
    return runner.invoke(app, ["--store", str(store), *args])


def train(store: Path, out: str, *args: str):
    """Train the tiny network on ethereum into ``out``; fails the test on a non-zero exit."""
    result = run(store, "train", "eth", *TINY, "--out", out, *args)
    assert result.exit_code == 0, result.output
    return result


def _eth_csv(data_dir: Path, path: Path, rows: slice = slice(-300, None)) -> Path:
    lines = (data_dir / "yahoo" / "daily" / "ETH-USD_1d.csv").read_text().splitlines()
    path.write_text("\n".join([lines[0], *lines[1:][rows]]) + "\n")
    return path


@pytest.fixture
def eth(store_path, data_dir, tmp_path, monkeypatch) -> Path:
    """A store holding 300 daily ETH bars, with ``tmp_path`` as the working directory."""
    monkeypatch.chdir(tmp_path)
    result = run(
        store_path, "import", str(_eth_csv(data_dir, tmp_path / "eth.csv")), "--coin", "eth"
    )
    assert result.exit_code == 0, result.output
    return store_path


def _files(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` with its bytes: to prove a failed command changed nothing."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _one_error(result, message: str) -> None:
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert message in lines[0]


def _record(folder: str) -> dict:
    return json.loads((Path(folder) / "run.json").read_text())


# -- train ------------------------------------------------------------------------------------


def test_train_on_bars_resampled_from_gappy_minutes_needs_min_complete(store_path, tmp_path):
    """Every hour lacks one minute: whole bars only (the default) gives none, and the error
    says how to lower the rule; --min-complete 0.9 trains on the 59/60 hours."""
    from coincast.data.sources import synthetic_candles
    from coincast.data.store import Store

    minutes = synthetic_candles(60 * 80, interval="1m", coin="bitcoin")
    minutes = minutes[minutes.index.minute != 7]  # one minute missing from every hour
    with Store(store_path) as store:
        store.write_candles(minutes)
    args = ("train", "bitcoin", "-i", "1h", *TINY, "--epochs", "1", "--out", str(tmp_path / "r"))
    _one_error(run(store_path, *args), "--min-complete on the command line")
    result = run(store_path, *args, "--min-complete", "0.9")
    assert result.exit_code == 0, result.output
    assert _record(str(tmp_path / "r"))["data"]["bitcoin"]["rows"] == 80


def test_train_prints_epoch_lines_the_folder_and_a_summary(eth, tmp_path):
    result = train(eth, "runs/e7", "--epochs", "7", "--log-every", "3", "--patience", "50")
    lines = result.stdout.splitlines()
    assert lines[0] == "Training on 300 1d bars of ethereum (2024-04-18 .. 2025-02-11)"
    epochs = [EPOCH_LINE.match(line) for line in lines if line.startswith("Epoch")]
    assert all(epochs), lines
    assert [(int(m[1]), int(m[2])) for m in epochs] == [(3, 7), (6, 7), (7, 7)]
    assert lines[1:4] == [m[0] for m in epochs]  # right after the first line, in order
    assert lines[4] == "Run saved to runs/e7"
    header = r"^┃ epochs +┃ best epoch +┃ val loss +┃ val MAE +┃ naive MAE +┃ MAE / naive +┃$"
    assert re.match(header, lines[6]), lines[6]
    assert re.match(
        r"^│ 7 +│ [1-7] +│ \d\.\d+ +│ [\d.]+ +│ [\d.]+ +│ [\d.]+ \([a-z ]+\) +│$", lines[8]
    ), lines[8]
    assert lines[-1] == (
        "Validation chose the stopping epoch, so these figures flatter the model; "
        "judge it on a walk-forward backtest."
    )
    assert lines[-2] == "Validation figures: ethereum."
    folder = tmp_path / "runs" / "e7"
    assert (folder / "model.safetensors").stat().st_size > 0
    record = _record("runs/e7")
    assert record["name"] == "e7" and len(record["history"]) == 7
    assert record["config"]["hidden"] == 8 and record["config"]["log_every"] == 3
    assert record["data"]["ethereum"] | {"sha256": None} == {
        "source": "csv",
        "coin": "ethereum",
        "quote": "usd",
        "interval": "1d",
        "start": FIRST,
        "end": LAST,
        "rows": 300,
        "sha256": None,
    }


def test_train_log_every_zero_prints_no_epoch_lines(eth):
    result = train(eth, "runs/quiet", "--epochs", "2", "--log-every", "0")
    assert "Epoch" not in result.stdout
    assert "Run saved to runs/quiet" in result.stdout


def test_train_json_summary_has_no_epoch_lines(eth):
    result = train(eth, "runs/j", "--epochs", "2", "--log-every", "1", "--json")
    summary = json.loads(result.stdout)  # the whole of stdout is the JSON document
    assert list(summary) == SUMMARY_KEYS
    assert summary["run"] == "runs/j" and summary["epochs"] == 2
    assert summary["best_epoch"] in (1, 2) and summary["stopped_early"] is False
    record = _record("runs/j")
    assert summary["train_loss"] == record["history"][-1]["train_loss"]
    assert summary["val_loss"] == min(h["val_loss"] for h in record["history"])
    assert summary["val_mae"] == pytest.approx(
        summary["val_rel_mae"] * summary["val_naive_mae"], rel=1e-12
    )
    assert "Epoch" not in result.output


def test_early_stopping_is_reported(eth):
    result = train(eth, "runs/es", "--epochs", "30", "--patience", "1", "--json")
    summary = json.loads(result.stdout)
    assert summary["stopped_early"] is True
    assert summary["epochs"] == summary["best_epoch"] + 1 < 30
    record = _record("runs/es")
    assert len(record["history"]) == summary["epochs"] and record["stopped_early"] is True
    table = train(eth, "runs/es2", "--epochs", "30", "--patience", "1")
    assert f"│ {summary['epochs']} (early stop) │ {summary['best_epoch']} " in table.stdout


def test_train_without_out_names_the_run_after_coin_interval_and_time(eth, tmp_path):
    result = run(eth, "train", "eth", *TINY, "--epochs", "1", "--json")
    assert result.exit_code == 0, result.output
    name = json.loads(result.stdout)["run"]
    assert re.fullmatch(r"runs/ethereum-1d-\d{8}-\d{6}", name), name
    assert sorted(_files(tmp_path / name)) == [
        "checkpoint.safetensors",
        "model.safetensors",
        "run.json",
    ]


def test_train_until_limits_the_data(eth):
    train(eth, "runs/u", "--epochs", "1", "--until", "2024-12-31")
    data = _record("runs/u")["data"]["ethereum"]
    assert (data["start"], data["end"], data["rows"]) == (FIRST, "2024-12-31T00:00:00+00:00", 258)


def test_train_until_before_the_first_bar_is_a_one_line_error(eth, tmp_path):
    before = _files(tmp_path)
    result = run(eth, "train", "eth", *TINY, "--until", "2000-01-01", "--out", "runs/x")
    _one_error(result, "ethereum")
    assert _files(tmp_path) == before


# -- --config ---------------------------------------------------------------------------------

TOML = 'hidden = 8\nlayers = 1\nlookback = 10\nepochs = 2\nthreads = 1\nhead = "quantile"\n'
YAML = "hidden: 8\nlayers: 1\nlookback: 10\nepochs: 2\nthreads: 1\nhead: gaussian\n"


@pytest.mark.parametrize(
    ("name", "text", "head"), [("c.toml", TOML, "quantile"), ("c.yaml", YAML, "gaussian")]
)
def test_config_file_values_are_used_and_flags_override_them(eth, tmp_path, name, text, head):
    config = tmp_path / name
    config.write_text(text)
    plain = run(eth, "train", "eth", "--config", str(config), "--out", "runs/plain", "--json")
    assert plain.exit_code == 0, plain.output
    assert json.loads(plain.stdout)["epochs"] == 2
    cfg = _record("runs/plain")["config"]
    assert (cfg["hidden"], cfg["layers"], cfg["lookback"], cfg["epochs"], cfg["head"]) == (
        8,
        1,
        10,
        2,
        head,
    )
    args = ["--config", str(config), "--epochs", "1", "--lookback", "12", "--head", "point"]
    override = run(eth, "train", "eth", *args, "--out", "runs/flags", "--json")
    assert override.exit_code == 0, override.output
    assert json.loads(override.stdout)["epochs"] == 1
    cfg = _record("runs/flags")["config"]
    assert (cfg["hidden"], cfg["epochs"], cfg["lookback"], cfg["head"]) == (8, 1, 12, "point")


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("c.toml", "hiden = 8\nepochs = 1\n", "unknown setting(s) hiden; known: lookback, horizon"),
        ("c.yml", "epochs: 1\nspeed: 3\n", "unknown setting(s) speed; known: lookback"),
        ("c.json", '{"epochs": 1}', "must be a .toml, .yaml or .yml file"),
        ("c.toml", "epochs = = 1\n", "cannot be parsed"),
        ("c.yaml", "epochs: [1\n", "cannot be parsed"),
        ("c.yaml", "- 1\n- 2\n", "must hold a table of settings"),
        (
            "c.toml",
            "epochs = 0\n",
            "--config c.toml: epochs is 0; it must be a whole number from 1 to 1000000, "
            "e.g. epochs = 50",
        ),
    ],
)
def test_bad_config_files_are_one_line_errors(eth, tmp_path, name, text, message):
    (tmp_path / name).write_text(text)
    before = _files(tmp_path)
    result = run(eth, "train", "eth", *TINY, "--config", name, "--out", "runs/c")
    _one_error(result, message)
    assert f"--config {name}" in result.stderr or "epochs:" in result.stderr
    assert _files(tmp_path) == before


def test_config_key_that_is_not_a_string(eth, tmp_path):
    (tmp_path / "c.yaml").write_text("1: 2\nepochs: 1\n")
    _one_error(run(eth, "train", "eth", "--config", "c.yaml"), "unknown setting(s) 1; known:")


def test_missing_config_file(eth):
    _one_error(
        run(eth, "train", "eth", "--config", "nope.toml"), "--config nope.toml: no such file"
    )


# -- train errors -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["eth", "--features", "log_return,sentiment"],
            "unknown feature(s) 'sentiment'; known: log_return, log_volume_change, range, rsi, "
            "macd, volatility, close",
        ),
        (
            ["eth", "--lookback", "400"],
            "lookback (400) + horizon (1) + feature warm-up (1) needs at least 402 rows; "
            "ethereum/usd 1d (csv) has 300.",
        ),
        (["bitcoin"], "no stored data for bitcoin 1d"),
        (["eth", "--until", "someday"], "--until 'someday' is not a date"),
        (
            ["eth", "--horizon", "0"],
            "--horizon is 0; it must be a whole number from 1 to 10000, e.g. --horizon 1",
        ),
        (["eth", "--out", "runs/.."], "run name '..' is not allowed"),
        (["eth", "--out", ".."], "run name '..' is not allowed"),
        (["eth", "--out", "runs/a..b"], "run name 'a..b' is not allowed"),
        (["eth", "--out", "runs/.hidden"], "run name '.hidden' is not allowed"),
        (["eth", "--out", "runs/my run"], "run name 'my run' is not allowed"),
        (["eth", "--out", "runs/new", "--resume"], "no checkpoint to resume in runs/new"),
    ],
)
def test_train_errors_are_one_line_and_touch_nothing(eth, tmp_path, args, message):
    before = _files(tmp_path)
    result = run(eth, "train", *args, "--threads", "1", "--epochs", "1")
    _one_error(result, message)
    assert _files(tmp_path) == before  # no store change, no run folder
    assert not (tmp_path / "runs").exists()


def test_out_with_dot_dot_inside_is_refused(eth, tmp_path):
    result = run(eth, "train", "eth", *TINY, "--epochs", "1", "--out", "runs/../evil")
    _one_error(result, "not allowed")
    assert not (tmp_path / "evil").exists()


def test_existing_run_needs_force(eth, tmp_path):
    train(eth, "runs/r", "--epochs", "1")
    before = _files(tmp_path)
    again = run(eth, "train", "eth", *TINY, "--epochs", "2", "--out", "runs/r")
    _one_error(again, "runs/r already holds a run; choose another --out, or --force")
    assert _files(tmp_path) == before
    forced = train(eth, "runs/r", "--epochs", "2", "--force", "--json")
    assert json.loads(forced.stdout)["epochs"] == 2
    assert len(_record("runs/r")["history"]) == 2


def test_resume_continues_to_the_same_model_as_a_straight_run(eth, tmp_path):
    train(eth, "runs/r", "--epochs", "2", "--log-every", "1")
    resumed = train(eth, "runs/r", "--epochs", "4", "--resume", "--log-every", "1")
    epochs = [line for line in resumed.stdout.splitlines() if line.startswith("Epoch")]
    assert [EPOCH_LINE.match(line)[1] for line in epochs] == ["3", "4"]
    assert "Run saved to runs/r" in resumed.stdout and re.search(r"│ 4 +│", resumed.stdout)
    straight = train(eth, "runs/s", "--epochs", "4", "--json")
    assert json.loads(straight.stdout)["epochs"] == 4
    r, s = _record("runs/r"), _record("runs/s")
    assert len(r["history"]) == 4
    for key in ("train_loss", "val_loss"):
        assert [h[key] for h in r["history"]] == [h[key] for h in s["history"]]
    assert (r["best_epoch"], r["metrics"]) == (s["best_epoch"], s["metrics"])
    weights = tmp_path / "runs" / "r" / "model.safetensors"
    assert weights.read_bytes() == (tmp_path / "runs" / "s" / "model.safetensors").read_bytes()


def test_an_interrupted_run_says_how_to_resume(eth, monkeypatch):
    def interrupted(self, *args, **kwargs):
        raise TrainingInterrupted("training interrupted after epoch 2; resume with --resume")

    monkeypatch.setattr(LSTMForecaster, "fit", interrupted)
    _one_error(
        run(eth, "train", "eth", *TINY, "--out", "runs/i"),
        "training interrupted after epoch 2; resume with --resume: "
        "coincast train ethereum --out runs/i --resume",
    )


def test_resume_with_other_settings_is_refused(eth, tmp_path):
    train(eth, "runs/r", "--epochs", "1")
    before = _files(tmp_path)
    result = run(
        eth, "train", "eth", *TINY, "--epochs", "2", "--lr", "0.01", "--out", "runs/r", "--resume"
    )
    _one_error(result, "was made with other data or settings; train without --resume")
    assert _files(tmp_path) == before


def test_same_seed_same_bytes(eth, tmp_path):
    for name in ("a", "b"):
        train(eth, f"runs/{name}", "--epochs", "2", "--seed", "7", "--json")
    train(eth, "runs/c", "--epochs", "2", "--seed", "8", "--json")
    a, b, c = ((tmp_path / "runs" / n / "model.safetensors").read_bytes() for n in "abc")
    assert a == b
    assert a != c


# -- predict ----------------------------------------------------------------------------------


def _forecast(store: Path, *args: str) -> dict:
    result = run(store, "predict", *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


NEXT3 = ["2025-02-12T00:00:00+00:00", "2025-02-13T00:00:00+00:00", "2025-02-14T00:00:00+00:00"]


@pytest.mark.parametrize("head", ["point", "quantile", "gaussian"])
def test_predict_json(eth, head):
    train(eth, "runs/h3", "--epochs", "2", "--horizon", "3", "--head", head)
    got = _forecast(eth, "h3")  # a bare name is a run under runs/
    assert list(got) == ["coin", "interval", "last_ts", "last_close", "forecast"]
    assert (got["coin"], got["interval"], got["last_ts"], got["last_close"]) == (
        "ethereum",
        "1d",
        LAST,
        LAST_CLOSE,
    )
    assert [f["ts"] for f in got["forecast"]] == NEXT3
    for f in got["forecast"]:
        assert list(f) == ["ts", "yhat", "lo", "hi"]
        assert 0.5 * LAST_CLOSE < f["yhat"] < 2 * LAST_CLOSE
        if head == "point":
            assert f["lo"] is None and f["hi"] is None
        else:
            assert f["lo"] <= f["yhat"] <= f["hi"]
    two = _forecast(eth, "runs/h3", "--horizon", "2")
    assert two["forecast"] == got["forecast"][:2]
    before = _files(Path("runs"))
    _one_error(
        run(eth, "predict", "h3", "--horizon", "5"),
        "horizon (5) must be between 1 and the trained horizon (3)",
    )
    assert _files(Path("runs")) == before


def test_predict_table_and_plot(eth, tmp_path):
    train(eth, "runs/p", "--epochs", "1")
    result = run(eth, "predict", str(tmp_path / "runs" / "p"), "--plot", "f.png")
    assert result.exit_code == 0, result.output
    out = result.stdout
    title = "ethereum/usd 1d after 2025-02-11 (close 2,589.82)"
    assert title in " ".join(out.split())  # rich wraps the title to the table's width
    # the change from the last close; a point head has no band, so no lo and hi columns
    assert re.search(r"│ 2025-02-12 +│ [\d,]+\.\d+ +│ [+-]\d+\.\d\d% +│$", out, re.M), out
    assert " lo " not in out and " hi " not in out
    assert out.splitlines()[-1] == "Picture: f.png"
    png = (tmp_path / "f.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    jpg = run(eth, "predict", "p", "--plot", "f.jpg")
    _one_error(jpg, "--plot f.jpg must end in .png")
    assert not (tmp_path / "f.jpg").exists()


def test_predict_uses_the_latest_stored_bar(store_path, data_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    older = _eth_csv(data_dir, tmp_path / "older.csv", slice(-300, -50))
    assert run(store_path, "import", str(older), "--coin", "eth").exit_code == 0
    train(store_path, "runs/n", "--epochs", "1")
    first = _forecast(store_path, "n")
    assert first["last_ts"] == "2024-12-23T00:00:00+00:00"
    assert first["forecast"][0]["ts"] == "2024-12-24T00:00:00+00:00"
    newer = _eth_csv(data_dir, tmp_path / "newer.csv")
    assert run(store_path, "import", str(newer), "--coin", "eth").exit_code == 0
    second = _forecast(store_path, "n")
    assert (second["last_ts"], second["last_close"]) == (LAST, LAST_CLOSE)
    assert second["forecast"][0]["ts"] == NEXT3[0]
    assert (
        _record("runs/n")["data"]["ethereum"]["end"] == "2024-12-23T00:00:00+00:00"
    )  # the run is unchanged


def test_predict_missing_run(eth, tmp_path):
    _one_error(
        run(eth, "predict", "nope"),
        "no run folder runs/nope; train one with `coincast train COIN --out runs/nope`",
    )
    (tmp_path / "runs" / "empty").mkdir(parents=True)
    _one_error(run(eth, "predict", "empty"), "runs/empty has no run.json")


def test_predict_refuses_modified_weights(eth, tmp_path):
    train(eth, "runs/t", "--epochs", "1")
    weights = tmp_path / "runs" / "t" / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0x01  # one bit of one weight
    weights.write_bytes(bytes(data))
    before = _files(tmp_path)
    result = run(eth, "predict", "t", "--json")
    _one_error(result, "runs/t/model.safetensors does not match run.json (SHA-256 differs)")
    assert result.stdout == ""
    assert _files(tmp_path) == before


def test_predict_rejects_a_bad_run_name(eth):
    _one_error(run(eth, "predict", "bad name!"), "run name 'bad name!' is not allowed")


# -- help -------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["train", "predict"])
def test_help_has_an_example(command):
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0
    assert f"Example: coincast {command}" in result.stdout


# -- hostile settings, runs and paths (issue 12) ----------------------------------------------


def _refused(result, message: str) -> None:
    """Exit 1 and one ``Error:`` line holding ``message``: never the catch-all, no traceback."""
    _one_error(result, message)
    assert "unexpected" not in result.stderr and "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


HOSTILE_FLAGS = [
    (["--lr", "inf"], "--lr is inf; it must be a finite number > 0 and <= 10, e.g. --lr 0.001"),
    (["--lr", "nan"], "--lr is nan; it must be a finite number > 0 and <= 10"),
    (["--lr", "-1"], "--lr is -1.0; it must be a finite number > 0 and <= 10"),
    (["--lr", "1e308"], "--lr is 1e+308; it must be a finite number > 0 and <= 10"),
    (["--clip", "inf"], "--clip is inf; it must be a finite number > 0, e.g. --clip 1.0"),
    (["--clip", "nan"], "--clip is nan; it must be a finite number > 0"),
    (["--dropout", "nan"], "--dropout is nan; it must be a finite number >= 0 and < 1"),
    (["--val-fraction", "nan"], "--val-fraction is nan; it must be a finite number >= 0 and < 0.9"),
    (["--epochs", str(10**12)], "--epochs is 1000000000000; it must be a whole number from 1 to "
     "1000000, e.g. --epochs 50"),
    (["--hidden", str(10**12)], "--hidden is 1000000000000; it must be a whole number from 1 to "
     "4096, e.g. --hidden 64"),
    (["--layers", "17"], "--layers is 17; it must be a whole number from 1 to 16"),
    (["--lookback", str(10**6)], "--lookback is 1000000; it must be a whole number from 1 to "
     "100000"),
    (["--batch", "0"], "--batch is 0; it must be a whole number from 1 to 1000000"),
    (["--patience", "0"], "--patience is 0; it must be a whole number from 1 to 1000000"),
    (["--embed-dim", "0"], "--embed-dim is 0; it must be a whole number from 1 to 1024"),
    (["--log-every", "-1"], "--log-every is -1; it must be a whole number from 0 to 1000000"),
    (["--seed", str(2**64)], "--seed is 18446744073709551616; it must be a whole number from 0 to "
     "18446744073709551615, e.g. --seed 0"),
    (["--seed", "-1"], "--seed is -1; it must be a whole number from 0 to 18446744073709551615"),
    (["--threads", "100000"], "--threads is 100000; it must be a whole number from 1 to 1024, or "
     "unset for every core, e.g. --threads 1"),
    (["--device", "tpu"], "--device is 'tpu'; it must be auto, cpu, cuda, cuda:N or mps (this "
     "machine has cpu"),
    (["--device", "cuda:7"], "device 'cuda:7' is not available here: this machine has cpu"),
    (["--quantiles", "0.1,nan,0.9"], "--quantiles is [0.1, nan, 0.9]; it must be 1 to 99 "
     "increasing, distinct levels inside (0, 1), e.g. --quantiles 0.05,0.5,0.95"),
    (["--quantiles", "low,high"], "--quantiles 'low,high': 'low' is not a number; e.g. "
     "--quantiles 0.05,0.5,0.95"),
    (["--head", "median"], "--head is 'median'; it must be point, quantile or gaussian"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("args", "message"), HOSTILE_FLAGS, ids=[" ".join(a) for a, _ in HOSTILE_FLAGS]
)
def test_nonsense_flags_are_refused_up_front(eth, tmp_path, args, message):
    before = _files(tmp_path)
    epochs = [] if args[0] == "--epochs" else ["--epochs", "1"]
    result = run(eth, "train", "eth", *TINY[:-2], *epochs, *args, "--out", "runs/x")
    _refused(result, message)
    assert _files(tmp_path) == before and not (tmp_path / "runs").exists()


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("c.toml", "lr = inf\n", "--config c.toml: lr is inf; it must be a finite number > 0 and "
         "<= 10, e.g. lr = 0.001"),
        ("c.toml", "hidden = 1000000000000\n", "--config c.toml: hidden is 1000000000000; it must"),
        ("c.toml", 'device = "tpu"\n', "--config c.toml: device is 'tpu'; it must be auto, cpu"),
        ("c.yaml", "lr: .nan\n", "--config c.yaml: lr is nan; it must be a finite number"),
        ("c.yaml", "threads: 100000\n", "--config c.yaml: threads is 100000; it must be"),
        ("c.yaml", "quantiles: [0.1, .nan]\n", "--config c.yaml: quantiles is [0.1, nan]; it must"),
        ("c.yaml", "epochs: true\n", "--config c.yaml: epochs is True; it must be a whole number"),
        ("c.yaml", "[" * 5000, "--config c.yaml cannot be parsed"),  # deeper than Python recurses
        ("c.toml", "x = " + "[" * 5000, "--config c.toml cannot be parsed"),
    ],
)  # fmt: skip
def test_nonsense_in_a_config_file_is_refused_naming_the_file(eth, tmp_path, name, text, message):
    (tmp_path / name).write_text(text)
    before = _files(tmp_path)
    _refused(run(eth, "train", "eth", "--config", name, "--out", "runs/c"), message)
    assert _files(tmp_path) == before


def test_a_config_file_that_is_not_utf8_or_huge_is_refused(eth, tmp_path):
    (tmp_path / "c.toml").write_bytes(b"hidden = 8\n# \xff\n")
    _refused(run(eth, "train", "eth", "--config", "c.toml"), "--config c.toml is not UTF-8 text "
             "(byte 0xff at offset 13); save it as UTF-8")  # fmt: skip
    (tmp_path / "big.toml").write_bytes(b"#" * (2 << 20))
    _refused(run(eth, "train", "eth", "--config", "big.toml"), "--config big.toml is larger than")


def _flat_then_absurd(store: Path) -> None:
    """A coin whose validation bars lie ~1e20 training spreads away (see test_hostile_runs)."""
    import numpy as np

    from coincast.data.store import Store
    from coincast.series import COLUMNS, make_frame

    close = 1.0 + 1e-11 * np.random.default_rng(0).standard_normal(120)
    close[-5:] = 1e9
    cols = {c: close for c in COLUMNS} | {"volume": np.ones(120)}
    frame = make_frame(np.arange(120) * 86_400_000, cols, coin="flat", quote="usd",
                       interval="1d", source="synthetic")  # fmt: skip
    with Store(store) as s:
        s.write_candles(frame)


@pytest.mark.parametrize("as_json", [False, True])
def test_training_that_diverges_is_an_error_and_saves_nothing(store_path, tmp_path, monkeypatch,
                                                              as_json):  # fmt: skip
    monkeypatch.chdir(tmp_path)
    _flat_then_absurd(store_path)
    before = _files(tmp_path)
    args = ("train", "flat", *TINY, "--learn", "price", "--epochs", "3", "--out", "runs/d")
    result = run(store_path, *args, *(["--json"] if as_json else []))
    _refused(result, "training diverged: the validation loss became inf at epoch 1 (training "
             "loss ")  # fmt: skip
    assert "nothing was saved" in result.stderr
    assert _files(tmp_path) == before and not (tmp_path / "runs").exists()
    if as_json:
        assert result.stdout == ""


def test_train_json_stdout_is_json_when_a_coin_is_skipped(store_path, tmp_path, monkeypatch):
    from coincast.data.sources import synthetic_candles
    from coincast.data.store import Store

    monkeypatch.chdir(tmp_path)
    with Store(store_path) as s:
        s.write_candles(synthetic_candles(120, coin="alpha"))
        s.write_candles(synthetic_candles(8, coin="tiny", seed=9))
    args = ("train", "alpha", "tiny", "--target", "alpha", *TINY, "--epochs", "1", "--skip-short")
    result = run(store_path, *args, "--out", "runs/s", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["run"] == "runs/s"  # the whole of stdout
    assert "Skipped tiny: too little history for --lookback 10" in result.stderr


def _tamper(folder: Path, change) -> None:
    path = folder / "run.json"
    record = json.loads(path.read_text())
    change(record)
    path.write_text(json.dumps(record))


PREDICT_TAMPERS = {
    "hidden-huge": (lambda f: _tamper(f, lambda r: r["config"].update(hidden=10**12)),
                    "runs/t/run.json is invalid at config: hidden is 1000000000000; it must be a "
                    "whole number from 1 to 4096; the file was edited or is damaged; retrain"),
    "scaler-nan": (lambda f: _tamper(f, lambda r: r["scalers"]["ethereum"]["target"].update(
                       std=[float("nan")])), "runs/t/run.json is not valid JSON (NaN is no JSON"),
    "scaler-length": (lambda f: _tamper(f, lambda r: r["scalers"]["ethereum"]["features"].update(
                          mean=[0, 0, 0])), "invalid at scalers.ethereum.features.mean: has 3 "
                      "values; the network has 1 inputs (log_return)"),
    "history-extra": (lambda f: _tamper(f, lambda r: r["history"][0].update(x=1)),
                      "invalid at history.0.x: Extra inputs are not permitted"),
    "deep": (lambda f: (f / "run.json").write_text("[" * 100_000 + "]" * 100_000),
             "runs/t/run.json is not valid JSON (nested too deep)"),
    "header-huge": (lambda f: (f / "model.safetensors").write_bytes((2**63).to_bytes(8, "little")),
                    "runs/t/model.safetensors does not match run.json (SHA-256 differs)"),
    "weights-huge": (lambda f: __import__("os").truncate(f / "model.safetensors", 3 << 30),
                     "runs/t/model.safetensors has 3,221,225,472 bytes, far more than the"),
}  # fmt: skip


@pytest.mark.parametrize("name", list(PREDICT_TAMPERS))
def test_predict_refuses_a_tampered_run_in_one_line(eth, tmp_path, name):
    train(eth, "runs/t", "--epochs", "1")
    tamper, message = PREDICT_TAMPERS[name]
    tamper(tmp_path / "runs" / "t")
    _refused(run(eth, "predict", "t", "--json"), message)


def _unwritable(tmp_path: Path) -> list[tuple[str, str]]:
    (tmp_path / "a-file").write_text("x")
    return [
        ("a-file", "--out a-file is a file, not a folder; e.g. --out backtests/btc"),
        ("a-file/sub", "--out a-file/sub: a-file is a file, so nothing can be made under it"),
        ("x" * 300, "a name is longer than 255 bytes"),
    ]


def test_a_nul_in_a_path_is_a_usage_error_not_a_traceback(eth):
    for args in (["backtest", "eth", "--out", "a\x00b"], ["train", "eth", "--out", "runs/a\x00b"],
                 ["report", ".", "--out", "r\x00.html"], ["predict", "a\x00b"]):  # fmt: skip
        result = run(eth, *args)
        assert result.exit_code == 2 and "embedded null byte" in result.output, result.output
        assert "Traceback" not in result.output and "unexpected" not in result.output


@pytest.mark.parametrize("case", range(3))
def test_backtest_out_is_checked_before_anything_is_computed(eth, tmp_path, monkeypatch, case):
    import time

    import coincast.cli.evaluate as evaluate

    calls = []
    monkeypatch.setattr(evaluate, "run_backtest", lambda *a, **k: calls.append(a))
    monkeypatch.setattr(evaluate, "open_store", lambda: calls.append("store"))
    out, message = _unwritable(tmp_path)[case]
    before = _files(tmp_path)
    t0 = time.perf_counter()
    result = run(eth, "backtest", "eth", "--models", "naive", "--test", "30", "--out", out)
    _refused(result, message)
    assert calls == [] and time.perf_counter() - t0 < 2  # no store read, no backtest
    assert _files(tmp_path) == before


@pytest.mark.parametrize("case", range(3))
def test_train_out_is_checked_before_the_store_is_read(eth, tmp_path, case):
    out, message = _unwritable(tmp_path)[case]
    message = message.replace("backtests/btc", "runs/btc-1d")
    if case == 2:  # too long for a run name
        message = "is not allowed: use letters, digits"
    before = _files(tmp_path)
    _refused(run(eth, "train", "eth", *TINY, "--epochs", "1", "--out", out), message)
    assert _files(tmp_path) == before


@pytest.mark.parametrize(
    ("out", "message"),
    [
        ("a-folder", "--out a-folder is a folder, not a file; e.g. --out report.html"),
        ("a-file/r.html", "--out a-file/r.html: a-file is a file, so nothing can be made under"),
        ("x" * 300 + ".html", "a name is longer than 255 bytes"),
    ],
)
def test_report_out_is_checked_before_the_report_is_read(eth, tmp_path, out, message):
    (tmp_path / "a-folder").mkdir()
    (tmp_path / "a-file").write_text("x")
    (tmp_path / "bt").mkdir()  # no backtest in it: reading it would be an error of its own
    before = _files(tmp_path)
    _refused(run(eth, "report", "bt", "--out", out), message)
    assert _files(tmp_path) == before
