"""``coincast demo``: the main job in one command, end to end.

Bitcoin and ethereum from CoinGecko (or, with a loud notice, the synthetic source when there is
no network), an LSTM trained on each and backtested walk-forward against the baselines, a
report per coin with a summary that says plainly whether the LSTM beat the naive forecast, and
a page that looks inside bitcoin's LSTM (its gates, memory and gradients).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from ..data.fetch import fetch
from ..data.sources import CoinGeckoSource, SyntheticSource
from ..data.store import Store
from ..errors import CoincastError
from ..evaluation.adapters import LSTMTraining
from ..evaluation.backtest import WalkForward
from ..evaluation.run import run_backtest
from ..evaluation.verdicts import fmt_p, fmt_ratio, verdict
from ..models.forecaster import LSTMConfig
from ..reporting.folder import save_backtest
from ..reporting.plots import plot_prices
from .common import err, handles_errors, out, progress_bar, span, state, warn
from .evaluate import per_model

if TYPE_CHECKING:
    from rich.progress import Progress

DEMO_COINS = ("bitcoin", "ethereum")


@handles_errors
def demo_cmd(
    out_dir: Path = typer.Option(Path("demo-out"), "--out", "-o", help="Folder for the results."),
    offline: bool = typer.Option(False, "--offline", help="Use the synthetic source; no network."),
    days: int = typer.Option(364, "--days", "-d", min=120, max=364, help="Days of history."),
    test: int = typer.Option(90, "--test", min=10, help="Days to backtest (walk-forward)."),
) -> None:
    """Fetch BTC and ETH, train an LSTM, backtest it against the baselines, write reports.

    Falls back to the synthetic source, with a notice, when CoinGecko cannot be reached.

    Example: coincast demo --out demo-out
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    source = _pick_source(offline)
    store_path = state.store_path or out_dir / "coincast.db"
    frames = []
    with Store(store_path) as store:
        if isinstance(source, CoinGeckoSource):
            source.store = store
        for coin in DEMO_COINS:
            r = fetch(store, source, coin, interval="1d", days=days)
            frames.append(store.read_key(r.key))
            out.print(
                f"{coin}: {r.total_rows} daily bars from {r.key.source}, {span(r.start, r.end)}"
            )
    plot_prices(frames, out_dir / "prices.png", title="coincast demo: daily closes")
    summary = Table("coin", "model", "MAE / naive", "DM p", "direction right", "verdict")
    reports = []
    for frame in frames:
        coin = frame.attrs["coin"]
        out.print(f"Backtesting {coin}: LSTM and baselines over the last {test} days ...")
        with progress_bar("cutoffs", err) as bar:
            result = run_backtest(
                frame, WalkForward(test=test, refit_every=30),
                lstm=LSTMTraining(LSTMConfig(epochs=40, log_every=0), refit_epochs=5),
                progress=per_model(bar, coin),
            )  # fmt: skip
        reports.append(save_backtest(result, out_dir / f"backtest-{coin}"))
        _add_rows(summary, coin, result.scores)
    out.print(summary)
    out.print(f"Reports: {', '.join(str(r) for r in reports)}")
    coin = frames[0].attrs["coin"]
    out.print(f"Explaining {coin}: an LSTM trained on all its bars, looked inside ...")
    with progress_bar("steps", err) as bar:
        inside = _explain(frames[0], out_dir / f"explain-{coin}", bar)
    out.print(f"Inside the LSTM (gates, memory, gradients): {inside}")
    out.print(f"Prices: {out_dir / 'prices.png'}; store: {store_path}")


def _explain(frame, folder: Path, bar: Progress, epochs: int = 40) -> Path:
    """Train the demo's LSTM on all of ``frame`` and draw what happens inside it, each
    epoch and each step on a line of ``bar``, as the backtest shows its cutoffs."""
    from ..explain import explain
    from ..models import LSTMForecaster

    coin = frame.attrs["coin"]
    fit = bar.add_task(f"{coin} training", total=epochs)
    model = LSTMForecaster(epochs=epochs, log_every=0)
    model.fit(frame, on_epoch=lambda r: bar.update(fit, completed=r.epoch))
    bar.update(fit, completed=epochs)  # an early stop ends the training too
    task = bar.add_task(f"{coin} explain", total=None)
    return explain(
        model, model.window_inputs(frame), folder,
        progress=lambda done, total: bar.update(task, completed=done, total=total),
    ).html  # fmt: skip


_DEMO_WORDS = {"better": "beats naive", "worse": "worse than naive",
               "no different": "not distinguishable from naive"}  # fmt: skip


def _add_rows(summary: Table, coin: str, scores) -> None:
    for r in scores.to_dict("records"):
        rel, p, da = r.get("rel_mae"), r.get("dm_pvalue"), r.get("directional_accuracy")
        if r["model"] == "naive":
            said = "the reference"
        else:  # the one rule of every verdict: the DM test's p-value and the sign of its stat
            said = _DEMO_WORDS.get(verdict(p, r.get("dm_stat")) or "", "-")
        summary.add_row(
            coin, r["model"], "-" if rel is None else fmt_ratio(rel),
            "-" if p is None else fmt_p(p), "-" if da is None else f"{da:.1%}", said,
        )  # fmt: skip


def _pick_source(offline: bool) -> CoinGeckoSource | SyntheticSource:
    if offline:
        warn("using the synthetic source (generated prices, not market data).", "Offline demo:")
        return SyntheticSource()
    try:
        source = CoinGeckoSource()
    except CoincastError:
        source = None
    if source is not None and source.ping():
        return source
    warn(
        "CoinGecko cannot be reached; the demo uses the SYNTHETIC source "
        "(generated prices, not market data).",
        "NOTICE:",
    )
    return SyntheticSource()
