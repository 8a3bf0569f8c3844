"""Secret-looking content in a bundle: find it (``scan``) and replace it (``redact``).

The rules mirror collector.sh's redaction filter: the same names and the same
patterns (PEM private keys, credentials in URLs, Authorization and Bearer
headers, AWS, GitHub, GitLab and Slack tokens, Slack webhooks, JWTs, docker
config ``auth``, secret-looking CLI flags, env vars and fields). A few rules
are added for what a bundle from elsewhere may carry: values of Secret
objects (the collector never collects them), Azure account keys and SAS
signatures, Google API keys, npm and Atlassian tokens, and high-entropy
values under suspicious keys.

JSON files are walked as data, so a finding names the object and the field
(``Pod argocd/x spec.containers[0].env[1].value``); everything else is text,
and a finding names the line. Nothing here prints a secret: a :class:`Hit`
keeps the value only for redaction and shows a 2-character hint and the length.

Redaction replaces each value with ``***REDACTED-<rule>-<n>***``, the same
token for the same value wherever it occurs in the bundle, so a reader can
still follow "the same password here and there" without seeing it.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import math
import os
import re
import tarfile
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath

import yaml

from analyzer.bundle import Limits, Member, Problem, load_yaml_all, open_input
from analyzer.errors import BundleError

# What redact writes for a value; _ALREADY_HIDDEN also knows what the collector writes (***HIDDEN***).
TOKEN_FORMAT = "***REDACTED-{rule}-{n}***"
_ALREADY_HIDDEN = re.compile(r"\*\*\*HIDDEN\*\*\*|\*\*\*REDACTED-[a-z0-9-]+-\d+\*\*\*|\*\*\*TOKEN_[A-Z_]+\*\*\*|^\*+$")

# The collector's rules, in its order (collector.sh REDACTION_RULES), then ours.
COLLECTOR_RULES = (
    "last-applied-configuration", "pem-private-key", "url-credentials", "authorization-header", "bearer-token",
    "aws-access-key", "github-token", "gitlab-token", "slack-token", "slack-webhook", "jwt", "docker-config-auth",
    "cli-secret-flag", "env-secret-value", "secret-field",
)
EXTRA_RULES = (
    "kubernetes-secret-data", "azure-storage-key", "azure-sas-signature", "gcp-api-key", "npm-token",
    "atlassian-token", "high-entropy",
)
RULES = COLLECTOR_RULES + EXTRA_RULES

# ------------------------------------------------------------------ key rules

# collector.sh: SECRET_RE and EXCL_RE (a key is secret-looking when it matches
# the first and does not end like the second: passwordSecretRef, tokenTTL).
_SECRET_KEY = re.compile(
    r"passw(or)?d|passphrase|secret|token|api[-_.]?key|access[-_.]?key|private[-_.]?key|client[-_.]?key"
    r"|credential|keydata|certkey|auth($|[^a-z])")
_NOT_SECRET_KEY = re.compile(
    r"(name|names|ref|refs|selector|namespace|namespaces|type|types|path|paths|file|files|dir|mode|enabled|disabled"
    r"|seconds|count|timeout|ttl|expiry|expiration|expires|url|urls|uri|endpoint|header|policy|format|length|duration"
    r"|issuer|audience|audiences|version|kind|template|field|fields|keyref|key-ref|key_ref)$")
# Keys that hold a secret only when the value looks random.
_SUSPICIOUS_KEY = re.compile(r"key|sig|signature|hmac|salt|cookie|session|dsn|pass|pwd|cred|seed|nonce|bearer|webhook"
                             r"|conn(ection)?[-_.]?str")
_PLAIN_WORDS = {"true", "false", "null", "nil", "none", "yes", "no", "on", "off", "enabled", "disabled", "required",
                "optional", "redacted", "hidden"}
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
# Public parts of a Secret: certificates, not keys.
_PUBLIC_SECRET_KEYS = {"ca.crt", "tls.crt", "service-ca.crt", "ca-bundle.crt", "ca.pem", "cert.pem"}


@lru_cache(maxsize=4096)
def secret_key(key: str) -> bool:
    """collector.sh ``secretish``: a key whose value is hidden whatever it is."""
    k = key.lower()
    return bool(_SECRET_KEY.search(k)) and not _NOT_SECRET_KEY.search(k)


@lru_cache(maxsize=4096)
def suspicious_key(key: str) -> bool:
    k = key.lower()
    return bool(_SUSPICIOUS_KEY.search(k)) and not _NOT_SECRET_KEY.search(k)


def maskable(value: str, quoted: bool = True) -> bool:
    """collector.sh ``maskable``: not empty, not already hidden, not a word, a number or a reference."""
    if not value or _ALREADY_HIDDEN.search(value):
        return False
    low = value.lower()
    if low in _PLAIN_WORDS:
        return False
    if not quoted and re.fullmatch(r"-?[0-9]+(\.[0-9]+)?[a-z]?[a-z]?", low):
        return False
    if value[0] in "${[<":
        return False
    if not quoted and value[0] == "-":
        return False
    return True


def high_entropy(value: str) -> bool:
    """A token-looking value: 20+ characters of a token alphabet, letters and digits, and random."""
    if len(value) < 20 or not re.fullmatch(r"[A-Za-z0-9+/=_-]+", value):
        return False
    if not (re.search(r"[0-9]", value) and re.search(r"[A-Za-z]", value)):
        return False
    counts = Counter(value)
    entropy = -sum(n / len(value) * math.log2(n / len(value)) for n in counts.values())
    return entropy >= 3.5


# ------------------------------------------------------------------ text rules


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    rule: str


_PEM_BEGIN = r"-----BEGIN[A-Z0-9 ]{0,40}PRIVATE KEY-----"
_PEM_END = r"-----END[A-Z0-9 ]{0,40}PRIVATE KEY-----"
_PEM_FULL = re.compile(rf"{_PEM_BEGIN}(.{{1,16384}}?){_PEM_END}", re.S)
# A key cut off before its END line: the base64 lines that follow BEGIN (each
# may carry a log line's timestamp prefix), or base64 on the BEGIN line itself.
_PEM_CUT = re.compile(
    rf"{_PEM_BEGIN}((?:[ \t]*[A-Za-z0-9+/=]{{8,}}[A-Za-z0-9+/= \t]*)?"
    r"(?:(?:\r?\n|\\r?\\n)(?:\d{4}-\d\d-\d\dT[0-9:.]+(?:Z|[+-]\d\d:\d\d) )?[ \t]*[A-Za-z0-9+/=]{8,}[ \t]*)*)")

# (rule, pattern, group holding the secret, words of which one must occur in the
# lower-cased text for the pattern to be tried: a substring test is far cheaper
# than a regex pass over a large log). Patterns start with a literal where they
# can, so that the regex engine skips to it.
_SIMPLE: list[tuple[str, re.Pattern, int, tuple[str, ...]]] = [
    ("url-credentials", re.compile(r"://([^/@\s\"'\\<>:]*:[^/@\s\"'\\<>]+)@"), 1, ("://",)),
    ("url-credentials", re.compile(r"://([A-Za-z0-9._~%+-]{16,})@"), 1, ("://",)),
    ("authorization-header", re.compile(
        r"(?i)authorization\\?[\"']?[ \t]*[:=][ \t]*\\?[\"']?"
        r"((?:basic|bearer|token|digest|negotiate|bot|aws4-hmac-sha256)[ \t]+[^\s\"'\\,;]+|[A-Za-z0-9._~+/=-]{16,})"),
     1, ("authorization",)),
    ("bearer-token", re.compile(r"(?i)bearer[ \t]+([A-Za-z0-9._~+/=-]{16,})"), 1, ("bearer",)),
    ("aws-access-key", re.compile(r"(?<![A-Z0-9])((?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{16})(?![A-Z0-9])"), 1,
     ("akia", "asia", "agpa", "aida", "aroa", "anpa", "anva", "aipa")),
    ("github-token", re.compile(r"(gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})"), 1,
     ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_")),
    ("gitlab-token", re.compile(r"(gl(?:pat|dt|rt|ptt|cbt|oas|soat)-[A-Za-z0-9_-]{20,})"), 1,
     ("glpat-", "gldt-", "glrt-", "glptt-", "glcbt-", "gloas-", "glsoat-")),
    ("slack-token", re.compile(r"(xox[abposr]-[A-Za-z0-9-]{10,})"), 1, ("xox",)),
    ("slack-webhook", re.compile(r"(?i)hooks\.slack\.com/services/([A-Za-z0-9/_-]+)"), 1, ("hooks.slack.com",)),
    ("jwt", re.compile(r"(eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*)"), 1, ("eyj",)),
    ("docker-config-auth", re.compile(r"\"auth\\?\"[ \t]*:[ \t]*\\?\"([A-Za-z0-9+/=]{4,})"), 1, ('"auth',)),
    ("cli-secret-flag", re.compile(r"sshpass[ \t]+-p[ \t]*[\"']?([^ \t\"'\r\n]+)"), 1, ("sshpass",)),
    ("azure-storage-key", re.compile(r"(?i)(?:AccountKey|SharedAccessKey)=([^;\"'\s\\]+)"), 1,
     ("accountkey=", "sharedaccesskey=")),
    ("azure-sas-signature", re.compile(r"[?&]sig=([A-Za-z0-9%+/=._-]{16,})"), 1, ("sig=",)),
    ("gcp-api-key", re.compile(r"(AIza[0-9A-Za-z_-]{35})"), 1, ("aiza",)),
    ("npm-token", re.compile(r"(npm_[A-Za-z0-9]{36})"), 1, ("npm_",)),
    ("atlassian-token", re.compile(r"(ATBB[A-Za-z0-9_=.-]{24,}|AT(?:ATT|CTT)3[A-Za-z0-9_=.-]{40,})"), 1,
     ("atbb", "atatt3", "atctt3")),
]

# Key-value forms whose key decides: "key": "value" (also inside an escaped
# JSON string), key: value (YAML), key=value (logfmt, env files, query strings),
# --flag=value / --flag value.
_KV_JSON = re.compile(r"\"([^\"\\\n]{1,100})\"[ \t]*:[ \t]*\"((?:[^\"\\\n]|\\.)*)\"")
_KV_JSON_ESCAPED = re.compile(r"\\\"([^\"\\\n]{1,100})\\\"[ \t]*:[ \t]*\\\"([^\"\\\n]*)")
_KV_YAML_LINE = re.compile(r"(?m)^[ \t]*(?:-[ \t]+)?([A-Za-z0-9_./-]{1,100})[ \t]*:[ \t]+(?:\"([^\"\r\n]*)\"|'([^'\r\n]*)'|([^\s\"'#|>][^\r\n]*?))[ \t]*(?:[ \t]#[^\r\n]*)?\r?$")
_KV_YAML_INLINE = re.compile(r"(?:\\n[ \t]*|[{][ \t]*|,[ \t]+)(?:-[ \t]+)?([A-Za-z0-9_.-]{1,100})[ \t]*:[ \t]+\\?[\"']?([^\]\s\"',;&})\\]+)")
_KV_EQ = re.compile(r"(?:^|(?<=[\s?&;,({\"'\\:]))([A-Za-z0-9_.-]{1,100})=(?:\\?\"([^\"\\\r\n]*)|'([^'\r\n]*)'|([^\]\s\"',;&})\\]+))", re.M)
_CLI_FLAG = re.compile(r"--([A-Za-z0-9_-]{1,100})(?:=|[ \t]+)\\?[\"']?([^ \t\"',\\\r\n]+)")
_ENV_COMPACT = re.compile(r"\"name\"[ \t]*:[ \t]*\"([^\"\\\n]*)\"[ \t]*,[ \t]*\"value\"[ \t]*:[ \t]*\"((?:[^\"\\\n]|\\.)*)\"")
_ENV_COMPACT_ESCAPED = re.compile(r"\\\"name\\\"[ \t]*:[ \t]*\\\"([^\"\\\n]*)\\\"[ \t]*,[ \t]*\\\"value\\\"[ \t]*:[ \t]*\\\"([^\"\\\n]*)")
# Two-line forms: pretty-printed JSON env entries and argument lists, YAML env
# entries and argument lists, and YAML block scalars under a secret key.
_ENV_JSON_LINES = re.compile(r"(?m)^[ \t]*\"name\":[ \t]*\"([^\"\\\n]*)\",[ \t]*\r?\n[ \t]*\"value\":[ \t]*\"((?:[^\"\\\n]|\\.)*)\"")
_ENV_YAML_LINES = re.compile(r"(?m)^([ \t]*)-[ \t]+name:[ \t]*[\"']?([^\"'\s]+)[\"']?[ \t]*\r?\n\1[ \t]+value:[ \t]*(?:\"([^\"\r\n]*)\"|'([^'\r\n]*)'|([^\s\"'|>][^\r\n]*?))[ \t]*\r?$")
_CLI_JSON_LINES = re.compile(r"(?m)^[ \t]*\"--([A-Za-z0-9_-]+)\",?[ \t]*\r?\n[ \t]*\"((?:[^\"\\\n]|\\.)*)\"")
_CLI_YAML_LINES = re.compile(r"(?m)^([ \t]*)-[ \t]+[\"']?--([A-Za-z0-9_-]+)[\"']?[ \t]*\r?\n\1-[ \t]+(?:\"([^\"\r\n]*)\"|'([^'\r\n]*)'|([^\s\"'][^\r\n]*?))[ \t]*\r?$")
_BLOCK_START = re.compile(r":[ \t]*[|>][-+0-9]*[ \t]*\r?\n")
_YAML_BLOCK = re.compile(r"(?m)^([ \t]*)(?:-[ \t]+)?([A-Za-z0-9_./-]{1,100})[ \t]*:[ \t]*[|>][-+0-9]*[ \t]*\r?\n((?:\1[ \t]+[^\r\n]*(?:\r?\n|$)|[ \t]*\r?\n)+)")

# Cheap pre-filter: a text none of these occur in (lower-cased) has nothing to
# find. Substring tests run at memory speed; one big regex alternation would not.
_TRIGGER_WORDS = (
    "key", "pass", "pwd", "secret", "token", "auth", "cred", "bearer", "://", "--", "eyj", "sig", "hmac", "salt",
    "cookie", "session", "dsn", "seed", "nonce", "webhook", "conn", "akia", "asia", "agpa", "aida", "aroa", "anpa",
    "anva", "aipa", "gh", "gl", "xox", "hooks.slack", "aiza", "npm_", "atbb", "atatt", "atctt",
)


def _may_hold_secrets(text: str, low: str) -> bool:
    """``low`` is ``text`` lower-cased."""
    if len(text) > 1 << 20:  # one pass of Aho-Corasick instead of a pass per word
        import polars as pl

        return bool(pl.Series([text]).str.contains_any(list(_TRIGGER_WORDS), ascii_case_insensitive=True).item())
    return any(word in low for word in _TRIGGER_WORDS)


def _group_span(m: re.Match, *groups: int) -> tuple[int, int, str] | None:
    for g in groups:
        if m.group(g) is not None:
            return m.start(g), m.end(g), m.group(g)
    return None


def find_spans(text: str) -> list[Span]:
    """Where the secret parts of ``text`` are, by rule; overlapping finds keep the first and longest."""
    low = text.lower()
    if not _may_hold_secrets(text, low):
        return []
    found: list[Span] = []

    def add(start: int, end: int, rule: str, value: str, quoted: bool = True, key: str | None = None) -> None:
        if end <= start or _ALREADY_HIDDEN.search(value):
            return
        if key is not None and not (secret_key(key) and maskable(value, quoted)):
            return
        found.append(Span(start, end, rule))

    if "PRIVATE KEY-----" in text:
        for m in _PEM_FULL.finditer(text):
            add(m.start(1), m.end(1), "pem-private-key", m.group(1))
        for m in _PEM_CUT.finditer(text):
            add(m.start(1), m.end(1), "pem-private-key", m.group(1))
    for rule, pattern, group, words in _SIMPLE:
        if not any(word in low for word in words):
            continue
        for m in pattern.finditer(text):
            add(m.start(group), m.end(group), rule, m.group(group))
    if ('"name"' in text or '\\"name\\"' in text) and "value" in text:
        for pattern in (_ENV_COMPACT, _ENV_COMPACT_ESCAPED, _ENV_JSON_LINES):
            for m in pattern.finditer(text):
                add(m.start(2), m.end(2), "env-secret-value", m.group(2), key=m.group(1))
    if "name:" in text and "value:" in text:
        for m in _ENV_YAML_LINES.finditer(text):
            span = _group_span(m, 3, 4, 5)
            if span:
                add(span[0], span[1], "env-secret-value", span[2], quoted=m.group(5) is None, key=m.group(2))
    if "--" in text:
        for m in _CLI_FLAG.finditer(text):
            if not m.group(2).startswith("--"):
                add(m.start(2), m.end(2), "cli-secret-flag", m.group(2), quoted=False, key=m.group(1))
        for m in _CLI_JSON_LINES.finditer(text) if '"--' in text else ():
            if not m.group(2).startswith("--"):
                add(m.start(2), m.end(2), "cli-secret-flag", m.group(2), key=m.group(1))
        for m in _CLI_YAML_LINES.finditer(text) if "- --" in text or "- \"--" in text or "- '--" in text else ():
            span = _group_span(m, 3, 4, 5)
            if span and not span[2].startswith("--"):
                add(span[0], span[1], "cli-secret-flag", span[2], quoted=m.group(5) is None, key=m.group(2))
    if '"' in text:
        for m in _KV_JSON.finditer(text):
            _key_value(add, m.group(1), m.start(2), m.end(2), m.group(2), True)
        if '\\"' in text:
            for m in _KV_JSON_ESCAPED.finditer(text):
                _key_value(add, m.group(1), m.start(2), m.end(2), m.group(2), True)
    if ":" in text:
        for m in _KV_YAML_LINE.finditer(text):
            span = _group_span(m, 2, 3, 4)
            if span:
                _key_value(add, m.group(1), span[0], span[1], span[2], m.group(4) is None)
        for m in _KV_YAML_INLINE.finditer(text):
            _key_value(add, m.group(1), m.start(2), m.end(2), m.group(2), False)
        if _BLOCK_START.search(text):
            for m in _YAML_BLOCK.finditer(text):
                if secret_key(m.group(2)):
                    block = m.group(3).rstrip("\r\n")
                    add(m.start(3), m.start(3) + len(block), "secret-field", block)
    if "=" in text:
        for m in _KV_EQ.finditer(text):
            span = _group_span(m, 2, 3, 4)
            if span:
                _key_value(add, m.group(1), span[0], span[1], span[2], m.group(4) is None)
    return _resolve(found)


def _key_value(add, key: str, start: int, end: int, value: str, quoted: bool) -> None:
    if not _interesting_key(key):
        return
    if key.lower().endswith("authorization"):
        if maskable(value, quoted):
            add(start, end, "authorization-header", value)
    elif secret_key(key):
        add(start, end, "secret-field", value, quoted, key=key)
    elif suspicious_key(key) and high_entropy(value):
        add(start, end, "high-entropy", value)


@lru_cache(maxsize=8192)
def _interesting_key(key: str) -> bool:
    return key.lower().endswith("authorization") or secret_key(key) or suspicious_key(key)


def _resolve(spans: list[Span]) -> list[Span]:
    """Non-overlapping spans in text order: at each place the longest find wins."""
    out: list[Span] = []
    for span in sorted(spans, key=lambda s: (s.start, -(s.end - s.start))):
        if out and span.start < out[-1].end:
            if span.end > out[-1].end and span.rule == out[-1].rule:
                out[-1] = Span(out[-1].start, span.end, span.rule)
            continue
        out.append(span)
    return out


# ------------------------------------------------------------------ findings


@dataclass(frozen=True)
class Hit:
    """One secret-looking value. ``value`` is never printed; :attr:`hint` stands for it."""

    file: str
    where: str  # "line 12", or the object and field of a JSON file
    rule: str
    value: str = field(repr=False)

    @property
    def prefix(self) -> str:
        """The first 2 characters, only of a value of 12 or more (a short one would be half given away)."""
        shown = self.value[:2] if len(self.value) >= 12 else ""
        return "".join(ch if ch.isprintable() and ch.isascii() else "?" for ch in shown)

    @property
    def hint(self) -> str:
        return f"{self.prefix}... ({len(self.value)} chars)" if self.prefix else f"({len(self.value)} chars)"

    def to_dict(self) -> dict:
        return {"file": self.file, "where": self.where, "rule": self.rule, "length": len(self.value),
                "hint": self.prefix}


class Redactor:
    """Consistent replacement tokens: the same value gets the same token everywhere."""

    def __init__(self) -> None:
        self.tokens: dict[str, str] = {}
        self.per_rule: Counter[str] = Counter()  # distinct values per rule (the token numbers)
        self.counts: Counter[str] = Counter()  # replacements per rule

    def token(self, value: str, rule: str) -> str:
        self.counts[rule] += 1
        tok = self.tokens.get(value)
        if tok is None:
            self.per_rule[rule] += 1
            tok = TOKEN_FORMAT.format(rule=rule, n=self.per_rule[rule])
            self.tokens[value] = tok
        return tok

    def mapping(self) -> dict[str, str]:
        return {tok: value for value, tok in self.tokens.items()}


class _Session:
    """One pass over a bundle: collects hits and, when redacting, rewrites text."""

    def __init__(self, redact: bool, limits: Limits = Limits()) -> None:
        self.redact = redact
        self.limits = limits
        self.hits: list[Hit] = []
        self.redactor = Redactor()

    # -- text

    def text(self, text: str, file: str, where: str | None = None, extra: Iterable[Span] = ()) -> str:
        spans = find_spans(text)
        if extra:
            spans = _resolve([*spans, *extra])
        if not spans:
            return text
        lines = _LineIndex(text) if where is None else None
        out = []
        last = 0
        for span in spans:
            value = text[span.start:span.end]
            place = where if lines is None else f"line {lines.line(span.start)}"
            self.hits.append(Hit(file, place, span.rule, value))
            if self.redact:
                out.append(text[last:span.start])
                out.append(self.redactor.token(value, span.rule))
                last = span.end
        if not self.redact:
            return text
        out.append(text[last:])
        return "".join(out)

    def whole(self, value: str, rule: str, file: str, where: str) -> str:
        self.hits.append(Hit(file, where, rule, value))
        return self.redactor.token(value, rule) if self.redact else value

    def data(self, value: object, file: str) -> object:
        """Walk decoded JSON; returns the value with secrets replaced when redacting."""
        return _Walker(self, file).walk(value)


class _LineIndex:
    def __init__(self, text: str) -> None:
        self.starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def line(self, offset: int) -> int:
        return bisect_right(self.starts, offset)


def _path(base: str, key: object) -> str:
    if isinstance(key, int):
        return f"{base}[{key}]"
    text = str(key)
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", text):
        return f"{base}.{text}" if base else text
    return f"{base}[{json.dumps(text, ensure_ascii=True)}]"


def _k8s_identity(obj: dict) -> str | None:
    kind = obj.get("kind")
    meta = obj.get("metadata")
    if not isinstance(kind, str) or not isinstance(meta, dict):
        return None
    name, ns = meta.get("name"), meta.get("namespace")
    name = name if isinstance(name, str) else "?"
    return f"{kind} {ns}/{name}" if isinstance(ns, str) and ns else f"{kind} {name}"


class _Walker:
    """Iterative over containers (a hostile document may nest deeper than Python recurses)."""

    def __init__(self, session: _Session, file: str) -> None:
        self.s = session
        self.file = file

    def walk(self, root: object) -> object:
        # Work items: (container, key in it, path, owning object, its kind)
        holder = [root]
        stack: list[tuple[object, object, str, str, str | None]] = [(holder, 0, "", "", None)]
        while stack:
            container, key, where, own, knd = stack.pop()
            value = container[key]  # type: ignore[index]
            if isinstance(value, dict):
                ident = _k8s_identity(value)
                if ident:
                    own, knd, where = ident, value.get("kind"), ""
                self._dict(value, where, own, knd, stack)
            elif isinstance(value, list):
                self._list(value, where, own, knd, stack)
            elif isinstance(value, str):
                new = self.s.text(value, self.file, self._where(own, where))
                if new is not value and self.s.redact:
                    container[key] = new  # type: ignore[index]
        return holder[0]

    def _where(self, own: str, path: str) -> str:
        return f"{own} {path}".strip() if own else path

    def _dict(self, obj: dict, where: str, own: str, kind: str | None, stack: list) -> None:
        name = obj.get("name")
        env_secret = isinstance(name, str) and "value" in obj and isinstance(obj.get("value"), str) and secret_key(name)
        secret_object = kind == "Secret" and obj.get("kind") == "Secret"
        later: list = []  # children to walk, pushed in reverse so that hits come in document order
        for key in list(obj):
            value = obj[key]
            sub = _path(where, key)
            if secret_object and key in ("data", "stringData") and isinstance(value, dict):
                for dk in list(value):
                    dv = value[dk]
                    if isinstance(dv, str) and dk not in _PUBLIC_SECRET_KEYS and maskable(dv):
                        new = self.s.whole(dv, "kubernetes-secret-data", self.file, self._where(own, _path(sub, dk)))
                        if self.s.redact:
                            value[dk] = new
                continue
            if isinstance(value, str):
                rule = None
                if key == LAST_APPLIED:
                    rule = "last-applied-configuration" if value.strip() and not _ALREADY_HIDDEN.search(value) else None
                    if rule:
                        # Report what inside it is secret; replace it whole, as the collector does.
                        inner = _Session(False)
                        _scan_embedded_json(inner, value, self.file, self._where(own, sub))
                        self.s.hits.extend(inner.hits)
                        if self.s.redact:
                            obj[key] = self.s.redactor.token(value, rule)
                        continue
                elif env_secret and key == "value" and maskable(value):
                    rule = "env-secret-value"
                elif str(key).lower().endswith("authorization") and maskable(value):
                    rule = "authorization-header"
                elif secret_key(str(key)) and maskable(value):
                    rule = "secret-field"
                elif suspicious_key(str(key)) and high_entropy(value):
                    rule = "high-entropy"
                if rule:
                    new = self.s.whole(value, rule, self.file, self._where(own, sub))
                    if self.s.redact:
                        obj[key] = new
                    continue
            if isinstance(value, (dict, list, str)):
                later.append((obj, key, sub, own, kind))
        stack.extend(reversed(later))

    def _list(self, items: list, where: str, own: str, kind: str | None, stack: list) -> None:
        flag_pending = False
        later: list = []
        for i, value in enumerate(items):
            sub = _path(where, i)
            if isinstance(value, str):
                if flag_pending and maskable(value) and not value.startswith("--"):
                    new = self.s.whole(value, "cli-secret-flag", self.file, self._where(own, sub))
                    if self.s.redact:
                        items[i] = new
                    flag_pending = False
                    continue
                m = re.fullmatch(r"--([A-Za-z0-9_-]+)", value)
                flag_pending = bool(m and secret_key(m.group(1)))
            else:
                flag_pending = False
            if isinstance(value, (dict, list, str)):
                later.append((items, i, sub, own, kind))
        stack.extend(reversed(later))


def _scan_embedded_json(session: _Session, text: str, file: str, where: str) -> None:
    try:
        inner = json.loads(text)
    except (ValueError, RecursionError):
        session.text(text, file, where)
        return
    before = len(session.hits)
    _Walker(session, file).walk(inner)
    for i in range(before, len(session.hits)):
        hit = session.hits[i]
        session.hits[i] = Hit(hit.file, f"{where} -> {hit.where}".strip(), hit.rule, hit.value)


# ------------------------------------------------------------------ files


def _decode(data: bytes) -> str:
    return data.decode("utf-8", errors="surrogateescape")


def _encode(text: str) -> bytes:
    return text.encode("utf-8", errors="surrogateescape")


def _json_style(data: bytes) -> dict:
    head = data[:4096]
    if b'\n    "' in head:
        return {"indent": 4}
    if b'\n  "' in head:
        return {"indent": 2}
    if b'": ' in head:
        return {}
    return {"separators": (",", ":")}


def process_file(session: _Session, rel: str, data: bytes) -> bytes:
    """Scan one file (and, when redacting, return its new bytes; unchanged files come back as they were)."""
    name = rel.rsplit("/", 1)[-1].lower()
    text = _decode(data)
    if name.endswith(".json"):
        try:
            doc = json.loads(text)
        except (ValueError, RecursionError):
            doc = _NOT_JSON
        if doc is not _NOT_JSON:
            before = session.redactor.counts.total()
            try:
                new_doc = session.data(doc, rel)
            except RecursionError:
                new_doc = _NOT_JSON
            if new_doc is not _NOT_JSON:
                if not session.redact or session.redactor.counts.total() == before:
                    return data
                try:
                    out = json.dumps(new_doc, ensure_ascii=False, **_json_style(data))
                except (ValueError, RecursionError):
                    out = None
                if out is not None:
                    return _encode(out + ("\n" if data.endswith(b"\n") else ""))
    extra: list[Span] = []
    if name.endswith((".yaml", ".yml")):
        extra = _yaml_secret_values(text, session.limits)
    new_text = session.text(text, rel, None, extra)
    return data if new_text is text else _encode(new_text)


_NOT_JSON = object()


def _yaml_secret_values(text: str, limits: Limits) -> list[Span]:
    """Secret objects pasted as YAML: the lines their data values are on (text rules cannot tell)."""
    if "Secret" not in text:
        return []
    try:
        docs = load_yaml_all(text, limits)
    except (yaml.YAMLError, ValueError):
        return []
    values: list[str] = []
    stack = list(docs)
    while stack:
        doc = stack.pop()
        if isinstance(doc, list):
            stack.extend(doc)
        elif isinstance(doc, dict):
            if doc.get("kind") == "Secret":
                for section in ("data", "stringData"):
                    data = doc.get(section)
                    if isinstance(data, dict):
                        values.extend(v for k, v in data.items()
                                      if isinstance(v, str) and k not in _PUBLIC_SECRET_KEYS and maskable(v))
            elif isinstance(doc.get("items"), list):
                stack.extend(doc["items"])
    spans = []
    for value in values:
        for line in value.splitlines() or [value]:
            line = line.strip()
            if len(line) < 4:
                continue
            for m in re.finditer(r"(?<![A-Za-z0-9+/=_-])" + re.escape(line) + r"(?![A-Za-z0-9+/=_-])", text):
                spans.append(Span(m.start(), m.end(), "kubernetes-secret-data"))
    return spans


# ------------------------------------------------------------------ bundles


@dataclass
class ScanResult:
    source: str
    layout: str
    files: int
    hits: list[Hit]
    skipped: list[Problem]


def scan_bundle(path: str | os.PathLike, limits: Limits = Limits()) -> ScanResult:
    """Every secret-looking value in the bundle at ``path`` (tar.gz, directory or loose file)."""
    session = _Session(redact=False, limits=limits)
    layout, members = open_input(path, limits, wanted=None)
    files = 0
    skipped: list[Problem] = []
    for item in members:
        if isinstance(item, Problem):
            skipped.append(item)
            continue
        files += 1
        process_file(session, item.path, item.data)
    return ScanResult(str(path), layout, files, session.hits, skipped)


@dataclass
class RedactResult:
    source: str
    output: str
    files: int
    rewritten: list[str]
    counts: dict[str, int]
    distinct: int
    dropped: list[Problem]
    mapping: dict[str, str] = field(repr=False, default_factory=dict)


def redact_bundle(path: str | os.PathLike, output: str | os.PathLike, limits: Limits = Limits(),
                  mapping: str | os.PathLike | None = None, now: Callable[[], datetime] | None = None) -> RedactResult:
    """Write a redacted copy of the bundle at ``path`` to ``output`` (a .tar.gz with the same layout).

    The manifest's redaction counts and the bytes and sha256 of every rewritten
    file are brought up to date. The token -> original mapping is written to
    ``mapping`` (mode 0600) only when it is given.
    """
    src = Path(path)
    out = Path(output)
    _check_output(src, out, mapping)
    layout, members = open_input(src, limits, wanted=None)
    top = (src.resolve().name or "bundle") if layout == "directory" else None
    session = _Session(redact=True, limits=limits)
    rewritten: list[str] = []
    new_sizes: dict[str, tuple[int, str]] = {}
    dropped: list[Problem] = []
    manifest: Member | None = None
    files = 0
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    # Created new (never through a link someone left in a shared directory), renamed when complete.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644)
    try:
        with os.fdopen(fd, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz, \
                tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
            dirs: set[str] = set()
            for item in members:
                if isinstance(item, Problem):
                    if "--max-file-size" in item.message:
                        raise BundleError(str(path), f"{item.path} is {item.message.removeprefix('skipped: ')}; "
                                                     "raise the cap to redact it")
                    dropped.append(item)
                    continue
                files += 1
                name = f"{top}/{item.path}" if top else item.path
                if _is_manifest(name):
                    manifest = Member(name, item.data, item.mode, item.mtime)
                    continue
                data = process_file(session, item.path, item.data)
                if data is not item.data:
                    rewritten.append(name)
                    new_sizes[name] = (len(data), hashlib.sha256(data).hexdigest())
                _add(tar, dirs, name, data, item.mode, item.mtime)
            if manifest is not None:
                data = _updated_manifest(session, manifest, new_sizes, now)
                rewritten.append(manifest.path)
                _add(tar, dirs, manifest.path, data, manifest.mode, manifest.mtime)
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            tmp.unlink()
    table = session.redactor.mapping()
    if mapping is not None:
        write_mapping(mapping, table, str(path))
    return RedactResult(str(path), str(out), files, rewritten, dict(session.redactor.counts), len(table), dropped, table)


def _check_output(src: Path, out: Path, mapping: str | os.PathLike | None) -> None:
    if not out.name.endswith((".tar.gz", ".tgz")):
        raise BundleError(str(out), "the redacted bundle is a .tar.gz: name it so")
    if out.exists() and src.exists() and os.path.samefile(out, src):
        raise BundleError(str(out), "is the input bundle; write the redacted copy elsewhere")
    if src.is_dir() and out.resolve().is_relative_to(src.resolve()):
        raise BundleError(str(out), "is inside the input directory; write the redacted copy elsewhere")
    if mapping is not None and Path(mapping).resolve() in (out.resolve(), src.resolve()):
        raise BundleError(str(mapping), "the mapping must be a file of its own")
    if not out.parent.is_dir():
        raise BundleError(str(out), "its directory does not exist")


def _is_manifest(name: str) -> bool:
    parts = name.split("/")
    return parts[-1] == "manifest.json" and len(parts) <= 2


def _add(tar: tarfile.TarFile, dirs: set[str], name: str, data: bytes, mode: int, mtime: float) -> None:
    parent = PurePosixPath(name).parent
    missing = []
    while str(parent) not in (".", "") and str(parent) not in dirs:
        missing.append(str(parent))
        parent = parent.parent
    for d in reversed(missing):
        info = tarfile.TarInfo(d + "/")
        info.type = tarfile.DIRTYPE
        info.mode = 0o755
        info.mtime = int(mtime)
        tar.addfile(info)
        dirs.add(d)
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = (mode & 0o666) or 0o644
    info.mtime = int(mtime)
    tar.addfile(info, io.BytesIO(data))


def _updated_manifest(session: _Session, manifest: Member, new_sizes: dict[str, tuple[int, str]],
                      now: Callable[[], datetime] | None) -> bytes:
    """The manifest, itself redacted, with this pass's counts and the new sizes and hashes."""
    root = manifest.path.rsplit("/", 1)[0] + "/" if "/" in manifest.path else ""
    data = process_file(session, "manifest.json", manifest.data)
    try:
        doc = json.loads(_decode(data))
    except (ValueError, RecursionError):
        return data  # not JSON: redacted as text, nothing to update
    if not isinstance(doc, dict):
        return data
    counts = dict(session.redactor.counts)
    redaction = doc.get("redaction") if isinstance(doc.get("redaction"), dict) else {}
    totals = redaction.get("counts") if isinstance(redaction.get("counts"), dict) else {}
    for rule, n in counts.items():
        old = totals.get(rule)
        totals[rule] = (old if isinstance(old, int) and not isinstance(old, bool) else 0) + n
    rules = redaction.get("rules") if isinstance(redaction.get("rules"), list) else []
    rules = list(rules) + [r for r in RULES if r not in rules]
    from analyzer import __version__

    stamp = (now or (lambda: datetime.now(timezone.utc)))().strftime("%Y-%m-%dT%H:%M:%SZ")
    passes = redaction.get("passes") if isinstance(redaction.get("passes"), list) else []
    passes.append({"tool": f"gitops-master redact {__version__}", "at": stamp,
                   "replacement": TOKEN_FORMAT.replace("{rule}", "<rule>").replace("{n}", "<n>"),
                   "counts": {rule: counts[rule] for rule in sorted(counts)}})
    redaction.update({"enabled": True, "rules": rules, "counts": totals, "passes": passes})
    doc["redaction"] = redaction
    commands = doc.get("commands")
    if isinstance(commands, list):
        for command in commands:
            if isinstance(command, dict) and isinstance(command.get("output"), str):
                hit = new_sizes.get(root + command["output"])
                if hit:
                    command["bytes"], command["sha256"] = hit
    return _encode(json.dumps(doc, ensure_ascii=False, **_json_style(manifest.data)) + "\n")


def write_mapping(path: str | os.PathLike, table: dict[str, str], source: str) -> None:
    """token -> original, readable by its owner only (created 0600, and made so if it existed)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        os.fchmod(fd, 0o600)
        body = {"source": source, "written_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "tokens": table}
        with os.fdopen(fd, "w", encoding="utf-8", errors="surrogateescape", closefd=False) as fh:
            json.dump(body, fh, ensure_ascii=False, indent=2)
            fh.write("\n")
    finally:
        os.close(fd)


def content_skipped(problem: Problem) -> bool:
    """A skipped part that had content (over a cap, an escaping path, a damaged tail), not a link or device."""
    return "link" not in problem.message and "not a regular file" not in problem.message


def summarize(hits: Iterable[Hit]) -> dict[str, int]:
    return dict(sorted(Counter(h.rule for h in hits).items()))


__all__ = ["RULES", "COLLECTOR_RULES", "Hit", "Span", "ScanResult", "RedactResult", "find_spans",
           "scan_bundle", "redact_bundle", "write_mapping", "secret_key", "maskable", "high_entropy", "summarize"]
