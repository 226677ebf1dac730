"""keras-autograder: grades Keras lesson notebooks.

The package by wings, each importing only those below it (tests/test_code_shape.py):

- the faces a user, a notebook or a course names, at the top: cli and __main__ (the command),
  student (the self-check in a notebook), in_nbgrader and nbgrader_grading (nbgrader),
  pytest_plugin, gradescope;
- service/ (the course service), proof/ (`exercise prove` and `exercise new`);
- batch/: a class at a time (`grade`); similarity/: similar submissions in a class;
- report/: a result rendered for each medium;
- grading/: one notebook's grading, the one pipeline from plan to result;
- exercise/: what an exercise is, as data;
- sandbox/: running student code, apart;
- the base, at the top: errors, protocol, processes, scratch, data, notebook, modelfile,
  identity, submitting.
"""
import sys

__version__ = "0.1.0"

# nbformat validates with jsonschema, which, when the optional rfc3987-syntax package
# is installed (Jupyter's packages pull it in), builds a Lark parser for IRIs at import:
# about 1.5 s in every grader, runner and fork-server process, for a format notebooks
# never use. Marking it absent makes jsonschema skip that one format checker.
sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]  # None marks it absent
