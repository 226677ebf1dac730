"""Markdown and HTML renderings of the report model, with jinja2."""
from __future__ import annotations

from pathlib import Path

import re

import jinja2
import markupsafe

from . import model, plots

_ENV = jinja2.Environment(loader=jinja2.PackageLoader("autograder", "report/templates"),
                          autoescape=jinja2.select_autoescape(["html", "html.j2"]), trim_blocks=True,
                          lstrip_blocks=True)
_ENV.filters["shape"] = lambda shape: "?" if shape is None else "(" + ", ".join(
    "None" if d is None else str(d) for d in shape) + ")"
_ENV.filters["number"] = lambda value: "—" if value is None else f"{value:.4f}"
_ENV.filters["cell"] = lambda text: str(text).replace("|", "\\|").replace("\n", " ")


def _inline_code(text) -> markupsafe.Markup:
    """Escape a message for HTML and show its `code` spans as code."""
    escaped = str(markupsafe.escape(text))
    return markupsafe.Markup(re.sub(r"`([^`]+)`", r"<code>\1</code>", escaped))


_ENV.filters["code"] = _inline_code


def _context(report: model.Report) -> dict:
    """What both templates use besides the report: the history padded to equal lengths, column names."""
    history_length = max((len(v) for v in (report.history or {}).values()), default=0)
    width = len(report.confusion[0]) if report.confusion else 0
    column_names = [report.class_names[i] if i < len(report.class_names) else f"class {i}" for i in range(width)]
    history = {k: list(v) + [None] * (history_length - len(v)) for k, v in (report.history or {}).items()}
    return {"r": report, "history": history, "history_length": history_length, "column_names": column_names,
            "mistakes": report.mistakes}


def render_markdown(report: model.Report) -> str:
    return _ENV.get_template("report.md.j2").render(**_context(report)).strip() + "\n"


def render_html(report: model.Report) -> str:
    images = {"curves": plots.learning_curves(report.history) if report.history else None,
              "confusion": plots.confusion_matrix(report.confusion, report.class_names) if report.confusion else None}
    context = _context(report)
    context["mistakes"] = [{**m, "image": plots.thumbnail(m["pixels"])} for m in report.mistakes
                           if m.get("pixels") is not None]
    return _ENV.get_template("report.html.j2").render(images=images, **context)


def write_markdown(report: model.Report, path) -> None:
    Path(path).write_text(render_markdown(report))


def write_html(report: model.Report, path) -> None:
    Path(path).write_text(render_html(report))
