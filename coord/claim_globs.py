"""Glob overlap for file claims: is there a path that both patterns match, and does a pattern cover
a path. The syntax is the one coord.claims describes (`*`, `?`, classes, `**`, a pattern covering
what is beneath it); the test is exact, a search over the pair of patterns rather than a guess from
prefixes. Pure; split from coord.claims, which checks input and makes the claim decisions with it.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from coord.errors import InvalidInputError

MAX_VARIANTS_STARS = 4  # `/**/` occurrences expanded to their zero-directory form


# ---------------------------------------------------------------------------------------------
# Glob overlap: is there a path that both patterns match?

_Token = tuple[Any, ...]  # ("lit", ch) | ("one",) | ("star",) | ("dstar",) | ("cls", ranges, negated)
_PROBES = "a0_-.Z~ \x01\u00e9"


def _tokens_uncached(pattern: str) -> tuple[_Token, ...]:
    out: list[_Token] = []
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "*":
            if i + 1 < n and pattern[i + 1] == "*":
                while i < n and pattern[i] == "*":
                    i += 1
                out.append(("dstar",))
                continue
            out.append(("star",))
        elif ch == "?":
            out.append(("one",))
        elif ch == "[":
            j = i + 1
            negated = j < n and pattern[j] in "!^"
            if negated:
                j += 1
            start = j
            if j < n and pattern[j] == "]":
                j += 1  # a leading ']' is a member
            while j < n and pattern[j] != "]":
                j += 1
            if j >= n:
                raise InvalidInputError(f"pattern {pattern[:60]!r} has an unclosed '['", "close it, or write [[]")
            body = pattern[start:j]
            ranges: list[tuple[str, str]] = []
            k = 0
            while k < len(body):
                if k + 2 < len(body) and body[k + 1] == "-":
                    ranges.append((body[k], body[k + 2]))
                    k += 3
                else:
                    ranges.append((body[k], body[k]))
                    k += 1
            out.append(("cls", tuple(ranges), negated))
            i = j
        else:
            out.append(("lit", ch))
        i += 1
    return tuple(out)


@lru_cache(maxsize=4096)
def _tokens(pattern: str) -> tuple[_Token, ...]:
    return _tokens_uncached(pattern)


def _matches_char(tok: _Token, ch: str) -> bool:
    kind = tok[0]
    if kind == "lit":
        return bool(tok[1] == ch)
    if kind == "one":
        return ch != "/"
    if kind == "cls":
        inside = any(lo <= ch <= hi for lo, hi in tok[1])
        return ch != "/" and inside != tok[2]
    if kind == "star":
        return ch != "/"
    return True  # dstar


def _candidates(*toks: _Token) -> set[str]:
    chars = set(_PROBES) | {"/"}
    for tok in toks:
        if tok[0] == "lit":
            chars.add(tok[1])
        elif tok[0] == "cls":
            for lo, hi in tok[1]:
                chars.update((lo, hi, chr(max(ord(lo) - 1, 1)), chr(ord(hi) + 1)))
    return chars


def _common_char(a: _Token, b: _Token) -> bool:
    """Some character is matched by both (single-character or star) tokens."""
    return any(_matches_char(a, c) and _matches_char(b, c) for c in _candidates(a, b))


def _stars(tok: _Token) -> bool:
    return tok[0] in ("star", "dstar")


def _tokens_overlap(a: tuple[_Token, ...], b: tuple[_Token, ...]) -> bool:
    """Breadth-first search over (position in a, position in b): reachable end = common string."""
    n, m = len(a), len(b)
    seen = {(0, 0)}
    todo = [(0, 0)]
    while todo:
        i, j = todo.pop()
        if i == n and j == m:
            return True
        nxt = []
        ta = a[i] if i < n else None
        tb = b[j] if j < m else None
        if ta is not None and _stars(ta):
            nxt.append((i + 1, j))  # a's star matches nothing more
            if tb is not None and not _stars(tb) and _common_char(ta, tb):
                nxt.append((i, j + 1))  # a's star eats the character b's token produces
        if tb is not None and _stars(tb):
            nxt.append((i, j + 1))
            if ta is not None and not _stars(ta) and _common_char(ta, tb):
                nxt.append((i + 1, j))
        if ta is not None and tb is not None and not _stars(ta) and not _stars(tb) and _common_char(ta, tb):
            nxt.append((i + 1, j + 1))
        for state in nxt:
            if state not in seen:
                seen.add(state)
                todo.append(state)
    return False


@lru_cache(maxsize=4096)
def _variants(pattern: str, subtree: bool) -> tuple[tuple[_Token, ...], ...]:
    """The pattern's token forms: `/**/` also as `/`, a leading `**/` also as nothing, and with
    subtree the pattern followed by `/**` (a claim covers what lies beneath it)."""
    forms = {pattern}
    for _ in range(MAX_VARIANTS_STARS):
        grown = set(forms)
        for form in forms:
            if "/**/" in form:
                grown.add(form.replace("/**/", "/", 1))
            if form.startswith("**/"):
                grown.add(form[3:])
        if grown == forms:
            break
        forms = grown
    if subtree:
        forms |= {f + "/**" for f in forms}
    return tuple(_tokens(f) for f in sorted(forms) if f)


def patterns_overlap(a: str, b: str) -> bool:
    """True when some path is covered by both claim patterns."""
    if a == b:
        return True
    return any(_tokens_overlap(x, y) for x in _variants(a, True) for y in _variants(b, True))


def _literal(path: str) -> tuple[_Token, ...]:
    return tuple(("lit", ch) for ch in path)


def covers(pattern: str, path: str) -> bool:
    """True when the claim pattern covers this exact repository-relative path."""
    if pattern == path:
        return True
    lit = _literal(path)
    return any(_tokens_overlap(form, lit) for form in _variants(pattern, True))
