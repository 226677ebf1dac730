"""Write autograder/similarity/released.json again from the project's released notebooks and
solutions (exercises/, solutions/, examples/): the base code of the built-in exercises, which the
package ships because an installed grader has no project folder beside it.

    python scripts/similarity_base.py
"""
from __future__ import annotations

import sys
from pathlib import Path

if __name__ == "__main__":
    root = Path(__file__).resolve().parent.parent
    sys.path.insert(0, str(root))  # this project's package, not another installed copy
    from autograder.similarity import base

    target = root / "autograder" / "similarity" / base.RELEASED
    target.write_text(base.render_released(root), encoding="utf-8")
    print(f"wrote {target}")
