"""The jinja2 environment and filters every rendering shares (reports, summaries, self-checks)."""
from __future__ import annotations

import re

import jinja2
import markupsafe

ENV = jinja2.Environment(loader=jinja2.PackageLoader("autograder", "report/templates"),
                         autoescape=jinja2.select_autoescape(["html", "html.j2"]), trim_blocks=True,
                         lstrip_blocks=True)
ENV.filters["shape"] = lambda shape: "?" if shape is None else "(" + ", ".join(
    "None" if d is None else str(d) for d in shape) + ")"
ENV.filters["number"] = lambda value: "—" if value is None else f"{value:.4f}"
ENV.filters["cell"] = lambda text: str(text).replace("|", "\\|").replace("\n", " ")


def inline_code(text) -> markupsafe.Markup:
    """Escape a message for HTML and show its `code` spans as code."""
    escaped = str(markupsafe.escape(text))
    return markupsafe.Markup(re.sub(r"`([^`]+)`", r"<code>\1</code>", escaped))


ENV.filters["code"] = inline_code
