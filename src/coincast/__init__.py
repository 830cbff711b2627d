"""coincast: forecast cryptocurrency prices with LSTM networks, and tell the truth about how
good the forecasts are.

The flow, one folder per stage: ``data`` (sources, store, fetch) -> ``dataset`` (features,
windows) -> ``models`` (the LSTM, its heads, the baselines, training, runs) -> ``evaluation``
(the walk-forward loop, metrics, comparisons) -> ``reporting`` and ``explain`` -> ``cli``.
The names most people need are here at the top::

    from coincast import Store, WalkForward, fetch, get_source, run_backtest, save_backtest
    with Store("coincast.db") as store:
        fetch(store, get_source("coingecko"), "bitcoin", interval="1d", days=90)
        btc = store.read_candles("btc", "1w")   # a known symbol; resampled from daily
    result = run_backtest(btc, WalkForward(test=8), models=["drift", "naive"])
    print(result.scores)                        # result.forecasts(), result.to_long()
    save_backtest(result, "backtests/btc")

Every name loads on first use, so ``import coincast`` pays for neither pandas nor PyTorch.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from ._version import __version__
from .errors import CoincastError
from .intervals import INTERVALS

#: name -> module, imported when the name is first used (so ``coincast --version`` and
#: ``import coincast`` pay for neither pandas nor PyTorch)
_LAZY = {
    "FetchResult": "coincast.data.fetch",
    "fetch": "coincast.data.fetch",
    "get_source": "coincast.data.sources",
    "predictable_candles": "coincast.data.sources",
    "random_walk": "coincast.data.sources",
    "read_file": "coincast.data.sources",
    "synthetic_candles": "coincast.data.sources",
    "SeriesKey": "coincast.data.store",
    "Store": "coincast.data.store",
    "find_gaps": "coincast.series",
    "resample": "coincast.series",
    "validate_candles": "coincast.series",
    "LSTMConfig": "coincast.models.config",
    "LSTMForecaster": "coincast.models.forecaster",
    "save_run": "coincast.models.runs",
    "load_run": "coincast.models.runs",
    "forecast_latest": "coincast.models.run_data",
    "format_epoch": "coincast.models.training",
    "make_baseline": "coincast.models.baselines",
    "WalkForward": "coincast.evaluation.backtest",
    "walk_forward": "coincast.evaluation.backtest",
    "LSTMTraining": "coincast.evaluation.adapters",
    "DEFAULT_MODELS": "coincast.evaluation.run",
    "run_backtest": "coincast.evaluation.run",
    "BacktestResult": "coincast.evaluation.run",
    "save_backtest": "coincast.reporting.folder",
    "run_risk_backtest": "coincast.evaluation.risk_run",
    "RiskResult": "coincast.evaluation.risk_run",
    "save_risk_backtest": "coincast.reporting.folder",
    "plot_prices": "coincast.reporting.plots",
    "plot_forecast": "coincast.reporting.plots",
    "explain": "coincast.explain",
    "update": "coincast.evaluation.live",
    "UpdateSpec": "coincast.evaluation.live",
    "track": "coincast.evaluation.live",
    "make_engine": "coincast.evaluation.engines",
    "SweepPlan": "coincast.evaluation.sweep",
    "run_sweep": "coincast.evaluation.sweep",
    "load_leaderboard": "coincast.evaluation.sweep",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'coincast' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = ["INTERVALS", "CoincastError", "__version__", *_LAZY]
