"""How long the self-check keeps a student waiting, next to the student's own training.

    .venv/bin/python benchmarks/selfcheck.py [--data FASHION_NPZ]

Runs the released keras-dense notebook twice in a fresh Jupyter kernel, as a
student does: as handed out (every step "not started yet") and filled in with
the solution. Prints the wall time of each cell that matters, as the kernel
reports it (nbclient's execution timestamps): the setup cell, the first
`ex.check(...)`, the student's own `model.fit`, `ex.check('fit')`,
`ex.check('evaluate')` and `ex.check_all()`; and which self-check cells
printed anything to stderr (none should).
"""
from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

import nbformat
from common import ROOT, machine
from nbclient import NotebookClient

from conftest import kernel_environment
from test_student import filled_release, seconds


def run(path: Path, data: Path):
    shutil.copyfile(data, path.parent / "fashion.npz")
    node = nbformat.read(path, as_version=4)
    NotebookClient(node, timeout=600, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(path.parent)}}).execute(env=kernel_environment())
    return node


def cell_named(node, grade_id: str):
    return next(c for c in node.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def report(title: str, node) -> None:
    print(f"\n{title}")
    rows = [("setup: Exercise('keras-dense')", cell_named(node, "selfcheck-setup"))]
    rows += [(f"ex.check('{step}')", cell_named(node, f"selfcheck-{step}"))
             for step in ("load", "reshape", "build", "compile", "fit", "evaluate")]
    fit = next((c for c in node.cells if c.cell_type == "code" and "model.fit(" in c.source), None)
    if fit is not None:
        rows.insert(5, ("the student's own model.fit", fit))
    rows.append(("ex.check_all()", cell_named(node, "selfcheck-all")))
    for label, cell in rows:
        print(f"  {label:<34} {seconds(cell):6.2f} s")
    noisy = [c.source.splitlines()[0] for c in node.cells if c.cell_type == "code" and ("ex." in c.source or
             "Exercise(" in c.source) and any(o.output_type == "stream" and o.name == "stderr" for o in c.outputs)]
    print(f"  self-check cells with stderr output: {noisy or 'none'}")
    warned = [c.source.splitlines()[-1] for c in node.cells if c.cell_type == "code" and "Exercise" not in c.source
              and "ex." not in c.source and any(o.output_type == "stream" and o.name == "stderr" for o in c.outputs)]
    print(f"  the student's cells with stderr output (their own warnings): {warned or 'none'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="fashion.npz (default: the built-in stand-in)")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory(prefix="autograder-selfcheck-bench-") as work:
        work = Path(work)
        data = Path(args.data) if args.data else work / "fashion.npz"
        if not args.data:
            from autograder.data import make_standin

            make_standin().save(data)
        untouched = work / "handed-out"
        untouched.mkdir()
        shutil.copyfile(ROOT / "exercises" / "keras-dense.ipynb", untouched / "keras-dense.ipynb")
        report("As handed out (every step not started):", run(untouched / "keras-dense.ipynb", data))
        filled = work / "filled"
        filled.mkdir()
        report("Filled in with the solution:", run(filled_release(filled, "keras-dense"), data))


if __name__ == "__main__":
    main()
