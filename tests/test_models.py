"""Model unit tests on random tensors: shapes, losses, checkpoints, devices, determinism, metrics, predictors.

All CPU, all small: the networks are built at their real sizes but run on a couple of subjects.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from data_loaders.ecg_measures import lead_correlations
from models.autoencoder import CrossModalAutoencoder, LatentModel
from models.checkpoint import load_checkpoint, load_state_dict, save_checkpoint
from models.config import ModelConfig, TrainConfig
from models.data import CohortArrays, arrays_from_memory
from models.decoding import LatentCodec
from models.device import DeviceUnavailableError, select_device
from models.metrics import psnr, qrs_amplitude, ssim
from models.predictors import PredictorSet, fit_predictors, held_out_scores
from models.sources import CONFIG_FILE, WEIGHTS_FILE, CheckpointError
from models.torchscript import ModelShapeError, load_torchscript_model
from models.training import fit

ECG_SHAPE = (600, 12)
MRI_SHAPE = (50, 96, 96)


def _random_inputs(n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn((n, *ECG_SHAPE), generator=generator) * 0.3, torch.rand((n, *MRI_SHAPE), generator=generator)


# --- shapes ------------------------------------------------------------------------------------
@pytest.mark.parametrize("config", [ModelConfig.cpu(), ModelConfig.cpu(latent_dim=32), pytest.param(ModelConfig.gpu(latent_dim=64), marks=pytest.mark.slow)],
                         ids=["cpu", "cpu-d32", "gpu"])
def test_encoders_and_decoders_map_data_shapes_to_the_latent_and_back(config: ModelConfig) -> None:
    model = CrossModalAutoencoder(config).eval()
    ecg, cine = _random_inputs(2)
    with torch.inference_mode():
        z_ecg, z_mri = model.encode_ecg(ecg), model.encode_mri(cine)
        assert z_ecg.shape == z_mri.shape == (2, config.latent_dim)
        assert model.decode_ecg(z_ecg).shape == (2, *ECG_SHAPE)
        decoded = model.decode_mri(z_ecg)
    assert decoded.shape == (2, *MRI_SHAPE)
    assert decoded.min() >= 0 and decoded.max() <= 1  # the cohort's intensity scale
    assert isinstance(model, LatentModel)


def test_the_ten_second_strip_is_a_config_option() -> None:
    config = ModelConfig.cpu(ecg_input="strip", latent_dim=16)
    model = CrossModalAutoencoder(config).eval()
    with torch.inference_mode():
        latent = model.encode_ecg(torch.randn(1, 5000, 12))
        assert latent.shape == (1, 16)
        assert model.decode_ecg(latent).shape == (1, 5000, 12)


def test_config_round_trips_through_json_and_rejects_unknown_settings() -> None:
    config = ModelConfig.gpu(latent_dim=128)
    assert ModelConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    with pytest.raises(ValueError, match="unknown settings.*latent_size"):
        ModelConfig.from_dict({"latent_size": 3})
    with pytest.raises(ValueError, match="divisible"):
        ModelConfig(mri_size=90)


def test_cine_layouts_round_trip_and_interpolate_key_frames() -> None:
    from models import layouts

    config = ModelConfig.cpu()
    cines = torch.rand(2, *MRI_SHAPE)
    target = layouts.decoder_target(cines, config)
    assert target.shape == (2, 48, 48, 25 * 4)  # phase layout: 25 key frames × 2 × 2 sub-pixels
    assert torch.equal(layouts.from_phases(target, config), cines[:, ::2])
    assert layouts.encoder_input(cines, config).shape == (2, 25, 48, 48)
    torch.testing.assert_close(layouts.encoder_input(cines, config)[0, 3, 4, 5], cines[0, 6:8, 8:10, 10:12].mean())
    ramp = torch.arange(4.0).view(1, 4, 1, 1)
    np.testing.assert_allclose(layouts.interpolate_frames(ramp, 2).flatten().numpy(), [0, 0.5, 1, 1.5, 2, 2.5, 3, 1.5])  # cyclic


def test_decoder_output_is_its_training_layout_unshuffled() -> None:
    from models import layouts

    model = CrossModalAutoencoder(ModelConfig.cpu(latent_dim=8)).eval()
    z = torch.randn(2, 8)
    with torch.inference_mode():
        assert torch.equal(model.mri_decoder(z), layouts.from_phases(model.mri_decoder.forward_train(z), model.config))
        decoded = model.decode_mri(z)
        key_frames = model.mri_from_model(model.mri_decoder(z))[:, ::2]
    torch.testing.assert_close(decoded[:, ::2], key_frames)


@pytest.mark.slow
def test_training_losses_are_finite_and_reach_every_part_of_the_model() -> None:
    model = CrossModalAutoencoder(ModelConfig.cpu(latent_dim=16))
    ecg, cine = _random_inputs(4)
    losses = model.losses(model.ecg_to_model(ecg), model.mri_to_model(cine), model.mri_target(cine), TrainConfig(fused_probability=0.0), torch.Generator().manual_seed(0))
    assert set(losses) == {"loss", "ecg", "mri", "contrastive"}
    assert all(torch.isfinite(value) for value in losses.values())
    losses["loss"].backward()
    for name in ("ecg_encoder", "mri_encoder", "ecg_decoder", "mri_decoder"):
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in getattr(model, name).parameters()), name
    assert model.logit_scale.grad is not None  # the temperature is learned


@pytest.mark.slow
def test_the_cine_loss_is_mean_squared_or_mean_absolute_error_as_configured() -> None:
    model = CrossModalAutoencoder(ModelConfig.cpu(latent_dim=16))
    ecg, cine = _random_inputs(4)
    inputs = (model.ecg_to_model(ecg), model.mri_to_model(cine), model.mri_target(cine))
    by_loss = {}
    for name in ("mse", "l1"):
        by_loss[name] = model.losses(*inputs, TrainConfig(fused_probability=1.0, mri_loss=name), torch.Generator().manual_seed(0))["mri"]
    latent = (model.ecg_encoder(inputs[0]) + model.mri_encoder(inputs[1])) / 2  # fused_probability 1: the mean of both
    decoded = model.mri_decoder.forward_train(latent)
    assert torch.allclose(by_loss["mse"], ((decoded - inputs[2]) ** 2).mean())
    assert torch.allclose(by_loss["l1"], (decoded - inputs[2]).abs().mean())
    with pytest.raises(ValueError, match="mri_loss must be one of"):
        TrainConfig(mri_loss="huber")


def test_contrastive_loss_rewards_matching_pairs() -> None:
    model = CrossModalAutoencoder(ModelConfig.cpu(latent_dim=8))
    z = torch.randn(16, 8, generator=torch.Generator().manual_seed(1))
    assert model.contrastive_loss(z, z) < model.contrastive_loss(z, z.roll(1, dims=0))


# --- checkpoints -------------------------------------------------------------------------------
def test_checkpoint_round_trip_restores_identical_outputs(tmp_path: Path) -> None:
    model = CrossModalAutoencoder(ModelConfig.cpu(latent_dim=16)).eval()
    model.set_normalization(torch.full((12,), 0.1), torch.full((12,), 0.5), 0.3, 0.2)
    save_checkpoint(tmp_path / "model", model, train_config=TrainConfig(epochs=3), ecg_leads=("I", "II"), metadata={"note": "test"})
    assert sorted(p.name for p in (tmp_path / "model").iterdir()) == [CONFIG_FILE, WEIGHTS_FILE]
    loaded = load_checkpoint(tmp_path / "model", device="cpu")
    assert loaded.model_config == model.config
    assert loaded.train_config == TrainConfig(epochs=3)
    assert loaded.ecg_leads == ("I", "II") and loaded.metadata == {"note": "test"}
    assert not loaded.model.training
    ecg, cine = _random_inputs(2)
    with torch.inference_mode():
        assert torch.equal(loaded.model.encode_ecg(ecg), model.encode_ecg(ecg))
        assert torch.equal(loaded.model.decode_mri(model.encode_mri(cine)), model.decode_mri(model.encode_mri(cine)))


class _PlantsAFile:
    """Unpickling this object would create a file: what a malicious checkpoint could do."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_a_checkpoint_holding_a_pickled_object_is_refused_without_running_it(tmp_path: Path) -> None:
    model = CrossModalAutoencoder(ModelConfig.cpu(latent_dim=16))
    folder = save_checkpoint(tmp_path / "model", model)
    marker = tmp_path / "pwned"
    torch.save({**model.state_dict(), "payload": _PlantsAFile(marker)}, folder / WEIGHTS_FILE)
    with pytest.raises(CheckpointError, match=r"weights\.pt: refused: the file holds Python objects other than tensors"):
        load_checkpoint(folder, device="cpu")
    assert not marker.exists()


def test_checkpoint_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match=r"config\.json: no such file"):
        load_checkpoint(tmp_path, device="cpu")
    torch.save({"weight": torch.ones(2), "step": 3}, tmp_path / "odd.pt")
    with pytest.raises(CheckpointError, match="expected a state dict"):
        load_state_dict(tmp_path / "odd.pt")
    folder = save_checkpoint(tmp_path / "model", CrossModalAutoencoder(ModelConfig.cpu(latent_dim=16)))
    config = json.loads((folder / CONFIG_FILE).read_text())
    config["model"]["latent_dim"] = 32
    (folder / CONFIG_FILE).write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="weights do not fit the model"):
        load_checkpoint(folder, device="cpu")


# --- devices -----------------------------------------------------------------------------------
def test_auto_device_is_cpu_without_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert select_device("auto") == torch.device("cpu")
    assert select_device(None) == torch.device("cpu")
    assert select_device("cpu") == torch.device("cpu")


def test_auto_device_prefers_cuda_when_present(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert select_device("auto") == torch.device("cuda")


def test_explicit_cuda_without_cuda_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(DeviceUnavailableError, match="'cuda' was asked for but CUDA is not available"):
        select_device("cuda")
    with pytest.raises(DeviceUnavailableError, match="unsupported device 'meta'|unknown device"):
        select_device("meta")
    with pytest.raises(DeviceUnavailableError, match="unknown device 'gpu0'"):
        select_device("gpu0")


# --- training ------------------------------------------------------------------------------------
TINY = ModelConfig.cpu(latent_dim=16, ecg_channels=(8, 8, 8, 8), mri_channels=(8, 8, 8), mri_decoder_channels=(8, 8, 8, 8))


def _fake_arrays(n: int = 24, seed: int = 0) -> CohortArrays:
    """Cines with a pulsing disc and ECG bumps whose size depends on a hidden variable."""
    rng = np.random.default_rng(seed)
    size = rng.uniform(0.5, 1.5, n)
    t = np.linspace(0, 1.2, 600)
    ecg = size[:, None, None] * np.exp(-(((t - 0.4) / 0.03) ** 2))[None, :, None] * np.linspace(-1, 1, 12)[None, None, :]
    ecg = (ecg + rng.normal(0, 0.02, ecg.shape)).astype(np.float32)
    yy, xx = np.mgrid[0:96, 0:96]
    radius = 8 + 6 * size[:, None] * (1 - 0.3 * np.sin(np.linspace(0, np.pi, 50)))[None, :]
    cines = ((yy - 48) ** 2 + (xx - 48) ** 2)[None, None] < radius[..., None, None] ** 2
    cines = cines.astype(np.float32) * 0.8 + 0.1
    return arrays_from_memory([f"S{i:03d}" for i in range(n)], ecg, cines, TINY)


@pytest.mark.slow
def test_training_is_deterministic_on_cpu_for_a_seed() -> None:
    arrays = _fake_arrays()
    ids = arrays.subject_ids
    settings = TrainConfig(epochs=2, batch_size=8, seed=3)
    first = fit(arrays, ids[:16], ids[16:], TINY, settings, device="cpu")
    second = fit(arrays, ids[:16], ids[16:], TINY, settings, device="cpu")
    other = fit(arrays, ids[:16], ids[16:], TINY, TrainConfig(epochs=2, batch_size=8, seed=4), device="cpu")
    for name, tensor in first.model.state_dict().items():
        assert torch.equal(tensor, second.model.state_dict()[name]), name
    assert any(not torch.equal(t, other.model.state_dict()[k]) for k, t in first.model.state_dict().items())
    assert first.history == [{**h, "seconds": first.history[i]["seconds"]} for i, h in enumerate(second.history)]


@pytest.mark.slow
def test_training_reduces_the_loss_and_keeps_the_best_epoch() -> None:
    arrays = _fake_arrays(32)
    ids = arrays.subject_ids
    result = fit(arrays, ids[:24], ids[24:], TINY, TrainConfig(epochs=6, batch_size=8, learning_rate=3e-3), device="cpu")
    losses = [h["val_loss"] for h in result.history]
    assert losses[-1] < losses[0]
    assert result.best_epoch == int(np.argmin(losses)) + 1
    assert not result.model.training


@pytest.mark.slow
def test_early_stopping_stops_when_validation_does_not_improve() -> None:
    arrays = _fake_arrays()
    ids = arrays.subject_ids
    result = fit(arrays, ids[:16], ids[16:], TINY, TrainConfig(epochs=8, batch_size=8, learning_rate=1e-9, patience=1, min_delta=10.0), device="cpu")
    assert result.stopped == "early stopping"
    assert len(result.history) == 2 and result.best_epoch == 1


def test_training_refuses_arrays_that_do_not_fit_the_model() -> None:
    arrays = _fake_arrays(8)
    arrays.ecg = arrays.ecg[:, :500]
    with pytest.raises(ValueError, match=r"ECGs are \(500, 12\).*expects \(600, 12\)"):
        fit(arrays, arrays.subject_ids, [], TINY, TrainConfig(epochs=1, batch_size=4), device="cpu")
    with pytest.raises(ValueError, match="cines were loaded for another layout"):
        fit(_fake_arrays(8), [f"S{i:03d}" for i in range(8)], [], ModelConfig.cpu(latent_dim=16, mri_frame_step=1), TrainConfig(epochs=1, batch_size=4), device="cpu")


# --- the codec -----------------------------------------------------------------------------------
def test_codec_decodes_numpy_latents_in_batches_into_data_units() -> None:
    model = CrossModalAutoencoder(TINY).eval()
    codec = LatentCodec(model, torch.device("cpu"), batch_size=3)
    latents = np.random.default_rng(0).normal(size=(7, 16)).astype(np.float32)
    latents.setflags(write=False)  # the cohort's spaces are read-only
    ecg, cines = codec.decode(latents, "ecg"), codec.decode(latents, "mri")
    assert ecg.shape == (7, *ECG_SHAPE) and ecg.dtype == np.float32
    assert cines.shape == (7, *MRI_SHAPE) and cines.min() >= 0 and cines.max() <= 1
    with torch.inference_mode():
        expected = model.decode_ecg(torch.from_numpy(latents[4:6].copy())).numpy()
    np.testing.assert_allclose(ecg[4:6], expected, rtol=1e-5, atol=1e-6)
    assert codec.encode(ecg, "ecg").shape == (7, 16)
    with pytest.raises(ValueError, match=r"latents of shape \(n, 16\)"):
        codec.decode(latents[:, :4], "ecg")
    with pytest.raises(ValueError, match="modality must be one of"):
        codec.decode(latents, "pet")  # type: ignore[arg-type]


# --- TorchScript models ------------------------------------------------------------------------------
class _Encoder(nn.Module):
    def __init__(self, size: int, latent_dim: int):
        super().__init__()
        self.linear = nn.Linear(size, latent_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x.flatten(1))


class _Decoder(nn.Module):
    def __init__(self, latent_dim: int, shape: list[int]):
        super().__init__()
        self.shape = shape
        self.linear = nn.Linear(latent_dim, int(np.prod(shape)))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.linear(z).view([z.shape[0]] + self.shape)


def write_torchscript_modules(folder: Path, ecg_shape: tuple[int, ...], mri_shape: tuple[int, ...], latent_dim: int = 4) -> dict[str, Path]:
    """Tiny scripted modules standing in for a research group's own encoders and decoders."""
    folder.mkdir(parents=True, exist_ok=True)
    modules = {
        "ecg_encoder": _Encoder(int(np.prod(ecg_shape)), latent_dim),
        "ecg_decoder": _Decoder(latent_dim, list(ecg_shape)),
        "mri_encoder": _Encoder(int(np.prod(mri_shape)), latent_dim),
        "mri_decoder": _Decoder(latent_dim, list(mri_shape)),
    }
    paths = {}
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning, message=r".*torch\.jit")
        for name, module in modules.items():
            paths[name] = folder / f"{name}.pt"
            torch.jit.save(torch.jit.script(module), str(paths[name]))
    return paths


def test_torchscript_modules_load_behind_the_common_interface(tmp_path: Path) -> None:
    paths = write_torchscript_modules(tmp_path, (60, 12), (5, 8, 8))
    model = load_torchscript_model(paths, (60, 12), (5, 8, 8), torch.device("cpu"))
    assert model.latent_dim == 4
    codec = LatentCodec(model, torch.device("cpu"))
    latents = codec.encode(np.zeros((3, 5, 8, 8), np.float32), "mri")
    assert latents.shape == (3, 4)
    assert codec.decode(latents, "ecg").shape == (3, 60, 12)


def test_torchscript_module_of_the_wrong_shape_is_refused_naming_file_and_shapes(tmp_path: Path) -> None:
    paths = write_torchscript_modules(tmp_path / "good", (60, 12), (5, 8, 8))
    wrong = write_torchscript_modules(tmp_path / "wrong", (60, 12), (4, 8, 8))  # a decoder for 4 frames
    with pytest.raises(ModelShapeError, match=r"wrong/mri_decoder\.pt: mri_decoder: .*expected an output of shape \(2, 5, 8, 8\), got \(2, 4, 8, 8\)"):
        load_torchscript_model({**paths, "mri_decoder": wrong["mri_decoder"]}, (60, 12), (5, 8, 8), torch.device("cpu"))
    with pytest.raises(ModelShapeError, match=r"wrong/mri_encoder\.pt: mri_encoder failed on an input of shape \(2, 5, 8, 8\)"):
        load_torchscript_model({**paths, "mri_encoder": wrong["mri_encoder"]}, (60, 12), (5, 8, 8), torch.device("cpu"))
    (tmp_path / "garbage.pt").write_bytes(b"not a module")
    with pytest.raises(CheckpointError, match=r"garbage\.pt: not a TorchScript module"):
        load_torchscript_model({**paths, "ecg_encoder": tmp_path / "garbage.pt"}, (60, 12), (5, 8, 8), torch.device("cpu"))


# --- metrics -------------------------------------------------------------------------------------
def test_ssim_matches_a_direct_gaussian_filter_implementation() -> None:
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(0)
    truth = rng.random((2, 32, 32))
    noisy = np.clip(truth + rng.normal(0, 0.1, truth.shape), 0, 1)

    def reference(x: np.ndarray, y: np.ndarray) -> float:
        blur = lambda a: gaussian_filter(a, 1.5, truncate=5 / 1.5)[5:-5, 5:-5]  # noqa: E731 - 11 taps, valid part
        mx, my = blur(x), blur(y)
        vx, vy, cxy = blur(x * x) - mx**2, blur(y * y) - my**2, blur(x * y) - mx * my
        c1, c2 = 0.01**2, 0.03**2
        return float((((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2))).mean())

    values = ssim(noisy, truth)
    assert values.shape == (2,)
    np.testing.assert_allclose(values, [reference(noisy[i], truth[i]) for i in range(2)], rtol=1e-6)
    np.testing.assert_allclose(ssim(truth, truth), 1.0)
    assert ssim(np.clip(truth + rng.normal(0, 0.3, truth.shape), 0, 1), truth).mean() < values.mean()


def test_psnr_and_per_lead_pearson() -> None:
    truth = np.zeros((1, 4, 4))
    np.testing.assert_allclose(psnr(truth + 0.1, truth), [20.0])
    t = np.linspace(0, 1, 100)
    ecg = np.stack([np.sin(6 * t), np.cos(6 * t)], axis=1)[None]
    r = lead_correlations(np.stack([2 * ecg[0, :, 0] + 1, -ecg[0, :, 1]], axis=1)[None], ecg)
    np.testing.assert_allclose(r, [[1.0, -1.0]])
    assert np.isnan(lead_correlations(np.ones_like(ecg), ecg)).all()


def test_qrs_amplitude_measures_the_peak_to_peak_around_the_r_wave() -> None:
    t = np.arange(600) / 500
    beat = np.exp(-(((t - 0.4) / 0.01) ** 2)) - 0.5 * np.exp(-(((t - 0.43) / 0.01) ** 2)) + 0.3 * np.exp(-(((t - 0.7) / 0.05) ** 2))
    ecg = np.repeat(beat[None, :, None], 12, axis=2) * np.array([1.0, 2.0])[:, None, None]
    np.testing.assert_allclose(qrs_amplitude(ecg), [1.5, 3.0], rtol=0.02)


# --- predictors ------------------------------------------------------------------------------------
def _predictor_data(n: int = 300) -> tuple[dict[str, np.ndarray], pd.DataFrame]:
    rng = np.random.default_rng(0)
    latent = rng.normal(size=(n, 6)).astype(np.float32)
    phenotypes = pd.DataFrame(
        {
            "atrial_fibrillation": latent[:, 0] + 0.3 * rng.normal(size=n) > 1.0,
            "lv_mass_g": 150 + 30 * latent[:, 1] + 5 * rng.normal(size=n),
            "split": np.where(np.arange(n) % 5 == 0, "test", "train"),
        },
        index=pd.Index([f"S{i:04d}" for i in range(n)], name="sample_id"),
    )
    return {"joint": latent * 3 + 1, "ecg": latent[:, ::-1].copy()}, phenotypes


def test_predictors_give_every_subject_an_out_of_sample_prediction() -> None:
    spaces, phenotypes = _predictor_data()
    predictors, table = fit_predictors(spaces, phenotypes)
    assert set(predictors.predictors) == {(t, s) for t in ("atrial_fibrillation", "lv_mass_g") for s in ("joint", "ecg")}
    assert len(table) == 2 * 2 * len(phenotypes)
    assert {"sample_id", "task", "space", "prediction", "threshold", "split", "fit"} <= set(table.columns)
    one = table[(table.task == "atrial_fibrillation") & (table.space == "joint")].set_index("sample_id")
    assert (one.loc[phenotypes.index[phenotypes.split == "train"], "fit"] == "cross-fit").all()
    assert (one.loc[phenotypes.index[phenotypes.split == "test"], "fit"] == "held-out").all()
    # training subjects' predictions differ from the full-train fit's in-sample predictions: cross-fitted
    in_sample = predictors[("atrial_fibrillation", "joint")].predict(spaces["joint"])
    train = (phenotypes.split == "train").to_numpy()
    assert not np.allclose(one["prediction"].to_numpy()[train], in_sample[train])
    np.testing.assert_allclose(one["prediction"].to_numpy()[~train], in_sample[~train])
    threshold = predictors[("atrial_fibrillation", "joint")].threshold
    assert 0 < threshold < 1 and (one["threshold"] == threshold).all()
    scores = held_out_scores(table, phenotypes).set_index(["task", "space"])["value"]
    assert scores[("atrial_fibrillation", "joint")] > 0.9 and scores[("lv_mass_g", "joint")] > 0.9


def test_predictors_round_trip_through_json_without_pickle(tmp_path: Path) -> None:
    spaces, phenotypes = _predictor_data()
    predictors, _ = fit_predictors(spaces, phenotypes, metadata={"model_id": "abc"})
    path = predictors.save(tmp_path / "predictors.json")
    assert json.loads(path.read_text())["format"] == "latent-space-explorer/predictors"
    loaded = PredictorSet.load(path)
    assert loaded.metadata["model_id"] == "abc"
    for key, predictor in predictors.predictors.items():
        np.testing.assert_allclose(loaded[key].predict(spaces[key[1]]), predictor.predict(spaces[key[1]]), rtol=1e-12)
        assert loaded[key].threshold == predictor.threshold


def test_predictor_direction_is_the_weight_vector_in_latent_units() -> None:
    spaces, phenotypes = _predictor_data()
    predictors, _ = fit_predictors(spaces, phenotypes)
    predictor = predictors[("lv_mass_g", "joint")]
    direction = predictors.direction("lv_mass_g", "joint")
    assert direction.shape == (6,) and np.isclose(np.linalg.norm(direction), 1)
    assert np.argmax(np.abs(direction)) == 1  # lv_mass_g was made from latent dimension 1
    # one latent unit along the weights changes the prediction by the weight's size
    z = spaces["joint"][:1].astype(np.float64)
    step = predictor.predict(z + predictor.weights / np.linalg.norm(predictor.weights)) - predictor.predict(z)
    np.testing.assert_allclose(step, np.linalg.norm(predictor.weights), rtol=1e-9)
