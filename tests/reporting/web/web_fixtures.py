"""A small world for the dashboard: a store with two synthetic coins and a live ledger, a
run folder of a tiny trained LSTM with its explanation, a backtest folder, a finished sweep
beside the store, and things outside the roots that no URL may reach.

A module of its own, not a conftest.py: one here would shadow tests/conftest.py, which
other tests import as ``conftest``; the web test modules take these fixtures by name.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from web_world import SECRET, SWEEP, SWEEP_TRIALS, World

from coincast.data.sources import synthetic_candles
from coincast.data.store import Store
from coincast.data.store.ledger import Forecast, Ledger
from coincast.evaluation.run import WalkForward, run_backtest
from coincast.models.forecaster import LSTMForecaster
from coincast.models.runs import save_run
from coincast.reporting.folder import save_backtest
from coincast.series import ms_from_index

DAY = 86_400_000


def live_record(store: Store, frame: pd.DataFrame, run: str, bars: int, horizon: int,
                band: bool) -> None:  # fmt: skip
    """The last ``bars`` bars of ``frame`` written one by one as a live ledger sees them:
    before each bar, ``horizon`` forecasts from the newest stored bar (through the real
    Ledger API, which refuses any other); after it, the matured ones scored. Ends with one
    more set of forecasts, still pending."""
    store.write_candles(frame.iloc[:-bars])
    ledger, ts = Ledger(store), ms_from_index(frame.index)
    for k in range(len(frame) - bars, len(frame) + 1):
        last, close = int(ts[k - 1]), float(frame["close"].iloc[k - 1])
        ledger.append([
            Forecast(run, "ab" * 32, "synthetic", frame.attrs["coin"], "usd", "1d", last, close,
                     last + step * DAY, step, close * (1 + 0.01 * step),
                     close * 0.97 if band else None, close * 1.05 if band else None,
                     f"2026-12-01T00:{k % 60:02d}:00+00:00")
            for step in range(1, horizon + 1)
        ])  # fmt: skip
        if k < len(frame):
            store.write_candles(frame.iloc[k : k + 1])
            ledger.score(f"2026-12-01T01:{k % 60:02d}:00+00:00")


def tiny_sweep(store: Path) -> None:
    """A real sweep of two trials on 130 synthetic bars, kept beside ``store`` (~5 s)."""
    from coincast.evaluation.engines import LocalEngine
    from coincast.evaluation.sweep import Periods, Place, SweepPlan, parse_space, run_sweep

    space = parse_space({"params": {"hidden": [2, 4]},
                         "fixed": {"epochs": 1, "lookback": 10, "threads": 1},
                         "walk": {"refit_every": 15, "refit_epochs": 1}})  # fmt: skip
    plan = SweepPlan(space, ("bitcoin",), trials=SWEEP_TRIALS, sampler="random",
                     periods=Periods(valid=30, test=20), top_k=1)  # fmt: skip
    frames = {"1d": {"bitcoin": synthetic_candles(130, coin="bitcoin", seed=1)}}
    place = Place.beside(store, SWEEP)
    with LocalEngine(workers=1) as engine:
        board = run_sweep(frames, plan, place, engine=engine)
    from coincast.reporting.sweep_report import write_sweep_report

    write_sweep_report(board, place.folder)  # its page, as `coincast sweep` writes it


def explain_run(model: LSTMForecaster, frame: pd.DataFrame, folder: Path) -> None:
    """``coincast explain``'s output for the run in ``folder``: RUN/explain/."""
    from coincast.explain import explain

    explain(model, model.window_inputs(frame), folder / "explain")


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    root = tmp_path_factory.mktemp("dashboard")
    store, runs, backtests = root / "coincast.db", root / "runs", root / "backtests"
    with Store(store) as s:
        live_record(s, synthetic_candles(300, coin="bitcoin"), "btc-1d", 10, 2, band=True)
        live_record(s, synthetic_candles(300, coin="ethereum"), "eth-live", 4, 1, band=False)
        s.write_candles(synthetic_candles(24 * 20, "1h", coin="bitcoin"))
    model = LSTMForecaster(epochs=1, hidden=4, layers=1, log_every=0)
    with Store(store, readonly=True) as s:
        frame = s.read_candles("bitcoin", "1d")
    save_run(model.fit(frame), runs / "btc-1d")
    explain_run(model, frame, runs / "btc-1d")
    result = run_backtest(synthetic_candles(150), WalkForward(test=5), models=["drift"])
    save_backtest(result, backtests / "bt1")
    tiny_sweep(store)
    sweeps = root / "sweeps"
    _outside(root, runs, backtests, sweeps)
    return World(root, store, runs, backtests, root / "outside" / "secret.png", sweeps)


def _outside(root: Path, runs: Path, backtests: Path, sweeps: Path) -> None:
    """Outside every root: a secret, and folders the symlinks inside the roots point to."""
    outside = root / "outside"
    outside.mkdir()
    secret = outside / "secret.png"
    secret.write_text(SECRET)
    for name in ("report.html", "explain.html", "leaderboard.json"):
        (outside / name).write_text(SECRET)
    (outside / "run.json").write_text((runs / "btc-1d" / "run.json").read_text())
    (backtests / "escape").symlink_to(outside, target_is_directory=True)
    (runs / "escape").symlink_to(outside, target_is_directory=True)
    (sweeps / "escape").symlink_to(outside, target_is_directory=True)
    (backtests / "bt1" / "leak.png").symlink_to(secret)
    (runs / "btc-1d" / "explain" / "leak.png").symlink_to(secret)
    (sweeps / SWEEP / "leak.png").symlink_to(secret)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def live_server(world: World) -> Iterator[str]:
    """The real dashboard, served by uvicorn in a thread on a free port: its base URL."""
    import uvicorn

    from coincast.reporting.web import create_app

    app = create_app(world.store, world.runs, world.backtests)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started, "the dashboard did not start within 10 s"
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(5)
