"""Shared by the benchmarks: a class of lesson submissions, a process-tree memory monitor,
the machine's description and a verdict cross-check against `autograder check`."""
from __future__ import annotations

import argparse
import contextlib
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

# Mostly correct, some wrong, as a real class hands in.
MIX = ["reference"] * 14 + ["functional-api", "keras-input-layer", "sequential-list-objects-keywords",
                            "lesson-as-printed", "mse-loss", "sigmoid-output", "never-trained",
                            "no-validation-split", "wrong-epochs-and-batch", "evaluated-on-training-data"]


def make_class(folder: Path, count: int = 24) -> list[Path]:
    """`count` student notebooks from the test corpus, named student00, student01, ..."""
    from conftest import write_notebook
    from corpus import CASES

    folder.mkdir(parents=True, exist_ok=True)
    return [write_notebook(folder / f"student{number:02d}.ipynb", CASES[MIX[number % len(MIX)]].cells,
                           exercise="keras-dense") for number in range(count)]


class TreeMemory(threading.Thread):
    """Peak memory of a process and all its descendants, sampled every 0.5 s.

    Counted as PSS (proportional set size): a page shared by several processes
    (TensorFlow's code and data in forked kernels, shared libraries) is split
    among them instead of counted once per process, so the sum is the memory
    the tree really takes. Where PSS cannot be read, RSS is used.
    """

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.root = psutil.Process(pid)
        self.peak = 0
        self.running = True

    def run(self) -> None:
        while self.running:
            total = 0
            try:
                members = [self.root, *self.root.children(recursive=True)]
            except psutil.Error:
                break
            for process in members:
                try:
                    total += getattr(process.memory_full_info(), "pss", 0) or process.memory_info().rss
                except psutil.Error:
                    pass
            self.peak = max(self.peak, total)
            time.sleep(0.5)

    def stop(self) -> int:
        self.running = False
        self.join(timeout=2)
        return self.peak


@contextlib.contextmanager
def class_in_scratch(doc: str) -> Iterator[tuple[argparse.Namespace, Path]]:
    """The options every class benchmark takes (--count, --data), and a scratch folder holding
    that class in `class/`; says what is graded on which machine."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--count", type=int, default=24)
    parser.add_argument("--data", help="fashion.npz (default: the built-in stand-in)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="autograder-bench-") as scratch:
        work = Path(scratch)
        make_class(work / "class", args.count)
        print(f"{args.count} submissions (mostly correct, some wrong); machine: {machine()}")
        yield args, work


def measure(command: list[str], cwd: Path = ROOT) -> tuple[float, int, subprocess.CompletedProcess]:
    """Wall time and peak tree memory of one command (with this Python's scripts on PATH)."""
    from nbgrader_course import scripts_on_path

    env = scripts_on_path()
    started = time.monotonic()
    process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=env)
    monitor = TreeMemory(process.pid)
    monitor.start()
    stdout, stderr = process.communicate()
    elapsed = time.monotonic() - started
    return elapsed, monitor.stop(), subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


def machine() -> str:
    import os
    import platform

    return (f"{platform.machine()}, {os.cpu_count()} cores, "
            f"{psutil.virtual_memory().total / 2**30:.0f} GiB, Python {platform.python_version()}")


def verdicts(result: dict) -> tuple:
    return result.get("status"), tuple(sorted((c["id"], c["passed"]) for c in result.get("checks", [])))


def cross_check(notebooks: dict[str, Path], results: dict[str, dict], data: Path, work: Path,
                exercise: str = "keras-dense") -> list[str]:
    """Students whose batch verdicts differ from a cold, one-at-a-time `autograder check`.

    Submissions with the same content get the same verdicts, so each distinct notebook is
    checked once; the differences (or a missing result) are returned, one line each."""
    import hashlib
    import json

    by_content: dict[str, list[str]] = {}
    for student, path in notebooks.items():
        by_content.setdefault(hashlib.sha256(path.read_bytes()).hexdigest(), []).append(student)
    differences = []
    for number, students in enumerate(by_content.values()):
        out = work / f"cold-{number}.json"
        subprocess.run([sys.executable, "-m", "autograder", "check", str(notebooks[students[0]]), "--json",
                        str(out), "--quiet", "--exercise", exercise, "--data", str(data)],
                       check=False, cwd=ROOT, capture_output=True, timeout=900)  # exit 1 = failed checks
        cold = verdicts(json.loads(out.read_text()))
        for student in students:
            if student not in results:
                differences.append(f"{student}: no batch result")
            elif verdicts(results[student]) != cold:
                differences.append(f"{student}: batch {verdicts(results[student])} != check {cold}")
    return differences
