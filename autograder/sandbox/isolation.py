"""How the runner is confined: bubblewrap where it works, resource limits elsewhere.

bubblewrap gives the notebook its own PID, network, IPC and UTS namespaces,
a read-only view of only the system and Python files it needs, a private
size-capped /tmp and home (holding a fresh copy of the data), and one
writable directory for the probe's output. Without bubblewrap the runner is a
plain process in its own session (and PID, IPC and network namespaces where `unshare`
works), with the same resource limits and a clean environment, but it sees the host's
files: the result says which was used, and whether the network was the notebook's own.

Either way, when the grader runs as root the runner becomes a user of the run's
own before any student code runs (`become_user`). Without bubblewrap that user is
the defence of the host's files: it owns only the run's home, /tmp and runtime
folders (0700) and the model folder, so it can write nothing else and read only
what any user may, never root's 0600 files or another run's folders. `choose`
refuses rlimits as root when such a user could not run this package.
"""
from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

BUBBLEWRAP = "bubblewrap"
RLIMITS = "rlimits"
ISOLATIONS = (BUBBLEWRAP, RLIMITS)
SANDBOX_HOME = "/home/student"
SANDBOX_OUT = "/run/autograder"
SANDBOX_RUNTIME = "/tmp/.autograder"
SANDBOX_OLD_TMP = "/run/autograder-slot-tmp"
#: The environment variable that marks every process of a run (its value is the run's own
#: marker), so that the grader can find and kill them all when the run ends.
MARKER_VARIABLE = "AUTOGRADER_SANDBOX"
NOBODY = 65534
# Each sandboxed run gets a user of its own from this range: RLIMIT_NPROC counts a user's
# processes machine-wide, so a fork loop in one run must not use up another run's share.
JOB_USERS = (0x5F000000, 0x10000000)
ETC_FILES = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "passwd", "group", "nsswitch.conf",
             "localtime", "ssl", "alternatives", "fonts", "mime.types", "hosts")


@dataclass(frozen=True)
class Limits:
    """What one notebook's run may use: the one place each limit and its default are named."""

    #: Wall-clock seconds for the whole notebook.
    timeout_s: float = 240.0
    #: Wall-clock seconds for one cell (never more than what is left of `timeout_s`).
    cell_timeout_s: float = 180.0
    #: Address space of the runner and the kernel, in MiB (RLIMIT_AS).
    memory_mb: int = 6144
    #: Bytes of output the notebook's cells may print in all; past it, outputs are dropped.
    output_bytes: int = 2 * 2**20
    #: Bytes of output one cell may print.
    cell_output_bytes: int = 512 * 2**10
    #: Bytes of any one file the run writes (RLIMIT_FSIZE).
    file_bytes: int = 512 * 2**20
    #: Bytes of the notebook's home folder (a tmpfs under bubblewrap).
    home_bytes: int = 1 * 2**30
    #: Bytes of the notebook's /tmp (a tmpfs under bubblewrap).
    tmp_bytes: int = 256 * 2**20
    #: Processes and threads of the run's own user (RLIMIT_NPROC); a kernel uses about 20.
    processes: int = 256
    #: Bytes written to folders on the grader's disk (the model export): room for the eight
    #: largest model files the grader reads back (64 MiB each) and their logs, far from gigabytes.
    disk_bytes: int = 768 * 2**20
    #: Open file descriptors per process (RLIMIT_NOFILE).
    open_files: int = 1024
    #: Threads TensorFlow and the numeric libraries may use for computing.
    threads: int = 1

    def rlimits(self, dropped_user: bool) -> dict[str, int]:
        """The resource limits the runner sets on itself, by their `resource` module names."""
        limits = {
            "RLIMIT_AS": self.memory_mb * 2**20,
            "RLIMIT_FSIZE": self.file_bytes,
            "RLIMIT_NOFILE": self.open_files,
            "RLIMIT_CORE": 0,
        }
        if dropped_user:  # counted per user, so only meaningful for a user of our own
            limits["RLIMIT_NPROC"] = self.processes
        return limits

    def recorded(self) -> dict[str, float]:
        """The limits a run records with what it left (the reports quote them to the student)."""
        return {"timeout_s": self.timeout_s, "cell_timeout_s": self.cell_timeout_s,
                "memory_mb": self.memory_mb, "output_kb": self.output_bytes // 2**10}


@dataclass
class Layout:
    """Where things are, as the runner sees them and as the grader sees them."""

    isolation: str
    host_out: Path  # the probe's folder, as the grader sees it
    home: str
    out: str
    runtime: str
    uid: int | None = None
    gid: int | None = None


@functools.lru_cache(maxsize=1)
def bubblewrap_works() -> bool:
    """bwrap is installed and can make the namespaces we ask for on this host."""
    path = shutil.which("bwrap")
    if path is None:
        return False
    try:
        probe = subprocess.run(
            [path, "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev", "--unshare-pid",
             "--unshare-net", "--unshare-ipc", "--die-with-parent", "true"],
            capture_output=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return probe.returncode == 0


@functools.cache
def _bwrap_has(option: str) -> bool:
    try:
        shown = subprocess.run([shutil.which("bwrap") or "bwrap", "--help"], capture_output=True, text=True,
                               timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return option in shown.stdout + shown.stderr


def choose(requested: str) -> str:
    """The isolation to use: 'auto' picks bubblewrap when it works here."""
    if requested == "auto":
        return BUBBLEWRAP if bubblewrap_works() else RLIMITS
    if requested not in ISOLATIONS:
        raise ValueError(f"unknown isolation {requested!r} (choose auto, {', '.join(ISOLATIONS)})")
    if requested == BUBBLEWRAP and not bubblewrap_works():
        raise ValueError("bubblewrap was asked for but bwrap is missing or cannot create "
                         "namespaces on this machine")
    if requested == RLIMITS and running_as_root():
        problem = unprivileged_python_problem()
        if problem:
            raise ValueError("grading as root without bubblewrap needs an unprivileged user to run the "
                             f"notebook, and one could not start this grader's Python: {problem}; make the "
                             "Python environment and this package readable by all users (or install bubblewrap)")
    return requested


@functools.lru_cache(maxsize=1)
def unprivileged_python_problem() -> str | None:
    """Why a user of a run's own, switched to as the runner switches (`become_user`), could not
    start this Python and import what the runner and the kernel need, or None when it could."""
    user = job_user()
    env = sandbox_env("/", "/tmp", "probe", 1)
    del env[MARKER_VARIABLE]
    # As the runner does: switch, then start Python again (the kernel) as that user.
    switch = ("import os, sys\n"
              "from autograder.sandbox.isolation import become_user, python_paths\n"
              f"become_user({user}, {user}, python_paths())\n"
              "os.execv(sys.executable, [sys.executable, '-c', 'import autograder.sandbox.runner, nbformat'])\n")
    try:
        probe = subprocess.run([sys.executable, "-c", switch], capture_output=True, text=True, timeout=120,
                               cwd="/", env=env, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError) as error:
        return f"{type(error).__name__}: {error}"
    if probe.returncode != 0:
        lines = probe.stderr.strip().splitlines()
        return lines[-1] if lines else f"exit status {probe.returncode}"
    return None


def become_user(uid: int, gid: int, needed: list[str]) -> None:
    """Switch this process (root) to `uid` and `gid` with no other groups, for good, after
    making the folders in `needed` reachable to that user.

    A folder only its owner may pass through (a Python installed under /root, 0700) would stop
    the user from reaching what it needs below it. Such a folder is covered, in a mount
    namespace of this process's own, by an empty tmpfs in which only the needed folders are
    bound back: the user reaches those and nothing else of it. Raises OSError when that
    cannot be done (no mount namespace in this container, say).
    """
    closed = _closed_ancestors(needed, uid)
    if closed:
        _cover(closed, [path for path in needed if any(_inside(path, top) for top in closed)])
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)


def _inside(path: str, folder: str) -> bool:
    return path.startswith(folder.rstrip("/") + "/")


def _closed_ancestors(paths: list[str], uid: int) -> list[str]:
    """The topmost folders above `paths` that `uid`, neither their owner nor in any group, may
    not pass through."""
    closed: set[str] = set()
    for path in paths:
        for parent in _parents(path):
            try:
                status = os.stat(parent)
            except OSError:
                break
            if status.st_uid != uid and not status.st_mode & 0o001:
                closed.add(parent)
                break
    return sorted(top for top in closed if not any(_inside(top, other) for other in closed))


CLONE_NEWNS = 0x00020000
MS_NOSUID, MS_NODEV, MS_BIND, MS_REC, MS_PRIVATE = 2, 4, 4096, 16384, 1 << 18


def _cover(closed: list[str], needed: list[str]) -> None:
    # libc directly, as the fork server does (which imports this module, so it cannot lend its helpers).
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)

    def call(result: int, what: str) -> None:
        if result != 0:
            error = ctypes.get_errno()
            raise OSError(error, f"{what}: {os.strerror(error)}")

    def mount(source: str, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
        call(libc.mount(source.encode(), target.encode(), fstype.encode() if fstype else None, flags,
                        data.encode() if data else None), f"mount {target}")

    call(libc.unshare(CLONE_NEWNS), f"no mount namespace to cover {', '.join(closed)}")
    mount("none", "/", None, MS_REC | MS_PRIVATE)  # nothing done below reaches the host's mounts
    kept = sorted(path for path in needed if not any(_inside(path, other) for other in needed))
    handles = {path: os.open(path, os.O_PATH | os.O_DIRECTORY) for path in kept}
    try:
        for folder in closed:
            mount("tmpfs", folder, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0755")
        for path, handle in handles.items():
            os.makedirs(path, mode=0o755, exist_ok=True)
            mount(f"/proc/self/fd/{handle}", path, None, MS_BIND | MS_REC)
    finally:
        for handle in handles.values():
            os.close(handle)


def python_paths() -> list[str]:
    """Directories the sandboxed Python needs to read: the interpreter and our package."""
    import autograder

    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
             os.path.dirname(os.path.realpath(sys.executable)),
             os.path.dirname(os.path.abspath(autograder.__file__))}
    for entry in sys.path:  # site-packages outside the prefixes (user site, --target)
        if entry and os.path.isdir(entry) and "site-packages" in entry:
            paths.add(entry)
    resolved = sorted({os.path.realpath(p) for p in paths if p and os.path.exists(p)} |
                      {os.path.abspath(p) for p in paths if p and os.path.exists(p)})
    # drop paths already inside another bound path
    kept: list[str] = []
    for path in resolved:
        if not any(path != other and path.startswith(other.rstrip("/") + "/") for other in resolved):
            kept.append(path)
    return kept


SYSTEM_TOPS = ("usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32")


def sandbox_readable(path: str | os.PathLike) -> str | None:
    """The folder through which a notebook in bubblewrap could read `path`, if any."""
    real = os.path.realpath(path)
    roots = [f"/{top}" for top in SYSTEM_TOPS] + [f"/etc/{name}" for name in ETC_FILES] + python_paths()
    for root in roots:
        for form in {root, os.path.realpath(root)}:
            if real == form or real.startswith(form.rstrip("/") + "/"):
                return root
    return None


def _parents(path: str) -> list[str]:
    parts = Path(path).parts[1:-1]
    return ["/" + "/".join(parts[:i + 1]) for i in range(len(parts))]


def _bwrap_base(limits: Limits) -> list[str]:
    """Namespaces and a read-only view of the system and of Python, with a private /tmp."""
    command = [shutil.which("bwrap") or "bwrap",
               "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts",
               "--unshare-cgroup-try", "--die-with-parent", "--new-session",
               "--proc", "/proc", "--dev", "/dev"]
    for top in SYSTEM_TOPS:
        host = Path("/") / top
        if host.is_symlink():
            command += ["--symlink", os.readlink(host), str(host)]
        elif host.is_dir():
            command += ["--ro-bind", str(host), str(host)]
    for name in ETC_FILES:
        command += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    # /tmp first: Python may live under /tmp (a CI checkout's venv), and a later
    # tmpfs would hide it.
    command += ["--perms", "1777", "--size", str(limits.tmp_bytes), "--tmpfs", "/tmp"]
    made: set[str] = {"/", "/usr", "/etc", "/proc", "/dev", "/tmp"}
    for path in python_paths():
        for parent in _parents(path):
            if parent not in made:
                made.add(parent)
                command += ["--perms", "0755", "--dir", parent]
        command += ["--ro-bind", path, path]
    return command + ["--perms", "0755", "--dir", "/home"]


def _env_args(env: dict[str, str]) -> list[str]:
    command = ["--clearenv"]
    for key, value in env.items():
        command += ["--setenv", key, value]
    return command


def bubblewrap_command(layout: Layout, limits: Limits, data_fd: int, data_name: str,
                       env: dict[str, str]) -> list[str]:
    """One notebook's sandbox (the cold path): the runner starts a fresh kernel inside."""
    # The runner as the namespace's init: a notebook's os.kill(-1, ...) then reaches every
    # process of the run but the runner, which reports what happened (as on the warm path).
    init = ["--as-pid-1"] if _bwrap_has("--as-pid-1") else []
    command = _bwrap_base(limits) + init + [
        "--perms", "0777", "--size", str(limits.home_bytes), "--tmpfs", layout.home,
        "--perms", "0644", "--file", str(data_fd), f"{layout.home}/{data_name}",
        "--perms", "0755", "--dir", os.path.dirname(layout.out),
        "--bind", str(layout.host_out), layout.out,
        "--chdir", layout.home]
    return command + _env_args(env) + ["--", sys.executable, "-m", "autograder.sandbox.runner"]


def slot_command(host_root: Path, slots_root: str, limits: Limits, env: dict[str, str]) -> list[str]:
    """A warm slot (see forkserver): mount points for each job's home and output, the
    jobs' folders, and the fork server running as root inside (it makes each job's
    namespaces, then drops privileges before any student code runs)."""
    command = _bwrap_base(limits) + [
        "--perms", "0755", "--dir", SANDBOX_HOME,
        "--perms", "0755", "--dir", SANDBOX_OUT,
        "--perms", "0700", "--dir", SANDBOX_OLD_TMP,
        "--bind", str(host_root), slots_root,
        "--chdir", "/"]
    return command + _env_args(env) + ["--", sys.executable, "-m", "autograder.sandbox.forkserver"]


def plain_command() -> list[str]:
    return namespace_prefix() + [sys.executable, "-m", "autograder.sandbox.runner"]


#: How a run's network is recorded (RunRecord.network, the result's `network`): a namespace of
#: the notebook's own, holding only its loopback, or the machine's network, shared with every
#: process of the machine (other notebooks' kernels, a Dask scheduler or worker on 127.0.0.1).
OWN_NETWORK = "own"
SHARED_NETWORK = "shared"


@functools.lru_cache(maxsize=1)
def namespace_prefix() -> list[str]:
    """Without bubblewrap, still PID, IPC and network namespaces where util-linux's `unshare`
    can make them (as root, or with unprivileged user namespaces).

    The PID namespace matters most when the grader runs as root: `os.kill(-1, SIGKILL)` in a
    notebook would otherwise kill every process on the machine (it reaches every process its
    user may signal). In the namespace it reaches only the notebook's own processes; the
    runner is their init, which such a signal skips, and when it ends they all end.

    The network namespace keeps the notebook off the machine's network, 127.0.0.1 included:
    another student's kernel (whose IOPub channel anyone on its port may listen to), a Dask
    scheduler or worker, any local service. Its own loopback, which the runner brings up
    (`loopback_up`), carries only the runner's talk with its kernel. Where `unshare` cannot
    make one, the run shares the machine's network and says so (`private_network`).
    """
    path = shutil.which("unshare")
    if path is None:
        return []
    prefix = [path, "--pid", "--fork", "--kill-child", "--mount-proc", "--ipc", "--uts"]
    if not running_as_root():
        prefix[1:1] = ["--user", "--map-root-user"]
    for candidate in (prefix + ["--net"], prefix):
        try:
            probe = subprocess.run(candidate + ["true"], capture_output=True, timeout=20)
        except (OSError, subprocess.TimeoutExpired):
            return []
        if probe.returncode == 0:
            return candidate
    return []


def network_of(isolation: str) -> str:
    """OWN_NETWORK or SHARED_NETWORK: the network a notebook run under `isolation` gets here."""
    if isolation == BUBBLEWRAP or "--net" in namespace_prefix():
        return OWN_NETWORK
    return SHARED_NETWORK


def side_by_side_problem(isolation: str, jobs: int, accepted: bool) -> str | None:
    """Why `jobs` notebooks must not run at once here, or None: without a network namespace of
    their own, each could reach the others' kernels on 127.0.0.1 and read their code as it runs."""
    if jobs <= 1 or accepted or network_of(isolation) == OWN_NETWORK:
        return None
    return (f"without bubblewrap, and with no network namespace to be had here (util-linux `unshare --net` "
            f"failed), {jobs} notebooks graded side by side would share this machine's network and could reach "
            "each other's kernels; install bubblewrap, grade with --jobs 1, or accept it with --shared-network")


SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1


def loopback_up() -> None:
    """Bring up the loopback interface if it is down, as it is in a fresh network namespace
    (`unshare --net`), where the runner reaches its kernel through it; on the machine's own
    network, or in bubblewrap's namespace, it is up already and nothing changes. Needs
    CAP_NET_ADMIN over the namespace, which its creator (root, or root of its user namespace) has."""
    import fcntl
    import socket
    import struct

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as handle:
        request = struct.pack("16sH22x", b"lo", 0)  # struct ifreq: the name, then ifr_flags
        flags = struct.unpack("16sH22x", fcntl.ioctl(handle, SIOCGIFFLAGS, request))[1]
        if not flags & IFF_UP:
            fcntl.ioctl(handle, SIOCSIFFLAGS, struct.pack("16sH22x", b"lo", flags | IFF_UP))


def sandbox_env(home: str, tmp: str, marker: str, threads: int) -> dict[str, str]:
    """The whole environment of the runner and kernel: nothing of the grader's leaks in."""
    threads_text = str(threads)
    return {
        "HOME": home,
        "PATH": os.pathsep.join([os.path.dirname(sys.executable), "/usr/local/bin", "/usr/bin", "/bin"]),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "TMPDIR": tmp,
        "MPLBACKEND": "Agg",
        # The folder holding this package, which is all of it the sandbox can see: found by
        # the runner and the probe however the grader was installed (site-packages, an
        # editable checkout, or a plain PYTHONPATH as in the Gradescope archive).
        "PYTHONPATH": str(Path(__file__).resolve().parent.parent.parent),
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "OMP_NUM_THREADS": threads_text,
        "OPENBLAS_NUM_THREADS": threads_text,
        "MKL_NUM_THREADS": threads_text,
        "TF_NUM_INTRAOP_THREADS": threads_text,
        "TF_NUM_INTEROP_THREADS": threads_text,
        "MALLOC_ARENA_MAX": "2",
        MARKER_VARIABLE: marker,
    }


def job_user() -> int:
    """A user id no account and no other run uses (see JOB_USERS)."""
    import secrets

    start, size = JOB_USERS
    return start + secrets.randbelow(size)


def running_as_root() -> bool:
    return os.geteuid() == 0
