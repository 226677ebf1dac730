"""Same submission, same grade.

- Copies of one notebook handed in by two students of one class (graded_classes.COPIES) are
  graded exactly alike: verdicts, messages, accuracy, every predicted probability and the
  training history, although they run in different jobs of the slot, side by side.
- The warm batch agrees with a cold `check` to the last probability (the honest student of the
  hostile class, checked alone in a cold kernel).
- A model whose accuracy sits exactly on the threshold passes, and one wrong prediction more
  would fail it: the threshold is a pure function of the recorded facts.
"""
from __future__ import annotations

import dataclasses

import pytest

from autograder.exercise import registry as exercises
from autograder.grading import checks
from graded_classes import COPIES, COPY_SUFFIX, HOSTILE_CLASS, WARM_CLASSES
from test_checks import recorded

EDGE = "wrong-epochs-and-batch"  # recorded; graded with its own accuracy as the threshold


def fingerprint(result: dict) -> dict:
    return {"status": result["status"], "score": result["score"],
            "verdicts": {c["id"]: (c["passed"], c["points"], c["message"]) for c in result["checks"]},
            "accuracy": result["metrics"]["test_accuracy"],
            "probabilities": result["details"]["predicted_probabilities"],
            "history": result["details"]["history"],
            "cells": [(c["index"], c["status"]) for c in result["cells"]]}


@pytest.mark.slow
@pytest.mark.timeout(1800)
@pytest.mark.parametrize("group", [pytest.param(group, marks=pytest.mark.xdist_group(group))
                                   for group in WARM_CLASSES])
def test_copies_in_a_class_are_graded_exactly_alike(group, corpus_class):
    results = corpus_class(group).results
    for name in COPIES[group]:
        original, copy = results[name], results[f"{name}{COPY_SUFFIX}"]
        assert original["execution"] == copy["execution"]
        assert fingerprint(original) == fingerprint(copy), name


@pytest.mark.slow
@pytest.mark.timeout(1800)
@pytest.mark.xdist_group(HOSTILE_CLASS)
def test_the_warm_batch_agrees_with_a_cold_check_to_the_last_probability(corpus_class):
    run = corpus_class(HOSTILE_CLASS)
    warm, cold = run.results["honest"], run.alone
    assert (warm["execution"], cold["execution"]) == ("warm", "cold") or warm["isolation"] == "rlimits"
    assert fingerprint(warm) == fingerprint(cold)


def test_a_model_exactly_on_the_threshold_passes_and_one_hundredth_more_fails():
    facts = recorded(EDGE)
    edge = facts.test_accuracy
    assert edge is not None and 0.4 < edge < 1.0  # a real edge: one more wrong prediction fails it
    exercise = exercises.get(facts.exercise)
    for threshold, passes in ((edge, True), (round(edge + 0.01, 2), False)):
        result = {r["id"]: r for r in checks.run_checks(facts, dataclasses.replace(exercise, threshold=threshold))}
        accuracy = result["accuracy.threshold"]
        assert accuracy["passed"] is passes, (threshold, accuracy["message"])
        assert all(r["passed"] == other["passed"]
                   for r, other in zip(result.values(), checks.run_checks(facts, exercise))
                   if r["id"] != "accuracy.threshold")
