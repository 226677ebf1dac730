"""Input hardening, fuzzed: whatever notebook or archive a class hands in, the grader
gives each input a clear verdict and never crashes, hangs or writes outside its place.

Hypothesis generates the inputs: JSON that is almost a notebook (odd cell types,
missing or mistyped fields, deep nesting, huge strings), bytes that are not UTF-8
or not JSON, and zip archives with path traversal, links, bombs, odd names and
many entries. The slow test sends a generated class through `autograder grade`.
"""
from __future__ import annotations

import io
import json
import stat
import time
import warnings
import zipfile

import nbformat
import pytest
from hypothesis import HealthCheck, Phase, example, given, settings, strategies as st

from autograder import notebook
from autograder.batch.collect import collect
from autograder.exercise import registry as exercises

KNOWN = tuple(exercises.EXERCISES)
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# CPU seconds of this process, not wall time: the machines are shared, and a quadratic
# reader shows in CPU time whatever else runs beside the test.
SECONDS_PER_INPUT = 5.0

json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=False),
                         st.text(max_size=40))
json_values = st.recursive(json_scalars, lambda children: st.one_of(
    st.lists(children, max_size=4), st.dictionaries(st.text(max_size=10), children, max_size=4)), max_leaves=30)

source = st.one_of(st.text(max_size=200), st.lists(st.text(max_size=30), max_size=5), json_values)
cell = st.fixed_dictionaries({}, optional={
    "cell_type": st.one_of(st.sampled_from(["code", "markdown", "raw", "heading", "widget", ""]), json_values),
    "source": source,
    "metadata": st.one_of(st.dictionaries(st.text(max_size=10), json_values, max_size=3), json_values),
    "outputs": st.one_of(st.just([]), json_values),
    "execution_count": st.one_of(st.none(), st.integers(-5, 10**6), json_values),
    "id": st.one_of(st.text(max_size=70), json_values),
    "attachments": json_values,
})
near_notebook = st.fixed_dictionaries({}, optional={
    "cells": st.one_of(st.lists(st.one_of(cell, json_values), max_size=8), json_values),
    "worksheets": st.one_of(st.lists(st.fixed_dictionaries({"cells": st.lists(cell, max_size=3)}), max_size=2),
                            json_values),
    "nbformat": st.one_of(st.sampled_from([3, 4, 5, 2]), json_values),
    "nbformat_minor": st.one_of(st.integers(-1, 10), json_values),
    "metadata": st.one_of(st.fixed_dictionaries({}, optional={
        "autograder": st.one_of(st.fixed_dictionaries({"exercise": st.one_of(st.sampled_from(KNOWN), json_values)}),
                                json_values),
        "kernelspec": json_values}), json_values),
})


# Mostly right: what editors and converters really produce, fields missing or mistyped here and there.
sloppy_cell = st.fixed_dictionaries({"cell_type": st.sampled_from(["code", "markdown", "raw"])}, optional={
    "source": st.one_of(st.text(max_size=120), st.lists(st.text(max_size=30), max_size=4)),
    "metadata": st.dictionaries(st.text(max_size=8), json_scalars, max_size=2),
    "outputs": st.just([]), "execution_count": st.one_of(st.none(), st.integers(0, 99)),
    "id": st.text(max_size=20)})
sloppy_notebook = st.fixed_dictionaries({"cells": st.lists(sloppy_cell, max_size=8)}, optional={
    "nbformat": st.just(4), "nbformat_minor": st.integers(0, 5),
    "metadata": st.fixed_dictionaries({}, optional={"autograder": st.fixed_dictionaries(
        {"exercise": st.sampled_from(KNOWN)})})})


def deeply_nested(depth: int) -> bytes:
    return b'{"cells": [], "metadata": {"x": ' + b"[" * depth + b"]" * depth + b"}}"


raw_inputs = st.one_of(
    sloppy_notebook.map(lambda data: json.dumps(data).encode()),
    near_notebook.map(lambda data: json.dumps(data).encode()),
    st.binary(max_size=400),
    st.builds(lambda data, junk: json.dumps(data).encode()[:-1] + junk, near_notebook, st.binary(max_size=8)),
    st.integers(50, 200_000).map(deeply_nested),
    st.builds(lambda data, prefix: prefix + json.dumps(data).encode("utf-16"), near_notebook,
              st.sampled_from([b"", b"\xef\xbb\xbf"])),
)


def assert_clear_verdict(raw: bytes) -> nbformat.NotebookNode | None:
    started = time.process_time()
    try:
        node = notebook.parse(raw, "submission.ipynb")
    except notebook.NotebookError as error:
        reason = str(error)
        assert reason and "\n" not in reason and len(reason) < 400, reason
        node = None
    assert time.process_time() - started < SECONDS_PER_INPUT
    if node is not None:  # what the runner and the checks rely on
        assert all(c.cell_type in ("code", "markdown", "raw") and isinstance(c.source, str) for c in node.cells)
        assert isinstance(notebook.code_sources(node), dict)
        nbformat.reads(nbformat.writes(node), as_version=4)
        assert notebook.exercise_of(node) is None or isinstance(notebook.exercise_of(node), str)
    return node


@FAST
@given(raw_inputs)
# Found by this test: nbformat asserting on a bad nbformat_minor, writing a null attachment,
# and a reason quoting a huge format value.
@example(json.dumps({"nbformat": 3, "nbformat_minor": [["x"]], "cells": [], "worksheets": []}).encode())
@example(b'{"cells": [{"cell_type": "code", "attachments": null, "id": ""}], "metadata": {}}')
@example(json.dumps({"cells": [], "nbformat": [{"x" * 500: None}]}).encode())
def test_any_bytes_give_a_notebook_or_a_one_line_reason(raw):
    assert_clear_verdict(raw)


def test_the_worst_cases_are_refused_quickly():
    for raw in (deeply_nested(100_000), b"\xff\xfe" + b"\x00" * 1000, b"[" * 10**6,
                json.dumps({"cells": [{"cell_type": "code", "source": "x"}] * 5000}).encode(),
                json.dumps({"cells": [], "metadata": {"x": "y" * (21 * 2**20)}}).encode()):
        assert assert_clear_verdict(raw) is None


entry_names = st.one_of(
    st.sampled_from(["alice.ipynb", "bob/keras-dense.ipynb", "../../etc/evil.ipynb", "/abs/olute.ipynb",
                     "C:\\windows\\x.ipynb", "a\\..\\..\\b.ipynb", "__MACOSX/._x.ipynb", ".hidden.ipynb",
                     "dir/", "smith_1_2_keras-deeper.ipynb", "Carol Doe_7_assignsubmission_file_x.ipynb",
                     "nested/../../up.ipynb", "x" * 300 + ".ipynb", "ü/ñ/名前.ipynb", "notes.txt",
                     "bad\x00name.ipynb"]),
    st.text(min_size=1, max_size=40).map(lambda name: name + ".ipynb"),
)
payloads = st.one_of(
    st.just(json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": []}).encode()),
    near_notebook.map(lambda data: json.dumps(data).encode()),
    st.binary(max_size=200),
    st.integers(1, 8).map(lambda mib: b" " * (mib * 2**20)),  # compresses far too well
)
entries = st.lists(st.tuples(entry_names, payloads, st.sampled_from(["file", "symlink"]),
                             st.sampled_from([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])), max_size=12)


def build_zip(items) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(buffer, "w") as archive:
        warnings.simplefilter("ignore")  # duplicate names are part of the test
        for name, content, kind, method in items:
            info = zipfile.ZipInfo(name)
            info.compress_type = method
            if kind == "symlink":
                info.external_attr = (stat.S_IFLNK | 0o777) << 16
            try:
                archive.writestr(info, content)
            except (ValueError, UnicodeEncodeError):
                continue  # a name zipfile itself will not write
    return buffer.getvalue()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(entries, st.booleans())
@example([("\x00.ipynb", b"{}", "file", zipfile.ZIP_STORED)], False)  # found by this test: a nameless entry
@example([("alice.ipynb", b"{}", "file", zipfile.ZIP_STORED),  # found by this test: a duplicate's reason quoted
          ("alice.ipynb", b"{}", "file", zipfile.ZIP_STORED),  # the other file's name, newline and all
          ("0\n.ipynb", b"{}", "file", zipfile.ZIP_STORED)], False)
def test_any_archive_gives_submissions_and_reasons_and_writes_nothing(tmp_path, items, truncate):
    folder = tmp_path / f"run-{time.monotonic_ns()}"
    folder.mkdir()
    raw = build_zip(items)
    if truncate:
        raw = raw[: len(raw) // 2]
    archive = folder / "downloads.zip"
    archive.write_bytes(raw)
    started = time.process_time()
    found = collect([str(archive)], KNOWN)
    assert time.process_time() - started < SECONDS_PER_INPUT
    assert list(folder.iterdir()) == [archive] and not any(tmp_path.parent.glob("etc"))
    for submission in found.submissions:
        entry = submission.origin.split("!", 1)[1]
        assert submission.origin.startswith(str(archive) + "!")
        assert not entry.startswith("/") and ".." not in entry.split("/") and "\\" not in entry
        assert len(submission.content) <= notebook.MAX_NOTEBOOK_BYTES
    for problem in found.problems:
        assert problem.reason and "\n" not in problem.reason
    assert found.submissions or found.problems  # every archive is accounted for


@pytest.mark.slow
# Two classes: Hypothesis tries the simplest one first, then a random one.
@settings(max_examples=2, deadline=None, phases=[Phase.generate],
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.lists(raw_inputs, min_size=10, max_size=10), st.lists(entries, min_size=3, max_size=3), st.booleans())
def test_a_generated_class_is_graded_to_the_end(tmp_path, standin_file, warm_grader, notebooks, archives,
                                                given_exercise):
    """A class of generated files through `autograder grade`: it finishes, and every input is in
    the gradebook or the list of files that could not be read. The simplest class is graded
    without --exercise: each notebook's exercise then comes from its name or its metadata."""
    folder = tmp_path / f"class-{time.monotonic_ns()}"
    folder.mkdir()
    for index, raw in enumerate(notebooks):
        (folder / f"student{index}.ipynb").write_bytes(raw)
    print("class:", [raw[:60] for raw in notebooks])
    for index, items in enumerate(archives):
        (folder / f"lms{index}.zip").write_bytes(build_zip(items))
    out = tmp_path / f"out-{time.monotonic_ns()}"
    exercise = ["--exercise", "keras-dense"] if given_exercise else []
    completed = warm_grader.main("grade", str(folder), "--out", str(out), *exercise, "--data",
                                 str(standin_file), "--jobs", "2", "--timeout", "60")
    assert completed.returncode in (0, 1), completed.stderr[-3000:]
    summary = (out / "summary.html").read_text()
    graded = {path.stem for path in (out / "results").glob("*.json")}
    for index in range(len(notebooks)):
        assert f"student{index}" in graded, summary[-2000:]
    for index in range(len(archives)):  # a zip inside a folder is never opened, and is listed
        assert f"lms{index}.zip" in summary
    assert graded == {f"student{index}" for index in range(len(notebooks))}  # nobody from inside a zip
    assert (out / "grades.csv").read_text().count("\n") >= len(notebooks) + 1
