"""Characters that must never reach an email header or a file name.

Control characters (a newline in a title would become a second header line of the email that
carries it) and the invisible bidirectional overrides (U+202E turns ``invoice‮fdp.exe`` into
what reads as ``invoiceexe.pdf``) are refused where people type such text, with a field error
that names the character; ``header_text`` is the defensive last step for anything already
stored.
"""

from __future__ import annotations

import re
import unicodedata

import marshmallow as ma

from marketplace.errors import Invalid

#: C0 and C1 controls, DEL, line and paragraph separators, and the bidirectional marks,
#: embeddings, overrides and isolates (U+061C, U+200E-U+200F, U+202A-U+202E, U+2066-U+2069).
UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
)


def _name(character: str) -> str:
    code = f"U+{ord(character):04X}"
    name = unicodedata.name(character, "")
    return f"{code} ({name})" if name else code


def unsafe_characters(text: str) -> list[str]:
    """The unsafe characters of ``text``, each named once ("U+202E (RIGHT-TO-LEFT OVERRIDE)")."""
    return [_name(c) for c in dict.fromkeys(UNSAFE.findall(text or ""))]


def one_line_problem(text: str, what: str = "This") -> str | None:
    """A message for the person who typed ``text``, or None when it is a safe single line."""
    found = unsafe_characters(text)
    if not found:
        return None
    return (
        f"{what} may not contain line breaks, control characters or hidden direction marks "
        f"(found {', '.join(found)})."
    )


def one_line(value: str) -> None:
    """A marshmallow validator: one line with no control or bidirectional characters."""
    problem = one_line_problem(value, "Text")
    if problem:
        raise ma.ValidationError(problem)


def header_text(text: str, limit: int = 200) -> str:
    """``text`` made safe for an email header: every unsafe character becomes a space, runs
    of spaces shrink to one, and the result is at most ``limit`` characters."""
    return " ".join(UNSAFE.sub(" ", text or "").split())[:limit]


class FullMatch(ma.validate.Regexp):
    """``validate.Regexp`` that must match the whole value: ``re.match`` with ``$`` lets a
    trailing newline through (``"#123456\\n"``), ``fullmatch`` does not. The pattern is
    documented in the OpenAPI schema as it is."""

    def __call__(self, value: str) -> str:
        if not isinstance(value, str) or self.regex.fullmatch(value) is None:
            raise ma.ValidationError(self._format_error(value))
        return value


def require_one_line(field: str, value: str | None, what: str = "A title") -> None:
    """Raise ``Invalid`` on ``field`` when ``value`` is not a safe single line (it may become
    an email's Subject)."""
    problem = one_line_problem(value or "", what)
    if problem:
        raise Invalid("Please correct the highlighted fields.", {field: [problem]})
