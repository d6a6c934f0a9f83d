"""Serve first, train behind: the demo's model is trained in a separate process while the app serves.

``python -m app`` on a fresh cache generates the demo cohort, starts ``python -m models.pipeline`` as a
child process (never a fork of the threaded server), and serves at once. The child first computes the
raw-signal baseline space, then trains; it writes its progress to a status file (``models.run_status``).
The navbar badge polls it, and the tabs that need the model show the same progress until it is ready.
When the baseline is written (if the app started without a space), and when a run that changed the
model finishes, the next poll swaps in an app built on the updated cohort (``LiveApp``) and the page
reloads itself: the baseline, then the joint, ECG-only and MRI-only spaces, the decoder and the
accuracy panel appear without a restart. A killed or crashed run leaves the app serving what it
has; the next start runs the pipeline again, which resumes at the first step not done.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import dash

from data_loaders.cohort_io import process_alive
from models.run_status import RunStatus, read_status

STATUS_FILE = ".pipeline-status.json"
MODEL_SPACES = ("joint", "ecg", "mri")


@dataclass(frozen=True)
class TrainingWatch:
    """What a served app needs to follow a background run: where its status is, and what to call when it is ready."""

    status_path: Path
    on_ready: Callable[[], None]
    started_at: float  # status written before this belongs to an earlier run

    def status(self) -> RunStatus | None:
        status = read_status(self.status_path)
        if status is None or status.updated < self.started_at:
            return None
        if status.state == "running" and status.pid and not process_alive(status.pid):
            return RunStatus(state="failed", message="the training process stopped; the next start trains again")
        return status


def status_path(cohort_dir: Path) -> Path:
    return Path(cohort_dir) / STATUS_FILE


def start_background_training(cohort_dir: Path, device: str, status_file: Path) -> subprocess.Popen:
    """Start the pipeline in a child process that writes ``status_file`` and stops if this process dies."""
    command = [
        sys.executable, "-m", "models.pipeline", "--cohort", str(cohort_dir), "--device", device,
        "--status-file", str(status_file), "--exit-with-parent", str(os.getpid()), "--retrain-other-recipes", "--quality-report",
    ]
    return subprocess.Popen(command, stdin=subprocess.DEVNULL)


class LiveApp:
    """A WSGI app that forwards to the current Dash app and can replace it with one built on the cohort as it is now.

    ``build(on_ready)`` makes a Dash app; ``on_ready`` is that app's way to ask for its own
    replacement, honoured once: a second call from the same (already replaced) app does nothing.
    """

    def __init__(self, build: Callable[[Callable[[], None]], dash.Dash]):
        self._build = build
        self._lock = threading.Lock()
        self._generation = 0
        self.current = self._make(0)

    def _make(self, generation: int) -> dash.Dash:
        return self._build(lambda: self._replace(generation))

    def _replace(self, generation: int) -> None:
        with self._lock:
            if generation == self._generation:
                replaced, self.current = self.current, self._make(generation + 1)
                self._generation = generation + 1
                close = getattr(getattr(replaced, "_background_manager", None), "close", None)  # its heavy-job worker holds the old cohort
                if close is not None:
                    close()

    def __call__(self, environ, start_response):
        return self.current.server(environ, start_response)
