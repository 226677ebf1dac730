"""The code's shape, as a reader relies on it: no import cycles, each setting under one
name from its flag to where it acts, and errors routed by kind, not by builtin type."""
from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from autograder import cli
from autograder.errors import AutograderError, GraderFault, NotGradable, UsageError
from autograder.exercise import registry as exercises
from autograder.grading import pipeline, settings
from autograder.grading.plan import make_plan
from conftest import write_notebook

PACKAGE = Path(__file__).resolve().parent.parent / "autograder"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, modules: set[str]) -> set[str]:
    """Every module of the package that `path` imports, at any depth of the file."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name in modules)
        elif isinstance(node, ast.ImportFrom):
            base = package
            for _ in range(node.level - 1):
                base = base.rpartition(".")[0]
            target = (f"{base}.{node.module}" if node.module else base) if node.level else node.module or ""
            for alias in node.names:  # `from . import x` names a submodule when one exists
                child = f"{target}.{alias.name}"
                found.add(child if child in modules else target)
    return {module for module in found if module in modules and module != name}


def import_graph() -> dict[str, set[str]]:
    paths = sorted(PACKAGE.rglob("*.py"))
    modules = {_module_name(path) for path in paths}
    return {_module_name(path): _imports(path, modules) for path in paths}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1 on the current path, 2 done

    def visit(module: str, path: list[str]) -> list[str] | None:
        state[module] = 1
        for target in sorted(graph.get(module, ())):
            if state.get(target) == 1:
                return [*path[path.index(target):], target]
            if target not in state and (cycle := visit(target, [*path, target])):
                return cycle
        state[module] = 2
        return None

    for module in sorted(graph):
        if module not in state and (cycle := visit(module, [module])):
            return cycle
    return None


def test_the_package_has_no_import_cycles():
    graph = import_graph()
    assert ("autograder.grading.plan" in graph["autograder.cli"]
            or "autograder.grading.plan" in graph["autograder.grading.pipeline"])
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_each_setting_keeps_one_name_from_its_flag_to_where_it_acts(tmp_path):
    args = cli.build_parser().parse_args(
        ["check", "nb.ipynb", "--exercise", "keras-deeper", "--timeout", "30", "--cell-timeout", "100",
         "--memory-mb", "2048", "--threshold", "0.5", "--hide-threshold", "--isolation", "rlimits"])
    request = cli.request_of(args)
    assert (request.timeout_s, request.cell_timeout_s, request.memory_mb) == (30.0, 100.0, 2048)
    plan = make_plan(request)
    assert plan.limits.timeout_s == 30.0
    assert plan.limits.cell_timeout_s == 30.0  # a cell may not outlast its notebook
    assert plan.limits.memory_mb == 2048
    assert plan.isolation == "rlimits"
    assert plan.exercise is not None and plan.exercise.id == "keras-deeper"
    assert (plan.exercise.threshold, plan.exercise.hide_threshold) == (0.5, True)


def test_defaults_are_declared_once():
    request = settings.Request()
    plan = make_plan(request)
    assert plan.limits == settings.DEFAULT_LIMITS
    assert plan.exercise is None and plan.holdout is None
    for flag in ("--timeout", "--threshold", "--data"):
        for command in ("check", "grade"):
            parser = cli.build_parser()
            with pytest.raises(SystemExit):
                parser.parse_args([command, "x", "--out", "o", flag])  # each flag takes a value



def test_rubric_changes_with_every_setting_that_changes_a_verdict():
    base = make_plan(settings.Request(exercise="keras-dense"))
    rubric = base.rubric(base.exercise)
    assert rubric == make_plan(settings.Request(exercise="keras-dense")).rubric(base.exercise)
    for changed in ({"threshold": 0.9}, {"timeout_s": 60.0}, {"memory_mb": 1024}, {"hide_threshold": True},
                    {"seed": 1}):
        other = make_plan(settings.Request(exercise="keras-dense", **changed))
        assert other.rubric(other.exercise) != rubric, changed
        # `grade` without --exercise asks with the bare exercise a notebook names
        unnamed = make_plan(settings.Request(**changed))
        assert unnamed.rubric(exercises.get("keras-dense")) != rubric, changed
    # A result graded without bubblewrap is not reused once bubblewrap is there (nor the reverse).
    plain = make_plan(settings.Request(exercise="keras-dense", isolation="rlimits"))
    assert (plain.rubric(plain.exercise) != rubric) == (base.isolation != plain.isolation)


def test_the_rubric_names_the_graders_build(tmp_path, monkeypatch):
    """Another build of the grader (its code changed, its version string not) grades again."""
    import shutil

    import autograder
    from autograder.grading import plan as plan_module

    copy = tmp_path / "autograder"
    shutil.copytree(Path(autograder.__file__).parent, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(plan_module, "__file__", str(copy / "grading" / "plan.py"))
    plan_module.grader_build.cache_clear()
    try:
        same = plan_module.grader_build()
        changed = copy / "grading" / "checks" / "model.py"
        changed.write_text(changed.read_text() + "\n# changed\n")
        plan_module.grader_build.cache_clear()
        assert plan_module.grader_build() != same
    finally:
        plan_module.grader_build.cache_clear()


def test_errors_form_one_tree():
    for kind in (UsageError, NotGradable, GraderFault):
        assert issubclass(kind, AutograderError)
    from autograder import data, notebook
    from autograder.batch import gradebook

    assert issubclass(data.DataError, UsageError)
    assert issubclass(exercises.UnknownExercise, UsageError)
    assert issubclass(gradebook.GradebookError, UsageError)
    assert issubclass(notebook.NotebookError, NotGradable)


def test_a_grader_bug_is_an_internal_error_not_misuse(tmp_path, monkeypatch, capsys):
    notebook = write_notebook(tmp_path / "nb.ipynb", ["x = 1"], exercise="keras-dense")
    out = tmp_path / "result.json"

    def broken(*args, **kwargs):
        raise ValueError("a numpy-style error from a bug of ours")

    monkeypatch.setattr(pipeline, "grade_notebook", broken)
    status = cli.main(["check", str(notebook), "--json", str(out), "--quiet"])
    error = capsys.readouterr().err
    assert status == 2
    assert "internal error in the grader (ValueError" in error and "please report" in error
    assert json.loads(out.read_text())["status"] == "invalid"


def test_misuse_is_named_as_such(tmp_path, capsys):
    notebook = write_notebook(tmp_path / "nb.ipynb", ["x = 1"])
    status = cli.main(["check", str(notebook), "--exercise", "keras-nope", "--quiet"])
    error = capsys.readouterr().err
    assert status == 2 and "unknown exercise 'keras-nope'" in error and "internal" not in error
    with pytest.raises(SystemExit):
        cli.main(["check", str(notebook), "--timeout", "-3"])
