"""XML text helpers the S3 and Azure shapes share: what XML cannot carry, how to escape a
name, and the reference decoding the regex fast paths of the list parsers use.

Pure functions. ``FastPathDefer`` is how a fast path says "I cannot prove this; let
ElementTree decide": it is caught by the caller, never seen by users.
"""

from __future__ import annotations

import re
from typing import Final

#: What XML 1.0 cannot carry at all, not even as a character reference.
XML_ILLEGAL: Final = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
#: CR and LF as references: a parser turns a literal CR (or CRLF) into LF. This is the table
#: the S3 guide gives for object keys in XML requests.
XML_ESCAPES: Final = str.maketrans(
    {
        "&": "&amp;",
        "<": "&lt;",
        ">": "&gt;",
        '"': "&quot;",
        "'": "&apos;",
        "\r": "&#13;",
        "\n": "&#10;",
    }
)


_DECL: Final = re.compile(r"<\?xml[^>]*?encoding=[\"']([^\"']*)[\"'][^>]*\?>")


def fast_frame_ok(text: str, root: re.Pattern[str], end_tag: str) -> bool:
    """May a regex fast path read this document? Only a UTF-8 one whose root element matches
    ``root`` (an unprefixed start tag) and which ends in ``end_tag``, with no CR (parsers
    normalise it) and no comment, CDATA or DTD (``<!``): anything else goes to ElementTree."""
    if "\r" in text or ("!" in text and "<!" in text):  # "!" first: memchr, 80x faster
        return False
    start = 0
    if text.startswith("<?xml"):
        decl = _DECL.match(text)
        if decl is not None and decl.group(1).lower() not in ("utf-8", "utf8"):
            return False
        start = text.find("?>") + 2
    if root.match(text, start) is None:
        return False
    end = text.rfind(end_tag)
    return end >= 0 and not text[end + len(end_tag) :].strip()


_REF: Final = re.compile(r"#x[0-9A-Fa-f]+|#[0-9]+")
_NAMED_REFS: Final = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'"}


class FastPathDefer(Exception):
    """The fast path cannot prove its answer; ElementTree decides."""


def unescape(text: str) -> str:
    if "&" not in text:
        return text
    head, *refs = text.split("&")
    out = [head]
    for piece in refs:
        ref, semicolon, tail = piece.partition(";")
        if not semicolon:
            raise FastPathDefer
        out += (_ref_char(ref), tail)
    return "".join(out)


def _ref_char(ref: str) -> str:
    named = _NAMED_REFS.get(ref)
    if named is not None:
        return named
    if _REF.fullmatch(ref) is None:
        raise FastPathDefer
    code = int(ref[2:], 16) if ref[1] == "x" else int(ref[1:])
    if code > 0x10FFFF or XML_ILLEGAL.match(chr(code)):
        raise FastPathDefer  # ElementTree refuses it; let it say so
    return chr(code)
