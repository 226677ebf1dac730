"""Similar submissions: which students of an exercise share what honest students cannot.

`grade` compares each exercise's submissions with one another, in the grading process, on the
notebook files only (their code, text, cell ids, metadata and stored outputs; nothing is run),
and lists the pairs or groups that share more than chance allows in summary.json's `similar`
and under "Look at these" in summary.html (DESIGN.md, "Similar submissions"; docs/similarity.md).

The lesson prints its own solution, so honest students' code is nearly identical: everything the
lesson, its usual variants and the released notebook give is the base, and is subtracted first
(base.py, commonplace.py). The stages, each a module:

- reading.py: the notebook file, outputs included, bounded;
- normalise.py: code cells as normalised statements (formatting, comments, keyword order gone);
- fingerprint.py: variables translated to the lesson's names, each token weighed by how far it is
  from the base, k-gram fingerprints;
- text.py: comments, messages and markdown as word shingles; forensics.py: cell ids, run records,
  run-specific outputs;
- grouping.py: an inverted index of all features, pair points and scores, groups;
- wording.py: the evidence in words and the shared lines side by side.
"""
from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ..exercise.registry import Exercise
from . import base as base_module, forensics, grouping, text, wording
from .base import ExerciseBase, GivenBase
from .fingerprint import CodePrint, Novelty, code_print, hashes, translate
from .normalise import Statement, read_code
from .reading import Unreadable, read

#: Names students commonly give their variables: the same one in two notebooks says nothing.
COMMON_NAMES = frozenset("""
x_train y_train x_test y_test x_val y_val train_x train_y test_x test_y train_images test_images
train_imgs test_imgs train_flat test_flat flat_train flat_test train_data_flat test_data_flat
x_train_flat x_test_flat train_1d test_1d train_data_1d test_data_1d train_data_2d test_data_2d
train_vectors test_vectors num_classes n_classes class_names input_shape input_dim test_acc
test_loss train_acc train_loss val_acc val_loss test_accuracy train_accuracy val_accuracy y_pred
y_true y_hat pred_labels true_labels predicted_labels predicted_classes true_classes pred_classes
my_model my_net model_1 model_2 model1 model2 deep_model deeper_model cnn_model dense_model
build_model make_model create_model get_model build_network make_network create_network build_net
build_classifier train_model evaluate_model plot_history plot_loss
plot_accuracy plot_curves plot_images show_images show_image display_images show_predictions
plot_predictions flatten flatten_images reshape_data preprocess preprocess_data normalize normalise
load_data prepare_data one_hot plot_image plot_value_array probability_model predictions_single
num_rows num_cols num_images
""".split())


@dataclass(frozen=True)
class Submitted:
    """One submission to compare: whose, of which exercise, and its file's bytes."""

    student: str
    exercise: str
    content: bytes


def unusual_names(own: set[str], defined: set[str], methods: Iterable[str] = ()) -> dict[str, float]:
    """Names of the student's own that two people would not pick by chance, with their weight:
    the functions and classes they define (grouping.DEFINED_WEIGHT), and long variable names
    joined with underscores, digits or capitals (grouping.NAME_WEIGHT); never the usual ones,
    nor methods (a callback's `on_epoch_end` is Keras' name)."""
    found = {}
    for name in (own | defined) - set(methods):
        if name.lower() in COMMON_NAMES or name.startswith("_"):
            continue
        if name in defined and len(name) >= 5:
            found[name] = grouping.DEFINED_WEIGHT
        elif name in own and len(name) >= 6 and re.search(r"[_\d]|[a-z][A-Z]", name):
            found[name] = grouping.NAME_WEIGHT
    return found


@dataclass
class Draft:
    """A notebook read and translated, before its code is weighed against the class."""

    item: grouping.Prepared
    statements: list[Statement]


def read_submission(student: str, content: bytes, exercise_base: ExerciseBase) -> Draft | None:
    """A notebook's code translated, its words, names and records; None for a file that is not a notebook."""
    try:
        notebook = read(content)
    except Unreadable:
        return None
    code_cells = [(cell.index, cell.source) for cell in notebook.cells if cell.kind == "code"]
    code = read_code(code_cells, exercise_base.code.names)
    statements, own_names = translate(code.statements, exercise_base.code)
    words = [body for _, body in code.prose] + [cell.source for cell in notebook.cells if cell.kind != "code"]
    features = forensics.notebook_features(notebook, hashlib.sha256(content).hexdigest())
    features = {key: feature for key, feature in features.items() if key not in exercise_base.records
                and not (key.startswith("id:") and key[3:] in exercise_base.cell_ids)}
    item = grouping.Prepared(student=student, code=CodePrint(own_names=own_names),
                             text=text.own_text(words, exercise_base.prose),
                             names=unusual_names(own_names, code.defined, code.methods), features=features)
    return Draft(item, statements)


def weighed(draft: Draft, novelty: Novelty, shared: Callable[[int], bool] = lambda _: True) -> grouping.Prepared:
    """The draft with its code's fingerprints weighed (those `shared` says another notebook has)."""
    draft.item.code = code_print(draft.statements, novelty, shared, draft.item.code.own_names)
    return draft.item


def prepare(student: str, content: bytes, exercise_base: ExerciseBase,
            novelty: Novelty) -> grouping.Prepared | None:
    """One notebook as the comparison sees it, every fingerprint weighed, its code cells kept to
    show; None if it is not a notebook."""
    draft = read_submission(student, content, exercise_base)
    if draft is None:
        return None
    item = weighed(draft, novelty)
    item.sources = code_sources(content)
    return item


def code_sources(content: bytes) -> dict[int, str]:
    """A notebook's code cells by index, read again for the pairs listed (to show their lines):
    holding every student's code until the end would cost the class's memory for a few pairs."""
    return {cell.index: cell.source for cell in read(content).cells if cell.kind == "code"}


def compare_exercise(exercise_id: str, submissions: list[Submitted], exercise_base: ExerciseBase) -> list[dict]:
    """The groups of one exercise's submissions, as summary.json lists them."""
    contents = {s.student: s.content for s in submissions}
    drafts = [d for d in (read_submission(s.student, s.content, exercise_base) for s in submissions) if d is not None]
    sharing: Counter[int] = Counter()
    for draft in drafts:
        sharing.update({value for statement in draft.statements for value in hashes(statement.tokens)})
    novelty = Novelty(exercise_base.code)
    items = [weighed(draft, novelty, lambda value: sharing[value] >= 2) for draft in drafts]
    sharing.clear()  # the class's k-gram counts are not needed past here
    listed = []
    for group in grouping.groups(grouping.pairs(items)):
        for pair in group:
            for member in (items[pair.first], items[pair.second]):
                member.sources = member.sources or code_sources(contents[member.student])
        students = sorted({items[p.first].student for p in group} | {items[p.second].student for p in group})
        described, evidence = [], []
        for pair in group:
            a, b = items[pair.first], items[pair.second]
            rows, unusual = wording.shared_code(a, b)
            said = wording.evidence(pair, a, b, rows, unusual)
            described.append({"students": [a.student, b.student], "score": round(pair.score, 2),
                              "evidence": said, "shared_lines": rows})
            evidence.extend(said if len(students) == 2 else [f"{a.student} and {b.student}: {s}" for s in said])
        listed.append({"students": students, "exercise": exercise_id,
                       "score": round(max(p.score for p in group), 2), "evidence": evidence,
                       "pairs": described})
    return listed


def compare(submissions: Iterable[Submitted], exercise_of: Callable[[str], Exercise | None],
            given: Iterable[GivenBase] = ()) -> list[dict]:
    """Every exercise's groups, most alike first within each exercise. `exercise_of(id)` is the
    exercise an id stands for (None for one the grader does not know: compared on the lesson's
    base and what was given)."""
    given = list(given)  # read for every exercise
    by_exercise: dict[str, list[Submitted]] = {}
    for submission in submissions:
        by_exercise.setdefault(submission.exercise, []).append(submission)
    listed: list[dict] = []
    for exercise_id in sorted(by_exercise):
        members = sorted(by_exercise[exercise_id], key=lambda s: s.student)
        if len(members) < 2:
            continue
        exercise_base = base_module.build(exercise_of(exercise_id), given)
        listed.extend(compare_exercise(exercise_id, members, exercise_base))
    return listed
