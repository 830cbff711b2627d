"""What a backtest produced, in one object: the report's input, saved and read back whole
(:func:`coincast.reporting.inputs.write_report_inputs`, ``load_report_inputs``)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from .trading import DISCLAIMER


@dataclass
class BacktestResult:
    """Everything a backtest produced, and everything its report shows.

    Examples
    --------
    >>> from coincast.data.sources import synthetic_candles
    >>> from coincast.evaluation.run import WalkForward, run_backtest
    >>> r = run_backtest(synthetic_candles(120), WalkForward(test=5), models=["drift"])
    >>> r.meta["cutoffs"], r.table["model"].unique().tolist()
    (5, ['drift', 'naive'])
    """

    table: pd.DataFrame  #: the walk-forward table, one row per model, cutoff and step
    scores: pd.DataFrame  #: the metrics per model (:func:`coincast.evaluation.scores.score`)
    verdicts: list[str]  #: the scores in words
    trading: pd.DataFrame  #: the trading simulation per model
    meta: dict  #: coin, interval, test period, settings, data range, package versions
    history: list[dict] = field(default_factory=list)  #: the LSTM's first fit, per epoch
    forecast: pd.DataFrame | None = None  #: the LSTM's forecast after the last bar
    recent: pd.DataFrame | None = None  #: the candles that forecast starts from
    comparison: pd.DataFrame | None = None  #: LSTM variants against each other
    steps: pd.DataFrame | None = None  #: the metrics per model and step of the horizon
    regimes: pd.DataFrame | None = None  #: MAE ÷ naive and coverage per model and regime
    var_tests: pd.DataFrame | None = None  #: VaR and ES tests of the bands that state a dist
    disclaimer: str = DISCLAIMER  #: shown beside the trading figures

    def forecasts(self) -> pd.DataFrame:
        """Every historical forecast as one tidy frame, one row per model, cutoff and step.

        Returns
        -------
        DataFrame
            Columns ``coin, model, cutoff, ts, step, y, yhat, lo, hi`` (``cutoff``: the last
            bar the forecast saw; ``ts``: the bar it forecasts, ``step`` bars later; ``y``:
            that bar's close), sorted by model, cutoff and step, on a fresh index. Ready to
            pivot: ``f.pivot_table(index="ts", columns=["model", "step"], values="yhat")``.

        Examples
        --------
        >>> from coincast.data.sources import synthetic_candles
        >>> from coincast.evaluation.run import WalkForward, run_backtest
        >>> r = run_backtest(synthetic_candles(120), WalkForward(test=5), models=["drift"])
        >>> r.forecasts().columns.tolist()
        ['coin', 'model', 'cutoff', 'ts', 'step', 'y', 'yhat', 'lo', 'hi']
        """
        out = self.table.loc[:, list(FORECAST_COLUMNS)]
        return out.sort_values(["model", "cutoff", "step"], kind="stable").reset_index(drop=True)

    def to_long(self, *, bands: bool = False) -> pd.DataFrame:
        """The forecasts as StatsForecast's ``cross_validation`` lays them out: one row per
        coin, cutoff and forecast bar, one column of point forecasts per model.

        Parameters
        ----------
        bands
            Also give each model with a band its ``<model>-lo`` and ``<model>-hi`` columns.

        Returns
        -------
        DataFrame
            Columns ``unique_id`` (the coin), ``ds`` (the forecast bar, UTC), ``cutoff``,
            ``y``, then the models in the backtest's order, sorted by ``unique_id``,
            ``cutoff`` and ``ds``. StatsForecast's ``ds`` is usually tz-naive: join with
            ``df["ds"].dt.tz_localize(None)`` (and the same for ``cutoff``) if yours is.

        Examples
        --------
        >>> from coincast.data.sources import synthetic_candles
        >>> from coincast.evaluation.run import WalkForward, run_backtest
        >>> r = run_backtest(synthetic_candles(120), WalkForward(test=5), models=["drift"])
        >>> r.to_long().columns.tolist()
        ['unique_id', 'ds', 'cutoff', 'y', 'drift', 'naive']
        """
        t = self.table
        models = list(dict.fromkeys(t["model"]))
        keys = ["coin", "ts", "cutoff"]
        values = ["yhat", "lo", "hi"] if bands else ["yhat"]
        wide = t.pivot(index=keys, columns="model", values=values)
        out = t.groupby(keys, sort=False)["y"].first().to_frame()
        for m in models:
            out[m] = wide[("yhat", m)]
            if bands and t.loc[t["model"] == m, "lo"].notna().any():
                out[f"{m}-lo"], out[f"{m}-hi"] = wide[("lo", m)], wide[("hi", m)]
        out = out.reset_index().rename(columns={"coin": "unique_id", "ts": "ds"})
        out = out[["unique_id", "ds", "cutoff", "y", *out.columns[4:]]]
        out = out.sort_values(["unique_id", "cutoff", "ds"], kind="stable")
        return out.reset_index(drop=True).rename_axis(columns=None)


#: The columns of :meth:`BacktestResult.forecasts`.
FORECAST_COLUMNS = ("coin", "model", "cutoff", "ts", "step", "y", "yhat", "lo", "hi")
