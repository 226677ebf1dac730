"""The kernel the student's notebook runs in: an IPython kernel with the probe.

Cold path: started by the runner through a private kernel spec
(`python -m autograder.sandbox.kernel -f CONNECTION_FILE`), with its settings
in the environment (see `launch_environment`). Warm path: the fork server's
job process forks and calls `serve` directly, with TensorFlow already
imported. Either way the probe is installed and the seeds are fixed before the
kernel accepts its first cell, so nothing the student writes runs earlier.
"""
import os
import sys


def serve(out_dir: str, events_fd: int, data_path: str, seed: int, threads: int, argv: list[str]) -> None:
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    # Grappler rewrites every traced graph before it first runs: for the lesson's tiny models
    # that was 0.4 s of a 2.1 s fit (a fifth of the student's time), for bit-identical numbers.
    tf.config.optimizer.set_experimental_options({"disable_meta_optimizer": True})
    from autograder.sandbox import probe

    probe.install(out_dir, events_fd, data_path, seed)
    if sys.path and sys.path[0] in ("", os.getcwd()):
        del sys.path[0]  # as ipykernel_launcher does
    from ipykernel.kernelapp import IPKernelApp

    # What ipykernel's launch_new_instance does, with the probe attached to the
    # shell between initialising and starting.
    app = IPKernelApp.instance()
    # No one debugs a graded run. Without debugpy, ipykernel skips loading its debugger: 0.2 s
    # of every kernel's start, and a thread, so the fork server could not load it beforehand.
    # Hidden only while the kernel initialises: a notebook may still import debugpy itself.
    hidden = "debugpy" not in sys.modules
    if hidden:
        sys.modules["debugpy"] = None  # type: ignore[assignment]
    try:
        app.initialize(argv)
    finally:
        if hidden:
            del sys.modules["debugpy"]
    probe.attach(app.shell)
    app.start()


#: How the runner hands a kernel it starts (the cold path) its settings: environment variables,
#: which `main` removes before any student code runs.
_SETTINGS = {"out_dir": "AUTOGRADER_PROBE_DIR", "events_fd": "AUTOGRADER_PROBE_FD",
             "data_path": "AUTOGRADER_PROBE_DATA", "seed": "AUTOGRADER_KERNEL_SEED",
             "threads": "AUTOGRADER_KERNEL_THREADS"}


def launch_environment(out_dir: str, events_fd: int, data_path: str, seed: int, threads: int) -> dict[str, str]:
    """The environment variables through which `main` gets `serve`'s settings."""
    values = {"out_dir": out_dir, "events_fd": events_fd, "data_path": data_path, "seed": seed, "threads": threads}
    return {_SETTINGS[name]: str(value) for name, value in values.items()}


def main() -> None:
    # Popped so that the student's code does not find the probe's files by name.
    settings = {name: os.environ.pop(variable) for name, variable in _SETTINGS.items()}
    events_fd = int(settings["events_fd"])
    os.set_inheritable(events_fd, False)  # not passed on to the student's subprocesses
    serve(settings["out_dir"], events_fd, settings["data_path"], int(settings["seed"]), int(settings["threads"]),
          sys.argv[1:])


if __name__ == "__main__":
    main()
