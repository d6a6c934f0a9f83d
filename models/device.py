"""Device selection: CUDA when present, else CPU; an explicit choice that cannot be met fails clearly.

torch is imported only when a device is resolved: the app checks ``--device`` at start with
``check_device`` and serves without importing torch unless CUDA is asked for by name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

DEVICE_CHOICES = ("auto", "cpu", "cuda")


class DeviceUnavailableError(RuntimeError):
    """The device asked for does not exist on this machine."""


def select_device(name: str | torch.device | None = "auto") -> torch.device:
    """Resolve ``auto`` / ``cpu`` / ``cuda`` / ``cuda:N`` to a usable torch.device.

    ``auto`` (or None) picks the first CUDA device when one is available and the CPU otherwise.
    """
    import torch

    if isinstance(name, torch.device):
        name = str(name)
    name = (name or "auto").strip().lower()
    if name == "auto":
        return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError as error:
        raise DeviceUnavailableError(f"unknown device {name!r}: expected one of {', '.join(DEVICE_CHOICES)} or cuda:N") from error
    if device.type == "cpu":
        return device
    if device.type != "cuda":
        raise DeviceUnavailableError(f"unsupported device {name!r}: expected one of {', '.join(DEVICE_CHOICES)} or cuda:N")
    if not torch.cuda.is_available():
        raise DeviceUnavailableError(f"device {name!r} was asked for but CUDA is not available here (torch {torch.__version__}); use --device cpu or auto")
    if device.index is not None and device.index >= torch.cuda.device_count():
        raise DeviceUnavailableError(f"device {name!r} was asked for but only {torch.cuda.device_count()} CUDA device(s) exist")
    return device


def check_device(name: str | None) -> None:
    """Refuse a device this machine lacks; ``auto`` and ``cpu`` always exist, so only other names need torch."""
    if (name or "auto").strip().lower() not in ("auto", "cpu"):
        select_device(name)
