"""A small world for the dashboard: a store with two synthetic coins, a run folder of a tiny
trained LSTM, a backtest folder, and things outside the roots that no URL may reach.

A module of its own, not a conftest.py: one here would shadow tests/conftest.py, which
other tests import as ``conftest``; the web test modules take these fixtures by name.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
from web_world import SECRET, World

from coincast.data.sources import synthetic_candles
from coincast.data.store import Store
from coincast.evaluation.run import WalkForward, run_backtest
from coincast.models.forecaster import LSTMForecaster
from coincast.models.runs import save_run
from coincast.reporting.folder import save_backtest


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    root = tmp_path_factory.mktemp("dashboard")
    store, runs, backtests = root / "coincast.db", root / "runs", root / "backtests"
    with Store(store) as s:
        for coin in ("bitcoin", "ethereum"):
            s.write_candles(synthetic_candles(300, coin=coin))
        s.write_candles(synthetic_candles(24 * 20, "1h", coin="bitcoin"))
    model = LSTMForecaster(epochs=1, hidden=4, layers=1, log_every=0)
    with Store(store, readonly=True) as s:
        save_run(model.fit(s.read_candles("bitcoin", "1d")), runs / "btc-1d")
    result = run_backtest(synthetic_candles(150), WalkForward(test=5), models=["drift"])
    save_backtest(result, backtests / "bt1")
    # outside every root: a secret, and folders the symlinks below point to
    outside = root / "outside"
    outside.mkdir()
    secret = outside / "secret.png"
    secret.write_text(SECRET)
    (outside / "report.html").write_text(SECRET)
    (outside / "run.json").write_text((runs / "btc-1d" / "run.json").read_text())
    (backtests / "escape").symlink_to(outside, target_is_directory=True)
    (runs / "escape").symlink_to(outside, target_is_directory=True)
    (backtests / "bt1" / "leak.png").symlink_to(secret)
    return World(root, store, runs, backtests, secret)


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
