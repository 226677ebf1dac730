"""What a Dask worker sends back for one submission, read as untrusted data.

A worker (cluster.grade_on_worker) answers each task with JSON text: `{"result": DOCUMENT}`,
the submission's result document, or `{"fault": REASON}` when the grading failed on the
worker (a grader's fault, graded again by the next run). The grading machine believes
nothing of it until `read` has checked it:

- its size (MAX_TEXT characters) and its JSON: no NaN or Infinity, no number beyond
  what a result holds, no nesting deeper than the parser takes;
- every field against the result's declared types (result.ResultDocument and the
  TypedDicts it holds, turned into a JSON Schema by `schema_of` and checked with
  jsonschema): no field the result does not declare, no value of another type;
- what it says against what the grading machine knows: the submission's file name, the
  exercise and its checks, points, score and maximum as the rubric gives them, and no
  `student`, `submission` or `timings` (whose submission it is, the grading machine alone
  says).

A worker that sends anything else is refused: ForgedResult, which the batch records as a
grader's fault (not the student's), graded again by the next run. The rest (a forged but
well-formed grade) is what only the cluster's certificates prevent (cluster_access.py).
"""
from __future__ import annotations

import functools
import json
import types
import typing
from typing import Any

import jsonschema

from ..errors import GraderFault
from ..exercise import registry as exercises
from ..grading import result as result_module
from ..grading.result import ResultDocument

#: Characters of JSON a worker may send for one submission. A result is bounded to about half
#: a megabyte (grading/result.py); this leaves room for an instructor's larger test set.
MAX_TEXT = 4 * 2**20
#: Characters of a worker's fault reason kept.
MAX_FAULT = 2000
#: The largest integer a result holds (counts, indexes, sizes).
MAX_INTEGER = 2**53
#: Fields only the grading machine writes.
GRADING_MACHINE_FIELDS = ("student", "submission", "timings")


class ForgedResult(GraderFault):
    """A worker's answer that is not a result this submission could have: refused, never recorded."""


def schema_of(kind: Any) -> dict[str, Any]:
    """A JSON Schema for values of the Python type `kind`: the TypedDicts of grading/result.py and what
    they hold. Every TypedDict is closed (no undeclared field); NotRequired fields may be absent."""
    origin = typing.get_origin(kind)
    if origin in (typing.NotRequired, typing.Required):
        return schema_of(typing.get_args(kind)[0])
    if typing.is_typeddict(kind):
        hints = typing.get_type_hints(kind, include_extras=True)
        optional = {name for name, hint in hints.items() if typing.get_origin(hint) is typing.NotRequired
                    or (not kind.__total__ and typing.get_origin(hint) is not typing.Required)}
        return {"type": "object", "additionalProperties": False,
                "properties": {name: schema_of(hint) for name, hint in hints.items()},
                "required": sorted(set(hints) - optional)}
    if origin is list:
        return {"type": "array", "items": schema_of(typing.get_args(kind)[0])}
    if origin is dict:
        key, value = typing.get_args(kind)
        if key is not str:
            raise TypeError(f"no JSON Schema for {kind}: JSON keys are strings")
        return {"type": "object", "additionalProperties": schema_of(value)}
    if origin in (typing.Union, types.UnionType):
        return {"anyOf": [schema_of(member) for member in typing.get_args(kind)]}
    if origin is typing.Literal:
        return {"enum": list(typing.get_args(kind))}
    simple = {str: "string", int: "integer", float: "number", bool: "boolean", type(None): "null"}
    if kind in simple:
        return {"type": simple[kind]}
    if kind in (object, typing.Any):
        return {}
    raise TypeError(f"no JSON Schema for {kind}")


@functools.cache
def _validator() -> jsonschema.protocols.Validator:
    base = jsonschema.Draft202012Validator
    # An integer is an int, never 3.0 (JSON Schema's "integer" takes it, Python's indexing does not).
    checker = base.TYPE_CHECKER.redefine(
        "integer", lambda _checker, value: isinstance(value, int) and not isinstance(value, bool))
    strict = jsonschema.validators.extend(base, type_checker=checker)
    envelope = {"type": "object", "additionalProperties": False, "minProperties": 1, "maxProperties": 1,
                "properties": {"result": schema_of(ResultDocument),
                               "fault": {"type": "string", "maxLength": MAX_FAULT}}}
    return strict(envelope)


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not a number a result holds")


def _finite(text: str) -> float:
    number = float(text)
    if number != number or number in (float("inf"), float("-inf")):
        raise ValueError(f"{text[:20]} is not a finite number")
    return number


def _bounded(text: str) -> int:
    if len(text) > 20 or abs(number := int(text)) > MAX_INTEGER:
        raise ValueError(f"{text[:20]}... is a larger integer than a result holds")
    return number


def parse(text: object) -> dict[str, Any]:
    """The worker's answer as checked JSON: {"result": ...} or {"fault": ...}. Raises ForgedResult."""
    if not isinstance(text, str):
        raise ForgedResult(f"the worker answered with {type(text).__name__}, not the JSON text of a result")
    if len(text) > MAX_TEXT:
        raise ForgedResult(f"the worker's answer is {len(text):,} characters, more than a result holds "
                           f"({MAX_TEXT:,})")
    try:
        value = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite, parse_int=_bounded)
    except RecursionError:
        raise ForgedResult("the worker's answer is nested deeper than a result") from None
    except ValueError as error:  # json.JSONDecodeError too
        raise ForgedResult(f"the worker's answer is not a result's JSON: {str(error)[:200]}") from None
    problem = jsonschema.exceptions.best_match(_validator().iter_errors(value))
    if problem is not None:
        where = "/".join(str(part) for part in problem.absolute_path) or "the answer"
        raise ForgedResult(f"the worker's answer does not have a result's form at {where[:200]}: "
                           f"{problem.message[:200]}")
    return value


def read(text: object, notebook: str, exercise: exercises.Exercise | None) -> ResultDocument:
    """The result document a worker sent for the submission `notebook` (its file name), graded
    against `exercise` (None: one the grading machine does not know, which only an invalid
    result can have). Raises ForgedResult for anything else, GraderFault for a fault the worker
    reported."""
    answer = parse(text)
    if "fault" in answer:
        raise GraderFault(f"on the grading worker: {answer['fault']}")
    document: ResultDocument = answer["result"]
    problem = _disagreement(document, notebook, exercise)
    if problem:
        raise ForgedResult(f"the worker's result is not this submission's: {problem}")
    return document


def _disagreement(document: ResultDocument, notebook: str, exercise: exercises.Exercise | None) -> str | None:
    """What in a well-formed result contradicts what the grading machine knows, or None."""
    mine = [name for name in GRADING_MACHINE_FIELDS if name in document]
    if mine:
        return f"it names {', '.join(mine)}, which only the grading machine records"
    if document["schema"] != result_module.SCHEMA:
        return f"its schema is {document['schema'][:60]!r}"
    if document["status"] not in ("graded", "timeout", "kernel_died", "invalid"):
        return f"its status is {document['status'][:60]!r}"
    if document["notebook"] != notebook:
        return f"it is the result of {document['notebook'][:200]!r}, not of {notebook!r}"
    if exercise is None or document["exercise"] is None:
        if document["status"] != "invalid" or document["checks"] or document["score"] or document["max_score"]:
            return "it grades an exercise the grading machine did not ask for"
        return None
    if document["exercise"] != exercise.id:
        return f"it is graded against {document['exercise'][:80]!r}, not {exercise.id!r}"
    checks = document["checks"]
    if [check["id"] for check in checks] != list(exercise.points):
        return f"its checks are not {exercise.id}'s"
    for check in checks:
        if check["max_points"] != exercise.points[check["id"]] or \
                check["points"] != (check["max_points"] if check["passed"] else 0.0):
            return f"{check['id']}'s points are not the rubric's"
    if document["score"] != round(sum(check["points"] for check in checks), 2) or \
            document["max_score"] != exercise.max_score:
        return "its score is not the sum of its checks' points"
    causes = {cause["id"] for cause in document.get("causes", [])}
    if any(check.get("cause") not in (None, *causes) for check in checks):
        return "a check points at a cause it does not have"
    accuracy = document["metrics"].get("test_accuracy")
    if accuracy is not None and not 0.0 <= accuracy <= 1.0:
        return f"its accuracy is {accuracy}"
    if document["status"] != "invalid" and \
            (document.get("isolation"), document.get("network")) != ("bubblewrap", "own"):
        return "it was not graded in bubblewrap, as a cluster's workers must grade"
    return None
