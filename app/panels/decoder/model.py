"""The decoding model and predictors behind the panel, loaded once per process, and what to say when there is none."""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass

import numpy as np

from app.context import AppContext
from app.panels.decoder.settings import SPACES
from data_loaders.cohort_spec import ECG_MEDIAN_SAMPLES


class DecoderUnavailable(RuntimeError):
    """This cohort cannot be decoded (no model, no arrays or no latent spaces); the message says what to do."""


@dataclass(frozen=True)
class Decoded:
    """Both modalities decoded from one batch of latents, and where and how fast."""

    ecg: np.ndarray  # (n, samples, leads) mV
    mri: np.ndarray  # (n, frames, rows, cols) on [0, 1]
    seconds: float
    device: str

    def status(self, what: str) -> str:
        return f"{what} decoded on {self.device} in {1000 * self.seconds:.0f} ms"


@dataclass(frozen=True, eq=False)
class DecoderModels:
    """The cohort's codec and predictors, loaded once per process."""

    codec: object  # models.decoding.LatentCodec (imported lazily: torch is heavy)
    predictors: object | None  # models.predictors.PredictorSet

    @property
    def device(self) -> str:
        device = self.codec.device
        if device.type == "cuda":
            import torch

            return f"GPU ({torch.cuda.get_device_name(device)})"
        return "CPU"

    @property
    def ecg_is_median(self) -> bool:
        return self.codec.ecg_shape[0] == ECG_MEDIAN_SAMPLES

    def decode(self, latents: np.ndarray) -> Decoded:
        """Decode both modalities of a batch of latents (n, d); the codec batches them on its device."""
        import torch

        # One intra-op thread in every serving process (it was so only in forked ones): a server decodes for
        # several users at once, side by side on the job lane's threads, and a thread team per decode only
        # competes with them and with every other request for the cores.
        if torch.get_num_threads() != 1:
            torch.set_num_threads(1)
        started = time.perf_counter()
        ecg = self.codec.decode(latents, "ecg")
        mri = self.codec.decode(latents, "mri")
        return Decoded(ecg, mri, time.perf_counter() - started, self.device)

    def tasks(self, space: str) -> list[str]:
        if self.predictors is None:
            return []
        return [task for task, where in self.predictors.predictors if where == space]

    def predict(self, task: str, space: str, latents: np.ndarray) -> np.ndarray:
        return self.predictors[task, space].predict(np.atleast_2d(latents))


def model_problem(context: AppContext) -> str | None:
    """Why this cohort cannot be decoded, or None when it can: cheap checks only, so the app starts without loading torch.

    The model itself is loaded once per process: by a server's warm-up (:func:`warm_up`) or else by
    the first decode (a background job); a model that fails to load is named in that view's message.
    """
    cohort = context.cohort
    if not (cohort.has_ecg and cohort.has_mri):
        return "This cohort has no ECG or MRI arrays, so there is nothing to decode."
    missing = [space for space in SPACES if space not in cohort.spaces]
    if missing:
        return f"This cohort has no {', '.join(missing)} latent space yet: run python -m models.encode --cohort DIR."
    from models.sources import CheckpointError, cohort_model_source

    try:
        cohort_model_source(cohort)
    except CheckpointError as error:
        return f"This cohort has no model to decode with ({error})."
    return None


def warm_up(context: AppContext) -> None:
    """Load the model and decode one subject off any request, so the first user to decode waits only for their own subjects.

    On the demo cohort (2 CPU cores) that first decode took 2.6 s from click to drawn against 0.6 s for
    later ones: 1.8 s importing torch and loading the model, and 75 ms of the first batch's set-up.
    A cohort that cannot be decoded loads nothing (the panel says why); a model that fails to load is
    named by the first decode's message, as without a warm-up.
    """
    if model_problem(context) is not None:
        return
    models = decoder_models(context)
    models.decode(context.cohort.spaces[SPACES[0]][:1])


def expected_device(device: str = "auto") -> str:
    """Where decoding will run (``--device``; auto: the first CUDA device when there is one), without initialising CUDA.

    ``cpu`` is answered without importing torch: a web worker whose decodes run elsewhere (Celery) would
    otherwise import it (1.4 s, a few hundred MB) only for the badge.
    """
    if device.strip().lower() == "cpu":
        return "CPU"
    from models.device import select_device

    return "GPU (CUDA)" if select_device(device).type == "cuda" else "CPU"


@functools.lru_cache(maxsize=4)
def _load_models(context: AppContext) -> DecoderModels:
    from models.decoding import codec_for_cohort
    from models.sources import CheckpointError

    try:
        codec = codec_for_cohort(context.cohort, device=context.config.device)
        predictors = cohort_predictors(context)
    except (CheckpointError, LookupError, OSError, ValueError) as error:
        raise DecoderUnavailable(f"The cohort's model cannot be loaded ({error}). Train one with python -m models.train --cohort DIR.") from error
    return DecoderModels(codec, predictors)


@functools.lru_cache(maxsize=4)
def cohort_predictors(context: AppContext):
    """The PredictorSet saved beside the cohort's model, or None (plain numbers from JSON: no torch needed)."""
    from models.predictors import predictors_for_cohort

    return predictors_for_cohort(context.cohort)


def predictor_tasks(context: AppContext, space: str) -> list[str]:
    predictors = cohort_predictors(context)
    return [] if predictors is None else [task for task, where in predictors.predictors if where == space]


def decoder_models(context: AppContext) -> DecoderModels:
    """The cohort's models (cached per process); raises DecoderUnavailable with advice."""
    return _load_models(context)
