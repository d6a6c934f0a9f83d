"""Figures of predictor accuracy per cohort: ROC and precision–recall curves, reliability diagram,
confusion matrices, predicted vs true and Bland–Altman, and a forest plot of one metric by subgroup.

Pure functions, arrays → go.Figure. All SVG: a few hundred points and curves per figure, and the
page's WebGL contexts are kept for the explorer's large scatterplots.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from app.core.metrics import METRIC_LABELS, along_curve, confusion_counts, limits_of_agreement, operating_point, precision_recall_points, reliability_bins, roc_points
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


def note_figure(text: str, height: int = 320) -> go.Figure:
    """An empty figure that says why there is nothing to draw (instead of blank axes)."""
    figure = go.Figure()
    figure.add_annotation(text=plotly_text(text), showarrow=False, font={"size": 14, "color": "#555"}, xref="paper", yref="paper", x=0.5, y=0.5)
    figure.update_layout(xaxis={"visible": False}, yaxis={"visible": False}, height=height,
                         margin={"l": 10, "r": 10, "t": 10, "b": 10})
    return figure


def _style(figure: go.Figure, height: int, legend_y: float = 1.1) -> go.Figure:
    """Shared look: white template, legend in a row above the plot (titles live in the page, beside the figure)."""
    figure.update_layout(height=height, font=FONT, margin={"l": 60, "r": 20, "t": 80, "b": 50},
                         legend={"orientation": "h", "yanchor": "bottom", "y": legend_y, "x": 0, "font": {"size": 12}},
                         hoverlabel={"font": {"size": 12}})
    return figure


def roc_pr_figure(cohorts: Sequence[CohortData], threshold: float | None, task_label: str) -> go.Figure:
    """ROC (left) and precision–recall (right) curves, one colour per cohort, with the threshold's operating point marked."""
    figure = make_subplots(rows=1, cols=2, subplot_titles=("ROC curve", "Precision–recall curve"), horizontal_spacing=0.1)
    figure.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line={"color": GUIDE_COLOUR, "dash": "dot", "width": 1},
                                name="chance", hoverinfo="skip", showlegend=False), row=1, col=1)
    for rank, cohort in reversed(list(enumerate(cohorts, start=1))):  # the first cohort drawn last, on top; listed first
        line = {"color": cohort.colour, "dash": cohort.dash, "width": 2}
        fpr, tpr, cut = roc_points(cohort.truth, cohort.prediction)
        kept = along_curve(fpr, tpr)
        fpr, tpr, cut = fpr[kept], tpr[kept], cut[kept]
        hover = f"{plotly_text(cohort.name)}<br>1 − specificity %{{x:.2f}}<br>sensitivity %{{y:.2f}}<br>threshold %{{customdata:.3f}}<extra></extra>"
        figure.add_trace(go.Scatter(x=fpr, y=tpr, mode="lines", line=line, name=plotly_text(cohort.name), legendgroup=cohort.name, legendrank=rank, customdata=cut,
                                    hovertemplate=hover),
                         row=1, col=1)
        recall, precision, cut = precision_recall_points(cohort.truth, cohort.prediction)
        recall, precision, cut = np.r_[0.0, recall], np.r_[precision[0], precision], np.r_[cut[0], cut]
        kept = along_curve(recall, precision)
        figure.add_trace(go.Scatter(x=recall[kept], y=precision[kept], mode="lines", line={**line, "shape": "vh"},
                                    name=plotly_text(cohort.name), legendgroup=cohort.name, showlegend=False, customdata=cut[kept],
                                    hovertemplate=f"{plotly_text(cohort.name)}<br>recall %{{x:.2f}}<br>precision %{{y:.2f}}"
                                                  "<br>threshold %{customdata:.3f}<extra></extra>"),
                         row=1, col=2)
        prevalence = float(np.mean(np.asarray(cohort.truth) > 0.5))
        figure.add_trace(go.Scatter(x=[0, 1], y=[prevalence, prevalence], mode="lines", line={"color": cohort.colour, "dash": "dot", "width": 1},
                                    legendgroup=cohort.name, showlegend=False, hovertemplate=f"{plotly_text(cohort.name)}: prevalence {prevalence:.1%}<extra></extra>"),
                         row=1, col=2)
        if threshold is not None:
            point = operating_point(cohort.truth, cohort.prediction, threshold)
            marker = {"color": cohort.colour, "size": 10, "line": {"color": "white", "width": 1.5}}
            text = f"{plotly_text(cohort.name)} at threshold {threshold:.3f}"
            figure.add_trace(go.Scatter(x=[point["fpr"]], y=[point["tpr"]], mode="markers", marker=marker, legendgroup=cohort.name, showlegend=False,
                                        hovertemplate=f"{text}<br>sensitivity %{{y:.2f}}<br>specificity {1 - point['fpr']:.2f}<extra></extra>"),
                             row=1, col=1)
            if np.isfinite(point["precision"]):
                figure.add_trace(go.Scatter(x=[point["tpr"]], y=[point["precision"]], mode="markers", marker=marker, legendgroup=cohort.name,
                                            showlegend=False, hovertemplate=f"{text}<br>recall %{{x:.2f}}<br>precision (PPV) %{{y:.2f}}<extra></extra>"),
                                 row=1, col=2)
    figure.update_xaxes(title_text="1 − specificity (false-positive rate)", range=[-0.02, 1.02], row=1, col=1)
    figure.update_yaxes(title_text="Sensitivity", range=[-0.02, 1.02], row=1, col=1)
    figure.update_xaxes(title_text="Recall (sensitivity)", range=[-0.02, 1.02], row=1, col=2)
    figure.update_yaxes(title_text="Precision (PPV)", range=[-0.02, 1.02], row=1, col=2)
    figure.update_annotations(font={"size": 13})
    return _style(figure, 420, legend_y=1.1)


def reliability_figure(cohorts: Sequence[CohortData], n_bins: int = 10) -> go.Figure:
    """Reliability diagram: observed fraction with the outcome against mean predicted risk, per decile of predicted risk."""
    figure = go.Figure()
    highest = 0.05
    for cohort in cohorts:
        bins = reliability_bins(cohort.truth, cohort.prediction, n_bins=min(n_bins, max(2, len(cohort.truth) // 10)))
        highest = max(highest, float(bins["predicted"].max()), float(bins["observed"].max()))
        figure.add_trace(go.Scatter(
            x=bins["predicted"], y=bins["observed"], mode="lines+markers", name=plotly_text(cohort.name), customdata=bins["n"],
            line={"color": cohort.colour, "dash": cohort.dash, "width": 1.5}, marker={"size": 8, "color": cohort.colour},
            hovertemplate=f"{plotly_text(cohort.name)}<br>predicted %{{x:.1%}}<br>observed %{{y:.1%}}<br>%{{customdata}} subjects<extra></extra>"))
    top = min(1.0, highest * 1.1)
    figure.add_trace(go.Scatter(x=[0, top], y=[0, top], mode="lines", line={"color": GUIDE_COLOUR, "dash": "dot", "width": 1},
                                name="perfect calibration", hoverinfo="skip"))
    figure.update_xaxes(title_text="Predicted risk (mean in each tenth)", range=[0, top], tickformat=".0%")
    figure.update_yaxes(title_text="Observed fraction with the outcome", range=[0, top], tickformat=".0%")
    return _style(figure, 380, legend_y=1.02)


def confusion_figure(cohorts: Sequence[CohortData], threshold: float, task_label: str) -> go.Figure:
    """One 2×2 confusion matrix per cohort at the threshold: counts, and each cell's share of its true class."""
    figure = make_subplots(rows=1, cols=len(cohorts), subplot_titles=[plotly_text(c.name) for c in cohorts], horizontal_spacing=0.05)
    names = (("TN", "FP"), ("FN", "TP"))
    full = (("true negatives", "false positives"), ("false negatives", "true positives"))
    for column, cohort in enumerate(cohorts, start=1):
        counts = confusion_counts(cohort.truth, cohort.prediction, threshold)
        share = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
        text = [[f"{names[i][j]} <b>{counts[i, j]:,}</b><br>{share[i, j]:.0%} of<br>{'cases' if i else 'controls'}" for j in range(2)] for i in range(2)]
        hover = [[f"{plotly_text(cohort.name)}: {counts[i, j]:,} {full[i][j]}, {share[i, j]:.0%} of {'cases' if i else 'controls'}" for j in range(2)] for i in range(2)]
        figure.add_trace(go.Heatmap(z=share, x=["no", "yes"], y=["no", "yes"], text=text, texttemplate="%{text}", textfont={"size": 11},
                                    customdata=hover, hovertemplate="%{customdata}<extra></extra>", colorscale="Blues", zmin=0, zmax=1.4,
                                    showscale=False, xgap=2, ygap=2),
                         row=1, col=column)
        figure.update_xaxes(title_text="Predicted", side="bottom", row=1, col=column)
        figure.update_yaxes(showticklabels=column == 1, title_text=f"{task_label} (true)" if column == 1 else None, row=1, col=column)
    figure.update_yaxes(autorange="reversed")
    figure.update_annotations(font={"size": 13})
    figure = _style(figure, 380)
    figure.update_layout(margin={"l": 70, "r": 10, "t": 40, "b": 50})
    return figure


def agreement_figure(cohorts: Sequence[CohortData], task_label: str, unit: str) -> go.Figure:
    """Predicted against true (left, with the identity line) and Bland–Altman (right: difference against mean, bias and 95% limits)."""
    suffix = f" ({unit})" if unit else ""
    figure = make_subplots(rows=1, cols=2, subplot_titles=("Predicted vs true", "Bland–Altman"), horizontal_spacing=0.1)
    values = np.concatenate([np.r_[c.truth, c.prediction] for c in cohorts]) if cohorts else np.array([0.0, 1.0])
    low, high = float(np.min(values)), float(np.max(values))
    pad = 0.03 * (high - low or 1.0)
    figure.add_trace(go.Scatter(x=[low - pad, high + pad], y=[low - pad, high + pad], mode="lines", name="predicted = true",
                                line={"color": GUIDE_COLOUR, "dash": "dot", "width": 1}, hoverinfo="skip"), row=1, col=1)
    for rank, cohort in reversed(list(enumerate(cohorts, start=1))):  # the first cohort drawn last, on top; listed first
        truth, prediction = np.asarray(cohort.truth, dtype=float), np.asarray(cohort.prediction, dtype=float)
        marker = {"color": cohort.colour, "size": 6, "opacity": 0.65}
        figure.add_trace(go.Scatter(x=truth, y=prediction, mode="markers", marker=marker, name=plotly_text(cohort.name), legendgroup=cohort.name, legendrank=rank,
                                    hovertemplate=f"{plotly_text(cohort.name)}<br>true %{{x:.1f}}<br>predicted %{{y:.1f}}<extra></extra>"), row=1, col=1)
        mean, difference = (truth + prediction) / 2, prediction - truth
        figure.add_trace(go.Scatter(x=mean, y=difference, mode="markers", marker=marker, name=plotly_text(cohort.name), legendgroup=cohort.name, showlegend=False,
                                    hovertemplate=f"{plotly_text(cohort.name)}<br>mean %{{x:.1f}}<br>predicted − true %{{y:.1f}}<extra></extra>"), row=1, col=2)
        bias, lower, upper = limits_of_agreement(truth, prediction)
        span = [float(mean.min()), float(mean.max())]
        for level, dash, what in ((bias, "solid", "bias"), (lower, "dash", "lower 95% limit"), (upper, "dash", "upper 95% limit")):
            if np.isfinite(level):
                figure.add_trace(go.Scatter(x=span, y=[level, level], mode="lines", line={"color": cohort.colour, "dash": dash, "width": 1.5},
                                            legendgroup=cohort.name, showlegend=False,
                                            hovertemplate=f"{plotly_text(cohort.name)}: {what} {level:+.1f}{(' ' + unit) if unit else ''}<extra></extra>"), row=1, col=2)
    figure.add_hline(y=0, line={"color": GUIDE_COLOUR, "width": 1}, row=1, col=2)
    figure.update_xaxes(title_text=f"True {task_label}{suffix}", row=1, col=1)
    figure.update_yaxes(title_text=f"Predicted {task_label}{suffix}", row=1, col=1)
    figure.update_xaxes(title_text=f"Mean of predicted and true{suffix}", row=1, col=2)
    figure.update_yaxes(title_text=f"Predicted − true{suffix}", row=1, col=2)
    figure.update_annotations(font={"size": 13})
    return _style(figure, 440, legend_y=1.1)


def forest_figure(table: pd.DataFrame, metric: str, reference: tuple[float, float, float] | None = None, reference_name: str = "Everyone") -> go.Figure:
    """One metric with its interval per subgroup (rows of a subgroup table), against the whole test split's value."""
    label = METRIC_LABELS[metric]
    shown = table[np.isfinite(table[metric].to_numpy(dtype=float))]
    if shown.empty:
        return note_figure(f"No subgroup has enough test subjects for the {label}", height=220)
    names = [f"{plotly_text(name)} (n = {n})" for name, n in zip(shown["subgroup"], shown["n"])]
    value = shown[metric].to_numpy(dtype=float)
    low, high = shown[f"{metric}_low"].to_numpy(dtype=float), shown[f"{metric}_high"].to_numpy(dtype=float)
    figure = go.Figure(go.Scatter(
        x=value, y=names, mode="markers", marker={"color": COHORT_COLOUR, "size": 10, "symbol": "square"}, name=label,
        error_x={"type": "data", "symmetric": False, "array": np.nan_to_num(high - value), "arrayminus": np.nan_to_num(value - low),
                 "color": COHORT_COLOUR, "thickness": 2, "width": 6},
        customdata=np.column_stack([low, high]),
        hovertemplate="%{y}<br>" + label + " %{x:.3f} (95% CI %{customdata[0]:.3f}–%{customdata[1]:.3f})<extra></extra>"))
    if reference is not None and np.isfinite(reference[0]):
        figure.add_vline(x=reference[0], line={"color": EVERYONE_COLOUR, "dash": "dash", "width": 1.5})
        if np.isfinite(reference[1]) and np.isfinite(reference[2]):
            figure.add_vrect(x0=reference[1], x1=reference[2], fillcolor=EVERYONE_COLOUR, opacity=0.12, line_width=0)
        figure.add_annotation(x=reference[0], y=1.0, yref="paper", yanchor="bottom", showarrow=False, font={"size": 11, "color": EVERYONE_COLOUR},
                              text=f"{plotly_text(reference_name)}: {reference[0]:.3f}")
    figure.update_yaxes(autorange="reversed", automargin=True)
    figure.update_xaxes(title_text=f"{label} with 95% bootstrap interval", zeroline=False)
    figure = _style(figure, 110 + 36 * len(shown))
    figure.update_layout(showlegend=False, margin={"l": 10, "r": 20, "t": 30, "b": 50})
    return figure
