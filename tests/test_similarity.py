"""Similar submissions (issue 29, DESIGN.md "Similar submissions"), on notebooks only: no kernel runs.

The class of similarity_class.py: honest students who each typed the lesson (their own names,
comments, formatting, order, the released notebook or a fresh one), honest students with their own
styles, two students each for four usual mistakes, and planted copies (a file copy, a copy renamed
and reworded, a copy re-typed keeping an odd helper, a shared unusual mistake, a group of three),
every notebook with the outputs, cell ids and run records a real run leaves. Every planted pair
must be listed, and no honest one. The end-to-end check that `grade` writes the section is in
test_corpus.py, on the corpus classes the suite grades anyway.
"""
from __future__ import annotations

import json
import re
from itertools import combinations

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

import similarity_class as made
from autograder.batch.collect import Submission
from autograder.batch.outputs import OutputFolder
from autograder.batch.run import BatchReport, GradedSubmission
from autograder.exercise import file as exercise_file
from autograder.exercise.registry import EXERCISES
from autograder.report import summary
from autograder.similarity import Submitted, base, compare, forensics, grouping, prepare, reading
from autograder.similarity.fingerprint import Novelty
from conftest import ROOT

DENSE = EXERCISES["keras-dense"]


def listed(groups: list[dict]) -> set[tuple[str, ...]]:
    return {tuple(sorted(pair["students"])) for group in groups for pair in group["pairs"]}


def compared(files: dict[str, bytes], exercise="keras-dense", lookup=EXERCISES.get, given=()) -> list[dict]:
    return compare([Submitted(name, exercise, content) for name, content in files.items()], lookup, given)


@pytest.fixture(scope="module")
def whole_class() -> dict[str, bytes]:
    files = made.honest_class()
    files.update(made.planted_class())
    return files


@pytest.fixture(scope="module")
def groups(whole_class) -> list[dict]:
    return compared(whole_class)


def by_students(groups: list[dict], *students: str) -> dict:
    return next(g for g in groups if set(students) <= set(g["students"]))


def test_every_planted_copy_is_listed_and_no_honest_pair(groups, whole_class):
    wanted = {tuple(sorted(pair)) for pair in made.PLANTED_PAIRS} | set(combinations(made.PLANTED_GROUP, 2))
    assert listed(groups) == wanted
    assert sorted(tuple(g["students"]) for g in groups) == sorted(
        [tuple(sorted(pair)) for pair in made.PLANTED_PAIRS] + [made.PLANTED_GROUP])
    for group in groups:
        assert group["exercise"] == "keras-dense" and 0.5 <= group["score"] <= 1.0
        assert set(group) >= {"students", "exercise", "score", "evidence"} and group["evidence"]


def test_honest_students_share_nothing_that_weighs(whole_class):
    """The margin, not just the verdict: what honest students share by chance stays far below
    the threshold (the lesson's code and its usual variants and mistakes weigh nothing)."""
    exercise_base = base.build(DENSE, [])
    novelty = Novelty(exercise_base.code)
    honest = made.honest_class()
    items = [prepare(name, content, exercise_base, novelty) for name, content in sorted(honest.items())]
    strongest = max((pair.total for pair in grouping.pairs(items, threshold=0.0)), default=0.0)
    assert strongest <= grouping.THRESHOLD / 2, strongest
    for name in made.LESSON_TYPERS:  # typing the lesson, in one's own way, is not code of one's own
        item = next(i for i in items if i.student == name)
        assert sum(item.code.grams.values()) <= 3.0, (name, [" ".join(s.tokens) for s in item.code.statements])


def test_a_file_copy_is_told_by_what_its_run_recorded(groups):
    evidence = " ".join(by_students(groups, "ivy", "jack")["evidence"])
    for said in ("byte for byte", "random ids", "execution times", "per-step timings"):
        assert said in evidence


def test_a_renamed_reworded_copy_shares_its_code_line_by_line(groups):
    group = by_students(groups, "kim", "leo")
    assert "statements of code in common" in group["evidence"][0]
    rows = group["pairs"][0]["shared_lines"]
    assert any("def describe_split(" in row["a"]["code"] and "def summarize(" in row["b"]["code"] for row in rows)
    assert any("best_epoch" in row["a"]["code"] and "when" in row["b"]["code"] for row in rows)
    sides = {row["a"]["cell"] for row in rows}, {row["b"]["cell"] for row in rows}
    assert all(isinstance(cell, int) for side in sides for cell in side)


def test_a_retyped_copy_keeps_its_odd_helper(groups):
    group = by_students(groups, "mia", "ned")
    assert any("`squish`" in said for said in group["evidence"])
    row = next(r for r in group["pairs"][0]["shared_lines"] if "np.power" in r["a"]["code"])
    assert "np.power( flat , gamma )" in row["b"]["code"]


def test_a_shared_unusual_mistake_is_named(groups):
    group = by_students(groups, "olga", "pete")
    assert "unusual value `748`" in group["evidence"][0]
    group = by_students(groups, "uri", "val")
    assert "unusual value `'categorical_crosentropy'`" in group["evidence"][0]


def test_a_group_of_three_is_one_group(groups):
    group = by_students(groups, *made.PLANTED_GROUP)
    assert group["students"] == sorted(made.PLANTED_GROUP)
    assert len(group["pairs"]) == 3
    assert all(re.match(r"^\w+ and \w+: ", said) for said in group["evidence"])


def test_renaming_reformatting_reordering_and_comments_leave_the_same_fingerprints():
    original = ["import numpy as np\nfashion = np.load('fashion.npz')\n"
                "train_data, train_labels = fashion['train_data'], fashion['train_labels']",
                "def brighten(batch, power=0.7):\n    # lift the dark pixels\n"
                "    flat = batch.reshape(len(batch), -1)\n    return np.clip(flat ** power * 1.1, 0, 1)",
                "train_data_1d = brighten(train_data)\nprint('kept', train_data_1d.shape[1], 'pixels each')"]
    disguised = ["import numpy as np\n\n\nz = np.load(\"fashion.npz\")   # the data\n"
                 "X = z[\"train_data\"]\nY = z[\"train_labels\"]\n"
                 "def lighten( imgs , power = 0.7 ) :\n    '''Brighter.'''\n"
                 "    v = imgs.reshape( len( imgs ) , -1 )\n"
                 "    return np.clip( v**power*1.1 , 0 , 1 )\n"
                 "Xf = lighten(X); print('kept', Xf.shape[1], 'pixels each')"]
    exercise_base = base.build(DENSE, [])
    novelty = Novelty(exercise_base.code)
    prints = [prepare(name, nbformat.writes(new_notebook(cells=[new_code_cell(c) for c in cells])).encode(),
                      exercise_base, novelty).code.grams for name, cells in (("a", original), ("b", disguised))]
    assert prints[0] and prints[0] == prints[1]


def test_the_lesson_the_released_notebook_and_the_solution_weigh_nothing():
    exercise_base = base.build(DENSE, [])
    novelty = Novelty(exercise_base.code)
    for path in (ROOT / "exercises" / "keras-dense.ipynb", ROOT / "solutions" / "keras-dense.ipynb",
                 ROOT / "examples" / "lesson-as-printed.ipynb"):
        item = prepare(path.stem, path.read_bytes(), exercise_base, novelty)
        assert item.code.grams == {} and item.text == {} and item.names == {}, path
        assert not [key for key in item.features if not key.startswith("file:")], path


def test_students_who_each_started_from_the_released_notebook_share_its_cell_ids():
    """Cells of the released notebook keep their ids in every student's copy: not evidence."""
    files = {name: made.mistaken(name, names, True, {}).bytes()
             for name, names in (("ann", made.NAMES[0]), ("bo", made.NAMES[2]), ("cy", made.NAMES[3]))}
    shared = set.intersection(*(set(json.loads(content)["cells"][i]["id"] for i in range(5))
                                for content in files.values()))
    assert shared  # the same ids...
    assert compared(files) == []  # ...and nothing to look at


def test_a_helper_most_of_the_class_shares_is_common_knowledge():
    """A hint posted for everyone (the same helper in most notebooks) says nothing about any pair."""
    helper = "def squish(batch, gamma=0.8):\n    return np.power(batch.reshape(len(batch), -1), gamma)\n"
    files = {}
    for number in range(12):
        student = made.honest_student(f"s{number}")
        student.code(helper + "train_data_1d = squish(train_data)")
        files[f"s{number}"] = student.bytes()
    assert compared(files) == []


def test_seeded_losses_and_timings_that_never_vary_are_not_evidence():
    """Two honest runs of the lesson print the same seeded losses, and timings that never vary
    (every step `0s 2ms/step`) could come from any two fast machines; timings that vary could not."""
    def log(timings: list[str]) -> str:
        return "".join(f"Epoch {n}/10\n48/48 ━━━━━━━━━━━━━━━━━━━━ {t} - accuracy: 0.9{n} - loss: 0.{n}1\n"
                       for n, t in enumerate(timings, 1))

    def timing(text: str) -> list[forensics.Feature]:
        cell = reading.Cell(3, "code", "a07e4b4a", "model.fit(...)", output=text)
        return [feature for key, feature in forensics.output_features(cell) if key.startswith("timing:")]

    assert timing(log(["0s 2ms/step"] * 10)) == []
    assert timing(log(["0s 2ms/step"] * 9 + ["0s 3ms/step"])) == []
    varied = timing(log(["1s 11ms/step", "0s 4ms/step", "0s 3ms/step"] + ["0s 2ms/step"] * 7))
    assert len(varied) == 1 and varied[0].weight == 3 * forensics.WEIGHTS["timing"]  # three steps off the usual


@pytest.mark.parametrize("value, random", [
    ("7c99c49e", True), ("5c633288", True), ("e5a1c2f4-9b1d-4c3e-8f00-0a1b2c3d4e5f", True),
    ("kXo1GfjY3d3c", True), ("cell-3", False), ("load", False), ("selfcheck-setup", False), ("cell-100", False),
    ("test-data-load", False), ("deadbeef", False), ("my_cell", False),
])
def test_random_looking_ids(value, random):
    assert forensics.random_looking(value) is random


def test_a_custom_exercise_subtracts_its_own_code_and_the_released_notebook_given(tmp_path):
    exercise = exercise_file.parse("""
id = "dense-32-16"
[model]
layers = [{ type = "Dense", units = 32, activation = "relu" }, { type = "Dense", units = 16, activation = "relu" },
          { type = "Dense", units = 3, activation = "softmax" }]
[compile]
optimizer = "sgd"
[fit]
epochs = 5
batch_size = 20
validation_split = 0.1
""", "dense-32-16.toml")
    starter = ("def show_progress(history, every=2):\n"
               "    for epoch, loss in list(enumerate(history.history['loss']))[::every]:\n"
               "        print(f'epoch {epoch:3d}  loss {loss:8.5f}  (starter code)')\n")
    released = tmp_path / "released.ipynb"
    nbformat.write(new_notebook(cells=[new_markdown_cell("# A wider network"), new_code_cell(starter)]), released)
    files = {}
    for name, names in (("ann", made.NAMES[0]), ("bo", made.NAMES[2])):
        student = made.Student(name)
        student.code(made.LOADS[0].format(**names) + "\n" + made.FLATTENS[0].format(**names))
        student.code(starter)
        student.code("from keras.models import Sequential\nfrom keras.layers import Dense\n"
                     "{model} = Sequential()\n{model}.add(Dense(32, input_shape=(784,), activation='relu'))\n"
                     "{model}.add(Dense(16, activation='relu'))\n{model}.add(Dense(3, activation='softmax'))\n"
                     "{model}.compile(loss='categorical_crossentropy', optimizer='sgd', metrics=['accuracy'])\n"
                     "history = {model}.fit({flat}, {ytrain}, epochs=5, batch_size=20, validation_split=0.1)\n"
                     "show_progress(history)".format(**names))
        files[name] = student.bytes()
    given = base.read_given([str(released)])
    lookup = {"dense-32-16": exercise}.get
    assert compared(files, "dense-32-16", lookup, given) == []
    # without the released notebook, its helper is code the two share and no one else has
    assert listed(compared(files, "dense-32-16", lookup)) == {("ann", "bo")}


def test_a_base_file_that_cannot_be_read_is_refused_in_one_line(tmp_path):
    (tmp_path / "bad.ipynb").write_text("{ not json")
    for path, says in ((tmp_path / "bad.ipynb", "not a notebook"), (tmp_path / "missing.py", "cannot be read")):
        with pytest.raises(Exception, match=says) as raised:
            base.read_given([str(path)])
        assert "\n" not in str(raised.value)


def test_what_is_not_a_notebook_is_left_out():
    files = {"ann": b"\x00\xff not a notebook", "bo": b"{}", "cy": made.honest_student("cy").bytes()}
    assert compared(files) == []


def test_a_huge_notebook_costs_a_bounded_amount():
    cells = [new_code_cell("\n".join(f"v{n}_{m} = np.cumsum(np.arange({n * 1000 + m})) * {m}.{n}" for m in range(400)))
             for n in range(40)]
    content = nbformat.writes(new_notebook(cells=cells)).encode()
    exercise_base = base.build(DENSE, [])
    item = prepare("big", content, exercise_base, Novelty(exercise_base.code))
    from autograder.similarity import fingerprint, normalise
    assert len(item.code.grams) <= fingerprint.MAX_GRAMS and item.code.sampled > 1
    assert len(item.code.statements) <= normalise.MAX_STATEMENTS


def test_the_shipped_base_is_the_released_notebooks_of_this_project():
    shipped = (ROOT / "autograder" / "similarity" / base.RELEASED).read_text(encoding="utf-8")
    assert shipped == base.render_released(ROOT), "run scripts/similarity_base.py"


def test_every_commonplace_snippet_is_python():
    import ast

    from autograder.similarity import commonplace, normalise

    for snippet in commonplace.LESSON + commonplace.SNIPPETS + commonplace.TUTORIALS:
        ast.parse(normalise._without_magics(snippet)[0])


HOSTILE = "<img src=x onerror=alert(1)>\u202e"


def test_the_summary_lists_the_groups_escaped_and_never_names_a_verdict(tmp_path, whole_class):
    files = dict(whole_class)
    files[HOSTILE] = files.pop("ivy")
    mia = json.loads(files["mia"])
    mia["cells"][1]["source"] = "".join(mia["cells"][1]["source"]).replace(
        "def squish(batch, gamma=0.8):", "def squish(batch, gamma=0.8):  # </pre><script>alert('x')</script>")
    files["mia"] = json.dumps(mia).encode()
    report = BatchReport(seconds=1.0)
    document = {"schema": "autograder.result/1", "exercise": "keras-dense", "status": "graded", "score": 100.0,
                "max_score": 100.0, "checks": [], "cells": []}
    report.outcomes = [GradedSubmission(Submission(name, f"{name}.ipynb", content), "keras-dense", dict(document))
                       for name, content in sorted(files.items())]
    report.similar = compared(files)
    folder = OutputFolder(tmp_path)
    summary.write(report, folder.summary, folder.summary_json, folder.report_link)
    page = folder.summary.read_text()
    written = json.loads(folder.summary_json.read_text())
    assert written["similar"] == report.similar and written["similar_error"] is None
    assert sorted(by_students(written["similar"], "jack", HOSTILE)["students"]) == sorted(["jack", HOSTILE])
    section = page[page.index('id="similar"'):page.index("<h2>Data</h2>")]
    assert "<script>" not in page and "<img src=x" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in section and "\u202e" not in page
    assert "&lt;/pre&gt;&lt;script&gt;" in section
    assert "def squish(batch, gamma=0.8):" in section and "Shared lines, side by side" in section
    # The student table links each student to the groups they are in, naming the others escaped.
    number = next(n for n, g in enumerate(report.similar, start=1) if "jack" in g["students"])
    table = page[page.index('id="students"'):page.index("Pass rate of every check")]
    jack = next(row for row in table.split("<tr>") if row.startswith("<td>jack</td>"))
    assert f'<a href="#similar-{number}">' in jack and "&lt;img src=x onerror=alert(1)&gt;" in jack
    assert f'id="similar-{number}"' in section
    for text in (page, folder.summary_json.read_text()):
        assert not re.search(r"plagiar|cheat", text, re.IGNORECASE)


def test_the_summary_says_when_there_is_nothing_to_look_at_or_the_comparison_failed(tmp_path):
    report = BatchReport(seconds=1.0)
    folder = OutputFolder(tmp_path)
    summary.write(report, folder.summary, folder.summary_json, folder.report_link)
    assert "no two submissions of an exercise share more" in folder.summary.read_text()
    report.similar_error = "internal error: KeyError 'x'"
    summary.write(report, folder.summary, folder.summary_json, folder.report_link)
    assert "could not be compared" in folder.summary.read_text()
    assert json.loads(folder.summary_json.read_text())["similar_error"] == "internal error: KeyError 'x'"


def test_in_a_large_class_planted_copies_are_found_through_an_index_not_pair_by_pair(monkeypatch):
    """Pairs are tallied only for notebooks that share a rare feature: among 80 honest students
    (a fifth with a usual mistake) and the planted copies, a few tallies, nowhere near one per pair."""
    tallied = []
    original = grouping.pairs

    def counting(items, threshold=grouping.THRESHOLD):
        found = original(items, threshold=0.0)
        tallied.append((len(items), len(found)))
        return [p for p in found if p.total >= threshold]

    monkeypatch.setattr(grouping, "pairs", counting)
    files = {f"h{n:03d}": made.honest_student(f"h{n:03d}", mistakes=0.2).bytes() for n in range(80)}
    files.update(made.planted_class())
    wanted = {tuple(sorted(pair)) for pair in made.PLANTED_PAIRS} | set(combinations(made.PLANTED_GROUP, 2))
    assert listed(compared(files)) == wanted
    students, pairs = tallied[0]
    assert students == len(files) and pairs < students * (students - 1) // 2 // 20, pairs


def test_notebook_files_made_by_hand_are_read():
    """Format 3 notebooks, cells without ids or outputs, sources as strings or lists."""
    helper = ["def odd_helper_x(a):\n", "    flipped = np.flipud(a) * 3\n",
              "    return np.clip(flipped, 0, 7).sum(axis=0) / 13.5\n"]
    v3 = {"nbformat": 3, "nbformat_minor": 0, "metadata": {}, "worksheets": [{"cells": [
        {"cell_type": "code", "input": helper, "outputs": [], "prompt_number": 2}]}]}
    v4 = {"nbformat": 4, "nbformat_minor": 4, "metadata": {}, "cells": [
        {"cell_type": "code", "source": "".join(helper).replace("a)", "b)"), "metadata": {}}]}
    files = {"ann": json.dumps(v3).encode(), "bo": json.dumps(v4).encode()}
    assert listed(compared(files)) == {("ann", "bo")}


# The corpus's warm classes hand in two cases twice each (graded_classes.COPIES): re-created files
# (new cell ids, no stored outputs), so only their code can tell. A copy of a notebook with code
# of its own is listed; a copy of the lesson's code is indistinguishable from honest work, and is not.
CORPUS_COPIES_LISTED = {"corpus-2": "pads-history-then-trains-on-test-images",
                        "corpus-3": "recompiles-trains-on-test-images-then-fails-a-compile"}
CORPUS_COPIES_NOT_LISTED = {"corpus-1": "reference", "corpus-2": "keras-input-layer", "corpus-3": "input-dim"}


@pytest.mark.slow
@pytest.mark.timeout(1800)
@pytest.mark.parametrize("group", [pytest.param(group, marks=pytest.mark.xdist_group(group))
                                   for group in ("corpus-1", "corpus-2", "corpus-3")])
def test_grade_lists_similar_submissions_in_its_summary(group, corpus_class):
    from graded_classes import COPIES, COPY_SUFFIX

    run = corpus_class(group)
    similar = run.summary["similar"]
    assert run.summary["similar_error"] is None
    honest = CORPUS_COPIES_NOT_LISTED[group]
    assert honest in COPIES[group] and (honest, honest + COPY_SUFFIX) not in listed(similar)
    section = run.summary_html[run.summary_html.index('id="similar"'):run.summary_html.index("<h2>Data</h2>")]
    for group_listed in similar:
        assert group_listed["exercise"] in ("keras-dense", "keras-deeper") and group_listed["evidence"]
        assert ", ".join(group_listed["students"]) in section
    if group in CORPUS_COPIES_LISTED:
        name = CORPUS_COPIES_LISTED[group]
        assert (name, name + COPY_SUFFIX) in listed(similar)
        assert "statements of code in common" in " ".join(by_students(similar, name, name + COPY_SUFFIX)["evidence"])
        assert "Shared lines, side by side" in section
    elif not similar:
        assert "Nothing: no two submissions" in section


def test_grade_refuses_a_base_file_it_cannot_read_before_grading_anyone(tmp_path, capsys):
    from autograder import cli

    folder = made.write(tmp_path / "class", {"ann": made.honest_student("ann").bytes()})
    status = cli.main(["grade", str(folder), "--out", str(tmp_path / "out"), "--cold",
                       "--base", str(tmp_path / "released.ipynb")])
    printed = capsys.readouterr().err.strip()
    assert status == 2 and printed.count("\n") == 0 and "--base" in printed and "cannot be read" in printed
    assert not (tmp_path / "out" / "gradebook.sqlite").exists()


def test_the_same_class_gives_the_same_listing_whatever_the_hash_seed(tmp_path, whole_class):
    """Same submissions, same listing: nothing depends on the order Python iterates sets of
    strings in, which changes from one process to the next."""
    import os
    import subprocess
    import sys

    folder = made.write(tmp_path / "class", whole_class)
    script = ("import json, pathlib, sys\nfrom autograder.exercise.registry import EXERCISES\n"
              "from autograder.similarity import Submitted, compare\n"
              "files = sorted(pathlib.Path(sys.argv[1]).glob('*.ipynb'))\n"
              "print(json.dumps(compare([Submitted(p.stem, 'keras-dense', p.read_bytes()) for p in files], "
              "EXERCISES.get)))\n")
    outputs = [subprocess.run([sys.executable, "-c", script, str(folder)], capture_output=True, text=True, check=True,
                              cwd=ROOT, env={**os.environ, "PYTHONHASHSEED": seed}).stdout for seed in ("1", "2")]
    assert outputs[0] == outputs[1] and json.loads(outputs[0])


def test_cells_run_by_the_same_colab_account_are_evidence():
    """Colab records who ran each cell: two students' notebooks run by one account were run by
    one person, whatever their code (here each is the lesson, typed apart)."""
    def colab(name: str, user: tuple[str, str], names: dict, started: int) -> bytes:
        node = made.mistaken(name, names, False, {}).finish()
        for number, cell in enumerate(node.cells):
            cell.metadata["executionInfo"] = {"status": "ok", "timestamp": started + 4321 * number, "user_tz": -60,
                                              "elapsed": 812, "user": {"displayName": user[0], "userId": user[1]}}
        return nbformat.writes(node).encode()

    ann, cy = ("Ann Example", "09876543210987654321"), ("Cy Other", "01234567890123456789")
    files = {"ann": colab("ann", ann, made.NAMES[0], 1772000000123),
             "bo": colab("bo", ann, made.NAMES[2], 1772100000456),
             "cy": colab("cy", cy, made.NAMES[3], 1772200000789)}
    groups = compared(files)
    assert listed(groups) == {("ann", "bo")}
    assert any("same Colab account" in said for said in groups[0]["evidence"])
