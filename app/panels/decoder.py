"""Decoder panel: what the model thinks the selected subjects' hearts look like, in both modalities.

Four views share one model: chosen subjects' ECGs and cines beside their reconstructions (from the
joint latent, or cross-modally from one modality's latent), cohort prototypes, a perturbation along
chosen directions, and an interpolation between two prototypes or subjects. Only ids and small
specs travel through the browser; the model and the arrays stay on the server.

Every decode runs as a Dash background callback, so a slow one never holds up anyone else's
requests. The model is loaded once per process (``models.decoding`` caches it); on the CPU it is
loaded when the app starts so that the disk-cache manager's forked jobs inherit it instead of
loading it again. A forked job runs torch on one thread: OpenMP's thread pool does not survive a
fork, and one thread per job also keeps concurrent users from starving each other. On a CUDA
machine the server process never touches CUDA (a forked child could not use it); each job loads
the model itself, so there Celery workers, which live on between jobs, keep it loaded.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import dash
import dash_bootstrap_components as dbc
import numpy as np
import pandas as pd
from dash import Input, Output, State, ctx, dcc, html

from app import validation
from app.context import AppContext
from app.core import decoding
from app.core.ecg_agreement import lead_agreement
from app.core.modalities import where_present
from app.core.what_changed import measured_changes
from app.figures.cine import cine_pair_figure, cine_player, frame_ms_for_heart_rate, greyscale_panel
from app.figures.decoded_views import change_table_rows, change_views, decoded_only_views, subject_views
from app.figures.decoder import agreement_figure, interpolation_strip, prediction_strip_figure
from app.figures.messages import message_figure
from app.state import (
    COHORTS_VERSION,
    CURRENT,
    CURRENT_OPTION,
    DECODE_SUBJECT,
    EVERYONE,
    EVERYONE_OPTION,
    FILTERS,
    REST,
    REST_OPTION,
    SAVED_COHORTS,
    SELECTION,
    SPACE_LABELS,
    check_choice,
    inputs_key,
    resolve_choice,
    saved_cohort_options,
    subject_row,
    triggered,
)
from data_loaders.ecg_measures import MEDIAN_R_PEAK_INDEX, detect_r_peaks_multilead, heart_rate_from_r_peaks, median_beat, median_beats

SPACES = ("joint", "ecg", "mri")
LATENT_NAMES = {"joint": "joint latent", "ecg": "ECG-only latent", "mri": "MRI-only latent"}
LATENT_HELP = {
    "joint": "Both modalities decoded from the subject's joint latent.",
    "ecg": "Cross-modal: both decoded from the ECG's latent alone, so the MRI is predicted from the ECG.",
    "mri": "Cross-modal: both decoded from the MRI's latent alone, so the ECG is predicted from the MRI.",
}
MAX_SUBJECTS = 4
DEFAULT_SUBJECTS = 2
SUBJECT_OPTIONS = 400  # the dropdown lists this many of the source's subjects, nearest its centre first
PRINCIPAL_SLIDERS = 3
DIFFERENCE = "difference"
GRAPH_CONFIG = {"displaylogo": False, "modeBarButtonsToRemove": ["select2d", "lasso2d"]}


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
    loaded_pid: int

    @property
    def device(self) -> str:
        device = self.codec.device
        if device.type == "cuda":
            import torch

            return f"GPU ({torch.cuda.get_device_name(device)})"
        return "CPU"

    @property
    def ecg_is_median(self) -> bool:
        from data_loaders.synthetic.schema import ECG_MEDIAN_SAMPLES

        return self.codec.ecg_shape[0] == ECG_MEDIAN_SAMPLES

    def decode(self, latents: np.ndarray) -> Decoded:
        """Decode both modalities of a batch of latents (n, d); the codec batches them on its device."""
        if os.getpid() != self.loaded_pid:
            import torch

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


def model_problem(context: AppContext, warm: bool = False) -> str | None:
    """Why this cohort cannot be decoded, or None when it can; ``warm`` loads the model now when decoding runs on the CPU.

    A CUDA model is never loaded here: a process that has touched CUDA cannot fork workers that use it.
    """
    cohort = context.cohort
    if not (cohort.has_ecg and cohort.has_mri):
        return "This cohort has no ECG or MRI arrays, so there is nothing to decode."
    missing = [space for space in SPACES if space not in cohort.spaces]
    if missing:
        return f"This cohort has no {', '.join(missing)} latent space yet: run python -m models.encode --cohort DIR."
    from models.checkpoint import CheckpointError
    from models.loading import cohort_model_source

    try:
        cohort_model_source(cohort)
    except CheckpointError as error:
        return f"This cohort has no model to decode with ({error})."
    if warm and expected_device(context.config.device) == "CPU":
        try:
            decoder_models(context)
        except DecoderUnavailable as error:
            return str(error)
    return None


def expected_device(device: str = "auto") -> str:
    """Where decoding will run (``--device``; auto: the first CUDA device when there is one), without initialising CUDA."""
    from models.device import select_device

    return "GPU (CUDA)" if select_device(device).type == "cuda" else "CPU"


@functools.lru_cache(maxsize=4)
def _load_models(context: AppContext) -> DecoderModels:
    from models.checkpoint import CheckpointError
    from models.decoding import codec_for_cohort

    try:
        codec = codec_for_cohort(context.cohort, device=context.config.device)
        predictors = cohort_predictors(context)
    except (CheckpointError, LookupError, OSError, ValueError) as error:
        raise DecoderUnavailable(f"The cohort's model cannot be loaded ({error}). Train one with python -m models.train --cohort DIR.") from error
    return DecoderModels(codec, predictors, os.getpid())


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


# --- which subjects and latents ----------------------------------------------------------------

def subject_choices(context: AppContext, source: str | int | None, filters: list | None, selection: dict | None,
                    count: int = DEFAULT_SUBJECTS) -> tuple[list[dict], list[str]]:
    """Dropdown options for a source's subjects, nearest its centre (joint space) first, and the ``count`` nearest."""
    rows = np.flatnonzero(resolve_choice(context, source, filters, selection))
    space = context.cohort.spaces.get("joint")
    ordered = decoding.closest_to_centre(space, rows, SUBJECT_OPTIONS) if space is not None else rows[:SUBJECT_OPTIONS]
    ids = context.cohort.subject_ids[ordered].astype(str)
    options = [{"label": subject, "value": subject} for subject in ids]
    return options, list(ids[:count])


def with_requested_subject(context: AppContext, options: list[dict], request: object) -> tuple[list[dict], list[str]]:
    """The dropdown's options and value when "Open in Decode" asks for one subject: that subject, listed first."""
    row = subject_row(context, request.get("subject") if isinstance(request, dict) else None)
    if row is None:
        raise validation.InputRefused("Open in Decode: the request names no subject")
    subject = str(context.cohort.subject_ids[row])
    return [{"label": subject, "value": subject}, *(option for option in options if option["value"] != subject)], [subject]


def subject_rows(context: AppContext, subject_ids: Sequence[str]) -> np.ndarray:
    rows = context.cohort.subject_ids.get_indexer([str(s) for s in subject_ids])
    if (rows < 0).any():
        raise KeyError(f"unknown subject ids: {[s for s, r in zip(subject_ids, rows) if r < 0]}")
    return rows


@dataclass(frozen=True)
class Groups:
    """What "prototype A" and "prototype B" mean now: the prototype tab's choices and the current cohort."""

    a: str | int | None = CURRENT
    b: str | int | None = REST
    kind: str = "mean"
    filters: tuple = ()
    selection: dict | None = None

    def masks(self, context: AppContext) -> tuple[np.ndarray, np.ndarray]:
        mask_a = resolve_choice(context, self.a, list(self.filters), self.selection)
        mask_b = resolve_choice(context, self.b, list(self.filters), self.selection, other=mask_a)
        return mask_a, mask_b


def group_label(context: AppContext, choice: str | int | None, saved_names: dict[int, str] | None = None) -> str:
    if choice in (CURRENT, None):
        return "current cohort"
    if choice == REST:
        return "everyone else"
    if choice == EVERYONE:
        return "everyone"
    names = saved_names if saved_names is not None else {saved.id: saved.label for saved in context.store.list()}
    return names.get(choice, f"cohort {choice}")


def endpoint_latent(context: AppContext, endpoint: str, space: str, groups: Groups) -> tuple[np.ndarray, str]:
    """The latent (and a label) of an interpolation or perturbation endpoint: a prototype, everyone's mean or a subject."""
    latents = context.cohort.spaces[space]
    if endpoint in ("proto-a", "proto-b"):
        mask_a, mask_b = groups.masks(context)
        mask, choice = (mask_a, groups.a) if endpoint == "proto-a" else (mask_b, groups.b)
        if not mask.any():
            raise ValueError(f"{'Cohort A' if endpoint == 'proto-a' else 'Cohort B'} ({group_label(context, choice)}) is empty: "
                             "lasso subjects in the explorer or choose other cohorts on the prototypes tab")
        return decoding.cohort_prototype(latents, mask, groups.kind), f"{groups.kind} of {group_label(context, choice)}"
    if endpoint == EVERYONE:
        return decoding.cohort_prototype(latents, np.ones(len(latents), dtype=bool)), "everyone's mean"
    if endpoint.startswith("subject:"):
        subject = endpoint.split(":", 1)[1]
        return latents[subject_rows(context, [subject])[0]].copy(), subject
    raise ValueError(f"unknown endpoint {endpoint!r}")


def endpoint_options(subject_ids: Sequence[str] | None) -> list[dict]:
    options = [{"label": "Prototype A (prototypes tab)", "value": "proto-a"}, {"label": "Prototype B (prototypes tab)", "value": "proto-b"},
               {"label": "Everyone's mean", "value": EVERYONE}]
    return options + [{"label": f"Subject {subject}", "value": f"subject:{subject}"} for subject in subject_ids or []]


# --- tables ---------------------------------------------------------------------------------------

def task_label(context: AppContext, task: str) -> str:
    spec = context.variables.get(task)
    label = spec.label if spec is not None else task
    return f"{label} (probability)" if _is_binary(context, task) else (spec.display_label if spec is not None else task)


def _is_binary(context: AppContext, task: str) -> bool:
    spec = context.variables.get(task)
    return spec is not None and spec.type == "binary"


def format_prediction(context: AppContext, task: str, value: float) -> str:
    if not np.isfinite(value):
        return "–"
    return f"{100 * value:.0f}%" if _is_binary(context, task) else f"{value:.1f}"


def format_change(context: AppContext, task: str, change: float) -> str:
    """A prediction's change with an arrow; percentage points for probabilities; "no change" when it rounds to zero."""
    binary = _is_binary(context, task)
    shown = round(100 * change) if binary else round(change, 1)
    if not np.isfinite(change) or shown == 0:
        return "no change"
    return (f"{shown:+d} points" if binary else f"{shown:+.1f}") + (" ↑" if shown > 0 else " ↓")


def prediction_table(context: AppContext, models: DecoderModels, space: str, latents: np.ndarray, columns: Sequence[str],
                     with_change: bool = False) -> pd.DataFrame:
    """Each predictor's output (rows) for each latent (columns); with ``with_change``, the last column minus the first."""
    rows = []
    for task in models.tasks(space):
        values = models.predict(task, space, latents)
        row = {"Predictor": task_label(context, task), **{column: format_prediction(context, task, v) for column, v in zip(columns, values)}}
        if with_change:
            row["Change"] = format_change(context, task, float(values[-1] - values[0]))
        rows.append(row)
    return pd.DataFrame(rows, columns=["Predictor", *columns, *(["Change"] if with_change else [])])


def _table(frame: pd.DataFrame, empty: str) -> dbc.Table | html.Div:
    if frame.empty:
        return html.Div(empty, className="text-muted small")
    return dbc.Table.from_dataframe(frame, striped=True, hover=True, size="sm", className="small mb-0")


def _status(text: str) -> html.Span:
    return html.Span(text, className="text-muted small decoder-timing")


# --- views: what each callback returns -------------------------------------------------------------

def _cine_agreement(true_mri: np.ndarray, decoded_mri: np.ndarray, has_mri: np.ndarray) -> list[decoding.CineAgreement]:
    """LV agreement per subject; a subject without a recorded cine gets its decoded curve only."""
    measured = iter(decoding.cine_agreement(true_mri[has_mri], decoded_mri[has_mri]) if has_mri.any() else [])
    decoded_areas = iter(decoding.lv_area_curves(decoded_mri[~has_mri]) if (~has_mri).any() else [])
    results = []
    for has in has_mri:
        if has:
            results.append(next(measured))
        else:
            area = next(decoded_areas)
            results.append(decoding.CineAgreement(np.full_like(area, np.nan), area, float("nan"), float("nan"), decoding.area_change(area)))
    return results


def _ecg_kwargs(models: DecoderModels) -> dict:
    return {"r_peak_index": 250 if models.ecg_is_median else None}


def _heart_rate(context: AppContext, mask: np.ndarray) -> float | None:
    """The median heart rate (bpm) of the subjects in a mask, when the cohort records one: a decoded cine plays one cycle per RR interval."""
    from data_loaders.synthetic.schema import HEART_RATE

    phenotypes = context.cohort.phenotypes
    if HEART_RATE not in phenotypes.columns or not np.asarray(mask, dtype=bool).any():
        return None
    rate = float(np.nanmedian(phenotypes[HEART_RATE].to_numpy(dtype=np.float64, na_value=np.nan)[np.asarray(mask, dtype=bool)]))
    return rate if np.isfinite(rate) else None


def decode_subjects_view(context: AppContext, subject_ids: Sequence[str] | None, latent_space: str, shown: str | None) -> tuple:
    """(10 s ECG sheet, median-beat sheet, MRI figure, agreement figure, per-subject agreement table, status) for the chosen subjects.

    Both modalities are decoded from the subjects' latents in ``latent_space``: from the ECG-only
    latent the MRI is a cross-modal reconstruction, from the MRI-only latent the ECG is. A model that
    decodes median beats has its beat shown at the original strip's R peaks, labelled so.
    """
    subject_ids = [str(s) for s in (subject_ids or [])][:MAX_SUBJECTS]
    if not subject_ids:
        empty = message_figure("Choose subjects above: lasso them in the explorer, pick ids, or take those closest to the centre")
        return empty, empty, empty, empty, html.Div(), _status("")
    models = decoder_models(context)
    rows = subject_rows(context, subject_ids)
    decoded = models.decode(context.cohort.spaces[latent_space][rows])
    cohort = context.cohort
    has_ecg, has_mri = cohort.ecg_present[rows], cohort.mri_present[rows]
    true_mri = where_present(has_mri, subject_ids, cohort.mri, decoded.mri.shape[1:])
    index = subject_ids.index(shown) if shown in subject_ids else 0
    shown_id = subject_ids[index]
    leads = list(cohort.ecg_leads)
    ecg_from = f"from the {LATENT_NAMES[latent_space]}" + (" (cross-modal)" if latent_space == "mri" else "")
    recorded = [subject for subject, has in zip(subject_ids, has_ecg) if has]
    medians = dict(zip(recorded, cohort.ecg_median(recorded))) if recorded else {}

    def decoded_median(i: int) -> np.ndarray:
        return decoded.ecg[i] if models.ecg_is_median else median_beat(decoded.ecg[i], detect_r_peaks_multilead(cohort.ecg([subject_ids[i]])[0]))

    if has_ecg[index]:
        strip = cohort.ecg([shown_id])[0]
        views = subject_views(shown_id, leads, strip, medians[shown_id], decoded.ecg[index], r_peak_index=MEDIAN_R_PEAK_INDEX, decoded_from=ecg_from)
        strip_sheet, median_sheet, heart_rate = views.strip, views.median, heart_rate_from_r_peaks(detect_r_peaks_multilead(strip))
    else:
        strip_sheet, median_sheet = decoded_only_views(shown_id, leads, decoded.ecg[index], r_peak_index=MEDIAN_R_PEAK_INDEX, decoded_from=ecg_from)
        heart_rate = None
    agreements = [lead_agreement(medians[s], decoded_median(i), leads) if has else [] for i, (s, has) in enumerate(zip(subject_ids, has_ecg))]
    cines = _cine_agreement(true_mri, decoded.mri, has_mri)
    source = {"joint": "joint latent", "ecg": "ECG latent", "mri": "MRI latent"}[latent_space]
    decoded_label = f"decoded from {source}" + (" (cross-modal)" if latent_space == "ecg" else "")
    if has_mri[index]:
        mri_figure = cine_pair_figure(true_mri[index], decoded.mri[index], heart_rate_bpm=heart_rate, decoded_label=decoded_label,
                                      title=f"{shown_id} · 4-chamber cine, original and decoded: same frame, same intensity scale")
    else:
        mri_figure = cine_player([greyscale_panel(decoded_label, decoded.mri[index], colourbar=True)],
                                 frame_ms=frame_ms_for_heart_rate(heart_rate, len(decoded.mri[index])),
                                 title=f"{shown_id} · no cine recorded: decoded only")
    agreement = cines[index]
    correlation = np.array([item.r for item in agreements[index]]) if has_ecg[index] else None
    agreement_plot = agreement_figure(leads, correlation, agreement.truth_area if has_mri[index] else None, agreement.decoded_area,
                                      ecg_label="ECG" + (" (cross-modal)" if latent_space == "mri" else ""),
                                      mri_label="MRI" + (" (cross-modal)" if latent_space == "ecg" else ""))

    def worst(items: list) -> str:
        scored = [item for item in items if not item.r_reason]
        return f"{min(scored, key=lambda item: item.r).r:.2f} ({min(scored, key=lambda item: item.r).lead})" if scored else "–"

    summary = pd.DataFrame(
        {
            "Subject": subject_ids,
            "ECG r (median, leads ≥ 0.3 mV)": [f"{np.median([i.r for i in items if not i.r_reason]):.2f}" if any(not i.r_reason for i in items) else "–"
                                               for items in agreements],
            "ECG r (worst lead)": [worst(items) for items in agreements],
            "ECG RMSE (µV, median of leads)": [f"{np.median([i.rmse_uv for i in items]):.0f}" if items else "–" for items in agreements],
            "LV area curve r": [f"{c.curve_correlation:.2f}" if np.isfinite(c.curve_correlation) else "–" for c in cines],
            "LV FAC original": [f"{c.truth_fac:.2f}" if np.isfinite(c.truth_fac) else "–" for c in cines],
            "LV FAC decoded": [f"{c.decoded_fac:.2f}" if np.isfinite(c.decoded_fac) else "–" for c in cines],
        }
    )
    missing = [f"no {kind} recorded for {subject}" for subject, e, m in zip(subject_ids, has_ecg, has_mri) for kind, has in (("ECG", e), ("cine", m)) if not has]
    what = f"{len(subject_ids)} subject{'s' if len(subject_ids) > 1 else ''} (ECG + MRI{'; ' + ', '.join(missing) if missing else ''})"
    return strip_sheet, median_sheet, mri_figure, agreement_plot, _table(summary, ""), _status(decoded.status(what))


def _change_outputs(context: AppContext, models: DecoderModels, space: str, latents: np.ndarray, labels: tuple[str, str],
                    decoded: Decoded, heart_rate: float | None, title: str) -> tuple:
    """(A − B ECG sheet, A / B / A − B cine, tables) for two decoded latents (A first)."""
    predictions = {task_label(context, task): (*(float(v) for v in models.predict(task, space, latents)),
                                               "probability" if _is_binary(context, task) else _unit(context, task))
                   for task in models.tasks(space)}
    beats = decoded.ecg if models.ecg_is_median else median_beats(decoded.ecg)
    views = change_views(*labels, list(context.cohort.ecg_leads), beats[0], beats[1], decoded.mri[0], decoded.mri[1],
                         r_peak_index=MEDIAN_R_PEAK_INDEX, heart_rate_bpm=heart_rate, predictions=predictions, title=title)
    # in B, A order so that the change (last minus first) is A − B
    table = prediction_table(context, models, space, latents[::-1], ["B", "A"], with_change=True).rename(columns={"Change": "A − B"})
    table = table[["Predictor", "A", "B", "A − B"]] if not table.empty else table
    tables = html.Div([
        html.Div(f"A = {labels[0]} · B = {labels[1]}", className="small text-muted mb-1"),
        html.Div("What moved: measured on both decoded hearts the same way (A − B)", className="small fw-semibold mb-1"),
        _table(change_table_rows(views.table), ""),
        html.Div("Predictors", className="small fw-semibold mt-2 mb-1"),
        _table(table, "No predictors were fitted for this space."),
    ])
    return views.ecg, views.cine, tables


def _endpoint_heart_rate(context: AppContext, start: str, groups: Groups) -> float | None:
    """The heart rate of what a perturbation starts from: a prototype's cohort (median) or the subject."""
    if start.startswith("subject:"):
        return _heart_rate(context, np.isin(context.cohort.subject_ids, [start.split(":", 1)[1]]))
    mask_a, mask_b = groups.masks(context)
    return _heart_rate(context, mask_b if start == "proto-b" else mask_a)


def _unit(context: AppContext, task: str) -> str:
    return (context.variables[task].unit or "") if task in context.variables else ""


def prototype_view(context: AppContext, groups: Groups, space: str) -> tuple:
    """(A − B ECG sheet, A / B / A − B cine, tables, status) for the prototypes of groups A and B in a space."""
    models = decoder_models(context)
    mask_a, mask_b = groups.masks(context)
    if not mask_a.any() or not mask_b.any():
        text = "Both cohorts need at least one subject: narrow the current cohort, or choose saved cohorts."
        if groups.b == REST and mask_a.all():
            text = "Cohort A is everyone, so “everyone else” is empty: lasso subjects in the explorer, add a filter, or choose B = Everyone."
        return message_figure(text), message_figure(text), html.Div(), _status("")
    latents = context.cohort.spaces[space]
    saved = {s.id: s.label for s in context.store.list()}
    label_a = f"A: {groups.kind} of {group_label(context, groups.a, saved)} ({int(mask_a.sum()):,})"
    label_b = f"B: {groups.kind} of {group_label(context, groups.b, saved)} ({int(mask_b.sum()):,})"
    stacked = np.stack([decoding.cohort_prototype(latents, mask_a, groups.kind), decoding.cohort_prototype(latents, mask_b, groups.kind)])
    decoded = models.decode(stacked)
    ecg, mri, tables = _change_outputs(context, models, space, stacked, (label_a, label_b), decoded, _heart_rate(context, mask_a),
                                       f"Decoded prototypes in the {SPACE_LABELS[space]} space: median beats, A − B")
    return ecg, mri, tables, _status(decoded.status("2 prototypes"))


def perturbation_directions(context: AppContext, models: DecoderModels, space: str, groups: Groups,
                            choice: str | None) -> tuple[list[decoding.Direction], decoding.Direction | None]:
    """The principal directions of a space and the chosen extra direction (a predictor's, or A − B)."""
    latents = context.cohort.spaces[space]
    principal = _principal(context, space)
    extra = None
    if choice == DIFFERENCE:
        mask_a, mask_b = groups.masks(context)
        if mask_a.any() and mask_b.any():
            extra = decoding.cohort_difference(latents, mask_a, mask_b, "A − B")
    elif choice and choice.startswith("predictor:"):
        task = choice.split(":", 1)[1]
        if task in models.tasks(space):
            extra = decoding.direction(task_label(context, task), models.predictors.direction(task, space), latents)
    return principal, extra


@functools.lru_cache(maxsize=8)
def _principal_cached(context: AppContext, space: str) -> tuple[decoding.Direction, ...]:
    return tuple(decoding.principal_directions(context.cohort.spaces[space], PRINCIPAL_SLIDERS))


def _principal(context: AppContext, space: str) -> list[decoding.Direction]:
    return list(_principal_cached(context, space))


def perturb_view(context: AppContext, start: str, space: str, pc_amounts: Sequence[float | None], choice: str | None,
                 amount: float | None, groups: Groups) -> tuple:
    """(perturbed − start ECG sheet, cine with the difference, tables, status) for a latent before and after moving it along the chosen directions."""
    models = decoder_models(context)
    origin, label = endpoint_latent(context, start, space, groups)
    principal, extra = perturbation_directions(context, models, space, groups, choice)
    directions = [*principal, *([extra] if extra is not None else [])]
    amounts = [float(a or 0.0) for a in pc_amounts][: len(principal)] + ([float(amount or 0.0)] if extra is not None else [])
    moved = decoding.perturb(origin, directions, amounts)
    stacked = np.stack([moved, origin])
    decoded = models.decode(stacked)
    moves = ", ".join(f"{d.name} {a:+g} SD" for d, a in zip(directions, amounts) if a) or "no move yet: use the sliders"
    ecg, mri, tables = _change_outputs(context, models, space, stacked, ("perturbed", f"start: {label}"), decoded,
                                       _endpoint_heart_rate(context, start, groups),
                                       f"Perturbed in the {SPACE_LABELS[space]} space: {moves}")
    return ecg, mri, tables, _status(decoded.status("start and perturbed latents"))


def interpolate_view(context: AppContext, start: str, end: str, space: str, steps: int, lead: str, groups: Groups,
                     progress: Callable[[int, str], None] | None = None) -> tuple:
    """(strip figure, predictor figure, what-changed table, status) for ``steps`` decoded latents between two endpoints."""
    report = progress or (lambda _percent, _text: None)
    models = decoder_models(context)
    report(10, "Finding the endpoints")
    first, first_label = endpoint_latent(context, start, space, groups)
    last, last_label = endpoint_latent(context, end, space, groups)
    path = decoding.interpolate(first, last, int(steps))
    report(30, f"Decoding {len(path)} steps")
    decoded = models.decode(path)
    report(70, "Measuring the LV cavity at each step")
    areas = decoding.lv_area_curves(decoded.mri)
    end_systole = int(np.nanargmin(areas[0])) if np.isfinite(areas[0]).any() else decoded.mri.shape[1] // 3
    labels = [f"{100 * f:.0f}%" for f in np.linspace(0, 1, len(path))]
    labels[0], labels[-1] = f"0%: {first_label}", f"100%: {last_label}"  # the share first: a column title cut to fit keeps it
    report(85, "Drawing")
    strip = interpolation_strip(labels, decoded.ecg, list(context.cohort.ecg_leads), lead, decoded.mri,
                                {"end-diastole": 0, f"end-systole (frame {end_systole})": end_systole},
                                title=f"From {first_label} to {last_label} in the {SPACE_LABELS[space]} space", **_ecg_kwargs(models))
    predictions = {task_label(context, task): models.predict(task, space, path) * (100 if _is_binary(context, task) else 1) for task in models.tasks(space)}
    units = {task_label(context, task): "%" if _is_binary(context, task) else (context.variables[task].unit or "") for task in models.tasks(space)
             if task in context.variables}
    fac = np.array([decoding.area_change(curve) for curve in areas])
    if np.isfinite(fac).any():
        predictions["LV FAC (measured)"] = fac
    chart = prediction_strip_figure(labels, predictions, units)
    ends = np.stack([path[0], path[-1]])
    end_predictions = {task_label(context, task): (*(float(v) for v in models.predict(task, space, ends)),
                                                   "probability" if _is_binary(context, task) else _unit(context, task))
                       for task in models.tasks(space)}
    beats = decoded.ecg if models.ecg_is_median else median_beats(decoded.ecg)
    moved = measured_changes(beats[0], beats[-1], list(context.cohort.ecg_leads), decoded.mri[0], decoded.mri[-1], end_predictions,
                             MEDIAN_R_PEAK_INDEX)
    change = html.Div([html.Div(f"What changed along the path, A − B: A = {first_label} (start), B = {last_label} (end)",
                                className="small fw-semibold mb-1"), _table(change_table_rows(moved), "")])
    return strip, chart, change, _status(decoded.status(f"{len(path)} interpolation steps"))


# --- layout ---------------------------------------------------------------------------------------

def _labelled(label: str, control, width: int | str = True, help_text: str | None = None) -> dbc.Col:
    children = [html.Label(label, htmlFor=control.id, className="small fw-semibold mb-0"), control]
    if help_text:
        children.append(html.Div(help_text, className="form-text small"))
    return dbc.Col(children, md=width if isinstance(width, int) else None, width=None if isinstance(width, int) else width)


def _graph(graph_id: str, height: int) -> dcc.Loading:
    return dcc.Loading(dcc.Graph(id=graph_id, config=GRAPH_CONFIG, figure=message_figure(""), style={"height": f"{height}px"}), delay_show=500)


def _running(text: str) -> dbc.Alert:
    return dbc.Alert([html.Div(text, className="mb-1 small"), dbc.Progress(value=100, striped=True, animated=True, style={"height": "5px"})],
                     color="info", className="py-2 mb-2")


def _space_radio(radio_id: str, value: str = "joint") -> dbc.RadioItems:
    return dbc.RadioItems(id=radio_id, options=[{"label": SPACE_LABELS[s], "value": s} for s in SPACES], value=value, inline=True, className="small")


def _subjects_tab() -> html.Div:
    return html.Div(
        [
            dbc.Row(
                [
                    _labelled("Subjects from", dcc.Dropdown(id="decoder-source", value=CURRENT, clearable=False), 3),
                    _labelled(f"Subjects (up to {MAX_SUBJECTS})", dcc.Dropdown(id="decoder-subjects", multi=True, placeholder="type or pick subject ids"), 5,
                              help_text="Lasso subjects in Explore: the two nearest the selection's centre are decoded first."),
                    dbc.Col(dbc.Button("Closest to the centre", id="decoder-closest", size="sm", color="secondary", outline=True,
                                       title="The subjects whose latents lie nearest the source's mean"), width="auto", className="align-self-end"),
                ],
                className="g-2 mb-2",
            ),
            dbc.Row(
                [
                    dbc.Col([html.Div("Decode from the latent of", className="small fw-semibold"), _space_radio("decoder-latent"),
                             html.Div(id="decoder-latent-help", className="form-text small")], md=7),
                    dbc.Col([html.Div("Show", className="small fw-semibold"), dbc.RadioItems(id="decoder-shown", inline=True, className="small")], md=5),
                ],
                className="g-2 mb-2",
            ),
            html.Div(id="decoder-subject-progress"),
            html.Div(id="decoder-subject-status", className="mb-1"),
            html.Div(id="decoder-subject-table", className="mb-2 decoder-table"),
            _graph("decoder-ecg", 780),
            dbc.Row([dbc.Col(_graph("decoder-ecg-median", 610), lg=7), dbc.Col(_graph("decoder-agreement", 380), lg=5)], className="g-2"),
            _graph("decoder-mri", 420),
        ]
    )


def _help(text: str) -> html.P:
    return html.P(text, className="text-muted small mb-2")


def _prototypes_tab() -> html.Div:
    return html.Div(
        [
            _help("A prototype is the decoded mean latent (or the medoid subject's) of a cohort: what the model thinks a typical heart of "
                  "that cohort looks like. Save cohorts in the sidebar to compare them, e.g. atrial fibrillation against everyone else."),
            dbc.Row(
                [
                    _labelled("Cohort A", dcc.Dropdown(id="decoder-proto-a", value=CURRENT, clearable=False), 3),
                    _labelled("Cohort B", dcc.Dropdown(id="decoder-proto-b", value=REST, clearable=False), 3),
                    dbc.Col([html.Div("Prototype", className="small fw-semibold"),
                             dbc.RadioItems(id="decoder-proto-kind", options=[{"label": "mean latent", "value": "mean"},
                                                                              {"label": "medoid subject", "value": "medoid"}],
                                            value="mean", inline=True, className="small")], md=3),
                    dbc.Col([html.Div("Space", className="small fw-semibold"), _space_radio("decoder-proto-space")], md=3),
                ],
                className="g-2 mb-2",
            ),
            *_decoded_views("proto", "What changed from B to A"),
        ]
    )


def _decoded_views(name: str, table_title: str) -> list:
    """Progress, status, the 12-lead ECG, the cine and a predictor table: what the prototype and perturbation tabs show."""
    return [
        html.Div(id=f"decoder-{name}-progress"),
        html.Div(id=f"decoder-{name}-status", className="mb-1"),
        dbc.Row([dbc.Col(_graph(f"decoder-{name}-ecg", 810), lg=8),
                 dbc.Col([html.Div(table_title, className="small fw-semibold mb-1"), html.Div(id=f"decoder-{name}-table")], lg=4)],
                className="g-2"),
        _graph(f"decoder-{name}-mri", 420),
    ]


def _slider(slider_id: str) -> dcc.Slider:
    return dcc.Slider(id=slider_id, min=-3, max=3, step=0.25, value=0, marks={v: f"{v:+d}" if v else "0" for v in range(-3, 4)},
                      tooltip={"placement": "bottom", "always_visible": False}, updatemode="mouseup")


def _perturb_tab() -> html.Div:
    principal = [dbc.Col([html.Div(f"PC {i + 1} (SD)", className="small fw-semibold"), _slider(f"decoder-pc-{i}")], md=4) for i in range(PRINCIPAL_SLIDERS)]
    return html.Div(
        [
            _help("Move a prototype or a subject through the latent space and decode it live: along the space's principal components, "
                  "along a predictor's direction (its prediction rises that way) or from cohort B's mean towards A's. "
                  "Amounts are in standard deviations of the population along each direction."),
            dbc.Row(
                [
                    _labelled("Start from", dcc.Dropdown(id="decoder-perturb-start", value="proto-a", clearable=False), 4),
                    dbc.Col([html.Div("Space", className="small fw-semibold"), _space_radio("decoder-perturb-space")], md=5),
                    dbc.Col(dbc.Button("Reset sliders", id="decoder-perturb-reset", size="sm", color="secondary", outline=True), width="auto",
                            className="align-self-end"),
                ],
                className="g-2 mb-2",
            ),
            dbc.Row(principal, className="g-2"),
            dbc.Row(
                [
                    _labelled("Along", dcc.Dropdown(id="decoder-direction", clearable=True, placeholder="a predictor's direction, or A − B"), 4),
                    dbc.Col([html.Div("Amount (population SDs along it)", className="small fw-semibold"), _slider("decoder-direction-amount")], md=8),
                ],
                className="g-2 mb-2",
            ),
            *_decoded_views("perturb", "What changed: perturbed (A) − start (B)"),
        ]
    )


def _interpolate_tab(context: AppContext) -> html.Div:
    leads = list(context.cohort.ecg_leads) if context.cohort.has_ecg else []
    return html.Div(
        [
            _help("A straight path between two prototypes or subjects, decoded at every step: the chosen lead's beat (the other steps' "
                  "beats faintly behind it), the cine at end-diastole and end-systole, where the end-diastolic image has grown brighter (red) or "
                  "darker (blue) since the start, and each predictor's output along the path."),
            dbc.Row(
                [
                    _labelled("From", dcc.Dropdown(id="decoder-interp-from", value="proto-a", clearable=False), 3),
                    _labelled("To", dcc.Dropdown(id="decoder-interp-to", value="proto-b", clearable=False), 3),
                    dbc.Col([html.Div("Space", className="small fw-semibold"), _space_radio("decoder-interp-space")], md=3),
                    _labelled("ECG lead shown", dcc.Dropdown(id="decoder-interp-lead", options=leads, value="V5" if "V5" in leads else (leads[0] if leads else None),
                                                             clearable=False), 3),
                ],
                className="g-2 mb-2",
            ),
            dbc.Row(
                [
                    dbc.Col([html.Div("Steps", className="small fw-semibold"),
                             dcc.Slider(id="decoder-interp-steps", min=3, max=9, step=1, value=5, marks={v: str(v) for v in range(3, 10)})], md=4),
                    dbc.Col(dbc.Button("Decode again", id="decoder-interp-run", color="primary", size="sm",
                                       title="Decode the path again from the prototypes as they are now"), width="auto", className="align-self-center"),
                    dbc.Col(html.Div(id="decoder-interp-run-help", className="form-text small mt-0",
                                     children="The path is decoded again by itself when From, To, the space, the steps or the lead change. "
                                              "Prototype endpoints use the cohorts chosen on the Cohort prototypes tab and the current filters "
                                              "and selection as they were then: after changing those, press Decode again."),
                            className="align-self-center"),
                ],
                className="g-2 mb-2",
            ),
            html.Div(dbc.Progress(id="decoder-interp-bar", value=0, label="", style={"height": "18px"}), id="decoder-interp-progress",
                     style={"display": "none"}, className="mb-2"),
            html.Div(id="decoder-interp-status", className="mb-1"),
            _graph("decoder-interp-strip", 640),
            html.Div("Each predictor's output along the path, and the LV fractional area change measured on each decoded cine",
                     className="small fw-semibold mt-2"),
            _graph("decoder-interp-predictions", 220),
            html.Div(id="decoder-interp-change", className="mt-2 decoder-table"),
        ]
    )


def _device_line(problem: str | None, device_setting: str) -> html.Div:
    if problem:
        return dbc.Alert(problem, color="warning", className="py-2")
    device = expected_device(device_setting)
    note = " (no CUDA GPU found)" if device == "CPU" else ""
    return html.Div([dbc.Badge(f"Decoding on {device}", color="info", className="me-2", id="decoder-device"),
                     html.Span(f"{note} · the model is loaded once per process · each view says how long its decode took".lstrip(" ·"),
                               className="text-muted small")],
                    className="mb-2")


def layout(context: AppContext) -> html.Div:
    problem = model_problem(context, warm=True)  # a broken model is named in the page, not only in the server log
    return html.Div(
        [
            _device_line(problem, context.config.device),
            dbc.Tabs(
                [
                    dbc.Tab(_subjects_tab(), label="Subjects", tab_id="subjects"),
                    dbc.Tab(_prototypes_tab(), label="Cohort prototypes", tab_id="prototypes"),
                    dbc.Tab(_perturb_tab(), label="Perturb", tab_id="perturb"),
                    dbc.Tab(_interpolate_tab(context), label="Interpolate", tab_id="interpolate"),
                ],
                id="decoder-tabs",
                active_tab="subjects",
                className="mb-2",
            ),
            *[dcc.Store(id=f"decoder-{view}-request") for view in ("subject", "proto", "perturb", "interp")],
            dcc.Store(id="decoder-choices-for"),  # what the subject choices were last computed for
        ],
        id="decoder-panel",
    )


# --- callbacks ------------------------------------------------------------------------------------

def _visible(main_tab: str | None, decoder_tab: str | None, wanted: str) -> bool:
    return main_tab == "decoder" and decoder_tab == wanted


def register(app: dash.Dash, context: AppContext) -> None:
    problem = model_problem(context, warm=True)  # on the CPU the model is loaded now, so forked background jobs inherit it

    @app.callback(
        Output("decoder-source", "options"),
        Output("decoder-proto-a", "options"),
        Output("decoder-proto-b", "options"),
        Input(SAVED_COHORTS, "options"),
    )
    def _cohort_options(saved_options):
        sources = saved_cohort_options(saved_options, CURRENT_OPTION, EVERYONE_OPTION)
        return sources, sources, saved_cohort_options(saved_options, REST_OPTION, EVERYONE_OPTION, CURRENT_OPTION)

    @app.callback(
        Output("decoder-subjects", "options"),
        Output("decoder-subjects", "value"),
        Output("decoder-choices-for", "data"),
        Input("decoder-source", "value"),
        Input("decoder-closest", "n_clicks"),
        Input(FILTERS, "data"),
        Input(SELECTION, "data"),
        Input(COHORTS_VERSION, "data"),
        Input("main-tabs", "active_tab"),
        Input(DECODE_SUBJECT, "data"),
        State("decoder-choices-for", "data"),
    )
    def _subject_choices(source, closest, filters, selection, version, main_tab, requested, computed_for):
        # Hidden: a selection or filter change costs nothing until the tab is opened; opening it again with
        # nothing changed keeps the subjects the user picked (or the one opened from the search box).
        inputs = inputs_key(source, closest, filters, selection, version, requested)
        if main_tab != "decoder" or (ctx.triggered_id == "main-tabs" and inputs == computed_for):
            return dash.no_update, dash.no_update, dash.no_update
        count = MAX_SUBJECTS - 1 if ctx.triggered_id == "decoder-closest" else DEFAULT_SUBJECTS
        options, chosen = subject_choices(context, source, filters, selection, count)
        if DECODE_SUBJECT in triggered():
            options, chosen = with_requested_subject(context, options, requested)
        return options, chosen, inputs

    @app.callback(Output("decoder-tabs", "active_tab"), Input(DECODE_SUBJECT, "data"), prevent_initial_call=True)
    def _show_requested_subject(_request):
        return "subjects"

    @app.callback(
        Output("decoder-shown", "options"),
        Output("decoder-shown", "value"),
        Output("decoder-latent-help", "children"),
        Input("decoder-subjects", "value"),
        Input("decoder-latent", "value"),
        State("decoder-shown", "value"),
    )
    def _shown_choices(subject_ids, latent, shown):
        subject_ids = [str(s) for s in subject_ids or []][:MAX_SUBJECTS]
        return ([{"label": s, "value": s} for s in subject_ids], shown if shown in subject_ids else (subject_ids[0] if subject_ids else None),
                LATENT_HELP.get(latent, ""))

    @app.callback(
        Output("decoder-perturb-start", "options"),
        Output("decoder-interp-from", "options"),
        Output("decoder-interp-to", "options"),
        Input("decoder-subjects", "value"),
    )
    def _endpoint_choices(subject_ids):
        options = endpoint_options([str(s) for s in subject_ids or []][:MAX_SUBJECTS])
        return options, options, options

    @app.callback(Output("decoder-direction", "options"), Input("decoder-perturb-space", "value"))
    def _direction_choices(space):
        options = [{"label": "Cohort difference: mean of A − mean of B (prototypes tab)", "value": DIFFERENCE}]
        if problem is None:
            options += [{"label": f"↑ {task_label(context, task)} predictor", "value": f"predictor:{task}"} for task in predictor_tasks(context, space)]
        return options

    @app.callback(
        *[Output(f"decoder-pc-{i}", "value") for i in range(PRINCIPAL_SLIDERS)],
        Output("decoder-direction-amount", "value"),
        Input("decoder-perturb-reset", "n_clicks"),
        prevent_initial_call=True,
    )
    def _reset(_clicks):
        return [0] * (PRINCIPAL_SLIDERS + 1)

    def gate(request_id: str, tab: str, names: Sequence[str], inputs: Sequence, states: Sequence = ()) -> None:
        """A cheap callback that passes a decode request on only while its view is visible and only when it changed.

        The background decode listens to the request alone, so nothing is forked or decoded for a
        hidden view, and coming back to an unchanged view decodes nothing again.
        """
        @app.callback(Output(request_id, "data"), *inputs, Input("main-tabs", "active_tab"), Input("decoder-tabs", "active_tab"), *states,
                      State(request_id, "data"))
        def _pass_on(*values):
            *settings, main_tab, decoder_tab = values[: len(inputs) + 2]
            settings += list(values[len(inputs) + 2 : -1])
            request = dict(zip(names, settings))
            if problem or not _visible(main_tab, decoder_tab, tab) or request == values[-1]:
                return dash.no_update
            for group in ("a", "b"):
                if group in request:  # the job checks again, as the requester; refused here, no job is queued
                    check_choice(context, request[group], f"cohort {group.upper()}")
            return request

    def groups_of(request: dict) -> Groups:
        return Groups(request.get("a", CURRENT), request.get("b", REST), request.get("kind") or "mean", tuple(request.get("filters") or ()),
                      request.get("selection"))

    gate("decoder-subject-request", "subjects", ("subjects", "latent", "shown"),
         [Input("decoder-subjects", "value"), Input("decoder-latent", "value"), Input("decoder-shown", "value")])

    @app.callback(
        Output("decoder-ecg", "figure"),
        Output("decoder-ecg-median", "figure"),
        Output("decoder-mri", "figure"),
        Output("decoder-agreement", "figure"),
        Output("decoder-subject-table", "children"),
        Output("decoder-subject-status", "children"),
        Input("decoder-subject-request", "data"),
        background=True,
        running=[(Output("decoder-subject-progress", "children"), _running("Decoding the chosen subjects…"), None)],
        prevent_initial_call=True,
    )
    def _decode_subjects(request):
        return decode_subjects_view(context, request["subjects"], request["latent"] or "joint", request["shown"])

    prototype_settings = [Input("decoder-proto-a", "value"), Input("decoder-proto-b", "value"), Input("decoder-proto-kind", "value")]
    gate("decoder-proto-request", "prototypes", ("a", "b", "kind", "space", "filters", "selection", "version"),
         [*prototype_settings, Input("decoder-proto-space", "value"), Input(FILTERS, "data"), Input(SELECTION, "data"), Input(COHORTS_VERSION, "data")])

    @app.callback(
        Output("decoder-proto-ecg", "figure"),
        Output("decoder-proto-mri", "figure"),
        Output("decoder-proto-table", "children"),
        Output("decoder-proto-status", "children"),
        Input("decoder-proto-request", "data"),
        background=True,
        running=[(Output("decoder-proto-progress", "children"), _running("Decoding the prototypes…"), None)],
        prevent_initial_call=True,
    )
    def _decode_prototypes(request):
        return prototype_view(context, groups_of(request), request["space"] or "joint")

    group_states = [State("decoder-proto-a", "value"), State("decoder-proto-b", "value"), State("decoder-proto-kind", "value"),
                    State(FILTERS, "data"), State(SELECTION, "data")]
    gate("decoder-perturb-request", "perturb", ("start", "space", *[f"pc{i}" for i in range(PRINCIPAL_SLIDERS)], "direction", "amount",
                                                "a", "b", "kind", "filters", "selection"),
         [Input("decoder-perturb-start", "value"), Input("decoder-perturb-space", "value"),
          *[Input(f"decoder-pc-{i}", "value") for i in range(PRINCIPAL_SLIDERS)],
          Input("decoder-direction", "value"), Input("decoder-direction-amount", "value")], group_states)

    @app.callback(
        Output("decoder-perturb-ecg", "figure"),
        Output("decoder-perturb-mri", "figure"),
        Output("decoder-perturb-table", "children"),
        Output("decoder-perturb-status", "children"),
        Input("decoder-perturb-request", "data"),
        background=True,
        running=[(Output("decoder-perturb-progress", "children"), _running("Decoding the perturbed latent…"), None)],
        prevent_initial_call=True,
    )
    def _decode_perturbation(request):
        pcs = [request.get(f"pc{i}") for i in range(PRINCIPAL_SLIDERS)]
        try:
            return perturb_view(context, request["start"] or "proto-a", request["space"] or "joint", pcs, request["direction"], request["amount"],
                                groups_of(request))
        except (ValueError, KeyError) as error:
            return message_figure(str(error)), message_figure(str(error)), html.Div(), ""

    gate("decoder-interp-request", "interpolate", ("run", "start", "end", "space", "steps", "lead", "a", "b", "kind", "filters", "selection"),
         [Input("decoder-interp-run", "n_clicks"), Input("decoder-interp-from", "value"), Input("decoder-interp-to", "value"),
          Input("decoder-interp-space", "value"), Input("decoder-interp-steps", "value"), Input("decoder-interp-lead", "value")], group_states)

    @app.callback(
        Output("decoder-interp-strip", "figure"),
        Output("decoder-interp-predictions", "figure"),
        Output("decoder-interp-change", "children"),
        Output("decoder-interp-status", "children"),
        Input("decoder-interp-request", "data"),
        background=True,
        progress=[Output("decoder-interp-bar", "value"), Output("decoder-interp-bar", "label")],
        running=[(Output("decoder-interp-progress", "style"), {"display": "block"}, {"display": "none"}),
                 (Output("decoder-interp-run", "disabled"), True, False)],
        prevent_initial_call=True,
    )
    def _decode_interpolation(set_progress, request):
        try:
            return interpolate_view(context, request["start"] or "proto-a", request["end"] or "proto-b", request["space"] or "joint",
                                    int(request["steps"] or 5), request["lead"] or "V5", groups_of(request),
                                    progress=lambda percent, text: set_progress((percent, text)))
        except (ValueError, KeyError) as error:
            return message_figure(str(error)), message_figure(""), html.Div(), ""
