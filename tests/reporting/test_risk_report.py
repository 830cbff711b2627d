"""The risk report of a real small risk backtest: its pictures (valid PNGs of a readable size,
inlined), the sections in reading order, the VaR tests in words, the regimes as a table per
kind with the rule, and every user string escaped."""

from __future__ import annotations

import base64
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import PNG, png_size

from coincast.data.sources import synthetic_candles
from coincast.evaluation.backtest import WalkForward
from coincast.evaluation.risk_run import RiskResult, run_risk_backtest
from coincast.reporting.folder import save_risk_backtest
from coincast.reporting.risk_plots import annual_vol_pct, plot_pit, plot_var, var_models
from coincast.reporting.risk_report import build_risk_report

EVIL = "<b>ewma</b>&$x$"
PICTURES = ["risk_volatility.png", "risk_var.png", "risk_pit.png"]
SECTIONS = ["summary", "var-words", "pictures", "scores", "var", "regimes", "settings"]


@pytest.fixture(scope="module")
def result() -> RiskResult:
    return run_risk_backtest(synthetic_candles(400), WalkForward(test=40), models=["garch", "ewma"])


@pytest.fixture(scope="module")
def saved(result, tmp_path_factory) -> tuple[Path, str]:
    folder = save_risk_backtest(result, tmp_path_factory.mktemp("risk"))
    return folder, (folder / "report.html").read_text(encoding="utf-8")


def _section(page: str, sid: str) -> str:
    found = re.search(rf'<section id="{sid}">(.*?)</section>', page, re.S)
    assert found, f"no section {sid}"
    return found.group(1)


def _images(text: str) -> list[bytes]:
    return [base64.b64decode(b) for b in re.findall(r'src="data:image/png;base64,([^"]+)"', text)]


def test_each_picture_is_a_valid_png_written_and_inlined(saved):
    folder, page = saved
    inlined = _images(_section(page, "pictures"))
    assert len(inlined) == len(PICTURES)
    for name, data in zip(PICTURES, inlined, strict=True):
        path = folder / name
        assert path.read_bytes() == data and data.startswith(PNG)
        width, height = png_size(path)
        assert 800 <= width <= 1500 and 250 <= height <= 1200, (name, width, height)


def test_sections_come_results_first(saved):
    _, page = saved
    at = [page.index(f'<section id="{s}">') for s in SECTIONS]
    assert at == sorted(at)
    for s in SECTIONS:
        assert f'href="#{s}"' in page


def test_verdicts_are_grouped_summary_and_var(saved, result):
    _, page = saved
    summary, words = _section(page, "summary"), _section(page, "var-words")
    assert "QLIKE" in summary and "GARCH" in summary and "Value-at-risk: " in summary
    var = [v for v in result.verdicts if "VaR exceeded" in v]
    assert len(var) == len(result.tests) == 4
    for v in var:
        assert v.replace("'", "&#x27;") in words and v.replace("'", "&#x27;") not in summary
    assert "Kupiec" in words and "clusters" in words and "Kupiec" in _section(page, "var")


def test_regimes_table_per_kind_with_the_rule(saved, result):
    _, page = saved
    regimes = _section(page, "regimes")
    assert "Trend regimes" in regimes and "Volatility regimes" in regimes
    assert regimes.count("<table") == result.regimes["kind"].nunique() == 2
    assert "How the regimes are labelled" in regimes
    assert "Each cutoff is labelled from the closes up to it only" in regimes
    trend = re.search(r'<table class="regimes regimes-trend">(.*?)</table>', regimes, re.S)
    heads = re.findall(r"<th>(.*?)</th>", trend.group(1))
    assert heads[0] == "model" and any("QLIKE" in h for h in heads)
    assert any("5 % VaR exceeded" in h for h in heads)
    rows = re.findall(r"<tr><td", trend.group(1))
    assert len(rows) == 2  # garch and ewma
    garch = result.regimes[(result.regimes["model"] == "garch")
                           & (result.regimes["kind"] == "vol")].iloc[0]  # fmt: skip
    assert f"{garch['var5_rate']:.1%}" in regimes


def test_a_model_name_with_html_is_escaped(result, tmp_path):
    def renamed(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.assign(model=frame["model"].replace({"ewma": EVIL}))

    evil = replace(
        result,
        table=renamed(result.table), scores=renamed(result.scores),
        tests=renamed(result.tests), regimes=renamed(result.regimes),
        verdicts=[v.replace("ewma", EVIL) for v in result.verdicts],
        meta={**result.meta, "coin": "<i>coin</i>"},
    )  # fmt: skip
    page = build_risk_report(tmp_path, evil).read_text(encoding="utf-8")
    assert EVIL not in page and "<i>coin</i>" not in page and "<b>" not in page
    assert "&lt;b&gt;ewma&lt;/b&gt;&amp;$x$" in page
    assert len(_images(page)) == len(PICTURES)


def test_var_picture_prefers_garch_and_the_lstm():
    assert var_models(["ewma", "lstm", "har", "garch"]) == ["garch", "lstm"]
    assert var_models(["ewma", "garch", "har"]) == ["garch", "ewma"]
    assert var_models(["har"]) == ["har"]


def test_annualised_volatility():
    assert annual_vol_pct([0.0001], "1d")[0] == pytest.approx(100 * np.sqrt(0.0001 * 365))
    assert annual_vol_pct([0.0001], "1h")[0] == pytest.approx(100 * np.sqrt(0.0001 * 8760))
    assert np.isnan(annual_vol_pct([np.nan], "1d")[0])


def test_pictures_survive_an_empty_table_and_nan(result, tmp_path):
    empty = result.table.iloc[:0]
    assert png_size(plot_var(empty, tmp_path / "v.png"))[0] > 0
    holes = result.table.assign(pit=np.nan)
    assert png_size(plot_pit(holes, tmp_path / "p.png"))[0] > 0
