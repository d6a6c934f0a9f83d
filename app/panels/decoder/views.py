"""What each Decode view shows, as frozen dataclasses of figures and tables; the callbacks only turn them into outputs."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from dash import html
from dash.development.base_component import Component

from app.context import AppContext
from app.core import decoding
from app.core.ecg_agreement import lead_agreement
from app.core.modalities import where_present
from app.core.what_changed import measured_changes
from app.figures.cine import cine_pair_figure, cine_player, frame_ms_for_heart_rate, greyscale_panel
from app.figures.decoded_views import change_table_rows, change_views, decoded_only_views, subject_views
from app.figures.decoder import agreement_figure, interpolation_strip, prediction_strip_figure
from app.figures.messages import message_figure
from app.figures.prebuilt import FigureDict
from app.panels.decoder.choices import Groups, endpoint_latent, group_label, subject_rows
from app.panels.decoder.model import Decoded, DecoderModels, decoder_models
from app.panels.decoder.settings import DIFFERENCE, LATENT_NAMES, MAX_SUBJECTS, PREDICTOR_DIRECTION, PRINCIPAL_SLIDERS, SUBJECT_ENDPOINT
from app.panels.decoder.tables import frame_table, is_binary, prediction_table, predictor_name, status_line, task_label
from app.state import (
    REST,
    SPACE_LABELS,
)
from data_loaders.cohort_spec import HEART_RATE, MEDIAN_R_PEAK_INDEX
from data_loaders.ecg_measures import detect_r_peaks_multilead, heart_rate_from_r_peaks, median_beat, median_beats
from data_loaders.mri_measures import lv_area_curves


@dataclass(frozen=True)
class SubjectsView:
    """The chosen subjects: the shown one's 10 s ECG sheet, median beats, cine and agreement, and every subject's agreement row."""

    strip: FigureDict
    median: FigureDict
    mri: FigureDict
    agreement: FigureDict
    table: Component  # the per-subject agreement table, or an empty block
    status: Component

    def outputs(self) -> tuple:
        return self.strip, self.median, self.mri, self.agreement, self.table, self.status


@dataclass(frozen=True)
class DecodedPairView:
    """Two decoded latents side by side (prototypes A and B, or a start and its perturbation): ECG, cine and predictions."""

    ecg: FigureDict
    mri: FigureDict
    table: Component
    status: Component

    def outputs(self) -> tuple:
        return self.ecg, self.mri, self.table, self.status


@dataclass(frozen=True)
class InterpolationView:
    """The decoded path between two endpoints: the strip of ECGs and cines, predictions along it, and what changed."""

    strip: go.Figure | FigureDict  # a message until there is a path
    predictions: go.Figure | FigureDict
    change: Component
    status: Component

    def outputs(self) -> tuple:
        return self.strip, self.predictions, self.change, self.status


def cross_modal(space: str, modality: str) -> str:
    """" (cross-modal)" when ``modality`` ("ecg" or "mri") is decoded from the other modality's latent space, else ""."""
    return " (cross-modal)" if {space, modality} == {"ecg", "mri"} else ""


def _cine_agreement(context: AppContext, subject_ids: Sequence[str], true_mri: np.ndarray, decoded_mri: np.ndarray,
                    has_mri: np.ndarray) -> list[decoding.CineAgreement]:
    """LV agreement per subject; a subject without a recorded cine gets its decoded curve only."""
    recorded = [subject for subject, has in zip(subject_ids, has_mri) if has]
    measured = iter(decoding.cine_agreement(true_mri[has_mri], decoded_mri[has_mri], context.recorded_lv_areas(recorded, true_mri[has_mri]))
                    if has_mri.any() else [])
    decoded_areas = iter(lv_area_curves(decoded_mri[~has_mri]) if (~has_mri).any() else [])
    results = []
    for has in has_mri:
        if has:
            results.append(next(measured))
        else:
            area = next(decoded_areas)
            results.append(decoding.CineAgreement(np.full_like(area, np.nan), area, float("nan"), float("nan"), float("nan"), decoding.area_change(area)))
    return results


def _ecg_kwargs(models: DecoderModels) -> dict:
    return {"r_peak_index": MEDIAN_R_PEAK_INDEX if models.ecg_is_median else None}


def _heart_rate(context: AppContext, mask: np.ndarray) -> float | None:
    """The median heart rate (bpm) of the subjects in a mask, when the cohort records one: a decoded cine plays one cycle per RR interval."""
    phenotypes = context.cohort.phenotypes
    if HEART_RATE not in phenotypes.columns or not np.asarray(mask, dtype=bool).any():
        return None
    rate = float(np.nanmedian(phenotypes[HEART_RATE].to_numpy(dtype=np.float64, na_value=np.nan)[np.asarray(mask, dtype=bool)]))
    return rate if np.isfinite(rate) else None


def decode_subjects_view(context: AppContext, subject_ids: Sequence[str] | None, latent_space: str, shown: str | None) -> SubjectsView:
    """The chosen subjects decoded, the ``shown`` one drawn.

    Both modalities are decoded from the subjects' latents in ``latent_space``: from the ECG-only
    latent the MRI is a cross-modal reconstruction, from the MRI-only latent the ECG is. A model that
    decodes median beats has its beat shown at the original strip's R peaks, labelled so.
    """
    subject_ids = [str(s) for s in (subject_ids or [])][:MAX_SUBJECTS]
    if not subject_ids:
        empty = message_figure("Choose subjects above: lasso them in the explorer, pick ids, or take those closest to the centre")
        return SubjectsView(empty, empty, empty, empty, html.Div(), status_line(""))
    models = decoder_models(context)
    rows = subject_rows(context, subject_ids)
    decoded = models.decode(context.cohort.spaces[latent_space][rows])
    cohort = context.cohort
    has_ecg, has_mri = cohort.ecg_present[rows], cohort.mri_present[rows]
    true_mri = where_present(has_mri, subject_ids, cohort.mri, decoded.mri.shape[1:])
    index = subject_ids.index(shown) if shown in subject_ids else 0
    shown_id = subject_ids[index]
    leads = list(cohort.ecg_leads)
    ecg_from = f"from the {LATENT_NAMES[latent_space]}{cross_modal(latent_space, 'ecg')}"
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
    cines = _cine_agreement(context, subject_ids, true_mri, decoded.mri, has_mri)
    source = {"joint": "joint latent", "ecg": "ECG latent", "mri": "MRI latent"}[latent_space]
    decoded_label = f"decoded from {source}{cross_modal(latent_space, 'mri')}"
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
                                      ecg_label=f"ECG{cross_modal(latent_space, 'ecg')}", mri_label=f"MRI{cross_modal(latent_space, 'mri')}")

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
            "LV area error (% of original)": [f"{c.area_error_pct:.0f}" if np.isfinite(c.area_error_pct) else "–" for c in cines],
            "LV FAC original": [f"{c.truth_fac:.2f}" if np.isfinite(c.truth_fac) else "–" for c in cines],
            "LV FAC decoded": [f"{c.decoded_fac:.2f}" if np.isfinite(c.decoded_fac) else "–" for c in cines],
        }
    )
    missing = [f"no {kind} recorded for {subject}" for subject, e, m in zip(subject_ids, has_ecg, has_mri) for kind, has in (("ECG", e), ("cine", m)) if not has]
    what = f"{len(subject_ids)} subject{'s' if len(subject_ids) > 1 else ''} (ECG + MRI{'; ' + ', '.join(missing) if missing else ''})"
    return SubjectsView(strip_sheet, median_sheet, mri_figure, agreement_plot, frame_table(summary, ""), status_line(decoded.status(what)))


def _change_outputs(context: AppContext, models: DecoderModels, space: str, latents: np.ndarray, labels: tuple[str, str],
                    decoded: Decoded, heart_rate: float | None, title: str) -> tuple:
    """(A − B ECG sheet, A / B / A − B cine, tables) for two decoded latents (A first)."""
    predictions = {predictor_name(context, task): (*(float(v) for v in models.predict(task, space, latents)),
                                               "probability" if is_binary(context, task) else _unit(context, task))
                   for task in models.tasks(space)}
    beats = decoded.ecg if models.ecg_is_median else median_beats(decoded.ecg)
    views = change_views(*labels, list(context.cohort.ecg_leads), beats[0], beats[1], decoded.mri[0], decoded.mri[1],
                         r_peak_index=MEDIAN_R_PEAK_INDEX, heart_rate_bpm=heart_rate, predictions=predictions, title=title)
    # in B, A order so that the change (last minus first) is A − B
    table = prediction_table(context, models, space, latents[::-1], ["B", "A"], with_change=True).rename(columns={"Change": "A − B"})
    table = table[["Predictor", "A", "B", "A − B"]] if not table.empty else table
    tables = html.Div([
        html.Div(" · ".join(label if label.startswith(f"{name}: ") else f"{name} = {label}" for name, label in zip("AB", labels)),
                 className="small text-muted mb-1"),  # a prototype's label names its side already ("A: mean of …")
        html.Div("What moved: measured on both decoded hearts the same way (A − B)", className="small fw-semibold mb-1"),
        frame_table(change_table_rows(views.table), ""),
        html.Div("Predictors", className="small fw-semibold mt-2 mb-1"),
        frame_table(table, "No predictors were fitted for this space."),
    ])
    return views.ecg, views.cine, tables


def _endpoint_heart_rate(context: AppContext, start: str, groups: Groups) -> float | None:
    """The heart rate of what a perturbation starts from: a prototype's cohort (median) or the subject."""
    if start.startswith(SUBJECT_ENDPOINT):
        return _heart_rate(context, np.isin(context.cohort.subject_ids, [start.removeprefix(SUBJECT_ENDPOINT)]))
    mask_a, mask_b = groups.masks(context)
    return _heart_rate(context, mask_b if start == "proto-b" else mask_a)


def _unit(context: AppContext, task: str) -> str:
    return (context.variables[task].unit or "") if task in context.variables else ""


def prototype_view(context: AppContext, groups: Groups, space: str) -> DecodedPairView:
    """(A − B ECG sheet, A / B / A − B cine, tables, status) for the prototypes of groups A and B in a space."""
    models = decoder_models(context)
    mask_a, mask_b = groups.masks(context)
    if not mask_a.any() or not mask_b.any():
        text = "Both cohorts need at least one subject: narrow the current cohort, or choose saved cohorts."
        if groups.b == REST and mask_a.all():
            text = "Cohort A is everyone, so “everyone else” is empty: lasso subjects in the explorer, add a filter, or choose B = Everyone."
        return DecodedPairView(message_figure(text), message_figure(text), html.Div(), status_line(""))
    latents = context.cohort.spaces[space]
    saved = {s.id: s.label for s in context.store.list()}
    label_a = f"A: {groups.kind} of {group_label(context, groups.a, saved)} ({int(mask_a.sum()):,})"
    label_b = f"B: {groups.kind} of {group_label(context, groups.b, saved)} ({int(mask_b.sum()):,})"
    stacked = np.stack([decoding.cohort_prototype(latents, mask_a, groups.kind), decoding.cohort_prototype(latents, mask_b, groups.kind)])
    decoded = models.decode(stacked)
    ecg, mri, tables = _change_outputs(context, models, space, stacked, (label_a, label_b), decoded, _heart_rate(context, mask_a),
                                       f"Decoded prototypes in the {SPACE_LABELS[space]} space: median beats, A − B")
    return DecodedPairView(ecg, mri, tables, status_line(decoded.status("2 prototypes")))


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
    elif choice and choice.startswith(PREDICTOR_DIRECTION):
        task = choice.removeprefix(PREDICTOR_DIRECTION)
        if task in models.tasks(space):
            extra = decoding.direction(task_label(context, task), models.predictors.direction(task, space), latents)
    return principal, extra


@functools.lru_cache(maxsize=8)
def _principal_cached(context: AppContext, space: str) -> tuple[decoding.Direction, ...]:
    return tuple(decoding.principal_directions(context.cohort.spaces[space], PRINCIPAL_SLIDERS))


def _principal(context: AppContext, space: str) -> list[decoding.Direction]:
    return list(_principal_cached(context, space))


def perturb_view(context: AppContext, start: str, space: str, pc_amounts: Sequence[float | None], choice: str | None,
                 amount: float | None, groups: Groups) -> DecodedPairView:
    """A latent before and after moving it along the chosen directions: ECG sheets of both, the cine with the difference, tables."""
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
    return DecodedPairView(ecg, mri, tables, status_line(decoded.status("start and perturbed latents")))


def interpolate_view(context: AppContext, start: str, end: str, space: str, steps: int, lead: str, groups: Groups,
                     progress: Callable[[int, str], None] | None = None) -> InterpolationView:
    """``steps`` decoded latents between two endpoints; ``progress(percent, text)`` hears how far it got."""
    report = progress or (lambda _percent, _text: None)
    models = decoder_models(context)
    report(10, "Finding the endpoints")
    first, first_label = endpoint_latent(context, start, space, groups)
    last, last_label = endpoint_latent(context, end, space, groups)
    path = decoding.interpolate(first, last, int(steps))
    report(30, f"Decoding {len(path)} steps")
    decoded = models.decode(path)
    report(70, "Measuring the LV cavity at each step")
    areas = lv_area_curves(decoded.mri)
    end_systole = int(np.nanargmin(areas[0])) if np.isfinite(areas[0]).any() else decoded.mri.shape[1] // 3
    labels = [f"{100 * f:.0f}%" for f in np.linspace(0, 1, len(path))]
    labels[0], labels[-1] = f"0%: {first_label}", f"100%: {last_label}"  # the share first: a column title cut to fit keeps it
    report(85, "Drawing")
    strip = interpolation_strip(labels, decoded.ecg, list(context.cohort.ecg_leads), lead, decoded.mri,
                                {"end-diastole": 0, f"end-systole (frame {end_systole})": end_systole},
                                title=f"From {first_label} to {last_label} in the {SPACE_LABELS[space]} space", **_ecg_kwargs(models))
    predictions = {task_label(context, task): models.predict(task, space, path) * (100 if is_binary(context, task) else 1) for task in models.tasks(space)}
    units = {task_label(context, task): "%" if is_binary(context, task) else (context.variables[task].unit or "") for task in models.tasks(space)
             if task in context.variables}
    fac = np.array([decoding.area_change(curve) for curve in areas])
    if np.isfinite(fac).any():  # in %, as the table of what changed gives it (the plot said 0.44 beside the table's 43.8)
        predictions["LV FAC (measured)"], units["LV FAC (measured)"] = 100 * fac, "%"
    chart = prediction_strip_figure(labels, predictions, units)
    ends = np.stack([path[0], path[-1]])
    end_predictions = {predictor_name(context, task): (*(float(v) for v in models.predict(task, space, ends)),
                                                   "probability" if is_binary(context, task) else _unit(context, task))
                       for task in models.tasks(space)}
    beats = decoded.ecg if models.ecg_is_median else median_beats(decoded.ecg)
    moved = measured_changes(beats[0], beats[-1], list(context.cohort.ecg_leads), decoded.mri[0], decoded.mri[-1], end_predictions,
                             MEDIAN_R_PEAK_INDEX)
    change = html.Div([html.Div(f"What changed along the path, A − B: A = {first_label} (start), B = {last_label} (end)",
                                className="small fw-semibold mb-1"), frame_table(change_table_rows(moved), "")])
    return InterpolationView(strip, chart, change, status_line(decoded.status(f"{len(path)} interpolation steps")))
