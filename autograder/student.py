"""Self-check for students, inside their own notebook.

    from autograder.student import Exercise
    ex = Exercise("keras-dense")      # first cell: starts recording this kernel (or "my-exercise.toml")
    ...                               # the student's code for one step
    ex.check("build")                 # that step's checks, on the kernel's current state
    ex.hint("build")                  # a further hint for the step
    ex.check_all()                    # every check, with the accuracy measured by the grader
    ex.submit()                       # send the saved notebook to the course service, show its score

The steps are load, reshape, build, compile, fit and evaluate
(`autograder.exercise.registry.TASKS`). A check runs the same checks as
`autograder check`, on facts recorded from the live kernel (see
`autograder.grading.live`); the accuracy is measured, as in `check`, by a separate
evaluator process on the data file's own test images.

Nothing here may break the student's kernel or show a traceback of ours:
every failure of the self-check is shown as a note. When the autograder
itself runs the notebook (in its sandbox, where the kernel is already
recorded), the self-check cells do nothing, so they cannot change a grade.
"""
from __future__ import annotations

import contextlib
import os
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from .exercise import registry as exercises

if TYPE_CHECKING:  # grading/live.py imports the kernel's probe: only when a check runs
    from .grading.live import LiveRecorder

STEPS = ", ".join(exercises.TASKS)
# Keras 3 warns, in the student's build cell, whenever a layer gets `input_shape`, as the
# lesson asks. The warning is Keras' and stays (it would appear without the self-check too);
# the build check says what it means for this lesson.
INPUT_SHAPE_WARNING = ("Keras may have printed a UserWarning about `input_shape` above: that is advice, "
                       "not an error. A first layer given `input_shape=...` works and is graded the same "
                       "as the `keras.Input(shape=...)` layer Keras suggests.")


def _display(panel) -> None:
    try:
        from IPython.display import display

        display(panel)
    except Exception:  # noqa: BLE001 - no rich display here: plain text still helps
        print(repr(panel))


def _user_namespace() -> dict | None:
    try:
        from IPython import get_ipython

        shell = get_ipython()
    except ImportError:
        return None
    return getattr(shell, "user_ns", None)


def _graded_here() -> bool:
    """Is this kernel one the autograder is grading? Its probe is then installed already.

    Decided from what is loaded, without importing anything: in the grader's kernels these
    cells must cost nothing.
    """
    if os.environ.get("AUTOGRADER_SANDBOX"):
        return True
    probe, live = sys.modules.get("autograder.sandbox.probe"), sys.modules.get("autograder.grading.live")
    return getattr(probe, "_probe", None) is not None and getattr(live, "_recorder", None) is None


@contextlib.contextmanager
def _our_work_quiet() -> Iterator[None]:
    """Silence the warnings and absl log lines of the self-check's own work.

    Starting the recorder imports Keras, and a check saves the student's models and reads
    them back: what Keras says about that is about our work, not the student's, and would
    show under their cell. Only for the duration of our own call: the student's cells keep
    every warning they raise (Keras' advice on `input_shape` included).
    """
    absl_logging = sys.modules.get("absl.logging")  # imported by Keras; never by us
    verbosity = absl_logging.get_verbosity() if absl_logging is not None else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if absl_logging is not None:
            absl_logging.set_verbosity(absl_logging.ERROR)
        try:
            yield
        finally:
            if absl_logging is not None and verbosity is not None:
                absl_logging.set_verbosity(verbosity)


def root_causes(facts, results, exercise: exercises.Exercise) -> dict[str, str]:
    """The root cause of each failed check, found as `check` finds it: one analysis for every surface."""
    from .grading import causes

    return causes.check_notes(facts, results, exercise)


def step_panel(step: str, exercise: exercises.Exercise, facts, results, untouched: bool):
    """What `ex.check(step)` shows for these facts: the step's checks, each failed one sent to its
    root cause ("this follows from the cell In [2] failing ...; fix that first")."""
    from .report import inline

    chosen = [r for r in results if r["id"] in exercises.TASKS[step]]
    return inline.step_panel(step, chosen, not_started=untouched, causes=root_causes(facts, results, exercise))


class Exercise:
    """One exercise of the lesson, checked on the work in this kernel."""

    def __init__(self, exercise_id: str, data: str = "fashion.npz") -> None:
        self.id = exercise_id
        self._exercise: exercises.Exercise | None = None
        self._recorder: LiveRecorder | None = None
        self._problem = ""
        self._in_grader = _graded_here()
        if self._in_grader:
            return  # the grader records this kernel itself
        from .report import inline

        try:
            self._exercise = exercises.get(exercise_id)
        except exercises.UsageError as error:  # an unknown id, or an exercise file that is not valid
            self._problem = f"The self-check cannot start: {error}."
            _display(inline.note_panel("Self-check", self._problem))
            return
        try:
            from .grading import live

            with _our_work_quiet():
                self._recorder = live.recorder(data)
        except Exception as error:  # noqa: BLE001
            self._problem = (f"The self-check could not start ({type(error).__name__}: {error}). Your work "
                             "is not affected; the autograder still grades the saved notebook.")
        if self._recorder is None and not self._problem:
            self._problem = "The self-check works inside a Jupyter notebook (an IPython kernel)."
        if self._problem:
            _display(inline.note_panel("Self-check", self._problem))
        elif self._recorder is not None and not self._recorder.cells and self._unseen_work():
            _display(inline.note_panel(
                "Self-check", "Cells that ran before this one are not seen by the checks. Run the notebook "
                              "from the top (Kernel > Restart & Run All) for checks on all of your work.",
                state="not_started"))

    @property
    def _live(self) -> LiveRecorder:
        """The live kernel's recorder: there whenever a check runs (see _show)."""
        if self._recorder is None:
            raise RuntimeError("the self-check has no live kernel to check")
        return self._recorder

    @property
    def _checked_exercise(self) -> exercises.Exercise:
        if self._exercise is None:
            raise RuntimeError("the self-check has no exercise")
        return self._exercise

    def __repr__(self) -> str:
        return f"Exercise({self.id!r})"

    # --- what students call -------------------------------------------------------
    def submit(self, notebook: str | None = None, wait: bool = True) -> None:
        """Send this notebook's saved file to the course service (autograder/submitting.py says
        where the server and token come from), then, with `wait`, show its score once graded.
        Save the notebook first: the file is what is graded, as it would be from the page."""
        if self._in_grader:
            return  # the grader's own run never submits anything
        from . import submitting
        from .report import inline

        try:
            service = submitting.find_service()
            path = Path(notebook) if notebook else submitting.running_notebook(_user_namespace())
            if path is None:
                raise submitting.SubmitError("this kernel does not say which notebook it runs: save the notebook "
                                             "and give its file, ex.submit(\"my-notebook.ipynb\")")
            sent = submitting.send(service, self.id, path)
            _display(inline.note_panel("Submitted", f"{path.name} is queued (number {sent.get('position')}); "
                                                    "it is graded in the saved form of the file.", state="not_started"))
            if not wait:
                return
            shown = submitting.wait_graded(service, str(sent["id"]))
        except submitting.SubmitError as error:
            _display(inline.note_panel("Submission", str(error)))
            return
        if shown.get("status") == "graded":
            late = " (late)" if shown.get("late") else ""
            _display(inline.note_panel("Graded", f"{shown.get('score'):g} / {shown.get('max_score'):g}{late}. "
                                                 f"Your report: {service.server}/ (sign in with your token).",
                                       state="passed" if shown.get("score") == shown.get("max_score") else "failed"))
        elif shown.get("status") == "not-graded":
            _display(inline.note_panel("Not graded", str(shown.get("reason") or "the notebook could not be graded")))
        else:
            _display(inline.note_panel("Submitted", f"still {shown.get('status')}; see {service.server}/",
                                       state="not_started"))


    def check(self, step: str) -> None:
        """Show whether one step of the lesson is done right, and what to do if not."""
        self._show(lambda: self._step(step))

    def hint(self, step: str) -> None:
        """Show a further hint for one step."""
        if self._in_grader:
            return
        from .report import inline

        if step not in exercises.TASKS:
            _display(self._unknown(step))
            return
        if self._exercise is None:  # it could not be read: the first cell said why
            _display(inline.note_panel("Self-check", self._problem))
            return
        _display(inline.note_panel(f"Hint: {exercises.TASK_TITLES[step]}", self._exercise.task_hint(step),
                                   state="not_started"))

    def check_all(self) -> None:
        """Show every check of the exercise, with the accuracy measured by the grader."""
        self._show(self._all)

    # --- the work -----------------------------------------------------------------

    def _show(self, make) -> None:
        if self._in_grader:
            return
        from .report import inline

        if self._problem:
            _display(inline.note_panel("Self-check", self._problem))
            return
        try:
            with _our_work_quiet():
                panel = make()
        except Exception as error:  # noqa: BLE001 - a bug of ours must not look like the student's
            panel = inline.note_panel(
                "Self-check", f"The self-check could not run ({type(error).__name__}: {error}). Your work is "
                              "not affected; the autograder still grades the saved notebook.")
        _display(panel)

    def _unknown(self, step: str):
        from .report import inline

        return inline.note_panel("Self-check", f"There is no step called {step!r}; the steps are {STEPS}.")

    def _outcomes(self, measure: bool):
        from .grading import checks, pipeline

        recorder = self._live
        lesson = recorder.lesson()
        if isinstance(lesson, str):
            return None, lesson
        record = recorder.snapshot()
        # The evaluator is a process whose TensorFlow import takes seconds: started only when
        # there is a model to measure.
        evaluator = recorder.measuring_evaluator() if measure and record.models else None
        facts = pipeline.assess(self._checked_exercise, record, recorder.sources(), lesson, evaluator,
                                str(recorder.folder / "test.npz"))
        return (facts, checks.run_checks(facts, self._checked_exercise)), ""

    def _step(self, step: str):
        from .report import inline

        if step not in exercises.TASKS:
            return self._unknown(step)
        self._live.mark_check_cell()
        last = self._live.last_work_cell()
        untouched = ((last or {}).get("error") or {}).get("ename") == "NotImplementedError"
        # A step not started yet is answered at once: nothing is measured for it.
        outcome, problem = self._outcomes(measure=step == "evaluate" and not untouched)
        if outcome is None:
            return inline.note_panel(exercises.TASK_TITLES[step], problem)
        facts, results = outcome
        if not untouched and (facts.loads or facts.graded_model is not None):
            # The student is under way: start the evaluator now, so that its TensorFlow import
            # (seconds, at low priority) is done while they work and checking the evaluation
            # takes a moment. Never for a notebook as handed out.
            self._live.warm_up()
        panel = step_panel(step, self._checked_exercise, facts, results, untouched)
        if step == "build" and not untouched and any(
                word in source for source in self._live.sources().values() for word in ("input_shape=", "input_dim=")):
            panel.note = INPUT_SHAPE_WARNING
        return panel

    def _all(self):
        from .report import inline

        self._live.mark_check_cell()
        outcome, problem = self._outcomes(measure=True)
        if outcome is None:
            return inline.note_panel("Every check", problem)
        facts, results = outcome
        exercise = self._checked_exercise
        return inline.all_panel(results, sum(r["points"] for r in results), exercise.max_score, facts.test_accuracy,
                                root_causes(facts, results, exercise))

    def _unseen_work(self) -> bool:
        """Does the namespace already hold a model or the lesson's arrays?"""
        namespace = self._live.shell.user_ns
        keras = self._live.probe.keras
        return any(isinstance(value, keras.Model) or name in ("train_data", "fashion")
                   for name, value in list(namespace.items()) if not name.startswith("_"))
