"""PII redaction as in ROOTS (RECIPES.md §3.4): emails, user handles, IP addresses, secret keys.

Two profiles: `bigscience` (the roots recipe's) applies BigScience's own regexes (find_pii_bigscience,
below), which also take card numbers and serial-like digit groups for keys; `precise` (the step's default)
is roots' narrower detector described here.

Matches are replaced by "PI:EMAIL", "PI:USER", "PI:IP_ADDRESS", "PI:KEY", as BigScience did
(02_pii/bigscience_pii_detect_redact.py). Like BigScience, roots leaves phone numbers and numeric IDs
alone (too many false positives), and keeps dates and version numbers:

- an IPv4 address is four dot-separated numbers that `ipaddress` accepts (0-255, no leading zeros), so
  dates ("2021.10.05", "05.10.2021") never match; a dotted quad right after "version", "v", "release",
  "build" or "rev" ("version 1.2.3.4") is taken for a version number and kept.
- an IPv6 address must parse with `ipaddress`, hold a digit, two colons and six characters, so times
  ("12:30:45"), "::" and "::1" are kept.
- known miss: a version number without a cue word that is also a valid address ("kernel 5.15.0.1")
  is redacted as an IP.
- a secret key is a known token format (AWS, GitHub, Slack, Google, OpenAI/Stripe-style "sk-") or a
  20+ character token of letters and digits that mixes upper case, lower case and digits (or 32+ hex
  characters holding both letters and digits). Plain words, numbers, card numbers and dashes-and-digits
  IDs are not keys; neither are URLs or paths (tokens holding "/" or "." are skipped).
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

from roots.common.errors import UserError
from roots.data.base import Step
from roots.data.document import Document

KINDS = ("EMAIL", "IP_ADDRESS", "KEY", "USER")  # matching order: earlier kinds win overlaps

EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]*\w@(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z]{2,}\b")
USER = re.compile(r"(?<![\w@./:+-])@\w(?:[\w.-]*\w)?")
IPV4 = re.compile(r"(?<![\w.])\d{1,3}(?:\.\d{1,3}){3}(?![\w]|\.\d)")
IPV6 = re.compile(r"(?<![\w:.])[0-9A-Fa-f:]*:[0-9A-Fa-f]*:[0-9A-Fa-f:]*(?:\d{1,3}(?:\.\d{1,3}){3})?(?:%\w+)?(?![\w:]|\.\d)")
VERSION_CUE = re.compile(r"(?i)(?:\b(?:version|ver|release|build|rev|revision)\.?|\bv)\s*$")
KNOWN_KEYS = re.compile(
    r"\b(?:AKIA[0-9A-Z]{16}"  # AWS access key id
    r"|gh[pousr]_[A-Za-z0-9]{36,}"  # GitHub tokens
    r"|xox[abposr]-[A-Za-z0-9-]{10,}"  # Slack tokens
    r"|AIza[0-9A-Za-z_-]{35}"  # Google API keys
    r"|sk-[A-Za-z0-9_-]{20,})"  # OpenAI / Stripe-style secret keys
)
TOKEN = re.compile(r"(?<![\w/.=+-])[A-Za-z0-9+_=-]{20,}(?![\w/.])")
_HEX = re.compile(r"[0-9a-fA-F]{32,}")
MIN_USER_CHARS = 3  # as BigScience: "@" + at least three characters


def _is_ipv4(text: str, m: re.Match) -> bool:
    try:
        ipaddress.IPv4Address(m.group())
    except ValueError:
        return False
    return not VERSION_CUE.search(text[max(0, m.start() - 12):m.start()])


def _is_ipv6(m: re.Match) -> bool:
    s = m.group()
    if s.count(":") < 2 or not any(c.isdigit() for c in s) or len(s) < 6:
        return False
    try:
        ipaddress.IPv6Address(s)
    except ValueError:
        return False
    return True


def _is_key(token: str) -> bool:
    core = token.strip("=-_+")
    has_digit = any(c.isdigit() for c in core)
    if _HEX.fullmatch(core):
        return has_digit and any(c.isalpha() for c in core)
    return has_digit and any(c.isupper() for c in core) and any(c.islower() for c in core)


def find_pii(text: str, kinds: tuple[str, ...] | list[str] = KINDS) -> list[tuple[int, int, str]]:
    """Non-overlapping (start, end, kind) spans, sorted by start."""
    candidates: list[tuple[int, int, str]] = []
    for kind in (k for k in KINDS if k in kinds):
        if kind == "EMAIL":
            found = [m.span() for m in EMAIL.finditer(text)]
        elif kind == "IP_ADDRESS":
            # IPv6 first: "::ffff:192.0.2.128" is one address, not an IPv4 one inside it
            found = [m.span() for m in IPV6.finditer(text) if _is_ipv6(m)]
            found += [m.span() for m in IPV4.finditer(text) if _is_ipv4(text, m)]
        elif kind == "KEY":
            found = [m.span() for m in KNOWN_KEYS.finditer(text)]
            found += [m.span() for m in TOKEN.finditer(text) if _is_key(m.group())]
        else:
            found = [m.span() for m in USER.finditer(text) if m.end() - m.start() > MIN_USER_CHARS]
        candidates += [(s, e, kind) for s, e in found]
    spans: list[tuple[int, int, str]] = []
    taken: list[tuple[int, int]] = []
    for s, e, kind in candidates:  # in KINDS order, so an email's "@name" is never a user handle
        if all(e <= ts or s >= te for ts, te in taken):
            spans.append((s, e, kind))
            taken.append((s, e))
    return sorted(spans)


# ------------------------------------------------------------------ the bigscience profile
# BigScience's own detector (data-preparation, 02_pii/bigscience_pii_detect_redact.py: the KEY, EMAIL, USER
# and IP_ADDRESS tags it ran over ROOTS), its rules restated here. A match must sit between BigScience's
# separators (start/end, whitespace, @ ? , ! ; : ' " ( ) . or a Han character); roots checks them with
# look-arounds, so two PII strings one separator apart are both found (upstream consumes the separator).
_SEP = r"""\s@?,!;:'"().\p{Han}"""
_SEP_BEFORE = rf"(?<=^|[{_SEP}])"
_SEP_AFTER = rf"(?=$|[{_SEP}])"
# KEY: 4+ letter/symbol-digit alternations ("ab12-cd34-..."), or 3+ digit groups / upper-case+digit groups
# optionally separated by a space or dash: API keys, card numbers ("4929-3813-3266-4295"), serials
_KEY_ALTERNATION = r"(?:[A-Za-z]+[\p{Nd}\p{Pd}/+=:_]+|[\p{Nd}\p{Pd}/+=:]+[A-Za-z]+){4,}"
_KEY_GROUPS = r"(?:(?:\p{Nd}{3,}|[A-Z]+\p{Nd}+[A-Z]*|\p{Nd}+[A-Z]+\p{Nd}*)[ \p{Pd}]?){3,}"
_OCTET = r"(?:25[0-5]|2[0-4]\d|[01]?\d\d?)"
_H = r"[0-9a-fA-F]{1,4}"
_IPV6 = "|".join([
    rf"(?:{_H}:){{7}}{_H}", rf"(?:{_H}:){{1,7}}:", rf"(?:{_H}:){{1,6}}:{_H}",
    *(rf"(?:{_H}:){{1,{5 - k}}}(?::{_H}){{1,{k + 2}}}" for k in range(4)),
    rf"{_H}:(?::{_H}){{1,6}}", rf":(?:(?::{_H}){{1,7}}|:)", r"fe80:(?::[0-9a-fA-F]{0,4}){0,4}%[0-9a-zA-Z]+",
    rf"::(?:ffff(?::0{{1,4}})?:)?(?:{_OCTET}\.){{3}}{_OCTET}", rf"(?:{_H}:){{1,4}}:(?:{_OCTET}\.){{3}}{_OCTET}",
])
_DATE_LIKE = r"""[0-3]\d[\p{Pd}/.][0-3]\d[\p{Pd}/.](?:\d{2}|[12]\d{3})(?:$|[\s@,?!;:'"(.\p{Han}])"""


@functools.lru_cache(maxsize=1)
def _bigscience_regexes() -> dict[str, Any]:
    try:
        import regex
    except ImportError as e:
        from roots.common.errors import missing_extra

        raise missing_extra("regex", "curate") from e
    return {
        "EMAIL": regex.compile(rf"""{_SEP_BEFORE}[^\s@,?!;:)(]+@[^,\s!?;]+[^\s'"@,?!;:)(.]{_SEP_AFTER}"""),
        "USER": regex.compile(r"""(?<=^|[\s@,?!;:'")(\p{Han}])@[^\s@,?!;:'")(]{3,}"""),
        "IP_ADDRESS": regex.compile(rf"{_SEP_BEFORE}(?:(?:{_OCTET}\.){{3}}{_OCTET}|{_IPV6}){_SEP_AFTER}"),
        "KEY": regex.compile(rf"{_SEP_BEFORE}(?:{_KEY_ALTERNATION}|{_KEY_GROUPS}){_SEP_AFTER}"),
        "date": regex.compile(_DATE_LIKE),
    }


def find_pii_bigscience(text: str, kinds: tuple[str, ...] | list[str] = KINDS) -> list[tuple[int, int, str]]:
    """BigScience's detection: non-overlapping (start, end, kind) spans, earlier KINDS winning overlaps.

    As upstream, an IP match must hold a digit and not look like a date ("12.11.99.1")."""
    res = _bigscience_regexes()
    candidates = []
    for kind in (k for k in KINDS if k in kinds):
        for m in res[kind].finditer(text):
            s = m.group().rstrip() if kind == "KEY" else m.group()  # a trailing separator space is not the key
            if not s or (kind == "IP_ADDRESS" and (not any(c.isdigit() for c in s) or res["date"].match(s))):
                continue
            candidates.append((m.start(), m.start() + len(s), kind))
    spans: list[tuple[int, int, str]] = []
    for s, e, kind in candidates:
        if all(e <= ts or s >= te for ts, te, _ in spans):
            spans.append((s, e, kind))
    return sorted(spans)


def redact(text: str, spans: list[tuple[int, int, str]]) -> str:
    """`text` with each span replaced by "PI:<KIND>"."""
    out, last = [], 0
    for s, e, kind in spans:
        out += [text[last:s], f"PI:{kind}"]
        last = e
    out.append(text[last:])
    return "".join(out)


@dataclass
class RedactPII(Step):
    """Replace emails, @handles, IPv4/IPv6 addresses and secret keys by PI:<KIND> tags (never drops).

    Counts per kind go to `metadata["pii"]` when anything was redacted.
    """

    name = "pii"
    kinds: list[str] = field(default_factory=lambda: list(KINDS))
    # bigscience: BigScience's own regexes (the roots recipe; catches card numbers and serials as KEY);
    # precise: roots' narrower detector (module docstring; fewer false positives on dates, versions, IDs)
    profile: Literal["precise", "bigscience"] = "precise"

    def __post_init__(self) -> None:
        if self.profile not in ("precise", "bigscience"):
            raise UserError(f"pii.profile must be precise or bigscience, not {self.profile!r}")
        unknown = set(self.kinds) - set(KINDS)
        if unknown:
            from roots.common.config import ConfigError

            raise ConfigError(f"pii.kinds: unknown {sorted(unknown)}; choose from {list(KINDS)}")

    def process(self, doc: Document) -> str | None:
        find = find_pii_bigscience if self.profile == "bigscience" else find_pii
        spans = find(doc.text, self.kinds)
        if spans:
            doc.text = redact(doc.text, spans)
            doc.metadata["pii"] = dict(Counter(kind for _, _, kind in spans))
        return None
