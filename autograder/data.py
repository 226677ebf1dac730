"""The lesson's data set: validate a fashion.npz, build one from Fashion-MNIST,
or draw a deterministic offline stand-in.

The format (fixed by the lesson):
    train_data   (n, 28, 28, 1) float32 in [0, 1]
    train_labels (n, 3)         float64 one-hot
    test_data    (m, 28, 28, 1) float32 in [0, 1]
    test_labels  (m, 3)         float64 one-hot
Label columns are 0 = t-shirt/top, 1 = dress, 2 = shoe (Fashion-MNIST classes
0, 3 and 7).
"""
from __future__ import annotations

import gzip
import hashlib
import io
import os
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import UsageError
from .protocol import FLAT_SIZE  # noqa: F401 - the lesson's facts are read from here too

CLASS_NAMES = ("t-shirt", "dress", "shoe")
FASHION_MNIST_CLASSES = (0, 3, 7)  # t-shirt/top, dress, sneaker
IMAGE_SHAPE = (28, 28, 1)
KEYS = ("train_data", "train_labels", "test_data", "test_labels")
MAX_FILE_BYTES = 256 * 1024 * 1024
STANDIN_SEED = 20240611
SUBSET_SEED = 7
#: The seed of the holdout draws: another than the lesson's, so other images come first.
HOLDOUT_SEED = 8
#: Holdout images: from the Fashion-MNIST release, and from the stand-in's generator. With 100
#: visible test images the tests' power is bound by those; more holdout images add little.
HOLDOUT_SIZE = 1000
STANDIN_HOLDOUT_SIZE = 500
HOLDOUT_SUFFIX = "-holdout.npz"
FASHION_MNIST_URL = "https://github.com/zalandoresearch/fashion-mnist/raw/master/data/fashion/"
FASHION_MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}


class DataError(UsageError):
    """A data file is missing, unreadable or not in the lesson's format."""


@dataclass(frozen=True)
class LessonData:
    train_data: np.ndarray
    train_labels: np.ndarray
    test_data: np.ndarray
    test_labels: np.ndarray
    source: str  # a human description: a file name, "stand-in", ...

    def arrays(self) -> dict[str, np.ndarray]:
        return {key: getattr(self, key) for key in KEYS}

    def shapes(self) -> dict[str, list[int]]:
        return {key: list(getattr(self, key).shape) for key in KEYS}

    def digest(self) -> str:
        """A short digest of the arrays: which data a verdict was measured on."""
        digest = hashlib.sha256()
        for array in self.arrays().values():
            digest.update(array.tobytes())
        return digest.hexdigest()[:16]

    def save(self, path: str | os.PathLike) -> None:
        """Write the lesson's npz; the same arrays always give the same bytes."""
        buffer = io.BytesIO()
        np.savez(buffer, **self.arrays())  # type: ignore[arg-type]  # numpy's stub types **kwds as bool
        Path(path).write_bytes(buffer.getvalue())


@dataclass(frozen=True)
class Holdout:
    """The instructor's hidden test images: never copied where a notebook runs."""

    test_data: np.ndarray
    test_labels: np.ndarray
    source: str
    digest: str

    @property
    def classes(self) -> list[int]:
        return self.test_labels.argmax(axis=1).tolist()

    def save_images(self, path: str | os.PathLike) -> None:
        """The images alone, as the evaluator reads them (the labels never leave the grader)."""
        np.savez(path, test_data=self.test_data)

    def save(self, path: str | os.PathLike) -> None:
        """Write the holdout file (test_data, test_labels); the same arrays give the same bytes."""
        buffer = io.BytesIO()
        np.savez(buffer, test_data=self.test_data, test_labels=self.test_labels)
        Path(path).write_bytes(buffer.getvalue())


def holdout_of(images: np.ndarray, labels: np.ndarray, source: str) -> Holdout:
    """A Holdout of these arrays, with the digest that ties verdicts to it."""
    digest = hashlib.sha256(images.tobytes() + labels.tobytes()).hexdigest()[:16]
    return Holdout(images, labels, source, digest)


def holdout_path(data_path: str | os.PathLike) -> Path:
    """Where the holdout of a lesson file lives: beside it, `fashion.npz` -> `fashion-holdout.npz`.
    `check` and `grade` use the file found there whenever `--holdout` is not given."""
    path = Path(data_path)
    return path.with_name(f"{path.stem}{HOLDOUT_SUFFIX}")


def row_keys(images: np.ndarray) -> list[bytes]:
    """One digest per image, of its pixels as the release's bytes (float pixels are bytes / 255),
    so that the same picture matches whichever form it is stored in."""
    pixels = np.asarray(images).reshape(len(images), -1)
    if pixels.dtype != np.uint8:
        pixels = np.round(pixels.astype(np.float64) * 255).astype(np.uint8)
    return [hashlib.blake2b(row.tobytes(), digest_size=16).digest() for row in pixels]


def row_digests(images: np.ndarray) -> set[bytes]:
    return set(row_keys(images))


def _split_problems(split: str, images: np.ndarray, labels: np.ndarray) -> list[str]:
    problems = []
    if images.ndim != 4 or tuple(images.shape[1:]) != IMAGE_SHAPE or images.shape[0] == 0:
        problems.append(f"{split}_data has shape {tuple(images.shape)}, expected (n, 28, 28, 1)")
    elif images.dtype != np.float32:
        problems.append(f"{split}_data has dtype {images.dtype}, expected float32")
    elif not np.all(np.isfinite(images)) or images.min() < 0 or images.max() > 1:
        problems.append(f"{split}_data has values outside [0, 1] (scale pixels by 1/255)")
    if labels.ndim != 2 or labels.shape[1] != len(CLASS_NAMES):
        problems.append(f"{split}_labels has shape {tuple(labels.shape)}, expected (n, 3) one-hot")
    elif labels.dtype != np.float64:
        problems.append(f"{split}_labels has dtype {labels.dtype}, expected float64")
    else:
        bad = ~(np.isin(labels, (0.0, 1.0)).all(axis=1) & (labels.sum(axis=1) == 1))
        if bad.any():
            problems.append(f"{split}_labels row {int(np.argmax(bad))} is not one-hot "
                            f"({int(bad.sum())} such rows)")
    if images.ndim >= 1 and labels.ndim >= 1 and images.shape[0] != labels.shape[0]:
        problems.append(f"{split}_data has {images.shape[0]} images but {split}_labels "
                        f"has {labels.shape[0]} rows")
    return problems


def validate(arrays: dict[str, np.ndarray]) -> None:
    """Raise DataError naming every way `arrays` departs from the lesson's format."""
    problems: list[str] = []
    missing = [key for key in KEYS if key not in arrays]
    if missing:
        raise DataError(f"missing arrays {', '.join(missing)} (a fashion.npz holds {', '.join(KEYS)})")
    counts = {}
    for split in ("train", "test"):
        images, labels = arrays[f"{split}_data"], arrays[f"{split}_labels"]
        problems += _split_problems(split, images, labels)
        counts[split] = labels
    if not problems:
        absent = [CLASS_NAMES[c] for c in range(3) if counts["train"][:, c].sum() == 0]
        if absent:
            problems.append(f"train_labels has no example of {', '.join(absent)}")
    if problems:
        raise DataError("; ".join(problems))


def _read_npz(path: Path, keys: tuple[str, ...], what: str) -> dict[str, np.ndarray]:
    """The named arrays of an npz file, read without pickle and within the size limit."""
    try:
        size = path.stat().st_size
    except OSError as error:
        raise DataError(f"cannot read {what} {path}: {error.strerror or error}") from None
    if not path.is_file():
        raise DataError(f"{what} {path} is not a file")
    if size > MAX_FILE_BYTES:
        raise DataError(f"{what} {path} is {size // 2**20} MiB, more than the "
                        f"{MAX_FILE_BYTES // 2**20} MiB a lesson file can be")
    try:
        npz = np.load(path, allow_pickle=False)
        if not isinstance(npz, np.lib.npyio.NpzFile):
            raise DataError(f"{path} holds a single array, not an npz archive of {', '.join(keys)}")
        with npz:
            return {key: npz[key] for key in npz.files if key in keys}
    except DataError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as error:
        raise DataError(f"{path} is not a readable npz file: {error}") from None


def load(path: str | os.PathLike) -> LessonData:
    """Read and validate an instructor's fashion.npz."""
    path = Path(path)
    arrays = _read_npz(path, KEYS, "data file")
    try:
        validate(arrays)
    except DataError as error:
        raise DataError(f"{path}: {error}") from None
    return LessonData(**arrays, source=path.name)


HOLDOUT_KEYS = ("test_data", "test_labels")


def load_holdout(path: str | os.PathLike) -> Holdout:
    """Read and validate a hidden holdout: an npz like fashion.npz's test part."""
    path = Path(path)
    arrays = _read_npz(path, HOLDOUT_KEYS, "holdout file")
    missing = [key for key in HOLDOUT_KEYS if key not in arrays]
    if missing:
        raise DataError(f"{path}: missing arrays {', '.join(missing)} (a holdout file holds test_data and "
                        "test_labels, like the test part of fashion.npz)")
    problems = _split_problems("test", arrays["test_data"], arrays["test_labels"])
    if problems:
        raise DataError(f"{path}: {'; '.join(problems)}")
    return holdout_of(arrays["test_data"], arrays["test_labels"], path.name)


def one_hot(class_ids: np.ndarray, classes: int = len(CLASS_NAMES)) -> np.ndarray:
    return np.eye(classes, dtype=np.float64)[class_ids]


def lesson_subset(train_images: np.ndarray, train_classes: np.ndarray,
                  test_images: np.ndarray, test_classes: np.ndarray,
                  n_train: int = 600, n_test: int = 100, seed: int = SUBSET_SEED) -> LessonData:
    """Select the lesson's three classes from Fashion-MNIST and format them.

    Inputs are the release's uint8 images (n, 28, 28) and class ids; classes
    0, 3 and 7 become label columns 0, 1 and 2. The sample is a seeded random
    draw, so the same release always gives the same file.
    """
    rng = np.random.default_rng(seed)
    parts = []
    for images, classes, count in ((train_images, train_classes, n_train),
                                   (test_images, test_classes, n_test)):
        if images.ndim != 3 or images.shape[1:] != (28, 28) or len(images) != len(classes):
            raise DataError(f"expected (n, 28, 28) images with one class id each, got "
                            f"{images.shape} images and {len(classes)} ids")
        keep = np.flatnonzero(np.isin(classes, FASHION_MNIST_CLASSES))
        if len(keep) < count:
            raise DataError(f"only {len(keep)} images of the lesson's classes, {count} needed")
        chosen = np.sort(rng.choice(keep, size=count, replace=False))
        column = np.searchsorted(FASHION_MNIST_CLASSES, classes[chosen])
        pixels = (images[chosen].astype(np.float32) / np.float32(255.0)).reshape(-1, *IMAGE_SHAPE)
        parts.append((pixels, one_hot(column)))
    (train_data, train_labels), (test_data, test_labels) = parts
    return LessonData(train_data, train_labels, test_data, test_labels, source="Fashion-MNIST")


def parse_idx(raw: bytes) -> np.ndarray:
    """Decode one (optionally gzipped) IDX file of the Fashion-MNIST release."""
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    if len(raw) < 4 or raw[:2] != b"\x00\x00" or raw[2] != 0x08:
        raise DataError("not an IDX file of unsigned bytes")
    ndim = raw[3]
    dims = struct.unpack(f">{ndim}I", raw[4:4 + 4 * ndim])
    body = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(dims)):
        raise DataError(f"IDX file declares shape {dims} but holds {body.size} values")
    return body.reshape(dims)


@dataclass(frozen=True)
class Release:
    """The Fashion-MNIST release as published: uint8 images (n, 28, 28) and class ids."""

    train_images: np.ndarray
    train_classes: np.ndarray
    test_images: np.ndarray
    test_classes: np.ndarray


def download_release(base_url: str = FASHION_MNIST_URL, timeout: float = 60) -> Release:
    """The public release: downloaded from a URL (needs the network), or read from a local copy
    (a folder holding the four files, or a file:// URL of one)."""
    import urllib.request

    local = Path(base_url).expanduser()
    raw = {}
    for name, file_name in FASHION_MNIST_FILES.items():
        try:
            if "://" not in base_url:
                raw[name] = parse_idx((local / file_name).read_bytes())
                continue
            with urllib.request.urlopen(base_url.rstrip("/") + "/" + file_name, timeout=timeout) as response:
                raw[name] = parse_idx(response.read())
        except OSError as error:
            where = local / file_name if "://" not in base_url else base_url.rstrip("/") + "/" + file_name
            raise DataError(f"cannot {'read' if '://' not in base_url else 'download'} {where}: "
                            f"{getattr(error, 'strerror', None) or getattr(error, 'reason', None) or error}. "
                            f"Offline, copy the release's {', '.join(FASHION_MNIST_FILES.values())} into a "
                            "folder and pass --release FOLDER") from None
    return Release(raw["train_images"], raw["train_labels"], raw["test_images"], raw["test_labels"])


def fetch_fashion_mnist(base_url: str = FASHION_MNIST_URL, timeout: float = 60) -> tuple[LessonData, Holdout]:
    """Download the public release and build the lesson's subset and its holdout."""
    release = download_release(base_url, timeout)
    lesson = lesson_subset(release.train_images, release.train_classes, release.test_images, release.test_classes)
    return lesson, release_holdout(release, lesson)


def release_holdout(release: Release, lesson: LessonData, size: int = HOLDOUT_SIZE,
                    seed: int = HOLDOUT_SEED) -> Holdout:
    """A holdout of the release's remaining images of the lesson's three classes.

    "Remaining" is checked by content, not by index: an image whose pixels equal any lesson
    image (train or test; the release has a few duplicates) is left out, so that a model that
    learned the lesson's test images cannot meet them again in the holdout."""
    taken = row_digests(lesson.train_data) | row_digests(lesson.test_data)
    images = np.concatenate([release.train_images, release.test_images])
    classes = np.concatenate([release.train_classes, release.test_classes])
    candidates = np.flatnonzero(np.isin(classes, FASHION_MNIST_CLASSES))
    seen: set[bytes] = set()
    keep = []
    for index, key in zip(candidates, row_keys(images[candidates]), strict=True):
        if key not in taken and key not in seen:  # and each picture once
            seen.add(key)
            keep.append(index)
    if len(keep) < size:
        raise DataError(f"only {len(keep)} images of the lesson's classes are not in the lesson file, "
                        f"{size} needed for the holdout")
    chosen = np.sort(np.random.default_rng(seed).choice(np.asarray(keep), size=size, replace=False))
    pixels = (images[chosen].astype(np.float32) / np.float32(255.0)).reshape(-1, *IMAGE_SHAPE)
    column = np.searchsorted(FASHION_MNIST_CLASSES, classes[chosen])
    return holdout_of(pixels, one_hot(column), "Fashion-MNIST holdout")


# --- the offline stand-in ---------------------------------------------------

def _spans_to_image(spans: dict[int, tuple[float, float]]) -> np.ndarray:
    """Fill each row y between its left and right edge, anti-aliased at the edges."""
    image = np.zeros((28, 28), dtype=np.float64)
    columns = np.arange(28) + 0.5
    for y, (left, right) in spans.items():
        if 0 <= y < 28 and right > left:
            image[y] = np.clip(np.minimum(columns - left, right - columns) + 0.5, 0, 1)
    return image


def _garment(rng: np.random.Generator, top: int, height: int, shoulder: float, sleeve: float,
             waist: float, hem: float) -> np.ndarray:
    """A front view of a top or dress: shoulders with sleeves, a waist, then the hem."""
    centre = 14 + rng.normal(0, 0.8)
    sleeve_rows = rng.integers(4, 9)
    waist_row = rng.uniform(0.3, 0.5) * height
    spans: dict[int, tuple[float, float]] = {}
    for row in range(height):
        if row < waist_row:
            half = shoulder + (waist - shoulder) * row / waist_row
        else:
            half = waist + (hem - waist) * (row - waist_row) / (height - waist_row)
        if row < sleeve_rows:
            half += sleeve * (1 - row / sleeve_rows)
        spans[top + row] = (centre - half, centre + half)
    image = _spans_to_image(spans)
    neck = rng.uniform(1.0, 2.5)
    for row in range(2):  # the neckline
        image[top + row, int(centre - neck + row):int(centre + neck - row) + 1] *= 0.2
    return image


def _tshirt(rng: np.random.Generator) -> np.ndarray:
    body = rng.uniform(4.5, 7.0)
    # about a quarter are sleeveless tops, which look much like a dress
    sleeve = rng.uniform(0.0, 1.5) if rng.random() < 0.25 else rng.uniform(2.5, 6.5)
    return _garment(rng, top=int(rng.integers(2, 6)), height=int(rng.integers(18, 25)), shoulder=body,
                    sleeve=sleeve, waist=body - rng.uniform(0, 1.5), hem=body + rng.uniform(-0.5, 1.5))


def _dress(rng: np.random.Generator) -> np.ndarray:
    sleeve = rng.uniform(1.0, 4.0) if rng.random() < 0.3 else 0.0
    return _garment(rng, top=int(rng.integers(1, 4)), height=int(rng.integers(21, 27)),
                    shoulder=rng.uniform(3.5, 6.0), sleeve=sleeve, waist=rng.uniform(2.5, 5.0),
                    hem=rng.uniform(4.5, 10.5))


def _shoe(rng: np.random.Generator) -> np.ndarray:
    bottom, height = int(rng.integers(19, 24)), int(rng.integers(8, 13))
    heel, toe = rng.uniform(1.5, 4.5), rng.uniform(24.0, 27.0)
    ankle = rng.uniform(9.0, 13.0)  # where the upper ends at the top row
    spans: dict[int, tuple[float, float]] = {}
    for row in range(height):  # row 0 is the sole
        rise = row / max(height - 1, 1)
        right = toe - (toe - ankle) * rise ** 0.6
        spans[bottom - row] = (28 - right, 28 - heel - rise * 1.5)  # toe to the left
    image = _spans_to_image(spans)
    if rng.random() < 0.5:
        image[bottom] *= 1.0 if rng.random() < 0.5 else 0.6  # a contrasting sole
    return image


def _finish(shape: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Give a silhouette the look of a photographed garment: shade, texture, blur, noise."""
    shade = rng.uniform(0.35, 1.0)
    texture = 1 - rng.uniform(0, 0.35) * rng.random(shape.shape)
    stripes = 1 - rng.uniform(0, 0.3) * (np.arange(28)[:, None] % rng.integers(2, 6) == 0)
    image = shape * shade * texture * (stripes if rng.random() < 0.3 else 1)
    image = np.roll(image, (rng.integers(-2, 3), rng.integers(-2, 3)), axis=(0, 1))
    for axis in (0, 1):  # a 1-2-1 blur, as a lens would give
        padded = np.pad(image, [(1, 1) if a == axis else (0, 0) for a in (0, 1)])
        body = [slice(None)] * 2
        parts = []
        for start in (0, 1, 2):
            body[axis] = slice(start, start + 28)
            parts.append(padded[tuple(body)])
        image = 0.25 * parts[0] + 0.5 * parts[1] + 0.25 * parts[2]
    image += rng.normal(0, 0.08, image.shape)
    return np.clip(image, 0, 1)


_DRAWERS = (_tshirt, _dress, _shoe)


def _draw(rng: np.random.Generator, count: int) -> tuple[np.ndarray, np.ndarray]:
    """`count` stand-in images of random classes, and their one-hot labels."""
    classes = rng.integers(0, 3, size=count)
    images = [_finish(_DRAWERS[c](rng), rng) for c in classes]
    pixels = np.stack(images).astype(np.float32) if images else np.zeros((0, 28, 28), np.float32)
    return pixels.reshape(-1, *IMAGE_SHAPE), one_hot(classes)


def make_standin(n_train: int = 600, n_test: int = 100, seed: int = STANDIN_SEED) -> LessonData:
    """A labelled, deterministic stand-in for fashion.npz, drawn offline.

    Classes are shuffled, unbalanced draws like the lesson's sample; the same
    seed always gives the same arrays.
    """
    rng = np.random.default_rng(seed)
    (train_data, train_labels), (test_data, test_labels) = _draw(rng, n_train), _draw(rng, n_test)
    return LessonData(train_data, train_labels, test_data, test_labels, source="built-in stand-in")


def make_standin_holdout(lesson: LessonData, size: int = STANDIN_HOLDOUT_SIZE,
                         seed: int = STANDIN_SEED + HOLDOUT_SEED) -> Holdout:
    """The stand-in's holdout: new drawings from another seed, none equal to a lesson image.

    Its generator is public, so it is a holdout for demonstrations and tests, not a secret."""
    images, labels = _draw(np.random.default_rng(seed), size)
    taken = row_digests(lesson.train_data) | row_digests(lesson.test_data)
    fresh = np.asarray([key not in taken for key in row_keys(images)], dtype=bool)
    return holdout_of(images[fresh], labels[fresh], "stand-in holdout")
