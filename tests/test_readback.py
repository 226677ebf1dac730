"""Whatever a hostile notebook writes where the grader reads, grading goes on."""
from __future__ import annotations

import json

from hypothesis import given, settings, strategies as st

from autograder.exercise import registry as exercises
from autograder.grading import checks
from autograder.grading.facts import build
from autograder.sandbox import RunRecord, readback
from autograder.sandbox.records import json_lines

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=6),
    max_leaves=40)
kinds = st.sampled_from(sorted(readback.EVENT_KINDS) + ["cell", "bogus"])
fields = st.sampled_from(["kind", "model", "exec", "line", "x", "y", "settings", "history", "ok", "error",
                          "epoch", "rows", "labels", "shape", "arrays", "models", "model_names", "index",
                          "status", "validation_data", "logs", "returned"])
events = st.lists(st.dictionaries(fields, json_values, max_size=8).flatmap(
    lambda d: kinds.map(lambda k: {**d, "kind": k})), max_size=30)


def grade_events(raw_events, raw_cells):
    run = RunRecord(status="completed", isolation="rlimits",
                    cells=[c for c in (readback.cell(r) for r in raw_cells) if c],
                    events=[e for e in (readback.event(r) for r in raw_events) if e])
    exercise = exercises.get("keras-dense")
    facts = build(exercise, run, {0: "x = 1", 1: "model.fit(x)"}, {"train_data": [600, 28, 28, 1]},
                  [0, 1, 2] * 33 + [0], {1: {"structure": None, "problems": []}})
    results = checks.run_checks(facts, exercise)
    json.dumps(facts.to_dict())
    return results


@settings(max_examples=200, deadline=None)
@given(events, st.lists(st.dictionaries(fields, json_values, max_size=6), max_size=5))
def test_garbage_events_never_break_grading(raw_events, raw_cells):
    results = grade_events(raw_events, raw_cells)
    assert len(results) == 14
    assert not any("could not decide" in r["message"] for r in results)


@given(st.binary(max_size=2000))
def test_garbage_bytes_are_dropped_line_by_line(raw):
    for record in json_lines(raw, 1000):
        assert isinstance(record, dict)


def test_fields_are_rebuilt_with_their_types():
    event = readback.event({"kind": "fit_start", "model": 1, "exec": "4", "line": True,
                            "x": {"shape": [600, "784"], "names": ["a", 3, "b"], "rows": {"train": [[0, 600], [5, 1]]}},
                            "settings": {"epochs": 10, "evil": "x", "batch_size": float("inf")}, "extra": "dropped"})
    assert event["exec"] is None and event["line"] is None
    assert "shape" not in event["x"] and event["x"]["names"] == ["a", "b"]
    assert event["x"]["rows"]["train"] == [[0, 600]]
    assert event["settings"] == {"epochs": 10, "batch_size": None}
    assert "extra" not in event
    assert readback.event({"kind": "rm -rf"}) is None
    assert readback.cell({"index": -1, "status": "ok"}) is None


def test_model_numbers_are_ascii_digits_only():
    # "²".isdigit() is true but int("²") raises: such a key once failed the whole assessment.
    event = readback.event({"kind": "namespace", "arrays": [], "models": {"²": ["model"], "3": ["net"], "٣": ["x"]}})
    assert event["models"] == {"3": ["net"]}
    forged = {"kind": "namespace", "arrays": [], "models": {"²": ["model"]}}
    assert len(grade_events([forged], [])) == 14
