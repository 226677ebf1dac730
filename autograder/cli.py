"""Command line: `autograder check`, `autograder release`, `autograder data`.

Exit status of `check`: 0 every check passed; 1 graded and something failed
(a timeout or dead kernel included); 2 the notebook could not be read or the
command was misused, with a one-line reason (and still a result file when
--json is given).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from . import __version__


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if value <= 0:
        raise argparse.ArgumentTypeError("must be more than 0")
    return value


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError("must be between 0 and 1")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="autograder", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"keras-autograder {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    check = commands.add_parser("check", help="grade one notebook and print a summary")
    check.add_argument("notebook", help="the .ipynb file to grade")
    check.add_argument("--exercise", help="exercise id (keras-dense, keras-deeper); default: the notebook's metadata")
    check.add_argument("--data", metavar="FASHION_NPZ",
                       help="the lesson's fashion.npz (default: the built-in offline stand-in)")
    check.add_argument("--timeout", type=_positive, default=None, metavar="S",
                       help="wall-clock limit for the whole notebook in seconds (default 240)")
    check.add_argument("--cell-timeout", type=_positive, default=None, metavar="S",
                       help="limit for one cell (default 180, at most --timeout)")
    check.add_argument("--threshold", type=_fraction, default=None,
                       help="test accuracy needed for accuracy.threshold (default 0.80)")
    check.add_argument("--hide-threshold", action="store_true",
                       help="never show the accuracy threshold to the student (reports say 'the required accuracy')")
    _holdout_arguments(check)
    check.add_argument("--isolation", choices=("auto", "bubblewrap", "rlimits"), default="auto",
                       help="sandbox: bubblewrap when available (auto), or resource limits only")
    check.add_argument("--memory-mb", type=int, default=None, help="memory cap of the notebook (default 6144)")
    check.add_argument("--json", metavar="FILE", help="write the result document here")
    check.add_argument("--html", metavar="FILE", help="write the HTML report here")
    check.add_argument("--markdown", metavar="FILE", help="write the Markdown report here")
    check.add_argument("--quiet", action="store_true", help="print nothing; use the exit status")

    grade = commands.add_parser("grade", help="grade a whole class into a gradebook, in parallel")
    grade.add_argument("submissions", nargs="+",
                       help="folders of notebooks, nbgrader's submitted/ folder, LMS zip downloads, notebooks")
    grade.add_argument("--out", required=True, metavar="DIR", help="where the gradebook and reports go")
    grade.add_argument("--exercise", help="exercise id for every submission (default: each notebook's metadata)")
    grade.add_argument("--data", metavar="FASHION_NPZ", help="the lesson's fashion.npz (default: the stand-in)")
    grade.add_argument("--timeout", type=_positive, default=None, metavar="S",
                       help="wall-clock limit for each notebook (default 240)")
    grade.add_argument("--jobs", type=int, default=None, metavar="N",
                       help="notebooks graded at once (default: the number of cores)")
    grade.add_argument("--regrade", action="store_true", help="grade again what the gradebook already has")
    grade.add_argument("--threshold", type=_fraction, default=None)
    grade.add_argument("--hide-threshold", action="store_true")
    _holdout_arguments(grade)
    grade.add_argument("--isolation", choices=("auto", "bubblewrap", "rlimits"), default="auto")
    grade.add_argument("--cold", action="store_true",
                       help="start every kernel from scratch instead of forking it from a warm server")

    release = commands.add_parser("release", help="make the student notebooks from the solutions (nbgrader)")
    release.add_argument("--solutions", default="solutions", help="folder of solution notebooks")
    release.add_argument("--out", default="exercises", help="folder for the student notebooks")

    gradescope = commands.add_parser("gradescope", help="build a Gradescope autograder archive")
    gradescope.add_argument("--exercise", required=True, help="exercise id the archive grades")
    gradescope.add_argument("--out", default="autograder.zip", metavar="ZIP", help="the archive to write")
    gradescope.add_argument("--data", metavar="FASHION_NPZ", help="the lesson's fashion.npz (default: the stand-in)")
    gradescope.add_argument("--threshold", type=_fraction, default=None)
    gradescope.add_argument("--hide-threshold", action="store_true")
    gradescope.add_argument("--timeout", type=_positive, default=None, metavar="S")
    gradescope.add_argument("--visibility", default="visible",
                            choices=("visible", "hidden", "after_due_date", "after_published"),
                            help="when students see the results (Gradescope's visibility)")

    data = commands.add_parser("data", help="make, fetch or validate a fashion.npz")
    data_commands = data.add_subparsers(dest="data_command", required=True)
    standin = data_commands.add_parser("standin", help="write the offline stand-in data set")
    standin.add_argument("--out", required=True)
    fetch = data_commands.add_parser("fetch", help="build fashion.npz from the public Fashion-MNIST (online)")
    fetch.add_argument("--out", required=True)
    validate = data_commands.add_parser("validate", help="check that a file is in the lesson's format")
    validate.add_argument("file")
    return parser


def _holdout_arguments(command) -> None:
    command.add_argument("--holdout", metavar="NPZ",
                         help="hidden test images (test_data, test_labels) the notebook never sees: "
                              "accuracy.threshold is decided on them; both accuracies go to the instructor")
    command.add_argument("--show-holdout", action="store_true",
                         help="let students' reports show the accuracy on the holdout (default: only its verdict)")


def fail(message: str) -> int:
    print(f"autograder: {message}", file=sys.stderr)
    return 2


def run_check(args) -> int:
    from . import exercises, github, pipeline, result as result_module
    from .report import documents, model as report_model, terminal

    options = pipeline.Options(
        exercise=args.exercise, data=args.data,
        timeout=args.timeout or pipeline.DEFAULT_TIMEOUT, cell_timeout=args.cell_timeout,
        threshold=args.threshold, hide_threshold=args.hide_threshold, isolation=args.isolation,
        memory_mb=args.memory_mb, holdout=args.holdout, show_holdout=args.show_holdout)
    started = time.monotonic()
    lesson = None
    try:
        lesson = pipeline.resolve_data(options.data)
        document = pipeline.grade_notebook(args.notebook, options, lesson=lesson)
    except (pipeline.UsageError, ValueError) as error:  # misuse, or bubblewrap asked for but missing
        document = pipeline.invalid_result(args.notebook, str(error), None, started)
    except Exception as error:  # noqa: BLE001 - a grader bug still ends in one line and a result file
        if os.environ.get("AUTOGRADER_DEBUG"):
            raise
        document = pipeline.invalid_result(
            args.notebook, f"internal error in the grader ({type(error).__name__}: {error}); please report it",
            None, started)
    exercise = exercises.EXERCISES.get(document.get("exercise") or "")
    report = report_model.build(document, exercise, lesson.test_data if lesson is not None else None)
    writers = [(args.json, lambda path: result_module.write(document, path)),
               (args.markdown, lambda path: documents.write_markdown(report, path)),
               (args.html, lambda path: documents.write_html(report, path))]
    for path, write in writers:
        if not path:
            continue
        try:
            write(path)
        except OSError as error:
            return fail(f"cannot write {path}: {error.strerror or error}")
    if document["status"] == "invalid":
        print(f"autograder: {document.get('reason')}", file=sys.stderr)
    elif not args.quiet:
        sys.stdout.write(terminal.render(report, color=terminal.wants_color(sys.stdout)))
    if github.active():
        github.append_summary(documents.render_markdown(report))
        print("\n".join(github.check_annotations(document, args.notebook)))
    return result_module.exit_code(document)


def run_grade(args) -> int:
    from . import batch, github, pipeline, progress
    from .gradebook import GradebookError

    jobs = args.jobs or os.cpu_count() or 1
    if jobs < 1:
        return fail("--jobs must be at least 1")
    options = pipeline.Options(exercise=args.exercise, data=args.data,
                               timeout=args.timeout or pipeline.DEFAULT_TIMEOUT, threshold=args.threshold,
                               hide_threshold=args.hide_threshold, isolation=args.isolation,
                               holdout=args.holdout, show_holdout=args.show_holdout)
    if args.exercise:
        try:
            pipeline.resolve_exercise(options, None)
        except pipeline.UsageError as error:
            return fail(str(error))
    try:
        report = batch.run(args.submissions, Path(args.out), options, jobs, args.regrade,
                           progress.for_stream(sys.stderr), warm=not args.cold and args.isolation != "rlimits")
    except (pipeline.UsageError, GradebookError, ValueError) as error:
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
    return 0 if report.all_graded else 1


def run_release(args) -> int:
    from .release import ReleaseError, release_all

    try:
        written = release_all(Path(args.solutions), Path(args.out))
    except ReleaseError as error:
        return fail(str(error))
    for path in written:
        print(f"wrote {path}")
    return 0


def run_gradescope(args) -> int:
    from .data import DataError
    from .gradescope import GradescopeError, build_archive

    try:
        written = build_archive(args.exercise, Path(args.out), args.data, args.threshold, args.hide_threshold,
                                args.visibility, args.timeout)
    except (GradescopeError, DataError) as error:
        return fail(str(error))
    except OSError as error:
        return fail(f"cannot write {args.out}: {error.strerror or error}")
    print(f"wrote {written}: upload it as the assignment's autograder (Ubuntu base image)")
    return 0


def run_data(args) -> int:
    from . import data

    try:
        if args.data_command == "standin":
            data.make_standin().save(args.out)
            print(f"wrote the offline stand-in to {args.out}")
        elif args.data_command == "fetch":
            data.fetch_fashion_mnist().save(args.out)
            print(f"wrote the Fashion-MNIST lesson subset to {args.out}")
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


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handlers = {"check": run_check, "grade": run_grade, "release": run_release, "gradescope": run_gradescope,
                "data": run_data}
    try:
        return handlers[args.command](args)
    except KeyboardInterrupt:
        return fail("interrupted")


if __name__ == "__main__":
    sys.exit(main())
