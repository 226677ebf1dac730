"""The runner's job: everything the grader tells the sandboxed runner about one notebook.

The grader builds it with `runner_job` on both paths: the cold path writes it to
the runner's stdin, the warm path to a `job.json` that the job's PID 1 reads
after the fork server has forked it (see forkserver.py). The runner reads it
with `RunnerJob.from_json`, which checks every field: the job crosses a
process boundary, into a process the grader does not control.

Imported inside the sandbox, so it uses the standard library, protocol.py and isolation.py only.
"""
from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, BinaryIO

from ..protocol import DATA_NAME
from .isolation import Layout, Limits, python_paths

#: Bytes of a job the runner reads at most (the notebook is most of it).
MAX_JOB_BYTES = 64 * 2**20


class JobError(ValueError):
    """A job that is not what the grader writes: unreadable, a field missing or of the wrong type."""


@dataclass(frozen=True)
class RunnerJob:
    """One notebook's run, as the runner and the fork server's job process read it."""

    #: The notebook to run, as nbformat's dict; None for a job started before its notebook was
    #: known, which receives it later (the warm path's spare jobs, see forkserver.py).
    notebook: dict[str, Any] | None
    #: The notebook's working folder, as the runner sees it; it holds the data file.
    home: str
    #: The folder the grader reads back: the probe's events, the saved models, the kernel's log.
    probe_dir: str
    #: Where the runner writes its kernel spec, connection file and Jupyter's runtime files.
    runtime_dir: str
    #: The lesson data file's name in `home`.
    data_name: str
    #: The user and group the runner drops to before any student code runs; None to stay as it is.
    uid: int | None
    gid: int | None
    #: The resource limits the runner sets on itself, by `resource` module name (see Limits.rlimits).
    rlimits: dict[str, int]
    #: Wall-clock seconds for the whole notebook, and for one cell.
    timeout_s: float
    cell_timeout_s: float
    #: Bytes of output all cells, and one cell, may print before outputs are dropped.
    output_bytes: int
    cell_output_bytes: int
    #: The seed the kernel fixes (Python, numpy, TensorFlow) before the first cell.
    seed: int
    #: Threads TensorFlow may use for computing.
    threads: int
    #: This run's marker: every process carrying it in AUTOGRADER_SANDBOX is killed when the run ends.
    marker: str
    #: Bytes of the job's home and /tmp, which the warm path mounts itself (bubblewrap does on the cold path).
    home_bytes: int
    tmp_bytes: int
    #: Read-only Python folders under /tmp that the warm path keeps visible in the job's fresh /tmp.
    python_paths: list[str]

    @property
    def data_path(self) -> str:
        """The lesson data file, as the runner and the kernel see it."""
        return os.path.join(self.home, self.data_name)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, raw: str | bytes) -> RunnerJob:
        """The job in `raw`, every field checked; JobError says what is wrong."""
        data = _json_object(raw, "job")
        missing, unknown = sorted(_FIELDS.keys() - data.keys()), sorted(data.keys() - _FIELDS.keys())
        if missing or unknown:
            raise JobError(f"the job's fields are not RunnerJob's: missing {missing}, unknown {unknown}")
        for name, (valid, kind) in _FIELDS.items():
            if not valid(data[name]):
                raise JobError(f"the job's {name!r} is not {kind}: {repr(data[name])[:100]}")
        return cls(**data)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return _is_int(value) or isinstance(value, float)


def _is_text(value: object) -> bool:
    return isinstance(value, str)


def _is_object(value: object) -> bool:
    return isinstance(value, dict)


def _is_optional_object(value: object) -> bool:
    return value is None or _is_object(value)


def _is_optional_int(value: object) -> bool:
    return value is None or _is_int(value)


def _is_int_map(value: object) -> bool:
    return isinstance(value, dict) and all(isinstance(k, str) and _is_int(v) for k, v in value.items())


def _is_text_list(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


_TEXT = (_is_text, "a string")
_INT = (_is_int, "an integer")
_NUMBER = (_is_number, "a number")
#: Each field of RunnerJob, with the test its JSON value must pass and what that test asks for.
_FIELDS: dict[str, tuple[Callable[[object], bool], str]] = {
    "notebook": (_is_optional_object, "an object or null"),
    "home": _TEXT, "probe_dir": _TEXT, "runtime_dir": _TEXT, "data_name": _TEXT,
    "uid": (_is_optional_int, "an integer or null"), "gid": (_is_optional_int, "an integer or null"),
    "rlimits": (_is_int_map, "an object of integers"), "timeout_s": _NUMBER, "cell_timeout_s": _NUMBER,
    "output_bytes": _INT, "cell_output_bytes": _INT, "seed": _INT, "threads": _INT, "marker": _TEXT,
    "home_bytes": _INT, "tmp_bytes": _INT, "python_paths": (_is_text_list, "a list of strings"),
}


def read_job(stream: BinaryIO) -> RunnerJob:
    """The job written to `stream` (the runner's stdin, or the warm path's job.json), read within its bound."""
    return RunnerJob.from_json(stream.read(MAX_JOB_BYTES + 1))


def read_notebook(stream: BinaryIO) -> dict[str, Any]:
    """A notebook sent to a job after it started (nbformat's dict, as JSON), read within the job's bound."""
    return _json_object(stream.read(MAX_JOB_BYTES + 1), "notebook")


def _json_object(raw: str | bytes, what: str) -> dict[str, Any]:
    """The JSON object in `raw`, at most MAX_JOB_BYTES long; JobError names `what` is wrong."""
    if len(raw) > MAX_JOB_BYTES:
        raise JobError(f"the {what} is larger than {MAX_JOB_BYTES} bytes")
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as error:
        raise JobError(f"the {what} is not JSON: {error}") from None
    if not isinstance(data, dict):
        raise JobError(f"the {what} is a JSON {type(data).__name__}, not an object")
    return data


def runner_job(notebook: dict[str, Any] | None, layout: Layout, limits: Limits, seed: int, marker: str) -> RunnerJob:
    """The job for one notebook, on either path: `layout` says where things are as the runner sees them."""
    return RunnerJob(
        notebook=notebook, home=layout.home, probe_dir=layout.out, runtime_dir=layout.runtime,
        data_name=DATA_NAME, uid=layout.uid, gid=layout.gid,
        rlimits=limits.rlimits(dropped_user=layout.uid is not None),
        timeout_s=limits.timeout_s, cell_timeout_s=limits.cell_timeout_s,
        output_bytes=limits.output_bytes, cell_output_bytes=limits.cell_output_bytes,
        seed=seed, threads=limits.threads, marker=marker,
        home_bytes=limits.home_bytes, tmp_bytes=limits.tmp_bytes, python_paths=python_paths())
