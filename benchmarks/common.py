"""Shared by the benchmarks: a class of lesson submissions and a process-tree memory monitor."""
from __future__ import annotations

import subprocess
import sys
import threading
import time
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


def measure(command: list[str], cwd: Path = ROOT) -> tuple[float, int, subprocess.CompletedProcess]:
    """Wall time and peak tree memory of one command (with this Python's scripts on PATH:
    nbgrader runs `alembic` by name)."""
    import os

    env = dict(os.environ, PATH=os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")]))
    started = time.monotonic()
    process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=env)
    monitor = TreeMemory(process.pid)
    monitor.start()
    stdout, stderr = process.communicate()
    elapsed = time.monotonic() - started
    return elapsed, monitor.stop(), subprocess.CompletedProcess(command, process.returncode, stdout, stderr)
