"""summary.html for the instructor: how the class did, what went wrong most, what was not graded."""
from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path

from .. import identity
from ..gapstat import SUSPICIOUS_P
from . import plots
from .templating import ENV as _ENV

MAX_NAMES = 40


def build(report, report_link: Callable[[str], str]) -> dict:
    outcomes = report.outcomes
    graded = [o for o in outcomes if o.result["status"] != "invalid"]
    scores = [o.result.get("score", 0.0) for o in graded]
    maximum = max((o.result.get("max_score", 100.0) for o in graded), default=100.0)
    checks: dict[str, dict] = {}
    mistakes: dict[tuple, list[str]] = defaultdict(list)
    for outcome in graded:
        for entry in outcome.result.get("checks", []):
            row = checks.setdefault(entry["id"], {"id": entry["id"], "title": entry["title"], "passed": 0, "total": 0})
            row["total"] += 1
            row["passed"] += entry["passed"]
            if not entry["passed"]:
                mistakes[(entry.get("diagnosis") or entry["title"], entry["id"])].append(outcome.submission.student)
    for row in checks.values():
        row["rate"] = row["passed"] / row["total"] if row["total"] else 0.0
    common = sorted(({"diagnosis": identity.visible(d), "check": c, "count": len(s), "students": s[:MAX_NAMES],
                      "more": max(0, len(s) - MAX_NAMES)} for (d, c), s in mistakes.items()),
                    key=lambda m: (-m["count"], m["check"]))
    stopped = [{"student": o.submission.student, "status": o.result["status"],
                "reason": identity.visible(_stop_reason(o.result))} for o in outcomes if o.result["status"] != "graded"]
    durations = [o.result.get("duration_s", 0.0) for o in outcomes if not o.reused]
    fresh = len(durations)
    return {
        "total": len(outcomes), "graded": len(graded), "reused": sum(o.reused for o in outcomes),
        "mean": statistics.mean(scores) if scores else None, "median": statistics.median(scores) if scores else None,
        "maximum": maximum, "full_marks": sum(1 for s in scores if s >= maximum),
        "histogram": plots.histogram(scores, maximum), "checks": list(checks.values()), "mistakes": common[:20],
        "stopped": stopped,
        "problems": [{"origin": identity.visible(p.origin), "reason": identity.visible(p.reason)}
                     for p in report.problems], "interrupted": report.interrupted,
        "flagged": [{"student": o.submission.student, "origin": identity.visible(o.submission.origin),
                     "notes": o.submission.notes} for o in outcomes if o.submission.notes],
        "seconds": report.seconds, "jobs": report.jobs,
        "per_minute": 60.0 * fresh / report.seconds if report.seconds and fresh else None,
        "mean_duration": statistics.mean(durations) if durations else None,
        "max_duration": max(durations) if durations else None,
        "students": [{"student": o.submission.student, "score": o.result.get("score", 0.0),
                      "max_score": o.result.get("max_score", 0.0), "status": o.result["status"],
                      "test_accuracy": (o.result.get("metrics") or {}).get("test_accuracy"),
                      "holdout_accuracy": (o.result.get("metrics") or {}).get("holdout_accuracy"),
                      "gap": (o.result.get("metrics") or {}).get("holdout_gap"),
                      "gap_p": (o.result.get("metrics") or {}).get("holdout_gap_p"),
                      "report": report_link(o.submission.student)} for o in outcomes],
        "holdout": any((o.result.get("metrics") or {}).get("holdout_accuracy") is not None for o in outcomes),
        "isolations": sorted(Counter(str(o.result.get("isolation")) for o in graded
                                     if o.result.get("isolation")).items()),
        "suspicious_p": SUSPICIOUS_P,
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


def write(report, path: Path, report_link: Callable[[str], str]) -> None:
    """Write summary.html; `report_link(student)` is where that student's report is, relative to it."""
    Path(path).write_text(_ENV.get_template("summary.html.j2").render(s=build(report, report_link)))
