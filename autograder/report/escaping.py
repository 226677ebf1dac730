"""Student text made safe for where it goes: terminals, Markdown, GitHub workflow commands.

Anything a notebook controls (its file name, code, error messages, variable and layer
names) reaches the instructor's terminal, a Markdown report, the GitHub job summary and
the Actions log. Each medium has its own way to be hijacked, so each has a function here:

- terminals obey escape sequences (colours, cursor moves, window titles, hyperlinks) and
  show bidi overrides reordered: `visible` drops every control, format and bidi character;
- Markdown turns punctuation into headings, links, images and HTML, and a run of
  backticks closes a fence: `markdown_text` escapes, `markdown_code` and `fence` pick a
  delimiter longer than any run in the content;
- GitHub reads `::command::` lines from a step's output: `workflow_data` and
  `workflow_property` encode what would end or split one (GitHub's own encoding), and
  `not_a_command` keeps a line of ours that starts with student text from being one.

HTML needs none of this: jinja2 escapes it (templating.py), and the same `visible` runs
on everything a template prints.
"""
from __future__ import annotations

import re
import unicodedata

# Cc: C0 and C1 controls, ESC and DEL among them. Cf: format characters: the bidi controls
# that reorder what is shown (U+202A-202E, U+2066-2069, U+200E/F, U+061C: "Trojan Source",
# CVE-2021-42574), zero-width spaces and joiners, the BOM, soft hyphens (an emoji sequence
# joined by U+200D shows as its parts). Zl/Zp: line and paragraph separators.
# Co/Cs/Cn: private use, lone surrogates and unassigned code points, which no text needs.
_HIDDEN_CATEGORIES = {"Cc", "Cf", "Zl", "Zp", "Co", "Cs", "Cn"}
_KEPT = {"\n", "\t"}


def _hidden(character: str) -> bool:
    return character not in _KEPT and unicodedata.category(character) in _HIDDEN_CATEGORIES


# Every character that is not ASCII printable is checked; ASCII printables never are.
_SUSPECT = re.compile(r"[^\x20-\x7e\n\t]")


def visible(text: object, one_line: bool = False) -> str:
    """`text` with every control, format, bidi and separator character removed (newlines
    and tabs kept, or made spaces when `one_line`), so it prints as what it says."""
    text = str(text)
    if _SUSPECT.search(text):
        text = _SUSPECT.sub(lambda m: "" if _hidden(m.group()) else m.group(), text)
    if one_line:
        text = text.replace("\n", " ").replace("\t", " ")
    return text


def clip(text: str, limit: int) -> str:
    """At most `limit` characters, saying how many were left out."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text) - limit} more characters)"


# CommonMark shows any backslash-escaped ASCII punctuation as itself. Escaped here: what
# starts emphasis, code, links, images, HTML, entities, table cells, strikethrough, math
# and headings anywhere in a line; `-`, `+` and `1.` where they would start a list (text
# may begin a list item's line); and what GitHub's bare autolinks need: the `:` of a
# scheme (`https:`, `mailto:`), the `.` of `www.` and the `@` of an address.
_MARKDOWN_SPECIAL = re.compile(r"[\\`*_\[\]<>!&|~#$@]|:(?=\S)|(?<=[wW]{3})\.|^[-+]")
_ORDERED_LIST_MARKER = re.compile(r"^(\d{1,9})([.)])")
_BACKTICKS = re.compile(r"`+")
_CODE_SPAN = re.compile(r"`([^`]+)`")


def markdown_text(text: object) -> str:
    """Text shown as itself on one line of Markdown, table cells included (leading and
    trailing spaces dropped: four of them would start a code block in a list item)."""
    return _escaped(visible(text, one_line=True).strip())


def _escaped(text: str) -> str:
    return _ORDERED_LIST_MARKER.sub(r"\1\\\2", _MARKDOWN_SPECIAL.sub(lambda m: "\\" + m.group(), text))


def _longest_backtick_run(text: str) -> int:
    return max((len(run) for run in _BACKTICKS.findall(text)), default=0)


def markdown_code(text: object, in_table: bool = False) -> str:
    """A code span showing `text` literally: a delimiter longer than any backtick run inside,
    and in a table `|` escaped (GFM splits table cells before it reads code spans)."""
    content = visible(text, one_line=True)
    if in_table:
        content = content.replace("|", "\\|")
    ticks = "`" * (_longest_backtick_run(content) + 1)
    pad = " " if content.startswith("`") or content.endswith("`") or not content.strip() else ""
    return f"{ticks}{pad}{content}{pad}{ticks}"


def markdown_message(text: object, in_table: bool = False) -> str:
    """One of our messages, whose `code` spans may hold student text: spans stay code
    (shown literally), the rest is escaped text."""
    text = visible(text, one_line=True).strip()
    parts, last = [], 0
    for match in _CODE_SPAN.finditer(text):
        parts.append(_escaped(text[last:match.start()]))
        parts.append(markdown_code(match.group(1), in_table))
        last = match.end()
    parts.append(_escaped(text[last:]))
    return "".join(parts)


def fence(content: str) -> str:
    """A code fence no line of `content` can close: backticks, more than its longest run."""
    return "`" * max(3, _longest_backtick_run(content) + 1)


def not_a_command(line: str) -> str:
    """A line of a log that GitHub's runner will not read as a workflow command: it reads
    any line that starts with `::` once leading spaces are trimmed, so a student's text that
    lands at the start of a wrapped line gets its `::` encoded (GitHub's own `%3A`)."""
    stripped = line.lstrip()
    if stripped.startswith("::"):
        return line[:len(line) - len(stripped)] + "%3A%3A" + stripped[2:]
    return line


def workflow_data(text: object) -> str:
    """The message of a GitHub workflow command: it ends at a line break unless encoded
    (GitHub's encoding: `%`, CR, LF; CR never gets here, `visible` removes it)."""
    return visible(text).replace("%", "%25").replace("\n", "%0A")


def workflow_property(text: object) -> str:
    """A property (file=, title=) of a GitHub workflow command: `,` and `:` end it too."""
    return workflow_data(text).replace(":", "%3A").replace(",", "%2C")
