"""provenance.py: which of the lesson's rows an array holds, and whether its labels belong to them.
Pure numpy, on small lessons made here (the recorder runs the same code in the student's kernel)."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings, strategies as st

from autograder.protocol import FLAT_SIZE
from autograder.sandbox import provenance


def small_lesson(train: int = 12, test: int = 6, seed: int = 0) -> dict[str, np.ndarray]:
    """A lesson of distinct random images (28x28x1, as the lesson's file holds them) and one-hot labels."""
    rng = np.random.default_rng(seed)
    images = rng.random((train + test, 28, 28, 1)).astype(np.float32)
    labels = np.eye(3, dtype=np.float32)[rng.integers(0, 3, train + test)]
    return {"train_data": images[:train], "train_labels": labels[:train],
            "test_data": images[train:], "test_labels": labels[train:]}


LESSON = small_lesson()
PRISTINE = provenance.index_lesson(LESSON)


def flat(images: np.ndarray) -> np.ndarray:
    return images.reshape(len(images), FLAT_SIZE)


def expand(runs: list[list[int]]) -> list[int]:
    return [index for start, stop in runs for index in range(start, stop)]


@given(st.lists(st.integers(0, 200), unique=True).map(sorted))
def test_runs_are_the_indices_in_order_and_as_few_as_can_be(indices):
    runs = provenance.ranges(indices)
    assert expand(runs) == indices
    assert all(start < stop for start, stop in runs)
    assert all(earlier[1] < later[0] for earlier, later in zip(runs, runs[1:]))  # never two that touch


@given(st.lists(st.integers(0, 30)))
def test_runs_of_any_order_keep_every_index_in_its_place(indices):
    assert expand(provenance.ranges(indices)) == indices


@settings(max_examples=50, deadline=None)
@given(train=st.lists(st.integers(0, 11), max_size=12), test=st.lists(st.integers(0, 5), max_size=6),
       unknown=st.integers(0, 4), seed=st.integers(0, 2**32 - 1))
def test_rows_are_known_wherever_they_are_and_in_whatever_order(train, test, unknown, seed):
    rng = np.random.default_rng(seed)
    chosen = [("train", i) for i in train] + [("test", i) for i in test] + [("new", i) for i in range(unknown)]
    order = rng.permutation(len(chosen)) if chosen else np.array([], dtype=int)
    chosen = [chosen[i] for i in order]
    fresh = rng.random((unknown, FLAT_SIZE)).astype(np.float32) + 2.0  # outside the lesson's [0, 1)
    rows = [flat(LESSON[f"{split}_data"])[i] if split != "new" else fresh[i] for split, i in chosen]
    array = np.stack(rows) if rows else np.zeros((0, FLAT_SIZE), np.float32)
    matched = provenance.match_rows(array, PRISTINE)
    assert matched is not None and matched["unknown"] == unknown
    for split in ("train", "test"):
        expected = [i for s, i in chosen if s == split]
        assert matched["_index"][split] == expected
        assert expand(matched[split]) == expected


def test_a_copy_in_another_dtype_or_shape_is_the_same_rows_and_a_changed_one_is_not():
    images = LESSON["test_data"]
    as_float64 = provenance.match_rows(flat(images).astype(np.float64), PRISTINE)
    assert as_float64 is not None and as_float64["test"] == [[0, 6]] and as_float64["unknown"] == 0
    scaled = provenance.match_rows(flat(images) / 255.0, PRISTINE)
    assert scaled is not None and scaled["test"] == [] and scaled["unknown"] == 6
    whole_images = provenance.describe(images, ["test_data"], PRISTINE)
    assert whole_images is not None and whole_images["rows"]["test"] == [[0, 6]]  # 28x28x1 is 784 values a row


def test_arrays_too_long_or_not_of_numbers_are_not_matched():
    assert provenance.match_rows(np.zeros((provenance.MAX_ROWS_MATCHED + 1, FLAT_SIZE), np.uint8), PRISTINE) is None
    assert provenance.match_rows(np.full((2, FLAT_SIZE), "a"), PRISTINE) is None


def test_labels_belong_to_the_images_they_were_given_with():
    images = provenance.describe(flat(LESSON["train_data"][3:9]), ["x"], PRISTINE)
    assert images is not None
    one_hot = provenance.match_labels(LESSON["train_labels"][3:9], images, PRISTINE)
    assert one_hot == {"form": "one-hot", "matches": True, "split": "train"}
    class_ids = provenance.match_labels(LESSON["train_labels"][3:9].argmax(axis=1), images, PRISTINE)
    assert class_ids == {"form": "class-ids", "matches": True, "split": "train"}
    shifted = provenance.match_labels(LESSON["train_labels"][4:10], images, PRISTINE)
    assert shifted == {"form": "one-hot", "matches": False, "split": "train"}  # the next image's labels
    assert provenance.match_labels(np.zeros((6, 5)), images, PRISTINE) == {"form": "other"}


def test_labels_of_images_of_unknown_origin_are_compared_with_the_whole_set():
    unknown = provenance.describe(np.ones((6, FLAT_SIZE), np.float32) * 7, ["x"], PRISTINE)
    assert unknown is not None and unknown["rows"]["unknown"] == 6
    labels = provenance.match_labels(LESSON["test_labels"], unknown, PRISTINE)
    assert labels == {"form": "one-hot", "matches": True, "split": "test"}


def test_describe_says_what_it_can_of_anything():
    assert provenance.describe(None, [], PRISTINE) is None
    assert provenance.describe(object(), ["thing"], PRISTINE) == {"type": "object", "names": ["thing"]}
    assert provenance.describe(np.float32(3), [], PRISTINE) == {"type": "float32", "names": [], "shape": [],
                                                                 "dtype": "float32"}
    small = provenance.describe([[1, 2], [3, 4]], ["rows"], PRISTINE)
    assert small == {"type": "list", "names": ["rows"], "shape": [2, 2], "dtype": "int64"}  # not images: no rows
    without_lesson = provenance.describe(flat(LESSON["test_data"]), ["x"], None)
    assert without_lesson is not None and "rows" not in without_lesson


def test_strip_index_drops_the_row_numbers_at_every_depth_and_keeps_the_rest():
    images = provenance.describe(flat(LESSON["test_data"]), ["x"], PRISTINE)
    fields = provenance.strip_index({"x": images, "validation_data": {"x": images}, "settings": {"epochs": 1}})
    assert "_index" not in fields["x"]["rows"] and "_index" not in fields["validation_data"]["x"]["rows"]
    assert fields["x"]["rows"]["test"] == [[0, 6]] and fields["settings"] == {"epochs": 1}
    assert images is not None and "_index" in images["rows"]  # the original is left as it was


def test_the_lesson_file_is_read_once_and_an_unreadable_one_is_none(tmp_path):
    path = tmp_path / "fashion.npz"
    np.savez(path, **LESSON)
    read = provenance.load_lesson(str(path))
    assert read is not None and read["rows"] == PRISTINE["rows"] and len(read["rows"]) == 18
    (tmp_path / "broken.npz").write_bytes(b"not a zip")
    assert provenance.load_lesson(str(tmp_path / "broken.npz")) is None
    assert provenance.load_lesson(str(tmp_path / "missing.npz")) is None


def test_a_duplicated_image_is_known_by_its_first_row():
    lesson = {**LESSON, "test_data": np.concatenate([LESSON["train_data"][:1], LESSON["test_data"][1:]])}
    pristine = provenance.index_lesson(lesson)
    matched = provenance.match_rows(flat(lesson["test_data"][:1]), pristine)
    assert matched is not None and matched["train"] == [[0, 1]] and matched["test"] == []
