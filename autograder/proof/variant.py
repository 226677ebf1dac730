"""A variant of the solution: a mutant (one typical mistake) or an equivalent (another correct
form), as a notebook to grade, with what its grade must show."""
from __future__ import annotations

from dataclasses import dataclass, field

import nbformat


@dataclass(frozen=True)
class Requirement:
    """What a mutant's grade must show: it loses points on one of `checks` (each worth points),
    and the explanation of that check (its cause, or its own message) matches `names`."""

    #: The checks that cover the mistake: at least one must fail and cost points.
    checks: tuple[str, ...]
    #: The exercise file's key the mistake breaks, as the report names it: 'compile.loss',
    #: 'model.layers[1].activation', 'threshold'.
    expectation: str
    #: A regular expression (case-insensitive) the explanation must match: that it names the
    #: mistake. None: the failing check is explanation enough.
    names: str | None = None


@dataclass
class Variant:
    """One notebook the proof grades: `id` is its name in the proof, `description` the change in words."""

    id: str
    description: str
    notebook: nbformat.NotebookNode
    #: For a mutant: what its grade must show (all of them). An equivalent has none: full marks.
    requirements: tuple[Requirement, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Skipped:
    """A variant the solution's code gives no place for, and why (it is reported, not graded)."""

    id: str
    description: str
    reason: str
