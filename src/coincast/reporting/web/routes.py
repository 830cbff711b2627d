"""The dashboard's pages. Every name in a URL is checked (:mod:`.safety`) before it is used;
the store is opened read-only for each request; nothing is ever written."""

from __future__ import annotations

import logging
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse

from ...data.store import Store
from ...errors import CoincastError
from . import catalog, charts, safety
from .app import Roots

router = APIRouter()
_PREDICTING = threading.Lock()
log = logging.getLogger(__name__)
#: the page ``coincast explain`` writes into RUN/explain/
EXPLAIN_PAGE = "explain.html"
#: CSP for the files of a backtest, sweep or explanation folder (self-contained pages: no
#: scripts at all)
FILE_CSP = "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; sandbox"


def roots(request: Request) -> Roots:
    """The roots the app reads from."""
    return request.app.state.roots


def page(request: Request, template: str, **context: Any) -> HTMLResponse:
    """``template`` rendered with ``context``."""
    return request.app.state.templates.TemplateResponse(request, template, context)


@contextmanager
def open_store(request: Request):  # type: ignore[no-untyped-def]
    """The store, opened read-only for this request."""
    store = Store(roots(request).store, readonly=True)
    try:
        yield store
    finally:
        store.close()


@router.get("/", response_class=HTMLResponse, name="coins")
def coins_page(request: Request) -> HTMLResponse:
    """The coins in the store, each with its series."""
    with open_store(request) as store:
        found = catalog.coins(store)
    return page(request, "coins.html", coins=found, store=roots(request).store, nav="coins")


@router.get("/series/{coin}/{interval}", response_class=HTMLResponse, name="series")
def series_page(
    request: Request, coin: str, interval: str, source: str | None = None,
    quote: str | None = None,
) -> HTMLResponse:  # fmt: skip
    """One stored series: its span and a zoomable chart of the close."""
    coin, interval = safety.coin_id(coin), safety.interval(interval)
    source, quote = safety.source(source), safety.quote(quote)
    with open_store(request) as store:
        infos = [i for i in catalog.listing(store) if i.key.coin == coin]
        pick = [i for i in infos if i.key.interval == interval
                and source in (None, i.key.source) and quote in (None, i.key.quote)]  # fmt: skip
        if not pick:
            raise safety.NotFound(f"no {coin} {interval} series in the store")
        info = pick[0]
        frame = store.read_key(info.key)
    title = f"{info.key.coin}/{info.key.quote} {info.key.interval} ({info.key.source})"
    figure = charts.close_figure(frame, title)
    return page(request, "series.html", info=info, others=infos, figure=figure,
                title=title, nav="coins")  # fmt: skip


@router.get("/runs", response_class=HTMLResponse, name="runs")
def runs_page(request: Request) -> HTMLResponse:
    """The run folders, from their run.json (weights are not read)."""
    root = roots(request).runs
    return page(request, "runs.html", runs=catalog.runs(root), root=root, nav="runs")


@router.get("/runs/{name}", response_class=HTMLResponse, name="run")
def run_page(request: Request, name: str) -> HTMLResponse:
    """One run: its data, settings, validation figures and training curve."""
    run = _run(request, name)
    record = run.record
    assert record is not None
    figure = charts.training_figure([h.model_dump() for h in record.history], record.best_epoch)
    explained = EXPLAIN_PAGE in _explain_files(request, name)
    return page(request, "run.html", run=run, record=record, figure=figure, nav="runs",
                explained=explained, config=record.config.model_dump(mode="json"))  # fmt: skip


def _run(request: Request, name: str) -> catalog.RunSummary:
    try:
        return catalog.run(roots(request).runs, name)
    except CoincastError as exc:
        if isinstance(exc, safety.NotFound):
            raise
        raise safety.NotFound(f"no valid run {name!r}: {exc}") from None


@router.get("/runs/{name}/forecast", response_class=HTMLResponse, name="forecast")
def forecast_page(request: Request, name: str) -> HTMLResponse:
    """The run's forecast from the latest stored candles (loads the weights, checked)."""
    from ...models.run_data import forecast_latest

    run = _run(request, name)
    figure, table, error = None, [], None
    try:
        model = catalog.model(roots(request).runs, name)
        with open_store(request) as store, _PREDICTING:  # one forecast at a time per process
            forecast, frame = forecast_latest(store, model)
        figure = charts.forecast_figure(frame, forecast, bars=3 * model.config.lookback)
        table = [(ts, r.yhat, r.lo, r.hi) for ts, r in zip(forecast.index, forecast.itertuples(),
                                                           strict=True)]  # fmt: skip
    except CoincastError as exc:
        error = str(exc)
    return page(request, "forecast.html", run=run, figure=figure, table=table, error=error,
                nav="runs")  # fmt: skip


@router.get("/backtests", response_class=HTMLResponse, name="backtests")
def backtests_page(request: Request) -> HTMLResponse:
    """The backtest folders, each with its headline and a link to its report."""
    root = roots(request).backtests
    return page(request, "backtests.html", backtests=catalog.backtests(root), root=root,
                nav="backtests")  # fmt: skip


@router.get("/backtests/{name}", response_class=HTMLResponse, name="backtest")
def backtest_page(request: Request, name: str) -> HTMLResponse:
    """One backtest folder: what was tested, its scores, its files and its report."""
    bt = catalog.backtest(roots(request).backtests, name)
    return page(request, "backtest.html", bt=bt, nav="backtests")


@router.get("/backtests/{name}/{file}", name="backtest_file")
def backtest_file(request: Request, name: str, file: str) -> FileResponse:
    """A file of a backtest folder (report.html, its pictures, its tables)."""
    return serve_file(safety.child(roots(request).backtests, name), file)


@router.get("/runs/{name}/explain/{file}", name="explain_file")
def explain_file(request: Request, name: str, file: str) -> FileResponse:
    """A file of a run's explanation (``coincast explain RUN`` writes RUN/explain/)."""
    return serve_file(_explain_folder(request, name), file)


def _explain_folder(request: Request, name: str) -> Path:
    return safety.child(safety.child(roots(request).runs, name), "explain")


def _explain_files(request: Request, name: str) -> list[str]:
    try:
        folder = _explain_folder(request, name)
    except safety.NotFound:  # an explain/ that leads outside the run is none of it
        return []
    return catalog.served_files(folder) if folder.is_dir() else []


def serve_file(folder: Path, file: str) -> FileResponse:
    """The file ``file`` of ``folder`` (a folder already checked by :func:`safety.child`):
    a plain file directly inside it, of a served kind, never a symlink, sent with
    :data:`FILE_CSP` (no scripts).

    Raises
    ------
    NotFound
        For anything else.
    """
    path = safety.child(folder, file)
    if (
        not folder.is_dir()
        or path.suffix not in catalog.SERVED
        or file not in catalog.served_files(folder)
    ):
        raise safety.NotFound(f"{file!r} is not served")
    return FileResponse(path, media_type=catalog.SERVED[path.suffix],
                        headers={"Content-Security-Policy": FILE_CSP})  # fmt: skip
