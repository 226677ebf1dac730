"""Cause analysis: one root cause per mistake, most upstream first, every failed check pointing
at the cause that explains it.

The fast tests read facts recorded from real runs (tests/recorded/, see cascades.py and
record_facts.py); the slow one grades the cascading notebooks for real, once, as a class.
"""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from autograder import causes, checks, exercises, notebook, result
from autograder.facts import Facts
from autograder.report import documents, model
from cascades import CASCADES, SLOW, write
from reports import RECORDINGS, report_of
from test_reports import sentences

DENSE = exercises.get("keras-dense")


def recorded(name: str) -> Facts:
    return Facts.from_dict(json.loads((RECORDINGS / f"{name}.json").read_text()))


def graded(facts: Facts, headings: dict[int, str] | None = None) -> result.ResultDocument:
    exercise = exercises.get(facts.exercise)
    return result.build(exercise, "student.ipynb", facts, checks.run_checks(facts, exercise), 1.0, headings=headings)


def assert_labelled_cause(document: result.ResultDocument, name: str) -> None:
    """causes[0] is the case's labelled root cause, every labelled check points at it, and no
    cell whose error follows from it is named a cause."""
    case = CASCADES[name]
    first = document["causes"][0]
    assert (first["kind"], first["cell"], first["line"]) == (case.kind, case.cell, case.line), first
    by_id = {c["id"]: c for c in document["checks"]}
    for check_id in case.checks:
        assert not by_id[check_id]["passed"] and by_id[check_id]["cause"] == first["id"], check_id
    assert set(first["checks"]) >= case.checks
    causing = {c["cell"] for c in document["causes"]}
    assert not causing & set(first["consequences"]), "a downstream failure is named a cause"
    for check in document["checks"]:  # every cause a check names exists, and lists that check
        if check["cause"] is not None:
            assert check["id"] in next(c for c in document["causes"] if c["id"] == check["cause"])["checks"]


@pytest.mark.parametrize("name", sorted(CASCADES))
def test_recorded_cascade_names_its_root_cause(name):
    assert_labelled_cause(graded(recorded(f"cascade-{name}")), name)


@pytest.mark.parametrize("name, words", [
    ("missing-import", ["`from keras.layers import Dense`"]),
    ("lesson-half-fix", ["`input_shape=(784,)`", "`input_shape=(train_data_1d.shape[1],)`"]),
    ("fit-after-failed-fit", ["re-run the cells that build and compile", "Fix or remove that first `fit`"]),
    ("keyerror-on-arrays", ["Did you mean `train_data`?"]),
    ("unflattened", ["reshape((train_data.shape[0], -1))"]),
    ("package-not-installed", ["remove `pandas`"]),
    ("misspelt-module", ["Write `keras.models`"]),
    ("unclosed-bracket", ["Add the missing `)` on line 1"]),
])
def test_each_cause_says_what_to_do_in_its_own_words(name, words):
    first = graded(recorded(f"cascade-{name}"))["causes"][0]
    assert all(word in first["next_step"] for word in words), first["next_step"]
    assert ".py" not in first["message"] + first["error"]  # never the kernel's temp file


def test_the_half_fix_is_a_silent_cause_of_the_error_in_fit(tmp_path):
    node = notebook.read(write(tmp_path / "half-fix.ipynb", CASCADES["lesson-half-fix"]))
    document = graded(recorded("cascade-lesson-half-fix"), notebook.headings(node))
    first = document["causes"][0]
    assert first["error"] == ""  # its cell ran fine: no exception to show
    assert first["where"] == "code cell 3 (under “Step 3: Build the model”), line 4"
    fit_cell = CASCADES["lesson-half-fix"].cell + 4  # two steps later, each after its heading
    assert fit_cell in first["consequences"]
    cells = {c["index"]: c for c in document["cells"]}
    assert cells[fit_cell]["cause"] == first["id"] and cells[fit_cell]["number"] == 5


def test_cells_are_named_by_code_cell_number_not_notebook_index():
    document = graded(recorded("cascade-missing-import"))
    first = document["causes"][0]
    assert first["cell"] == 5 and "code cell 3" in first["where"] and "cell 6" not in first["where"]
    assert first["message"].startswith("Code cell 3, line 3: `model.add(Dense(")


def test_a_misspelt_variable_gets_the_close_name():
    facts = recorded("cascade-missing-import")
    cell = next(c for c in facts.cells if c.get("error"))
    cell["source"] = cell["source"].replace("model.add(Dense(", "modle.add(Dense(")
    cell["error"] = {"ename": "NameError", "evalue": "name 'modle' is not defined", "line": 3}
    first = graded(facts)["causes"][0]
    assert first["title"] == "`modle` is not defined: did you mean `model`?"


def test_a_name_defined_only_further_down_is_cells_run_out_of_order():
    facts = recorded("cascade-missing-import")
    cell = next(c for c in facts.cells if c.get("error"))
    later = facts.cells[-1]
    later["source"] += "\nfrom keras.layers import Dense"
    first = graded(facts)["causes"][0]
    assert first["title"] == "`Dense` is used before the cell that defines it" and first["cell"] == cell["index"]
    assert "Move the cell that defines `Dense` above this one" in first["next_step"]


def test_a_fit_that_raised_is_not_claimed_as_training():
    document = graded(recorded("cascade-lesson-half-fix"))
    by_id = {c["id"]: c for c in document["checks"]}
    assert by_id["fit.settings"]["passed"]  # the held-back verdict is unchanged
    assert "Training used" not in by_id["fit.settings"]["message"]
    assert "did not finish training" in by_id["fit.settings"]["message"]
    assert "was held out" not in by_id["fit.validation"]["message"]


def test_a_load_on_the_line_that_raised_was_never_assigned():
    facts = recorded("reference")
    load_cell = facts.cell(facts.loads[0]["cell"])
    assert load_cell is not None
    load_cell["status"] = "error"
    load_cell["error"] = {"ename": "KeyError", "evalue": "'arr_0 is not a file in the archive'",
                          "line": facts.loads[0]["line"]}
    by_id = {c.id: c for c in checks.run_checks(facts, DENSE)}
    assert not by_id["data.load"].passed and "Loaded" not in by_id["data.load"].message


def test_a_model_replaced_after_training_is_named():
    facts = recorded("reference")
    trained = facts.main_fit
    assert trained is not None
    replacing = copy.deepcopy(facts.models[str(facts.graded_model)])
    replacing["serial"] = 99
    facts.models["99"] = replacing
    facts.graded_model = 99
    last = facts.cells[-1]
    last["source"] = "model = Sequential()\n" + last["source"]
    document = graded(facts)
    first = document["causes"][0]
    assert first["kind"] == "model-replaced" and (first["cell"], first["line"]) == (last["index"], 1)
    assert "fit.called" in first["checks"]


def test_a_passing_notebook_and_one_fixed_later_have_no_cause():
    for name in ("reference", "fixed-after-failed-attempt"):
        document = graded(recorded(name))
        assert document["causes"] == [] and all(c["cause"] is None for c in document["checks"])


def test_a_check_no_cause_explains_keeps_its_own_card():
    document = graded(recorded("sigmoid-output"))
    by_id = {c["id"]: c for c in document["checks"]}
    assert not by_id["model.output_layer"]["passed"] and by_id["model.output_layer"]["cause"] is None
    report = model.build(document, DENSE)
    assert [c["id"] for c in report.own_failures] == [c["id"] for c in document["checks"]
                                                      if not c["passed"] and c["cause"] is None]


def test_unclosed_bracket_is_found_by_the_tokens():
    assert causes._unclosed_bracket("model.compile(loss='x',\n  metrics=['accuracy']") == ("(", 1)
    assert causes._unclosed_bracket("f(a)[0]") is None


@pytest.fixture(scope="module")
def cascading_class(tmp_path_factory, standin_file, warm_grader):
    """The brief's cascading notebooks, graded for real once, as a class with `grade`."""
    root = tmp_path_factory.mktemp("cascades")
    folder = root / "submissions"
    folder.mkdir()
    for name in SLOW:
        write(folder / f"{name}.ipynb", CASCADES[name])
    out = root / "out"
    graded = warm_grader.grade(str(folder), "--jobs", "2", "--data", str(standin_file), "--exercise", "keras-dense",
                               out=out)
    assert graded.status == 0, graded.printed[-3000:]  # every notebook was graded
    return {name: json.loads((out / "results" / f"{name}.json").read_text()) for name in SLOW}, out


@pytest.mark.slow
def test_a_cascading_class_names_each_root_cause_once(cascading_class):
    results, out = cascading_class
    for name, document in results.items():
        assert_labelled_cause(document, name)
        report = model.build(document, DENSE)
        markdown = documents.render_markdown(report)
        said = sentences(markdown)
        assert not {s for s in said if said.count(s) > 1}, name
        first = document["causes"][0]
        assert report.verdict.count(first["title"]) == 1 and first["where"] in report.verdict
        html = (out / "reports" / f"{name}.html").read_text()
        assert html.count(f'id="cause-{first["id"]}"') == 1


def test_reports_of_recorded_cascades_repeat_no_sentence():
    for name in CASCADES:
        said = sentences(documents.render_markdown(report_of(f"cascade-{name}")))
        assert not {s for s in said if said.count(s) > 1}, name


def test_cascades_are_recorded_for_every_case():
    assert {p.stem for p in Path(RECORDINGS).glob("cascade-*.json")} == {f"cascade-{n}" for n in CASCADES}


def test_headings_and_names_from_the_notebook_are_shown_escaped():
    """A heading, a key or a name the notebook holds reaches its own report only as text."""
    from autograder.report import terminal

    facts = recorded("cascade-keyerror-on-arrays")
    load = facts.cells[0]
    key = "<img src=x onerror=alert(1)>"
    assert load.get("error")
    load["error"] = {"ename": "KeyError", "evalue": f"'{key} is not a file in the archive'", "line": 3}
    heading = "Load <b>the</b> data \x1b[31m| `x` **bold**"
    report = model.build(graded(facts, {load["index"]: heading}), DENSE)
    html = documents.render_html(report)
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<b>the</b>" not in html and "\x1b" not in html
    assert "\x1b[31m" not in terminal.render(report) and "\x1b" not in documents.render_markdown(report)
    assert "\\<b\\>" in documents.render_markdown(report) or "&lt;b&gt;" in documents.render_markdown(report)


def test_one_check_at_a_time_outputs_name_the_root_cause_not_the_checks_own_next_step():
    """Gradescope, pytest, nbgrader and GitHub show one check at a time: a check a cause explains
    points at that cause and its fix; a check no cause explains keeps its own next step."""
    from autograder import gradescope

    document = graded(recorded("cascade-missing-import"))
    first = document["causes"][0]
    tests = {t["tags"][0]: t["output"] for t in gradescope.results_json(document, "", "visible", 1.0)["tests"]}
    for check_id in first["checks"]:
        assert f"Root cause ({first['where']}): {first['title']}. Next step: {first['next_step']}" in tests[check_id]
        passed, text = result.verdict_of(document, check_id)
        assert not passed and first["title"] in text and first["next_step"] in text
    own = graded(recorded("sigmoid-output"))
    check = next(c for c in own["checks"] if c["id"] == "model.output_layer")
    assert result.check_text(check, causes=own["causes"]).endswith(f"Next step: {check['hint']}")


def test_a_cell_too_deep_for_the_parser_is_the_students_not_a_grader_fault():
    # ast.parse ends `1 + 1 + ...` 150,000 terms long in RecursionError; it made `check` say
    # "internal error in the grader", and `grade` regrade the notebook on every run.
    names = causes._names_defined("total = 1" + " + 1" * 150_000)
    assert not names.parsed and names.defined == {}


def test_a_huge_cell_is_not_parsed_by_the_grader():
    # 4 MiB of `a=1` lines once took the grader's parse 2.6 GB and 28 s (a notebook may hold 20 MiB).
    import time
    import tracemalloc

    facts = recorded("reference")
    huge = "a = 1\n" * (4 * 2**20 // 6)
    facts.cells = [*facts.cells, {**facts.cells[-1], "index": 99, "source": huge}]
    tracemalloc.start()
    started = time.process_time()
    try:
        document = graded(facts)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.process_time() - started < 5 and peak < 200 * 2**20, (time.process_time() - started, peak)
    assert document["score"] == graded(recorded("reference"))["score"]
