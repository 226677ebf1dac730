"""Reading submissions: every kind of bad file gets a one-line reason, sloppy ones are repaired."""
from __future__ import annotations

import json

import nbformat
import pytest

from autograder import notebook


def v4(cells, **metadata):
    return json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": metadata, "cells": cells}).encode()


@pytest.mark.parametrize("raw, reason", [
    (b"", "is empty"),
    (b"   \n", "is empty"),
    (b"\xff\xfe\x00garbage", "not UTF-8"),
    (b"{not json", "not valid JSON"),
    (b'{"name": "a package.json"}', "not a Jupyter notebook"),
    (b"[1, 2, 3]", "not a Jupyter notebook"),
    (json.dumps({"nbformat": 9, "cells": []}).encode(), "notebook format 9"),
    (json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": "no"}).encode(), "not a valid notebook"),
    (b'{"cells": ' + b"[" * 100000 + b"]" * 100000 + b"}", "nested too deeply"),
    (b'{"cells": [], "x": ' + b"7" * 5000 + b"}", "number too long"),  # json's ValueError has no .msg
])
def test_bad_files_get_one_line_reasons(raw, reason):
    with pytest.raises(notebook.NotebookError, match=reason) as error:
        notebook.parse(raw, "alice.ipynb")
    assert "\n" not in str(error.value)


def test_huge_files_are_refused_without_parsing():
    with pytest.raises(notebook.NotebookError, match="at most"):
        notebook.parse(b" " * (notebook.MAX_NOTEBOOK_BYTES + 1), "big.ipynb")


def test_missing_fields_and_odd_cells_are_repaired():
    raw = v4([
        {"cell_type": "code", "source": ["import numpy as np\n", "x = 1"]},  # no outputs, ids, metadata
        {"cell_type": "widget", "source": "?"},  # an unknown type is dropped
        {"cell_type": "markdown", "source": "# hi", "outputs": []},
        "not a cell",
    ])
    node = notebook.parse(raw, "sloppy.ipynb")
    assert [c.cell_type for c in node.cells] == ["code", "markdown"]
    assert node.cells[0].source == "import numpy as np\nx = 1"
    assert node.cells[0].outputs == [] and node.cells[0].execution_count is None


def test_nbformat_3_is_converted():
    raw = json.dumps({"nbformat": 3, "nbformat_minor": 0, "metadata": {"name": "old"},
                      "worksheets": [{"cells": [{"cell_type": "code", "input": "x = 1", "language": "python",
                                                 "outputs": [], "metadata": {}}], "metadata": {}}]}).encode()
    node = notebook.parse(raw, "old.ipynb")
    assert node.nbformat == 4 and node.cells[0].source == "x = 1"


def test_exercise_comes_from_metadata(tmp_path):
    path = tmp_path / "nb.ipynb"
    path.write_bytes(v4([], autograder={"exercise": "keras-deeper"}))
    assert notebook.exercise_of(notebook.read(path)) == "keras-deeper"
    path.write_bytes(v4([], autograder="nonsense"))
    assert notebook.exercise_of(notebook.read(path)) is None


def test_read_reports_missing_and_directory_paths(tmp_path):
    with pytest.raises(notebook.NotebookError, match="does not exist"):
        notebook.read(tmp_path / "absent.ipynb")
    with pytest.raises(notebook.NotebookError, match="not a file"):
        notebook.read(tmp_path)


def test_solutions_are_valid_notebooks():
    from pathlib import Path

    for path in sorted((Path(__file__).parent.parent / "solutions").glob("*.ipynb")):
        node = notebook.read(path)
        nbformat.validate(node)
        assert notebook.exercise_of(node) == path.stem
