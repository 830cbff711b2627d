"""The HTML report: sections, marked cells, inlined pictures, escaping, offline, and the
round trip through a backtest folder. The page is parsed with the standard library."""

from __future__ import annotations

import base64
import html
import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from coincast.errors import CoincastError
from coincast.evaluation.result import BacktestResult
from coincast.evaluation.scores import score
from coincast.reporting.backtest_plots import (
    plot_actual_vs_predicted,
    plot_errors,
    plot_forecast_fan,
    plot_loss_curves,
)
from coincast.reporting.report import (
    DASH,
    INPUTS,
    _best,
    build_report,
    load_report_inputs,
    write_report_inputs,
)
from coincast.reporting.reproduce import backtest_command

PNG = b"\x89PNG\r\n\x1a\n"
#: in reading order: the results first, then how they were made
SECTIONS = ["summary", "metrics", "pictures", "calibration", "significance", "last-value",
            "steps", "trading", "settings", "reproduce"]  # fmt: skip
EVIL = "<script>alert(1)</script>"
DISCLAIMER = "Past simulated returns say nothing about future ones; fees are estimates."


def make_inputs(coin: str = "bitcoin", horizon: int = 2, bars: int = 60) -> dict:
    """Synthetic backtest output: naive, drift (with a band) and lstm over ``bars`` cutoffs."""
    rng = np.random.default_rng(0)
    ts = pd.date_range("2024-01-01", periods=bars + horizon + 1, freq="D", tz="UTC")
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.02, len(ts))))
    rows = []
    for c in range(bars):
        last = close[c]
        for step in range(1, horizon + 1):
            y = close[c + step]
            guesses = {"naive": (last, None), "drift": (last * 1.001, 0.03 * step * last),
                       "lstm": (last + 0.5 * (y - last), None)}  # fmt: skip
            for model, (yhat, half) in guesses.items():
                lo, hi = (np.nan, np.nan) if half is None else (yhat - half, yhat + half)
                rows.append({"coin": coin, "model": model, "cutoff": ts[c], "ts": ts[c + step],
                             "step": step, "y": y, "yhat": yhat, "lo": lo, "hi": hi,
                             "last": last})  # fmt: skip
    table = pd.DataFrame(rows)
    nan = None
    scores = pd.DataFrame({
        "model": ["naive", "drift", "lstm"], "n": [120, 120, 120],
        "mae": [2.5, 2.6, 1.3], "rmse": [3.1, 3.3, 1.6], "mape": [0.021, 0.022, 0.011],
        "smape": [0.021, 0.022, 0.011], "mase": [1.0, 1.04, 0.52],
        "rel_mae": [1.0, 1.0004, 0.52], "steps": [horizon] * 3,
        "directional_accuracy": [nan, 0.48, 0.71], "directional_n": [nan, 120, 120],
        "directional_pvalue": [nan, 0.71, 0.001], "dm_stat": [nan, 0.8, -4.2],
        "dm_pvalue": [nan, 0.41, 0.0001], "info_slope": [nan, 0.1, 0.9],
        "info_pvalue": [nan, 0.7, 0.0001], "copies_last": [True, True, False],
        "coverage": [nan, 0.95, nan], "pinball": [nan, 1.1, nan], "crps": [nan, 1.9, nan],
        "crps_method": [nan, "3 quantiles (0.05, 0.5, 0.95)", nan],
    })  # fmt: skip
    trading = pd.DataFrame({
        "model": ["naive", "drift", "lstm", "buy-and-hold"], "total_return": [0.0, -0.05, 0.3, 0.1],
        "sharpe": [0.0, -0.4, 2.1, 0.6], "max_drawdown": [0.0, -0.2, -0.08, -0.25],
        "trades": [0, 12, 30, 1], "exposure": [0.0, 1.0, 0.55, 1.0],
        "hold_pvalue": [0.21, 0.0004, 0.03, None],
        "vs_hold": ["no different", "worse", "better", None],
    })  # fmt: skip
    meta = {
        "coin": coin, "interval": "1d", "horizon": horizon, "test_start": ts[1],
        "test_end": ts[-1], "cutoffs": bars, "refit_every": 10, "window": "expanding",
        "data": {"source": "synthetic", "quote": "usd", "start": "2023-01-01", "end": "2024-03-01",
                 "rows": 426},
        "config": {"lookback": 30, "hidden": 64, "quantiles": [0.05, 0.95], "note": EVIL},
        "created": "2024-03-02T10:00:00+00:00", "packages": {"python": "3.11", "torch": "2.13"},
    }  # fmt: skip
    history = [{"epoch": e, "train_loss": 1 / e, "val_loss": 1.2 / e + 0.01 * e}
               for e in range(1, 31)]  # fmt: skip
    future = pd.date_range(ts[-1] + pd.Timedelta(days=1), periods=horizon, freq="D", name="ts")
    forecast = pd.DataFrame({"yhat": close[-1] * np.ones(horizon)}, index=future)
    forecast["lo"], forecast["hi"] = forecast["yhat"] * 0.95, forecast["yhat"] * 1.05
    recent = pd.DataFrame({"close": close}, index=pd.Index(ts, name="ts"))
    verdicts = [
        "lstm: errors lower than the naive forecast's (DM p < 0.001)",
        "drift: errors not distinguishable from the naive forecast's (DM p = 0.41)",
    ]
    return {"table": table, "scores": scores, "verdicts": verdicts, "trading": trading,
            "disclaimer": DISCLAIMER, "meta": meta, "history": history, "forecast": forecast,
            "recent": recent, "steps": score(table, per_step=True)}  # fmt: skip


class Page(HTMLParser):
    """Collects start tags, section headings, table cells and text of an HTML page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.h2: dict[str, str] = {}
        self.tables: dict[str, list[list[tuple[str, dict]]]] = {}  # class -> rows of cells
        self.text: list[str] = []
        self._section: str | None = None
        self._in: list[str] = []
        self._table: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append((tag, a))
        if tag == "section":
            self._section = a.get("id")
        elif tag == "table":
            self._table = a.get("class") or f"table{len(self.tables)}"
            self.tables[self._table] = []
        elif tag == "tr" and self._table:
            self.tables[self._table].append([])
        elif tag in ("td", "th") and self._table:
            self.tables[self._table][-1].append(["", a])
        self._in.append(tag)

    def handle_endtag(self, tag):
        if tag == "table":
            self._table = None
        if self._in and self._in[-1] == tag:
            self._in.pop()

    def handle_data(self, data):
        self.text.append(data)
        if "h2" in self._in and self._section:
            self.h2[self._section] = self.h2.get(self._section, "") + data
        cells = self.tables[self._table][-1] if self._table and self.tables[self._table] else []
        if cells and {"td", "th"} & set(self._in):
            self.tables[self._table][-1][-1][0] += data


def parse(path: Path) -> Page:
    page = Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, Page, dict]:
    folder = tmp_path_factory.mktemp("bt")
    inputs = make_inputs(coin=EVIL)
    path = build_report(folder, BacktestResult(**inputs))
    return path, parse(path), inputs


def test_every_section_has_an_id_and_a_heading(built):
    _, page, _ = built
    for sid in SECTIONS:
        assert sid in page.h2 and page.h2[sid].strip(), sid


def test_metrics_table_one_row_per_model_with_the_right_columns(built):
    _, page, inputs = built
    head, *rows = page.tables["metrics"]
    assert [t.strip() for t, _ in head] == [
        "model", "n", "MAE ÷ naive", "MAE", "RMSE", "MAPE", "sMAPE", "MASE", "direction right",
        "coverage (nominal 90 %)", "pinball", "CRPS", "vs naive",
    ]  # fmt: skip
    assert [r[0][0] for r in rows] == list(inputs["scores"]["model"])
    by = {r[0][0]: {c[1].get("data-col"): c for c in r} for r in rows}
    assert by["lstm"]["mae"][0] == "1.30" and by["naive"]["mape"][0] == "2.10%"
    assert by["naive"]["coverage"][0] == DASH  # None shows as a dash
    assert by["drift"]["rel_mae"][0] == "1.0004"  # a ratio that differs from 1 never shows 1


def test_best_cell_of_each_column_is_marked(built):
    _, page, _ = built
    rows = {r[0][0]: {c[1].get("data-col"): c for c in r} for r in page.tables["metrics"][1:]}
    best = {(m, col) for m, cells in rows.items() for col, (_, a) in cells.items()
            if "best" in (a.get("class") or "").split()}  # fmt: skip
    assert ("lstm", "mae") in best and ("lstm", "directional_accuracy") in best
    assert ("drift", "coverage") not in best  # only one model has a band: nothing to compare
    assert ("naive", "mae") not in best and ("drift", "n") not in best


def test_model_not_beating_naive_is_marked(built):
    _, page, _ = built
    rows = {r[0][0]: r[-1] for r in page.tables["metrics"][1:]}
    assert rows["drift"][0] == "not better than naive"  # DM p = 0.41: not significant
    assert "loses-to-naive" in rows["drift"][1]["class"]
    assert rows["lstm"][0] == "beats naive" and rows["naive"][0] == "reference"
    marked = [
        a for t, a in built[1].tags if t == "tr" and "loses-to-naive" in (a.get("class") or "")
    ]
    assert len(marked) == 1


def test_pictures_are_inlined_pngs(built):
    _, page, _ = built
    imgs = [a for t, a in page.tags if t == "img"]
    assert len(imgs) == 7  # actual and errors at steps 1 and 2, loss curves, fan, coverage
    for a in imgs:
        src = a["src"]
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1]).startswith(PNG)
        assert a.get("alt")


def test_page_works_offline(built):
    path, page, _ = built
    text = path.read_text(encoding="utf-8")
    assert "http://" not in text and "https://" not in text
    for tag, a in page.tags:
        assert tag not in ("script", "link", "iframe")
        for key in ("href", "src"):
            assert not a.get(key) or a[key].startswith(("#", "data:image/png;base64,")), (tag, a)


def test_user_text_is_escaped(built):
    path, page, _ = built
    text = path.read_text(encoding="utf-8")
    assert EVIL not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert not any(t == "script" for t, _ in page.tags)
    assert EVIL in "".join(page.text)  # shown to the reader as text


def test_disclaimer_and_not_advice(built):
    _, page, _ = built
    text = " ".join(page.text)
    assert DISCLAIMER in text
    assert "not advice" in page.h2["trading"]


def test_trading_shows_trades_and_the_pvalue_against_buy_and_hold(built):
    _, page, _ = built
    head, *rows = page.tables["trading"]
    assert [t for t, _ in head] == [
        "model", "total return", "Sharpe", "max drawdown", "trades", "time in market",
        "p vs buy-and-hold", "return vs buy-and-hold",
    ]  # fmt: skip
    by = {r[0][0]: [t for t, _ in r] for r in rows}
    assert by["naive"][4:] == ["0", "0.0%", "0.21", "not distinguishable from buy-and-hold"]
    assert by["drift"][-2:] == ["< 0.001", "trailed buy-and-hold"]
    assert by["lstm"][-2:] == ["0.03", "beat buy-and-hold"]
    assert by["buy-and-hold"][-2:] == [DASH, "reference"]
    marked = [a for t, a in page.tags if t == "tr" and a.get("class") == "no-different"]
    assert len(marked) == 1
    assert "not distinguishable from buy-and-hold, however good" in " ".join(page.text)


def test_an_old_trading_table_without_pvalues_still_shows(tmp_path):
    inputs = make_inputs(horizon=1)
    inputs["trading"] = inputs["trading"].drop(columns=["hold_pvalue", "vs_hold"])
    page = parse(build_report(tmp_path, BacktestResult(**inputs)))
    assert [t for t, _ in page.tables["trading"][0]][-1] == "time in market"
    assert "however good" not in " ".join(page.text)


def test_verdicts_and_the_last_value_test(built):
    _, page, inputs = built
    text = " ".join(page.text)
    for v in inputs["verdicts"]:
        assert v in text
    assert "No detectable information beyond the last value: naive, drift." in text
    assert "Null hypothesis: the forecast's change says nothing about the actual change" in text
    head, *rows = page.tables["last-value"]
    assert [t for t, _ in head][:4] == ["model", "slope", "p-value",
                                        "knows more than the last value?"]  # fmt: skip
    by = {r[0][0]: [t for t, _ in r] for r in rows}
    assert by["lstm"][1:4] == ["0.90", "< 0.001", "yes"]
    assert by["drift"][1:4] == ["0.10", "0.7", "no: behaves like the last value"]
    assert by["naive"][3] == "no: never moves (or by a constant)"
    significance = next(t for t in page.tables.values() if t[0][0][0] == "model"
                        and any(c[0] == "directions vs chance" for c in t[0]))  # fmt: skip
    chance = {r[0][0]: r[-1][0] for r in significance[1:]}
    assert chance["lstm"] == "tested step by step"  # horizon 2: no pooled direction test
    assert chance["naive"] == DASH


def test_each_step_has_its_row(built):
    _, page, inputs = built
    head, *rows = page.tables["steps"]
    assert [t for t, _ in head][:5] == ["model", "step", "n", "MAE ÷ naive", "MAE"]
    steps = inputs["steps"]
    assert [(r[0][0], r[1][0]) for r in rows] == list(
        zip(steps["model"], steps["step"].astype(str), strict=True))  # fmt: skip
    lstm2 = next(r for r in rows if r[0][0] == "lstm" and r[1][0] == "2")
    table = inputs["table"]
    two = table[table["step"] == 2]
    mae = (two.y - two.yhat).abs().groupby(two.model).mean()
    assert lstm2[3][0] == f"{mae['lstm'] / mae['naive']:.4f}"
    one = make_inputs(horizon=1)
    one["steps"] = score(one["table"], per_step=True)
    assert "Each step" not in built_text(one)  # one step: no per-step table, no pointer to it


def built_text(inputs: dict) -> str:
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        return build_report(Path(d), BacktestResult(**inputs)).read_text(encoding="utf-8")


def _body(path: Path) -> str:
    return re.sub(r"<span class=\"built\">.*?</span>", "", path.read_text(encoding="utf-8"))


def test_inputs_round_trip_gives_the_same_report(tmp_path):
    inputs = make_inputs(coin='bit,coin "nan"', horizon=1, bars=20)
    first = build_report(tmp_path / "a", BacktestResult(**inputs))
    write_report_inputs(tmp_path / "b", BacktestResult(**inputs))
    again = build_report(tmp_path / "b", load_report_inputs(tmp_path / "b"))
    assert _body(first) == _body(again)


def test_a_saved_folder_reads_back_as_a_backtest_result(tmp_path):
    write_report_inputs(tmp_path, BacktestResult(**make_inputs()))
    loaded = load_report_inputs(tmp_path)
    assert isinstance(loaded, BacktestResult) and loaded.disclaimer == DISCLAIMER
    assert loaded.verdicts == make_inputs()["verdicts"] and len(loaded.history) == 30
    steps = make_inputs()["steps"]
    assert list(loaded.steps["step"]) == list(steps["step"])  # steps.csv: the per-step scores
    assert loaded.steps["mae"].to_numpy() == pytest.approx(steps["mae"].to_numpy())
    assert BacktestResult(**{**make_inputs(), "disclaimer": ""}).disclaimer == ""
    assert (
        "not investment advice"
        in BacktestResult(loaded.table, loaded.scores, [], loaded.trading, {}).disclaimer
    )


def test_missing_input_file_is_named(tmp_path):
    write_report_inputs(tmp_path, BacktestResult(**make_inputs()))
    (tmp_path / "scores.csv").unlink()
    with pytest.raises(CoincastError, match=r"no scores\.csv .*coincast backtest"):
        load_report_inputs(tmp_path)
    with pytest.raises(CoincastError, match=r"no table\.csv"):
        load_report_inputs(tmp_path / "empty")
    assert set(INPUTS) >= {"table.csv", "scores.csv", "trading.csv", "report.json"}


def test_report_without_optional_inputs(tmp_path):
    inputs = make_inputs(horizon=1)
    inputs.update(history=None, forecast=None, recent=None)
    page = parse(build_report(tmp_path, BacktestResult(**inputs), out=tmp_path / "sub" / "r.html"))
    assert len([t for t, _ in page.tags if t == "img"]) == 3  # actual, errors, coverage


def test_plots_survive_nan_and_a_single_model(tmp_path):
    table = make_inputs(horizon=1)["table"]
    one = table[table["model"] == "drift"].copy()
    one.loc[one.index[:5], ["yhat", "lo", "hi"]] = np.nan
    for fn in (plot_actual_vs_predicted, plot_errors):
        assert fn(one, tmp_path / f"{fn.__name__}.png").read_bytes().startswith(PNG)
        assert fn(one.iloc[:0], tmp_path / "empty.png").read_bytes().startswith(PNG)
    with pytest.raises(CoincastError, match=r"step \(3\)"):
        plot_errors(one, tmp_path / "x.png", step=3)
    hist = [{"epoch": 1, "train_loss": 0.5, "val_loss": None}, {"epoch": 2, "train_loss": 0.4}]
    assert plot_loss_curves(hist, tmp_path / "l.png").read_bytes().startswith(PNG)
    assert plot_loss_curves([], tmp_path / "l0.png").read_bytes().startswith(PNG)
    inputs = make_inputs()
    fc = inputs["forecast"][["yhat"]]
    recent = inputs["recent"]
    recent.attrs = {"coin": "$weird$", "interval": "1d", "quote": "usd"}
    assert plot_forecast_fan(recent, fc, tmp_path / "f.png").read_bytes().startswith(PNG)


def _marked_best(page: Page) -> set[tuple[str, str]]:
    rows = {r[0][0]: {c[1].get("data-col"): c for c in r} for r in page.tables["metrics"][1:]}
    return {(m, col) for m, cells in rows.items() for col, (_, a) in cells.items()
            if "best" in (a.get("class") or "").split()}  # fmt: skip


def test_a_direction_below_half_is_not_best_of_anything(tmp_path):
    inputs = make_inputs(horizon=1)
    inputs["scores"]["directional_accuracy"] = [None, 0.467, 0.43]  # the review's 46.7 %
    assert not {c for _, c in _marked_best(parse(build_report(tmp_path, BacktestResult(**inputs))))
                if c == "directional_accuracy"}  # fmt: skip


@pytest.mark.parametrize(
    "rule, values, marked",
    [
        ("above_half", [0.467, 0.43], set()),
        ("above_half", [0.55, 0.467], {0}),
        ("below_one", [1.2, 1.1], set()),  # MASE or MAE ÷ naive: worse than naive, both
        ("below_one", [0.9, 1.1], {0}),
        ("nominal", [0.5, 0.6], set()),  # closest to 90 %, yet far from it
        ("nominal", [0.87, 0.99], {0}),
        ("nominal", [0.93, 0.87], {0, 1}),  # equally close: both
        ("below_naive", [2.5, 2.6], set()),  # the naive forecast's own MAE is no merit
        ("below_naive", [2.5, 1.3], {1}),
    ],
)
def test_best_marks_only_a_value_good_in_itself(rule, values, marked):
    n = [120.0] * len(values)
    assert _best(values, rule, 0.9, naive=2.5, n=n) == marked


def test_without_a_naive_value_no_error_is_marked():
    assert _best([1.9, 2.2], "below_naive", 0.9) == set()  # no reference: nothing to beat


def test_results_come_before_settings(built):
    path, _, _ = built
    text = path.read_text(encoding="utf-8")
    at = [text.index(f'<section id="{sid}"') for sid in SECTIONS if sid != "steps"]
    assert at == sorted(at)  # summary, metrics, pictures... settings, reproduce
    summary = text[at[0] : at[1]]
    assert "beats naive" not in summary and "lstm: MAE ÷ naive 0.52" in summary
    assert "LSTM trained on" not in summary and "lookback" not in summary


def test_reproduce_shows_the_command(built):
    path, _, inputs = built
    text = path.read_text(encoding="utf-8")
    reproduce = text[text.index('<section id="reproduce"') :]
    command = backtest_command(inputs["meta"])
    assert html.escape(command) in reproduce
    assert command.startswith("coincast backtest ")
