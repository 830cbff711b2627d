"""The explain pictures a person reads: each renders to a real PNG, the heatmaps use their
colours (a robust range; signed values centred at 0) and every bar time reads ``2024-01-05``
(daily) or ``2024-01-05 13:00`` (intraday), never with ``00:00:00+00:00``."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import png_size
from matplotlib.image import AxesImage

from coincast.data.sources import predictable_candles
from coincast.explain import explain
from coincast.explain import plots as ep
from coincast.models import LSTMForecaster
from coincast.models.cell import ScratchLSTM

DAILY = r"\d{4}-\d{2}-\d{2}"
HOURLY = r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}"


def _trace(units: int = 8, steps: int = 12):
    torch.manual_seed(0)
    _, trace = ScratchLSTM(1, units, num_layers=2)(torch.randn(1, steps, 1))
    return trace.detach()


def _index(steps: int = 12, freq: str = "D") -> pd.DatetimeIndex:
    return pd.date_range("2024-01-05 13:00" if freq == "h" else "2024-01-05", periods=steps,
                         freq=freq, tz="UTC")  # fmt: skip


PICTURES = {
    "plot_layer": lambda p: ep.plot_layer(_trace(), 1, _index(), p),
    "plot_saliency": lambda p: ep.plot_saliency(np.linspace(0, 1, 12), _index(), p),
    "plot_gradients": lambda p: ep.plot_gradients(
        {"steps_back": np.arange(12), "lstm": 0.8 ** np.arange(12), "rnn": 0.5 ** np.arange(12)},
        p,
    ),
}


@pytest.mark.parametrize("name", PICTURES)
def test_every_explain_picture_is_a_png_of_a_readable_size(name, tmp_path):
    path = PICTURES[name](tmp_path / f"{name}.png")
    width, height = png_size(path)
    assert 600 <= width <= 2000 and 200 <= height <= 3000, (width, height)
    assert path.stat().st_size > 10_000


def _images(fig) -> dict[str, AxesImage]:
    return {ax.get_title(): ax.get_images()[0] for ax in fig.axes if ax.get_images()}


def test_heatmaps_spend_their_colours_on_the_values(kept, tmp_path):
    trace = _trace()
    ep.plot_layer(trace, 0, _index(), tmp_path / "l.png")
    images = _images(kept[-1])
    assert len(images) == 6
    for (title, signed), image in zip(ep.PANELS.values(), images.values(), strict=True):
        values = np.asarray(image.get_array())
        lo, hi = image.get_clim()
        inside = np.mean((values >= lo) & (values <= hi))
        assert 0.9 <= inside < 1.0, title  # a robust range: the extremes alone are clipped
        if signed:
            assert lo == pytest.approx(-hi) and image.get_cmap().name == "RdBu_r", title
        else:  # no colour wasted on gate values that never occur (a fixed 0..1 range would)
            assert values.min() <= lo < hi <= values.max(), title


@pytest.mark.parametrize("freq, pattern", [("D", DAILY), ("h", HOURLY)])
def test_bar_times_on_the_axes(freq, pattern, kept, tmp_path):
    ep.plot_saliency(np.linspace(0, 1, 12), _index(freq=freq), tmp_path / "s.png")
    labels = [t.get_text() for t in kept[-1].axes[0].get_xticklabels()]
    assert labels and all(re.fullmatch(pattern, t) for t in labels), labels


def test_the_page_of_an_hourly_model_names_its_bars_without_a_time_zone(tmp_path):
    frame = predictable_candles(150, "1h")
    model = LSTMForecaster(hidden=4, layers=1, lookback=12, epochs=1, threads=1, log_every=0)
    inputs = model.fit(frame).window_inputs(frame)
    page = explain(model, inputs, tmp_path).html.read_text()
    last = inputs.index[-1].strftime("%Y-%m-%d %H:%M")
    assert f"window ending {last}</title>" in page
    assert "+00:00" not in page and not re.search(r"\d{2}:\d{2}:\d{2}", page)
