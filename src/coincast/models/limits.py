"""Upper bounds of the LSTM's settings: each far above any useful value, so that a typo
(``--hidden 1000000000000``) is refused before it asks for a terabyte, and a run folder's
config is checked against the same numbers before a tensor is allocated."""

from __future__ import annotations

from ..dataset import panel

MAX_LOOKBACK = 100_000  #: input steps per window
MAX_HORIZON = 10_000  #: steps forecast at once
MAX_HIDDEN = 4096  #: hidden units per layer
MAX_LAYERS = 16  #: stacked LSTM layers
MAX_EPOCHS = 1_000_000  #: epochs, patience and log_every
MAX_BATCH = 1_000_000  #: windows per mini-batch
MAX_LR = 10.0  #: Adam's learning rate: above 1 each step moves every weight by about lr
MAX_QUANTILES = 99  #: levels of the quantile head
MAX_EMBED = 1024  #: numbers per coin in the coin embedding
MAX_EXOG = 100  #: exog coins
MAX_THREADS = panel.MAX_THREADS  #: CPU threads: a fixed bound, as runs move between machines
MAX_SEED = 2**64 - 1  #: torch.manual_seed takes 0 .. 2**64 - 1
