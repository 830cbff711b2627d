"""The pictures a person reads: every one renders to a real PNG, and each fault found by
looking at them stays fixed: the figure title clear of the panels, a unit on every price axis,
the model drawn over its references, and a one-step forecast shown in its history."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from conftest import png_size
from matplotlib.collections import LineCollection, PolyCollection
from matplotlib.text import Text
from test_report import make_inputs

from coincast.data.sources import synthetic_candles
from coincast.reporting import backtest_plots as bp
from coincast.reporting.compare_plots import plot_by_coin
from coincast.reporting.plots import history_bars, plot_forecast, plot_prices


def _forecast(history: pd.DataFrame, steps: int = 1) -> pd.DataFrame:
    last = float(history["close"].iloc[-1])
    index = pd.date_range(history.index[-1] + pd.Timedelta(days=1), periods=steps, freq="D")
    yhat = last * (1 + 0.01 * np.arange(1, steps + 1))
    return pd.DataFrame({"yhat": yhat, "lo": yhat * 0.95, "hi": yhat * 1.05}, index=index)


def _six_models() -> pd.DataFrame:
    """The backtest table with six models, as a default ``coincast backtest`` draws them."""
    table = make_inputs(horizon=1)["table"]
    extra = []
    for name in ("seasonal", "ma", "arima"):
        rows = table[table["model"] == "drift"].copy()
        rows["model"] = name
        extra.append(rows)
    return pd.concat([table, *extra], ignore_index=True)


def _frames(n: int) -> list[pd.DataFrame]:
    return [synthetic_candles(80, coin=f"coin{k}", seed=k) for k in range(n)]


inputs = make_inputs(horizon=2)
table = inputs["table"]
recent = inputs["recent"].copy()
recent.attrs = {"coin": "bitcoin", "interval": "1d", "quote": "usd"}
scores = pd.DataFrame({"coin": ["a", "b"], "mase:lstm": [0.9, 1.1], "mase:naive": [1.0, 1.0]})
PICTURES = {
    "plot_prices": lambda p: plot_prices(_frames(2), p, title="closes"),
    "plot_forecast": lambda p: plot_forecast(synthetic_candles(200), _forecast(recent, 3), p),
    "plot_actual_vs_predicted": lambda p: bp.plot_actual_vs_predicted(table, p, 2),
    "plot_errors": lambda p: bp.plot_errors(table, p, 1, quote="usd"),
    "plot_loss_curves": lambda p: bp.plot_loss_curves(inputs["history"], p),
    "plot_forecast_fan": lambda p: bp.plot_forecast_fan(recent, inputs["forecast"], p),
    "plot_by_coin": lambda p: plot_by_coin(scores, ["lstm", "naive"], p, "MASE per coin"),
}


@pytest.mark.parametrize("name", PICTURES)
def test_every_picture_is_a_png_of_a_readable_size(name, tmp_path):
    path = PICTURES[name](tmp_path / f"{name}.png")
    width, height = png_size(path)
    assert 600 <= width <= 2000 and 200 <= height <= 3000, (width, height)
    assert path.stat().st_size > 10_000  # something is drawn, not a blank canvas


def _suptitle(fig: plt.Figure) -> Text:
    return next(t for t in fig.findobj(Text) if t.get_text() == fig.get_suptitle())


@pytest.mark.parametrize(
    "draw",
    [
        lambda p: bp.plot_actual_vs_predicted(_six_models(), p),
        lambda p: bp.plot_actual_vs_predicted(table[table["model"] == "lstm"], p),
        lambda p: plot_prices(_frames(3), p, title="three coins"),
    ],
    ids=["six models", "one model", "prices"],
)
def test_the_figure_title_is_clear_of_every_panel(draw, kept, tmp_path):
    draw(tmp_path / "p.png")
    fig = kept[-1]
    renderer = fig.canvas.get_renderer()
    title = _suptitle(fig).get_window_extent(renderer)
    for ax in fig.axes:  # the panel with its own title and tick labels
        assert not title.overlaps(ax.get_tightbbox(renderer)), ax.get_title()


def test_price_axes_name_the_quote_currency(kept, tmp_path):
    bp.plot_actual_vs_predicted(table, tmp_path / "a.png", quote="usd")
    bp.plot_errors(table.assign(quote="eur"), tmp_path / "e.png")
    actual, errors = kept
    assert [ax.get_ylabel() for ax in actual.axes[::2]] == ["close (USD)"] * 3
    assert errors.axes[0].get_ylabel() == "|actual - forecast| (EUR)"


def test_the_backtest_pictures_get_the_unit_from_the_report(kept, tmp_path):
    attrs = {"coin": "bitcoin", "interval": "1d", "quote": "usdt"}
    bp.draw_figures(tmp_path, table, forecast=inputs["forecast"], recent=recent, attrs=attrs)
    labels = {ax.get_ylabel() for fig in kept for ax in fig.axes} - {""}  # close-ups: none
    assert labels == {"close (USDT)", "|actual - forecast| (USDT)"}


def _lines(fig: plt.Figure) -> dict[str, plt.Line2D]:
    return {line.get_label(): line for line in fig.axes[0].get_lines()}


def test_the_model_is_drawn_over_its_references(kept, tmp_path):
    bp.plot_errors(table, tmp_path / "e.png")
    lines = _lines(kept[-1])
    lstm, naive, drift = lines["lstm"], lines["naive"], lines["drift"]
    for reference in (naive, drift):
        assert lstm.get_zorder() > reference.get_zorder()
        assert lstm.get_linewidth() > reference.get_linewidth()
        assert reference.get_linestyle() != "-" and lstm.get_linestyle() == "-"


def test_without_an_lstm_the_baselines_are_drawn_over_naive(kept, tmp_path):
    bp.plot_errors(table[table["model"] != "lstm"], tmp_path / "e.png")
    lines = _lines(kept[-1])
    assert lines["drift"].get_zorder() > lines["naive"].get_zorder()
    assert lines["drift"].get_linestyle() == "-"


def _history_line(fig: plt.Figure) -> plt.Line2D:
    return next(ln for ln in fig.axes[0].get_lines() if ln.get_label().startswith("actual"))


@pytest.mark.parametrize("lookback, shown", [(None, 60), (10, 60), (30, 90), (50, 150)])
def test_a_one_step_forecast_stands_in_its_history(lookback, shown, kept, tmp_path):
    history = synthetic_candles(400)
    plot_forecast(history, _forecast(history), tmp_path / "f.png", lookback=lookback)
    ax = kept[-1].axes[0]
    assert len(_history_line(kept[-1]).get_xdata()) == shown == history_bars(lookback)
    band = [c for c in ax.collections if isinstance(c, PolyCollection)]
    caps = [c for c in ax.collections if isinstance(c, LineCollection)]
    assert band and caps  # the fan from the last close, and the step's band as an error bar
    (x0, y0), (x1, y1) = band[0].get_paths()[0].get_extents().get_points()
    assert x1 > x0 and y1 > y0  # a band with an area: it can be seen
    assert "1 bar after" in ax.get_title()


def test_the_backtest_forecast_picture_shows_three_lookbacks(kept, tmp_path):
    long = pd.DataFrame({"close": np.linspace(1, 2, 300)},
                        index=pd.date_range("2024-01-01", periods=300, tz="UTC"))  # fmt: skip
    bp.plot_forecast_fan(long, _forecast(long), tmp_path / "f.png", lookback=40)
    assert len(_history_line(kept[-1]).get_xdata()) == 120


def test_no_time_zone_in_any_date_label(kept, tmp_path):
    history = synthetic_candles(200, interval="1h")
    forecast = _forecast(history).set_axis([history.index[-1] + pd.Timedelta(hours=1)])
    plot_forecast(history, forecast, tmp_path / "f.png")
    fig = kept[-1]
    fig.canvas.draw()
    texts = [t.get_text() for t in fig.findobj(Text)]
    assert not [t for t in texts if "+00:00" in t or "00:00:00" in t]
    assert any(history.index[-1].strftime("%Y-%m-%d %H:%M") in t for t in texts)
