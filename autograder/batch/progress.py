"""Progress of a batch: a live bar on a terminal (rich), plain log lines elsewhere.

A progress line never stops the batch: it shows whatever a result holds, student names
without their control characters, and odd values as they are.
"""
from __future__ import annotations

import sys
import time

from ..report.terminal import plain


def _verdict(outcome) -> str:
    document = outcome.result
    if document.get("status") == "invalid":
        return "not graded"
    checks = document.get("checks") or []
    passed = all(isinstance(c, dict) and c.get("passed") for c in checks) and document.get("status") == "graded"
    return "pass" if passed else "fail"


def _number(value, template: str = "{:g}") -> str:
    try:
        return template.format(value)
    except (TypeError, ValueError):
        return plain(value)


MAX_REASON = 300  # characters of a reason on one progress line


def _clipped(text) -> str:
    shown = plain(text)
    return shown if len(shown) <= MAX_REASON else shown[:MAX_REASON] + "…"


def counts_line(report) -> str:
    """A batch's counts in words that add up: this run's submissions, graded or not (a result kept
    from an earlier run and not among them is not counted), and the files that were no submission."""
    this_run = [o for o in report.outcomes if not getattr(o, "kept", False)]
    invalid = sum(1 for o in this_run if o.result.get("status") == "invalid")
    reused = sum(1 for o in this_run if getattr(o, "reused", False))
    unchanged = f" ({reused} unchanged since an earlier run)" if reused else ""
    files = f"; {len(report.problems)} other file(s) were not submissions" if report.problems else ""
    return (f"{len(this_run)} submission(s): {len(this_run) - invalid} graded{unchanged}, "
            f"{invalid} could not be read or graded{files}")


class LogProgress:
    """One line per submission, for logs and CI."""

    def __init__(self, stream=sys.stderr):
        self.stream = stream
        self.done = 0
        self.total = 0

    def start(self, total: int, reused: int) -> None:
        self.total, self.started = total, time.monotonic()
        note = f", {reused} already graded" if reused else ""
        print(f"grading {total} submission{'s' if total != 1 else ''}{note}", file=self.stream, flush=True)

    def advance(self, outcome) -> None:
        self.done += 1
        document = outcome.result
        how = "already graded" if outcome.reused else _number(document.get("duration_s", 0), "{:.1f} s")
        if document.get("status") == "invalid":  # no score to show: why not
            print(f"[{self.done}/{self.total}] {plain(outcome.submission.student)}: not graded: "
                  f"{_clipped(document.get('reason') or 'unreadable')} ({how})", file=self.stream, flush=True)
            return
        print(f"[{self.done}/{self.total}] {plain(outcome.submission.student)}: "
              f"{_number(document.get('score', 0))}/{_number(document.get('max_score', 0))} "
              f"{_verdict(outcome)} ({plain(document.get('status'))}, {how})", file=self.stream, flush=True)

    def finish(self, report) -> None:
        if report.interrupted:
            print(f"interrupted: {self.done} of {self.total} graded and saved; run the same command again "
                  "to grade the rest", file=self.stream, flush=True)


class BarProgress(LogProgress):
    """A live bar with counts, passes and failures so far, and the time left."""

    def __init__(self, stream=sys.stderr):
        super().__init__(stream)
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.counts = {"pass": 0, "fail": 0, "not graded": 0}
        self.bar = Progress(TextColumn("grading"), BarColumn(), MofNCompleteColumn(),
                            TextColumn("[green]{task.fields[passed]} pass[/] [red]{task.fields[failed]} fail[/]"
                                       " {task.fields[invalid]} not graded"),
                            TimeRemainingColumn(), console=Console(file=stream), transient=False)

    def start(self, total: int, reused: int) -> None:
        self.total = total
        self.bar.start()
        self.task = self.bar.add_task("grading", total=total, passed=0, failed=0, invalid=0)

    def advance(self, outcome) -> None:
        self.done += 1
        self.counts[_verdict(outcome)] += 1
        self.bar.update(self.task, advance=1, passed=self.counts["pass"], failed=self.counts["fail"],
                        invalid=self.counts["not graded"])

    def finish(self, report) -> None:
        self.bar.stop()
        super().finish(report)


def for_stream(stream=sys.stderr):
    return BarProgress(stream) if hasattr(stream, "isatty") and stream.isatty() else LogProgress(stream)
