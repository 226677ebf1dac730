"""The summary `autograder check` prints, from the report model: score, headline, what
was not graded, each root cause with the checks it costs, the other failed checks, then
the passed ones in one line each.

Every piece of text from the report is printed through `plain`: the notebook controls
some of it (its name, error messages, names in its code), and a terminal would obey the
escape sequences in it. The only escape sequences printed are our own colours, and no line
starts with `::`, which GitHub Actions would read as a workflow command."""
from __future__ import annotations

import os
import shutil
import textwrap

from .escaping import clip, not_a_command, visible
from .model import Report

# A message longer than this is cut: a notebook may raise an error of any length.
MAX_TEXT = 1000


def plain(text: object) -> str:
    """Student-controlled text as one line a terminal only shows."""
    return clip(visible(text, one_line=True), MAX_TEXT)


def _style(enabled: bool):
    def paint(text: str, code: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if enabled else text
    return paint


def render(report: Report, color: bool = False, width: int | None = None) -> str:
    width = width or min(100, shutil.get_terminal_size((100, 24)).columns)
    paint = _style(color)
    lines = [paint(f"{plain(report.notebook)} · {plain(report.exercise or 'no exercise')}", "1")]
    if report.status == "invalid":
        lines.append(paint("NOT GRADED", "1;31") + f"  {plain(report.verdict)}")
        for cause in report.causes:  # why, and what to do
            lines.extend(textwrap.wrap(plain(cause["message"]), width, initial_indent="  ", subsequent_indent="  "))
            lines.extend(paint(line, "36") for line in textwrap.wrap(
                "Next step: " + plain(cause["next_step"]), width, initial_indent="  ", subsequent_indent="  "))
        return "\n".join(not_a_command(line) for line in lines) + "\n"
    lines.append(paint(f"Score {report.score:g}/{report.max_score:g}", "1") + f" — {plain(report.verdict)}")
    if report.accuracy is not None:
        needed = f" (needed: {report.threshold:.2f})" if report.threshold is not None else ""
        untrained = ", with the random weights of a model that never trained" if report.untrained else ""
        lines.append(f"Test accuracy measured by the grader: {report.accuracy:.2f}{needed}{untrained}")
    if report.holdout_accuracy is not None:
        lines.append(f"Accuracy on images the notebook never saw: {report.holdout_accuracy:.2f}")
    for note in report.not_graded:
        lines.extend(paint(line, "33") for line in textwrap.wrap("! " + plain(note), width, subsequent_indent="  "))
    lines.append("")
    id_width = max((len(plain(c["id"])) for c in report.checks), default=10)
    indent = " " * (6 + id_width + 9)
    text_width = max(30, width - len(indent))

    def wrapped(text: str, prefix: str = "  ", code: str = "") -> list[str]:
        return [paint(line, code) if code else line
                for line in textwrap.wrap(plain(text), width, initial_indent=prefix, subsequent_indent="  ")]

    for number, cause in enumerate(report.causes, start=1):
        lines.append(paint(f"{number}. {plain(cause['title'])}", "1;31") + f"  ({plain(cause['where'])})")
        lines.extend(wrapped(cause["message"]))
        lines.extend(wrapped("Next step: " + cause["next_step"], code="36"))
        if cause["error"]:
            lines.extend(wrapped("Python said: " + cause["error"]))
        for entry in cause["costs"]:
            points = f"{entry['points']:g}/{entry['max_points']:g}".rjust(6)
            lines.append(f"{paint('FAIL', '1;31')}  {plain(entry['id']).ljust(id_width)} {points}  "
                         f"{plain(entry['title'])} (cause {number})")
        lines.append("")
    for entry in report.own_failures:
        points = f"{entry['points']:g}/{entry['max_points']:g}".rjust(6)
        text = textwrap.wrap(plain(entry["message"]), text_width) or [""]
        lines.append(f"{paint('FAIL', '1;31')}  {plain(entry['id']).ljust(id_width)} {points}  {text[0]}")
        lines.extend(indent + more for more in text[1:])
        if entry["hint"]:
            hint = textwrap.wrap("Next step: " + plain(entry["hint"]), text_width)
            lines.extend(indent + paint(h, "36") for h in hint)
    for entry in report.passed_checks:
        points = f"{entry['points']:g}/{entry['max_points']:g}".rjust(6)
        lines.append(f"{paint('PASS', '32')}  {plain(entry['id']).ljust(id_width)} {points}  {plain(entry['title'])}")
    lines.append("")
    isolated = f", isolated with {plain(report.isolation)}" if report.isolation else ""
    data = f"; {plain(report.graded_with)}" if report.graded_with else ""
    lines.append(f"Graded in {report.duration:.1f} s{isolated}{data}.")
    if report.holdout_notice:
        lines.extend(textwrap.wrap(plain(report.holdout_notice), text_width))
    return "\n".join(not_a_command(line) for line in lines) + "\n"


def wants_color(stream) -> bool:
    return hasattr(stream, "isatty") and stream.isatty() and "NO_COLOR" not in os.environ
