"""The summary `autograder check` prints: score, verdict, then every check, failures first."""
from __future__ import annotations

import os
import shutil
import textwrap

STATUS_LINES = {
    "timeout": "The notebook ran out of time; checks on what ran before still count.",
    "kernel_died": "The Python kernel died; checks on what ran before still count.",
    "invalid": "The notebook could not be graded.",
}


def _style(enabled: bool):
    def paint(text: str, code: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if enabled else text
    return paint


def render(result: dict, color: bool | None = None, width: int | None = None) -> str:
    if color is None:
        color = False
    width = width or min(100, shutil.get_terminal_size((100, 24)).columns)
    paint = _style(color)
    lines = []
    checks = result.get("checks", [])
    passed = sum(1 for c in checks if c["passed"])
    header = f"{result.get('notebook')} · {result.get('exercise') or 'no exercise'}"
    lines.append(paint(header, "1"))
    if result["status"] == "invalid":
        lines.append(paint("NOT GRADED", "1;31") + f"  {result.get('reason', '')}")
        return "\n".join(lines) + "\n"
    score = f"Score {result['score']:g}/{result['max_score']:g}"
    verdict = ("all checks passed" if passed == len(checks)
               else f"{passed} of {len(checks)} checks passed")
    lines.append(paint(score, "1") + f" — {verdict}")
    accuracy = (result.get("metrics") or {}).get("test_accuracy")
    if accuracy is not None:
        lines.append(f"Test accuracy measured by the grader: {accuracy:.2f} "
                     f"(threshold {result['metrics'].get('threshold', 0):.2f})")
    if result["status"] in STATUS_LINES:
        lines.append(paint(STATUS_LINES[result["status"]], "33"))
    lines.append("")
    id_width = max((len(c["id"]) for c in checks), default=10)
    ordered = [c for c in checks if not c["passed"]] + [c for c in checks if c["passed"]]
    indent = " " * (6 + id_width + 9)
    for entry in ordered:
        mark = paint("PASS", "32") if entry["passed"] else paint("FAIL", "1;31")
        points = f"{entry['points']:g}/{entry['max_points']:g}".rjust(6)
        text = textwrap.wrap(entry["message"], max(30, width - len(indent))) or [""]
        lines.append(f"{mark}  {entry['id'].ljust(id_width)} {points}  {text[0]}")
        lines.extend(indent + more for more in text[1:])
        if entry.get("hint"):
            hint = textwrap.wrap("Next step: " + entry["hint"], max(30, width - len(indent)))
            lines.extend(indent + paint(h, "36") for h in hint)
    lines.append("")
    lines.append(f"Graded in {result.get('duration_s', 0):.1f} s"
                 + (f", isolated with {result['isolation']}" if result.get("isolation") else "") + ".")
    return "\n".join(lines) + "\n"


def wants_color(stream) -> bool:
    return hasattr(stream, "isatty") and stream.isatty() and "NO_COLOR" not in os.environ
