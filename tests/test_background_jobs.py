"""The embedded server's background-job manager: threads, never a fork; nothing leaks; no job reported gone too early."""

from __future__ import annotations

import gc
import threading
import time
from types import SimpleNamespace

import diskcache
import psutil
import pytest

from app.jobs import HEAVY, QUICK
from app.server import CeleryJobManager, ThreadJobManager, make_celery


@pytest.fixture
def manager(tmp_path):
    cache = diskcache.Cache(str(tmp_path / "jobs"))
    yield ThreadJobManager(cache, workers={QUICK: 2, HEAVY: 2})
    cache.close()


def _doubling_job(manager: ThreadJobManager, release: threading.Event | None = None):
    def job_fn(key, _progress_key, args, _context):
        if release is not None:
            release.wait(10)
        manager.handle.set(key, args[0] * 2)

    return job_fn


def _result(manager: ThreadJobManager, key: str, job: int, timeout: float = 10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = manager.get_result(key, job)
        if value is not manager.UNDEFINED:
            return value
        time.sleep(0.01)
    raise AssertionError("no result")


def test_many_jobs_fork_nothing_and_leave_no_descriptor_or_thread_behind(manager):
    me = psutil.Process()
    _result(manager, "warm", manager.call_job_fn("warm", _doubling_job(manager), [0], {}))  # the pool's threads start
    gc.collect()  # files earlier tests left to the garbage collector must not close during the count
    children, descriptors, threads = me.children(recursive=True), me.num_fds(), threading.active_count()
    for index in range(300):
        job = manager.call_job_fn(f"key-{index}", _doubling_job(manager), [index], {})
        assert _result(manager, f"key-{index}", job) == 2 * index
        assert not manager.job_running(job)
    gc.collect()
    assert me.children(recursive=True) == children
    assert me.num_fds() == descriptors
    assert threading.active_count() == threads


def test_a_finished_job_counts_as_running_until_its_result_is_collected(manager):
    release = threading.Event()
    job = manager.call_job_fn("slow", _doubling_job(manager, release), [4], {})
    assert manager.job_running(job) and manager.get_result("slow", job) is manager.UNDEFINED
    release.set()
    deadline = time.monotonic() + 10
    while "slow" not in manager.handle and time.monotonic() < deadline:
        time.sleep(0.01)
    assert manager.job_running(job), "done but uncollected: a poll must not treat it as cancelled"
    assert manager.get_result("slow", job) == 8
    assert not manager.job_running(job)


def test_terminating_unknown_finished_or_missing_jobs_is_harmless(manager):
    job = manager.call_job_fn("once", _doubling_job(manager), [1], {})
    assert _result(manager, "once", job) == 2
    manager.terminate_job(job)
    manager.terminate_job(None)
    manager.terminate_job("987654")
    assert not manager.job_running("987654")
    assert not manager.terminate_unhealthy_job(None)


def test_a_superseded_job_that_has_not_started_never_runs(manager):
    release = threading.Event()
    busy = [manager.call_job_fn(f"busy-{i}", _doubling_job(manager, release), [i], {}) for i in range(2)]  # both threads taken
    queued = manager.call_job_fn("queued", _doubling_job(manager), [5], {})
    manager.terminate_job(queued)
    release.set()
    for index, job in enumerate(busy):
        assert _result(manager, f"busy-{index}", job) == 2 * index
    time.sleep(0.2)
    assert "queued" not in manager.handle and not manager.job_running(queued)


def test_a_quick_job_starts_while_every_heavy_thread_is_busy(manager):
    release = threading.Event()
    busy = [manager.call_job_fn(f"umap-{i}", _doubling_job(manager, release), [i], {}) for i in range(2)]  # no lane: heavy

    def decode(value):
        return value * 3

    decode.lane = QUICK  # as BackgroundJob.register marks its function before Dash hands it to the manager
    try:
        job = manager.call_job_fn("decode", manager.make_job_fn(decode, progress=None), [5], {})
        assert _result(manager, "decode", job, timeout=5) == 15
        assert all(manager.job_running(heavy) for heavy in busy), "the heavy lane is still busy"
    finally:
        release.set()


def test_celery_jobs_are_sent_to_their_lane_queue_and_a_plain_worker_takes_both(monkeypatch):
    celery = make_celery("redis://127.0.0.1:9/0")  # never contacted: the tasks' sending is replaced below
    manager = CeleryJobManager(celery)

    def decode(value):
        return value

    def umap(value):
        return value

    decode.lane = QUICK
    tasks = {"decode": manager.make_job_fn(decode, None, "decode-key"), "umap": manager.make_job_fn(umap, None, "umap-key")}
    sent: list[tuple[str, str]] = []
    for name, task in tasks.items():
        monkeypatch.setattr(task, "apply_async", lambda arguments, queue, name=name: sent.append((name, queue)) or SimpleNamespace(task_id=name))
    assert manager.call_job_fn("a", tasks["decode"], [1], {}) == "decode"
    assert manager.call_job_fn("b", tasks["umap"], [1], {}) == "umap"
    assert sent == [("decode", QUICK), ("umap", HEAVY)]
    assert sorted(queue.name for queue in celery.conf.task_queues) == sorted([QUICK, HEAVY])


def test_a_superseded_celery_job_is_revoked_not_killed(monkeypatch):
    manager = CeleryJobManager(make_celery("redis://127.0.0.1:9/0"))  # never contacted: control is replaced below
    calls: list[tuple] = []
    control = SimpleNamespace(revoke=lambda job, **options: calls.append(("revoke", job, options)),
                              terminate=lambda job, **options: calls.append(("terminate", job, options)))
    monkeypatch.setattr(manager.handle, "control", control)
    manager.terminate_job("task-1")
    manager.terminate_job(None)
    assert calls == [("revoke", "task-1", {})]  # no terminate=True: the worker process lives on
