"""examples/quickstart.ipynb runs end to end, offline, prints the loss every 10 epochs and
shows the progress of its backtest and of its look inside the LSTM."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

REASON = "nbclient is not installed; install the dev extra: pip install -e '.[dev]'"
nbclient = pytest.importorskip("nbclient", reason=REASON)
nbformat = pytest.importorskip("nbformat", reason=REASON)

NOTEBOOK = Path(__file__).resolve().parents[1] / "examples" / "quickstart.ipynb"
WHICH_PYTHON = "import sys; print('prefix:', sys.prefix)"


def _stdout(nb) -> str:
    return "".join(
        out.get("text", "")
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.outputs
        if out.output_type == "stream" and out.name == "stdout"
    )


def _pictures(nb) -> int:
    return sum(
        "image/png" in out.get("data", {})
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.outputs
    )


def test_notebook_is_saved_without_outputs() -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    stored = [c.id for c in nb.cells if c.cell_type == "code" and (c.outputs or c.execution_count)]
    assert not stored, f"clear the outputs of cells {stored} before saving the notebook"


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_quickstart_runs_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The kernel is a subprocess: it inherits these, and writes only under tmp_path.
    monkeypatch.setenv("COINCAST_OFFLINE", "1")
    monkeypatch.setenv("COINCAST_NB_EPOCHS", "10")
    monkeypatch.setenv("COINCAST_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TMPDIR", str(tmp_path))  # the notebook's tempfile.mkdtemp()
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))
    monkeypatch.delenv("MPLBACKEND", raising=False)
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(WHICH_PYTHON))  # in memory only
    client = nbclient.NotebookClient(
        nb,
        kernel_name="python3",
        timeout=120,  # seconds per cell
        resources={"metadata": {"path": str(tmp_path)}},  # the kernel's working directory
    )
    client.execute()  # raises CellExecutionError, naming the cell, when one fails

    text = _stdout(nb)
    assert f"prefix: {sys.prefix}\n" in text, "the kernel is not this environment's Python"
    assert "Epoch [10/10], Loss: " in text
    assert "lstm: 60/60 cutoffs\n" in text and "naive: 60/60 cutoffs\n" in text  # progress
    assert re.search(r"explain: (\d+)/\1 steps\n", text)
    assert "synthetic" in text
    assert _pictures(nb) >= 6  # prices, scales, actual vs predicted, gates, saliency, gradients
