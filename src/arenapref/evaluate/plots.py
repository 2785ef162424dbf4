"""The report's figures: plain functions from numbers to a matplotlib ``Figure`` (no pyplot state).

``Figure`` objects render with the Agg canvas directly, so nothing here needs a display or a GUI backend.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from arenapref.data.schema import CLASS_NAMES
from arenapref.metrics import reliability_bins

MODEL_COLOUR, PRIOR_COLOUR, UNIFORM_COLOUR = "#1f77b4", "#ff7f0e", "#7f7f7f"


def png_bytes(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    return buf.getvalue()


def reliability_figure(targets: np.ndarray, proba: np.ndarray, eces: list[float]) -> Figure:
    """One panel per class: observed frequency against predicted probability, with bin counts below."""
    fig = Figure(figsize=(13, 4.4))
    axes = fig.subplots(1, 3)
    for j, ax in enumerate(axes):
        bins = reliability_bins(proba[:, j], targets[:, j])
        used = bins["count"] > 0
        centres = 0.5 * (bins["edges"][:-1] + bins["edges"][1:])
        ax.plot([0, 1], [0, 1], color=UNIFORM_COLOUR, ls="--", lw=1, label="perfect calibration")
        ax.plot(bins["confidence"][used], bins["observed"][used], "o-", color=MODEL_COLOUR, label="model")
        ax.axhline(targets[:, j].mean(), color=PRIOR_COLOUR, lw=1, label="class frequency")
        twin = ax.twinx()
        twin.bar(centres, bins["count"], width=1 / len(centres), alpha=0.15, color=MODEL_COLOUR)
        twin.set_yticks([])
        ax.set(xlim=(0, 1), ylim=(0, 1), xlabel=f"predicted P({CLASS_NAMES[j]})",
               ylabel="observed frequency" if j == 0 else None,
               title=f"class {CLASS_NAMES[j]}: ECE {eces[j]:.3f}")
        if j == 0:
            ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    return fig


def confusion_figure(matrix: np.ndarray) -> Figure:
    """Counts of (true class, predicted argmax), coloured by the row share."""
    fig = Figure(figsize=(4.8, 4.2))
    ax = fig.subplots()
    share = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    for i in range(3):
        for j in range(3):
            ax.text(j, i, f"{int(matrix[i, j])}\n{share[i, j]:.0%}", ha="center", va="center",
                    color="white" if share[i, j] > 0.6 else "black")
    ax.set(xticks=range(3), yticks=range(3), xticklabels=CLASS_NAMES, yticklabels=CLASS_NAMES,
           xlabel="predicted (argmax)", ylabel="label", title="confusion matrix (row share)")
    fig.tight_layout()
    return fig


def breakdown_figure(rows: list[dict[str, Any]], title: str) -> Figure:
    """Log loss per bucket: model and class prior as bars, uniform as a line."""
    fig = Figure(figsize=(max(5.0, 1.1 * len(rows) + 2), 3.8))
    ax = fig.subplots()
    x = np.arange(len(rows))
    ax.bar(x - 0.2, [r["log_loss"] for r in rows], 0.4, color=MODEL_COLOUR, label="model")
    ax.bar(x + 0.2, [r["prior_log_loss"] for r in rows], 0.4, color=PRIOR_COLOUR, label="class prior")
    ax.axhline(np.log(3), color=UNIFORM_COLOUR, ls="--", lw=1, label="uniform")
    ax.set_xticks(x, [f"{r['bucket']}\n(n={r['n']})" for r in rows], fontsize=8)
    low = min([r["log_loss"] for r in rows] + [r["prior_log_loss"] for r in rows] + [1.0])
    ax.set(ylabel="log loss", title=title, ylim=(max(0.0, low - 0.1), None))
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    return fig


def position_bias_figure(gaps: np.ndarray, flip_rate: float) -> Figure:
    """Histogram of |p(A | x) − p(B | swapped x)| without swap TTA."""
    fig = Figure(figsize=(6, 3.8))
    ax = fig.subplots()
    ax.hist(gaps, bins=np.linspace(0, max(0.05, float(gaps.max()) if len(gaps) else 0.05), 31).tolist(), color=MODEL_COLOUR)
    ax.set(xlabel="|p(A | x) − p(B | swapped x)|", ylabel="pairs",
           title=f"position bias without TTA: argmax flips on {flip_rate:.1%} of pairs")
    fig.tight_layout()
    return fig


def learning_curve_figure(curve: dict[str, Any]) -> Figure:
    fig = Figure(figsize=(6.5, 3.8))
    ax = fig.subplots()
    for name, points in curve["series"].items():
        pts = np.asarray(points, dtype=float).reshape(-1, 2)
        ax.plot(pts[:, 0], pts[:, 1], marker="." if len(pts) < 50 else None, label=name)
    ax.axhline(np.log(3), color=UNIFORM_COLOUR, ls="--", lw=1, label="uniform log loss")
    ax.set(xlabel=curve.get("x", "step"), ylabel=curve.get("y", "loss"), title="learning curves")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
