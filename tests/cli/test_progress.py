"""Long work reports (done, total) through callbacks; the CLI shows them, with an ETA, on
terminals only: piped output carries no progress noise."""

from __future__ import annotations

import io
import re
from pathlib import Path

from rich.console import Console
from typer.testing import CliRunner

from coincast.cli.app import app
from coincast.cli.common import progress_bar
from coincast.cli.evaluate import per_model
from coincast.data.sources import predictable_candles, synthetic_candles
from coincast.evaluation.backtest import WalkForward, walk_forward
from coincast.explain import explain
from coincast.models import LSTMForecaster
from coincast.models.baselines import Drift, Naive

runner = CliRunner()


def test_walk_forward_reports_each_cutoff_of_each_model() -> None:
    seen: list[tuple[str, int, int]] = []
    frame = synthetic_candles(80, seed=3)
    walk_forward(
        [Naive(), Drift()], frame, WalkForward(test=6, refit_every=2),
        progress=lambda model, done, total: seen.append((model, done, total)),
    )  # fmt: skip
    assert seen == [(m, i, 6) for m in ("naive", "drift") for i in range(1, 7)]


def test_explain_reports_every_step_up_to_its_total(tmp_path: Path) -> None:
    seen: list[tuple[int, int]] = []
    frame = predictable_candles(120)
    model = LSTMForecaster(lookback=10, hidden=4, layers=2, epochs=1).fit(frame)
    explain(model, model.window_inputs(frame), tmp_path, progress=lambda *a: seen.append(a))
    total = 3 + 2 + 3  # the computations, a picture per layer, saliency, gradients, the page
    assert seen == [(i, total) for i in range(1, total + 1)]
    assert (tmp_path / "explain.html").is_file()


def test_the_bar_shows_an_eta_on_a_terminal() -> None:
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=120)
    with progress_bar("cutoffs", console) as bar:
        callback = per_model(bar, "bitcoin")
        callback("naive", 1, 4)
        callback("naive", 2, 4)
        bar.refresh()
        (task,) = bar.tasks
        assert (task.description, task.completed, task.total) == ("bitcoin naive", 2, 4)
    assert "eta" in buffer.getvalue() and "cutoffs" in buffer.getvalue()


def test_piped_output_has_no_progress(tmp_path: Path) -> None:
    store = str(tmp_path / "c.db")
    fetched = runner.invoke(app, ["--store", store, "fetch", "bitcoin", "--source", "synthetic",
                                  "--interval", "1d", "--days", "200"])  # fmt: skip
    assert fetched.exit_code == 0, fetched.output
    result = runner.invoke(app, ["--store", store, "backtest", "bitcoin", "--source", "synthetic",
                                 "--models", "naive,drift", "--test", "20",
                                 "--out", str(tmp_path / "bt")])  # fmt: skip
    assert result.exit_code == 0, result.output
    # the bar's clock (elapsed, eta: 0:00:01) and its redraws never reach a pipe
    assert not re.search(r"\d:\d\d:\d\d", result.output)
    assert "\r" not in result.output and "\x1b[" not in result.output
