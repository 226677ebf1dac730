"""The kernel the student's notebook runs in: an IPython kernel with the probe.

Started by the runner through a private kernel spec, inside the sandbox. The
probe is installed and the seeds are fixed before the kernel accepts its first
cell, so nothing the student writes runs earlier.
"""
import os
import sys


def main() -> None:
    # Popped so that the student's code does not find the probe's files by name.
    out_dir = os.environ.pop("AUTOGRADER_PROBE_DIR")
    data_path = os.environ.pop("AUTOGRADER_PROBE_DATA")
    seed = int(os.environ.pop("AUTOGRADER_SEED", "0"))
    threads = int(os.environ.get("AUTOGRADER_THREADS", "1"))

    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    from autograder.sandbox import probe

    probe.install(out_dir, data_path, seed)
    if sys.path and sys.path[0] in ("", os.getcwd()):
        del sys.path[0]  # as ipykernel_launcher does
    from ipykernel import kernelapp

    kernelapp.launch_new_instance()


if __name__ == "__main__":
    main()
