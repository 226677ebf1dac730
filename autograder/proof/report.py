"""The proof's report: an HTML page (Jinja2, autoescaped, like the students' reports) and the
summary `exercise prove` prints.

Every text of the proof that came from a graded notebook (check messages, causes, the code of a
change) is the instructor's own solution's, but it goes through the same escaping as student
text: `plain` for the terminal, autoescaping for HTML."""
from __future__ import annotations

import textwrap
from typing import Any

from ..report.escaping import markdown_text, not_a_command
from ..report.github import annotation
from ..report.templating import ENV
from ..report.terminal import plain


def percent(rate: float) -> str:
    """A chance as people read it: '<0.1%' rather than '0%' for a small one."""
    if rate < 0.001:
        return "<0.1%"
    if rate < 0.01:
        return f"{rate:.1%}"
    return f"{rate:.0%}"


def spread(low: float, high: float) -> str:
    return f"{low:.2f}" if f"{low:.2f}" == f"{high:.2f}" else f"{low:.2f}-{high:.2f}"


def calibration_line(calibration: dict[str, Any]) -> str:
    untrained = calibration.get("untrained_accuracies") or []
    measured_on = "the holdout" if calibration.get("measured_on") == "holdout" else "the test images"
    others = len(calibration.get("other_accuracies") or [])
    return (f"{calibration['runs']} run{'s' if calibration['runs'] != 1 else ''} of the solution"
            + (f" and {others} equivalent form{'s' if others != 1 else ''}, each with its own seed" if others else "")
            + f", accuracy on {measured_on} {spread(calibration['lowest'], calibration['highest'])} "
            f"(mean {calibration['mean']:.3f}, "
            f"sd {calibration['sd']:.3f}); threshold {calibration['threshold']:.2f}: a correct notebook fails it with "
            f"a chance of {percent(calibration['false_fail_rate'])}; suggested threshold "
            f"{calibration['suggested_threshold']:.2f} (a chance under {percent(calibration['level'])})"
            + (f"; an untrained model reaches {spread(min(untrained), max(untrained))} (a chance of "
               f"{percent(calibration['untrained_pass_rate'])} to reach the threshold)" if untrained else ""))


def render_terminal(proof: dict[str, Any], width: int = 100) -> str:
    lines = [f"Proof of {plain(proof['exercise'])} with {plain(proof['solution'])}: "
             + ("every proof holds" if proof["holds"] else f"{len(proof['problems'])} proof(s) do not hold")]
    lines += textwrap.wrap("Calibration: " + plain(calibration_line(proof["calibration"])), width,
                           subsequent_indent="  ")
    for title, entries in (("Mutants caught", proof["mutants"]), ("Equivalents with full marks", proof["equivalents"])):
        held = sum(1 for e in entries if e["ok"])
        lines.append(f"{title}: {held} of {len(entries)}")
        id_width = max((len(plain(e["id"])) for e in entries), default=10)
        for e in entries:
            mark = "ok  " if e["ok"] else "FAIL"
            score = f"{e['score']:g}/{e['max_score']:g}" if isinstance(e.get("score"), (int, float)) else "?"
            lines.append(f"  {mark} {plain(e['id']).ljust(id_width)}  {score:>9}  {plain(e['description'])}")
    if proof["skipped"]:
        lines.append(f"Not made ({len(proof['skipped'])}): the solution's code gives them no place")
        for skipped in proof["skipped"]:
            text = f"{plain(skipped['kind'])} {plain(skipped['id'])}: {plain(skipped['reason'])}"
            lines += textwrap.wrap(text, width, initial_indent="  ", subsequent_indent="    ")
    if proof["problems"]:
        lines.append("What to fix:")
        for problem in proof["problems"]:
            lines += textwrap.wrap(f"[{plain(problem['expectation'])}] {plain(problem['what'])}", width,
                                   initial_indent="  - ", subsequent_indent="    ")
            lines += textwrap.wrap(f"Fix: {plain(problem['fix'])}", width, initial_indent="    ",
                                   subsequent_indent="    ")
    return "\n".join(not_a_command(line) for line in lines) + "\n"


def render_markdown(proof: dict[str, Any]) -> str:
    """The proof in a few lines, for a CI job's summary: every text escaped as Markdown text."""
    lines = [f"### Proof of {markdown_text(proof['exercise'])}: "
             + ("every proof holds" if proof["holds"] else f"{len(proof['problems'])} proof(s) do not hold"), "",
             markdown_text(calibration_line(proof["calibration"])) + ".", "",
             f"Mutants caught: {sum(1 for e in proof['mutants'] if e['ok'])} of {len(proof['mutants'])}; "
             f"equivalents with full marks: {sum(1 for e in proof['equivalents'] if e['ok'])} of "
             f"{len(proof['equivalents'])}."]
    if proof["problems"]:
        lines += ["", "What to fix:", ""]
        lines += [f"- **{markdown_text(p['expectation'])}**: {markdown_text(p['what'])}. Fix: {markdown_text(p['fix'])}"
                  for p in proof["problems"]]
    return "\n".join(lines) + "\n"


def problem_annotations(proof: dict[str, Any], file: str) -> list[str]:
    """One ::error per proof that does not hold, on the exercise file."""
    return [annotation("error", file, f"Unprotected: {p['expectation']}", f"{p['what']}. Fix: {p['fix']}")
            for p in proof["problems"]]


def render_html(proof: dict[str, Any]) -> str:
    return ENV.get_template("proof.html.j2").render(p=proof, calibration_line=calibration_line(proof["calibration"]),
                                                    percent=percent)
