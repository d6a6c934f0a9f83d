"""Writers that add to a cohort folder without ever leaving a half-written file behind.

Every file is written under a temporary name in the same folder and renamed into place; the
manifest, which makes a new part visible, is always written last.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import signal
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pandas as pd
import tomli_w

from data_loaders.arrays import IDS_DATASET, stored_subject_ids
from data_loaders.manifest import MANIFEST_NAME, read_manifest

PR_SET_PDEATHSIG = 1  # prctl option: the signal a process gets when its parent dies

SPACES_FILE = "spaces.h5"
PREDICTIONS_FILE = "predictions.parquet"

logger = logging.getLogger(__name__)


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it into place only if the block succeeds."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".partial", dir=path.parent)
    os.close(handle)
    temporary_path = Path(temporary)
    try:
        yield temporary_path
        os.replace(temporary_path, path)
    finally:
        temporary_path.unlink(missing_ok=True)


@contextmanager
def atomic_folder(path: Path) -> Iterator[Path]:
    """A temporary folder beside ``path`` that replaces ``path`` only if the block succeeds.

    The swap is two renames (``path`` → ``.path.old-PID``, building → ``path``); a process killed
    between them leaves no ``path``, which :func:`clean_leftovers` puts back on the next start.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    clean_leftovers(path.parent, only=path.name)
    building = Path(tempfile.mkdtemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".partial", dir=path.parent))
    try:
        yield building
        if path.exists():
            retired = path.with_name(f".{path.name}.old-{os.getpid()}")
            os.replace(path, retired)
            os.replace(building, path)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            os.replace(building, path)
    finally:
        shutil.rmtree(building, ignore_errors=True)


_RETIRED = re.compile(r"^\.(?P<name>.+)\.old-(?P<pid>\d+)$")
_PARTIAL = re.compile(r"^\.(?P<name>.+?)\.(?:(?P<pid>\d+)\.)?[A-Za-z0-9_]+\.partial$")


def die_with_parent(parent_pid: int) -> None:
    """Worker initializer: the kernel kills this worker when its parent dies, even by kill -9 (Linux).

    Without it a killed generator or server leaves its workers computing for nobody.
    """
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent_pid:  # the parent died before the line above took effect
        os._exit(1)


def process_alive(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie, exited but not yet reaped, is not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True  # no /proc (not Linux): the signal check above is all there is


def _remove(entry: Path) -> None:
    if entry.is_dir() and not entry.is_symlink():
        shutil.rmtree(entry, ignore_errors=True)
    else:
        entry.unlink(missing_ok=True)


def clean_leftovers(folder: Path, only: str | None = None) -> list[Path]:
    """Undo what writers killed in ``folder`` left behind (for target ``only``, or all); return what was removed or restored.

    A kill between :func:`atomic_folder`'s two renames leaves ``NAME`` missing and the previous
    version as ``.NAME.old-PID``: it is put back (the previous state). Other retired folders and the
    ``.NAME.PID.*.partial`` files or folders of writers no longer running are removed; a live
    writer's partial (its pid is in the name) is left alone, so two writers never undo each other.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    touched: list[Path] = []
    for entry in sorted(folder.iterdir()):
        retired, partial = _RETIRED.match(entry.name), _PARTIAL.match(entry.name)
        match = retired or partial
        if match is None or (only is not None and match["name"] != only):
            continue
        if partial and partial["pid"] is not None and process_alive(int(partial["pid"])):
            continue
        target = folder / match["name"]
        try:
            if retired and not target.exists():
                os.replace(entry, target)
                logger.warning("restored %s from %s (a swap was interrupted)", target, entry.name)
            else:
                _remove(entry)
                logger.warning("removed the leftover %s", entry)
        except OSError as error:  # a read-only cohort: report, keep serving what is there
            logger.warning("could not clean %s: %s", entry, error)
            continue
        touched.append(entry)
    return touched



def write_manifest(cohort_dir: Path, manifest: dict[str, Any]) -> None:
    with atomic_path(Path(cohort_dir) / MANIFEST_NAME) as temporary:
        temporary.write_text(tomli_w.dumps(manifest), encoding="utf-8")


def update_manifest(cohort_dir: Path, **sections: Any) -> dict[str, Any]:
    """Replace or add top-level manifest entries (``spaces=…``, ``model=…``) and write it back."""
    manifest = read_manifest(Path(cohort_dir) / MANIFEST_NAME)
    manifest.update(sections)
    write_manifest(Path(cohort_dir), manifest)
    return manifest


def write_spaces(
    cohort_dir: Path,
    spaces: Mapping[str, np.ndarray],
    subject_ids: Sequence[str],
    descriptions: Mapping[str, str] | None = None,
) -> None:
    """Store latent matrices in the cohort's spaces.h5 and list them in the manifest.

    Spaces already in the file and not named here are kept, so encoders can add spaces one by one.
    """
    cohort_dir = Path(cohort_dir)
    path = cohort_dir / SPACES_FILE
    ids = np.asarray([str(i) for i in subject_ids], dtype=object)
    for name, matrix in spaces.items():
        if matrix.ndim != 2 or matrix.shape[0] != len(ids):
            raise ValueError(f"space {name!r}: expected ({len(ids)}, d), got {matrix.shape}")
        if not np.isfinite(matrix).all():
            raise ValueError(f"space {name!r}: contains NaN or inf")
    kept = _existing_spaces(path, ids, exclude=set(spaces))
    with atomic_path(path) as temporary, h5py.File(temporary, "w") as file:
        file.create_dataset(IDS_DATASET, data=ids, dtype=h5py.string_dtype())
        for name, matrix in {**kept, **spaces}.items():
            file.create_dataset(name, data=np.asarray(matrix, dtype=np.float32))
    manifest = read_manifest(cohort_dir / MANIFEST_NAME)
    tables = dict(manifest.get("spaces", {}))
    for name in spaces:
        entry: dict[str, Any] = {"path": SPACES_FILE, "dataset": name}
        if descriptions and name in descriptions:
            entry["description"] = descriptions[name]
        tables[name] = entry
    manifest["spaces"] = tables
    write_manifest(cohort_dir, manifest)


def _existing_spaces(path: Path, ids: np.ndarray, exclude: set[str]) -> dict[str, np.ndarray]:
    if not path.is_file():
        return {}
    with h5py.File(path, "r") as file:
        if IDS_DATASET not in file or list(stored_subject_ids(file, path)) != list(ids):
            return {}
        return {name: file[name][()] for name in file if name not in exclude and name != IDS_DATASET}


def write_predictions(cohort_dir: Path, predictions: pd.DataFrame) -> None:
    """Store the long table of out-of-sample predictions and register it in the manifest."""
    required = {"sample_id", "task", "space", "prediction"}
    missing = required - set(predictions.columns)
    if missing:
        raise ValueError(f"predictions need columns {sorted(required)}; missing {sorted(missing)}")
    cohort_dir = Path(cohort_dir)
    table = predictions.assign(sample_id=predictions["sample_id"].astype(str))
    with atomic_path(cohort_dir / PREDICTIONS_FILE) as temporary:
        table.to_parquet(temporary, index=False)
    update_manifest(cohort_dir, predictions={"path": PREDICTIONS_FILE})
