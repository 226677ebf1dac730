"""The code's shape, as a reader relies on it: no import cycles; the package laid out by wings
(faces at the top, the base below everything, no wing importing back up); each setting under one
name from its flag to where it acts; and errors routed by kind, not by builtin type."""
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


#: The faces a user, a notebook or a course's configuration names: they stay at the top, so that
#: notebooks released before the package was laid out by wings still import them.
FACES = {"autograder.__main__", "autograder.cli", "autograder.student", "autograder.in_nbgrader",
         "autograder.pytest_plugin", "autograder.gradescope", "autograder.nbgrader_grading"}


def wing_of(module: str) -> str:
    """A module's place at the package's top: its wing (autograder.grading), or itself."""
    return ".".join(module.split(".")[:2])


def top_level_graph() -> dict[str, set[str]]:
    """Imports between the top's modules and wings, each wing as one."""
    graph: dict[str, set[str]] = {}
    for module, targets in import_graph().items():
        if module == "autograder":
            continue
        here = wing_of(module)
        graph.setdefault(here, set()).update(wing_of(t) for t in targets if t != "autograder" and wing_of(t) != here)
    return graph


def layers(graph: dict[str, set[str]]) -> list[list[str]]:
    """The graph's layers: each node one above the highest it imports (it must have no cycle)."""
    level: dict[str, int] = {}

    def visit(node: str) -> int:
        if node not in level:
            level[node] = 1 + max((visit(target) for target in graph.get(node, ())), default=-1)
        return level[node]

    for node in graph:
        visit(node)
    return [sorted(n for n in graph if level[n] == number) for number in range(max(level.values()) + 1)]


def base_modules() -> set[str]:
    """The base: the top's plain modules that are not faces."""
    return {wing for wing in top_level_graph()
            if wing not in FACES and (PACKAGE / f"{wing.split('.')[1]}.py").is_file()}


def test_no_import_runs_back_up_between_wings():
    graph = top_level_graph()
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])
    stack = layers(graph)
    assert "autograder.grading" in graph and "autograder.cli" in stack[-1] + stack[-2]
    assert len(graph) <= 30 and len(stack) <= 10, stack  # 24 in 9 layers when the wings were laid out


def test_the_faces_keep_their_public_import_paths():
    for face in FACES:
        assert (PACKAGE / f"{face.split('.')[1]}.py").is_file(), face
    released = [path for folder in ("exercises", "solutions", "examples")
                for path in (PACKAGE.parent / folder).glob("*.ipynb")]
    assert released
    named = set()
    for path in released:  # what a released notebook imports of ours must import still
        for cell in json.loads(path.read_text())["cells"]:
            source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            named.update(found for found in imported_by_code(source) if found.startswith("autograder"))
    assert {"autograder.student", "autograder.in_nbgrader"} <= named
    assert named <= FACES | {"autograder"}, named - FACES


def imported_by_code(source: str) -> set[str]:
    found = set()
    for line in source.splitlines():
        words = line.split()
        if len(words) >= 2 and words[0] in ("from", "import"):
            found.add(words[1].rstrip(","))
    return found


def test_the_base_imports_only_the_base():
    graph, base = top_level_graph(), base_modules()
    assert {"autograder.errors", "autograder.protocol", "autograder.notebook"} <= base
    for module in base:
        assert graph[module] <= base, f"{module} imports {graph[module] - base}: a base module imports no wing"


def test_the_sandbox_and_the_exercise_wing_import_only_the_base():
    """The sandbox runs student code and the exercise is data: neither knows of grading."""
    graph, base = top_level_graph(), base_modules()
    for wing in ("autograder.sandbox", "autograder.exercise"):
        assert graph[wing] <= base, f"{wing} imports {graph[wing] - base}"


def test_grading_imports_neither_the_batch_nor_the_reports():
    """One notebook's grading is what `check`, the self-check and every batch share: it knows
    nothing of classes or of how a result is rendered."""
    graph = import_graph()
    for module, targets in graph.items():
        if wing_of(module) == "autograder.grading":
            wrong = {t for t in targets if wing_of(t) in ("autograder.batch", "autograder.report")}
            assert not wrong, f"{module} imports {sorted(wrong)}"


def test_the_wing_rules_catch_an_import_running_back_up():
    assert find_cycle({"autograder.grading": {"autograder.batch"}, "autograder.batch": {"autograder.grading"}})
    assert layers({"a": {"b"}, "b": {"c"}, "c": set()}) == [["c"], ["b"], ["a"]]


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
