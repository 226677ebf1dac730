"""Command line of keras-autograder: check, grade, release, gradescope and data.

    autograder check NOTEBOOK     grade one notebook, print a summary, write --json/--html/--markdown
    autograder grade PATHS --out  grade a whole class into a gradebook, resumable, in parallel
    autograder release            make the student notebooks from the solutions (nbgrader)
    autograder gradescope         build a Gradescope autograder archive
    autograder data               make, fetch or validate a fashion.npz
    autograder exercise           write an exercise file from a solution, or validate one

Every grading setting (--exercise, --data, --timeout, --threshold, ...) is declared once,
in settings.py, and resolved once per command into a GradingPlan (plan.py).

Exit status of `check`: 0 every check passed; 1 graded and something failed (a timeout or
dead kernel included); 2 the notebook could not be read or the command was misused, with a
one-line reason (and still a result file when --json is given). Of `grade`: 0 every
submission graded, 1 some could not be, 2 misuse, 130 interrupted.
"""
from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from . import __version__, settings
from .errors import AutograderError, NotGradable, UsageError, internal_error

if TYPE_CHECKING:
    from .plan import GradingPlan
    from .result import ResultDocument
    from .workers import Workers

GRADING = ("exercise", "data", "timeout_s", "threshold", "hide_threshold", "holdout", "show_holdout", "isolation")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="autograder", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"keras-autograder {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    check = commands.add_parser("check", help="grade one notebook and print a summary")
    check.add_argument("notebook", help="the .ipynb file to grade")
    settings.add_arguments(check, *GRADING, "cell_timeout_s", "memory_mb")
    check.add_argument("--json", metavar="FILE", help="write the result document here")
    check.add_argument("--html", metavar="FILE", help="write the HTML report here")
    check.add_argument("--markdown", metavar="FILE", help="write the Markdown report here")
    check.add_argument("--quiet", action="store_true", help="print nothing; use the exit status")

    grade = commands.add_parser("grade", help="grade a whole class into a gradebook, in parallel")
    grade.add_argument("submissions", nargs="+",
                       help="folders of notebooks, nbgrader's submitted/ folder, LMS zip downloads, notebooks")
    grade.add_argument("--out", required=True, metavar="DIR", help="where the gradebook and reports go")
    settings.add_arguments(grade, *GRADING)
    grade.add_argument("--jobs", type=int, default=None, metavar="N",
                       help="notebooks graded at once (default: the number of cores); with --scheduler, "
                            "reports drawn at once")
    grade.add_argument("--scheduler", metavar="ADDRESS",
                       help="run the notebooks on the workers of a running Dask scheduler, tcp://HOST:PORT "
                            "(needs the 'cluster' extra; see docs/cluster.md); results still land in --out")
    grade.add_argument("--regrade", action="store_true", help="grade again what the gradebook already has")
    grade.add_argument("--base", action="append", default=[], metavar="FILE",
                       help="code every student was given (a released notebook or starter code, .ipynb or .py): "
                            "never counted when submissions are compared for similarity (repeatable; a built-in "
                            "exercise's released notebook is always left out)")
    grade.add_argument("--cold", action="store_true",
                       help="start every kernel from scratch instead of forking it from a warm server")
    grade.add_argument("--format", dest="formats", action="append", default=[], choices=("canvas",),
                       help="also write canvas-grades.csv, a file Canvas' gradebook import accepts")
    grade.add_argument("--canvas-assignment", metavar='"NAME (ID)"',
                       help="the Canvas gradebook column to fill, as Canvas names it in its export, e.g. "
                            '"Keras dense (4321)" (default: the exercise id, a new assignment)')

    release = commands.add_parser("release", help="make the student notebooks from the solutions (nbgrader)")
    release.add_argument("--solutions", default="solutions", help="folder of solution notebooks")
    release.add_argument("--out", default="exercises", help="folder for the student notebooks")

    gradescope = commands.add_parser("gradescope", help="build a Gradescope autograder archive")
    settings.add_arguments(gradescope, "exercise", "data", "threshold", "hide_threshold", "timeout_s",
                           required=("exercise",))
    gradescope.add_argument("--out", default="autograder.zip", metavar="ZIP", help="the archive to write")
    gradescope.add_argument("--visibility", default="visible",
                            choices=("visible", "hidden", "after_due_date", "after_published"),
                            help="when students see the results (Gradescope's visibility)")

    exercise = commands.add_parser("exercise", help="write an exercise file from a solution, or validate one")
    exercise_commands = exercise.add_subparsers(dest="exercise_command", required=True)
    new = exercise_commands.add_parser("new", help="run a solution notebook in the sandbox and write its exercise")
    new.add_argument("--from-solution", required=True, metavar="SOLUTION.ipynb", dest="solution",
                     help="the solution notebook: its model, compile and fit settings become the exercise")
    new.add_argument("--out", required=True, metavar="EXERCISE.toml", help="the exercise file to write")
    new.add_argument("--id", dest="exercise_id", metavar="ID", help="the exercise's id (default: the file's name)")
    new.add_argument("--title", help="the exercise's title (default: its id)")
    new.add_argument("--margin", type=settings.fraction, default=None, metavar="M",
                     help="how far below the solution's measured accuracy the threshold goes (default 0.05)")
    settings.add_arguments(new, "data", "timeout_s", "isolation")
    validate_exercise = exercise_commands.add_parser("validate", help="check an exercise file")
    validate_exercise.add_argument("file")

    data = commands.add_parser("data", help="make, fetch or validate a fashion.npz")
    data_commands = data.add_subparsers(dest="data_command", required=True)
    standin = data_commands.add_parser("standin", help="write the offline stand-in data set and its holdout")
    standin.add_argument("--out", required=True)
    fetch = data_commands.add_parser("fetch", help="build fashion.npz and its holdout from the public "
                                                   "Fashion-MNIST (online)")
    fetch.add_argument("--out", required=True)
    holdout = data_commands.add_parser("holdout", help="write the holdout of your own lesson file, from the "
                                                       "Fashion-MNIST images it does not hold (online)")
    holdout.add_argument("--data", required=True, help="your fashion.npz; the holdout is written beside it")
    for command in (fetch, holdout):
        command.add_argument("--release", default=None, metavar="URL",
                             help="where the Fashion-MNIST release files are (default: its GitHub repository)")
    validate = data_commands.add_parser("validate", help="check that a file is in the lesson's format")
    validate.add_argument("file")
    return parser


def request_of(args: argparse.Namespace) -> settings.Request:
    return settings.Request.from_options(vars(args))


def fail(message: str) -> int:
    from .report.terminal import plain

    print(f"autograder: {plain(message)}", file=sys.stderr)  # may name a student's file
    return 2


def check_document(args: argparse.Namespace,
                   workers: Workers | None = None) -> tuple[ResultDocument, GradingPlan | None]:
    """`check`'s result document and the plan that graded it (None when the request was refused).

    `workers` lends a warm slot and evaluator kept by the caller (the test suite keeps one per
    process); `check` itself runs the notebook in a fresh sandbox and starts its own evaluator.
    """
    from . import pipeline
    from .plan import make_plan
    from .sandbox.isolation import RLIMITS

    started = time.monotonic()
    plan = None
    try:
        plan = make_plan(request_of(args))
        if workers is None:
            document = pipeline.grade_notebook(args.notebook, plan)
        else:
            from .sandbox import run_notebook

            run = workers.run() if workers.warm and plan.isolation != RLIMITS else run_notebook
            document = pipeline.grade_notebook(args.notebook, plan, run=run, evaluator=workers.shared_evaluator())
    except (UsageError, NotGradable) as error:
        document = pipeline.invalid_result(args.notebook, str(error), None, started)
    except Exception as error:  # noqa: BLE001 - a grader bug still ends in one line and a result file
        if os.environ.get("AUTOGRADER_DEBUG"):
            raise
        document = pipeline.invalid_result(args.notebook, internal_error(error), None, started)
    return document, plan


def run_check(args: argparse.Namespace) -> int:
    from . import github, result as result_module
    from .report import documents, model as report_model, terminal

    document, plan = check_document(args)
    exercise = plan.known_exercise(document.get("exercise")) if plan is not None else None
    shown: dict[str, str] = {}  # every rendering first, so that one that fails costs only the reports
    try:
        report = report_model.build(document, exercise, plan.lesson.test_data if plan is not None else None)
        if args.markdown or github.active():
            shown["markdown"] = documents.render_markdown(report)
        if args.html:
            shown["html"] = documents.render_html(report)
        if not args.quiet and document["status"] != "invalid":
            shown["terminal"] = terminal.render(report, color=terminal.wants_color(sys.stdout))
    except Exception as error:  # noqa: BLE001 - the result stands without its reports
        if os.environ.get("AUTOGRADER_DEBUG"):
            raise
        shown = {}
        document.setdefault("grader_fault", f"the report could not be drawn: {internal_error(error)}")
    for path, rendering in ((args.json, None), (args.markdown, "markdown"), (args.html, "html")):
        if not path or (rendering is not None and rendering not in shown):
            continue
        try:
            if rendering is None:
                result_module.write(document, path)
            else:
                Path(path).write_text(shown[rendering])
        except OSError as error:
            return fail(f"cannot write {path}: {error.strerror or error}")
    if document["status"] == "invalid":
        print(f"autograder: {terminal.plain(document.get('reason'))}", file=sys.stderr)
    elif "grader_fault" in document and not shown:
        print(f"autograder: {document.get('grader_fault')}; score {document['score']:g}/{document['max_score']:g}, "
              "every check in the result file (--json)", file=sys.stderr)
    elif "terminal" in shown:
        sys.stdout.write(shown["terminal"])
    if github.active():
        if "markdown" in shown:
            github.append_summary(shown["markdown"])
        print("\n".join(github.check_annotations(document, args.notebook)))
    return result_module.exit_code(document)


def remote_workers(scheduler: str | None, plan) -> contextlib.AbstractContextManager:
    """A Dask cluster's workers, given the plan, for the grading's duration; none without --scheduler
    (and then Dask is not imported)."""
    if scheduler is None:
        return contextlib.nullcontext()
    from .cluster import ClusterWorkers

    return ClusterWorkers(scheduler, plan)


def run_grade(args: argparse.Namespace) -> int:
    return run_grade_with(args)


def run_grade_with(args: argparse.Namespace, lent: Workers | None = None) -> int:
    """`grade`, on warm workers the caller keeps (`lent`: the test suite keeps one per process)
    or on its own, started before the rest of the grader is imported."""
    from .sandbox.isolation import RLIMITS
    from .workers import Workers

    jobs = args.jobs or os.cpu_count() or 1
    if jobs < 1:
        return fail("--jobs must be at least 1")
    if args.scheduler is not None and importlib.util.find_spec("distributed") is None:
        return fail("--scheduler needs Dask: pip install 'keras-autograder[cluster]'")
    local = not args.cold and args.scheduler is None and args.isolation != RLIMITS
    if lent is not None:
        return _grade(args, jobs, lent if local else None)
    # The fork server's TensorFlow import is the one wait before the first notebook runs:
    # it starts before the rest of the grader is imported and the class is read.
    early = Workers.started_early(jobs) if local else None
    try:
        return _grade(args, jobs, early)
    finally:
        if early is not None:
            early.close()


def _grade(args: argparse.Namespace, jobs: int, early: Workers | None) -> int:
    from . import batch, github, progress
    from .plan import make_plan
    from .sandbox.isolation import RLIMITS
    from .similarity import base as similarity_base

    try:
        plan = make_plan(request_of(args))  # bad data, holdout or exercise: stop before grading anyone
        base = tuple(similarity_base.read_given(args.base))
        with remote_workers(args.scheduler, plan) as remote:
            report = batch.run(args.submissions, Path(args.out), plan, jobs, args.regrade,
                               progress.for_stream(sys.stderr), warm=not args.cold and plan.isolation != RLIMITS,
                               formats=tuple(args.formats), canvas_assignment=args.canvas_assignment,
                               remote=remote, early=early, base=base)
    except AutograderError as error:
        return fail(str(error))
    except OSError as error:
        return fail(f"cannot write to {args.out}: {error.strerror or error}")
    if report.interrupted:
        return 130
    if github.active():
        github.append_summary(github.batch_summary(report))
        print("\n".join(github.batch_annotations(report)))
    graded = sum(1 for o in report.outcomes if o.result["status"] != "invalid")
    print(f"{graded} of {len(report.outcomes)} submissions graded, {len(report.problems)} file(s) could not "
          f"be; see {Path(args.out) / 'summary.html'} and {Path(args.out) / 'grades.csv'}")
    faults = sum(1 for o in report.outcomes if o.result.get("grader_fault"))
    if faults:
        print(f"{faults} of these results the grader failed to complete, not the student (each result's "
              "grader_fault says how); run the same command again to grade them again")
    if report.canvas_left_out is not None:
        print(f"wrote {Path(args.out) / 'canvas-grades.csv'} for Canvas' gradebook import; "
              f"{report.canvas_left_out} student(s) without a Canvas user id in their file name left out")
    return 0 if report.all_graded else 1


def run_release(args: argparse.Namespace) -> int:
    from .release import release_all

    try:
        written = release_all(Path(args.solutions), Path(args.out))
    except AutograderError as error:
        return fail(str(error))
    for path in written:
        print(f"wrote {path}")
    return 0


def run_gradescope(args: argparse.Namespace) -> int:
    from .gradescope import build_archive

    try:
        written = build_archive(request_of(args), Path(args.out), args.visibility)
    except AutograderError as error:
        return fail(str(error))
    except OSError as error:
        return fail(f"cannot write {args.out}: {error.strerror or error}")
    print(f"wrote {written}: upload it as the assignment's autograder (Ubuntu base image)")
    return 0


def run_data(args: argparse.Namespace) -> int:
    from . import data

    try:
        if args.data_command in ("standin", "fetch", "holdout"):
            release = getattr(args, "release", None) or data.FASHION_MNIST_URL
            if args.data_command == "standin":
                lesson = data.make_standin()
                hidden = data.make_standin_holdout(lesson)
            elif args.data_command == "fetch":
                lesson, hidden = data.fetch_fashion_mnist(release)
            else:
                lesson = data.load(args.data)
                hidden = data.release_holdout(data.download_release(release), lesson)
            target = args.out if args.data_command != "holdout" else args.data
            if args.data_command != "holdout":
                lesson.save(target)
                print(f"wrote the {lesson.source} lesson data to {target}")
            hidden.save(data.holdout_path(target))
            print(f"wrote {len(hidden.test_labels)} holdout images, none of them in {target}, to "
                  f"{data.holdout_path(target)}: check and grade use it whenever they grade with {target}")
        else:
            lesson = data.load(args.file)
            counts = lesson.train_labels.sum(axis=0).astype(int).tolist()
            print(f"{args.file}: valid; {len(lesson.train_data)} training and {len(lesson.test_data)} "
                  f"test images; training classes {dict(zip(data.CLASS_NAMES, counts))}")
    except data.DataError as error:
        return fail(str(error))
    except OSError as error:
        return fail(f"cannot write {getattr(args, 'out', '')}: {error.strerror or error}")
    return 0


def run_exercise(args: argparse.Namespace) -> int:
    from . import authoring, exercises

    try:
        if args.exercise_command == "validate":
            exercise = exercises.from_file(Path(args.file))
            print(f"{args.file}: valid; exercise {exercise.id}: {exercise.layers_text()}; "
                  f"{exercise.optimizer_name}, {exercise.epochs} epochs, threshold {exercise.threshold:.2f}")
            return 0
        out = Path(args.out)
        exercise_id = args.exercise_id or out.name.removesuffix(".toml")
        margin = authoring.THRESHOLD_MARGIN if args.margin is None else args.margin
        text, exercise, measured = authoring.from_solution(args.solution, request_of(args), exercise_id, args.title,
                                                           margin)
        out.write_text(text, encoding="utf-8")
    except AutograderError as error:
        return fail(str(error))
    except OSError as error:
        return fail(f"cannot write {getattr(args, 'out', '')}: {error.strerror or error}")
    print(f"wrote {out}: exercise {exercise.id}, {exercise.layers_text()}; the solution measured {measured:.2f}, "
          f"so the threshold is {exercise.threshold:.2f} ({margin:g} below)")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handlers = {"check": run_check, "grade": run_grade, "release": run_release, "gradescope": run_gradescope,
                "data": run_data, "exercise": run_exercise}
    try:
        return handlers[args.command](args)
    except KeyboardInterrupt:
        return fail("interrupted")
    except Exception as error:  # noqa: BLE001 - a bug of ours is reported in one line, not a traceback
        if os.environ.get("AUTOGRADER_DEBUG"):
            raise
        return fail(internal_error(error))


if __name__ == "__main__":
    sys.exit(main())
