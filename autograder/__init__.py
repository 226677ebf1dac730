"""keras-autograder: grades Keras lesson notebooks."""
import sys

__version__ = "0.1.0"

# nbformat validates with jsonschema, which, when the optional rfc3987-syntax package
# is installed (Jupyter's packages pull it in), builds a Lark parser for IRIs at import:
# about 1.5 s in every grader, runner and fork-server process, for a format notebooks
# never use. Marking it absent makes jsonschema skip that one format checker.
sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]  # None marks it absent
