"""``coincast update``, ``watch`` and ``track``: exact outputs, exit codes, one-line errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from coincast.cli import app
from coincast.cli.live import parse_every
from coincast.errors import CoincastError

runner = CliRunner()
SRC = Path(__file__).resolve().parents[2] / "src"
SETTINGS = "epochs = 1\nhidden = 4\nlookback = 10\nhorizon = 2\nlog_every = 0\nthreads = 1\n"


def run(store, *args):
    return runner.invoke(app, ["--store", str(store), *args])


@pytest.fixture
def live(tmp_path, store_path):
    (tmp_path / "lstm.toml").write_text(SETTINGS)
    args = ["update", "demo", "--interval", "1h", "--source", "synthetic", "--days", "5",
            "--run", str(tmp_path / "runs" / "live-demo"),
            "--model", str(tmp_path / "lstm.toml")]  # fmt: skip
    return store_path, args


def test_update_then_track(live):
    store, args = live
    first = run(store, *args, "--json")
    assert first.exit_code == 0, first.output
    [r] = json.loads(first.stdout)
    assert r["coin"] == "demo" and r["issued"] == 2 and r["refit"] and r["error"] is None
    again = run(store, *args, "--json")
    assert json.loads(again.stdout)[0]["issued"] == 0  # the same hour: nothing new
    shown = run(store, "track", "--json")
    [t] = json.loads(shown.stdout)
    assert (t["coin"], t["run"], t["scored"], t["pending"]) == ("demo", "live-demo", 0, 2)
    table = run(store, "track", "demo")
    assert table.exit_code == 0 and "live-demo" in table.stdout and "pending" in table.stdout


def test_track_verify(live):
    store, args = live
    run(store, *args)
    ok = run(store, "track", "verify")
    assert ok.exit_code == 0 and ok.stdout.startswith("Ledger verified: 2 forecasts, 0 outcomes")
    import sqlite3

    db = sqlite3.connect(store)
    db.execute("DROP TRIGGER forecasts_no_update")
    db.execute("UPDATE forecasts SET yhat = 1 WHERE id = 2")
    db.commit()
    db.close()
    bad = run(store, "track", "verify")
    assert bad.exit_code == 1
    assert bad.stderr.startswith("Error: the ledger's hash chain is broken at forecast row 2: ")
    assert "Traceback" not in bad.output


def test_track_of_an_empty_store(store_path):
    result = run(store_path, "track")
    assert result.exit_code == 0
    assert result.stdout.startswith("No live forecasts recorded yet")


def test_update_without_a_run_says_what_to_give(store_path, tmp_path):
    result = run(store_path, "update", "demo", "--source", "synthetic", "--days", "2",
                 "--run", str(tmp_path / "nope"))  # fmt: skip
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.stderr.startswith("Error: no run folder")


def test_a_failed_coin_exits_1_after_the_others(live, monkeypatch):
    from coincast.data.sources.synthetic import SyntheticSource
    from coincast.errors import SourceError

    store, args = live
    real = SyntheticSource.fetch_chunk

    def flaky(self, coin, *rest):
        if coin == "down":
            raise SourceError("down: connection refused")
        return real(self, coin, *rest)

    monkeypatch.setattr(SyntheticSource, "fetch_chunk", flaky)
    result = run(store, *args[:2], "down", *args[2:])
    assert result.exit_code == 1
    assert "Error: down: fetch of down failed: down: connection refused" in result.stderr
    assert "demo" in result.stdout and "ok" in result.stdout


@pytest.mark.parametrize("text", ["0h", "1y", "h", ""])
def test_every_must_be_a_period(text):
    with pytest.raises(CoincastError, match=r"is not a period; give e\.g\. 30m, 1h or 1d"):
        parse_every(text)
    assert parse_every("90m") == 5400


@pytest.mark.slow
def test_watch_stops_cleanly_on_sigterm(live, tmp_path):
    store, args = live
    cmd = [sys.executable, "-m", "coincast", "--store", str(store), "watch", *args[1:],
           "--every", "1h"]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 90
    while time.time() < deadline:
        if _ledger_rows(store) == 2:
            break
        time.sleep(0.5)
    time.sleep(1)
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    assert "Next update in 1h." in stdout
    assert stdout.rstrip().endswith("Stopped; the ledger and the store hold every completed step.")
    assert "Traceback" not in stderr


def _ledger_rows(store):
    import sqlite3

    try:
        db = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
        return db.execute("SELECT COUNT(*) FROM forecasts").fetchone()[0]
    except sqlite3.Error:
        return 0
