"""The dashboard's FastAPI app: :func:`create_app` wires the routes (:mod:`.routes`,
:mod:`.routes_live`, :mod:`.routes_sweeps`), the templates, the static files and the guards
(loopback Host names only, security headers, GET only)."""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context
from starlette.exceptions import HTTPException
from starlette.middleware.trustedhost import TrustedHostMiddleware

from .safety import NotFound

HERE = Path(__file__).parent
#: names a browser on this machine uses for a server bound to loopback (DNS rebinding guard)
LOOPBACK_HOSTS = ["127.0.0.1", "localhost", "::1", "[::1]"]
#: our pages: scripts and styles from this server only (plotly adds inline styles)
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-src 'self'; frame-ancestors 'self'; "
    "base-uri 'none'; form-action 'self'"
)


@dataclass(frozen=True)
class Roots:
    """Where the dashboard reads from: the store file and the two folder roots."""

    store: str
    runs: Path
    backtests: Path


def plotly_js() -> Path:
    """plotly.min.js as bundled with the installed plotly package (served, never a CDN)."""
    return Path(str(files("plotly") / "package_data" / "plotly.min.js"))


def create_app(
    store: str | Path,
    runs: str | Path = "runs",
    backtests: str | Path = "backtests",
    *,
    allowed_hosts: list[str] | None = None,
) -> FastAPI:
    """The dashboard app over ``store`` (opened read-only per request; its ledger is the
    track record, the sweeps beside it are read from their folders) and the run and backtest
    folders under ``runs`` and ``backtests``.

    ``allowed_hosts``: Host header names accepted (default: loopback names only, which keeps
    a web page elsewhere from reaching the dashboard through DNS rebinding); ``["*"]`` for
    any, as ``coincast serve --allow-remote`` does.
    """
    from ...evaluation.live.track import fmt_figure, fmt_share
    from ...evaluation.verdicts import fmt_ratio
    from . import routes, routes_live, routes_sweeps

    app = FastAPI(title="coincast", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.roots = Roots(str(store), Path(runs), Path(backtests))
    app.state.templates = Jinja2Templates(directory=str(HERE / "templates"))
    env = app.state.templates.env
    env.globals["url_path"] = _url_path
    env.filters.update(track_num=fmt_figure, track_pct=fmt_share,
                       ratio=lambda x: "-" if x is None else fmt_ratio(x))  # fmt: skip
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts or LOOPBACK_HOSTS)
    app.middleware("http")(_headers)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    js = plotly_js()

    @app.get("/vendor/plotly.min.js", include_in_schema=False)
    def plotly() -> FileResponse:
        return FileResponse(js, media_type="text/javascript",
                            headers={"Cache-Control": "public, max-age=86400"})  # fmt: skip

    for module in (routes, routes_live, routes_sweeps):
        app.include_router(module.router)
    app.add_exception_handler(NotFound, _not_found)
    app.add_exception_handler(FileNotFoundError, _not_found)
    app.add_exception_handler(HTTPException, _http_error)
    return app


@pass_context
def _url_path(context: dict, route: str, /, **params: str) -> str:
    """The path (not the full URL: nothing depends on the Host header) of ``route``."""
    return str(context["request"].app.url_path_for(route, **params))


async def _headers(request: Request, call_next):  # type: ignore[no-untyped-def]
    response = await call_next(request)
    response.headers.setdefault("Content-Security-Policy", PAGE_CSP)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cross-Origin-Resource-Policy"] = "same-origin"
    return response


def _page_404(request: Request, message: str) -> HTMLResponse:
    templates = request.app.state.templates
    return templates.TemplateResponse(
        request, "missing.html", {"message": message}, status_code=404
    )


async def _not_found(request: Request, exc: Exception) -> HTMLResponse:
    message = str(exc) if isinstance(exc, NotFound) else "no such item"
    return _page_404(request, message)


async def _http_error(request: Request, exc: HTTPException) -> HTMLResponse:
    if exc.status_code == 404:
        return _page_404(request, "no such page")
    return HTMLResponse(f"<p>{exc.status_code}</p>", status_code=exc.status_code,
                        headers=getattr(exc, "headers", None))  # fmt: skip
