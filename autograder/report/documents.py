"""Markdown and HTML renderings of the report model, with jinja2."""
from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path

from . import model, plots
from .templating import ENV as _ENV

# A failing cell may have any number of lines; a report shows this many, around the error.
MAX_LINES = 200


def shown_lines(lines: list[dict]) -> list[dict]:
    """At most MAX_LINES of a cell's lines, around the marked one, with a row saying how many
    were left out before and after."""
    if len(lines) <= MAX_LINES:
        return lines
    marked = next((i for i, line in enumerate(lines) if line["marked"]), 0)
    start = max(0, min(marked - MAX_LINES // 2, len(lines) - MAX_LINES))
    end = start + MAX_LINES

    def gap(count: int) -> list[dict]:
        return [{"number": "…", "text": f"({count} lines left out)", "marked": False}] if count else []

    return gap(start) + lines[start:end] + gap(len(lines) - end)


def _context(report: model.Report) -> dict:
    """What both templates use besides the report: the history padded to equal lengths, column
    names, the failing cells' lines as shown."""
    history_length = max((len(v) for v in (report.history or {}).values()), default=0)
    width = len(report.confusion[0]) if report.confusion else 0
    column_names = [report.class_names[i] if i < len(report.class_names) else f"class {i}" for i in range(width)]
    history = {k: list(v) + [None] * (history_length - len(v)) for k, v in (report.history or {}).items()}
    return {"r": report, "history": history, "history_length": history_length, "column_names": column_names,
            "mistakes": report.mistakes, "untrained": model.UNTRAINED,
            "cells": [{**cell, "lines": shown_lines(cell["lines"])} for cell in report.failing_cells],
            "causes": [{**cause, "lines": shown_lines(cause["lines"])} for cause in report.causes]}


def render_markdown(report: model.Report) -> str:
    return _ENV.get_template("report.md.j2").render(**_context(report)).strip() + "\n"


def _figures(report: model.Report) -> tuple[dict, list[str]]:
    """The report's figures, and the names of those that could not be drawn. Each shows numbers
    the report also gives as text, and some come from the student's run (a callback can write
    any history), so one that fails is left out and said to be, never the report with it."""
    history, confusion, first = report.history, report.confusion, report.first_layer
    drawings = {
        "curves": (lambda: plots.learning_curves(history)) if history else None,
        "confusion": (lambda: plots.confusion_matrix(confusion, report.class_names)) if confusion else None,
        "first_layer": ((lambda: plots.first_layer(first["kernels"], first["maps"], report.first_layer_image))
                        if first else None)}
    images: dict = {"curves": []}
    left_out = []
    for name, draw in drawings.items():
        if draw is None:
            continue
        try:
            images[name] = draw()
        except Exception:  # noqa: BLE001 - see above; the tests draw every figure of a real report
            left_out.append(name)
    return images, left_out


def render_html(report: model.Report) -> str:
    images, left_out = _figures(report)
    context = _context(report)
    context["mistakes"] = [{**m, "image": plots.thumbnail(m["pixels"])} for m in report.mistakes
                           if m.get("pixels") is not None]
    return _ENV.get_template("report.html.j2").render(images=images, left_out=left_out, **context)


def write_html(report: model.Report, path) -> None:
    Path(path).write_text(render_html(report))


#: The warm-up's priority, below the fork server's import it runs beside (the evaluator's is 5).
WARM_UP_NICENESS = 10


def warm_up() -> threading.Thread:
    """Draw the report's kinds of figure once and compile its template, on a thread of its own,
    while a batch waits for its fork server: the first report paid a second of CPU for
    matplotlib's import and fonts, taken from the students' kernels running beside it. At a
    low priority, so that it takes none from the fork server's import, which every notebook waits for."""
    def draw() -> None:
        with contextlib.suppress(OSError):  # Linux sets priorities per thread: the rest of the grader keeps its own
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), WARM_UP_NICENESS)
        with contextlib.suppress(Exception):  # only a head start: a real report says what fails
            plots.learning_curves({"loss": [1.0, 0.5], "val_loss": [1.0, 0.6],
                                   "accuracy": [0.5, 0.8], "val_accuracy": [0.5, 0.7]})
            plots.confusion_matrix([[2, 1], [0, 3]], ("a", "b"))
            _ENV.get_template("report.html.j2")

    # Not a daemon: the interpreter waits for it at exit rather than finalising beside its C++
    # drawing (a Ctrl-C a second into `grade` could otherwise abort the process).
    thread = threading.Thread(target=draw, name="report-warm-up")
    thread.start()
    return thread


#: In place of a report that could not be drawn: the student's link still leads somewhere, and
#: says nothing of the submission (whatever broke the drawing may be in it).
MISSING_REPORT = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Report not drawn</title></head>
<body><main><h1>This report could not be drawn</h1>
<p>The grade was recorded without it. The grader's error is in this submission's result file, and the
report is drawn again the next time the class is graded.</p></main></body></html>
"""


def write_missing(path) -> None:
    Path(path).write_text(MISSING_REPORT)
