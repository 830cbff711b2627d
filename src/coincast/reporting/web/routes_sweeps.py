"""The sweeps' pages: every sweep beside the store with its verdict, one sweep's leaderboard
(the verdict first, then its trials and the baselines) and the files of its folder."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse

from . import safety, sweeps
from .routes import page, roots, serve_file

router = APIRouter()


@router.get("/sweeps", response_class=HTMLResponse, name="sweeps")
def sweeps_page(request: Request) -> HTMLResponse:
    """The sweeps kept beside the store: trials, best validation score and verdict."""
    store = roots(request).store
    return page(request, "sweeps.html", sweeps=sweeps.sweeps(store), root=sweeps.root(store),
                nav="sweeps")  # fmt: skip


@router.get("/sweeps/{name}", response_class=HTMLResponse, name="sweep")
def sweep_page(request: Request, name: str) -> HTMLResponse:
    """One sweep's leaderboard, from its leaderboard.json."""
    found = sweeps.sweep(roots(request).store, safety.folder_name(name))
    return page(request, "sweep.html", sweep=found, params=sweeps.params, nav="sweeps")


@router.get("/sweeps/{name}/{file}", name="sweep_file")
def sweep_file(request: Request, name: str, file: str) -> FileResponse:
    """A file of a sweep's folder (report.html and its pictures, leaderboard.json)."""
    top = sweeps.root(roots(request).store)
    if top is None:
        raise safety.NotFound("no sweeps beside an in-memory store")
    return serve_file(safety.child(top, name), file)
