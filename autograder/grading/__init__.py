"""One notebook's grading, the one pipeline (pipeline.py): settings and plan -> the sandboxed run
(../sandbox/) or the self-check's live kernel (live.py) -> facts -> checks (checks/, with
corroboration, leakage and gapstat) -> causes (causes.py, with dataflow, shapes, modelflow and the
checks' words in phrasing.py) -> the result document (result.py). Accuracy is measured apart, in
the evaluator process (evaluation.py).

Nothing here imports the batch machinery (../batch/) or the renderings (../report/)."""
