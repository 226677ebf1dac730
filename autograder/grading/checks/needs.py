"""Preconditions of checks (`@check(id, needs=...)`): what a check needs before it can judge,
or the failing verdict that says why it is missing."""
from __future__ import annotations

from ...modelfile import StructureRecord
from ..facts import Facts
from ..phrasing import call_location, explain_error, join, model_subject, why_missing
from .registry import Outcome

#: Words of the code that builds a model, to find the error that kept it from being built.
MODEL_WORDS = ("Sequential", "Dense", "Model(", "Input", "model")
MODEL_HINT = "Build the network with keras' Sequential model and Dense layers, as in the lesson."
COMPILE_HINT = ("Compile before training: `model.compile(loss='categorical_crossentropy', "
                "optimizer='adam', metrics=['accuracy'])`.")


def _missing_model(facts: Facts) -> str:
    """Why the graded model has no structure to judge."""
    model = facts.graded
    if model is None:
        if any(not m["saved"] for m in facts.models.values()):
            return "A model was built, but it could not be saved for grading."
        return join("No Keras model was found in the notebook.", why_missing(facts, MODEL_WORDS))
    name = model_subject(facts, facts.graded_model)
    if model["problems"]:
        return (f"{name} cannot be graded safely "
                f"because {' and '.join(model['problems'])}; use Keras' built-in layers and "
                "activations, named by string (for example activation='relu').")
    return f"{name} could not be read back."


def readable_model(facts: Facts) -> StructureRecord | Outcome:
    """The graded model's structure, when it was saved, is safe and could be read."""
    graded = facts.graded
    structure = facts.graded_structure
    if graded is not None and not graded["problems"] and structure:
        return structure
    return Outcome(False, _missing_model(facts), MODEL_HINT)


def compiled_model(facts: Facts) -> StructureRecord | Outcome:
    """The graded model's structure, when it is readable and was compiled."""
    structure = readable_model(facts)
    if isinstance(structure, Outcome) or structure["compiled"]:
        return structure
    compiles = facts.calls_of("compile", facts.graded_model)
    failed = [c for c in compiles if c["finished"] is False and c["error"]]
    if failed:
        call = failed[-1]
        error = call["error"]
        ename, evalue = (error["ename"], error["evalue"]) if error else ("", "")
        return Outcome(False, f"`compile` ({call_location(facts, call)}) raised "
                              f"{ename}: {explain_error(ename, evalue)}.", COMPILE_HINT)
    return Outcome(False, join(f"{model_subject(facts, facts.graded_model)} was never compiled.",
                               why_missing(facts, ("compile(",))), COMPILE_HINT)
