"""The price report's Calibration section on a real small backtest: the coverage picture, the
band rule in words and the table by regime; rebuilt from the folder as ``coincast report``
does; and an old folder without regimes.csv, and a backtest without bands, still build."""

from __future__ import annotations

import base64
import re
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import PNG, png_size

from coincast.data.sources import synthetic_candles
from coincast.evaluation.backtest import WalkForward
from coincast.evaluation.result import BacktestResult
from coincast.evaluation.run import run_backtest
from coincast.reporting.folder import save_backtest
from coincast.reporting.inputs import load_report_inputs
from coincast.reporting.report import build_report


@pytest.fixture(scope="module")
def result() -> BacktestResult:
    return run_backtest(synthetic_candles(300), WalkForward(test=60), models=["ma"])


@pytest.fixture(scope="module")
def folder(result, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("price")
    save_backtest(result, out)
    return out


def _calibration(page: str) -> str:
    found = re.search(r'<section id="calibration">(.*?)</section>', page, re.S)
    assert found, "no Calibration section"
    return found.group(1)


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def test_calibration_has_the_coverage_picture_rule_and_regimes(folder, result):
    cal = _calibration(_read(folder / "report.html"))
    (data,) = re.findall(r'src="data:image/png;base64,([^"]+)"', cal)
    png = base64.b64decode(data)
    assert png.startswith(PNG) and png == (folder / "coverage.png").read_bytes()
    width, height = png_size(folder / "coverage.png")
    assert 900 <= width <= 1400 and 300 <= height <= 600
    assert "auto: each model&#x27;s own band where it gives one" in cal  # meta["intervals"]
    table = re.search(r'<table class="by-regime">(.*?)</table>', cal, re.S).group(1)
    heads = re.findall(r"<th>(.*?)</th>", table)
    assert heads[0] == "model" and any("coverage" in h for h in heads)
    assert any("MAE ÷ naive" in h for h in heads)
    assert table.count("<tr><td") == result.regimes["model"].nunique() == 2
    ma = result.regimes[result.regimes["model"] == "ma"].iloc[0]
    assert f"{ma['coverage']:.1%}" in table
    assert "How the regimes are labelled" in cal


def test_rebuilt_from_the_folder_like_coincast_report(folder):
    first = _read(folder / "report.html")
    again = _read(build_report(folder, load_report_inputs(folder), out=folder / "again.html"))
    assert _calibration(again) == _calibration(first)


def test_an_old_folder_without_regimes_still_builds(folder, tmp_path):
    old = tmp_path / "old"
    old.mkdir()
    for f in folder.iterdir():
        if f.suffix in {".csv", ".json"} and f.name != "regimes.csv":
            (old / f.name).write_bytes(f.read_bytes())
    loaded = load_report_inputs(old)
    assert loaded.regimes is None
    cal = _calibration(_read(build_report(old, loaded)))
    assert "by-regime" not in cal and "did not record them" in cal
    assert "data:image/png;base64," in cal


def test_without_any_band_there_is_no_coverage_picture(result, tmp_path):
    bare = replace(result, table=result.table.assign(lo=float("nan"), hi=float("nan")),
                   meta={**result.meta, "intervals": "none"}, regimes=None)  # fmt: skip
    page = _read(build_report(tmp_path, bare))
    cal = _calibration(page)
    assert "No model has a band" in cal and "none: no bands" in cal and "<img" not in cal
    assert not (tmp_path / "coverage.png").exists()
