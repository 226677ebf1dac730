"""Every grading setting a user can give, declared once: its name, flag, default and help.

`Request` is what the user asked for, whatever the entry point: the command line
(`check`, `grade`, `gradescope`), the pytest plugin, a Gradescope archive's rubric. Each
field is one setting, under the one name it keeps all the way to where it acts (the
`Limits` of the sandbox, the exercise's policy); `plan.make_plan` turns a Request into
the frozen plan the pipeline follows.

`GradeOptions` declares the same way the options only `grade` takes (where its gradebook
goes, how many notebooks at once, a cluster, the class files to write).

Entry points add the settings they accept with `add_arguments` (argparse) or
`add_pytest_options` (pytest), so a flag's type, default and help are written here only.
"""
from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ..sandbox.isolation import ISOLATIONS, Limits

DEFAULT_LIMITS = Limits()
Declared = TypeVar("Declared")
ISOLATION_CHOICES = ("auto", *ISOLATIONS)


def _converted(text: str, convert: Callable[[str], Any], what: str) -> Any:
    try:
        return convert(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None


def positive_seconds(text: str) -> float:
    value: float = _converted(text, float, "a number of seconds")
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError("must be a number of seconds more than 0")
    return value


def fraction(text: str) -> float:
    value: float = _converted(text, float, "a number")
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError("must be between 0 and 1")
    return value


def positive_megabytes(text: str) -> int:
    value: int = _converted(text, int, "a whole number of MiB")
    if value < 256:
        raise argparse.ArgumentTypeError("must be at least 256 (MiB): a kernel with TensorFlow needs more")
    return value


def setting(flag: str, help: str, default: Any = None, *, parse: Callable[[str], Any] | None = None,
            metavar: str | None = None, choices: tuple[str, ...] | None = None, repeatable: bool = False) -> Any:
    """A Request (or GradeOptions) field that also describes its command-line option; a `repeatable`
    one is a tuple of every time the option is given."""
    return field(default=default, metadata={"flag": flag, "help": help, "parse": parse, "metavar": metavar,
                                            "choices": choices, "repeatable": repeatable})


def options_of(declared: type[Declared], values: Mapping[str, Any]) -> Declared:
    """Declared options from parsed ones: those not given (or None) keep their defaults."""
    given = {f.name: tuple(value) if isinstance(value := values[f.name], list) else value
             for f in dataclasses.fields(declared) if values.get(f.name) is not None}  # type: ignore[arg-type]
    return declared(**given)


@dataclass(frozen=True)
class Request:
    """What the user asked for, before anything is read or checked (see plan.make_plan)."""

    #: The exercise every notebook is graded against, a built-in id or an exercise file's path;
    #: None: each notebook's own metadata (which may name built-in ids only).
    exercise: str | None = setting(
        "--exercise", "a built-in exercise id (keras-dense, keras-deeper, ...) or the path of an exercise file "
                      "(.toml); default: the built-in one the notebook's metadata names",
        metavar="ID|FILE.toml")
    #: The lesson's fashion.npz; None: the built-in offline stand-in.
    data: str | None = setting(
        "--data", "the lesson's fashion.npz (default: the built-in offline stand-in)", metavar="FASHION_NPZ")
    #: Wall-clock limit of one whole notebook, in seconds.
    timeout_s: float = setting(
        "--timeout", f"wall-clock limit of each notebook in seconds (default {DEFAULT_LIMITS.timeout_s:g})",
        DEFAULT_LIMITS.timeout_s, parse=positive_seconds, metavar="S")
    #: Limit of one cell, in seconds; None: the default, or the notebook's limit if that is lower.
    cell_timeout_s: float | None = setting(
        "--cell-timeout", f"limit of one cell in seconds (default {DEFAULT_LIMITS.cell_timeout_s:g}, "
                          "at most --timeout)", parse=positive_seconds, metavar="S")
    #: Memory cap of one notebook, in MiB.
    memory_mb: int = setting(
        "--memory-mb", f"memory cap of each notebook in MiB (default {DEFAULT_LIMITS.memory_mb})",
        DEFAULT_LIMITS.memory_mb, parse=positive_megabytes, metavar="MB")
    #: Test accuracy that accuracy.threshold needs; None: the exercise's own.
    threshold: float | None = setting(
        "--threshold", "test accuracy needed for accuracy.threshold (default: the exercise's, 0.80)",
        parse=fraction)
    #: Never show the threshold's number to students.
    hide_threshold: bool = setting(
        "--hide-threshold", "never show the accuracy threshold to students (reports say 'the required accuracy')",
        False)
    #: The instructor's hidden test images, on which accuracy.threshold is then decided.
    holdout: str | None = setting(
        "--holdout", "hidden test images (test_data, test_labels) the notebook never sees: accuracy.threshold "
                     "is decided on them; both accuracies go to the instructor (default: the -holdout.npz file "
                     "`autograder data` wrote beside --data, when there is one)", metavar="NPZ")
    #: May students' reports show the accuracy measured on the holdout?
    show_holdout: bool = setting(
        "--show-holdout", "let students' reports show the accuracy on the holdout (default: only its verdict)",
        False)
    #: How notebooks are confined: bubblewrap when it works here (auto), or resource limits only.
    isolation: str = setting(
        "--isolation", "sandbox: bubblewrap when available (auto), or resource limits only", "auto",
        choices=ISOLATION_CHOICES)
    #: Seed of every random generator in the notebook's kernel: same submission, same grade.
    seed: int = 0

    @classmethod
    def from_options(cls, values: dict[str, Any]) -> Request:
        """A Request from parsed options: settings not given (or None) keep their defaults."""
        return options_of(cls, values)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class GradeOptions:
    """How `grade` grades a class, beyond the settings every entry point takes (Request): each field
    one of its options, declared once, as Request's are."""

    #: Where the gradebook, the results, the reports and the class files go.
    out: str = setting("--out", "where the gradebook and reports go", "", metavar="DIR")
    #: Notebooks graded at once; None: the number of cores.
    jobs: int | None = setting(
        "--jobs", "notebooks graded at once (default: the number of cores); with --scheduler, reports drawn at once",
        parse=int, metavar="N")
    #: A running Dask scheduler whose workers run the notebooks (batch/cluster.py); None: this machine.
    scheduler: str | None = setting(
        "--scheduler", "run the notebooks on the workers of a running Dask scheduler, tls://HOST:PORT (or "
                       "tcp://127.0.0.1:PORT with every worker on this machine; needs the 'cluster' extra; see "
                       "docs/cluster.md); results still land in --out", metavar="ADDRESS")
    tls_ca_file: str | None = setting(
        "--tls-ca-file", "with --scheduler tls://: the course's CA certificate (default: Dask's configuration)",
        metavar="PEM")
    tls_cert: str | None = setting("--tls-cert", "with --scheduler tls://: this machine's certificate", metavar="PEM")
    tls_key: str | None = setting("--tls-key", "with --scheduler tls://: this machine's private key", metavar="PEM")
    #: Grade on a cluster that anyone who reaches it could join.
    insecure: bool = setting(
        "--insecure", "with --scheduler: grade even on a cluster that anyone who reaches it could join (plain TCP "
                      "beyond the loopback)", False)
    #: Grade --jobs notebooks side by side without a network namespace of their own.
    shared_network: bool = setting(
        "--shared-network", "without bubblewrap and a network namespace: grade --jobs notebooks side by side even "
                            "though they share this machine's network", False)
    #: Grade again what the gradebook already has.
    regrade: bool = setting("--regrade", "grade again what the gradebook already has", False)
    #: Code every student was given, left out when submissions are compared for similarity.
    base: tuple[str, ...] = setting(
        "--base", "code every student was given (a released notebook or starter code, .ipynb or .py): never "
                  "counted when submissions are compared for similarity (repeatable; a built-in exercise's "
                  "released notebook is always left out)", (), metavar="FILE", repeatable=True)
    #: Start every kernel from scratch instead of forking it from a warm server.
    cold: bool = setting("--cold", "start every kernel from scratch instead of forking it from a warm server", False)
    #: Class files to write besides grades.csv ("canvas", "moodle-feedback").
    formats: tuple[str, ...] = setting(
        "--format", "also write canvas-grades.csv, a file Canvas' gradebook import accepts; or "
                    "feedback-moodle.zip, the students' reports for Moodle's bulk feedback upload "
                    "(repeatable; docs/desk.md)", (),
        choices=("canvas", "moodle-feedback"), repeatable=True)
    #: The instructor's scores and comments (batch/desk/overrides.py), recorded in the gradebook.
    overrides: str | None = setting(
        "--overrides", "record the instructor's scores and comments (columns student, exercise, score, "
                       "comment) in the gradebook; they hold through every later run and regrade", metavar="FILE.csv")
    #: The late policy, in course.toml's keys (batch/desk/files.py); None: the one an earlier run gave.
    policy: str | None = setting(
        "--policy", "the late policy: the course service's course.toml, or a file of its keys deadline, "
                    "late_penalty_per_day, cutoff and [extensions]", metavar="FILE.toml")
    #: When each student submitted, from the instructor's LMS.
    times: str | None = setting(
        "--times", "when each student submitted, from your LMS (columns student, submitted_at in ISO "
                   "8601 with its zone): what --policy counts days late from", metavar="FILE.csv")
    #: The Canvas gradebook column to fill; None: the exercise id.
    canvas_assignment: str | None = setting(
        "--canvas-assignment", "the Canvas gradebook column to fill, as Canvas names it in its export, e.g. "
                               '"Keras dense (4321)" (default: the exercise id, a new assignment)',
        metavar='"NAME (ID)"')

    @classmethod
    def from_options(cls, values: dict[str, Any]) -> GradeOptions:
        return options_of(cls, values)


#: GradeOptions' names, in the order `grade --help` lists them.
GRADE_OPTIONS = tuple(f.name for f in dataclasses.fields(GradeOptions))


def _declared(name: str, declared: type = Request) -> dataclasses.Field[Any]:
    for entry in dataclasses.fields(declared):
        if entry.name == name and entry.metadata.get("flag"):
            return entry
    raise KeyError(f"{name!r} is not a setting with a command-line option")


def _option_arguments(entry: dataclasses.Field[Any]) -> dict[str, Any]:
    meta = entry.metadata
    if entry.default is False:
        return {"action": "store_true", "default": None, "help": meta["help"]}
    arguments: dict[str, Any] = {"default": None, "help": meta["help"]}
    if meta["parse"] is not None:
        arguments["type"] = meta["parse"]
    if meta["metavar"] is not None:
        arguments["metavar"] = meta["metavar"]
    if meta["choices"] is not None:
        arguments["choices"] = meta["choices"]
    if meta.get("repeatable"):
        arguments["action"] = "append"
    return arguments


def add_arguments(parser: argparse.ArgumentParser, *names: str, required: tuple[str, ...] = (),
                  declared: type = Request) -> None:
    """Add the named settings of `declared` (Request, GradeOptions) to an argparse parser, under their
    one name (argparse's dest).

    Defaults stay with the declaration: an option not given parses as None, and
    from_options fills in the default.
    """
    for name in names:
        entry = _declared(name, declared)
        parser.add_argument(entry.metadata["flag"], dest=name, required=name in required,
                            **_option_arguments(entry))


def add_pytest_options(group: Any, flags: dict[str, str | tuple[str, ...]]) -> None:
    """Add settings to a pytest option group under the given flags (one, or several spellings
    of it), as `autograder_<name>`."""
    for name, flag in flags.items():
        spellings = (flag,) if isinstance(flag, str) else flag
        group.addoption(*spellings, dest=f"autograder_{name}", **_option_arguments(_declared(name)))


def from_pytest(config: Any, names: tuple[str, ...]) -> Request:
    return Request.from_options({name: config.getoption(f"autograder_{name}") for name in names})
