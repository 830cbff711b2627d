"""The Dask engine (the ``dask`` extra): jobs as tasks on :mod:`distributed`.

:class:`DaskEngine` starts a ``LocalCluster`` of worker processes on this machine, or joins
the scheduler at ``address`` (``tcp://host:8786``), and speaks the
:class:`~coincast.evaluation.engines.Engine` interface: data scattered once to every worker,
jobs submitted with the handle in its place, results as they finish. A job whose worker
dies is run once more on another worker; a second death, or the loss of the data it needs,
raises :class:`~coincast.evaluation.engines.TaskLost`.

Workers are processes started with ``spawn``: a script that makes an engine must do so under
``if __name__ == "__main__":``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import CancelledError
from typing import Any, Self

import dask
from distributed import Client, Future, LocalCluster, WorkerPlugin, as_completed
from distributed.comm.addressing import get_address_host_port
from distributed.scheduler import KilledWorker
from distributed.utils import key_split, silence_logging_cmgr

from ..errors import CoincastError
from .engines import TaskLost

#: Seconds to reach a scheduler (and for its first worker) before giving up.
CONNECT_TIMEOUT = 5.0

#: A job is run again on another worker when its worker dies, this many times (the scheduler's
#: ``allowed_failures`` of a cluster the engine starts; a scheduler at ``address`` keeps its own
#: setting, 3 by default).
WORKER_DEATHS_ALLOWED = 1

#: One thread for the numeric libraries of each worker: with one job per worker and one worker
#: per core, more would oversubscribe the cores. Set before the worker imports torch.
_ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}

#: distributed's own log lines (start-up, scratch directories, lost workers) are not the user's
#: concern: what matters reaches them as a result, a TaskLost or a CoincastError.
_QUIET = logging.CRITICAL


class OneTorchThread(WorkerPlugin):
    """Torch on one thread in each worker, even where torch was imported before the
    environment of :data:`_ONE_THREAD` applied (by the main module a spawned worker re-runs)."""

    name = "coincast-one-torch-thread"

    def setup(self, worker: Any) -> None:
        torch = sys.modules.get("torch")
        if torch is not None:
            torch.set_num_threads(1)


class DaskEngine:
    """Jobs on Dask: a ``LocalCluster`` of ``workers`` processes here (default: one per
    core), or the scheduler at ``address`` (``workers`` jobs at once: what it reports, after
    waiting for ``workers`` of them to join when given).

    Examples
    --------
    >>> DaskEngine(address="tcp://127.0.0.1:1", timeout=0.5)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    coincast.errors.CoincastError: could not reach the Dask scheduler at 'tcp://127.0.0.1:1' ...
    """

    def __init__(
        self,
        address: str | None = None,
        workers: int | None = None,
        *,
        timeout: float = CONNECT_TIMEOUT,
    ) -> None:
        if workers is not None and (isinstance(workers, bool) or not 1 <= int(workers) <= 1024):
            raise CoincastError(f"workers is {workers!r}; it must be a whole number from 1 to 1024")
        self.address = address
        self._cluster: LocalCluster | None = None
        self._client: Client | None = None
        self._scratch: str | None = None
        self._settings = contextlib.ExitStack()
        self._settings.enter_context(silence_logging_cmgr(_QUIET))
        try:
            if address is None:
                self._start_cluster(int(workers or os.cpu_count() or 1))
            else:
                self._connect(address, None if workers is None else int(workers), timeout)
        except BaseException:
            self.close()
            raise
        assert self._client is not None
        self.workers = sum(self._client.nthreads().values())  # jobs at once: worker threads

    def _start_cluster(self, n: int) -> None:
        # A LocalCluster closes a worker's nanny for good when no worker of its name is back
        # lost-worker-timeout (15 s) after a death: a worker killed twice in a row could be
        # gone from then on. Here the nanny restarts its worker; let it, however long.
        self._settings.enter_context(
            dask.config.set({"distributed.deploy.lost-worker-timeout": "3650 days"})
        )
        self._scratch = tempfile.mkdtemp(prefix="coincast-dask-")
        self._cluster = LocalCluster(
            n_workers=n,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            silence_logs=_QUIET,
            local_directory=self._scratch,
            env=_ONE_THREAD,
            # no dashboard; the scheduler's health routes on a free loopback port, not 8787
            scheduler_kwargs={
                "allowed_failures": WORKER_DEATHS_ALLOWED,
                "dashboard_address": "127.0.0.1:0",
            },
        )
        self._client = Client(self._cluster, set_as_default=False)
        self._client.register_plugin(OneTorchThread())

    def _connect(self, address: str, workers: int | None, timeout: float) -> None:
        try:
            if not isinstance(address, str):
                raise ValueError("not a string")
            get_address_host_port(address)
        except ValueError as exc:
            raise CoincastError(
                f"address is {address!r} ({exc}); it must be a Dask scheduler's, "
                "like tcp://10.0.0.5:8786"
            ) from None
        try:
            self._client = Client(address, timeout=timeout, set_as_default=False)
        except Exception as exc:
            why = " ".join(str(exc).split()) or type(exc).__name__
            raise CoincastError(
                f"could not reach the Dask scheduler at {address!r} within {timeout:g} s ({why}); "
                "check the address and that the scheduler is running"
            ) from None
        want = workers or 1
        try:
            self._client.wait_for_workers(want, timeout=timeout)
        except TimeoutError:
            have = len(self._client.nthreads())
            raise CoincastError(
                f"the Dask scheduler at {address!r} has {have} worker(s); waited {timeout:g} s "
                f"for {want}: start workers (dask worker {address}) or ask for fewer"
            ) from None

    def scatter(self, data: Any) -> Future:
        """``data`` to every worker once; jobs given the handle get ``data`` (Dask resolves
        the future in their arguments).

        One handle under a fresh key for whatever ``data`` is: Dask would scatter a dict's
        values one by one under its own keys, so two dicts with the same keys (a coin's
        validation and test frames) would share a key, and releasing one would lose the other.
        """
        [handle] = self._client.scatter([data], broadcast=True, hash=False)
        return handle

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        """Start ``fn(*args)``: a distinct task each call (``pure=False``). A job that raises
        is not run again (its error would recur); one whose worker died is, once."""
        return self._client.submit(fn, *args, pure=False)

    def as_completed(self, futures: Iterable[Future]) -> Iterator[Future]:
        return as_completed(list(futures), loop=self._client.loop)

    def result(self, future: Future) -> Any:
        """The job's value, or its own exception; :class:`TaskLost` when its workers died."""
        try:
            return future.result()
        except KilledWorker as exc:
            raise TaskLost(
                f"job {key_split(future.key)} ({future.key}) was lost: "
                f"{exc.allowed_failures + 1} workers died while running it, "
                f"the last {exc.last_worker.address}"
            ) from None
        except CancelledError as exc:
            raise TaskLost(
                f"job {key_split(future.key)} ({future.key}) was lost: Dask cancelled it "
                f"(a worker holding it or its data died, or the engine closed): {exc}"
            ) from None

    def close(self) -> None:
        """Close the client; stop the cluster and remove its scratch folder if started here."""
        client, cluster, scratch = self._client, self._cluster, self._scratch
        self._client = self._cluster = self._scratch = None
        try:
            if client is not None:
                client.close()
            if cluster is not None:
                cluster.close()
        finally:
            if scratch is not None:
                shutil.rmtree(scratch, ignore_errors=True)
            self._settings.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
