"""A research group's own model: four TorchScript modules behind the same interface as ours.

Each module works in data units, like :class:`models.autoencoder.LatentModel`:

- ``ecg_encoder``: (n, samples, leads) mV → (n, d)      ``ecg_decoder``: (n, d) → (n, samples, leads) mV
- ``mri_encoder``: (n, frames, rows, cols) → (n, d)     ``mri_decoder``: (n, d) → (n, frames, rows, cols)

On loading, each module is run once on a small batch shaped like the cohort's arrays; a module that
fails or returns the wrong shape is refused with its file, the expected and the actual shape.
TorchScript files hold code that torch runs (torch operations only, no Python); load files you trust.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path

import torch

from models.sources import MODULE_NAMES, CheckpointError

PROBE_BATCH = 2


class ModelShapeError(CheckpointError):
    """A model's module does not fit the cohort's array shapes."""


def _load_module(path: Path, device: torch.device) -> torch.jit.ScriptModule:
    if not path.is_file():
        raise CheckpointError(path, "no such file (named in the cohort manifest's [model] table)")
    try:
        with warnings.catch_warnings():
            # torch 2.13 marks TorchScript as deprecated; loading it is still the documented way to run it.
            warnings.filterwarnings("ignore", message=r".*torch\.jit.*deprecated", category=DeprecationWarning)
            module = torch.jit.load(str(path), map_location=device)
    except (RuntimeError, ValueError, OSError) as error:
        raise CheckpointError(path, f"not a TorchScript module saved with torch.jit.save ({str(error).splitlines()[0]})") from error
    return module.eval()


class TorchScriptModel:
    """Four TorchScript modules (ECG/MRI × encoder/decoder) sharing one latent space."""

    def __init__(
        self,
        modules: Mapping[str, torch.jit.ScriptModule],
        paths: Mapping[str, Path],
        ecg_shape: tuple[int, int],
        mri_shape: tuple[int, int, int],
        device: torch.device,
    ):
        self.modules = dict(modules)
        self.paths = {name: Path(p) for name, p in paths.items()}
        self.ecg_shape = tuple(ecg_shape)
        self.mri_shape = tuple(mri_shape)
        self.device = device
        self.latent_dim = self._check_shapes()

    def encode_ecg(self, ecg: torch.Tensor) -> torch.Tensor:
        return self._call("ecg_encoder", ecg)

    def encode_mri(self, cine: torch.Tensor) -> torch.Tensor:
        return self._call("mri_encoder", cine)

    def decode_ecg(self, latent: torch.Tensor) -> torch.Tensor:
        return self._call("ecg_decoder", latent)

    def decode_mri(self, latent: torch.Tensor) -> torch.Tensor:
        return self._call("mri_decoder", latent)

    def _call(self, name: str, tensor: torch.Tensor) -> torch.Tensor:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r".*torch\.jit.*deprecated", category=DeprecationWarning)
            return self.modules[name](tensor)

    def _probe(self, name: str, tensor: torch.Tensor, expected: tuple[int | str, ...], what: str) -> torch.Tensor:
        path = self.paths[name]
        try:
            with torch.inference_mode():
                output = self._call(name, tensor)
        except Exception as error:  # a module's own shape checks raise all sorts of errors
            message = str(error).strip().splitlines()[-1] if str(error).strip() else type(error).__name__
            raise ModelShapeError(path, f"{name} failed on an input of shape {tuple(tensor.shape)} ({what}): {message}") from error
        if not isinstance(output, torch.Tensor):
            raise ModelShapeError(path, f"{name}: expected a tensor of shape {_shown(expected)}, got {type(output).__name__}")
        fits = output.dim() == len(expected) and all(not isinstance(e, int) or e == s for e, s in zip(expected, output.shape))
        if not fits:
            raise ModelShapeError(
                path, f"{name}: for an input of shape {tuple(tensor.shape)} ({what}) expected an output of shape {_shown(expected)}, got {tuple(output.shape)}"
            )
        return output

    def _check_shapes(self) -> int:
        """Run each module once on zeros shaped like the cohort's arrays; return the latent size."""
        n = PROBE_BATCH
        ecg = torch.zeros((n, *self.ecg_shape), device=self.device)
        cine = torch.zeros((n, *self.mri_shape), device=self.device)
        z_ecg = self._probe("ecg_encoder", ecg, (n, "d"), "the cohort's ECG shape")
        latent_dim = int(z_ecg.shape[1])
        self._probe("mri_encoder", cine, (n, latent_dim), f"the cohort's cine shape; the ECG encoder gives {latent_dim}-dimensional latents")
        latent = torch.zeros((n, latent_dim), device=self.device)
        self._probe("ecg_decoder", latent, (n, *self.ecg_shape), "latents of the encoders' size")
        self._probe("mri_decoder", latent, (n, *self.mri_shape), "latents of the encoders' size")
        return latent_dim


def _shown(shape: tuple[int | str, ...]) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ")"


def load_torchscript_model(
    paths: Mapping[str, Path | str],
    ecg_shape: tuple[int, int],
    mri_shape: tuple[int, int, int],
    device: torch.device,
) -> TorchScriptModel:
    """Load the four modules onto ``device`` and check them against the cohort's array shapes."""
    missing = [name for name in MODULE_NAMES if name not in paths]
    if missing:
        raise CheckpointError(next(iter(paths.values()), "[model]"), f"a TorchScript model needs all of {', '.join(MODULE_NAMES)}; missing {', '.join(missing)}")
    resolved = {name: Path(paths[name]) for name in MODULE_NAMES}
    modules = {name: _load_module(path, device) for name, path in resolved.items()}
    return TorchScriptModel(modules, resolved, ecg_shape, mri_shape, device)
