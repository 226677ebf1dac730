"""Verdicts: whether each proof held, judged on the graded result documents, and what to fix.

Pure functions of result documents (autograder.result/1), so they are tested on recorded
and synthetic results. A `Problem` names the expectation left unprotected (or the file's
key at fault), what is wrong in words, and how to fix the exercise file.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..exercise.model import DEFAULT_POINTS
from .calibration import Calibration
from .variant import Requirement, Variant

Result = dict[str, Any]

#: The exercise file's keys each check judges, to say what to change when the solution fails one.
CHECK_KEYS = {
    "model.input_shape": "model.input_shape", "model.architecture": "model.layers",
    "model.hidden_activation": "model.layers[..].activation", "model.output_layer": "model.layers (the last one)",
    "compile.loss": "compile.loss", "compile.optimizer": "compile.optimizer", "compile.metrics": "compile.metrics",
    "fit.settings": "fit.epochs and fit.batch_size", "fit.validation": "fit.validation_split",
    "accuracy.threshold": "threshold",
}


@dataclass(frozen=True)
class Problem:
    """A proof that did not hold: which variant (or 'calibration', 'solution'), the expectation
    at stake, what is wrong, and how to fix the file."""

    proof: str
    expectation: str
    what: str
    fix: str

    def to_dict(self) -> dict[str, str]:
        return {"proof": self.proof, "expectation": self.expectation, "what": self.what, "fix": self.fix}


def _checks(document: Result) -> list[dict[str, Any]]:
    return [c for c in document.get("checks") or [] if isinstance(c, dict)]


def failed_checks(document: Result) -> list[str]:
    return [c["id"] for c in _checks(document) if not c.get("passed")]


def causes(document: Result) -> list[dict[str, Any]]:
    """The result's root causes, as the proof lists them: id, kind, title and the checks each explains."""
    return [{"id": c.get("id"), "kind": c.get("kind"), "title": c.get("title"), "checks": list(c.get("checks") or [])}
            for c in document.get("causes") or [] if isinstance(c, dict)]


def explanation(document: Result, check: dict[str, Any]) -> str:
    """What the result says of a failed check: its message and diagnosis, and the cause it points at."""
    parts = [str(check.get("message") or ""), str(check.get("diagnosis") or "")]
    cause_id = check.get("cause")
    for cause in document.get("causes") or []:
        if isinstance(cause, dict) and cause_id is not None and cause.get("id") == cause_id:
            parts += [str(cause.get(key) or "") for key in ("kind", "title", "message")]
    return " ".join(parts)


def accuracy(document: Result) -> float | None:
    """The accuracy accuracy.threshold was decided on: the holdout's when there is one."""
    metrics = document.get("metrics") or {}
    value = metrics.get("holdout_accuracy", metrics.get("test_accuracy"))
    return float(value) if isinstance(value, (int, float)) else None


def entry(variant: Variant, document: Result, ok: bool, problems: list[Problem]) -> dict[str, Any]:
    """One variant's line in the proof document."""
    return {"id": variant.id, "description": variant.description, "score": document.get("score"),
            "max_score": document.get("max_score"), "failed_checks": failed_checks(document),
            "causes": causes(document), "ok": ok, "accuracy": accuracy(document),
            "status": document.get("status"), "why": [p.what for p in problems]}


def _percent(rate: float) -> str:
    return "<1%" if rate < 0.01 else f"{rate:.0%}"


def _points_fix(check: str) -> str:
    return (f'give {check} points in the exercise file, e.g. [points] "{check}" = {DEFAULT_POINTS.get(check, 5.0):g}; '
            "at 0 points the mistake costs the student nothing")


def judge_requirement(variant: Variant, document: Result, requirement: Requirement,
                      calibration: Calibration | None = None) -> Problem | None:
    """None when the mutant's grade shows the requirement, else the problem and its fix."""
    checks = {c["id"]: c for c in _checks(document)}
    failed = [checks[c] for c in requirement.checks if c in checks and not checks[c].get("passed")]
    costly = [c for c in failed if float(c.get("max_points") or 0) > 0]
    named = [c for c in costly if requirement.names is None
             or re.search(requirement.names, explanation(document, c), re.IGNORECASE)]
    where = " or ".join(requirement.checks)
    if named:
        return None
    if costly:
        return Problem(variant.id, requirement.expectation,
                       f"{variant.description}: {where} loses points, but its explanation does not name the mistake",
                       "a gap in the grader's feedback, not in the file: report it with this proof")
    if failed:
        return Problem(variant.id, requirement.expectation,
                       f"{variant.description}: {failed[0]['id']} catches it but is worth 0 points",
                       _points_fix(failed[0]["id"]))
    if requirement.expectation == "threshold":
        measured = accuracy(document)
        shown = f"{measured:.2f}" if measured is not None else "?"
        return Problem(variant.id, "threshold",
                       f"{variant.description}: an untrained model reaches the threshold (it measured {shown})",
                       _threshold_fix(measured, calibration))
    if document.get("status") == "invalid":
        return Problem(variant.id, requirement.expectation, f"{variant.description}: the mutant could not be graded "
                       f"({document.get('reason')})", "run the proof again; report it if it stays")
    return Problem(variant.id, requirement.expectation, f"{variant.description}: {where} still passes",
                   f"the grader does not catch this mistake for this file's {requirement.expectation}: report it "
                   "with this proof")


def _threshold_fix(untrained: float | None, calibration: Calibration | None) -> str:
    if calibration is None or not (calibration.untrained or untrained is not None):
        return "raise `threshold` above what an untrained model reaches"
    floor = calibration.lowest_protecting_threshold if calibration.untrained else round((untrained or 0) + 0.01, 2)
    suggested = calibration.suggested_threshold
    if suggested >= floor:
        return (f"raise `threshold` to at least {floor:.2f}, which untrained models do not reach; the suggested "
                f"threshold is {suggested:.2f}")
    return (f"no threshold tells the solution ({calibration.lowest:.2f} at worst) from an untrained model "
            f"(up to {max(calibration.untrained, default=untrained or 0):.2f}): train the solution longer or ask "
            "for a larger network, then prove again")


def judge_mutant(variant: Variant, document: Result, calibration: Calibration | None = None
                 ) -> tuple[dict[str, Any], list[Problem]]:
    problems = [p for r in variant.requirements if (p := judge_requirement(variant, document, r, calibration))]
    return entry(variant, document, not problems, problems), problems


def judge_equivalent(variant: Variant, document: Result, calibration: Calibration | None = None,
                     solution_fails: frozenset[str] = frozenset()) -> tuple[dict[str, Any], list[Problem]]:
    """An equivalent must get full marks: fail no check, or none but those the solution itself
    fails (`solution_fails`, reported once as the solution's problem)."""
    problems: list[Problem] = []
    below = False
    if document.get("status") != "graded":
        problems.append(Problem(variant.id, "solution", f"{variant.description}: not graded to the end "
                                f"({document.get('status')}: {document.get('reason') or 'see its causes'})",
                                "run the proof again; report it if it stays"))
    for check in _checks(document):
        if check.get("passed") or check["id"] in solution_fails:
            continue
        if check["id"] == "accuracy.threshold" and accuracy(document) is not None:
            below = True  # a correct notebook below the threshold: the calibration counts it and says so
            if calibration is None:
                problems.append(Problem(variant.id, "threshold", f"{variant.description}: a correct form measured "
                                        f"{accuracy(document):.2f}, below the threshold", "lower `threshold`"))
        else:
            problems.append(Problem(variant.id, CHECK_KEYS.get(check["id"], check["id"]),
                                    f"{variant.description}: {check['id']} fails a correct form: "
                                    f"{check.get('message')}",
                                    "the grader refuses this form: report it with this proof"))
    made = entry(variant, document, not problems and not below, problems)
    if below:
        made["why"].append(f"a correct form below the threshold (it measured {accuracy(document):.2f})")
    return made, problems


def solution_fails(documents: list[Result]) -> frozenset[str]:
    """The checks but the threshold that some run of the solution fails."""
    return frozenset(c for document in documents for c in failed_checks(document) if c != "accuracy.threshold")


def judge_solution(documents: list[Result]) -> list[Problem]:
    """The solution must meet its own file in every run: any check but the threshold (the
    calibration's business) failing in any run is the file and the solution disagreeing."""
    problems: list[Problem] = []
    seen: set[str] = set()
    for document in documents:
        if document.get("status") != "graded":
            problems.append(Problem("solution", "solution", f"the solution was not graded to the end "
                                    f"({document.get('status')}: {document.get('reason') or 'see its causes'})",
                                    "make the solution run from the top in the grader: autograder check shows why"))
            continue
        for check in _checks(document):
            if check.get("passed") or check["id"] == "accuracy.threshold" or check["id"] in seen:
                continue
            seen.add(check["id"])
            key = CHECK_KEYS.get(check["id"])
            fix = (f"make the file's {key} and the solution agree" if key else
                   "fix the solution: autograder check shows the whole report")
            problems.append(Problem("solution", key or check["id"], f"the solution does not meet its own file: "
                                    f"{check['id']}: {check.get('message')}", fix))
    return problems


def judge_calibration(calibration: Calibration) -> list[Problem]:
    problems = [] if calibration.protects else [Problem(
        "calibration", "threshold",
        f"an untrained model (built and compiled, never trained) reaches the threshold {calibration.threshold:.2f} "
        + (f"in {calibration.untrained_reached} of {len(calibration.untrained)} runs" if calibration.untrained_reached
           else f"with a chance of about {_percent(calibration.untrained_pass_rate)}")
        + f" (it measured {min(calibration.untrained):.2f}-{max(calibration.untrained):.2f})",
        _threshold_fix(None, calibration))]
    if calibration.holds:
        return problems
    if not calibration.accuracies:
        return [Problem("calibration", "threshold", "no run of the solution was measured",
                        "make the solution train and save a model the grader can measure")]
    suggested = calibration.suggested_threshold
    notebooks = (f"{calibration.runs} runs of the solution" + (f" and {len(calibration.others)} equivalent forms"
                                                               if calibration.others else ""))
    what = (f"{calibration.below} of {len(calibration.correct)} correct notebooks ({notebooks}, each with its own "
            f"seed) fall below the threshold {calibration.threshold:.2f} (accuracy "
            f"{calibration.lowest:.2f}-{calibration.highest:.2f})" if calibration.below else
            f"the accuracy of {notebooks} ({calibration.lowest:.2f}-{calibration.highest:.2f}) comes too close to "
            f"the threshold {calibration.threshold:.2f}")
    if calibration.untrained and suggested < calibration.lowest_protecting_threshold:
        fix = _threshold_fix(None, calibration)
    else:
        fix = (f"lower `threshold` to {suggested:.2f}, which a correct notebook fails with a chance under "
               f"{calibration.level:.0%}")
    chance = _percent(calibration.false_fail_rate)
    return problems + [Problem("calibration", "threshold",
                               f"{what}: a correct notebook fails it with a chance of about {chance}", fix)]
