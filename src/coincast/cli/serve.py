"""``coincast serve``: the read-only dashboard (:mod:`coincast.reporting.web`) on this
machine; binding anything but loopback needs ``--allow-remote``."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import typer

from ..errors import CoincastError
from .common import handles_errors, out, store_path, warn


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine only (``127.0.0.1``, ``::1``, ``localhost``)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@handles_errors
def serve_cmd(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind (loopback unless "
                             "--allow-remote)."),
    port: int = typer.Option(8765, "--port", min=1, max=65535, help="Port to listen on."),
    runs: Path = typer.Option(Path("runs"), "--runs", help="Folder of run folders."),
    backtests: Path = typer.Option(Path("backtests"), "--backtests",
                                   help="Folder of backtest folders."),
    allow_remote: bool = typer.Option(False, "--allow-remote",
                                      help="Allow binding an address other machines can reach."),
) -> None:  # fmt: skip
    """Serve a read-only dashboard of the store, the runs and the backtests in the browser.

    Its pages: the coins and their series, the runs (with their explanations), the
    backtests, the sweeps kept beside the store and the live track record of its ledger.

    Example: coincast serve --runs runs --backtests backtests, then open http://127.0.0.1:8765
    """
    local = is_loopback(host)
    if not local and not allow_remote:
        raise CoincastError(
            f"--host {host} is reachable from other machines; the dashboard has no login. "
            "Add --allow-remote to bind it anyway, or keep the default --host 127.0.0.1"
        )
    try:
        import uvicorn

        from ..reporting.web import create_app
    except ImportError as exc:
        raise CoincastError(
            f"coincast serve needs {exc.name}: pip install 'coincast[serve]'"
        ) from None
    if not local:
        warn(f"serving on {host}: anyone who can reach this address reads the store, runs "
             "and backtests (read-only, no login)", "WARNING:")  # fmt: skip
    app = create_app(store_path(), runs, backtests, allowed_hosts=None if local else ["*"])
    shown = f"[{host}]" if ":" in host else host
    out.print(f"coincast dashboard on http://{shown}:{port}/ (read-only; Ctrl-C stops it)")
    uvicorn.run(app, host=host, port=port, log_level="warning")
