"""Figures for the HTML report, drawn with matplotlib (Agg) and embedded as PNG data URIs."""
from __future__ import annotations

import base64
import io

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _data_uri(figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=96, bbox_inches="tight")
    _pyplot().close(figure)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def learning_curves(history: dict) -> str | None:
    """Loss and accuracy per epoch, training and validation side by side."""
    if not history or not history.get("loss"):
        return None
    plt = _pyplot()
    accuracy_key = next((k for k in history if "acc" in k and not k.startswith("val_")), None)
    panels = [("loss", "Loss (lower is better)")] + ([(accuracy_key, "Accuracy")] if accuracy_key else [])
    figure, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.0), squeeze=False)
    for axis, (key, title) in zip(axes[0], panels):
        for series, label, style in ((key, "training", "o-"), (f"val_{key}", "validation", "s--")):
            values = [np.nan if v is None else v for v in history.get(series) or []]
            if values:
                axis.plot(range(1, len(values) + 1), values, style, label=label, markersize=4)
        axis.set_title(title)
        axis.set_xlabel("epoch")
        axis.grid(alpha=0.3)
        axis.legend()
    figure.tight_layout()
    return _data_uri(figure)


def confusion_matrix(matrix: list[list[int]], class_names) -> str | None:
    if not matrix:
        return None
    plt = _pyplot()
    counts = np.asarray(matrix)
    columns = [class_names[i] if i < len(class_names) else f"class {i}" for i in range(counts.shape[1])]
    figure, axis = plt.subplots(figsize=(1.2 + 1.1 * counts.shape[1], 3.6))
    axis.imshow(counts, cmap="Blues")
    for (row, column), count in np.ndenumerate(counts):
        axis.text(column, row, str(count), ha="center", va="center",
                  color="white" if count > counts.max() / 2 else "black", fontsize=12)
    axis.set_xticks(range(len(columns)), columns, rotation=30 if len(columns) > 3 else 0)
    axis.set_yticks(range(counts.shape[0]), class_names[:counts.shape[0]])
    axis.set_xlabel("predicted")
    axis.set_ylabel("true")
    figure.tight_layout()
    return _data_uri(figure)


def thumbnail(pixels) -> str:
    """One 28x28 grey image as a tiny PNG."""
    plt = _pyplot()
    buffer = io.BytesIO()
    image = np.asarray(pixels, dtype=np.float64).reshape(28, 28)
    plt.imsave(buffer, image, cmap="gray", vmin=0.0, vmax=1.0, format="png")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
