"""Gradescope: an autograder archive that grades with this package, and its results file.

`autograder gradescope --exercise ID --out autograder.zip` writes the archive Gradescope
asks for: `setup.sh` (installs bubblewrap and this package's dependencies), `run_autograder`
(grades /autograder/submission), the rubric and the data, and this package's own source, so
the archive grades exactly as the instructor's copy does. `run_autograder` writes
/autograder/results/results.json in Gradescope's format: one test per check id.

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

from .errors import UsageError
from .result import ResultDocument
from .settings import Request

ROOT_VARIABLE = "GRADESCOPE_AUTOGRADER_ROOT"
VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")
#: Where the archive carries an instructor's exercise file, beside rubric.json.
EXERCISE_FILE = "exercise.toml"

SETUP = """#!/usr/bin/env bash
# Gradescope runs this once, as root, when the autograder image is built.
set -euo pipefail
apt-get update -q && apt-get install -y -q --no-install-recommends bubblewrap python3-venv
# A virtual environment of its own: images that enforce PEP 668 refuse pip in the system Python.
python3 -m venv /autograder/venv
/autograder/venv/bin/pip install --no-cache-dir -r /autograder/source/requirements.txt
"""

RUN = """#!/usr/bin/env bash
# Gradescope runs this for every submission; it writes $ROOT/results/results.json.
ROOT="${GRADESCOPE_AUTOGRADER_ROOT:-/autograder}"
export PYTHONPATH="$ROOT/source${PYTHONPATH:+:$PYTHONPATH}"
cd "$ROOT/source"
PYTHON="$ROOT/venv/bin/python"  # setup.sh's environment; a tree laid out by hand may use its own Python
[ -x "$PYTHON" ] || PYTHON=python3
exec "$PYTHON" -m autograder.gradescope run
"""


class GradescopeError(UsageError):
    """The archive cannot be built as asked."""


def requirements() -> list[str]:
    """This package's own dependencies, as its metadata declares them (with their bounds)."""
    try:
        declared = importlib.metadata.requires("keras-autograder") or []
    except importlib.metadata.PackageNotFoundError:
        raise GradescopeError("keras-autograder is not installed; install it with pip first") from None
    return [line for line in declared if "extra ==" not in line]


def build_archive(request: Request, out: Path, visibility: str = "visible") -> Path:
    """The archive for `request` (whose exercise is required); its settings travel in rubric.json."""
    from . import exercises, plan

    if request.exercise is None:
        raise GradescopeError("the archive grades one exercise: pass --exercise")
    exercises.get(request.exercise)  # UnknownExercise names the known ones; a bad file says why
    carried = exercises.is_file_reference(request.exercise)  # the archive carries an exercise file
    if visibility not in VISIBILITIES:
        raise GradescopeError(f"visibility must be one of {', '.join(VISIBILITIES)}")
    data_path = request.data
    lesson = plan.load_lesson(data_path)  # a bad file is refused here, with its problem named
    named = EXERCISE_FILE if carried else request.exercise
    rubric = {"visibility": visibility, "request": {**request.to_dict(), "data": None, "exercise": named}}
    package = Path(__file__).resolve().parent
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in (("setup.sh", SETUP), ("run_autograder", RUN)):
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            info.external_attr = 0o100755 << 16  # executable, as Gradescope requires
            archive.writestr(info, text)
        archive.writestr("requirements.txt", "\n".join(requirements()) + "\n")
        archive.writestr("rubric.json", json.dumps(rubric, indent=2) + "\n")
        if carried:
            archive.write(request.exercise, EXERCISE_FILE)
        if data_path:
            archive.write(data_path, "fashion.npz")  # the instructor's file, as validated
        else:
            with tempfile.TemporaryDirectory() as scratch:
                lesson.save(Path(scratch) / "fashion.npz")
                archive.write(Path(scratch) / "fashion.npz", "fashion.npz")
        for path in sorted(package.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix in (".py", ".j2", ".css", ".toml"):
                archive.write(path, f"autograder/{path.relative_to(package).as_posix()}")
    return out


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
    return None, (f"{len(notebooks)} notebooks were submitted ({', '.join(p.name for p in notebooks)}); "
                  f"submit one, or name it {exercise_id}.ipynb")


def results_json(document: ResultDocument, markdown: str, visibility: str, seconds: float) -> dict:
    """Gradescope's results format: overall score, one test per check."""
    from .result import check_text

    tests = []
    for number, check in enumerate(document.get("checks", []), start=1):
        output = check_text(check, separator="\n\n", causes=document.get("causes"))
        tests.append({"name": f"{check['id']}: {check.get('title') or check['id']}", "number": str(number),
                      "score": check.get("points", 0), "max_score": check.get("max_points", 0),
                      "status": "passed" if check.get("passed") else "failed", "output": output,
                      "output_format": "md", "visibility": visibility, "tags": [check["id"]]})
    isolation = document.get("isolation") or "none (not run)"
    return {"score": document.get("score", 0), "execution_time": round(seconds),
            "output": f"{markdown}\n\nIsolation: {isolation}.", "output_format": "md", "visibility": visibility,
            "stdout_visibility": "hidden", "tests": tests,
            # Gradescope keeps extra_data with the submission: the instructor can see how it ran.
            "extra_data": {"isolation": isolation}}


def run(root: Path) -> dict:
    """Grade the submission under `root` and write root/results/results.json."""
    from . import pipeline
    from .plan import make_plan
    from .report import documents, model as report_model

    started = time.monotonic()
    source = root / "source"
    rubric = json.loads((source / "rubric.json").read_text())
    options = {**rubric["request"], "data": str(source / "fashion.npz")}
    if options.get("exercise") == EXERCISE_FILE:
        options["exercise"] = str(source / EXERCISE_FILE)
    grading = make_plan(Request.from_options(options))
    exercise = grading.exercise
    if exercise is None:
        raise GradescopeError("rubric.json names no exercise; build the archive again with --exercise")
    notebook, problem = find_notebook(root / "submission", exercise.id)
    if notebook is None:
        document = pipeline.invalid_result("submission", problem or "no notebook", exercise, started)
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
    results = run(root)
    print(f"score {results['score']:g}; wrote {root / 'results' / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
