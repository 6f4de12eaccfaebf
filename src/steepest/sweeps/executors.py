"""Where runs execute: this process, a local process pool (rebuilt when a worker dies), Dask."""

from __future__ import annotations

import os
import tempfile
from concurrent.futures import Executor, Future, ProcessPoolExecutor

__all__ = ["SerialExecutor", "default_workers", "dask_executor"]


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
        def shutdown(self, wait=True, **kwargs):
            try:
                super().shutdown(wait=wait)
            finally:
                client.close()
                if cluster is not None:
                    cluster.close()

    executor = DaskExecutor(client, pure=False)
    executor.client = client
    return executor


def _process_pool(workers: int) -> ProcessPoolExecutor:
    """A local pool whose workers die quietly on SIGTERM (the default action), whatever
    handler the parent process installed before forking them."""
    return ProcessPoolExecutor(workers, initializer=_default_sigterm)


def _default_sigterm() -> None:
    import signal

    signal.signal(signal.SIGTERM, signal.SIG_DFL)


class _Pool:
    """The executor a sweep runs on; a broken process pool is replaced by a new one."""

    def __init__(self, executor, workers):
        self.given = executor
        self.workers = workers or default_workers()
        self.executor = executor if executor is not None else _process_pool(self.workers)
        self.markers = tempfile.mkdtemp(prefix="steepest-sweep-") \
            if isinstance(self.executor, ProcessPoolExecutor) else None

    def marker(self, index: int) -> str | None:
        """The file a process-pool worker creates when it starts run ``index``."""
        return os.path.join(self.markers, str(index)) if self.markers else None

    def started(self, index: int) -> bool:
        return self.markers is not None and os.path.exists(self.marker(index))

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
            self.executor.shutdown(wait=not cancel, cancel_futures=cancel)
        if self.markers:
            for name in os.listdir(self.markers):
                os.unlink(os.path.join(self.markers, name))
            os.rmdir(self.markers)
