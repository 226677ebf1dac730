"""Text a hostile notebook puts where the grader will print it, and the checks that each
medium shows it inert (shared by the fast renderer tests and the slow end-to-end one)."""
from __future__ import annotations

import html.parser
import re
import unicodedata

from markdown_it import MarkdownIt

FENCE = "```\n# fence closed\n````"
HEADING = "\n# injected heading\n## another"
LINK = "[click me](https://evil.example/steal)"
IMAGE = "![pixel](https://evil.example/pixel.png)"
AUTOLINK = "<https://evil.example/a> www.evil.example mail@evil.example"
HTML = '<script>alert(1)</script><img src=x onerror="alert(2)"><a href="javascript:alert(3)">x</a>'
ANSI = "\x1b[2J\x1b]0;owned title\x07\x1b]8;;https://evil.example\x07link\x1b]8;;\x07\x1b[31mred\x1b[0m\x9b1m"
BIDI = "access\u202e\u2066level\u2069\u202c\u200bzero\u200dwidth\ufeff"
WORKFLOW = "\n::set-output name=grade::100\r\n::add-mask::secret\r::error::fake%0Aencoded"
TABLE = "a | b || c"

EVERYTHING = " ".join([FENCE, HEADING, LINK, IMAGE, AUTOLINK, HTML, ANSI, BIDI, WORKFLOW, TABLE])
# A name a student could give their file or their variables: no slashes, no line breaks.
NAME = "x\x1b[31m\u202e]`#[a](javascript:alert(1))<b>::set-output%,:|"
# A file name `grade` takes for a student id (it refuses C0 controls, not the rest).
STUDENT = "x\u202e\u200b]`#[a](javascript:alert(1))<img src=x onerror=alert(1)>::set-output%,:|\x9b31m"

_HIDDEN = {"Cc", "Cf", "Zl", "Zp", "Co", "Cs", "Cn"}
_OUR_COLOURS = re.compile(r"\x1b\[[0-9;]*m")


def assert_terminal_safe(text: str, colours: bool = False) -> None:
    """Nothing but our own colour codes, newlines and printable characters."""
    if colours:
        text = _OUR_COLOURS.sub("", text)
    hidden = {c for c in text if c != "\n" and unicodedata.category(c) in _HIDDEN}
    assert not hidden, f"control or format characters reached the terminal: {sorted(map(hex, map(ord, hidden)))}"


class _Tags(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.headings: list[str] = []
        self._in_heading = False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if re.fullmatch(r"h\d", tag):
            self._in_heading = True
            self.headings.append("")

    def handle_endtag(self, tag):
        if re.fullmatch(r"h\d", tag):
            self._in_heading = False

    def handle_data(self, data):
        if self._in_heading:
            self.headings[-1] += data


def tags_of(page: str) -> _Tags:
    parser = _Tags()
    parser.feed(page)
    return parser


def assert_html_inert(page: str) -> None:
    """No script, no event handler, no link or image but our own data: and report ones."""
    parser = tags_of(page)
    names = {tag for tag, _ in parser.tags}
    assert "script" not in names and "iframe" not in names and "object" not in names
    for tag, attrs in parser.tags:
        assert not any(name.startswith("on") for name in attrs), (tag, attrs)
        for name in ("href", "src", "action", "formaction"):
            if name in attrs:
                assert attrs[name].startswith(("data:image/png;base64,", "#", "reports/")), (tag, attrs)
    assert "evil.example" not in " ".join(str(attrs) for _, attrs in parser.tags)


# What our Markdown reports and summaries are made of; anything else came from a student.
MARKDOWN_TAGS = {"h2", "h3", "p", "strong", "code", "pre", "table", "thead", "tbody", "tr", "th", "td", "ul", "li"}
# What GitHub turns into a link in plain text (GFM's extended autolinks), when its characters
# are not escaped: markdown-it without `text_join` keeps each escaped character a token apart.
_BARE_LINK = re.compile(r"(?i)(https?|ftp|mailto|xmpp|javascript):|www\.|@")


def assert_markdown_inert(text: str, headings: list[str], code_blocks: int | None = None) -> None:
    """Only our headings and tags once rendered (CommonMark with GFM tables), and no bare
    URL, `www.` or address in plain text, which GitHub would make a link."""
    parser = MarkdownIt("commonmark").enable("table")
    page = parser.render(text)
    tags = tags_of(page)
    names = {tag for tag, _ in tags.tags}
    assert names <= MARKDOWN_TAGS, names - MARKDOWN_TAGS
    found = [h.strip() for h in tags.headings]
    assert found == headings, (found, headings)
    if code_blocks is not None:
        assert page.count("<pre>") == code_blocks, page
    parser.disable("text_join")
    for block in parser.parse(text):
        for token in block.children or []:
            assert token.type != "text" or not _BARE_LINK.search(token.content), token.content
    assert "evil.example" not in " ".join(str(attrs) for _, attrs in tags.tags)
