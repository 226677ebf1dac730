"""Cause analysis: one root cause per mistake, most upstream first, every failed check pointing
at the cause that explains it.

The fast tests read facts recorded from real runs (tests/recorded/, see cascades.py and
record_facts.py); the slow one grades the cascading notebooks for real, once, as a class.
"""
from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest

from autograder import notebook
from autograder.exercise import registry as exercises
from autograder.grading import causes, checks, result
from autograder.grading.facts import Facts
from autograder.report import documents, model
from cascades import CASCADES, SLOW, write
from reports import RECORDINGS, judged, report_of
from test_reports import sentences

DENSE = exercises.get("keras-dense")


def recorded(name: str) -> Facts:
    return Facts.from_dict(json.loads((RECORDINGS / f"{name}.json").read_text()))


def graded(facts: Facts, headings: dict[int, str] | None = None) -> result.ResultDocument:
    exercise = exercises.get(facts.exercise)
    return judged(exercise, "student.ipynb", facts, 1.0, headings)


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
    by_id = {c["id"]: c for c in checks.run_checks(facts, DENSE)}
    assert not by_id["data.load"]["passed"] and "Loaded" not in by_id["data.load"]["message"]


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


# --- issue 26: the mistake found where it was made ------------------------------------------------

#: The cascades whose root cause raises nothing where it is made, or is a CNN's shape mistake.
SILENT_AND_CNN = ["typo-at-definition", "misspelt-npz-variable", "download-keras-datasets", "syntax-error-in-load",
                  "unflattened-fit-only", "cnn-no-flatten", "cnn-2d-input-shape", "cnn-flattened-input",
                  "cnn-vanishing-maps"]
#: The dense exercise's advice, which a convolutional network must never be given.
FLATTENING_ADVICE = ("Flatten the images", "flat arrays", "flattened training images", "reshape((",
                     "train_data_1d =", "input_shape=(784,)")
DID_YOU_MEAN = re.compile(r"did you mean `([^`]+)`")


def every_text(document: result.ResultDocument) -> list[str]:
    """Everything the result says to the student, as the outputs show it."""
    texts = [text for cause in document["causes"] for text in (cause["title"], cause["message"], cause["next_step"])]
    texts += [text for check in document["checks"] for text in (check["message"], check["hint"])]
    report = model.build(document, exercises.get(document["exercise"]))
    return [*texts, report.verdict, *report.layer_notes, documents.render_markdown(report)]


def notebook_code(facts: Facts) -> str:
    return "\n".join(cell["source"] for cell in facts.cells)


@pytest.mark.parametrize("name", sorted(p.stem for p in RECORDINGS.glob("*.json")))
def test_wording_rules_hold_for_every_recorded_notebook(name):
    """Every did-you-mean names a name of the notebook; no cause's title holds its place (the headline
    adds it once); a convolutional network is never told to flatten its images; never `X`, not `X`."""
    facts = recorded(name)
    document = graded(facts)
    texts = every_text(document)
    code = notebook_code(facts)
    for text in texts:
        for suggested in DID_YOU_MEAN.findall(text):
            assert re.search(rf"\b{re.escape(suggested)}\b", code), (suggested, text)
        assert not re.search(r"\(`([^`]+)`\), not `\1`", text), text
    for cause in document["causes"]:
        assert "code cell" not in cause["title"] and "In [" not in cause["title"], cause["title"]
    verdict = model.build(document, exercises.get(document["exercise"])).verdict
    assert verdict.count("code cell") <= 1, verdict  # the place once, never "code cell 10 (code cell 10 ..."
    if document["exercise"] == "keras-cnn":
        said = "\n".join(text for text in texts if text)
        assert not [advice for advice in FLATTENING_ADVICE if advice in said], name


@pytest.mark.parametrize("name", ["typo-at-definition", "misspelt-npz-variable"])
def test_a_name_misspelt_where_it_is_defined_is_renamed_there(name):
    """`fashon = np.load(...)`, then `fashion` four times: the fix renames the one definition, and no
    output tells the student to write the misspelt name."""
    facts = recorded(f"cascade-{name}")
    document = graded(facts)
    first = document["causes"][0]
    misspelt, used = {"typo-at-definition": ("trian_data_1d", "train_data_1d"),
                      "misspelt-npz-variable": ("fashon", "fashion")}[name]
    assert first["kind"] == "misspelt-definition" and first["error"] == ""  # its line raised nothing
    assert first["title"] == f"`{misspelt}` is defined, but the notebook uses `{used}`"
    assert first["next_step"].startswith(f"Rename the definition: write `{used} = ")
    from autograder.report import github

    shown = [*every_text(document), *github.check_annotations(document, "student.ipynb")]
    assert not [text for text in shown if f"Write `{misspelt}`" in text or f"write `{misspelt}" in text]
    assert len(github.check_annotations(document, "student.ipynb")) == len(document["causes"])  # one per cause


def test_the_same_typo_at_a_use_is_fixed_at_the_use():
    """`modle.fit(...)` where `model` is defined and used elsewhere: the use is the slip."""
    facts = recorded("reference")
    fit_cell = facts.cell(facts.main_fit["cell"])
    fit_cell["source"] = fit_cell["source"].replace("model.fit(", "modle.fit(")
    fit_cell["status"], fit_cell["error"] = "error", {"ename": "NameError", "evalue": "name 'modle' is not defined",
                                                      "line": 1}
    facts.calls = [call for call in facts.calls if call["kind"] != "fit"]  # it raised before calling fit
    first = graded(facts)["causes"][0]
    assert first["title"] == "`modle` is not defined: did you mean `model`?" and first["cell"] == fit_cell["index"]
    assert first["next_step"].startswith("Write `model` on line 1")


def test_did_you_mean_never_offers_a_name_the_notebook_does_not_hold():
    """`Modl` is spelt like keras' `Model`, which this notebook never mentions: no suggestion."""
    facts = recorded("cascade-missing-import")
    cell = next(c for c in facts.cells if c.get("error"))
    cell["source"] = cell["source"].replace("model.add(Dense(", "Modl.add(Dense(")
    cell["error"] = {"ename": "NameError", "evalue": "name 'Modl' is not defined", "line": 3}
    first = graded(facts)["causes"][0]
    assert first["title"] == "`Modl` is not defined" and "Model" not in first["message"] + first["next_step"]


def test_a_flat_copy_and_its_image_array_are_two_names_not_a_typo():
    from autograder.grading import dataflow

    assert dataflow.typo_of("fashon", "fashion") and dataflow.typo_of("trian_data_1d", "train_data_1d")
    assert not dataflow.typo_of("train_data", "train_data_1d") and not dataflow.typo_of("test_data", "train_data")


def test_the_output_layer_is_the_cause_not_the_error_at_fit():
    """10 units on 3-class labels: the build line leads; the fit and evaluate cells are its consequences."""
    document = graded(recorded("ten-unit-output"))
    first = document["causes"][0]
    assert (first["kind"], first["cell"], first["line"]) == ("output-units", 2, 5) and len(document["causes"]) == 1
    assert first["consequences"] == [4, 5] and "Dense(3, activation='softmax')" in first["next_step"]
    by_id = {c["id"]: c for c in document["checks"]}
    assert {i for i, c in by_id.items() if not c["passed"]} == set(first["checks"])  # every failure is this one


def test_a_custom_exercise_is_quoted_in_the_next_step():
    """The fix names the exercise file's own layers and classes, not the lesson's."""
    import dataclasses

    cnn = exercises.get("keras-cnn")
    five = tuple(dataclasses.replace(layer, kernel_size=(5, 5)) if layer.type == "Conv2D" else layer
                 for layer in cnn.layers)
    custom = dataclasses.replace(cnn, id="cnn-5", layers=five)
    facts = recorded("cascade-cnn-vanishing-maps")
    first = judged(custom, "s.ipynb", facts, 1.0)["causes"][0]
    assert first["kind"] == "maps-vanish" and "Conv2D(10, kernel_size=5)" in first["next_step"]
    assert "28x28 → 24x24 → 12x12 → 8x8 → 4x4" in first["next_step"]
    dense = dataclasses.replace(DENSE, id="tops", classes=("top", "frock", "sneaker"))
    facts = recorded("ten-unit-output")
    first = judged(dense, "s.ipynb", facts, 1.0)["causes"][0]
    assert "3 classes (top, frock, sneaker)" in first["title"]


@pytest.mark.parametrize("source, error", [
    ("import urllib.request\nurllib.request.urlretrieve('https://example.org/fashion.npz', 'fashion.npz')",
     {"ename": "URLError", "evalue": "<urlopen error [Errno -3] Temporary failure in name resolution>", "line": 2}),
    ("import requests\ndata = requests.get('https://example.org/fashion.npz').content",
     {"ename": "ConnectionError", "evalue": "HTTPSConnectionPool(host='example.org', port=443): Max retries "
                                            "exceeded with url: /fashion.npz", "line": 2}),
])
def test_a_download_is_told_that_grading_has_no_internet(source, error):
    """keras.datasets (recorded), urllib or requests: no internet while grading, and the lesson's file."""
    document = graded(recorded("cascade-download-keras-datasets"))
    first = document["causes"][0]
    assert first["kind"] == "download" and "without internet" in first["message"]
    assert "np.load('fashion.npz')" in first["next_step"] and "Fix line" not in first["next_step"]
    assert "data.load" in first["checks"]
    facts = recorded("cascade-download-keras-datasets")
    facts.cells[0]["source"], facts.cells[0]["error"] = source, error
    assert graded(facts)["causes"][0]["kind"] == "download"


def test_data_reshape_judges_the_reshape_and_fit_what_it_was_given():
    """The flat copies made: data.reshape passes when evaluate used one, and fit fails for what it was
    given; when neither call used them, the student is told to pass them, not to make them."""
    document = graded(recorded("cascade-unflattened-fit-only"))
    by_id = {c["id"]: c for c in document["checks"]}
    assert by_id["data.reshape"]["passed"] and "Flattened the images" in by_id["data.reshape"]["message"]
    assert by_id["fit.called"]["message"].startswith("You passed `train_data` of shape (600, 28, 28, 1) to `fit`")
    unused = {c["id"]: c for c in graded(recorded("cascade-unflattened"))["checks"]}["data.reshape"]
    assert not unused["passed"] and "never used the flat arrays" in unused["message"]
    assert unused["hint"] == "Pass the flat arrays you made: `train_data_1d` to fit and `test_data_1d` to evaluate."


def test_a_model_of_the_same_name_is_not_named_against_itself():
    facts = recorded("reference")
    graded_entry = facts.models[str(facts.graded_model)]
    facts.models["99"] = {**copy.deepcopy(graded_entry), "serial": 99}
    for call in facts.calls:
        if call["kind"] == "evaluate":
            call["model"] = 99
    by_id = {c["id"]: c for c in graded(facts)["checks"]}
    assert by_id["evaluate.called"]["message"] == ("The model that is graded (`model`) was never evaluated: "
                                                   "`evaluate` ran on another model of the same name.")


def test_the_self_check_names_the_root_cause_as_check_does():
    """After a load cell Python cannot read, `ex.check('reshape')`, 'fit' and 'evaluate' send the student
    to that cell (facts the self-check recorded in a real kernel), never to the spelling of names
    spelt right; and every check `check` attaches to a cause gets its note."""
    from autograder import student

    facts = recorded("live-cascade-syntax-error-in-load")
    results = checks.run_checks(facts, DENSE)
    for step in ("reshape", "fit", "evaluate"):
        text = repr(student.step_panel(step, DENSE, facts, results, untouched=False))
        assert "This follows from the cell In [2], line 4" in text and "failing" in text, text
        assert "fix that first" in text and "is it spelled the same" not in text, text
    document = graded(facts)
    explained = {c["id"] for c in document["checks"] if c["cause"]}
    assert set(causes.check_notes(facts, results, DENSE)) == explained
    assert document["causes"][0]["kind"] == "SyntaxError" and len(document["causes"]) == 1


CNN_CASCADES = ["cnn-no-flatten", "cnn-2d-input-shape", "cnn-flattened-input", "cnn-vanishing-maps"]


@pytest.fixture(scope="module")
def cnn_class(tmp_path_factory, standin_file, warm_grader):
    """The CNN's shape mistakes, graded for real once, as a class with `grade --exercise keras-cnn`."""
    root = tmp_path_factory.mktemp("cnn-cascades")
    folder = root / "submissions"
    folder.mkdir()
    for name in CNN_CASCADES:
        write(folder / f"{name}.ipynb", CASCADES[name])
    out = root / "out"
    graded = warm_grader.grade(str(folder), "--jobs", "2", "--data", str(standin_file), "--exercise", "keras-cnn",
                               out=out)
    assert graded.status == 0, graded.printed[-3000:]
    return {name: json.loads((out / "results" / f"{name}.json").read_text()) for name in CNN_CASCADES}, out


@pytest.mark.slow
def test_a_class_of_cnn_shape_mistakes_leads_each_with_its_cause_in_words(cnn_class):
    """Each notebook leads with its labelled cell and line, names no consequence as a cause, says the
    mistake in words with the exercise's fix, and is never told to flatten its images."""
    results, out = cnn_class
    cnn = exercises.get("keras-cnn")
    for name, document in results.items():
        assert_labelled_cause(document, name)
        assert len(document["causes"]) == 1, [c["title"] for c in document["causes"]]
        said = "\n".join(text for text in every_text(document) if text)
        assert not [advice for advice in FLATTENING_ADVICE if advice in said], name
        html = (out / "reports" / f"{name}.html").read_text()
        report = model.build(document, cnn)
        assert html.count('id="cause-c1"') == 1
        assert ('id="model-differences"' in html) == (name != "cnn-flattened-input")  # its layers are right
        assert report.verdict.count(document["causes"][0]["title"]) == 1
    assert "Add `model.add(Flatten())`" in results["cnn-no-flatten"]["causes"][0]["next_step"]
    assert "Write `input_shape=(28, 28, 1)` on line 4" in results["cnn-2d-input-shape"]["causes"][0]["next_step"]
    assert "`model.fit(train_data, train_labels, ...)`" in results["cnn-flattened-input"]["causes"][0]["next_step"]
    assert "8x8 maps are too small for the 13x13 kernel" in results["cnn-vanishing-maps"]["causes"][0]["title"]


def failing_fit(facts: Facts, evalue: str, **x) -> Facts:
    """The reference's training call made to raise `evalue` on the data `x` describes."""
    fit = next(call for call in facts.calls if call["kind"] == "fit")
    fit.update(finished=False, error={"ename": "ValueError", "evalue": evalue}, epochs_run=0)
    fit.pop("history", None)
    if x:
        fit["x"] = {**fit["x"], **x}
    cell = facts.cell(fit["cell"])
    cell["status"], cell["error"] = "error", {"ename": "ValueError", "evalue": evalue, "line": 1}
    return facts


def test_images_flattened_into_one_long_row_are_fixed_where_they_are_flattened():
    facts = recorded("reference")
    flatten = facts.cells[1]
    flatten["source"] = "train_data_1d = train_data.flatten()\ntest_data_1d = test_data.flatten()"
    failing_fit(facts, "Data cardinality is ambiguous. Make sure all arrays contain the same number of samples.'x' "
                       "sizes: 470400 'y' sizes: 600", shape=[470400])
    document = graded(facts)
    first = document["causes"][0]
    assert (first["kind"], first["cell"], first["line"]) == ("wrong-flattening", 1, 1)
    assert first["next_step"].startswith("Keep one row per image: write "
                                         "`train_data_1d = train_data.reshape((train_data.shape[0], -1))` on line 1")
    assert facts.cells[4]["index"] in first["consequences"] and "fit.called" in first["checks"]


@pytest.mark.parametrize("made, shape, words", [
    ("train_labels = train_labels.argmax(axis=1)", [600], "holds class numbers"),
    ("from keras.utils import to_categorical; train_labels = to_categorical(train_labels)", [600, 3, 2],
     "made one-hot a second time?"),
])
def test_labels_made_another_shape_are_the_cause_of_the_error_at_fit(made, shape, words):
    facts = recorded("reference")
    facts.cells[0]["source"] += "\n" + made
    failing_fit(facts, "Arguments `target` and `output` must have the same rank (ndim). Received: "
                       "target.shape=(None,), output.shape=(None, 3)")
    fit = next(call for call in facts.calls if call["kind"] == "fit")
    fit["y"] = {**fit["y"], "shape": shape}
    first = graded(facts)["causes"][0]
    assert (first["kind"], first["cell"], first["line"]) == ("labels-not-one-hot", 0, 7) and words in first["title"]
    assert "train_labels = fashion['train_labels']" in first["next_step"]


def test_a_model_given_a_2d_input_shape_is_the_cause_not_the_fit():
    facts = recorded("reference")
    build = facts.cells[2]
    build["source"] = build["source"].replace("input_shape=(784,)", "input_shape=(28, 28)")
    facts.models[str(facts.graded_model)]["structure"]["input_shape"] = [None, 28, 28]
    failing_fit(facts, "Invalid input shape for input Tensor. Expected shape (None, 28, 28), but input has "
                       "incompatible shape (None, 784)")
    first = graded(facts)["causes"][0]
    assert (first["kind"], first["cell"], first["line"]) == ("wrong-input-shape", 2, 4)
    assert first["title"] == "The model takes inputs of shape (None, 28, 28), not (None, 784)"


def test_a_misspelt_import_explains_the_name_it_leaves_undefined():
    facts = recorded("cascade-misspelt-module")
    build = next(c for c in facts.cells if c.get("error"))
    build["source"] = build["source"].replace("keras.model import", "keras.models import").replace(
        "import Dense", "import dense")
    build["error"] = {"ename": "ImportError", "evalue": "cannot import name 'dense' from 'keras.layers'", "line": 2}
    document = graded(facts)
    first = document["causes"][0]
    assert first["title"] == "`keras.layers` has no `dense`; it is spelt `Dense`" and len(document["causes"]) == 1


@pytest.mark.parametrize("line, evalue, kind, words", [
    ("model.add(Dense(10, input_shape=(784), activation='relu'))", "Cannot convert '784' to a shape.",
     "input-shape-not-a-tuple", "Write `input_shape=(784,)` on line 4"),
])
def test_a_build_line_keras_refuses_is_said_in_words(line, evalue, kind, words):
    facts = recorded("cascade-missing-import")  # its build cell raised on line 3: now on line 4, for this
    build = next(c for c in facts.cells if c.get("error"))
    lines = build["source"].splitlines()
    build["source"] = "\n".join([*lines[:2], "from keras.layers import Dense", line, *lines[4:]])
    build["error"] = {"ename": "ValueError", "evalue": evalue, "line": 4}
    first = graded(facts)["causes"][0]
    assert first["kind"] == kind and words in first["next_step"], first


@pytest.mark.parametrize("line, evalue, title", [
    ("model.add(MaxPooling2D(2))", "Computed output size would be zero or negative. Received: `inputs.shape=[None 1 1 "
     "10]`, `pool_size=[2 2]`, `strides=(2, 2)`, `padding=valid`.",
     "The feature maps vanish: 1x1 maps are too small for the 2x2 pooling window of this MaxPooling2D"),
    ("model.add(Conv2D(10, kernel_size=3, input_shape=(784,), activation='relu'))",
     "Input 0 with name 'None' of layer 'conv2d' is incompatible with the layer: expected min_ndim=4, found ndim=2. "
     "Full shape received: (None, 784)",
     "`input_shape=(784,)` is a flat row, but a Conv2D takes whole images (28, 28, 1)"),
])
def test_the_cnn_build_errors_are_said_in_words(line, evalue, title):
    facts = recorded("cascade-cnn-vanishing-maps")
    build = next(c for c in facts.cells if c.get("error"))
    error_line = build["error"]["line"]
    lines = build["source"].splitlines()
    lines[error_line - 1] = line
    build["source"] = "\n".join(lines)
    build["error"] = {**build["error"], "evalue": evalue}
    first = graded(facts)["causes"][0]
    assert first["title"] == title and first["line"] == error_line


def test_a_cell_python_cannot_parse_is_read_in_bounded_time():
    """A syntax error's cell is read line by line for the names it would define: long lines of the
    student's, made to backtrack a pattern or nest deeply, cost the grader no more than short ones."""
    import time

    from autograder.grading import dataflow

    hostile = "\n".join([" " * 60_000 + "(", "a " * 30_000 + "= (", "x = " + "(" * 900 + ")" * 900,
                         "total = 1" + " + 1" * 20_000, "train_data = fashion['train_data'",
                         "model = keras.Sequential(["])
    started = time.process_time()
    names = dataflow.cell_names(hostile)
    assert time.process_time() - started < 1.0
    assert not names.parsed and set(names.defined) >= {"train_data", "model"}


def test_a_build_cell_raising_after_its_last_layer_explains_no_layer():
    """`model.sumary()` at the end of the build cell raises after every layer was added: the sigmoid
    output is its own mistake, not a consequence."""
    facts = recorded("sigmoid-output")
    build = facts.cells[2]
    build["source"] += "\nmodel.sumary()"
    build["status"] = "error"
    build["error"] = {"ename": "AttributeError", "evalue": "'Sequential' object has no attribute 'sumary'",
                      "line": len(build["source"].splitlines())}
    by_id = {c["id"]: c for c in graded(facts)["checks"]}
    assert not by_id["model.output_layer"]["passed"] and by_id["model.output_layer"]["cause"] is None


def test_a_dense_model_on_whole_images_is_told_the_dense_exercise_s_fix():
    """input_shape=(28, 28, 1) and no Flatten: the Dense layers run on every row of pixels, the output is
    (None, 28, 28, 3), and fit fails on the labels. One cause, the dense exercise's fix."""
    facts = recorded("reference")
    structure = facts.models[str(facts.graded_model)]["structure"]
    structure["input_shape"] = [None, 28, 28, 1]
    for layer in structure["layers"]:
        if layer["class"] == "InputLayer":
            layer["shape"] = [None, 28, 28, 1]
    build = facts.cells[2]
    build["source"] = build["source"].replace("input_shape=(784,)", "input_shape=(28, 28, 1)")
    failing_fit(facts, "Arguments `target` and `output` must have the same rank (ndim). Received: "
                       "target.shape=(10, 3), output.shape=(10, 28, 28, 3)", shape=[600, 28, 28, 1],
                names=["train_data"])
    document = graded(facts)
    assert [c["kind"] for c in document["causes"]] == ["missing-flatten"]
    first = document["causes"][0]
    assert first["title"] == "The model's output is (None, 28, 28, 3), not one row of 3 class scores per image"
    assert "input_shape=(784,)" in first["next_step"] and "reshape((train_data.shape[0], -1))" in first["next_step"]
