"""Time decoding of 1, 8 and 32 subjects (ECG + MRI) as the decoder panel does it, and show where the time goes.

    .venv/bin/python -m benchmarks.decoding [--cohort DIR] [--device cpu|cuda|auto] [--repeats 7]

Models timed:

* ``real-size``: a ``ModelConfig.cpu()`` cross-modal autoencoder (256-d latent, the size the demo
  cohort is trained with) with **random weights**: decoding costs the same whatever the weights.
* ``cohort``: the model a cohort names (``--cohort DIR``), through ``codec_for_cohort`` and on the
  cohort's own latents, as the panel loads it.

Each is timed with torch's default thread count and with one thread (how the panel's forked
background jobs run), after one warm-up call; the table gives the median and the fastest of
``--repeats`` runs. A profile of the 32-subject decode lists the operators that take the time.
On a CUDA device the GPU path is timed too (``--device cuda`` or ``auto`` where one exists), with
``torch.cuda.synchronize`` inside the timing. Goal: 32 subjects, both modalities, ≤ 250 ms.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from models.autoencoder import CrossModalAutoencoder
from models.config import ModelConfig
from models.decoding import LatentCodec
from models.device import select_device

COUNTS = (1, 8, 32)
GOAL_MS = 250.0


def time_decode(codec: LatentCodec, latents: np.ndarray, repeats: int) -> dict[str, float]:
    """Median and fastest wall time (ms) of decoding both modalities, and each modality's median."""
    def once() -> tuple[float, float]:
        started = time.perf_counter()
        codec.decode(latents, "ecg")
        _synchronise(codec.device)
        middle = time.perf_counter()
        codec.decode(latents, "mri")
        _synchronise(codec.device)
        return middle - started, time.perf_counter() - middle

    once()  # warm-up: allocator, kernels, first-touch memory
    runs = [once() for _ in range(repeats)]
    totals = [1000 * (ecg + mri) for ecg, mri in runs]
    return {"median": statistics.median(totals), "best": min(totals),
            "ecg": 1000 * statistics.median(r[0] for r in runs), "mri": 1000 * statistics.median(r[1] for r in runs)}


def _synchronise(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def profile(codec: LatentCodec, latents: np.ndarray, rows: int = 8) -> str:
    """Operator table (self CPU time) of one decode of both modalities."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if codec.device.type == "cuda" else [])
    with torch_profile(activities=activities) as profiler:
        codec.decode(latents, "ecg")
        codec.decode(latents, "mri")
        _synchronise(codec.device)
    key = "self_cuda_time_total" if codec.device.type == "cuda" else "self_cpu_time_total"
    return profiler.key_averages().table(sort_by=key, row_limit=rows)


def mri_stages(model: CrossModalAutoencoder, latents: np.ndarray, device: torch.device, repeats: int) -> dict[str, float]:
    """Median ms of the MRI decode's stages: the network, the frames and units of the output, and the copy to numpy."""
    times: dict[str, list[float]] = {"network": [], "frames + units (mri_from_model)": [], "to numpy": []}
    with torch.inference_mode():
        batch = torch.from_numpy(latents).to(device)
        for _ in range(repeats + 1):
            started = time.perf_counter()
            raw = model.mri_decoder(batch)
            _synchronise(device)
            network = time.perf_counter()
            cine = model.mri_from_model(raw)
            _synchronise(device)
            units = time.perf_counter()
            cine.float().cpu().numpy().copy()
            done = time.perf_counter()
            for key, value in zip(times, (network - started, units - network, done - units)):
                times[key].append(1000 * value)
    return {key: statistics.median(values[1:]) for key, values in times.items()}


def report(name: str, codec: LatentCodec, latents: np.ndarray, repeats: int, threads: list[int]) -> None:
    default_threads = torch.get_num_threads()
    for count in threads:
        torch.set_num_threads(count)
        label = f"{name} · {codec.device.type} · {count} thread{'s' if count > 1 else ''}"
        for n in COUNTS:
            batch = latents[np.arange(n) % len(latents)]
            times = time_decode(codec, batch, repeats)
            verdict = ("  ✓ goal" if times["median"] <= GOAL_MS else f"  ✗ goal is ≤ {GOAL_MS:.0f} ms") if n == 32 else ""
            print(f"{label:<42} {n:>3} subjects: median {times['median']:7.1f} ms  best {times['best']:7.1f} ms  "
                  f"(ECG {times['ecg']:6.1f} ms, MRI {times['mri']:6.1f} ms){verdict}")
    torch.set_num_threads(default_threads)


def panel_views(cohort, repeats: int) -> None:
    """Server time of the panel's heaviest views on the cohort: decode + measures + figures (+ JSON, as Dash sends it)."""
    import tempfile

    import plotly.io

    from app.config import AppConfig
    from app.context import AppContext
    from app.panels.decoder import choices as decoder_choices
    from app.panels.decoder import settings as decoder_settings
    from app.panels.decoder import views as decoder_views
    from app.state import EVERYONE

    with tempfile.TemporaryDirectory() as cache:
        context = AppContext(AppConfig(cohort_dir=cohort.root, cache_dir=Path(cache)), cohort)
        subjects = list(cohort.subject_ids[: decoder_settings.MAX_SUBJECTS].astype(str))
        groups = decoder_choices.Groups(a=EVERYONE, b=EVERYONE)
        views = {
            f"subjects view, {len(subjects)} subjects": lambda: decoder_views.decode_subjects_view(context, subjects, "joint", subjects[0]),
            "prototypes view": lambda: decoder_views.prototype_view(context, groups, "joint"),
            "interpolation view, 9 steps": lambda: decoder_views.interpolate_view(context, "proto-a", EVERYONE, "joint", 9, "V5", groups),
        }
        print(f"\npanel views on the cohort (1 thread, as a background job runs them; median of {repeats})")
        torch.set_num_threads(1)
        for name, view in views.items():
            view()
            times = []
            for _ in range(repeats):
                started = time.perf_counter()
                figures = view()
                for figure in figures:
                    if hasattr(figure, "to_plotly_json"):
                        plotly.io.to_json(figure)
                times.append(1000 * (time.perf_counter() - started))
            print(f"  {name:<32} {statistics.median(times):7.1f} ms")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.decoding", description=__doc__.splitlines()[0])
    parser.add_argument("--cohort", type=Path, help="also time this cohort's model on its own latents")
    parser.add_argument("--device", default="cpu", help="cpu (default), cuda or auto")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--no-profile", action="store_true")
    args = parser.parse_args(argv)
    devices = [select_device(args.device)]
    if args.device == "cpu" and torch.cuda.is_available():
        devices.append(torch.device("cuda"))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads by default; CUDA: {torch.cuda.is_available()}")
    rng = np.random.default_rng(0)
    for device in devices:
        config = ModelConfig.cpu()
        torch.manual_seed(0)
        model = CrossModalAutoencoder(config).to(device).eval()
        codec = LatentCodec(model, device)
        latents = rng.normal(size=(32, config.latent_dim)).astype(np.float32)
        threads = sorted({torch.get_num_threads(), 1}, reverse=True) if device.type == "cpu" else [torch.get_num_threads()]
        print(f"\nreal-size ModelConfig.cpu() (latent {config.latent_dim}, random weights) on {device}")
        report("real-size (random weights)", codec, latents, args.repeats, threads)
        if not args.no_profile:
            default_threads = torch.get_num_threads()
            torch.set_num_threads(1 if device.type == "cpu" else default_threads)
            stages = mri_stages(model, latents, device, args.repeats)
            print(f"\nwhere the time goes, 32 subjects on {device}, {torch.get_num_threads()} thread(s): MRI stages "
                  + ", ".join(f"{key} {value:.1f} ms" for key, value in stages.items()))
            print(profile(codec, latents))
            torch.set_num_threads(default_threads)
        if args.cohort:
            from data_loaders import load_cohort
            from models.decoding import codec_for_cohort

            cohort = load_cohort(args.cohort)
            cohort_codec = codec_for_cohort(cohort, device)
            print(f"\ncohort model of {cohort.root} (latent {cohort_codec.latent_dim}) on {device}")
            report("cohort model", cohort_codec, np.asarray(cohort.spaces["joint"][:32]), args.repeats, threads)
            if device.type == "cpu":
                panel_views(cohort, args.repeats)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
