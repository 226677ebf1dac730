"""The documentation: the site builds with no warning (so no link, anchor or nav entry goes
stale), the README's own links resolve, and the README keeps the commands CI runs."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from markdown.extensions.toc import slugify

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
README = ROOT / "README.md"
# [text](target) outside code; images too.
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def test_the_site_builds_with_no_warning(tmp_path: Path):
    """`mkdocs build --strict` with links, anchors and the nav validated (mkdocs.yml): a page
    linking to a missing page or anchor, or a page left out of the nav, fails here."""
    site = tmp_path / "site"
    completed = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
                               cwd=ROOT, capture_output=True, text=True, timeout=120)
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output[-3000:]
    assert "WARNING" not in output and "ERROR" not in output, output[-3000:]
    pages = {path.relative_to(DOCS).with_suffix(".html") for path in DOCS.rglob("*.md")}
    built = {path.relative_to(site) for path in site.rglob("*.html")}
    assert pages <= built, f"pages not built: {sorted(map(str, pages - built))}"


def _anchors(page: Path) -> set[str]:
    """The ids MkDocs gives a page's headings (the toc extension's slugs), outside code blocks."""
    anchors, fenced = set(), False
    for line in page.read_text().splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and (heading := re.match(r"#{1,6} (.+)", line)):
            anchors.add(slugify(heading.group(1).strip(), "-"))
    return anchors


def _links(text: str) -> list[str]:
    prose = re.sub(r"```.*?```", "", text, flags=re.S)
    return [target for target in LINK.findall(prose) if not re.match(r"[a-z]+:", target)]


def test_every_link_of_the_readme_resolves():
    """The README is outside the site, so MkDocs does not check it: every file it links to must
    exist, and every anchor must be a heading of that page."""
    links = _links(README.read_text())
    assert len(links) >= 10
    for target in links:
        path, _, anchor = target.partition("#")
        file = (ROOT / path).resolve() if path else README
        assert file.exists(), f"README links to {target}, which does not exist"
        if anchor:
            assert anchor in _anchors(file), f"README links to {target}, but {path} has no heading #{anchor}"


def test_the_readme_keeps_the_commands_ci_runs():
    """.ci/run installs with the README's set-up command and runs the README's test command."""
    readme, ci = README.read_text(), (ROOT / ".ci" / "run").read_text()
    test_command = next(line for line in ci.splitlines() if "-m pytest" in line and not line.startswith("#"))
    assert test_command.strip() in readme
    setup = next(line for line in ci.splitlines() if line.startswith("python3 -m venv"))
    assert setup.replace(" --quiet", "").strip() in readme
    assert re.search(r"about \d+ minutes", readme)


def test_the_picture_of_a_report_is_there_and_small():
    """docs/images/report.png (scripts/docs_report_picture.py) is shown by the README and the
    guides; it is kept under 150 KB."""
    picture = DOCS / "images" / "report.png"
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert picture.stat().st_size < 150 * 1024


def _options(parser, path=()):
    """(command, option) for every option of the command line, sub-commands included."""
    import argparse

    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _options(sub, (*path, name))
        else:
            yield from ((" ".join(path), option) for option in action.option_strings if option not in ("-h", "--help"))


def _synopsis() -> dict[str, str]:
    """The command line reference's synopsis: each command's lines, by command ("data standin")."""
    text = (DOCS / "reference" / "cli.md").read_text()
    block = text.split("```", 2)[1]
    commands: dict[str, str] = {}
    for chunk in re.split(r"\n(?=autograder )", block.strip()):
        words = chunk.split()[1:]
        path = []
        for word in words:
            if not re.fullmatch(r"[a-z]+(\|[a-z]+)*", word):
                break
            path.append(word)
        commands[" ".join(path)] = chunk
    return commands


def test_the_command_line_reference_has_every_option_and_no_other():
    """docs/reference/cli.md's synopsis names every option of every command, and only options
    the command has: a flag added, renamed or removed fails here until the reference says so."""
    from autograder.cli import build_parser

    options: dict[str, set[str]] = {}
    for command, option in _options(build_parser()):
        options.setdefault(command, set()).add(option)
    synopsis = _synopsis()
    assert set(options) <= set(synopsis), f"commands missing from cli.md: {sorted(set(options) - set(synopsis))}"
    for command, chunk in synopsis.items():
        expected = options.get(command, set())
        documented = set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", chunk))
        assert expected <= documented, f"`autograder {command}`: {sorted(expected - documented)} not in cli.md"
        assert documented <= expected, f"`autograder {command}`: cli.md names {sorted(documented - expected)}"


def test_the_command_line_reference_has_every_option_of_the_pytest_plugin():
    from autograder.pytest_plugin import FLAGS

    section = (DOCS / "reference" / "cli.md").read_text().split("## pytest plugin", 1)[1]
    spellings = {"--autograder"} | {flag for given in FLAGS.values()
                                    for flag in ((given,) if isinstance(given, str) else given)}
    missing = sorted(flag for flag in spellings if not re.search(rf"`{flag}[ =`]", section))
    assert not missing, f"the pytest plugin's {missing} are not in cli.md"


def test_the_result_file_reference_names_every_field():
    """Every field grading/result.py declares for the result document, its checks, causes, metrics and
    cells is described in docs/reference/result.md (as `name` in a table)."""
    from autograder.grading import result

    text = (DOCS / "reference" / "result.md").read_text()
    described = set(re.findall(r"^\| `([a-z_]+)`", text, flags=re.M))
    described |= {name for row in re.findall(r"^\| (`[a-z_]+`(?:, `[a-z_]+`)+) \|", text, flags=re.M)
                  for name in re.findall(r"`([a-z_]+)`", row)}
    for declared in (result.ResultDocument, result.CheckEntry, result.CauseEntry, result.Metrics,
                     result.CellEntry):
        missing = sorted(set(declared.__annotations__) - described)
        assert not missing, f"{declared.__name__}: {missing} not described in docs/reference/result.md"
    # graded_with's own fields are described in its row
    row = next(line for line in text.splitlines() if line.startswith("| `graded_with` |"))
    missing = sorted(field for field in result.GradedWith.__annotations__ if f"`{field}`" not in row)
    assert not missing, f"graded_with: {missing} not described in docs/reference/result.md"
