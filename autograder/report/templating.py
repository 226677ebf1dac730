"""The jinja2 environment and filters every rendering shares (reports, summaries, self-checks).

Every value a template prints first loses its control, format and bidi characters
(`escaping.visible`), whichever template and medium: student text shows as what it says.
HTML templates are autoescaped besides; Markdown templates escape with the `md*` filters.
"""
from __future__ import annotations

import re

import jinja2
import markupsafe

from . import escaping


def _printable(value):
    """jinja2's `finalize`: what `{{ value }}` prints, without hidden characters."""
    if isinstance(value, markupsafe.Markup):
        return markupsafe.Markup(escaping.visible(value))
    if isinstance(value, str):
        return escaping.visible(value)
    return value


ENV = jinja2.Environment(loader=jinja2.PackageLoader("autograder", "report/templates"),
                         autoescape=jinja2.select_autoescape(["html", "html.j2"]), trim_blocks=True,
                         lstrip_blocks=True, finalize=_printable)
ENV.filters["shape"] = lambda shape: "?" if shape is None else "(" + ", ".join(
    "None" if d is None else str(d) for d in shape) + ")"
# Four decimals, as Keras prints them; a value far beyond what training logs (a callback may
# write any finite number) in exponent form, not as a 309-digit line in a table of 20,000 cells.
ENV.filters["number"] = lambda value: ("—" if value is None else f"{value:.4f}" if abs(value) < 1e6
                                       else f"{value:.4g}")
# A notebook's text may be of any length (an error message, a line of code, a name): what
# a report shows of one piece is cut at MAX_TEXT characters, saying how much was left out.
MAX_TEXT = 2000
ENV.filters["clip"] = lambda text, limit=MAX_TEXT: escaping.clip(str(text), limit)


def inline_code(text) -> markupsafe.Markup:
    """Escape a message for HTML (cut at MAX_TEXT) and show its `code` spans as code."""
    escaped = str(markupsafe.escape(escaping.clip(str(text), MAX_TEXT)))
    return markupsafe.Markup(re.sub(r"`([^`]+)`", r"<code>\1</code>", escaped))


ENV.filters["code"] = inline_code
# Markdown: `md` for text, `md_message` for our messages with `code` spans, `md_code` for a
# code span; `table=True` inside a table row. Each cuts at MAX_TEXT.
ENV.filters["md"] = lambda text: escaping.markdown_text(escaping.clip(str(text), MAX_TEXT))
ENV.filters["md_message"] = lambda text, table=False: escaping.markdown_message(
    escaping.clip(str(text), MAX_TEXT), in_table=table)
ENV.filters["md_code"] = lambda text, table=False: escaping.markdown_code(
    escaping.clip(str(text), MAX_TEXT), in_table=table)
ENV.filters["fence"] = escaping.fence
