"""The adversarial suite: every attack of docs/security.md as a real submission.

The hostile notebooks of the corpus that attack the grading machine, plus one that
leaves processes behind and an archive built to escape, are graded as one class
next to an honest student, through the real `autograder grade` (graded_classes.py;
the attacks on what the grader reads back are graded with the rest of the corpus).
No attack may change a verdict (each gets exactly its expected one), the honest
student's grade must be what it is alone, and nothing of a submission may survive
(no process, no file in the grader's temporary folder, no file the attacks aim at
the grader's machine). Copies in one class are graded exactly alike
(test_determinism.py).
"""
from __future__ import annotations

import re

import pytest

from conftest import ROOT
from corpus import CASES
from graded_classes import HOSTILE_CLASS, MEMBERS, survivors
from test_corpus import verify

SECURITY = ROOT / "docs" / "security.md"


def test_every_proof_in_the_threat_model_exists():
    """docs/security.md names a test or a corpus case for each attack; each must exist."""
    text = SECURITY.read_text()
    rows = [line for line in text.splitlines() if line.startswith("| ") and not line.startswith("| Attack")
            and not line.startswith("| ---")]
    assert len(rows) >= 20
    tests = {path.name: path.read_text() for path in (ROOT / "tests").glob("test_*.py")}
    for row in rows:
        proof = row.rstrip(" |").rsplit("|", 1)[-1]
        named = re.findall(r"`([^`]+)`", proof)
        assert named, f"no proof named for: {row}"
        for name in named:
            if name.endswith(".py") or ".py::" in name:
                module, _, test = name.partition("::")
                assert module in tests, f"{module} (in {row[:60]}...) does not exist"
                assert not test or f"def {test.split('[')[0]}(" in tests[module], f"{name} does not exist"
            elif name.startswith("timeout-*"):
                assert any(case.startswith("timeout-") for case in CASES)
            else:
                assert name in CASES, f"corpus case {name!r} (in {row[:60]}...) does not exist"


CODE_CARRYING = {"pickle", "cPickle", "dill", "joblib", "cloudpickle", "shelve", "marshal", "eval", "exec"}
UNSAFE_KEYWORDS = {("allow_pickle", "True"), ("safe_mode", "False")}


def test_the_grader_loads_no_code_carrying_format():
    """No module of the grader names a loader that can run code, or turns Keras' or numpy's
    safety off (tokens, so comments and messages may still mention them)."""
    import io
    import tokenize

    for path in sorted((ROOT / "autograder").rglob("*.py")):
        tokens = [t for t in tokenize.generate_tokens(io.StringIO(path.read_text()).readline)
                  if t.type in (tokenize.NAME, tokenize.OP)]
        names = {t.string for t in tokens if t.type == tokenize.NAME}
        assert not names & CODE_CARRYING, f"{path.name} uses {names & CODE_CARRYING}"
        for first, second, third in zip(tokens, tokens[1:], tokens[2:]):
            assert (second.string != "=" or (first.string, third.string) not in UNSAFE_KEYWORDS), \
                f"{path.name} line {first.start[0]}: {first.string}={third.string}"


def fingerprint(result: dict) -> dict:
    return {"status": result["status"], "score": result["score"],
            "verdicts": {c["id"]: (c["passed"], c["points"]) for c in result["checks"]},
            "accuracy": result["metrics"].get("test_accuracy")}


@pytest.mark.slow
@pytest.mark.timeout(1800)
@pytest.mark.xdist_group(HOSTILE_CLASS)
def test_a_hostile_class_changes_no_verdict_and_harms_nothing(corpus_class):
    """The hostile class (graded_classes.py) through the real `grade`: every attack gets exactly
    its expected verdicts (test_corpus.py), the notebook that leaves daemons loses nothing for
    it, the honest student's grade is what it is alone in a cold kernel, and nothing of a
    submission survives: no process, no file in the grader's temporary folder, no file the
    attacks aim at the grader's machine, nothing extracted from the archive."""
    run = corpus_class(HOSTILE_CLASS)
    assert run.seconds < 600
    for name in MEMBERS[HOSTILE_CLASS]:
        verify(CASES[name], run.results[name])
    daemons = run.results["leaves-daemons"]
    assert daemons["score"] == 100.0 and all(c["status"] == "ok" for c in daemons["cells"]), daemons["cells"]
    assert fingerprint(run.results["honest"]) == fingerprint(run.alone)
    for reason in ("a path that leaves the archive", "a symbolic link", "zip bomb"):
        assert reason in run.summary_html
    assert run.survivors == [] and survivors(run.token) == []
    assert run.left_in_scratch == []
    assert run.markers_after == run.markers_before
    assert run.escaped == []
