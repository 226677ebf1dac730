"""Pairs and groups of one exercise's submissions that share what honest students cannot.

Every submission is reduced to features, each with a weight (what it says) and a kind:
its code's fingerprints (fingerprint.py), its own words (text.py), its own unusual names, and
what its file records of the run and the editor (forensics.py). An inverted index finds who
shares each feature, so a class is never compared pair by pair: a feature shared by more than
`common_above(n)` notebooks is common knowledge (a hint on the course forum, a template with
outputs) and says nothing about any pair, and one shared by a few weighs less the more share it.

A pair's points are the weights of what its two notebooks share, each kind capped; its score is
points / (points + THRESHOLD), in 0..1, and a pair is listed from THRESHOLD points (a score of 0.5)
on. Listed pairs that share a student are one group. The points are calibrated on honest classes
(benchmarks/similarity.py): what the lesson, the released notebook and their usual variants give
weighs nothing, and what two honest students share by chance stays well below the threshold.
"""
from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

from . import forensics
from .fingerprint import CodePrint

THRESHOLD = 10.0
#: A feature shared by more notebooks than this is common: max(COMMON_MIN, COMMON_SHARE of the class).
COMMON_MIN = 8
COMMON_SHARE = 0.05
#: Weights and caps of the kinds that are not forensics': a shingle of words, an unusual name
#: (a function or class the student defined weighs more than a variable).
TEXT_WEIGHT, TEXT_CAP = 0.5, 10.0
NAME_WEIGHT, DEFINED_WEIGHT, NAME_CAP = 2.0, 4.0, 8.0
CODE = "code"
TEXT = "text"
NAMES = "names"
CAPS = {TEXT: TEXT_CAP, NAMES: NAME_CAP, **forensics.CAPS}


@dataclass
class Prepared:
    """One submission reduced to what the comparison needs."""

    student: str
    code: CodePrint
    text: dict[int, str] = field(default_factory=dict)  # shingle -> the text it came from
    names: dict[str, float] = field(default_factory=dict)  # unusual names of the student's own -> weight
    features: dict[str, forensics.Feature] = field(default_factory=dict)
    sources: dict[int, str] = field(default_factory=dict)  # code cell index -> source, read for listed pairs


@dataclass
class Pair:
    first: int
    second: int
    points: dict[str, float]

    @property
    def total(self) -> float:
        return sum(self.points.values())

    @property
    def score(self) -> float:
        return self.total / (self.total + THRESHOLD)


def common_above(students: int) -> int:
    return max(COMMON_MIN, math.ceil(COMMON_SHARE * students))


def rarity(sharing: int) -> float:
    """How much a feature of a student's own work says when `sharing` notebooks have it: all of
    it for a pair or a group of three, less for more (a variant a few found independently)."""
    return min(1.0, 3.0 / sharing)


def _keyed(item: Prepared) -> dict[str, tuple[str, float]]:
    """Every feature of a submission: key -> (kind, weight)."""
    keyed: dict[str, tuple[str, float]] = {f"g{value}": (CODE, weight) for value, weight in item.code.grams.items()}
    keyed.update((f"t{value}", (TEXT, TEXT_WEIGHT)) for value in item.text)
    keyed.update((f"n{name}", (NAMES, weight)) for name, weight in item.names.items())
    keyed.update((key, (feature.kind, feature.weight)) for key, feature in item.features.items())
    return keyed


def pairs(items: list[Prepared], threshold: float = THRESHOLD) -> list[Pair]:
    """The pairs that reach `threshold` points, strongest first (THRESHOLD: those listed)."""
    index: dict[str, list[tuple[int, float]]] = defaultdict(list)
    kinds: dict[str, str] = {}
    for number, item in enumerate(items):
        for key, (kind, weight) in _keyed(item).items():
            index[key].append((number, weight))
            kinds[key] = kind
    limit = common_above(len(items))
    points: dict[tuple[int, int], dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for key, holders in index.items():
        if not 2 <= len(holders) <= limit:
            continue
        kind = kinds[key]
        factor = 1.0 if kind in forensics.WEIGHTS else rarity(len(holders))
        for a in range(len(holders)):
            for b in range(a + 1, len(holders)):
                (first, weight_a), (second, weight_b) = holders[a], holders[b]
                points[(first, second)][kind] += min(weight_a, weight_b) * factor
    found = []
    for (first, second), tally in points.items():
        capped = {kind: min(value, CAPS.get(kind, math.inf)) for kind, value in tally.items()}
        pair = Pair(first, second, capped)
        if pair.total >= threshold:
            found.append(pair)
    found.sort(key=lambda p: (-p.total, items[p.first].student, items[p.second].student))
    return found


def groups(found: list[Pair]) -> list[list[Pair]]:
    """Listed pairs joined into groups: those that share a student are one group."""
    parent: dict[int, int] = {}

    def root(node: int) -> int:
        while parent.setdefault(node, node) != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for pair in found:
        parent[root(pair.first)] = root(pair.second)
    joined: dict[int, list[Pair]] = defaultdict(list)
    for pair in found:
        joined[root(pair.first)].append(pair)
    return sorted(joined.values(), key=lambda group: -max(p.total for p in group))
