"""The running service's state (course, store, grader) and the two things both the API and the
pages do: accept a submission, and show one to the person asking.

What a request controls is only its own bytes: the exercise comes from the course's list,
the student from the token or session (never from the form), the file name is shown and never
used, and what a student sees of a result leaves out what the course keeps from them (the
holdout's accuracy, unless course.toml shows it).
"""
from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import dataclass
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from . import policy, uploads
from .auth import Caller
from .course import Course
from .gradebook import Decided, standing
from .grading import Grader
from .store import Accepted, Limited, Store

#: The result's metrics that only the instructor sees, unless the course shows the holdout.
HOLDOUT_METRICS = ("holdout_accuracy", "holdout_size", "holdout_gap", "holdout_gap_p", "holdout_confidence_p")


def iso(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    return dt.datetime.fromtimestamp(seconds, dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def for_student(document: dict[str, Any], show_holdout: bool) -> dict[str, Any]:
    """A result as its student may see it: without the holdout's numbers (unless shown) and
    without the grader's own timings."""
    shown = dict(document)
    metrics = dict(shown.get("metrics") or {})
    if not (show_holdout and metrics.get("holdout_shown")):
        for key in HOLDOUT_METRICS:
            metrics.pop(key, None)
    shown["metrics"] = metrics
    shown.pop("timings", None)
    return shown


@dataclass
class Service:
    course: Course
    store: Store
    grader: Grader | None
    instructor_hash: str

    async def submit(self, request: Request, caller: Caller, csrf: str | None) -> Accepted:
        """Accept one upload for `caller` (a student), or raise UploadError with its status.
        `csrf`: a browser session's token, which the form must carry."""
        if caller.student is None:
            raise uploads.UploadError(403, "only students submit; the instructor's token reads and decides")
        student = caller.student
        decided = await run_in_threadpool(Decided.read, self.store, student)
        due = policy.due(self.course, student, decided.extensions.get(student))
        hard = policy.cutoff(self.course, due)
        if hard is not None and time.time() > hard:
            raise uploads.UploadError(403, f"the course stopped accepting submissions at {iso(hard)} (its cut-off)")
        fields, upload = await uploads.read_form(request, self.course.max_upload_bytes, self.course.upload_timeout_s,
                                                 self.course.exercises)
        if csrf is not None:
            from .auth import csrf_ok

            if not csrf_ok(request, csrf, fields.get("csrf")):
                raise uploads.UploadError(403, "the form has expired or came from another site; reload the page")
        # A first look at the limit before the notebook is read; store.accept decides it for good.
        recent = await run_in_threadpool(self.store.recent_times, student, upload.exercise, time.time())
        self._raise_if_limited(policy.retry_after(recent, self.course.submissions_per_hour, time.time()))
        await uploads.check_notebook(upload)
        outcome = await run_in_threadpool(self.store.accept, student, upload.exercise, upload.filename,
                                          upload.content, upload.digest, self.course.submissions_per_hour)
        if isinstance(outcome, Limited):
            self._raise_if_limited(outcome.retry_after)
        assert isinstance(outcome, Accepted)
        if self.grader is not None:
            self.grader.wake()
        return outcome

    def _raise_if_limited(self, wait: int | None) -> None:
        if wait is not None:
            raise uploads.UploadError(
                429, f"at most {self.course.submissions_per_hour} submissions per hour for each exercise; "
                     f"the next is allowed in {wait} s", retry_after=wait)

    def view(self, row: dict[str, Any], caller: Caller, decided: Decided) -> dict[str, Any]:
        """A submission as the API shows it to `caller` (row from store.submission)."""
        now_standing = standing(self.course, decided, row)
        document = json.loads(row["result"]) if row.get("result") else None
        if document is not None and not caller.instructor:
            document = for_student(document, self.course.show_holdout)
        view: dict[str, Any] = {
            "id": row["id"], "student": row["student"], "exercise": row["exercise"], "status": row["status"],
            "score": now_standing.score, "max_score": row["max_score"], "submitted_at": iso(row["submitted_at"]),
            "late": now_standing.late, "result": document,
            "position": row.get("position", 0), "filename": row["filename"],
            "auto_score": now_standing.auto_score, "late_days": now_standing.days_late,
            "late_penalty": now_standing.late_penalty, "due": iso(now_standing.due),
            "graded_at": iso(row["graded_at"]), "reason": row["reason"],
            "report": f"/api/submissions/{row['id']}/report" if row["status"] in ("graded", "not-graded") else None,
        }
        if caller.instructor:
            view["attempts"] = row["attempts"]
        return view
