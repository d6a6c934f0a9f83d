"""A background pipeline run's progress, in a small JSON file that the app polls.

The process that trains writes it (atomically, so a reader never sees half a file); the server that
shows the progress only reads it. No torch here: the app imports this at start.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Literal

from data_loaders.cohort_io import atomic_path

RunState = Literal["running", "ready", "failed"]
STAGES_BEFORE_A_SPACE = ("", "baseline")  # the pipeline's first stage writes the raw-signal baseline space
STAGE_NAMES = {
    "baseline": "Raw-signal baseline",
    "load": "Reading arrays",
    "train": "Training",
    "encode": "Encoding subjects",
    "predictors": "Fitting predictors",
    "done": "Done",
}


@dataclass(frozen=True)
class RunStatus:
    """Where a run is: its state, the current stage and how far it is, and an estimate of the time left in the stage."""

    state: RunState
    stage: str = ""
    done: int = 0
    total: int = 0
    epoch: int = 0
    epochs: int = 0
    stage_started: float = 0.0
    updated: float = 0.0
    pid: int = 0
    message: str = ""
    changed: bool = False  # whether the run trained, encoded or fitted anything (a ready run that changed nothing needs no reload)

    @property
    def fraction(self) -> float:
        return min(1.0, self.done / self.total) if self.total else 0.0

    @property
    def eta_s(self) -> float | None:
        """Seconds left in the current stage at the pace so far (None until there is a pace)."""
        elapsed = self.updated - self.stage_started
        if not self.done or not self.total or elapsed <= 0:
            return None
        return elapsed / self.done * (self.total - self.done)

    @property
    def baseline_done(self) -> bool:
        """Whether the run is past the stage that writes the raw-signal baseline space."""
        return self.state == "ready" or (self.state == "running" and self.stage not in STAGES_BEFORE_A_SPACE)

    def describe(self) -> str:
        """One line for a person: 'Training: epoch 5 of 26, about 6 min left'."""
        if self.state == "ready":
            return "ready"
        if self.state == "failed":
            return f"training failed: {self.message}" if self.message else "training failed"
        stage = STAGE_NAMES.get(self.stage, self.stage or "Starting")
        where = f"epoch {self.epoch} of {self.epochs}" if self.stage == "train" and self.epochs else (f"{self.fraction:.0%}" if self.total else "")
        eta = self.eta_s
        left = "" if eta is None else (f", about {eta / 60:.0f} min left" if eta >= 90 else f", about {max(eta, 1):.0f} s left")
        return f"{stage}: {where}{left}" if where else f"{stage}…"


def write_status(path: Path, status: RunStatus) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as temporary:
        temporary.write_text(json.dumps(asdict(replace(status, updated=time.time()))))


def read_status(path: Path) -> RunStatus | None:
    """The last status written, or None when there is none (or it cannot be read: a run that never started)."""
    try:
        fields = json.loads(path.read_text())
        return RunStatus(**fields)
    except (OSError, ValueError, TypeError):
        return None
