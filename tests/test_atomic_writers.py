"""kill -9 at every step of the folder swap leaves the previous state usable, and the next start clean."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from data_loaders.cohort_io import atomic_folder, atomic_path, clean_leftovers

# The child swaps ``target`` for a folder holding new.txt and SIGKILLs itself at the named step.
CHILD = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from data_loaders import cohort_io

    target, step = Path(sys.argv[1]), sys.argv[2]
    renames = {"after_first_rename": 1, "after_second_rename": 2}.get(step)
    real_replace = os.replace
    calls = []

    def replace(source, destination):
        real_replace(source, destination)
        calls.append(1)
        if len(calls) == renames:
            os.kill(os.getpid(), signal.SIGKILL)

    cohort_io.os.replace = replace
    with cohort_io.atomic_folder(target) as building:
        (building / "new.txt").write_text("new")
        if step == "while_building":
            os.kill(os.getpid(), signal.SIGKILL)
    """
)


def kill_during_swap(target: Path, step: str) -> None:
    result = subprocess.run([sys.executable, "-c", CHILD, str(target), step], cwd=Path(__file__).resolve().parents[1], timeout=60)
    assert result.returncode == -signal.SIGKILL


@pytest.fixture
def previous(tmp_path: Path) -> Path:
    target = tmp_path / "model"
    target.mkdir()
    (target / "old.txt").write_text("old")
    return target


@pytest.mark.parametrize("step", ["while_building", "after_first_rename"])
@pytest.mark.slow
def test_a_kill_before_the_swap_completes_leaves_the_previous_folder_after_recovery(previous: Path, step: str):
    kill_during_swap(previous, step)
    leftovers = [entry.name for entry in previous.parent.iterdir() if entry.name.startswith(".")]
    assert leftovers, "the kill should have left something behind"
    clean_leftovers(previous.parent)
    assert (previous / "old.txt").read_text() == "old"
    assert not (previous / "new.txt").exists()
    assert sorted(entry.name for entry in previous.parent.iterdir()) == ["model"]


@pytest.mark.slow
def test_a_kill_after_the_second_rename_keeps_the_new_folder_and_removes_the_old(previous: Path):
    kill_during_swap(previous, "after_second_rename")
    clean_leftovers(previous.parent)
    assert (previous / "new.txt").read_text() == "new"
    assert sorted(entry.name for entry in previous.parent.iterdir()) == ["model"]


@pytest.mark.slow
def test_a_kill_while_building_a_first_folder_leaves_nothing_after_recovery(tmp_path: Path):
    kill_during_swap(tmp_path / "fresh", "while_building")
    clean_leftovers(tmp_path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_the_next_swap_recovers_before_it_starts(previous: Path):
    kill_during_swap(previous, "after_first_rename")
    assert not previous.exists()
    with atomic_folder(previous) as building:
        assert (previous / "old.txt").read_text() == "old"  # the previous state was back before building began
        (building / "third.txt").write_text("third")
    assert sorted(entry.name for entry in previous.parent.iterdir()) == ["model"]


def test_leftovers_of_a_live_process_are_left_alone(tmp_path: Path):
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        live = tmp_path / f".model.{sleeper.pid}.abcd1234.partial"
        live.mkdir()
        dead_file = tmp_path / ".manifest.toml.999999999.zz99yy88.partial"
        dead_file.write_text("half")
        clean_leftovers(tmp_path)
        assert live.exists() and not dead_file.exists()
    finally:
        sleeper.kill()
        sleeper.wait()


@pytest.mark.slow
def test_a_kill_inside_atomic_path_leaves_the_previous_file(tmp_path: Path):
    target = tmp_path / "manifest.toml"
    target.write_text("old")
    code = (
        "import os, signal, sys; from pathlib import Path; from data_loaders.cohort_io import atomic_path\n"
        "with atomic_path(Path(sys.argv[1])) as t:\n    t.write_text('half'); os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    subprocess.run([sys.executable, "-c", code, str(target)], cwd=Path(__file__).resolve().parents[1], timeout=60)
    assert target.read_text() == "old"
    clean_leftovers(tmp_path)
    assert [entry.name for entry in tmp_path.iterdir()] == ["manifest.toml"]


def test_atomic_path_still_replaces_on_success(tmp_path: Path):
    target = tmp_path / "a.txt"
    with atomic_path(target) as temporary:
        temporary.write_text("done")
    assert target.read_text() == "done" and [entry.name for entry in tmp_path.iterdir()] == ["a.txt"]


@pytest.mark.slow
def test_generator_workers_die_with_a_killed_generator(tmp_path: Path):
    import psutil

    code = ("import sys; from data_loaders.synthetic.generate import generate_cohort\n"
            "generate_cohort(sys.argv[1], 4000, seed=1, workers=2, chunk_size=50)\n")
    generator = subprocess.Popen([sys.executable, "-c", code, str(tmp_path / "cohort")], cwd=Path(__file__).resolve().parents[1])
    try:
        parent = psutil.Process(generator.pid)
        deadline = time.monotonic() + 60
        workers: list[psutil.Process] = []
        while len(workers) < 2 and time.monotonic() < deadline:
            workers = [child for child in parent.children() if "resource_tracker" not in " ".join(child.cmdline())]
            time.sleep(0.2)
        assert len(workers) >= 2, "the generator never started its workers"
        generator.send_signal(signal.SIGKILL)
        generator.wait(timeout=10)
        gone, alive = psutil.wait_procs(workers, timeout=15)
        assert alive == []
    finally:
        generator.kill()
        generator.wait()
