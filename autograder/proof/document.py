"""The proof document, `autograder.proof/1` (DESIGN.md "Proving an exercise").

```json
{"schema": "autograder.proof/1", "exercise": "keras-dense", "solution": "keras-dense.ipynb", "holds": true,
 "calibration": {"runs": 8, "accuracies": [...], "threshold": 0.8, "false_fail_rate": 0.0,
                 "suggested_threshold": 0.86, ...},
 "solution_meets_file": true,
 "mutants": [{"id", "description", "score", "max_score", "failed_checks", "causes", "ok", ...}],
 "equivalents": [...], "skipped": [{"id", "kind", "description", "reason"}],
 "problems": [{"proof", "expectation", "what", "fix"}], "duration_s": 61.2}
```

`problems` lists every proof that did not hold, the solution's and the calibration's first:
which expectation of the file is unprotected and how to fix the file.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

SCHEMA = "autograder.proof/1"


def write(document: dict[str, Any], path: str | os.PathLike) -> None:
    Path(path).write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def caught(document: dict[str, Any]) -> int:
    return sum(1 for mutant in document.get("mutants", []) if mutant.get("ok"))


def passing(document: dict[str, Any]) -> int:
    return sum(1 for equivalent in document.get("equivalents", []) if equivalent.get("ok"))
