"""How often the similarity comparison lists honest students, whether it finds planted copies in
a large class, and what a large class costs it.

    .venv/bin/python benchmarks/similarity.py [--classes 10] [--size 60] [--large 1000]

Honest classes are drawn from tests/similarity_class.py: students who each typed the lesson's
code their own way (names, formatting, comments, cell order, the released notebook or a fresh
one, extras), a fifth of them with one of the usual mistakes, each with the stored outputs and
cell ids of their own run; the first also holds the test class's honest students (their own
styles, the usual mistakes made twice each). The corpus's equivalent forms and usual mistakes
(tests/corpus.py) make one more class. Every listed pair of these is a false positive. The test
class's planted copies are then hidden in a large honest class: each must still be listed. No
notebook is run: the comparison reads files only.
"""
from __future__ import annotations

import argparse
import resource
import time
from itertools import combinations

from common import machine  # noqa: F401 - puts tests/ on the path

import similarity_class as made
from autograder.exercise.registry import EXERCISES
from autograder.similarity import Submitted, base, compare, grouping, read_submission, weighed
from autograder.similarity.fingerprint import Novelty


def honest(count: int, tag: str) -> dict[str, bytes]:
    return {f"{tag}-{n:04d}": made.honest_student(f"{tag}-{n:04d}", mistakes=0.2).bytes() for n in range(count)}


def corpus_class() -> dict[str, bytes]:
    """Every equivalent form and usual mistake of the test corpus (tests/corpus.py), once each, as
    students who wrote them apart would hand them in (fresh notebooks, no outputs)."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    from corpus import EQUIVALENT, MISTAKES

    return {case.name: nbformat.writes(new_notebook(cells=[new_code_cell(c) for c in case.cells])).encode()
            for case in EQUIVALENT + MISTAKES if case.exercise == "keras-dense"}


def listed_pairs(groups: list[dict]) -> set[tuple[str, str]]:
    return {tuple(sorted(pair["students"])) for group in groups for pair in group["pairs"]}


def strongest(files: dict[str, bytes]) -> float:
    """The most points any pair of the class has, listed or not (grouping.THRESHOLD lists)."""
    exercise_base = base.build(EXERCISES["keras-dense"], [])
    novelty = Novelty(exercise_base.code)
    items = [weighed(draft, novelty) for draft in (read_submission(name, content, exercise_base)
                                                    for name, content in files.items()) if draft is not None]
    return max((pair.total for pair in grouping.pairs(items, threshold=0.0)), default=0.0)


def run(files: dict[str, bytes]) -> tuple[list[dict], float]:
    started = time.monotonic()
    groups = compare([Submitted(name, "keras-dense", content) for name, content in files.items()], EXERCISES.get)
    return groups, time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--size", type=int, default=60)
    parser.add_argument("--large", type=int, default=1000)
    args = parser.parse_args()
    compared = flagged = 0
    highest = most_points = 0.0
    for number in range(args.classes):
        files = honest(args.size, f"c{number}")
        files.update(made.honest_class() if number == 0 else {})
        groups, seconds = run(files)
        pairs = listed_pairs(groups)
        compared += len(list(combinations(files, 2)))
        flagged += len(pairs)
        highest = max([highest] + [pair["score"] for group in groups for pair in group["pairs"]])
        points = strongest(files)
        most_points = max(most_points, points)
        print(f"honest class {number}: {len(files)} students, {len(pairs)} pairs listed, {seconds:.2f} s, "
              f"strongest pair {points:.1f} points (listed from {grouping.THRESHOLD:g})"
              + "".join(f"\n  {group['students']} {group['score']}: {group['evidence'][:2]}" for group in groups))
    print(f"honest classes: {flagged} of {compared} pairs listed (false-positive rate {flagged / compared:.2e}); "
          f"the strongest honest pair had {most_points:.1f} points, a score of "
          f"{most_points / (most_points + grouping.THRESHOLD):.2f}")
    files = corpus_class()
    groups, seconds = run(files)
    print(f"the corpus's {len(files)} equivalent forms and usual mistakes: {len(listed_pairs(groups))} of "
          f"{len(list(combinations(files, 2)))} pairs listed, strongest pair {strongest(files):.1f} points"
          + "".join(f"\n  {group['students']} {group['score']}" for group in groups))
    files = honest(args.large, "big")
    files.update(made.planted_class())
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    groups, seconds = run(files)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    pairs = listed_pairs(groups)
    wanted = {tuple(sorted(p)) for p in made.PLANTED_PAIRS} | {
        tuple(sorted(p)) for p in combinations(made.PLANTED_GROUP, 2)}
    planted = {name for pair in wanted for name in pair}
    print(f"large class: {len(files)} students in {seconds:.1f} s, peak memory {after / 1024:.0f} MiB "
          f"(+{(after - before) / 1024:.0f} MiB); planted pairs found: {len(wanted & pairs)} of {len(wanted)}; "
          f"honest pairs listed: {len([p for p in pairs if not set(p) <= planted])}")


if __name__ == "__main__":
    main()
