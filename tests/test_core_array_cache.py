"""The array cache computes each result once, however many threads or processes ask for it at the same time."""

import multiprocessing
import threading
import time

import numpy as np
import pytest

from app.core.array_cache import ArrayCache


def _slow_compute(calls: list) -> np.ndarray:
    calls.append(threading.get_ident())
    time.sleep(0.3)
    return np.arange(5, dtype=np.float32)


def test_threads_asking_at_once_compute_once_and_read_the_same_result(tmp_path):
    cache = ArrayCache(tmp_path, dtype=np.float32)
    path = cache.path_for("fingerprint", "umap", {"n_neighbors": 15})
    calls: list = []
    results: list = []
    threads = [threading.Thread(target=lambda: results.append(cache.read_or_compute(path, lambda: _slow_compute(calls))))
               for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1
    assert len(results) == 6 and all(np.array_equal(result, np.arange(5)) for result in results)
    assert all(not result.flags.writeable for result in results)


def _compute_in_process(folder: str, counter_file: str) -> None:
    cache = ArrayCache(folder)

    def compute() -> np.ndarray:
        with open(counter_file, "a") as counter:
            counter.write("x")
        time.sleep(0.3)
        return np.ones(3)

    cache.read_or_compute(cache.path_for("fingerprint", "tsne", {}), compute)


def test_processes_asking_at_once_compute_once(tmp_path):
    counter = tmp_path / "computations"
    processes = [multiprocessing.get_context("spawn").Process(target=_compute_in_process, args=(str(tmp_path / "cache"), str(counter)))
                 for _ in range(3)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(30)
    assert [process.exitcode for process in processes] == [0, 0, 0]
    assert counter.read_text() == "x"


def test_a_failed_computation_leaves_nothing_and_the_next_caller_computes(tmp_path):
    cache = ArrayCache(tmp_path)
    path = cache.path_for("fingerprint", "knn", {"k": 5})

    def fail() -> np.ndarray:
        raise RuntimeError("out of memory")

    with pytest.raises(RuntimeError):
        cache.read_or_compute(path, fail)
    assert cache.read(path) is None
    assert np.array_equal(cache.read_or_compute(path, lambda: np.zeros(2)), np.zeros(2))
    assert sorted(p.suffix for p in tmp_path.iterdir()) == [".lock", ".npy"]


def test_the_file_name_holds_fingerprint_kind_and_parameters(tmp_path):
    cache = ArrayCache(tmp_path)
    assert cache.path_for("abc", "knn", {"k": 5, "metric": "cosine"}) == cache.path_for("abc", "knn", {"metric": "cosine", "k": 5})
    assert cache.path_for("abc", "knn", {"k": 5}) != cache.path_for("abc", "knn", {"k": 6})
    assert cache.path_for("abc", "knn", {"k": 5}).name.startswith("abc-knn-")


def test_a_read_array_stays_whole_when_its_file_is_replaced(tmp_path):
    cache = ArrayCache(tmp_path, dtype=np.float32)
    path = cache.path_for("space", "projection", {"method": "pca"})
    cache.write(path, np.arange(6, dtype=np.float32))
    held = cache.read(path)  # memory-mapped: no copy of the file
    cache.write(path, np.full(6, 7, dtype=np.float32))  # another process recomputes it: a new file renamed over the old
    assert held.tolist() == list(range(6)) and cache.read(path).tolist() == [7.0] * 6
    with pytest.raises(ValueError):
        held[0] = 1.0  # read-only
