"""First start of the app: train, encode and fit predictors for the demo cohort when they are missing.

``ensure_trained_demo(cohort_dir)`` is idempotent: each step runs only when its output is missing
or was made by another model (the manifest's ``[model].model_id`` and the predictors file record
which), every file is written under a temporary name and renamed into place, and a lock file
keeps two processes from training at once. A later start finds everything and returns in seconds.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import torch
from tqdm import tqdm

from data_loaders import load_cohort
from data_loaders.cohort_io import clean_leftovers
from data_loaders.manifest import MANIFEST_NAME
from models.baseline import ensure_raw_space
from models.config import ModelConfig, TrainConfig
from models.data import CohortArrays
from models.device import select_device
from models.encode import encode_loaded, encode_streamed, store_spaces
from models.predictors import fit_cohort_predictors
from models.readiness import DEMO_MODEL, DEMO_TRAIN, status
from models.run_status import RunStatus, write_status
from models.sources import DEFAULT_MODEL_FOLDER, is_checkpoint, source_from_path
from models.train import train_and_save

log = logging.getLogger(__name__)

# progress(stage, done, total); stages: "baseline" (subjects read for the raw space), "load"
# (subjects read), "train" (batches), "encode" (subjects), "predictors" (fits), and "done" (1, 1) at the end.
PipelineProgress = Callable[[str, int, int], None]
LOCK_FILE = ".models.lock"


@contextlib.contextmanager
def _exclusive(cohort_dir: Path) -> Iterator[None]:
    """Hold an exclusive lock on the cohort's model files (POSIX); elsewhere, no lock."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    with open(cohort_dir / LOCK_FILE, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_trained_demo(
    cohort_dir: Path | str,
    *,
    device: str | torch.device | None = "auto",
    model_config: ModelConfig | None = None,
    train_config: TrainConfig | None = None,
    progress: PipelineProgress | None = None,
    show_progress: bool = False,
    retrain_other_recipes: bool = False,
) -> Path:
    """Make sure the cohort has a trained model, its joint/ecg/mri spaces and predictions; return the model folder.

    With ``retrain_other_recipes`` a model trained with other settings than these is trained
    again (the app does so for its cached demo when a new version changes the demo's recipe).
    """
    cohort_dir = Path(cohort_dir)
    model_dir = cohort_dir / DEFAULT_MODEL_FOLDER
    config = model_config or DEMO_MODEL
    settings = train_config or DEMO_TRAIN
    recipe = (config, settings) if retrain_other_recipes else None

    def report(stage: str) -> Callable[[int, int], None]:
        return lambda done, total: progress(stage, done, total) if progress else None

    def report_encoding(total: int) -> tuple[tqdm, Callable[[int, int], None]]:
        bar = tqdm(total=total, unit="subject", desc="Encoding", disable=not show_progress)

        def advance(done: int, total: int) -> None:
            bar.update(done - bar.n)
            report("encode")(done, total)

        return bar, advance

    with _exclusive(cohort_dir):
        for leftover in clean_leftovers(cohort_dir):
            log.info("%s: cleaned up %s, left by a run that was stopped", cohort_dir, leftover.name)
        ensure_raw_space(cohort_dir, progress=report("baseline"), show_progress=show_progress)
        done = status(cohort_dir, model_dir, recipe)
        arrays: CohortArrays | None = None
        model = None
        if not done["trained"]:
            log.info("%s: training the cross-modal autoencoder%s", cohort_dir, " (its model had other settings)" if is_checkpoint(model_dir) else "")
            cohort = load_cohort(cohort_dir)
            _, result = train_and_save(
                cohort, model_dir, config, settings, device=device,
                progress=progress, show_progress=show_progress,
            )
            arrays, model = result.arrays, result.model
            done = status(cohort_dir, model_dir, recipe)
        if not done["encoded"]:
            log.info("%s: encoding every subject", cohort_dir)
            cohort = load_cohort(cohort_dir)
            source = source_from_path(model_dir)
            everyone = set(map(str, cohort.phenotypes.index))
            bar, advance = report_encoding(len(everyone))
            with bar:
                if model is not None and arrays is not None and set(arrays.subject_ids) == everyone:
                    spaces = encode_loaded(model, arrays, next(model.parameters()).device, progress=advance)
                    ids = arrays.subject_ids
                else:
                    ids, spaces = encode_streamed(cohort, source, select_device(device), advance)
            store_spaces(cohort, ids, spaces, source)
        del arrays  # the cines in memory are no longer needed
        if not status(cohort_dir, model_dir, recipe)["predictors"]:
            log.info("%s: fitting predictors", cohort_dir)
            fit_cohort_predictors(cohort_dir, model_dir, progress=report("predictors"), show_progress=show_progress)
    if progress:
        progress("done", 1, 1)
    return model_dir


def main(argv: list[str] | None = None) -> int:
    """``python -m models.pipeline --cohort DIR``: what the app's first start does, from a terminal.

    With ``--status-file`` it also writes its progress there (models.run_status) for the app's badge;
    with ``--exit-with-parent`` it stops when the process that started it is gone, so a killed server
    leaves no training behind (the next start trains again: every step is atomic).
    """
    import argparse
    import os
    import sys
    import time

    from data_loaders import CohortFormatError
    from models.device import DeviceUnavailableError
    from models.sources import CheckpointError

    parser = argparse.ArgumentParser(prog="python -m models.pipeline", description="Train, encode and fit predictors for a cohort where missing.")
    parser.add_argument("--cohort", type=Path, required=True)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--status-file", type=Path, default=None, help="write progress as JSON here (for the app's status badge)")
    parser.add_argument("--exit-with-parent", nargs="?", type=int, const=0, default=None, metavar="PID",
                        help="stop when the process that started this run (or PID, which the app passes) exits")
    parser.add_argument("--retrain-other-recipes", action="store_true", help="train again when the model was trained with another recipe (the app's demo)")
    parser.add_argument("--quality-report", action="store_true", help="print models.evaluate's report on the test split when a model was trained")
    args = parser.parse_args(argv)
    if args.exit_with_parent is not None and args.exit_with_parent < 0:
        parser.error(f"--exit-with-parent: expected a process id, got {args.exit_with_parent}")
    started = time.perf_counter()
    # The app passes its own pid: a parent that died while this process was still importing is noticed too.
    parent = args.exit_with_parent or os.getppid()
    last: dict[str, float] = {}
    current = RunStatus(state="running", pid=os.getpid(), stage_started=time.time())
    if args.status_file:
        write_status(args.status_file, current)

    def report(stage: str, done: int, total: int) -> None:
        nonlocal current
        if args.exit_with_parent is not None and os.getppid() != parent:
            raise SystemExit("the app that started this run has exited; stopping")
        now = time.perf_counter()
        new_stage = stage != current.stage
        if not (new_stage or done == total or now - last.get(stage, 0) > 1):
            return
        if new_stage:
            current = replace(current, stage=stage, stage_started=time.time(), epoch=0, epochs=0)
        if stage == "train":
            epochs = DEMO_TRAIN.epochs
            per_epoch = max(1, total // epochs)
            current = replace(current, epoch=min(epochs, done // per_epoch + 1), epochs=epochs)
        current = replace(current, done=done, total=total)
        if args.status_file:
            write_status(args.status_file, current)
        if done == total or now - last.get(stage, 0) > 5:
            last[stage] = now
            print(f"[{now - started:6.0f} s] {stage}: {done}/{total}", flush=True)

    recipe = (DEMO_MODEL, DEMO_TRAIN) if args.retrain_other_recipes else None
    try:
        trained_before = status(args.cohort, recipe=recipe)["trained"]
        manifest_before = (args.cohort / MANIFEST_NAME).stat().st_mtime_ns
        model_dir = ensure_trained_demo(args.cohort, device=args.device, progress=report, retrain_other_recipes=args.retrain_other_recipes,
                                        show_progress=sys.stderr.isatty())
    except (CohortFormatError, CheckpointError, DeviceUnavailableError, ValueError, OSError) as error:
        if args.status_file:
            write_status(args.status_file, replace(current, state="failed", message=str(error)))
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.status_file:
        changed = (args.cohort / MANIFEST_NAME).stat().st_mtime_ns != manifest_before  # every step that adds something rewrites the manifest
        write_status(args.status_file, replace(current, state="ready", stage="done", changed=changed))
    print(f"Ready: model {model_dir}, {time.perf_counter() - started:.0f} s", flush=True)
    if args.quality_report and not trained_before:
        from models.evaluate import main as evaluate

        evaluate(["--cohort", str(args.cohort), "--device", args.device])
    return 0


__all__ = ["PipelineProgress", "ensure_trained_demo"]

if __name__ == "__main__":
    raise SystemExit(main())
