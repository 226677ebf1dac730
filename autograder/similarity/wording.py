"""What a listed pair shares, in words for the instructor, and their shared lines side by side.

The words say what is shared and why it cannot be chance, never what it means: similar work
can have innocent causes (students who worked together as allowed, a tutor's example), and the
instructor judges. The summary is the instructor's only; no student's report mentions it.
"""
from __future__ import annotations

from collections import defaultdict

from . import forensics
from .fingerprint import UNUSUAL_LITERAL
from .grouping import CODE, NAMES, TEXT, Pair, Prepared

MAX_ROWS = 12  # shared statements shown side by side per pair
MAX_LINE = 240  # characters of one line shown
MAX_QUOTE = 160
MIN_ROW_WEIGHT = 0.5
MAX_PLACES = 8  # statements of one notebook a repeated k-gram is traced to


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _quoted(text: str, limit: int = 80) -> str:
    """A notebook's value for a `code` span of the summary: cut, and no backtick of its own to end it."""
    return _clip(" ".join(text.replace("`", "'").split()), limit)


def _lines(item: Prepared, cell: int, first: int, last: int) -> str:
    source = item.sources.get(cell, "").split("\n")
    last = min(last, first + 7)  # a long statement: its first lines
    return "\n".join(_clip(line, MAX_LINE) for line in source[first - 1:last])


def shared_code(a: Prepared, b: Prepared) -> tuple[list[dict], list[str]]:
    """Rows of shared statements (a's beside b's, heaviest first) and the unusual values in them."""
    shared = {value: min(weight, b.code.grams[value]) for value, weight in a.code.grams.items()
              if value in b.code.grams}
    by_a: dict[int, float] = defaultdict(float)
    with_b: dict[int, dict[int, float]] = defaultdict(lambda: defaultdict(float))
    for value, weight in shared.items():
        for statement in a.code.places.get(value, ())[:MAX_PLACES]:
            by_a[statement] += weight
            for other in b.code.places.get(value, ())[:MAX_PLACES]:
                with_b[statement][other] += weight
    rows: list[dict] = []
    unusual: list[str] = []
    for statement in sorted(by_a, key=lambda s: (-by_a[s], s)):
        if by_a[statement] < MIN_ROW_WEIGHT or len(rows) >= MAX_ROWS:
            break
        other = max(with_b[statement], key=lambda o: (with_b[statement][o], -o))
        mine, theirs = a.code.statements[statement], b.code.statements[other]
        rows.append({"a": {"cell": mine.cell, "lines": [mine.first, mine.last],
                           "code": _lines(a, mine.cell, mine.first, mine.last)},
                     "b": {"cell": theirs.cell, "lines": [theirs.first, theirs.last],
                           "code": _lines(b, theirs.cell, theirs.first, theirs.last)}})
        weights = a.code.weights[statement]
        for token, weight in zip(mine.tokens, weights):
            if weight > UNUSUAL_LITERAL and token in theirs.tokens and token not in unusual:
                unusual.append(token)
    rows.sort(key=lambda row: (row["a"]["cell"], row["a"]["lines"][0]))
    return rows, unusual


def _cells(features: list[forensics.Feature]) -> str:
    cells = sorted({f.cell + 1 for f in features if f.cell is not None})
    if not cells:
        return ""
    shown = ", ".join(str(c) for c in cells[:8]) + (", …" if len(cells) > 8 else "")
    return f" (cell{'s' if len(cells) > 1 else ''} {shown})"


def evidence(pair: Pair, a: Prepared, b: Prepared, rows: list[dict], unusual: list[str]) -> list[str]:
    """What the pair shares, strongest kind first, one sentence each."""
    said: list[tuple[float, str]] = []
    points = pair.points
    if points.get(CODE):
        count = len(rows)
        sentence = (f"{count} statement{'s' if count != 1 else ''} of code in common that neither the lesson nor the "
                    "released notebook gives (compared with variables renamed, comments and formatting set aside)")
        if unusual:
            sentence += "; among them the unusual value" + ("s " if len(unusual) > 1 else " ") + \
                ", ".join(f"`{_quoted(u, 40)}`" for u in unusual[:4])
        said.append((points[CODE], sentence))
    if points.get(TEXT):
        quotes = sorted({a.text[v] for v in a.text if v in b.text}, key=lambda quote: (-len(quote), quote))
        quote = _clip(" ".join(quotes[0].replace("`", "'").split()), MAX_QUOTE) if quotes else ""
        said.append((points[TEXT], f"the same words in comments or text, not from the lesson: “{quote}”"))
    if points.get(NAMES):
        names = sorted(set(a.names) & set(b.names))
        said.append((points[NAMES], "the same names of their own: " + ", ".join(f"`{_quoted(n)}`" for n in names[:6])))
    shared = [a.features[key] for key in a.features if key in b.features]
    by_kind: dict[str, list[forensics.Feature]] = defaultdict(list)
    for feature in shared:
        by_kind[feature.kind].append(feature)
    for kind, features in by_kind.items():
        if not points.get(kind):
            continue
        example = _quoted(features[0].shown)
        count = len(features)
        sentence = {
            "cell id": f"the same random ids on {count} cell{'s' if count != 1 else ''} that the released notebook "
                       f"does not have{_cells(features)}, e.g. `{example}`: new cells get a random id",
            "run time": f"the same execution times recorded in {count} place{'s' if count != 1 else ''}"
                        f"{_cells(features)}, e.g. {example}: they record when a cell ran, to the microsecond",
            "editor account": f"cells run by the same Colab account ({example})",
            "run id": f"the same Colab output ids{_cells(features)}, e.g. `{example}`",
            "output": f"the same run-specific text in stored outputs{_cells(features)}, e.g. `{example}`: memory "
                      "addresses and log times differ from one run to the next",
            "timing": f"the same per-step timings in stored outputs{_cells(features)}: {example}; seeded losses "
                      "may coincide, timings do not",
            "file": "the same notebook file, byte for byte",
        }.get(kind, f"the same {kind}")
        said.append((points[kind], sentence))
    said.sort(key=lambda item: -item[0])
    return [sentence for _, sentence in said]
