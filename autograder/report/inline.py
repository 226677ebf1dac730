"""The self-check's rendering: one panel in the student's notebook, as rich HTML with a
plain-text fallback (Jupyter picks `_repr_html_`, a terminal or a log gets `repr`)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..exercise.registry import TASK_TITLES, TASKS
from .templating import ENV

if TYPE_CHECKING:
    from ..grading.result import CheckEntry

SYMBOLS = {"passed": "✓", "failed": "✗", "not_started": "○", "unavailable": "!"}


@dataclass
class Group:
    step: str
    title: str
    state: str  # passed | failed | not_started
    checks: list[dict]


@dataclass
class Panel:
    """What one self-check cell shows: a step's checks, every step's, or a note."""

    step: str
    title: str
    state: str  # passed | failed | not_started | unavailable
    headline: str
    groups: list[Group] = field(default_factory=list)
    note: str = ""
    footer: str = ""

    def _repr_html_(self) -> str:
        return ENV.get_template("selfcheck.html.j2").render(v=self)

    def __repr__(self) -> str:
        return render_text(self)

    @property
    def passed(self) -> bool:
        return self.state == "passed"


def _entry(check: CheckEntry, with_points: bool, cause: str = "") -> dict:
    """One check as a panel shows it; `cause` sends a failed check to the root cause that explains
    it, in place of its own next step."""
    return {"id": check["id"], "title": check["title"], "passed": check["passed"], "message": check["message"],
            "hint": "" if cause and not check["passed"] else check["hint"], "cause": "" if check["passed"] else cause,
            "points": check["points"] if with_points else None, "max_points": check["max_points"]}


def group(step: str, checks: list[CheckEntry], not_started: bool = False, with_points: bool = False,
          causes: dict[str, str] | None = None) -> Group:
    passed = all(c["passed"] for c in checks)
    state = "passed" if passed else "not_started" if not_started else "failed"
    return Group(step, TASK_TITLES[step], state,
                 [_entry(c, with_points, (causes or {}).get(c["id"], "")) for c in checks])


def step_panel(step: str, checks: list[CheckEntry], not_started: bool, causes: dict[str, str] | None = None) -> Panel:
    part = group(step, checks, not_started, causes=causes)
    if part.state == "not_started":
        return Panel(step, part.title, "not_started", "not started yet",
                     note="This step is not done yet: replace `raise NotImplementedError()` in the cell "
                          "above with your code, run that cell, then run this check again.")
    passing = sum(c["passed"] for c in checks)
    headline = "passed" if part.state == "passed" else f"{passing} of {len(checks)} checks pass"
    return Panel(step, part.title, part.state, headline, [part])


def all_panel(checks: list[CheckEntry], score: float, max_score: float, accuracy: float | None,
              causes: dict[str, str] | None = None) -> Panel:
    by_id = {c["id"]: c for c in checks}
    groups = [group(step, [by_id[i] for i in ids if i in by_id], with_points=True, causes=causes)
              for step, ids in TASKS.items()]
    state = "passed" if all(g.state == "passed" for g in groups) else "failed"
    measured = f" Test accuracy measured by the grader: {accuracy:.3f}." if accuracy is not None else ""
    return Panel("all", "Every check", state, f"{score:g} of {max_score:g} points", groups,
                 footer="This is your current work in this kernel." + measured + " Your grade comes from "
                        "the autograder running the saved notebook from the top, so save it and use "
                        "Kernel > Restart & Run All to see exactly what it will see.")


def note_panel(title: str, note: str, state: str = "unavailable") -> Panel:
    return Panel("note", title, state, "", note=note)


def render_text(panel: Panel) -> str:
    lines = [f"{SYMBOLS[panel.state]} {panel.title}" + (f": {panel.headline}" if panel.headline else "")]
    if panel.note:
        lines.append(f"  {panel.note}")
    for part in panel.groups:
        indent = "  "
        if len(panel.groups) > 1:
            lines.append(f"  {SYMBOLS[part.state]} {part.title}")
            indent = "    "
        for check in part.checks:
            points = f" ({check['points']:g}/{check['max_points']:g})" if check["points"] is not None else ""
            lines.append(f"{indent}{'✓ Passed' if check['passed'] else '✗ Not yet'}: {check['title']}{points}")
            lines.append(f"{indent}  {check['message']}")
            if check["cause"]:
                lines.append(f"{indent}  {check['cause']}")
            elif check["hint"]:
                lines.append(f"{indent}  Next step: {check['hint']}")
    if panel.footer:
        lines.append(f"  {panel.footer}")
    return "\n".join(lines)
