"""The data module: validation, the Fashion-MNIST subset (as a pure function), the stand-in."""
from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest

from autograder import data


def lesson_arrays(n=12, m=6):
    rng = np.random.default_rng(0)
    classes = np.arange(n) % 3
    test_classes = np.arange(m) % 3
    return {
        "train_data": rng.random((n, 28, 28, 1), dtype=np.float32),
        "train_labels": data.one_hot(classes),
        "test_data": rng.random((m, 28, 28, 1), dtype=np.float32),
        "test_labels": data.one_hot(test_classes),
    }


def test_valid_arrays_pass():
    data.validate(lesson_arrays())


@pytest.mark.parametrize("change, message", [
    (lambda a: a.pop("test_labels"), "missing arrays test_labels"),
    (lambda a: a.update(train_data=a["train_data"].reshape(12, 784)), "train_data has shape (12, 784)"),
    (lambda a: a.update(train_data=a["train_data"].astype(np.float64)), "train_data has dtype float64"),
    (lambda a: a.update(test_data=a["test_data"] * 255), "outside [0, 1]"),
    (lambda a: a.update(train_labels=a["train_labels"][:, :2]), "expected (n, 3) one-hot"),
    (lambda a: a.update(train_labels=a["train_labels"] * 0.5), "row 0 is not one-hot"),
    (lambda a: a.update(test_labels=a["test_labels"].astype(np.float32)), "test_labels has dtype float32"),
    (lambda a: a.update(train_labels=a["train_labels"][:10]), "12 images but train_labels has 10 rows"),
    (lambda a: a.update(train_labels=data.one_hot(np.zeros(12, dtype=int))), "no example of dress, shoe"),
])
def test_validation_names_the_problem(change, message):
    arrays = lesson_arrays()
    change(arrays)
    with pytest.raises(data.DataError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")
                       .replace("]", r"\]")):
        data.validate(arrays)


def test_load_rejects_files_that_are_not_lesson_data(tmp_path):
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"not a zip at all")
    with pytest.raises(data.DataError, match="not a readable npz"):
        data.load(garbage)
    with pytest.raises(data.DataError, match="cannot read data file"):
        data.load(tmp_path / "absent.npz")
    with pytest.raises(data.DataError, match="is not a file"):
        data.load(tmp_path)
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, train_data=np.array([object()], dtype=object))
    with pytest.raises(data.DataError):
        data.load(pickled)
    single = tmp_path / "single.npy"
    np.save(single, np.zeros(3))
    with pytest.raises(data.DataError, match="single array"):
        data.load(single)


def test_save_and_load_round_trip(tmp_path):
    lesson = data.LessonData(**lesson_arrays(), source="test")
    lesson.save(tmp_path / "fashion.npz")
    again = data.load(tmp_path / "fashion.npz")
    for key in data.KEYS:
        np.testing.assert_array_equal(getattr(again, key), getattr(lesson, key))


def fake_release(per_class=20, test_per_class=5):
    """Arrays shaped like the Fashion-MNIST release: uint8 images, class ids 0-9."""
    classes = np.repeat(np.arange(10), per_class)
    test_classes = np.repeat(np.arange(10), test_per_class)
    images = (classes[:, None, None] * 25 + np.zeros((1, 28, 28))).astype(np.uint8)
    test_images = (test_classes[:, None, None] * 25 + np.zeros((1, 28, 28))).astype(np.uint8)
    return images, classes, test_images, test_classes


def test_lesson_subset_selects_and_formats_the_three_classes():
    images, classes, test_images, test_classes = fake_release()
    lesson = data.lesson_subset(images, classes, test_images, test_classes, n_train=45, n_test=12)
    data.validate(lesson.arrays())
    assert lesson.train_data.shape == (45, 28, 28, 1) and lesson.train_data.dtype == np.float32
    assert lesson.test_labels.shape == (12, 3) and lesson.test_labels.dtype == np.float64
    # each image's brightness encodes its Fashion-MNIST class: 0 -> t-shirt, 3 -> dress, 7 -> sneaker
    original = np.rint(lesson.train_data[:, 0, 0, 0] * 255 / 25).astype(int)
    column = lesson.train_labels.argmax(axis=1)
    assert set(original) <= {0, 3, 7}
    assert all({0: 0, 3: 1, 7: 2}[o] == c for o, c in zip(original, column))
    assert lesson.train_data.max() <= 1.0
    again = data.lesson_subset(images, classes, test_images, test_classes, n_train=45, n_test=12)
    np.testing.assert_array_equal(again.train_data, lesson.train_data)  # deterministic


def test_lesson_subset_refuses_too_few_images():
    images, classes, test_images, test_classes = fake_release(per_class=2)
    with pytest.raises(data.DataError, match="only 6 images"):
        data.lesson_subset(images, classes, test_images, test_classes, n_train=600, n_test=3)


def idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return gzip.compress(header + array.astype(np.uint8).tobytes())


def test_parse_idx_reads_the_release_format():
    images = np.arange(2 * 28 * 28).reshape(2, 28, 28) % 256
    np.testing.assert_array_equal(data.parse_idx(idx_bytes(images)), images)
    labels = np.array([0, 3, 7])
    np.testing.assert_array_equal(data.parse_idx(idx_bytes(labels)), labels)
    with pytest.raises(data.DataError):
        data.parse_idx(b"\x00\x00\x0d\x01garbage")
    with pytest.raises(data.DataError, match="declares shape"):
        data.parse_idx(idx_bytes(images)[:-50] if False else gzip.compress(gzip.decompress(idx_bytes(images))[:-5]))


def test_standin_is_deterministic_labelled_and_in_format():
    first, second = data.make_standin(), data.make_standin()
    data.validate(first.arrays())
    for key in data.KEYS:
        np.testing.assert_array_equal(getattr(first, key), getattr(second, key))
    assert first.train_data.shape == (600, 28, 28, 1) and first.test_data.shape == (100, 28, 28, 1)
    counts = first.train_labels.sum(axis=0)
    assert counts.min() > 150  # every class well represented
    means = [first.train_data[first.train_labels[:, c] == 1].mean(axis=0) for c in range(3)]
    assert min(np.abs(means[a] - means[b]).mean() for a, b in ((0, 1), (0, 2), (1, 2))) > 0.02
    other = data.make_standin(seed=1)
    assert not np.array_equal(other.train_data, first.train_data)


def test_fetch_writes_the_lesson_and_a_holdout_of_the_releases_other_images(tmp_path):
    """A release served from a folder (file://), with every test image of the lesson's classes also
    copied into its training part: the holdout must leave out each picture the lesson holds,
    wherever in the release it also appears."""
    from conftest import run_cli

    rng = np.random.default_rng(3)
    test_classes = rng.integers(0, 10, 2000)
    test_images = rng.integers(0, 256, (2000, 28, 28), dtype=np.uint8)
    lesson_kind = np.isin(test_classes, data.FASHION_MNIST_CLASSES)
    train_classes = np.concatenate([rng.integers(0, 10, 6000), test_classes[lesson_kind]])
    train_images = np.concatenate([rng.integers(0, 256, (6000, 28, 28), dtype=np.uint8), test_images[lesson_kind]])
    release = tmp_path / "release"
    release.mkdir()
    for name, array in (("train_images", train_images), ("train_labels", train_classes),
                        ("test_images", test_images), ("test_labels", test_classes)):
        (release / data.FASHION_MNIST_FILES[name]).write_bytes(idx_bytes(array))
    out = tmp_path / "fashion.npz"
    completed = run_cli("data", "fetch", "--out", str(out), "--release", release.as_uri() + "/")
    assert completed.returncode == 0, completed.stderr
    lesson, hidden = data.load(out), data.load_holdout(tmp_path / "fashion-holdout.npz")
    assert len(hidden.test_labels) == data.HOLDOUT_SIZE
    in_lesson = data.row_digests(lesson.train_data) | data.row_digests(lesson.test_data)
    assert not data.row_digests(hidden.test_data) & in_lesson
    assert len(data.row_digests(hidden.test_data)) == data.HOLDOUT_SIZE  # each picture once
    pixels = np.round(hidden.test_data[..., 0] * 255).astype(np.uint8)
    by_picture = {image.tobytes(): cls for image, cls in zip(np.concatenate([train_images, test_images]),
                                                             np.concatenate([train_classes, test_classes]))}
    assert [data.FASHION_MNIST_CLASSES[c] for c in hidden.classes] == [by_picture[p.tobytes()] for p in pixels]

    own = tmp_path / "own" / "lesson.npz"  # an instructor's own lesson file: its holdout is written beside it
    own.parent.mkdir()
    data.LessonData(lesson.train_data[:300], lesson.train_labels[:300], hidden.test_data[:50],
                    hidden.test_labels[:50], "own").save(own)
    # offline, from a local copy of the release: a plain folder
    completed = run_cli("data", "holdout", "--data", str(own), "--release", str(release))
    assert completed.returncode == 0, completed.stderr
    theirs = data.load_holdout(own.parent / "lesson-holdout.npz")
    assert not data.row_digests(theirs.test_data) & data.row_digests(hidden.test_data[:50])
    nowhere = (tmp_path / "none").as_uri() + "/"
    offline = run_cli("data", "fetch", "--out", str(tmp_path / "x.npz"), "--release", nowhere)
    assert offline.returncode == 2 and "cannot download" in offline.stderr
    assert "pass --release FOLDER" in offline.stderr  # the next step, offline
    missing = run_cli("data", "holdout", "--data", str(own), "--release", str(tmp_path / "none"))
    assert missing.returncode == 2 and "cannot read" in missing.stderr and "t10k-images" in missing.stderr
