"""The checks as pure functions of recorded facts (fast: no kernel, no TensorFlow).

The facts in tests/recorded/ come from real runs (see record_facts.py); the
expected verdicts are the same corpus.py expectations the end-to-end tests use.
Variations below edit a recorded fact to reach the branches a real run rarely does.
"""
from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path

import pytest

from autograder.exercise import registry as exercises
from autograder.grading import checks
from autograder.grading.facts import Facts, select_graded_model
from autograder.grading.result import CheckEntry
from corpus import CASES
from record_facts import RECORDED

RECORDINGS = Path(__file__).parent / "recorded"
DESIGN_IDS = {"data.load", "data.reshape", "model.input_shape", "model.architecture",
              "model.hidden_activation", "model.output_layer", "compile.loss", "compile.optimizer",
              "compile.metrics", "fit.called", "fit.settings", "fit.validation", "evaluate.called",
              "accuracy.threshold"}


def recorded(name: str) -> Facts:
    return Facts.from_dict(json.loads((RECORDINGS / f"{name}.json").read_text()))


def verdicts(facts: Facts, exercise_id: str | None = None) -> dict[str, CheckEntry]:
    exercise = exercises.get(exercise_id or facts.exercise)
    return {r["id"]: r for r in checks.run_checks(facts, exercise)}


def failing(facts: Facts, exercise_id: str | None = None) -> set[str]:
    return {k for k, r in verdicts(facts, exercise_id).items() if not r["passed"]}


@pytest.mark.parametrize("exercise", sorted(exercises.EXERCISES))
def test_rubrics_cover_design_ids_and_sum_to_100(exercise):
    rubric = exercises.get(exercise)
    assert set(rubric.check_ids) == DESIGN_IDS
    assert rubric.max_score == 100.0
    assert set(checks.REGISTRY) >= DESIGN_IDS


@pytest.mark.parametrize("name", RECORDED)
def test_recorded_facts_give_the_expected_verdicts(name):
    case, facts = CASES[name], recorded(name)
    results = verdicts(facts, case.exercise)
    assert {k for k, r in results.items() if not r["passed"]} == case.failing
    for check_id, text in case.says.items():
        assert text in results[check_id]["message"] + results[check_id]["hint"]
    for result in results.values():
        assert result["points"] == (result["max_points"] if result["passed"] else 0.0)


def test_points_add_up_to_the_score():
    results = verdicts(recorded("lesson-as-printed"))
    assert sum(r["points"] for r in results.values()) == 55.0


def test_graded_model_is_the_trained_one_after_a_failed_attempt():
    facts = recorded("fixed-after-failed-attempt")
    assert len(facts.models) == 2
    trained = [c["model"] for c in facts.calls if c["kind"] == "fit" and c["finished"]]
    assert facts.graded_model == trained[-1]


def test_two_part_notebook_grades_the_model_matching_each_exercise():
    facts = recorded("deeper-with-two-part-notebook")
    units = {int(k): [b["units"] for b in m["structure"]["blocks"]] for k, m in facts.models.items()}
    deeper = select_graded_model(facts.models, facts.calls, [10, 10, 3])
    dense = select_graded_model(facts.models, facts.calls, [10, 3])
    assert units[deeper] == [10, 10, 3] and units[dense] == [10, 3]


def test_flattening_is_seen_in_the_namespace_when_no_call_used_it():
    facts = recorded("kernel-dies-after-compile")
    assert not facts.calls_of("fit")
    assert verdicts(facts)["data.reshape"]["passed"]
    facts.namespace = {"arrays": [], "models": {}}
    result = verdicts(facts)["data.reshape"]
    assert not result["passed"] and "kernel died" in result["message"]


def test_timeout_names_the_cell_and_the_limit():
    result = verdicts(recorded("timeout-before-training"))["fit.called"]
    assert "time limit" in result["message"] and "40 s" in result["message"] and "cell 5" in result["message"]


def test_keras_accuracy_object_passes_with_a_caution():
    facts = recorded("reference")
    structure = facts.models[str(facts.graded_model)]["structure"]
    structure["metric_objects"], structure["metrics"] = ["Accuracy"], ["accuracy"]
    result = verdicts(facts)["compile.metrics"]
    assert result["passed"] and "near 0" in result["message"]


def test_from_logits_with_softmax_is_explained():
    facts = recorded("reference")
    facts.models[str(facts.graded_model)]["structure"]["loss"]["from_logits"] = True
    result = verdicts(facts)["compile.loss"]
    assert not result["passed"] and "from_logits=True" in result["message"]


def test_evaluating_before_training_fails():
    facts = recorded("reference")
    evaluation = next(c for c in facts.calls if c["kind"] == "evaluate")
    evaluation["seq"] = 0
    assert "before training" in verdicts(facts)["evaluate.called"]["message"]


def test_wrong_manual_validation_fraction_fails():
    facts = recorded("manual-validation-split")
    fit = next(c for c in facts.calls if c["kind"] == "fit")
    fit["validation_data"]["x"]["rows"]["train"] = [[540, 600]]
    result = verdicts(facts)["fit.validation"]
    assert not result["passed"] and "11%" in result["message"]  # 60 of 540 rows


def test_unsafe_model_is_not_graded_and_says_why():
    facts = recorded("reference")
    facts.models[str(facts.graded_model)]["problems"] = ["it has a Lambda layer or lambda function"]
    results = verdicts(facts)
    assert not results["model.architecture"]["passed"]
    assert "Lambda" in results["model.architecture"]["message"]


def test_a_threshold_above_the_measured_accuracy_fails():
    facts = recorded("reference")
    exercise = dataclasses.replace(exercises.get("keras-dense"), threshold=0.99)
    result = {r["id"]: r for r in checks.run_checks(facts, exercise)}["accuracy.threshold"]
    assert not result["passed"] and "0.99" in result["message"]


def test_a_broken_check_fails_alone_without_hiding_the_others(monkeypatch):
    def broken(facts, exercise):
        raise KeyError("bug")

    monkeypatch.setitem(checks.REGISTRY, "compile.loss", broken)
    results = verdicts(recorded("reference"))
    assert not results["compile.loss"]["passed"] and "could not decide" in results["compile.loss"]["message"]
    assert results["compile.loss"]["diagnosis"] == checks.UNDECIDED  # the grader's fault: graded again next run
    assert results["compile.optimizer"]["passed"]


def test_facts_survive_a_round_trip_through_json():
    facts = recorded("lesson-as-printed")
    again = Facts.from_dict(json.loads(json.dumps(copy.deepcopy(facts.to_dict()))))
    assert verdicts(again).keys() == verdicts(facts).keys()
    assert [r["passed"] for r in verdicts(again).values()] == [r["passed"] for r in verdicts(facts).values()]
