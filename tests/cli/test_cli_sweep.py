"""``coincast sweep``: a sweep from the command line, its leaderboard, errors in one line, and
a sweep killed with SIGKILL that resumes without losing or repeating a trial."""

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
from coincast.data.sources import synthetic_candles
from coincast.data.store import Store

runner = CliRunner()

SPACE = """
[params]
hidden = [2, 4]
lr = {low = 1e-3, high = 1e-2, log = true}

[fixed]
epochs = 1
lookback = 10
threads = 1

[walk]
refit_every = 15
refit_epochs = 1
"""
ARGS = ("--valid", "30", "--test", "20", "--sampler", "random", "--top-k", "2")


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Path, Path]:
    store = tmp_path / "coincast.db"
    with Store(store) as s:
        s.write_candles(synthetic_candles(130, coin="bitcoin", seed=1))
    space = tmp_path / "space.toml"
    space.write_text(SPACE)
    return store, space


def run(store: Path, *args: str):
    return runner.invoke(app, ["--store", str(store), *args])


def test_sweep_then_show(setup):
    store, space = setup
    r = run(store, "sweep", "bitcoin", "--space", str(space), "--trials", "2", "--name", "s",
            "--workers", "1", *ARGS, "--json")  # fmt: skip
    assert r.exit_code == 0, r.output
    board = json.loads(r.stdout)
    assert {"trials", "spa", "reality_check", "mcs", "verdict"} <= set(board)
    assert len(board["trials"]) == 2 and (store.parent / "sweeps.db").exists()
    folder = store.parent / "sweeps" / "s"
    assert (folder / "trial-0000" / "table.csv").exists()
    report = folder / "report.html"
    assert board.pop("report") == str(report) and report.read_text().startswith("<!DOCTYPE html>")
    shown = run(store, "sweep", "show", "s", "--json")
    assert shown.exit_code == 0 and json.loads(shown.stdout) == board
    text = run(store, "sweep", "show", "s")
    assert text.exit_code == 0
    assert text.stdout.startswith("the best of 2 configurations is")
    assert "trial-0000" in text.stdout and "test" in text.stdout and "Report" not in text.stdout


def test_show_html_writes_the_page_and_names_it(setup):
    store, space = setup
    r = run(store, "sweep", "bitcoin", "--space", str(space), "--trials", "2", "--name", "h",
            "--workers", "1", *ARGS)  # fmt: skip
    report = store.parent / "sweeps" / "h" / "report.html"
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith("the best of 2 configurations is")
    assert r.stdout.endswith(f"Report: {report}\n")
    report.unlink()
    shown = run(store, "sweep", "show", "h", "--html")
    assert shown.exit_code == 0 and shown.stdout.endswith(f"Report: {report}\n")
    assert shown.stdout.removesuffix(f"Report: {report}\n") == r.stdout.removesuffix(
        f"Report: {report}\n"
    )
    page = report.read_text(encoding="utf-8")
    assert '<section id="verdict"><h2>Verdict</h2><ul class="headline"><li>the best of 2' in page
    as_json = run(store, "sweep", "show", "h", "--html", "--json")
    assert as_json.exit_code == 0 and json.loads(as_json.stdout)["report"] == str(report)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("sweep", "bitcoin", "--space", "SPACE:[params]\nhiden = [2]"),
         "Error: space: unknown setting 'hiden' in [params]; did you mean 'hidden'?"),
        (("sweep", "bitcoin", "--space", "SPACE", "--sampler", "bayes"),
         "Error: sampler is 'bayes'; use tpe, random, grid"),
        (("sweep", "bitcoin", "--space", "SPACE", "--prune", "early"),
         "Error: prune is 'early'; use inside, series, none"),
        (("sweep", "bitcoin", "--space", "SPACE", "--valid", "soon"),
         "Error: --valid is 'soon'; give START..END"),
        (("sweep", "bitcoin", "--space", "SPACE", "--resume"),
         "Error: --resume needs the --name"),
        (("sweep", "bitcoin", "--space", "SPACE", "--name", "x", "--resume", *ARGS),
         "Error: no sweep named 'x' to resume"),
        (("sweep", "bitcoin", "--space", "SPACE", "--engine", "ray"),
         "Error: --engine ray: use local or dask"),
        (("sweep", "bitcoin", "--space", "SPACE", "--address", "tcp://127.0.0.1:1"),
         "Error: --address is for --engine dask; drop it or use --engine dask"),
        (("sweep", "show", "nothing"), "Error: no sweep named 'nothing'"),
        (("sweep", "show", "nothing", "--html"), "Error: no sweep named 'nothing'"),
    ],
)  # fmt: skip
def test_errors_are_one_line(setup, args, message):
    store, space = setup
    if any(a.startswith("SPACE:") for a in args):
        space.write_text(next(a for a in args if a.startswith("SPACE:")).removeprefix("SPACE:"))
    args = tuple(str(space) if a.startswith("SPACE") else a for a in args)
    r = run(store, *args)
    assert r.exit_code == 1 and r.stdout == ""
    assert r.stderr.startswith(message) and r.stderr.count("\n") == 1, r.stderr


def _states(store: Path, name: str) -> dict[str, int]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        study = optuna.load_study(study_name=name, storage=f"sqlite:///{store.parent}/sweeps.db")
    except KeyError:
        return {}
    out: dict[str, int] = {}
    for t in study.get_trials(deepcopy=False):
        out[t.state.name] = out.get(t.state.name, 0) + 1
    return out


@pytest.mark.slow
def test_a_sweep_killed_with_sigkill_resumes_with_no_trial_lost_or_run_twice(setup):
    store, space = setup
    cmd = [sys.executable, "-m", "coincast", "--store", str(store), "sweep", "bitcoin",
           "--space", str(space), "--trials", "5", "--name", "k", "--workers", "1",
           *ARGS]  # fmt: skip
    env = os.environ | {"PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}
    child = subprocess.Popen(cmd, env=env, start_new_session=True, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE)  # fmt: skip
    deadline = time.monotonic() + 100
    while time.monotonic() < deadline and child.poll() is None:
        s = _states(store, "k")
        if s.get("COMPLETE", 0) >= 2 and s.get("RUNNING"):
            break
        time.sleep(0.05)
    os.killpg(child.pid, signal.SIGKILL)  # the driver and its workers, as a crash would
    child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL, "the sweep ended before it could be killed"
    before = _states(store, "k")
    assert before.get("COMPLETE", 0) >= 2 and before.get("RUNNING") == 1, before

    import optuna

    storage = f"sqlite:///{store.parent}/sweeps.db"
    complete = [optuna.trial.TrialState.COMPLETE]
    study = optuna.load_study(study_name="k", storage=storage)
    kept = {t.number: (t.params, t.value) for t in study.get_trials(states=complete)}
    r = run(store, "sweep", "bitcoin", "--space", str(space), "--trials", "5", "--name", "k",
            "--workers", "1", "--resume", *ARGS, "--json")  # fmt: skip
    assert r.exit_code == 0, r.output
    study = optuna.load_study(study_name="k", storage=storage)
    trials = study.get_trials()
    done = [t for t in trials if t.state.name in ("COMPLETE", "PRUNED")]  # finished
    failed = [t for t in trials if t.state.name == "FAIL"]
    assert len(done) == 5 and len(failed) == 1 and len(trials) == 6
    again = [t for t in done if t.user_attrs.get("retry_of") == failed[0].number]
    assert len(again) == 1 and again[0].params == failed[0].params  # run again, once
    assert {t.number: (t.params, t.value) for t in done if t.number in kept} == kept
    board = json.loads(r.stdout)
    assert sorted(t["number"] for t in board["trials"]) == sorted(t.number for t in done)
    assert not (store.parent / "sweeps" / "k" / f"trial-{failed[0].number:04d}").exists()
