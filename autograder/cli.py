"""Command line of keras-autograder: check, grade, release, gradescope and data.

    autograder check NOTEBOOK     grade one notebook, print a summary, write --json/--html/--markdown
    autograder grade PATHS --out  grade a whole class into a gradebook, resumable, in parallel
    autograder release            make the student notebooks from the solutions (nbgrader)
    autograder gradescope         build a Gradescope autograder archive
    autograder data               make, fetch or validate a fashion.npz
    autograder exercise           write an exercise file from a solution, validate one, or prove it
    autograder course             make a course for the service, and give its students their tokens
    autograder serve DIR          the course service: students submit and read their reports (docs/service.md)

Every grading setting (--exercise, --data, --timeout, --threshold, ...) is declared once,
in grading/settings.py, and resolved once per command into a GradingPlan (grading/plan.py).

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

from . import __version__
from .errors import AutograderError, NotGradable, UsageError, internal_error
from .grading import settings

if TYPE_CHECKING:
    from .batch.workers import Workers
    from .grading.plan import GradingPlan
    from .grading.result import ResultDocument

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
    settings.add_arguments(grade, "out", required=("out",), declared=settings.GradeOptions)
    settings.add_arguments(grade, *GRADING)
    settings.add_arguments(grade, *settings.GRADE_OPTIONS[1:], declared=settings.GradeOptions)

    release = commands.add_parser("release", help="make the student notebooks from the solutions (nbgrader)")
    release.add_argument("--solutions", default="solutions", help="folder of solution notebooks")
    release.add_argument("--out", default="exercises", help="folder for the student notebooks")
    release.add_argument("--nbgrader-config", default="nbgrader_config.py", metavar="FILE",
                         help="the course's nbgrader_config.py, written (or added to) so that nbgrader autograde "
                              "grades with the autograder (default: nbgrader_config.py here, the course's root)")
    release.add_argument("--no-nbgrader-config", action="store_true",
                         help="leave the course's nbgrader configuration alone")

    gradescope = commands.add_parser("gradescope", help="build a Gradescope autograder archive")
    settings.add_arguments(gradescope, "exercise", "data", "threshold", "hide_threshold", "timeout_s", "holdout",
                           "show_holdout", required=("exercise",))
    gradescope.add_argument("--no-holdout", action="store_true",
                            help="leave out the holdout beside --data: accuracy.threshold is then decided on the "
                                 "visible test images (an image without bubblewrap cannot hide a holdout)")
    gradescope.add_argument("--out", default="autograder.zip", metavar="ZIP", help="the archive to write")
    gradescope.add_argument("--visibility", default="visible",
                            choices=("visible", "hidden", "after_due_date", "after_published"),
                            help="when students see the results (Gradescope's visibility)")

    exercise = commands.add_parser("exercise", help="write an exercise file from a solution, validate one, or prove it")
    exercise_commands = exercise.add_subparsers(dest="exercise_command", required=True)
    new = exercise_commands.add_parser("new", help="run a solution notebook in the sandbox and write its exercise")
    new.add_argument("--from-solution", required=True, metavar="SOLUTION.ipynb", dest="solution",
                     help="the solution notebook: its model, compile and fit settings become the exercise")
    new.add_argument("--out", required=True, metavar="EXERCISE.toml", help="the exercise file to write")
    new.add_argument("--id", dest="exercise_id", metavar="ID", help="the exercise's id (default: the file's name)")
    new.add_argument("--title", help="the exercise's title (default: its id)")
    new.add_argument("--margin", type=settings.fraction, default=None, metavar="M",
                     help="set the threshold this far below the solution's lowest run instead (default: the "
                          "threshold a correct notebook fails with a chance under 1%%, from --runs runs)")
    settings.add_arguments(new, "data", "timeout_s", "isolation")
    new.add_argument("--runs", type=positive_count, default=None, metavar="N",
                     help="train the solution N times with different seeds to set the threshold (default 8)")
    new.add_argument("--jobs", type=int, default=None, metavar="N", help="runs at once (default: the number of cores)")
    validate_exercise = exercise_commands.add_parser("validate", help="check an exercise file")
    validate_exercise.add_argument("file")
    prove = exercise_commands.add_parser(
        "prove", help="show that an exercise's rubric works: its threshold over seeds, mutants of its solution "
                      "caught, equivalent forms passed")
    prove.add_argument("exercise", metavar="ID|FILE.toml", help="a built-in exercise id or an exercise file")
    prove.add_argument("--solution", required=True, metavar="NOTEBOOK", help="the exercise's solution notebook")
    settings.add_arguments(prove, "data", "holdout", "timeout_s", "isolation")
    prove.add_argument("--runs", type=positive_count, default=None, metavar="N",
                       help="train the solution N times with different seeds (default 8)")
    prove.add_argument("--json", metavar="FILE", help="write the proof document (autograder.proof/1) here")
    prove.add_argument("--html", metavar="FILE", help="write the proof's HTML report here")
    where = prove.add_mutually_exclusive_group()
    where.add_argument("--jobs", type=int, default=None, metavar="N",
                       help="notebooks graded at once (default: the number of cores)")
    where.add_argument("--scheduler", metavar="ADDRESS",
                       help="grade the notebooks on a running Dask scheduler's workers, tcp://HOST:PORT")

    course = commands.add_parser("course", help="make a course for the service, and give its students tokens")
    course_commands = course.add_subparsers(dest="course_command", required=True)
    init = course_commands.add_parser("init", help="write DIR/course.toml and the instructor's token")
    init.add_argument("directory", metavar="DIR")
    init.add_argument("--exercise", dest="exercises", action="append", required=True, metavar="ID|FILE.toml",
                      help="an exercise of the course (repeat for more)")
    init.add_argument("--data", metavar="FASHION_NPZ", help="the lesson's fashion.npz (default: the stand-in)")
    roster = course_commands.add_parser("students", help="add a roster's new students; prints their tokens once")
    roster.add_argument("directory", metavar="DIR")
    roster.add_argument("roster", metavar="ROSTER.csv", help="a CSV file with a 'student' column")

    serve = commands.add_parser("serve", help="run the course service (docs/service.md)")
    serve.add_argument("directory", metavar="DIR")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000)")
    where = serve.add_mutually_exclusive_group()
    where.add_argument("--jobs", type=int, default=None, metavar="N",
                       help="notebooks graded at once on this machine (default: the number of cores)")
    where.add_argument("--scheduler", metavar="ADDRESS",
                       help="grade on the workers of a running Dask scheduler, tcp://HOST:PORT")

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
                             help="where the Fashion-MNIST release files are: a URL, or a local folder holding "
                                  "them (offline); default: its GitHub repository")
    validate = data_commands.add_parser("validate", help="check that a file is in the lesson's format")
    validate.add_argument("file")
    return parser


def positive_count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def request_of(args: argparse.Namespace, **defaults: str | None) -> settings.Request:
    """The grading request the options make; `defaults` stand in for options not given."""
    given = {name: value for name, value in vars(args).items() if value is not None}
    return settings.Request.from_options({**defaults, **given})


def lesson_beside(notebook: str) -> str | None:
    """`check` without --data grades with the lesson file beside the notebook, as the notebook's own
    `np.load('fashion.npz')` reads it (the built-in stand-in only when there is none): a grade at
    home is then decided on the data the class is graded on. `grade` never does this: its
    submissions' folders are the students'."""
    beside = Path(notebook).parent / "fashion.npz"
    return str(beside) if beside.is_file() else None


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
    from .grading import pipeline
    from .grading.plan import make_plan
    from .sandbox.isolation import RLIMITS

    started = time.monotonic()
    plan = None
    try:
        plan = make_plan(request_of(args, data=lesson_beside(args.notebook)))
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
    from .grading import result as result_module
    from .report import documents, github, model as report_model, terminal

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


def remote_workers(args: argparse.Namespace, plan) -> contextlib.AbstractContextManager:
    """A Dask cluster's workers, given the plan, for the grading's duration; none without --scheduler
    (and then Dask is not imported)."""
    if args.scheduler is None:
        return contextlib.nullcontext()
    from .batch.cluster import Access, ClusterWorkers

    # `exercise prove` takes --scheduler without the TLS options: Dask's own TLS configuration, or loopback
    return ClusterWorkers(args.scheduler, plan, Access(
        tls_ca_file=getattr(args, "tls_ca_file", None), tls_cert=getattr(args, "tls_cert", None),
        tls_key=getattr(args, "tls_key", None), insecure=bool(getattr(args, "insecure", False))))


def run_grade(args: argparse.Namespace) -> int:
    return run_grade_with(args)


def run_grade_with(args: argparse.Namespace, lent: Workers | None = None) -> int:
    """`grade`, on warm workers the caller keeps (`lent`: the test suite keeps one per process)
    or on its own, started before the rest of the grader is imported."""
    from .batch.workers import Workers
    from .sandbox.isolation import RLIMITS

    options = settings.GradeOptions.from_options(vars(args))
    jobs = options.jobs or os.cpu_count() or 1
    if jobs < 1:
        return fail("--jobs must be at least 1")
    if options.scheduler is not None and importlib.util.find_spec("distributed") is None:
        return fail("--scheduler needs Dask: pip install 'keras-autograder[cluster]'")
    if options.scheduler is not None and args.isolation == RLIMITS:
        return fail("--scheduler grades in bubblewrap on every worker; --isolation rlimits cannot be used with it")
    if options.scheduler is None and (options.insecure or options.tls_ca_file or options.tls_cert or options.tls_key):
        return fail("--insecure and --tls-* are for --scheduler")
    local = not options.cold and options.scheduler is None and args.isolation != RLIMITS
    if lent is not None:
        return _grade(args, options, jobs, lent if local else None)
    # The fork server's TensorFlow import is the one wait before the first notebook runs:
    # it starts before the rest of the grader is imported and the class is read.
    early = Workers.started_early(jobs) if local else None
    try:
        return _grade(args, options, jobs, early)
    finally:
        if early is not None:
            early.close()


def _grade(args: argparse.Namespace, options: settings.GradeOptions, jobs: int, early: Workers | None) -> int:
    from .batch import progress, run as batch
    from .grading import result as result_module
    from .grading.plan import make_plan
    from .report import github
    from .sandbox.isolation import RLIMITS, side_by_side_problem
    from .similarity import base as similarity_base

    try:
        plan = make_plan(request_of(args))  # bad data, holdout or exercise: stop before grading anyone
        base = tuple(similarity_base.read_given(list(options.base)))
        if options.scheduler is None:  # a cluster's workers grade in bubblewrap: a network of each notebook's own
            problem = side_by_side_problem(plan.isolation, jobs, options.shared_network)
            if problem:
                return fail(problem)
        desk = desk_of(options)
        with remote_workers(args, plan) as remote:
            report = batch.run(batch.Grading(
                args.submissions, Path(options.out), plan, jobs, progress.for_stream(sys.stderr),
                regrade=options.regrade, warm=not options.cold and plan.isolation != RLIMITS, formats=options.formats,
                canvas_assignment=options.canvas_assignment, remote=remote, early=early, base=base, desk=desk))
    except AutograderError as error:
        return fail(str(error))
    except OSError as error:
        return fail(f"cannot write to {options.out}: {error.strerror or error}")
    if report.interrupted:
        return 130
    if github.active():
        github.append_summary(github.batch_summary(report))
        print("\n".join(github.batch_annotations(report)))
    for line in closing_lines(report, Path(options.out)):
        print(line)
    notice = next((text for o in report.outcomes if (text := result_module.grading_notice(o.result))), None)
    if notice:
        print(notice)
    faults = sum(1 for o in report.this_run if o.result.get("grader_fault"))
    if faults:
        print(f"{faults} of these results the grader failed to complete, not the student (each result's "
              "grader_fault says how); run the same command again to grade them again")
    if report.canvas_left_out is not None:
        print(f"wrote {Path(options.out) / 'canvas-grades.csv'} for Canvas' gradebook import; "
              f"{report.canvas_left_out} student(s) without a Canvas user id in their file name left out")
    for lms, written in report.feedback.items():
        print(f"wrote {written.path} for {lms.capitalize()}'s bulk feedback upload: {written.students} student(s); "
              f"{len(written.left_out)} without a {lms.capitalize()} participant id in their file name left out")
    if report.overrides_recorded:
        print(f"recorded {report.overrides_recorded} decision(s) from {options.overrides} in the gradebook")
    return 0 if report.all_graded else 1


def desk_of(options: settings.GradeOptions):
    """The instructor's desk the options give (batch.Desk): every file read and checked before grading."""
    from .batch.desk import files, overrides
    from .batch.run import Desk

    return Desk(overrides=overrides.read(options.overrides) if options.overrides else [],
                overrides_file=options.overrides or "",
                policy=files.read_policy(options.policy) if options.policy else None,
                times=files.read_times(options.times) if options.times else {})


def closing_lines(report, out: Path) -> list[str]:
    """What `grade` says at the end: first each submission of this run that could not be graded and
    why, then counts that add up (this run's submissions, graded or not, and the files that were
    no submission), then the class the files in `out` hold."""
    from .report.terminal import plain

    this_run = report.this_run
    invalid = [o for o in this_run if o.result["status"] == "invalid"]
    lines = [f"not graded: {plain(o.submission.origin)}: {plain(o.result.get('reason') or 'unreadable')}"
             for o in invalid]
    lines += [f"not graded: {plain(p.origin)}: {plain(p.reason)}" for p in report.problems]
    lines.append(report.counts())
    kept = sum(1 for o in report.outcomes if o.kept)
    whole = f"the class's {len(report.outcomes)} row(s)" + (f", {kept} kept from earlier runs," if kept else "")
    lines.append(f"{whole} in {out / 'grades.csv'} and {out / 'summary.html'}")
    return lines


def run_release(args: argparse.Namespace) -> int:
    from .exercise.release import release_all, write_nbgrader_config

    try:
        written = release_all(Path(args.solutions), Path(args.out))
        configured = None if args.no_nbgrader_config else write_nbgrader_config(Path(args.nbgrader_config))
    except AutograderError as error:
        return fail(str(error))
    for path in written:
        print(f"wrote {path}")
    if configured:
        print(configured)
    return 0


def run_gradescope(args: argparse.Namespace) -> int:
    from .gradescope import build_archive

    request = request_of(args)
    if args.no_holdout and request.holdout is not None:
        return fail("--holdout and --no-holdout contradict each other")
    try:
        written, holdout = build_archive(request, Path(args.out), args.visibility, with_holdout=not args.no_holdout)
    except AutograderError as error:
        return fail(str(error))
    except OSError as error:
        return fail(f"cannot write {args.out}: {error.strerror or error}")
    print(f"wrote {written}: upload it as the assignment's autograder (Ubuntu base image)")
    if holdout is not None:
        print(f"it carries the holdout {holdout}: accuracy.threshold is decided on images the notebooks never see "
              "(Gradescope's image needs bubblewrap to hide them; without it every submission fails to grade)")
    else:
        print("it carries no holdout: accuracy.threshold is decided on the test images every notebook loads; "
              "`autograder data holdout --data FASHION_NPZ` writes one beside your data file, which the archive "
              "then carries")
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
    return run_exercise_with(args)


def run_exercise_with(args: argparse.Namespace, lent: Workers | None = None) -> int:
    """`exercise validate`, `new` and `prove`; `new` and `prove` grade on warm workers the caller
    keeps (`lent`: the test suite keeps one per process) or on their own."""
    from .exercise import registry as exercises

    if args.exercise_command == "validate":
        try:
            exercise = exercises.from_file(Path(args.file))
        except AutograderError as error:
            return fail(str(error))
        print(f"{args.file}: valid; exercise {exercise.id}: {exercise.layers_text()}; "
              f"{exercise.optimizer_name}, {exercise.epochs} epochs, threshold {exercise.threshold:.2f}; "
              f"{exercise.max_score:g} points in all")
        return 0
    jobs = args.jobs or (lent.jobs if lent is not None else os.cpu_count() or 1)
    if jobs < 1:
        return fail("--jobs must be at least 1")
    try:  # misuse is said before any process starts
        if args.exercise_command == "prove":
            exercises.get(args.exercise)
    except AutograderError as error:
        return fail(str(error))
    if not Path(args.solution).is_file():
        return fail(f"{args.solution}: no such notebook")
    scheduler = getattr(args, "scheduler", None)
    if scheduler is not None and importlib.util.find_spec("distributed") is None:
        return fail("--scheduler needs Dask: pip install 'keras-autograder[cluster]'")
    from .sandbox.isolation import RLIMITS

    workers = None
    if scheduler is None and args.isolation != RLIMITS:
        # The fork server's TensorFlow import starts first, as for `grade`.
        from .batch.workers import Workers as WarmWorkers

        workers = lent if lent is not None else WarmWorkers.started_early(jobs)
    try:
        if args.exercise_command == "new":
            return _exercise_new(args, jobs, workers)
        return _exercise_prove(args, jobs, workers)
    finally:
        if workers is not None and workers is not lent:
            workers.close()


def _exercise_new(args: argparse.Namespace, jobs: int, workers: Workers | None) -> int:
    from .batch import progress
    from .proof import authoring, report

    out = Path(args.out)
    try:
        exercise_id = args.exercise_id or out.name.removesuffix(".toml")
        text, exercise, calibration = authoring.from_solution(
            args.solution, request_of(args), exercise_id, args.title, args.margin, runs=args.runs or authoring.RUNS,
            workers=workers, jobs=jobs, progress=progress.for_stream(sys.stderr))
        out.write_text(text, encoding="utf-8")
    except AutograderError as error:
        return fail(str(error))
    except OSError as error:
        return fail(f"cannot write {args.out}: {error.strerror or error}")
    how = (f"{args.margin:g} below the lowest run" if args.margin is not None else
           f"a correct notebook fails it with a chance of {report.percent(calibration.false_fail_rate)}")
    print(f"wrote {out}: exercise {exercise.id}, {exercise.layers_text()}; the solution measured "
          f"{calibration.lowest:.2f}-{calibration.highest:.2f} over {calibration.runs} run(s) with different seeds "
          f"(mean {calibration.mean:.3f}, sd {calibration.sd:.3f}), so the threshold is {exercise.threshold:.2f} "
          f"({how}); prove it with: autograder exercise prove {out} --solution {args.solution}")
    return 0


def run_course(args: argparse.Namespace) -> int:
    if importlib.util.find_spec("starlette") is None:
        return fail("the course service needs its libraries: pip install 'keras-autograder[service]'")
    from .service import commands

    try:
        if args.course_command == "init":
            print(commands.init(args.directory, args.exercises, args.data))
        else:
            sys.stdout.write(commands.students(args.directory, args.roster))
    except AutograderError as error:
        return fail(str(error))
    except OSError as error:
        return fail(f"cannot write to {args.directory}: {error.strerror or error}")
    return 0


def run_serve(args: argparse.Namespace) -> int:
    if importlib.util.find_spec("uvicorn") is None:
        return fail("the course service needs its libraries: pip install 'keras-autograder[service]'")
    if args.scheduler is not None and importlib.util.find_spec("distributed") is None:
        return fail("--scheduler needs Dask: pip install 'keras-autograder[cluster]'")
    jobs = args.jobs or os.cpu_count() or 1
    if jobs < 1:
        return fail("--jobs must be at least 1")
    if not 0 <= args.port <= 65535:
        return fail("--port must be from 0 to 65535")
    from .service import commands

    try:
        commands.serve(args.directory, args.host, args.port, jobs, args.scheduler)
    except AutograderError as error:
        return fail(str(error))
    return 0


def _exercise_prove(args: argparse.Namespace, jobs: int, workers: Workers | None) -> int:
    from . import proof
    from .batch import progress
    from .exercise import registry as exercises
    from .grading.plan import make_plan
    from .proof import document as proof_document, report
    from .report import github
    from .sandbox.isolation import RLIMITS

    try:
        plan = make_plan(request_of(args))
        with remote_workers(args, plan) as remote:
            result = proof.prove(args.solution, plan, args.runs or proof.DEFAULT_RUNS, jobs,
                                 progress.for_stream(sys.stderr), warm=plan.isolation != RLIMITS, early=workers,
                                 remote=remote)
    except AutograderError as error:
        return fail(str(error))
    for path, write in ((args.json, lambda target: proof_document.write(result, target)),
                        (args.html, lambda target: Path(target).write_text(report.render_html(result)))):
        if path:
            try:
                write(path)
            except OSError as error:
                return fail(f"cannot write {path}: {error.strerror or error}")
    sys.stdout.write(report.render_terminal(result))
    if github.active():
        github.append_summary(report.render_markdown(result))
        where = args.exercise if exercises.is_file_reference(args.exercise) else args.solution
        print("\n".join(report.problem_annotations(result, where)))
    return 0 if result["holds"] else 1


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handlers = {"check": run_check, "grade": run_grade, "release": run_release, "gradescope": run_gradescope,
                "data": run_data, "exercise": run_exercise, "course": run_course, "serve": run_serve}
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
