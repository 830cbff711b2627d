"""Inside the LSTM: gates and memory, saliency, and the gradient through time, as numbers
(:mod:`.numbers`), pictures (:mod:`.plots`) and one page (:mod:`.page`); :func:`explain` does
all three (:mod:`.run`)."""

from .numbers import gradient_through_time, saliency, trace_window
from .run import ExplainResult, explain

__all__ = ["ExplainResult", "explain", "gradient_through_time", "saliency", "trace_window"]
