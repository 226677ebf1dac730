"""Figures for the HTML report, drawn with matplotlib (Agg) and embedded as PNG data URIs."""
from __future__ import annotations

import base64
import io
import threading

import numpy as np

#: Rows or columns of a confusion matrix drawn at most: a larger one is shown only as a table
#: (drawing grows with the cells: 5,000 columns took 3.6 GB and 40 s).
MAX_DRAWN_CLASSES = 12

#: The largest value a Keras metric can hold (float32): a history value beyond it was not
#: logged by training but written by the notebook, and one of +-1e308 made matplotlib's axis
#: range overflow, so it is left out of the curve like a missing value (the table shows it).
LARGEST_METRIC = float(np.finfo(np.float32).max)


# Titles are placed with y=1.0, where matplotlib's automatic placement puts them on these
# axes anyway (no tick labels above): the automatic placement measured every tick label of
# each axes first, a fifth of a learning curve's drawing, for the same pixels.


def _figure(width: float, height: float, columns: int = 1):
    """A figure of its own, not pyplot's global one: reports are drawn in parallel threads."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height))
    axes = [figure.add_subplot(1, columns, i + 1) for i in range(columns)]
    return figure, axes


#: zlib's fastest level: a third less of the PNG encoder's time, for files a tenth larger
#: (its default, 6, was a tenth of a whole report's drawing).
PNG_OPTIONS = {"compress_level": 1}


def _data_uri(figure) -> str:
    # Fixed margins rather than a "tight" layout: laying text out twice per figure was most
    # of the time a whole report took.
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=96, pil_kwargs=PNG_OPTIONS)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


class _CurvePanel:
    """One learning-curve panel, kept by each drawing thread and drawn again with each report's
    numbers: a new figure per panel built its axes and ticks anew and measured every tick
    label again (its text metrics are cached per figure), a fifth of the curves' drawing.
    Every property a panel shows is set on each draw, so it comes out byte for byte as a
    new figure would (a test draws both after a report with extreme values)."""

    SERIES = (("training", "o-"), ("validation", "s--"))

    def __init__(self) -> None:
        self.figure, (self.axis,) = _figure(4.2, 3.0)
        self.lines = [self.axis.plot([], [], style, label=label, markersize=4)[0] for label, style in self.SERIES]
        self.axis.set_xlabel("epoch")
        self.axis.grid(alpha=0.3)
        self.figure.subplots_adjust(left=0.16, right=0.96, bottom=0.16, top=0.9)

    def draw(self, title: str, training: list[float], validation: list[float]) -> str:
        for line, values in zip(self.lines, (training, validation)):
            line.set_data(range(1, len(values) + 1), values)
            line.set_visible(bool(values))
        self.axis.set(xlim=(0, 1), ylim=(0, 1))  # a new axes' limits, kept when nothing is finite
        self.axis.set_autoscale_on(True)
        self.axis.relim(visible_only=True)
        self.axis.autoscale_view()
        self.axis.set_title(title, y=1.0)
        self.axis.legend(handles=[line for line in self.lines if line.get_visible()])
        return _data_uri(self.figure)


_drawing_thread = threading.local()


def learning_curves(history: dict) -> list[str]:
    """Loss and accuracy per epoch, training and validation: one image per panel, so that a
    narrow screen can stack them."""
    if not history or not history.get("loss"):
        return []
    accuracy_key = next((k for k in history if "acc" in k and not k.startswith("val_")), None)
    panels = [("loss", "Loss (lower is better)")] + ([(accuracy_key, "Accuracy")] if accuracy_key else [])
    panel = getattr(_drawing_thread, "curve_panel", None)
    if panel is None:
        panel = _drawing_thread.curve_panel = _CurvePanel()
    try:
        return [panel.draw(title, _plotted(history.get(key)), _plotted(history.get(f"val_{key}")))
                for key, title in panels]
    except BaseException:
        _drawing_thread.curve_panel = None  # whatever state a failed drawing left is not kept
        raise


def _plotted(values) -> list[float]:
    return [v if v is not None and abs(v) <= LARGEST_METRIC else np.nan for v in values or []]


def histogram(scores: list[float], maximum: float) -> str | None:
    """How many students got each score, in bins of a tenth of the maximum."""
    if not scores:
        return None
    figure, (axis,) = _figure(6.0, 2.8)
    axis.hist(scores, bins=np.linspace(0, maximum, 11), color="#3b6fb6", edgecolor="white")
    axis.set_xlabel("score")
    axis.set_ylabel("students")
    axis.set_xlim(0, maximum)
    axis.yaxis.get_major_locator().set_params(integer=True)
    figure.subplots_adjust(left=0.1, right=0.97, bottom=0.18, top=0.95)
    return _data_uri(figure)


def confusion_matrix(matrix: list[list[int]], class_names) -> str | None:
    """The matrix as an image; None when it is empty or too large to draw (MAX_DRAWN_CLASSES)."""
    if not matrix or len(matrix) > MAX_DRAWN_CLASSES or len(matrix[0]) > MAX_DRAWN_CLASSES:
        return None
    counts = np.asarray(matrix)
    columns = [class_names[i] if i < len(class_names) else f"class {i}" for i in range(counts.shape[1])]
    figure, (axis,) = _figure(1.2 + 1.1 * counts.shape[1], 3.6)
    axis.imshow(counts, cmap="Blues")
    for (row, column), count in np.ndenumerate(counts):
        axis.text(column, row, str(count), ha="center", va="center",
                  color="white" if count > counts.max() / 2 else "black", fontsize=12)
    axis.set_xticks(range(len(columns)), columns, rotation=30 if len(columns) > 3 else 0)
    axis.set_yticks(range(counts.shape[0]), class_names[:counts.shape[0]])
    axis.set_xlabel("predicted")
    axis.set_ylabel("true")
    figure.subplots_adjust(left=0.22, right=0.97, bottom=0.18, top=0.97)
    return _data_uri(figure)


def thumbnail(pixels) -> str:
    """One 28x28 grey image as a tiny PNG."""
    from matplotlib.image import imsave

    buffer = io.BytesIO()
    image = np.asarray(pixels, dtype=np.float64).reshape(28, 28)
    imsave(buffer, image, cmap="gray", vmin=0.0, vmax=1.0, format="png", pil_kwargs=PNG_OPTIONS)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def first_layer(kernels: list, maps: list, image=None) -> str | None:
    """A first Conv2D layer: each filter's weights (top row, red for positive, blue for negative)
    above what it makes of one test image (bottom row), with that image at the left when given."""
    filters = np.asarray(kernels, dtype=np.float64)
    responses = np.asarray(maps, dtype=np.float64)
    if filters.ndim != 3 or responses.ndim != 3 or not len(filters) or len(filters) != len(responses):
        return None
    from matplotlib.figure import Figure

    columns = len(filters) + 1
    figure = Figure(figsize=(0.9 * columns, 2.3))
    weight_scale = max(float(np.abs(filters).max()), 1e-6)  # one scale for all: filters compare
    low, high = min(float(responses.min()), 0.0), max(float(responses.max()), 1e-6)
    for index in range(columns):
        top, bottom = figure.add_subplot(2, columns, index + 1), figure.add_subplot(2, columns, columns + index + 1)
        for axis in (top, bottom):
            axis.set_xticks([])
            axis.set_yticks([])
        if index == 0:
            top.axis("off")
            top.text(0.5, 0.5, "filters", ha="center", va="center", fontsize=9)
            if image is None:
                bottom.axis("off")
            else:
                bottom.imshow(np.asarray(image, dtype=np.float64).reshape(28, 28), cmap="gray", vmin=0, vmax=1)
                bottom.set_title("test image", fontsize=8, y=1.0)
            continue
        top.imshow(filters[index - 1], cmap="RdBu_r", vmin=-weight_scale, vmax=weight_scale)
        top.set_title(str(index), fontsize=8, y=1.0)
        bottom.imshow(responses[index - 1], cmap="magma", vmin=low, vmax=high)
    figure.subplots_adjust(left=0.01, right=0.99, bottom=0.02, top=0.88, wspace=0.15, hspace=0.3)
    return _data_uri(figure)
