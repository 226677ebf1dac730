"""A class at a time (`grade`): find the submissions (collect.py), keep the fork server and the
evaluator warm (workers.py), run them side by side or on a Dask cluster (run.py, cluster.py,
cluster_access.py, remote_result.py), lay out the output folder (outputs.py), keep the gradebook
and its sheets (gradebook.py, sheets.py) and show progress (progress.py)."""
