"""Look inside a trained LSTM on one input window, in one call: :func:`explain` computes the
numbers (:mod:`coincast.explain.numbers`), draws the pictures (:mod:`coincast.explain.plots`)
and writes one page that explains them (:mod:`coincast.explain.page`).

Examples
--------
>>> import tempfile
>>> from coincast.models import LSTMForecaster
>>> from coincast.data.sources import predictable_candles
>>> frame = predictable_candles(200)
>>> model = LSTMForecaster(epochs=1, hidden=4, layers=1, lookback=10, threads=1, log_every=0)
>>> inputs = model.fit(frame).window_inputs(frame)
>>> result = explain(model, inputs, tempfile.mkdtemp())
>>> result.html.name, sorted(result.pictures)
('explain.html', ['gradients', 'layer1', 'saliency'])
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np

from ..models.cell import Trace
from ..models.forecaster import LSTMForecaster, WindowInputs
from . import plots as ep
from .numbers import gradient_through_time, saliency, trace_window
from .page import render_page

T = TypeVar("T")


@dataclass
class ExplainResult:
    """What :func:`explain` wrote and computed."""

    html: Path  #: the one-page explanation
    pictures: dict[str, Path]  #: ``layer1``, ``layer2``, ..., ``saliency``, ``gradients``
    trace: Trace  #: gates and states of every layer over the window
    saliency: np.ndarray  #: (lookback,) see :func:`saliency`
    gradients: dict[str, np.ndarray]  #: see :func:`gradient_through_time`


def explain(
    model: LSTMForecaster,
    inputs: WindowInputs,
    out_dir: str | Path,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> ExplainResult:
    """Draw every picture into ``out_dir`` (created) and write ``explain.html`` there: one
    self-contained page (pictures inlined) explaining them in plain language. ``seed`` draws
    the fresh networks of :func:`gradient_through_time`; ``progress(done, total)`` is called
    after each step (the three computations, each picture, the page).

    Examples
    --------
    >>> import tempfile
    >>> from coincast.data.sources import predictable_candles
    >>> from coincast.models import LSTMForecaster
    >>> frame = predictable_candles(120)
    >>> m = LSTMForecaster(epochs=1, hidden=8, layers=1, lookback=10, log_every=0).fit(frame)
    >>> explain(m, m.window_inputs(frame), tempfile.mkdtemp()).html.name
    'explain.html'
    """
    out_dir = Path(out_dir)
    trace = trace_window(model, inputs)
    step = _counter(3 + trace.layers + 3, progress)  # computations, layers, two more, page
    step(trace)
    sal = step(saliency(model, inputs))
    grads = step(gradient_through_time(model, inputs, seed))
    pictures = {
        f"layer{k + 1}": step(ep.plot_layer(trace, k, inputs.index, out_dir / f"layer{k + 1}.png"))
        for k in range(trace.layers)
    }
    pictures["saliency"] = step(ep.plot_saliency(sal, inputs.index, out_dir / "saliency.png"))
    pictures["gradients"] = step(ep.plot_gradients(grads, out_dir / "gradients.png"))
    html = out_dir / "explain.html"
    html.write_text(render_page(model, inputs, trace, sal, grads, pictures, seed), encoding="utf-8")
    step(None)
    return ExplainResult(html, pictures, trace, sal, grads)


def _counter(total: int, progress: Callable[[int, int], None] | None) -> Callable[[T], T]:
    """A pass-through that calls ``progress(done, total)`` each time it is called."""
    done = 0

    def step(value: T) -> T:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, total)
        return value

    return step
