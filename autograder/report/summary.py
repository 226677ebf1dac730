"""The class summary for the instructor: summary.html to read, summary.json for other tools.

Both come from one `build`, so they always agree: how the class did, what to
reteach (each student counted once, under their first root cause), which
checks pass, which holdout gaps look suspicious, what was not graded.
"""
from __future__ import annotations

import json
import statistics
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import identity
from ..grading.gapstat import SUSPICIOUS_P
from ..grading.result import graded_with_text, grading_notice
from . import plots
from .templating import ENV as _ENV

SCHEMA = "autograder.summary/1"
MAX_NAMES = 40  # students named per row of the HTML; summary.json names them all
MAX_RETEACH = 20  # rows of "What to reteach" in the HTML; summary.json lists them all
MAX_SIMILAR = 50  # groups of similar submissions drawn in the HTML; summary.json lists them all
MAX_SIMILAR_LINES = 24  # sentences of evidence shown per group (a large group has many pairs)
MAX_SIMILAR_PAIRS = 6  # pairs of a group shown side by side
HISTOGRAM_BINS = 10  # tenths of the maximum score, as plots.histogram draws them
PLACEHOLDER_ERROR = "NotImplementedError"  # what a released template's answer cells raise
NOT_STARTED = "not-started"


@dataclass
class Lesson:
    """One row of "What to reteach": a mistake and the students whose first mistake it is."""

    kind: str  # the exception's name or a mistake id (causes[i].kind); a check id; or NOT_STARTED
    title: str  # in the grader's words, with the student's capitalisation and Keras' names
    source: str  # "cause", "check" or NOT_STARTED: where the row's name came from
    students: list[str] = field(default_factory=list)


def first_mistake(result: dict) -> tuple[str, str, str] | None:
    """(source, kind, title) of what a graded result's student should be retaught first; None
    when every check passed. An unstarted template is one mistake whatever failed in it."""
    failed = [c for c in result.get("checks", []) if not c["passed"]]
    if not failed:
        return None
    if not_started(result):
        return NOT_STARTED, NOT_STARTED, "Not started: the template as handed out, no step's code ran"
    causes = result.get("causes")
    if causes:
        return "cause", str(causes[0]["kind"]), str(causes[0]["title"])
    # A result graded before the cause analysis existed (an older gradebook row) has no
    # `causes` key, and a failed check with no deeper cause has "cause": null: either way
    # the first failed check, in rubric order, is the student's first mistake.
    first = next((c for c in failed if c.get("cause") is None), failed[0])
    return "check", first["id"], check_label(first)


def check_label(check: dict) -> str:
    """A failed check's name for the mistake, as it was written.

    Checks without a specific diagnosis were given "not done: " and their title lower-cased,
    which turns "(None, 784)" into "(none, 784)" and "Adam" into "adam": the title is used as
    written instead.
    """
    diagnosis = check.get("diagnosis") or ""
    if not diagnosis or diagnosis == f"not done: {check['title'].lower()}":
        return f"Not done: {check['title']}"
    return diagnosis


def not_started(result: dict) -> bool:
    """Is this the template as handed out (or nothing past loading)? No model was ever built,
    no check past loading the data passed, and the first cell that raised, if any, raised
    the template's placeholder NotImplementedError."""
    details = result.get("details") or {}
    if details.get("models_seen"):
        return False
    if any(c["passed"] for c in result.get("checks", []) if c["id"] != "data.load"):
        return False
    first_error = next((c for c in result.get("cells", []) if c.get("status") == "error"), None)
    return first_error is None or first_error.get("ename") == PLACEHOLDER_ERROR


def reteach(graded: list[tuple[str, dict]]) -> list[Lesson]:
    """Each (student, result) counted once, under their first mistake; most common first,
    unstarted templates on one line at the end."""
    rows: dict[tuple[str, str, str], Lesson] = {}
    for student, result in graded:
        mistake = first_mistake(result)
        if mistake is not None:
            source, kind, title = mistake
            rows.setdefault(mistake, Lesson(kind, identity.visible(title), source)).students.append(student)
    return sorted(rows.values(), key=lambda row: (row.source == NOT_STARTED, -len(row.students), row.kind, row.title))


def _score_bins(scores: list[float], maximum: float) -> list[dict]:
    counts, edges = np.histogram(scores, bins=np.linspace(0, maximum, HISTOGRAM_BINS + 1))
    return [{"from": float(low), "to": float(high), "students": int(count)}
            for count, low, high in zip(counts, edges[:-1], edges[1:], strict=True)]


def build(report, report_link: Callable[[str], str]) -> dict:
    """Everything summary.html shows; `machine_readable` picks summary.json's part of it."""
    outcomes = report.outcomes
    graded = [o for o in outcomes if o.result["status"] != "invalid"]
    scores = [o.result.get("score", 0.0) for o in graded]
    maximum = max((o.result.get("max_score", 100.0) for o in graded), default=100.0)
    checks: dict[str, dict] = {}
    for outcome in graded:
        for entry in outcome.result.get("checks", []):
            row = checks.setdefault(entry["id"], {"id": entry["id"], "title": entry["title"], "passed": 0, "total": 0})
            row["total"] += 1
            row["passed"] += entry["passed"]
    for row in checks.values():
        row["rate"] = row["passed"] / row["total"] if row["total"] else 0.0
    lessons = [{"kind": row.kind, "title": row.title, "source": row.source, "count": len(row.students),
                "students": row.students} for row in reteach([(o.submission.student, o.result) for o in graded])]
    stopped = [{"student": o.submission.student, "status": o.result["status"],
                "reason": identity.visible(_stop_reason(o.result))} for o in outcomes if o.result["status"] != "graded"]
    durations = [o.result.get("duration_s", 0.0) for o in outcomes if not o.reused]
    fresh = len(durations)
    students = [_student_row(o, final, report_link, _similar_anchors(report.similar))
                for o, final in zip(outcomes, _finals_of(report), strict=True)]
    return {
        "total": len(outcomes), "graded": len(graded),
        "reused": sum(o.reused and not getattr(o, "kept", False) for o in outcomes),
        "kept": sum(bool(getattr(o, "kept", False)) for o in outcomes), "fresh": fresh,
        "exercises": len({o.exercise for o in outcomes if o.exercise}),
        "decided": any(x["override"] is not None or x["comment"] or x["late_penalty"] is not None for x in students),
        "invalid": [o.submission.student for o in outcomes if o.result["status"] == "invalid"],
        "mean": statistics.mean(scores) if scores else None, "median": statistics.median(scores) if scores else None,
        "maximum": maximum, "full_marks": sum(1 for s in scores if s >= maximum),
        "bins": _score_bins(scores, maximum),
        "histogram": plots.histogram(scores, maximum), "checks": list(checks.values()),
        "reteach": lessons, "max_names": MAX_NAMES,
        # The unstarted line stays whatever is cut: it says how many did nothing at all.
        "reteach_shown": [r for r in lessons if r["source"] != NOT_STARTED][:MAX_RETEACH]
        + [r for r in lessons if r["source"] == NOT_STARTED],
        "reteach_left_out": max(0, sum(r["source"] != NOT_STARTED for r in lessons) - MAX_RETEACH),
        "stopped": stopped,
        "problems": [{"origin": identity.visible(p.origin), "reason": identity.visible(p.reason)}
                     for p in report.problems], "interrupted": report.interrupted,
        "flagged": [{"student": o.submission.student, "origin": identity.visible(o.submission.origin),
                     "notes": o.submission.notes} for o in outcomes if o.submission.notes],
        "seconds": report.seconds, "jobs": report.jobs,
        "per_minute": 60.0 * fresh / report.seconds if report.seconds and fresh else None,
        "mean_duration": statistics.mean(durations) if durations else None,
        "max_duration": max(durations) if durations else None,
        "students": students,
        "holdout": any(x["holdout_accuracy"] is not None for x in students),
        "gap_flags": [{"student": x["student"], "gap": x["gap"], "p": x["gap_p"]} for x in students
                      if x["gap_p"] is not None and x["gap_p"] < SUSPICIOUS_P],
        "isolations": sorted(Counter(str(o.result.get("isolation")) for o in graded
                                     if o.result.get("isolation")).items()),
        "suspicious_p": SUSPICIOUS_P,
        "graded_with": sorted({text for o in graded if (text := graded_with_text(o.result))}),
        "holdout_notice": next((notice for o in graded if (notice := grading_notice(o.result))), None),
        "similar": report.similar, "similar_error": report.similar_error,
        "similar_shown": MAX_SIMILAR, "similar_lines": MAX_SIMILAR_LINES, "similar_pairs": MAX_SIMILAR_PAIRS,
    }


def _finals_of(report) -> list:
    """The decisions applied to each outcome (batch.BatchReport.finals), or none for each."""
    finals = list(getattr(report, "finals", None) or [])
    return finals if len(finals) == len(report.outcomes) else [None] * len(report.outcomes)


def _similar_anchors(similar: list[dict]) -> dict[str, list[tuple[int, str]]]:
    """Per student, the groups of "Similar submissions" they are in: (anchor number, the others)."""
    anchors: dict[str, list[tuple[int, str]]] = {}
    for number, group in enumerate(similar[:MAX_SIMILAR], start=1):
        for student in group.get("students", []):
            others = ", ".join(str(s) for s in group["students"] if s != student)
            anchors.setdefault(student, []).append((number, others))
    return anchors


def _student_row(outcome, final, report_link: Callable[[str], str], anchors: dict) -> dict:
    """One row of the summary's student table: the final grade and what decided it, late or not,
    the first mistake, and links to the groups of similar submissions the student is in."""
    result, name = outcome.result, outcome.submission.name
    metrics = result.get("metrics") or {}
    mistake = first_mistake(result) if result["status"] != "invalid" else None
    return {"student": outcome.submission.student, "exercise": outcome.exercise or "",
            "score": None if result["status"] == "invalid" and result.get("override") is None
            else result.get("score", 0.0),
            "max_score": result.get("max_score", 0.0), "status": result["status"],
            "auto_score": None if final is None else final.auto_score,
            "override": None if final is None else final.override,
            "late_penalty": None if final is None else final.late_penalty,
            "comment": "" if final is None else final.comment,
            "late": getattr(name, "late", None),
            "first_mistake": identity.visible(mistake[2]) if mistake else
            (identity.visible(_stop_reason(result)) if result["status"] == "invalid" else ""),
            "similar": anchors.get(outcome.submission.student, []),
            "test_accuracy": metrics.get("test_accuracy"), "holdout_accuracy": metrics.get("holdout_accuracy"),
            "gap": metrics.get("holdout_gap"), "gap_p": metrics.get("holdout_gap_p"),
            "report": report_link(outcome.submission.student)}


def machine_readable(summary: dict) -> dict:
    """summary.json: the counts summary.html shows, every list whole (README.md describes it)."""
    return {
        "schema": SCHEMA,
        "students": summary["total"],
        "graded": summary["graded"],
        "graded_this_run": summary["fresh"],
        "kept_from_earlier_runs": summary["kept"],
        "invalid": len(summary["invalid"]),
        "invalid_students": summary["invalid"],
        "not_graded_files": len(summary["problems"]),
        "interrupted": summary["interrupted"],
        "scores": {"mean": summary["mean"], "median": summary["median"], "maximum": summary["maximum"],
                   "full_marks": summary["full_marks"], "bins": summary["bins"]},
        "reteach": [{"kind": row["kind"], "title": row["title"], "source": row["source"], "count": row["count"],
                     "students": row["students"]} for row in summary["reteach"]],
        "checks": [{"id": c["id"], "title": c["title"], "passed": c["passed"], "total": c["total"],
                    "rate": round(c["rate"], 4)} for c in summary["checks"]],
        "holdout_gap_flags": {"p_below": summary["suspicious_p"], "students": summary["gap_flags"]},
        "graded_with": summary["graded_with"],
        "holdout_notice": summary["holdout_notice"],
        # docs/similarity.md: students, exercise, score (0..1), evidence in words, and each pair's shared lines
        "similar": summary["similar"],
        "similar_error": summary["similar_error"],
    }


def _stop_reason(result: dict) -> str:
    if result["status"] == "invalid":
        return result.get("reason", "the notebook could not be read")
    for cell in result.get("cells", []):
        if cell.get("status") == "timeout":
            return f"cell {cell['index'] + 1} ran out of time ({cell.get('limit_s') or '?'} s)"
        if cell.get("status") == "died":
            return f"the kernel died in cell {cell['index'] + 1}"
    return result.get("stop_reason") or result["status"]


def write(report, html_path: Path, json_path: Path, report_link: Callable[[str], str]) -> None:
    """Write summary.html and summary.json; `report_link(student)` is where that student's report
    is, relative to summary.html."""
    summary = build(report, report_link)
    Path(html_path).write_text(_ENV.get_template("summary.html.j2").render(s=summary))
    Path(json_path).write_text(json.dumps(machine_readable(summary), indent=2, ensure_ascii=False) + "\n")
