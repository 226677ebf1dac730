"""Student ids as a class hands them in, made safe to compare: normalised, and lookalikes found.

Ids come from file and folder names, which students partly choose (a Canvas display name,
a file they named). Two names that print alike must not silently become one student, nor
two students that look like one: ids are normalised (Unicode NFKC, invisible and
direction-changing characters removed), and ids that mix scripts or fold to the same
skeleton as another id are flagged for the instructor.
"""
from __future__ import annotations

import unicodedata

#: Characters that print as nothing but are not in Unicode's "format" category.
INVISIBLE = frozenset("\u034f\u115f\u1160\u17b4\u17b5\u180e\u2800\u3164\uffa0")
#: Letters of other scripts that print like Latin letters (after Unicode's confusables.txt);
#: enough to find a lookalike of an ordinary Latin id.
LATIN_LOOKALIKES = str.maketrans({
    "а": "a", "в": "b", "е": "e", "ё": "e", "һ": "h", "і": "i", "ї": "i", "ј": "j", "к": "k", "ӏ": "l",
    "м": "m", "н": "h", "о": "o", "р": "p", "с": "c", "ԁ": "d", "ѕ": "s", "т": "t", "у": "y", "х": "x",
    "ԛ": "q", "ԝ": "w", "ɡ": "g", "α": "a", "β": "b", "ε": "e", "ι": "i", "κ": "k", "ν": "v", "ο": "o",
    "ρ": "p", "τ": "t", "υ": "u", "χ": "x", "ı": "i", "ℓ": "l",
})


def _invisible(ch: str) -> bool:
    category = unicodedata.category(ch)
    return (category in ("Cf", "Cc", "Cs", "Co") or ch in INVISIBLE
            or "\ufe00" <= ch <= "\ufe0f" or "\U000e0100" <= ch <= "\U000e01ef")


def normalise(raw: str) -> str:
    """The id a name stands for: NFKC, no invisible or bidi characters, single spaces."""
    text = "".join(ch for ch in unicodedata.normalize("NFKC", raw) if not _invisible(ch))
    return " ".join(text.split())


def scripts(student: str) -> set[str]:
    """The scripts of an id's letters (LATIN, CYRILLIC, GREEK, ...)."""
    return {unicodedata.name(ch, "UNKNOWN").split(" ")[0] for ch in student if ch.isalpha()}


def skeleton(student: str) -> str:
    """What an id looks like: lookalike letters folded to Latin, case and separators ignored."""
    folded = student.casefold().translate(LATIN_LOOKALIKES)
    return "".join(ch for ch in folded if ch.isalnum())


def shown(raw: str) -> str:
    """A name as the instructor must see it: every invisible or non-ASCII character spelled out."""
    return ascii(raw)[1:-1]


def visible(text: str) -> str:
    """Text with its invisible and direction-changing characters spelled out (\\u202e), the rest kept."""
    return "".join(ascii(ch)[1:-1] if _invisible(ch) else ch for ch in text)
