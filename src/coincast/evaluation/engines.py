"""Where many independent jobs run (a sweep's trials, many coins' backtests): one small
interface, :class:`Engine`, with a local process pool here and Dask in
:mod:`coincast.evaluation.dask_engine` (the ``dask`` extra), so another engine can be added
without touching the code that uses one.

A job is a top-level function and its arguments. Large inputs (candle frames) go through
:meth:`Engine.scatter` once and the job gets the handle in their place: on Dask the data
then travels to the workers through the engine, so workers on other machines need no shared
disk. A job that raises gives its exception from :meth:`Engine.result`; a job whose worker
died (and that the engine could not finish elsewhere) raises :class:`TaskLost`.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Protocol, Self

from ..errors import CoincastError

ENGINES = ("local", "dask")


class TaskLost(CoincastError):
    """A job's worker died before it finished, and it was not finished elsewhere."""


class Engine(Protocol):
    """What code that runs many jobs needs of an engine."""

    workers: int  #: how many jobs run at once

    def scatter(self, data: Any) -> Any:
        """Send ``data`` to the workers once; jobs get the returned handle in its place."""
        ...

    def submit(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Start ``fn(*args)``; a future."""
        ...

    def as_completed(self, futures: Iterable[Any]) -> Iterator[Any]:
        """The ``futures`` as they finish."""
        ...

    def result(self, future: Any) -> Any:
        """A finished job's value; its exception, or :class:`TaskLost`."""
        ...

    def close(self) -> None:
        """Stop the workers this engine started."""
        ...

    def __enter__(self) -> Self: ...

    def __exit__(self, *exc: object) -> None: ...


class LocalEngine:
    """Jobs in ``workers`` processes of this machine (default: its cores).

    The workers are forked from a fork server that imports nothing, not from the driver: a
    driver that has run PyTorch on several threads would hand forked workers an OpenMP
    thread pool that hangs at their first step on more than one thread. Each worker imports
    what its jobs need (and the driver's main module, as a spawned one would) once, with the
    driver's ``sys.path``; a script that makes an engine must do so under
    ``if __name__ == "__main__":``.

    Examples
    --------
    >>> with LocalEngine(workers=1) as e:
    ...     e.result(e.submit(pow, 2, 10))
    1024
    """

    def __init__(self, workers: int | None = None) -> None:
        if workers is not None and (isinstance(workers, bool) or not 1 <= int(workers) <= 1024):
            raise CoincastError(f"workers is {workers!r}; it must be a whole number from 1 to 1024")
        self.workers = int(workers or os.cpu_count() or 1)
        context = multiprocessing.get_context("forkserver")
        # Preloading would import with the server's own sys.path (Python 3.11 ignores the
        # driver's there); without it, each worker imports with the driver's.
        context.set_forkserver_preload([])
        self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=context)

    def scatter(self, data: Any) -> Any:
        """Local processes get ``data`` with each job (pickled): the handle is the data."""
        return data

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        return self._pool.submit(fn, *args)

    def as_completed(self, futures: Iterable[Future]) -> Iterator[Future]:
        return as_completed(list(futures))

    def result(self, future: Future) -> Any:
        try:
            return future.result()
        except BrokenProcessPool as exc:
            raise TaskLost(f"a worker process died while running a job: {exc}") from None

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class InlineEngine:
    """Jobs run one at a time in this process, when submitted: what a library call without
    an engine uses (no worker processes, so a script needs no ``__main__`` guard).

    Examples
    --------
    >>> with InlineEngine() as e:
    ...     e.result(e.submit(pow, 2, 10))
    1024
    """

    workers = 1

    def scatter(self, data: Any) -> Any:
        """The handle is the data."""
        return data

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        """Run ``fn(*args)`` now; its value (or exception) in a finished future."""
        future: Future = Future()
        try:
            future.set_result(fn(*args))
        except Exception as exc:  # the job's own error, raised again by result()
            future.set_exception(exc)
        return future

    def as_completed(self, futures: Iterable[Future]) -> Iterator[Future]:
        return iter(list(futures))

    def result(self, future: Future) -> Any:
        return future.result()

    def close(self) -> None:
        """Nothing to stop."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def make_engine(name: str = "local", *, address: str | None = None, workers: int | None = None):
    """The engine ``name`` (:data:`ENGINES`): ``local`` processes, or ``dask`` (a
    LocalCluster of ``workers`` started here, or the scheduler at ``address``).

    Examples
    --------
    >>> make_engine("ray")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    coincast.errors.CoincastError: unknown engine 'ray'; use local or dask
    """
    if name == "local":
        if address is not None:
            raise CoincastError("address= is for the dask engine; drop it or use engine='dask'")
        return LocalEngine(workers)
    if name == "dask":
        try:
            from .dask_engine import DaskEngine
        except ImportError as exc:
            raise CoincastError(
                f"the dask engine needs Dask ({exc.name} is not installed): "
                "pip install 'coincast[dask]'"
            ) from None
        return DaskEngine(address=address, workers=workers)
    raise CoincastError(f"unknown engine {name!r}; use {' or '.join(ENGINES)}")
