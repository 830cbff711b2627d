"""The track record's pages: the summary of every live record (the figures of
``coincast track``) with the latest ledger rows, and one record with its chart of forecast
against actual. The store is opened read-only; nothing is written."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from . import catalog, charts, live, safety
from .routes import open_store, page, roots

router = APIRouter()


@router.get("/track", response_class=HTMLResponse, name="track")
def track_page(request: Request) -> HTMLResponse:
    """Every live record (coin, interval, run) with its scores, then the latest forecasts
    recorded in the store's ledger, when it has one."""
    with open_store(request) as store:
        records = live.summary(store)
    found = catalog.ledger(roots(request).store)
    return page(request, "track.html", records=records, ledger=found, limit=catalog.LEDGER_ROWS,
                linked=[_linked(r.run) for r in records], nav="track")  # fmt: skip


def _linked(run: str) -> bool:
    """Whether a record's run name can be a URL segment (else it is shown, not linked)."""
    try:
        safety.folder_name(run)
    except safety.NotFound:
        return False
    return True


@router.get("/track/{coin}/{interval}/{run}", response_class=HTMLResponse, name="record")
def record_page(request: Request, coin: str, interval: str, run: str) -> HTMLResponse:
    """One live record: its scores, its chart of forecast against actual (pending forecasts
    beyond the last actual) and its forecasts."""
    coin, interval = safety.coin_id(coin), safety.interval(interval)
    run = safety.folder_name(run)
    with open_store(request) as store:
        row, rows = live.record(store, coin, interval, run)
    title = f"{run}: {coin} {interval}, forecast against actual"
    figure = charts.track_figure(rows, title)
    table = rows.sort_values(["target_ts", "step"], ascending=[False, True])
    return page(request, "record.html", row=row, figure=figure, table=table.itertuples(),
                title=title, nav="track")  # fmt: skip
