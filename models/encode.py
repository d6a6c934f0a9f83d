"""``python -m models.encode --cohort DIR [--model PATH]``: write the joint, ECG and MRI latent spaces.

Every subject is encoded from its ECG and from its cine; ``ecg`` and ``mri`` are the two
single-modality embeddings and ``joint`` their mean (the fused latent the decoders were also
trained on). A subject missing a modality (an imported cohort) takes its other modality's latent
in all three spaces (see ``fuse``); the cohort's ``ecg_present`` / ``mri_present`` say which.
The spaces go into the cohort through ``data_loaders.cohort_io.write_spaces`` and the cohort's
``[model]`` table is pointed at the model that made them.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from data_loaders import Cohort, CohortFormatError, load_cohort
from data_loaders.cohort import allows_outside_paths
from data_loaders.cohort_io import update_manifest, write_spaces
from models.autoencoder import CrossModalAutoencoder
from models.data import CohortArrays, in_stored_order, iter_chunks, read_ecg
from models.decoding import codec_for_cohort
from models.device import DEVICE_CHOICES, DeviceUnavailableError, select_device
from models.sources import NATIVE_FORMAT, CheckpointError, ModelSource, cohort_model_source, read_config

Progress = Callable[[int, int], None]
SPACE_DESCRIPTIONS = {
    "joint": "Joint ECG + MRI latent: mean of the two modality embeddings (cross-modal DropFuse autoencoder)",
    "ecg": "ECG-only latent: the 12-lead median beat's embedding",
    "mri": "MRI-only latent: the 4-chamber cine's embedding",
}
ENCODE_CHUNK = 100


def fuse(z_ecg: np.ndarray, z_mri: np.ndarray, ecg_present: np.ndarray | None = None, mri_present: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The joint, ecg and mri spaces from each modality's latents; rows of an absent modality are ignored.

    A subject missing one modality takes the other's latent in every space: the contrastive training
    aligns the two, so it is the model's best estimate of the missing one (decoding it gives the
    cross-modal reconstruction). A subject with neither sits at the mean of the others' joint latents.
    """
    has_ecg = np.ones(len(z_ecg), bool) if ecg_present is None else np.asarray(ecg_present, bool)
    has_mri = np.ones(len(z_mri), bool) if mri_present is None else np.asarray(mri_present, bool)
    ecg_space = np.where(has_ecg[:, None], z_ecg, z_mri)
    mri_space = np.where(has_mri[:, None], z_mri, z_ecg)
    joint = (ecg_space + mri_space) / 2
    neither = ~(has_ecg | has_mri)
    if neither.any():
        centre = joint[~neither].mean(axis=0) if (~neither).any() else np.zeros(joint.shape[1], joint.dtype)
        ecg_space[neither] = mri_space[neither] = joint[neither] = centre
    return {"joint": joint.astype(np.float32), "ecg": ecg_space.astype(np.float32), "mri": mri_space.astype(np.float32)}


def encode_loaded(
    model: CrossModalAutoencoder, arrays: CohortArrays, device: torch.device, batch_size: int = 128, progress: Progress | None = None
) -> dict[str, np.ndarray]:
    """Encode arrays already in memory (as training loaded them) with our autoencoder; rows as in ``arrays``."""
    from models.training import Batches

    batches = Batches(model, arrays, device)
    z_ecg = np.empty((len(arrays), model.latent_dim), np.float32)
    z_mri = np.empty_like(z_ecg)
    model.eval()
    with torch.inference_mode():
        for start in range(0, len(arrays), batch_size):
            rows = torch.arange(start, min(start + batch_size, len(arrays)))
            ecg, cine_in, _ = batches.get(rows)
            z_ecg[start : start + len(rows)] = model.ecg_encoder(ecg).float().cpu().numpy()
            z_mri[start : start + len(rows)] = model.mri_encoder(cine_in).float().cpu().numpy()
            if progress:
                progress(start + len(rows), len(arrays))
    return fuse(z_ecg, z_mri)


def encode_streamed(cohort: Cohort, source: ModelSource, device: torch.device, progress: Progress | None = None) -> tuple[list[str], dict[str, np.ndarray]]:
    """Read the cohort chunk by chunk in stored order and encode each modality; returns ids and spaces in that order."""
    codec = codec_for_cohort(cohort, device, model_path=source.path if source.format == NATIVE_FORMAT else None)
    ids = in_stored_order(cohort, list(cohort.phenotypes.index))
    z_ecg = np.zeros((len(ids), codec.latent_dim), np.float32)
    z_mri = np.zeros_like(z_ecg)
    if cohort.ecg_present.all() and cohort.mri_present.all():
        done = 0
        for chunk, ecg, cines in iter_chunks(cohort, ids, source.ecg_input, ENCODE_CHUNK):
            z_ecg[done : done + len(chunk)] = codec.encode_ecg(ecg)
            z_mri[done : done + len(chunk)] = codec.encode_mri(cines)
            done += len(chunk)
            if progress:
                progress(done, len(ids))
        return ids, fuse(z_ecg, z_mri)
    rows = cohort.phenotypes.index.get_indexer(pd.Index(ids))
    has_ecg, has_mri = cohort.ecg_present[rows], cohort.mri_present[rows]
    total = int(has_ecg.sum() + has_mri.sum())
    done = 0
    for present, latents, read, encode in (
        (has_ecg, z_ecg, lambda chunk: read_ecg(cohort, chunk, source.ecg_input), codec.encode_ecg),
        (has_mri, z_mri, cohort.mri, codec.encode_mri),
    ):
        positions = np.flatnonzero(present)
        for start in range(0, len(positions), ENCODE_CHUNK):
            block = positions[start : start + ENCODE_CHUNK]
            latents[block] = encode(read([ids[i] for i in block]))
            done += len(block)
            if progress:
                progress(done, total)
    return ids, fuse(z_ecg, z_mri, has_ecg, has_mri)


def model_table(cohort_root: Path, source: ModelSource, model_id: str | None) -> dict[str, Any]:
    """The manifest's [model] entry for a checkpoint folder (relative to the cohort when inside it)."""
    assert source.path is not None
    try:
        path = str(source.path.relative_to(cohort_root.resolve()))
    except ValueError:
        path = str(source.path)
    table: dict[str, Any] = {"format": NATIVE_FORMAT, "path": path, "ecg_input": source.ecg_input}
    if model_id:
        table["model_id"] = model_id
    return table


def store_spaces(cohort: Cohort, ids: list[str], spaces: dict[str, np.ndarray], source: ModelSource) -> None:
    """Write spaces in the phenotype table's order and point the manifest's [model] at the model used."""
    order = np.asarray(_positions(ids, cohort))
    aligned = {name: matrix[np.argsort(order)] for name, matrix in spaces.items()}
    subject_ids = [str(i) for i in cohort.phenotypes.index]
    write_spaces(cohort.root, aligned, subject_ids, SPACE_DESCRIPTIONS)
    if source.format == NATIVE_FORMAT:
        model_id = read_config(source.path).get("metadata", {}).get("model_id")
        update_manifest(cohort.root, model=model_table(cohort.root, source, model_id))


def _positions(ids: list[str], cohort: Cohort) -> np.ndarray:
    return cohort.phenotypes.index.get_indexer(ids)


def encode_cohort(
    cohort_dir: Path | str,
    model_path: Path | str | None = None,
    *,
    device: str | torch.device | None = "auto",
    progress: Progress | None = None,
    show_progress: bool = False,
) -> dict[str, np.ndarray]:
    """Encode every subject of a cohort and store the joint/ecg/mri spaces; returns them in phenotype order."""
    cohort = load_cohort(cohort_dir)
    source = cohort_model_source(cohort, model_path)
    if source.path is not None and not allows_outside_paths(cohort.manifest) and not source.path.is_relative_to(cohort.root.resolve()):
        # Refused before any work: the manifest will name this model, and a manifest's paths stay inside its folder.
        raise CohortFormatError(source.path, "--model", f"a checkpoint folder inside the cohort folder {cohort.root} (or allow_outside_paths = true in its manifest)",
                                "a folder outside it")
    target = select_device(device)
    with tqdm(total=len(cohort.phenotypes), unit="subject", desc="Encoding", disable=not show_progress) as bar:

        def advance(done: int, total: int) -> None:
            bar.update(done - bar.n)
            if progress:
                progress(done, total)

        ids, spaces = encode_streamed(cohort, source, target, advance)
    store_spaces(cohort, ids, spaces, source)
    order = np.argsort(_positions(ids, cohort))
    return {name: matrix[order] for name, matrix in spaces.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m models.encode", description=__doc__.splitlines()[0])
    parser.add_argument("--cohort", type=Path, required=True, help="cohort folder (its manifest.toml)")
    parser.add_argument("--model", type=Path, default=None, help="checkpoint folder (default: the cohort's [model], else DIR/model)")
    parser.add_argument("--device", default="auto", help=f"{' | '.join(DEVICE_CHOICES)} | cuda:N (default auto: CUDA when available)")
    args = parser.parse_args(argv)
    try:
        spaces = encode_cohort(args.cohort, args.model, device=args.device, show_progress=True)
    except (CohortFormatError, CheckpointError, DeviceUnavailableError, ValueError, KeyError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    shapes = ", ".join(f"{name} {matrix.shape}" for name, matrix in spaces.items())
    print(f"Wrote latent spaces to {os.fspath(args.cohort)}: {shapes}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
