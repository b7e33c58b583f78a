"""``# migratectl: allow RULE[, RULE…]`` comments: which rules each line acknowledges.

A marker names rules by id (``MC102``), name (``drop-column``) or an operation name of earlier
versions (``drop_column``, ``not_null``, ``rename``…); words after ``--`` are a free-text
reason. It counts on any line of the operation's call and on the comment-only lines directly
above it. A word that names no rule is kept as unknown, for an ``MC000`` finding at its line.
"""

from __future__ import annotations

import io
import re
import tokenize
from dataclasses import dataclass, field

from migratectl.lint_rules import Rule, find_rules

_MARKER = re.compile(r"#\s*migratectl:\s*allow\b(?P<words>.*)", re.IGNORECASE)


def rules_named(word: str) -> list[Rule]:
    """The rules a marker word or a ``disable`` entry names (``narrow-type`` = ``narrow_type``)."""
    return find_rules(word) or find_rules(word.replace("-", "_"))


@dataclass
class Markers:
    by_line: dict[int, set[str]] = field(default_factory=dict)  # line -> rule ids
    unknown: list[tuple[int, str]] = field(default_factory=list)  # (line, word)
    comment_only: set[int] = field(default_factory=set)

    def allows(self, rule_id: str, spans: tuple[tuple[int, int], ...]) -> bool:
        """Whether a marker on one of the spans' lines, or just above one, names the rule."""
        for first, last in spans:
            for line in range(first, last + 1):
                if rule_id in self.by_line.get(line, ()):
                    return True
            above = first - 1
            while above in self.comment_only:
                if rule_id in self.by_line.get(above, ()):
                    return True
                above -= 1
        return False


def read_markers(source: str | bytes) -> Markers:
    data = source.encode() if isinstance(source, str) else source
    markers = Markers()
    if b"migratectl" not in data.lower():  # no marker: spare a large file the tokenizer
        return markers
    code_lines: set[int] = set()
    comment_lines: set[int] = set()
    skip = {tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENCODING}
    for token in tokenize.tokenize(io.BytesIO(data).readline):
        if token.type == tokenize.COMMENT:
            line = token.start[0]
            comment_lines.add(line)
            match = _MARKER.search(token.string)
            if match:
                text = re.split(r"\s+--|#", match.group("words"), maxsplit=1)[0]
                words = [w for w in re.split(r"[\s,]+", text.strip()) if w]
                if not words:
                    markers.unknown.append((line, ""))
                for word in words:
                    rules = rules_named(word)
                    if rules:
                        markers.by_line.setdefault(line, set()).update(r.id for r in rules)
                    else:
                        markers.unknown.append((line, word))
        elif token.type not in skip and token.type != tokenize.ENDMARKER:
            code_lines.update(range(token.start[0], token.end[0] + 1))
    markers.comment_only = comment_lines - code_lines
    return markers
