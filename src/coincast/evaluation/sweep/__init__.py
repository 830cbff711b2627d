"""Hyper-parameter sweeps scored honestly: trials on the validation period only, the test
period touched once, and the search itself tested (SPA, reality check, MCS).

>>> from coincast.evaluation.sweep import parse_space
>>> sorted(parse_space({"params": {"hidden": [4, 8]}}).params)
['hidden']
"""

from .leaderboard import leaderboard, lines, load_leaderboard
from .periods import Periods, parse_period
from .space import Space, SpaceError, load_space, parse_space
from .study import Place, SweepError, SweepPlan, run_sweep

__all__ = [
    "Periods", "Place", "Space", "SpaceError", "SweepError", "SweepPlan", "leaderboard",
    "lines", "load_leaderboard", "load_space", "parse_period", "parse_space", "run_sweep",
]  # fmt: skip
