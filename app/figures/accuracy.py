"""Figures of predictor accuracy per cohort: ROC and precision–recall curves, reliability diagram,
confusion matrices, predicted vs true and Bland–Altman, and a forest plot of one metric by subgroup.

Pure functions, arrays → figure dicts (app.figures.prebuilt). All SVG: a few hundred points and curves per figure, and the
page's WebGL contexts are kept for the explorer's large scatterplots.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from plotly.colors import get_colorscale

from app.core.metrics import METRIC_LABELS, along_curve, confusion_counts, limits_of_agreement, operating_point, precision_recall_points, reliability_bins, roc_points
from app.figures.messages import message_figure
from app.figures.prebuilt import FigureDict, axis_key, in_panel, panel_row, prebuilt_figure
from app.figures.text import plotly_text

COHORT_COLOUR = "#2c7fb8"
OTHER_COLOUR = "#e6550d"
EVERYONE_COLOUR = "#6c757d"
GUIDE_COLOUR = "#adb5bd"
FONT = {"size": 12}


@dataclass(frozen=True)
class CohortData:
    """One group's test subjects as a figure draws them: outcome, prediction and a line style."""

    name: str
    truth: np.ndarray
    prediction: np.ndarray
    colour: str
    dash: str = "solid"


def _styled(layout: dict, height: int, legend_y: float = 1.1) -> dict:
    """Shared look: white template, legend in a row above the plot (titles live in the page, beside the figure)."""
    # Margins with room for the axes' labels: Plotly's automargin then has nothing to push and draws each figure once.
    return {**layout, "height": height, "font": FONT, "margin": {"l": 66, "r": 20, "t": 80, "b": 54},
            "legend": {"orientation": "h", "yanchor": "bottom", "y": legend_y, "x": 0, "font": {"size": 12}}, "hoverlabel": {"font": {"size": 12}}}


def _panels(titles: Sequence[str], spacing: float) -> dict:
    """A row of panels (app.figures.prebuilt.panel_row) with their titles at size 13."""
    layout = panel_row(titles, spacing)
    for annotation in layout.get("annotations", []):
        annotation["font"] = {"size": 13}
    return layout


def roc_pr_figure(cohorts: Sequence[CohortData], threshold: float | None, task_label: str) -> FigureDict:
    """ROC (left) and precision–recall (right) curves, one colour per cohort, with the threshold's operating point marked.

    Prebuilt (app.figures.prebuilt), as are the other figures here: plotly.py validating their traces was most of an
    Accuracy tab's answer under 20 simulated users.
    """
    layout = _panels(("ROC curve", "Precision–recall curve"), 0.1)
    data = [in_panel({"x": [0, 1], "y": [0, 1], "mode": "lines", "line": {"color": GUIDE_COLOUR, "dash": "dot", "width": 1},
                       "name": "chance", "hoverinfo": "skip", "showlegend": False}, 1)]
    for rank, cohort in reversed(list(enumerate(cohorts, start=1))):  # the first cohort drawn last, on top; listed first
        name = plotly_text(cohort.name)
        line = {"color": cohort.colour, "dash": cohort.dash, "width": 2}
        fpr, tpr, cut = roc_points(cohort.truth, cohort.prediction)
        kept = along_curve(fpr, tpr)
        fpr, tpr, cut = fpr[kept], tpr[kept], cut[kept]
        hover = f"{name}<br>1 − specificity %{{x:.2f}}<br>sensitivity %{{y:.2f}}<br>threshold %{{customdata:.3f}}<extra></extra>"
        data.append(in_panel({"x": fpr, "y": tpr, "mode": "lines", "line": line, "name": name, "legendgroup": cohort.name, "legendrank": rank,
                               "customdata": cut, "hovertemplate": hover}, 1))
        recall, precision, cut = precision_recall_points(cohort.truth, cohort.prediction)
        recall, precision, cut = np.r_[0.0, recall], np.r_[precision[0], precision], np.r_[cut[0], cut]
        kept = along_curve(recall, precision)
        data.append(in_panel({"x": recall[kept], "y": precision[kept], "mode": "lines", "line": {**line, "shape": "vh"}, "name": name,
                               "legendgroup": cohort.name, "showlegend": False, "customdata": cut[kept],
                               "hovertemplate": f"{name}<br>recall %{{x:.2f}}<br>precision %{{y:.2f}}<br>threshold %{{customdata:.3f}}<extra></extra>"}, 2))
        prevalence = float(np.mean(np.asarray(cohort.truth) > 0.5))
        data.append(in_panel({"x": [0, 1], "y": [prevalence, prevalence], "mode": "lines", "line": {"color": cohort.colour, "dash": "dot", "width": 1},
                               "legendgroup": cohort.name, "showlegend": False, "hovertemplate": f"{name}: prevalence {prevalence:.1%}<extra></extra>"}, 2))
        if threshold is not None:
            point = operating_point(cohort.truth, cohort.prediction, threshold)
            marker = {"color": cohort.colour, "size": 10, "line": {"color": "white", "width": 1.5}}
            text = f"{name} at threshold {threshold:.3f}"
            data.append(in_panel({"x": [point["fpr"]], "y": [point["tpr"]], "mode": "markers", "marker": marker, "legendgroup": cohort.name,
                                   "showlegend": False,
                                   "hovertemplate": f"{text}<br>sensitivity %{{y:.2f}}<br>specificity {1 - point['fpr']:.2f}<extra></extra>"}, 1))
            if np.isfinite(point["precision"]):
                data.append(in_panel({"x": [point["tpr"]], "y": [point["precision"]], "mode": "markers", "marker": marker, "legendgroup": cohort.name,
                                       "showlegend": False, "hovertemplate": f"{text}<br>recall %{{x:.2f}}<br>precision (PPV) %{{y:.2f}}<extra></extra>"}, 2))
    for column, (x_title, y_title) in enumerate((("1 − specificity (false-positive rate)", "Sensitivity"), ("Recall (sensitivity)", "Precision (PPV)")), start=1):
        layout[axis_key("x", column)].update(title={"text": x_title}, range=[-0.02, 1.02])
        layout[axis_key("y", column)].update(title={"text": y_title}, range=[-0.02, 1.02])
    return prebuilt_figure(data, _styled(layout, 420, legend_y=1.1))


def reliability_figure(cohorts: Sequence[CohortData], n_bins: int = 10) -> FigureDict:
    """Reliability diagram: observed fraction with the outcome against mean predicted risk, per decile of predicted risk."""
    data = []
    highest = 0.05
    for cohort in cohorts:
        bins = reliability_bins(cohort.truth, cohort.prediction, n_bins=min(n_bins, max(2, len(cohort.truth) // 10)))
        highest = max(highest, float(bins["predicted"].max()), float(bins["observed"].max()))
        name = plotly_text(cohort.name)
        data.append({"type": "scatter", "x": bins["predicted"].to_numpy(), "y": bins["observed"].to_numpy(), "mode": "lines+markers", "name": name,
                     "customdata": bins["n"].to_numpy(), "line": {"color": cohort.colour, "dash": cohort.dash, "width": 1.5},
                     "marker": {"size": 8, "color": cohort.colour},
                     "hovertemplate": f"{name}<br>predicted %{{x:.1%}}<br>observed %{{y:.1%}}<br>%{{customdata}} subjects<extra></extra>"})
    top = min(1.0, highest * 1.1)
    data.append({"type": "scatter", "x": [0, top], "y": [0, top], "mode": "lines", "line": {"color": GUIDE_COLOUR, "dash": "dot", "width": 1},
                 "name": "perfect calibration", "hoverinfo": "skip"})
    layout = {"xaxis": {"title": {"text": "Predicted risk (mean in each tenth)"}, "range": [0, top], "tickformat": ".0%"},
              "yaxis": {"title": {"text": "Observed fraction with the outcome"}, "range": [0, top], "tickformat": ".0%"}}
    return prebuilt_figure(data, _styled(layout, 380, legend_y=1.02))


def confusion_figure(cohorts: Sequence[CohortData], threshold: float, task_label: str) -> FigureDict:
    """One 2×2 confusion matrix per cohort at the threshold: counts, and each cell's share of its true class."""
    layout = _panels([plotly_text(c.name) for c in cohorts], 0.05)
    names = (("TN", "FP"), ("FN", "TP"))
    full = (("true negatives", "false positives"), ("false negatives", "true positives"))
    data = []
    for column, cohort in enumerate(cohorts, start=1):
        counts = confusion_counts(cohort.truth, cohort.prediction, threshold)
        totals = counts.sum(axis=1)
        share = counts / np.maximum(totals[:, None], 1)
        # A group of cases only (or controls only) is drawn too: its empty row says so rather than "0% of controls".
        of = [[f"{share[i, j]:.0%} of {'cases' if i else 'controls'}" if totals[i] else f"no {'cases' if i else 'controls'} here" for j in range(2)]
              for i in range(2)]
        text = [[f"{names[i][j]} <b>{counts[i, j]:,}</b><br>{of[i][j].replace(' of ', ' of<br>') if totals[i] else of[i][j]}" for j in range(2)]
                for i in range(2)]
        hover = [[f"{plotly_text(cohort.name)}: {counts[i, j]:,} {full[i][j]}, {of[i][j]}" for j in range(2)] for i in range(2)]
        data.append(in_panel({"type": "heatmap", "z": share, "x": ["no", "yes"], "y": ["no", "yes"], "text": text, "texttemplate": "%{text}",
                               "textfont": {"size": 11}, "customdata": hover, "hovertemplate": "%{customdata}<extra></extra>", "colorscale": get_colorscale("Blues"),
                               "zmin": 0, "zmax": 1.4, "showscale": False, "xgap": 2, "ygap": 2}, column))
        layout[axis_key("x", column)].update(title={"text": "Predicted"}, side="bottom")
        layout[axis_key("y", column)].update(showticklabels=column == 1, autorange="reversed",
                                          **({"title": {"text": f"{task_label} (true)"}} if column == 1 else {}))
    return prebuilt_figure(data, {**_styled(layout, 380), "margin": {"l": 70, "r": 10, "t": 40, "b": 52}})


def agreement_figure(cohorts: Sequence[CohortData], task_label: str, unit: str) -> FigureDict:
    """Predicted against true (left, with the identity line) and Bland–Altman (right: difference against mean, bias and 95% limits)."""
    suffix = f" ({unit})" if unit else ""
    layout = _panels(("Predicted vs true", "Bland–Altman"), 0.1)
    values = np.concatenate([np.r_[c.truth, c.prediction] for c in cohorts]) if cohorts else np.array([0.0, 1.0])
    low, high = float(np.min(values)), float(np.max(values))
    pad = 0.03 * (high - low or 1.0)
    data = [in_panel({"x": [low - pad, high + pad], "y": [low - pad, high + pad], "mode": "lines", "name": "predicted = true",
                       "line": {"color": GUIDE_COLOUR, "dash": "dot", "width": 1}, "hoverinfo": "skip"}, 1)]
    for rank, cohort in reversed(list(enumerate(cohorts, start=1))):  # the first cohort drawn last, on top; listed first
        name = plotly_text(cohort.name)
        truth, prediction = np.asarray(cohort.truth, dtype=float), np.asarray(cohort.prediction, dtype=float)
        marker = {"color": cohort.colour, "size": 6, "opacity": 0.65}
        data.append(in_panel({"x": truth, "y": prediction, "mode": "markers", "marker": marker, "name": name, "legendgroup": cohort.name, "legendrank": rank,
                               "hovertemplate": f"{name}<br>true %{{x:.1f}}<br>predicted %{{y:.1f}}<extra></extra>"}, 1))
        mean, difference = (truth + prediction) / 2, prediction - truth
        data.append(in_panel({"x": mean, "y": difference, "mode": "markers", "marker": marker, "name": name, "legendgroup": cohort.name, "showlegend": False,
                               "hovertemplate": f"{name}<br>mean %{{x:.1f}}<br>predicted − true %{{y:.1f}}<extra></extra>"}, 2))
        bias, lower, upper = limits_of_agreement(truth, prediction)
        span = [float(mean.min()), float(mean.max())]
        for level, dash, what in ((bias, "solid", "bias"), (lower, "dash", "lower 95% limit"), (upper, "dash", "upper 95% limit")):
            if np.isfinite(level):
                data.append(in_panel({"x": span, "y": [level, level], "mode": "lines", "line": {"color": cohort.colour, "dash": dash, "width": 1.5},
                                       "legendgroup": cohort.name, "showlegend": False,
                                       "hovertemplate": f"{name}: {what} {level:+.1f}{(' ' + unit) if unit else ''}<extra></extra>"}, 2))
    layout["shapes"] = [{"type": "line", "x0": 0, "x1": 1, "xref": "x2 domain", "y0": 0, "y1": 0, "yref": "y2", "line": {"color": GUIDE_COLOUR, "width": 1}}]
    for column, (x_title, y_title) in enumerate(((f"True {task_label}{suffix}", f"Predicted {task_label}{suffix}"),
                                                 (f"Mean of predicted and true{suffix}", f"Predicted − true{suffix}")), start=1):
        layout[axis_key("x", column)]["title"] = {"text": x_title}
        layout[axis_key("y", column)]["title"] = {"text": y_title}
    return prebuilt_figure(data, _styled(layout, 440, legend_y=1.1))


FOREST_NOTES = 6  # groups named under a forest plot as left out; more are counted


def _left_out_notes(table: pd.DataFrame, metric: str) -> list[str]:
    """'name: why' for each row of a subgroup table without the metric's number and interval (its own note, else the row's)."""
    notes = []
    for _, row in table.iterrows():
        why = next((note for note in (row.get(f"{metric}_note"), row.get("note")) if isinstance(note, str) and note), "no interval")
        notes.append(f"{row['subgroup']}: {why}")
    return notes


def forest_figure(table: pd.DataFrame, metric: str, reference: tuple[float, float, float] | None = None, reference_name: str = "Everyone") -> FigureDict:
    """One metric with its interval per subgroup (rows of a subgroup table), against the whole test split's value.

    A forest plot compares intervals: a group without this metric's number and interval (too few test subjects, cases
    or controls for it, or a PPV a group of cases only fixes at 1) is left out of it alone, and named under the plot
    with its reason (the subgroup table's ``<metric>_note``); its other metrics plot as usual.
    """
    label = METRIC_LABELS[metric]
    value = table[metric].to_numpy(dtype=float)
    plotted = np.isfinite(value)
    if f"{metric}_low" in table.columns and f"{metric}_high" in table.columns:
        plotted &= np.isfinite(table[f"{metric}_low"].to_numpy(dtype=float)) & np.isfinite(table[f"{metric}_high"].to_numpy(dtype=float))
    shown, left_out = table[plotted], _left_out_notes(table[~plotted], metric)
    if len(left_out) > FOREST_NOTES:
        left_out = [*left_out[: FOREST_NOTES - 1], f"and {len(left_out) - FOREST_NOTES + 1} more groups"]
    if shown.empty:
        whole_rows = "note" in table.columns and table["note"].astype(bool).all()
        if table.empty or whole_rows:
            return message_figure(f"No subgroup has enough test subjects for the {label}", height=220)
        return message_figure("\n".join([f"{label}: no subgroup has a number with an interval to plot", *left_out]), height=220)
    names = [f"{plotly_text(name)} (n = {int(n):,})" for name, n in zip(shown["subgroup"], shown["n"])]
    value = shown[metric].to_numpy(dtype=float)
    low, high = shown[f"{metric}_low"].to_numpy(dtype=float), shown[f"{metric}_high"].to_numpy(dtype=float)
    points = {"type": "scatter", "x": value, "y": names, "mode": "markers", "marker": {"color": COHORT_COLOUR, "size": 10, "symbol": "square"}, "name": label,
              "error_x": {"type": "data", "symmetric": False, "array": np.nan_to_num(high - value), "arrayminus": np.nan_to_num(value - low),
                          "color": COHORT_COLOUR, "thickness": 2, "width": 6},
              "customdata": np.column_stack([low, high]),
              "hovertemplate": "%{y}<br>" + label + " %{x:.3f} (95% CI %{customdata[0]:.3f}–%{customdata[1]:.3f})<extra></extra>"}
    layout: dict = {"yaxis": {"autorange": "reversed", "automargin": True}, "xaxis": {"title": {"text": f"{label} with 95% bootstrap interval"}, "zeroline": False}}
    annotations = []
    if reference is not None and np.isfinite(reference[0]):
        shapes = [{"type": "line", "x0": reference[0], "x1": reference[0], "xref": "x", "y0": 0, "y1": 1, "yref": "y domain",
                   "line": {"color": EVERYONE_COLOUR, "dash": "dash", "width": 1.5}}]
        if np.isfinite(reference[1]) and np.isfinite(reference[2]):
            shapes.append({"type": "rect", "x0": reference[1], "x1": reference[2], "xref": "x", "y0": 0, "y1": 1, "yref": "y domain",
                           "fillcolor": EVERYONE_COLOUR, "opacity": 0.12, "line": {"width": 0}})
        layout["shapes"] = shapes
        annotations.append({"x": reference[0], "y": 1.0, "yref": "paper", "yanchor": "bottom", "showarrow": False,
                            "font": {"size": 11, "color": EVERYONE_COLOUR}, "text": f"{plotly_text(reference_name)}: {reference[0]:.3f}"})
    bottom = 52
    if left_out:
        lines = [f"Not plotted for the {label}:", *left_out]
        annotations.append({"x": 0, "xref": "paper", "xanchor": "left", "y": 0, "yref": "paper", "yanchor": "top", "yshift": -46, "showarrow": False,
                            "align": "left", "font": {"size": 11, "color": EVERYONE_COLOUR}, "text": "<br>".join(plotly_text(line) for line in lines)})
        bottom += 16 * len(lines)
    if annotations:
        layout["annotations"] = annotations
    styled = _styled(layout, 110 + 36 * len(shown) + bottom - 52)
    return prebuilt_figure([points], {**styled, "showlegend": False, "margin": {"l": 10, "r": 20, "t": 30, "b": bottom}})
