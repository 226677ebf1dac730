"""Gradescope: an autograder archive that grades with this package, and its results file.

`autograder gradescope --exercise ID --out autograder.zip` writes the archive Gradescope
asks for: `setup.sh` (installs bubblewrap, a Python of at least 3.11, and this package's
dependencies pinned to the versions installed where the archive was built, which the
instructor tested), `run_autograder` (grades /autograder/submission), the rubric, the data and
the holdout (`--holdout`, by default the one `autograder data` wrote beside `--data`), and this
package's own source, so the archive grades exactly as the instructor's copy does.
`run_autograder` writes /autograder/results/results.json in Gradescope's format: one test per
check id.

The root (/autograder on Gradescope) comes from GRADESCOPE_AUTOGRADER_ROOT when set, so
that the archive can be tried in any folder laid out the same way.
"""
from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from .errors import AutograderError, UsageError
from .grading.result import ResultDocument
from .grading.settings import Request

ROOT_VARIABLE = "GRADESCOPE_AUTOGRADER_ROOT"
VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")
#: Where the archive carries an instructor's exercise file and the holdout, beside rubric.json.
EXERCISE_FILE = "exercise.toml"
HOLDOUT_FILE = "holdout.npz"
#: The oldest Python this package runs on (pyproject.toml's requires-python).
PYTHON = (3, 11)

SETUP = """#!/usr/bin/env bash
# Gradescope runs this once, as root, when the autograder image is built.
set -euo pipefail
apt-get update -q && apt-get install -y -q --no-install-recommends bubblewrap python3-venv
# keras-autograder needs Python {major}.{minor} or newer: the image's python3, or one apt can install.
newer() {{ "$1" -c 'import sys; sys.exit(sys.version_info < ({major}, {minor}))' 2>/dev/null; }}
PYTHON=""
for candidate in python3 python3.13 python3.12 python3.{minor}; do
  if command -v "$candidate" >/dev/null && newer "$candidate"; then PYTHON="$candidate"; break; fi
done
if [ -z "$PYTHON" ] && apt-get install -y -q --no-install-recommends python3.{minor} python3.{minor}-venv; then
  PYTHON=python3.{minor}
fi
if [ -z "$PYTHON" ]; then
  echo "keras-autograder needs Python {major}.{minor} or newer, and this image has" \\
       "$(python3 --version 2>&1 || echo no python3) and cannot install one:" \\
       "choose a base image with Python {major}.{minor} or newer (Ubuntu 24.04)" >&2
  exit 1
fi
# A virtual environment of its own: images that enforce PEP 668 refuse pip in the system Python.
"$PYTHON" -m venv /autograder/venv
# The versions the archive was built with, which the instructor tested (requirements.txt).
/autograder/venv/bin/pip install --no-cache-dir -r /autograder/source/requirements.txt
""".format(major=PYTHON[0], minor=PYTHON[1])

RUN = """#!/usr/bin/env bash
# Gradescope runs this for every submission; it writes $ROOT/results/results.json.
ROOT="${{GRADESCOPE_AUTOGRADER_ROOT:-/autograder}}"
export PYTHONPATH="$ROOT/source${{PYTHONPATH:+:$PYTHONPATH}}"
cd "$ROOT/source"
PYTHON="$ROOT/venv/bin/python"  # setup.sh's environment; a tree laid out by hand may use its own Python
[ -x "$PYTHON" ] || PYTHON=python3
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < ({major}, {minor}))'; then
  echo "keras-autograder needs Python {major}.{minor} or newer, and $PYTHON is $("$PYTHON" --version 2>&1):" \\
       "run setup.sh on an image with Python {major}.{minor} or newer" >&2
  exit 1
fi
exec "$PYTHON" -m autograder.gradescope run
""".format(major=PYTHON[0], minor=PYTHON[1])


class GradescopeError(UsageError):
    """The archive cannot be built as asked."""


def requirements() -> list[str]:
    """requirements.txt's lines: this package's dependencies, and theirs, pinned to the versions
    installed here (what the instructor tested). A dependency of another platform (TensorFlow's
    two packages) keeps its declared bounds, with its marker, and says so."""
    import sys

    from packaging.markers import Marker
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name

    try:
        declared = importlib.metadata.requires("keras-autograder") or []
    except importlib.metadata.PackageNotFoundError:
        raise GradescopeError("keras-autograder is not installed; install it with pip first") from None
    version = ".".join(map(str, sys.version_info[:3]))
    lines = [f"# Pinned to what was installed where this archive was built (Python {version})."]
    # Breadth first from our own dependencies, those for every platform first: each package with the
    # marker of the dependency of ours that brought it (a platform's TensorFlow, that platform's packages).
    queue: list[tuple[Requirement, Marker | None, tuple[str, ...]]] = []
    for line in declared:
        requirement = Requirement(line)
        if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
            queue.append((requirement, requirement.marker, ("",)))
        elif "extra" not in str(requirement.marker):
            lines.append(f"{requirement}  # not installed where this archive was built: not tested")
    queue.sort(key=lambda entry: entry[1] is not None)
    seen: set[str] = set()
    while queue:
        requirement, marker, extras = queue.pop(0)
        if requirement.marker is not None and not any(requirement.marker.evaluate({"extra": e}) for e in extras):
            continue
        name = canonicalize_name(requirement.name)
        if name in seen:
            continue
        seen.add(name)
        try:
            distribution = importlib.metadata.distribution(requirement.name)
        except importlib.metadata.PackageNotFoundError:
            raise GradescopeError(f"{requirement.name}, which keras-autograder needs, is not installed here: "
                                  "install keras-autograder's dependencies with pip first") from None
        lines.append(f"{distribution.metadata['Name']}=={distribution.version}" + (f"; {marker}" if marker else ""))
        for line in distribution.requires or []:
            try:
                queue.append((Requirement(line), marker, ("", *requirement.extras)))
            except InvalidRequirement:
                continue  # a malformed line in another package's metadata: pip skips it too
    return lines


def build_archive(request: Request, out: Path, visibility: str = "visible",
                  with_holdout: bool = True) -> tuple[Path, str | None]:
    """The archive for `request` (whose exercise is required), and the holdout file it carries: the
    request's (plan.holdout_of: `--holdout`, else the one beside `--data`) unless `with_holdout` is
    False. Its settings travel in rubric.json."""
    from . import data
    from .exercise import registry as exercises
    from .grading import plan

    if request.exercise is None:
        raise GradescopeError("the archive grades one exercise: pass --exercise")
    exercises.get(request.exercise)  # UnknownExercise names the known ones; a bad file says why
    carried = exercises.is_file_reference(request.exercise)  # the archive carries an exercise file
    if visibility not in VISIBILITIES:
        raise GradescopeError(f"visibility must be one of {', '.join(VISIBILITIES)}")
    data_path = request.data
    lesson = plan.load_lesson(data_path)  # a bad file is refused here, with its problem named
    holdout = plan.holdout_of(request) if with_holdout else None
    if holdout is not None:
        try:
            data.load_holdout(holdout)  # refused here, not on Gradescope: the instructor is here to fix it
        except data.DataError as error:
            raise GradescopeError(str(error)) from None
    named = EXERCISE_FILE if carried else request.exercise
    rubric = {"visibility": visibility, "request": {**request.to_dict(), "data": None, "exercise": named,
                                                    "holdout": HOLDOUT_FILE if holdout is not None else None}}
    lines = requirements()
    package = Path(__file__).resolve().parent
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in (("setup.sh", SETUP), ("run_autograder", RUN)):
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            info.external_attr = 0o100755 << 16  # executable, as Gradescope requires
            archive.writestr(info, text)
        archive.writestr("requirements.txt", "\n".join(lines) + "\n")
        archive.writestr("rubric.json", json.dumps(rubric, indent=2) + "\n")
        if carried:
            archive.write(request.exercise, EXERCISE_FILE)
        if holdout is not None:
            archive.write(holdout, HOLDOUT_FILE)  # the instructor's file, as validated
        if data_path:
            archive.write(data_path, "fashion.npz")  # the instructor's file, as validated
        else:
            with tempfile.TemporaryDirectory() as scratch:
                lesson.save(Path(scratch) / "fashion.npz")
                archive.write(Path(scratch) / "fashion.npz", "fashion.npz")
        for path in sorted(package.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix in (".py", ".j2", ".css", ".toml"):
                archive.write(path, f"autograder/{path.relative_to(package).as_posix()}")
    return out, holdout


def find_notebook(submission: Path, exercise_id: str) -> tuple[Path | None, str | None]:
    """The submitted notebook: the only one, or the one named after the exercise."""
    notebooks = sorted(p for p in submission.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
    if not notebooks:
        return None, "no notebook (.ipynb) was submitted"
    if len(notebooks) == 1:
        return notebooks[0], None
    named = [p for p in notebooks if p.stem == exercise_id]
    if len(named) == 1:
        return named[0], None
    return None, (f"{len(notebooks)} notebooks were submitted; submit one, or name it {exercise_id}.ipynb "
                  f"(found: {', '.join(p.name for p in notebooks)})")


def results_json(document: ResultDocument, markdown: str, visibility: str, seconds: float) -> dict:
    """Gradescope's results format: overall score, one test per check."""
    from .grading.result import check_text, grading_notice

    tests = []
    for number, check in enumerate(document.get("checks", []), start=1):
        output = check_text(check, separator="\n\n", causes=document.get("causes"))
        tests.append({"name": f"{check['id']}: {check.get('title') or check['id']}", "number": str(number),
                      "score": check.get("points", 0), "max_score": check.get("max_points", 0),
                      "status": "passed" if check.get("passed") else "failed", "output": output,
                      "output_format": "md", "visibility": visibility, "tags": [check["id"]]})
    isolation = document.get("isolation") or "none (not run)"
    notice = grading_notice(document)
    return {"score": document.get("score", 0), "execution_time": round(seconds),
            "output": f"{markdown}\n\nIsolation: {isolation}." + (f"\n\n{notice}" if notice else ""),
            "output_format": "md", "visibility": visibility, "stdout_visibility": "hidden", "tests": tests,
            # Gradescope keeps extra_data with the submission: the instructor can see how it ran.
            "extra_data": {"isolation": isolation, "graded_with": document.get("graded_with")}}


def run(root: Path) -> dict:
    """Grade the submission under `root` and write root/results/results.json."""
    from .grading import pipeline
    from .grading.plan import make_plan
    from .report import documents, model as report_model

    started = time.monotonic()
    source = root / "source"
    rubric = json.loads((source / "rubric.json").read_text())
    options = {**rubric["request"], "data": str(source / "fashion.npz")}
    if options.get("exercise") == EXERCISE_FILE:
        options["exercise"] = str(source / EXERCISE_FILE)
    if options.get("holdout") == HOLDOUT_FILE:
        options["holdout"] = str(source / HOLDOUT_FILE)
    grading = make_plan(Request.from_options(options))
    exercise = grading.exercise
    if exercise is None:
        raise GradescopeError("rubric.json names no exercise; build the archive again with --exercise")
    notebook, problem = find_notebook(root / "submission", exercise.id)
    if notebook is None:
        document = pipeline.invalid_result("submission", problem or "no notebook", exercise, started,
                                           submission_problem=True)
    else:
        document = pipeline.grade_notebook(str(notebook), grading)
    report = report_model.build(document, exercise, grading.lesson.test_data)
    results = results_json(document, documents.render_markdown(report), rubric.get("visibility", "visible"),
                           time.monotonic() - started)
    (root / "results").mkdir(parents=True, exist_ok=True)
    (root / "results" / "results.json").write_text(json.dumps(results, indent=2))
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder.gradescope")
    parser.add_argument("command", choices=["run"])
    parser.parse_args(argv)
    root = Path(os.environ.get(ROOT_VARIABLE) or "/autograder")
    try:
        results = run(root)
    except AutograderError as error:  # the archive or the image, not the submission: Gradescope shows it failed
        print(f"autograder: {error}", file=sys.stderr)
        return 2
    print(f"score {results['score']:g}; wrote {root / 'results' / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
