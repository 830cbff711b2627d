"""The whole honest evaluation in one call: backtest the LSTM and the baselines on one coin,
score them, test the differences and simulate a trading rule.

Library first: :func:`run_backtest` returns everything;
:func:`coincast.reporting.folder.save_backtest` writes it as a folder.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from ..errors import CoincastError
from ..models.baselines import BASELINES, make_baseline
from ..models.forecaster import LSTMConfig
from ..models.runs import package_versions
from ..models.training import EpochRecord
from . import metrics, trading
from .backtest import LSTMModel, PanelLSTMModel, plan, walk_forward
from .compare import comparison_verdicts, pairwise

log = logging.getLogger(__name__)

DEFAULT_MODELS = ("lstm", "naive", "drift", "seasonal", "ma", "arima")
#: What the LSTM is trained on: the backtested coin only, or every listed coin (a global
#: model); ``+exog`` adds the --exog coins' returns as inputs.
TRAINING = ("single", "global", "single+exog", "global+exog")


@dataclass
class BacktestResult:
    """Everything a backtest produced."""

    table: pd.DataFrame
    scores: pd.DataFrame
    verdicts: list[str]
    trading: pd.DataFrame
    meta: dict
    history: list[dict] = field(default_factory=list)
    forecast: pd.DataFrame | None = None
    recent: pd.DataFrame | None = None
    comparison: pd.DataFrame | None = None  #: LSTM variants against each other


def check_models(names: list[str] | tuple[str, ...]) -> list[str]:
    """Known model names, the naive forecast always included (every score is relative to it)."""
    known = ("lstm", *BASELINES)
    bad = [n for n in names if n not in known]
    if bad:
        raise CoincastError(f"unknown model(s) {', '.join(bad)}; known: {', '.join(known)}")
    names = list(dict.fromkeys(names))
    return names if "naive" in names else [*names, "naive"]


def run_backtest(
    frame: pd.DataFrame,
    *,
    models: list[str] | tuple[str, ...] = DEFAULT_MODELS,
    horizon: int = 1,
    test: int | None = None,
    start: pd.Timestamp | str | None = None,
    end: pd.Timestamp | str | None = None,
    refit_every: int = 30,
    window: str = "expanding",
    window_size: int | None = None,
    lstm: LSTMConfig | None = None,
    refit_epochs: int = 5,
    warm_start: bool = True,
    fee: float = 0.001,
    slippage: float = 0.0005,
    progress: Callable[[str, int, int], None] | None = None,
    on_epoch: Callable[[EpochRecord], None] | None = None,
    training: Sequence[str] | None = None,
    others: Mapping[str, pd.DataFrame] | None = None,
    exog: Mapping[str, pd.DataFrame] | None = None,
    shared: dict | None = None,
) -> BacktestResult:
    """Walk-forward backtest of ``models`` on ``frame`` with scores against the naive forecast.

    ``lstm`` configures the LSTM (its ``horizon`` is set to ``horizon``); the baselines need
    no settings. MASE is scaled by the naive forecast's in-sample error on the rows before
    the test period.

    ``training`` lists the ways to train the LSTM (see :data:`TRAINING`; default: global
    when ``others`` holds several coins, with ``+exog`` when ``lstm.exog`` is set). More than
    one puts the variants side by side, named ``lstm-single``, ``lstm-global``…, and tests
    each pair (:func:`coincast.evaluation.compare.pairwise`). ``others`` maps every coin of
    the global model to its candles; ``exog`` gives exog coins that are not in ``others``;
    ``shared`` lets backtests of several coins share the global model's fits (see
    :class:`~coincast.evaluation.backtest.PanelLSTMModel`).
    """
    names = check_models(models)
    cfg = (lstm or LSTMConfig()).model_copy(update={"horizon": horizon})
    lstm_models: list[LSTMModel] = []
    built = []
    for name in names:
        if name == "lstm":
            lstm_models = _lstm_variants(
                frame, cfg, training, others, exog, shared,
                refit_epochs=refit_epochs, warm_start=warm_start, on_epoch=on_epoch,
            )  # fmt: skip
            built.extend(lstm_models)
        else:
            built.append(make_baseline(name))
    lstm_model = lstm_models[0] if lstm_models else None
    min_train = cfg.lookback + cfg.horizon + 30 if lstm_model else 30
    p = plan(frame, test=test, start=start, end=end, min_train=min_train)
    table = walk_forward(
        built, frame, horizon, test=test, start=start, end=end, refit_every=refit_every,
        window=window, window_size=window_size, min_train=min_train, progress=progress,
    )  # fmt: skip
    train_close = frame["close"].to_numpy(dtype="float64")[: p.first_target]
    scores = metrics.score(table, scale=metrics.in_sample_naive_scale(train_close))
    sim = trading.simulate(
        table, fee=fee, slippage=slippage,
        periods_per_year=trading.periods_per_year(frame.attrs["interval"]),
    )  # fmt: skip
    meta = _meta(
        frame, table, p, horizon, refit_every, window, names, cfg, refit_epochs, warm_start
    )
    result = BacktestResult(table, scores, metrics.verdicts(scores), sim, meta)
    if others:  # what a global LSTM learned from, beside the backtested coin
        meta["coins"] = list(dict.fromkeys([frame.attrs["coin"], *others]))
    if len(lstm_models) > 1:
        result.comparison = pairwise(table, [m.name for m in lstm_models])
        result.verdicts += comparison_verdicts(result.comparison)
        meta["training"] = [m.name for m in lstm_models]
    if lstm_model is not None:
        result.history = [
            {"epoch": r.epoch, "train_loss": r.train_loss, "val_loss": r.val_loss}
            for r in lstm_model.first_history
        ]
        # The future: the last refit's model, forecasting from all the data.
        lstm_model.update(frame)
        result.forecast = lstm_model.predict(horizon)
        result.recent = frame
    return result


def _lstm_variants(
    frame: pd.DataFrame,
    cfg: LSTMConfig,
    training: Sequence[str] | None,
    others: Mapping[str, pd.DataFrame] | None,
    exog: Mapping[str, pd.DataFrame] | None,
    shared: dict | None,
    **kwargs,
) -> list[LSTMModel]:
    """One backtest model per way of training the LSTM."""
    coin = frame.attrs["coin"]
    coins = {coin: frame, **(others or {})} if coin not in (others or {}) else dict(others)
    if training is None:
        training = ["global" if len(coins) > 1 else "single"]
        training[0] += "+exog" if cfg.exog else ""
    bad = [t for t in training if t not in TRAINING]
    if bad or not training:
        raise CoincastError(
            f"unknown training variant(s) {', '.join(bad) or '(none)'}; use a comma-separated "
            f"list of {', '.join(TRAINING)}"
        )
    training = list(dict.fromkeys(training))
    if any(t.endswith("+exog") for t in training) and not cfg.exog:
        raise CoincastError("a +exog variant needs the coins to read: --exog bitcoin")
    if any(t.startswith("global") for t in training) and len(coins) < 2:
        raise CoincastError("a global variant needs other coins to train on: list them too")
    exog_frames = {}
    for e in cfg.exog:
        f = coins.get(e) if e in coins else (exog or {}).get(e)
        if f is None:
            raise CoincastError(f"--exog {e}: no candles of {e} were given; fetch {e}")
        exog_frames[e] = f
    plain = cfg.model_copy(update={"exog": []})
    out: list[LSTMModel] = []
    for t in training:
        name = "lstm" if len(training) == 1 else f"lstm-{t}"
        with_exog = t.endswith("+exog")
        c = cfg if with_exog else plain
        if t == "single":
            model: LSTMModel = LSTMModel(c, **kwargs)
        else:
            pool = coins if t.startswith("global") else {coin: frame}
            model = PanelLSTMModel(
                c, pool, exog=exog_frames if with_exog else None, name=name,
                shared=shared if t.startswith("global") else None, **kwargs,
            )  # fmt: skip
        model.name = name
        out.append(model)
    return out


def _meta(
    frame, table, p, horizon, refit_every, window, names, cfg, refit_epochs, warm_start
) -> dict:
    a = frame.attrs
    return {
        "coin": a["coin"],
        "interval": a["interval"],
        "horizon": horizon,
        "models": names,
        "test_start": frame.index[p.first_target].isoformat(),
        "test_end": frame.index[p.last_target].isoformat(),
        "cutoffs": len(p.cutoffs),
        "refit_every": refit_every,
        "window": window,
        "data": {
            "source": a["source"],
            "quote": a["quote"],
            "start": frame.index[0].isoformat(),
            "end": frame.index[-1].isoformat(),
            "rows": len(frame),
        },
        "config": {**cfg.model_dump(), "refit_epochs": refit_epochs, "warm_start": warm_start}
        if "lstm" in names
        else {},
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "packages": package_versions(),
    }


def scores_json(result: BacktestResult) -> dict:
    """The ``--json`` answer of ``coincast backtest``."""
    keep = (
        "model", "mae", "rmse", "mape", "smape", "mase", "rel_mae", "directional_accuracy",
        "directional_pvalue", "dm_stat", "dm_pvalue", "lagged_copy", "coverage",
    )  # fmt: skip
    rows = []
    for rec in result.scores.to_dict("records"):
        rows.append({k: _plain(rec.get(k)) for k in keep})
    m = result.meta
    return {
        "coin": m["coin"],
        "interval": m["interval"],
        "horizon": m["horizon"],
        "test_start": m["test_start"],
        "test_end": m["test_end"],
        "metrics": rows,
    }


def _plain(x: object) -> object:
    if x is None:
        return None
    if isinstance(x, np.bool_ | bool):
        return bool(x)
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, float | np.floating):
        return None if not np.isfinite(x) else float(x)
    return x
