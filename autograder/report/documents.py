"""Markdown and HTML reports of a result document, rendered with jinja2."""
from __future__ import annotations

from pathlib import Path

import jinja2

_ENV = jinja2.Environment(loader=jinja2.PackageLoader("autograder", "report/templates"),
                          autoescape=jinja2.select_autoescape(["html"]), trim_blocks=True,
                          lstrip_blocks=True)


def _ordered(result: dict) -> list[dict]:
    checks = result.get("checks", [])
    return [c for c in checks if not c["passed"]] + [c for c in checks if c["passed"]]


def render_markdown(result: dict) -> str:
    return _ENV.get_template("report.md.j2").render(result=result, checks=_ordered(result))


def render_html(result: dict) -> str:
    return _ENV.get_template("report.html.j2").render(result=result, checks=_ordered(result))


def write_markdown(result: dict, path) -> None:
    Path(path).write_text(render_markdown(result))


def write_html(result: dict, path) -> None:
    Path(path).write_text(render_html(result))
