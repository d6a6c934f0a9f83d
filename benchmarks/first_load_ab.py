"""First loads of two or more versions of the app, served in turn on one machine: which loads faster, by its median.

    .venv/bin/python -m benchmarks.first_load_ab --revisions HEAD~1 HEAD [--subjects 100000] --cache /tmp/bench-scale [--rounds 5]

One load on a shared 2-core machine varies by a second from run to run, and a run's median drifts
as the machine's load does over the day: two versions measured an hour apart cannot be compared.
Here each revision is checked out (``git worktree``, removed afterwards; ``.`` is the working tree
as it is) and, round after round, each is started with ``python -m app`` on the benchmark's cohort
(``benchmarks.browser_scale``'s, built under ``--cache`` unless there) and loaded twice, each in a
fresh browser; a load is timed as ``browser_scale`` times it (navigation start to every view drawn,
nothing in flight; its first paint too: when every view first shows every subject). It prints each round's times,
then each revision's medians and their ratios to the first's.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from benchmarks.browser_scale import TIMEOUT_S, LoadTimes, benchmark_cohort, cold_load
from tests.serving import REPO_ROOT, free_port, wait_until_serving

LOADS_PER_ROUND = 2


@contextmanager
def checkout(revision: str) -> Iterator[Path]:
    """A folder holding ``revision`` (``.``: this working tree, as it is), removed afterwards."""
    if revision == ".":
        yield REPO_ROOT
        return
    folder = Path(tempfile.mkdtemp(prefix="first-load-ab-"))
    added = subprocess.run(["git", "-C", str(REPO_ROOT), "worktree", "add", "--detach", "--force", str(folder), revision], capture_output=True, text=True)
    if added.returncode != 0:
        folder.rmdir()
        raise SystemExit(f"first_load_ab: cannot check out {revision!r}: {added.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["git", "-C", str(REPO_ROOT), "worktree", "remove", "--force", str(folder)], check=False, capture_output=True)


def timed_loads(tree: Path, cohort: Path, cache: Path, n: int, loads: int) -> list[LoadTimes]:
    """Start the app in ``tree`` and time ``loads`` first loads, each in a fresh browser; stop it."""
    port = free_port()
    log_path = cache / "first-load-ab-server.log"
    with open(log_path, "w") as log:
        server = subprocess.Popen([sys.executable, "-m", "app", "--cohort", str(cohort), "--port", str(port)], cwd=tree,
                                  stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "LSE_CACHE_DIR": str(cache)})
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until_serving(url, [server], TIMEOUT_S, log_path)
            return [cold_load(url, n) for _ in range(loads)]
        finally:
            server.terminate()
            server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--revisions", nargs="+", required=True, help="git revisions to compare (. for the working tree); the first is the reference")
    parser.add_argument("--subjects", type=int, default=100_000)
    parser.add_argument("--cache", type=Path, required=True, help="folder for the cohort and the app's cache (reused between runs)")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    if len(args.revisions) < 2 or len(set(args.revisions)) != len(args.revisions):
        parser.error("--revisions takes two or more different revisions")
    if not 1 <= args.rounds <= 50:
        parser.error("--rounds must be between 1 and 50")
    cohort = benchmark_cohort(args.cache, args.subjects)
    app_cache = args.cache / f"app-cache-{args.subjects}"
    app_cache.mkdir(parents=True, exist_ok=True)
    times: dict[str, list[LoadTimes]] = {revision: [] for revision in args.revisions}
    with ExitStack() as stack:
        trees = {revision: stack.enter_context(checkout(revision)) for revision in args.revisions}
        for round_number in range(1, args.rounds + 1):
            for revision, tree in trees.items():
                times[revision] += timed_loads(tree, cohort, app_cache, args.subjects, LOADS_PER_ROUND)
            print(f"round {round_number} (drawn / painted): " + "; ".join(f"{revision} {', '.join(f'{x.drawn:.2f}/{x.painted:.2f}' for x in loads)}"
                                                                      for revision, loads in times.items()), flush=True)
    for what in LoadTimes._fields:
        reference = statistics.median(getattr(load, what) for load in times[args.revisions[0]])
        for revision, loads in times.items():
            seconds = [getattr(load, what) for load in loads]
            median = statistics.median(seconds)
            print(f"{revision:>24}  median first load {what} {median:.2f} s over {len(seconds)} loads ({min(seconds):.2f}–{max(seconds):.2f}), "
                  f"{median / reference:.2f}× {args.revisions[0]}'s")


if __name__ == "__main__":
    main()
