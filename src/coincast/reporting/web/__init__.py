"""``coincast serve``: a local, read-only dashboard over the store (its series and
ledger), the run folders, the backtest folders and the sweeps beside the store (FastAPI +
Jinja2 + plotly.js served from the installed plotly package).

Examples
--------
>>> from coincast.reporting.web import create_app
>>> app = create_app(":memory:", "runs", "backtests")
>>> app.url_path_for("coins"), app.url_path_for("sweep", name="btc")
('/', '/sweeps/btc')
"""

from .app import create_app

__all__ = ["create_app"]
