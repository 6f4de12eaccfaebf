"""Where runs execute: this process, a local process pool (rebuilt when a worker dies), Dask."""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile
import uuid
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from contextlib import contextmanager

__all__ = ["SerialExecutor", "default_workers", "dask_executor", "ClusterLost"]


class ClusterLost(ConnectionError):
    """The connection to the cluster (the Dask scheduler) was lost: the runs in flight did
    not fail, they are unfinished; nothing is recorded for them, and rerunning the sweep
    once the cluster is back runs them."""


class SerialExecutor(Executor):
    """Runs each submitted call at once, in this process (for debugging and comparisons)."""

    def submit(self, fn, /, *args, **kwargs):
        future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as error:  # noqa: B036 - delivered through the future
            future.set_exception(error)
        return future


def default_workers() -> int:
    """The number of cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


def dask_executor(address: str = "local", *, workers: int | None = None):
    """A :class:`concurrent.futures.Executor` on a Dask cluster: ``Client(address).get_executor()``.

    ``address`` is a scheduler address such as ``'tcp://10.0.0.5:8786'`` (start one with
    ``dask scheduler`` and ``dask worker ADDRESS --nthreads 1`` on each machine), or
    ``'local'`` for a ``LocalCluster`` of ``workers`` single-threaded processes on this
    machine. Shutting the executor down (``with dask_executor(...) as ex:`` or
    ``ex.shutdown()``) closes the client and the local cluster. Needs ``dask[distributed]``
    (``pip install 'steepest[dask]'``). Tasks are submitted with ``pure=False``, so that a
    retried run is computed again rather than looked up.
    """
    try:
        from distributed import Client, LocalCluster
        from distributed.cfexecutor import ClientExecutor
    except ImportError as error:
        raise ImportError(f"a Dask executor needs dask.distributed ({error}); install it with "
                          f"pip install 'steepest[dask]'") from None
    if not isinstance(address, str) or not address.strip():
        raise ValueError(f"address must be 'local' or a scheduler address such as "
                         f"tcp://host:8786, got {address!r}")
    cluster = None
    if address == "local":
        cluster = LocalCluster(n_workers=workers or default_workers(), threads_per_worker=1,
                               processes=True, dashboard_address=None)
        client = Client(cluster)
    else:
        if "://" not in address and ":" not in address:
            raise ValueError(f"a scheduler address looks like tcp://host:8786, got {address!r}")
        client = Client(address, timeout="15s")

    class DaskExecutor(ClientExecutor):
        address = client.scheduler.address if client.scheduler else str(address)

        def start_event(self) -> "StartEvent":
            """A new event for one run to log on the scheduler each time it starts."""
            return StartEvent()

        def connection_lost(self) -> bool:
            """Whether the client has lost its scheduler (it is reconnecting, or gave up).
            Once it has, Dask's own logging (its reconnection attempts and their
            tracebacks) is silenced: the sweep reports the loss in one line."""
            lost = client.status not in ("running", "newly-created")
            if lost:
                _silence_dask_logging()
            return lost

        def recomputations(self, event: "StartEvent") -> int:
            """How many times Dask started the run of ``event`` again (after losing the
            worker that ran it): invisible to its future, counted from the start events
            the run logged on the scheduler."""
            if self.connection_lost():
                return 0
            try:
                return max(len(client.get_events(event.topic)) - 1, 0)
            except Exception:  # noqa: BLE001 - a count we cannot get is not worth a failure
                return 0

        def shutdown(self, wait=True, **kwargs):
            try:
                super().shutdown(wait=wait and not self.connection_lost())
            finally:
                client.close()
                if cluster is not None:
                    cluster.close()

    for name in ("tornado.application", "distributed.client"):
        logger = logging.getLogger(name)
        if _CONNECTION_NOISE not in logger.filters:
            logger.addFilter(_CONNECTION_NOISE)
    executor = DaskExecutor(client, pure=False)
    executor.client = client
    return executor


class _ConnectionNoise(logging.Filter):
    """Drops the tracebacks Dask's event loop logs when its connection to the scheduler
    closes (a future's transfer cut off, the reconnection cancelled): a sweep reports a lost
    scheduler itself, in one line (:class:`ClusterLost`)."""

    def filter(self, record) -> bool:
        from distributed.comm.core import CommClosedError

        error = record.exc_info[1] if record.exc_info else None
        return not isinstance(error, (CommClosedError, asyncio.CancelledError))


_CONNECTION_NOISE = _ConnectionNoise()


class StartEvent:
    """Logged on the Dask scheduler by a run each time it starts on a worker, under a topic
    of its own: how a sweep counts the runs Dask silently started again."""

    def __init__(self):
        self.topic = f"steepest-sweep-start-{uuid.uuid4().hex}"

    def record(self) -> None:
        from distributed import get_worker

        get_worker().log_event(self.topic, {"pid": os.getpid()})


def _silence_dask_logging() -> None:
    """Drop every later log record of Dask and Tornado in this process (the loggers Dask
    configures, and the children they pass their level to)."""
    import logging

    names = [name for name in logging.root.manager.loggerDict
             if name.split(".")[0] in ("distributed", "tornado")]
    for name in {"distributed", "tornado", *names}:
        logging.getLogger(name).setLevel(logging.CRITICAL + 1)


def _process_pool(workers: int) -> ProcessPoolExecutor:
    """A local pool whose workers die quietly on SIGTERM (the default action), whatever
    handler the parent process installed before forking them, and ignore SIGINT: Ctrl-C in
    a terminal reaches the whole process group, and the parent alone answers it (it stops
    the workers), so no worker prints a traceback of its own."""
    return ProcessPoolExecutor(workers, initializer=_worker_signals)


def _worker_signals() -> None:
    import signal

    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):  # blocked while forked (see _Pool.submit)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


@contextmanager
def _sigint_blocked():
    """Hold back SIGINT in this thread meanwhile (delivered afterwards): a worker forked
    meanwhile starts with it blocked, so it cannot be interrupted before it ignores it."""
    import signal
    import threading

    if not hasattr(signal, "pthread_sigmask") or \
            threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


class _Pool:
    """The executor a sweep runs on; a broken process pool is replaced by a new one."""

    def __init__(self, executor, workers):
        self.given = executor
        self.workers = workers or default_workers()
        self.executor = executor if executor is not None else _process_pool(self.workers)
        self.markers = tempfile.mkdtemp(prefix="steepest-sweep-") \
            if isinstance(self.executor, ProcessPoolExecutor) else None

    def marker(self, index: int):
        """How run ``index`` says it started: the file a process-pool worker creates, a
        :class:`StartEvent` on a Dask cluster, else None."""
        if self.markers:
            return os.path.join(self.markers, str(index))
        start_event = getattr(self.executor, "start_event", None)
        return start_event() if start_event is not None else None

    def started(self, index: int) -> bool:
        return self.markers is not None and os.path.exists(self.marker(index))

    def submit(self, fn, *args):
        """``executor.submit``; a process pool forks its workers here, with SIGINT held."""
        if self.markers is None:
            return self.executor.submit(fn, *args)
        with _sigint_blocked():
            return self.executor.submit(fn, *args)

    def connection_lost(self) -> bool:
        """Whether the executor lost its cluster (a Dask scheduler): see :class:`ClusterLost`."""
        lost = getattr(self.executor, "connection_lost", None)
        return bool(lost()) if lost is not None else False

    def recomputations(self, marker) -> int:
        """Times the executor silently started the run of ``marker`` again after losing a
        worker (Dask does; a process pool breaks instead)."""
        count = getattr(self.executor, "recomputations", None)
        return count(marker) if count is not None and isinstance(marker, StartEvent) else 0

    def rebuild(self) -> None:
        """Shut the broken pool down (its workers are gone after this) and start a new one."""
        if self.markers is None:
            raise RuntimeError("the executor broke and cannot be rebuilt; rerun the sweep "
                               "to resume it")
        workers = getattr(self.executor, "_max_workers", self.workers)
        self.executor.shutdown(wait=True)
        self.executor = _process_pool(workers)

    def close(self, cancel: bool = False) -> None:
        if self.executor is not self.given:
            if cancel:  # interrupted: stop the runs in progress too, leave no worker behind
                for process in list((getattr(self.executor, "_processes", None) or {}).values()):
                    process.terminate()
            # wait even when cancelling (the workers are stopped, so this is quick): a pool
            # thread still running at exit makes Python print "Exception ignored in:
            # <module 'threading'> ... Bad file descriptor"
            self.executor.shutdown(wait=True, cancel_futures=cancel)
        if self.markers:
            for name in os.listdir(self.markers):
                os.unlink(os.path.join(self.markers, name))
            os.rmdir(self.markers)
