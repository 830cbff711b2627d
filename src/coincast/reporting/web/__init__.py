"""``coincast serve``: a local, read-only dashboard over the store, the run folders and the
backtest folders (FastAPI + Jinja2 + plotly.js served from the installed plotly package).

Examples
--------
>>> from coincast.reporting.web import create_app
>>> app = create_app(":memory:", "runs", "backtests")
>>> sorted(r.path for r in app.routes if getattr(r, "name", "") == "coins")
['/']
"""

from .app import create_app

__all__ = ["create_app"]
