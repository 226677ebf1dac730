"""Who can reach a grading's Dask cluster, and what the grading machine takes from it.

A Dask scheduler, and every worker and nanny, runs the pickled functions that any peer
reaching it sends: whoever can connect to one of them owns the workers, the plan they hold
(the holdout included) and every result they return. `grade --scheduler` therefore grades
only on a cluster no one else can join (`exposure`): one whose every listener is TLS (the
course's certificates, which the scheduler and workers demand of every peer), or plain TCP
on the loopback only, all on this machine. A scheduler reached through 127.0.0.1 that also
listens on the network (`dask scheduler`'s default), or a worker listening on every interface
(`dask worker`'s default, whatever address it gives the scheduler), is such a door;
`--insecure` is the instructor's explicit acceptance of it.

What the grading machine takes back crosses as data: each task returns its result document
as JSON text (remote_result.py validates it). Dask's own transport still unpickles what
peers send it (a task's return value, an exception and its traceback, a warning), in the
grading process. While the grading is connected, `refusing_pickles` lets that unpickling
build only plain values and exceptions (`allowed_global`): anything else a peer pickled is
refused before it is built, so no object of a class of ours or of anyone's, and no call a
pickle names, comes into being here.

No Dask import here: the functions are pure, for the tests and for cluster.py.
"""
from __future__ import annotations

import builtins
import contextlib
import ipaddress
import socket
import sys
import threading
from collections.abc import Callable, Iterator

#: Schemes whose every connection is authenticated with the course's certificates.
SECURE_SCHEMES = ("tls", "wss")
#: Schemes anyone reaching the address may speak.
PLAIN_SCHEMES = ("tcp", "ws", "ucx", "ucxx")

Resolver = Callable[[str], list[str]]


def split_address(address: str) -> tuple[str, str, str]:
    """(scheme, host, port) of a Dask address such as tcp://127.0.0.1:8786 or tls://[::1]:8786;
    Dask's default scheme, tcp, when none is given. Raises ValueError for anything else."""
    scheme, separator, rest = address.partition("://")
    if not separator:
        scheme, rest = "tcp", address
    scheme = scheme.lower()
    if rest.startswith("["):
        host, bracket, port = rest[1:].partition("]")
        if not bracket or (port and not port.startswith(":")):
            raise ValueError(f"{address!r} is not a Dask address")
        port = port[1:]
    else:
        host, _, port = rest.rpartition(":") if rest.count(":") == 1 else (rest, "", "")
    if scheme not in SECURE_SCHEMES + PLAIN_SCHEMES or (port and not port.isdigit()):
        raise ValueError(f"{address!r} is not a Dask address (scheme://host:port, the scheme one of "
                         f"{', '.join(SECURE_SCHEMES + PLAIN_SCHEMES)})")
    return scheme, host, port


def resolve(host: str) -> list[str]:
    """Every IP address `host` stands for (none when it does not resolve)."""
    try:
        return sorted({str(info[4][0]) for info in socket.getaddrinfo(host, None)})
    except (OSError, UnicodeError):
        return []


def is_loopback(host: str, resolver: Resolver = resolve) -> bool:
    """Whether `host` (an IP address or a name) reaches this machine's loopback only. An empty
    host, 0.0.0.0 or :: (every interface) is not."""
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        pass
    addresses = resolver(host)
    return bool(addresses) and all(is_loopback(found, lambda _: []) for found in addresses)


def exposure(address: str, resolver: Resolver = resolve) -> str | None:
    """Why a peer other than the course's could connect through this Dask address (where a
    scheduler, worker or nanny listens, or the one it gives), or None when none can: TLS, or
    plain TCP on the loopback."""
    try:
        scheme, host, _ = split_address(address)
    except ValueError as error:
        return str(error)
    if scheme in SECURE_SCHEMES or is_loopback(host, resolver):
        return None
    where = "every interface" if host in ("", "0.0.0.0", "::") else host
    return f"{address} takes plain {scheme.upper()} on {where}: anyone who reaches it can join the cluster"


def exposures(addresses: dict[str, list[str]], resolver: Resolver = resolve) -> list[str]:
    """`exposure` of every address, each named by what listens there ("the scheduler", a worker)."""
    found = []
    for owner, listened in sorted(addresses.items()):
        for address in listened:
            reason = exposure(address, resolver)
            if reason:
                found.append(f"{owner}: {reason}")
    return found


def refusal(problems: list[str]) -> str:
    """The one-line reason `grade --scheduler` gives for a cluster others could join."""
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return (f"refusing a Dask cluster that others could join: {problems[0]}{more}. Use TLS with the course's "
            "certificates (tls://, see docs/cluster.md), or bind the scheduler and every worker to 127.0.0.1 "
            "(--host 127.0.0.1); --insecure grades there anyway")


# --- What Dask's transport may unpickle in the grading process -----------------------------

#: Plain values a pickle may hold.
PLAIN_BUILTINS = frozenset({"str", "bytes", "bytearray", "int", "float", "complex", "bool", "tuple", "list",
                            "dict", "set", "frozenset", "slice", "range", "NoneType"})
#: What Dask's transport of plain data and errors needs beyond them: a KilledWorker (which the
#: scheduler sends with the state of the worker that died), and tblib's picklable tracebacks,
#: which are data that its functions turn into a traceback without running any of it.
DASK_TRANSPORT = frozenset({
    ("collections", "deque"), ("collections", "defaultdict"), ("collections", "OrderedDict"),
    ("distributed.scheduler", "KilledWorker"), ("distributed.scheduler", "WorkerState"),
    ("distributed.core", "Status"),
    ("tblib", "Frame"), ("tblib", "Code"), ("tblib", "Traceback"),
    ("tblib.pickling_support", "unpickle_traceback"), ("tblib.pickling_support", "unpickle_exception"),
    ("tblib.pickling_support", "unpickle_exception_with_attrs"),
})


def allowed_global(module: str, name: str) -> bool:
    """Whether a pickle read in the grading process may name `module.name`: plain types, the
    exceptions of Python and of Dask, and DASK_TRANSPORT. Nothing of ours, no function that
    does anything (os.system, eval, getattr, a class's constructor with side effects)."""
    if (module, name) in DASK_TRANSPORT:
        return True
    if module == "builtins":
        if name in PLAIN_BUILTINS:
            return True
        found = getattr(builtins, name, None)
    elif module == "distributed" or module.startswith("distributed."):
        found = getattr(sys.modules.get(module), name, None)  # only what Dask has imported itself
    else:
        return False
    return isinstance(found, type) and issubclass(found, BaseException)


class RefusedPickle(TypeError):
    """A pickle from the cluster named something it may not (a TypeError: what Dask's error
    handling expects of a traceback it cannot read, so that it goes on without it)."""


_guard = threading.Lock()
_active = 0
_hooked = False


def _audit(event: str, arguments: tuple) -> None:
    # Every unpickler (the C one Dask uses included) asks find_class for each global a pickle
    # names, and tells the audit hooks first: refusing here stops the pickle before the
    # object exists. Audit hooks cannot be removed, so this one acts only while a grading is
    # connected to a cluster.
    if event == "pickle.find_class" and _active:
        module, name = arguments
        if not allowed_global(str(module), str(name)):
            raise RefusedPickle(f"refused to unpickle {module}.{name} from the cluster")


@contextlib.contextmanager
def refusing_pickles() -> Iterator[None]:
    """While inside, no pickle read in this process may build anything `allowed_global` refuses."""
    global _active, _hooked
    with _guard:
        if not _hooked:
            sys.addaudithook(_audit)
            _hooked = True
        _active += 1
    try:
        yield
    finally:
        with _guard:
            _active -= 1
