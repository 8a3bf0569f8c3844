"""Argo CD's failure taxonomy: which message names which catalog id, in which field.

One ordered table (knowledge/argocd.md section 2) classifies every failure text
Argo CD writes, whatever field it sits in:

- ``cond``: ``status.conditions[].message`` (ComparisonError, InvalidSpecError,
  SyncError, UnknownError, DeletionError);
- ``op``: ``status.operationState.message`` of a Failed or Errored operation,
  or of one waiting to retry;
- ``res``: ``status.operationState.syncResult.resources[].message`` of a task
  that failed (SyncFailed, or a hook whose phase is Failed/Error);
- ``health``: ``status.resources[].health.message`` (persisted up to v2.14);
  classified for the record, but an unhealthy resource is argocd-app-degraded's,
  not a sync failure;
- ``log``: a controller or repo-server log line (message and error).

The first row that matches wins, so specific causes come before the generic
``argocd-sync-failed``. Both message generations match: the bare v2.x
``rpc error: code = ...`` and the v2.9+ ``Failed to load target state: failed to
generate manifest for source N of M: ...`` wrappers, the raw ``the server could
not find the requested resource`` and the v2.8+ ``The Kubernetes API could not
find ...`` rewording, the v3.5 ``one or more synchronization tasks are not
valid: <details>`` suffix, v3.2's ``Failed last sync attempt`` SyncError.

Each row is also registered as a message cause wrapped the way Kargo's
argocd-update step reports an Argo CD operation (``Argo CD Application "a" in
namespace "n" failed with: <operationState.message>``), so a failed Promotion
carrying it is reported on its Stage under that id, not as promotion-step-failed.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from analyzer.rules.common import cause

UNREACHABLE = "argocd-repo-server-unreachable"  # its core patterns also live in common.py
OOM = "argocd-repo-server-oom"
PROJECT = "argocd-project-denied"
CRD = "argocd-crd-missing"
IMMUTABLE = "argocd-field-immutable"
LIVE = "argocd-live-state-failed"
MANIFEST = "argocd-manifest-generation-failed"
SYNC = "argocd-sync-failed"

# Every id an Argo CD operation message can name, most specific first.
FAMILY = (UNREACHABLE, OOM, PROJECT, CRD, IMMUTABLE, LIVE, MANIFEST, SYNC)
GENERIC = (SYNC,)

ALL_FIELDS = ("cond", "op", "res", "health", "log")


@dataclass(frozen=True)
class Pattern:
    key: str  # knowledge/argocd.md row (A1, D3, ...) or a short name
    id: str  # the catalog id it names
    regex: str  # Rust-regex and Python-re compatible; matched case-insensitively
    fields: tuple[str, ...]  # where Argo CD writes it
    category: str = ""  # sub-cause: picks the catalog variant (manifest generation, project)


TAXONOMY: tuple[Pattern, ...] = (
    # -- repo-server unreachable (A1, A4, A14); EOF and "transport is closing" become
    #    argocd-repo-server-oom when repo-server was OOMKilled near the failure.
    Pattern("A1", UNREACHABLE, r"code = Unavailable desc = connection error[\s\S]*?(?::8081|argocd-repo-server)", ("cond", "op", "log")),
    Pattern("A1", UNREACHABLE, r"Error while dialing:? dial tcp [^\s\"]*:8081|dial tcp [^\s\"]*:8081: (?:connect: connection refused|i/o timeout)", ("cond", "op", "log")),
    Pattern("A1", UNREACHABLE, r"lookup argocd-repo-server", ("cond", "op", "log")),
    Pattern("A2", UNREACHABLE, r"code = Unavailable desc = (?:error reading from server: EOF|transport is closing)", ("cond", "op", "log")),
    Pattern("A4", UNREACHABLE, r"code = DeadlineExceeded desc = context deadline exceeded", ("cond", "op", "log")),
    Pattern("A14", UNREACHABLE, r"first record does not look like a TLS handshake", ("cond", "op", "log")),
    # -- repo-server OOM (A3): helm/kustomize/git killed by the kernel.
    Pattern("A3", OOM, r"failed signal: killed|\bsignal: killed\b", ("cond", "op", "log")),
    # -- project / spec validation (C): before manifest generation, whose
    #    wrappers can carry "helm repos ... are not permitted in project".
    Pattern("C-missing", PROJECT, r"(?:referencing|references) project \S+ which does not exist|appprojects?\.argoproj\.io \"[^\"]+\" not found", ("cond", "op", "log"), "missing"),
    Pattern("C-resource", PROJECT, r"resource [^\s:]*:\S+ is not permitted in project", ("res", "op", "cond", "log"), "resource"),
    Pattern("C-destination", PROJECT, r"do not match any of the allowed destinations in project|namespace \S+ is not permitted in project|is not permitted to (?:use|manage) (?:cluster|namespace)", ("cond", "res", "op", "log"), "destination"),
    Pattern("C-repo", PROJECT, r"(?:application repo|helm repos?|source repo) \S+ (?:is|are) not permitted in project", ("cond", "op", "log"), "repo"),
    Pattern("C", PROJECT, r"is not permitted in project", ALL_FIELDS, "resource"),
    # -- a kind the cluster does not serve (D, res): raw, v2.8+ AugmentSyncMsg, RESTMapper.
    Pattern("D-crd", CRD, r"The Kubernetes API could not find|CRD is installed on the destination cluster", ("res", "op", "cond", "log")),
    Pattern("D-crd", CRD, r"the server could not find the requested resource", ("res", "op", "cond", "log")),
    Pattern("D-crd", CRD, r"no matches for kind|ensure CRDs are installed first|could not find the requested resource", ("res", "op", "cond", "log")),
    Pattern("C-verify", CRD, r"failed to get API resource info for \S+: unable to verify permissions", ("res", "op", "log")),
    # -- immutable fields (D, res; B3 in a server-side diff).
    Pattern("D-immutable", IMMUTABLE, r"field is immutable|Forbidden: updates to statefulset spec for fields other than|is immutable after creation", ("res", "op", "cond", "log")),
    # -- live state / cluster cache (B1, B2, B4).
    Pattern("B1", LIVE, r"Failed to load live state|error synchronizing cache state|failed to sync cluster", ("cond", "op", "log")),
    Pattern("B2", LIVE, r"the server is currently unable to handle the request|error getting openapi resources|failed to get server version|failed to get api resources", ("cond", "op", "log")),
    Pattern("B4", LIVE, r"failed to get cluster (?:info|version) for|there are no clusters with this name|there are \d+ clusters with the same name|Unable to get cluster|error getting cluster by URL", ("cond", "op", "log")),
    # -- manifest generation (A4b-A13), the sub-cause first, then the wrappers.
    Pattern("A4b", MANIFEST, r"failed (?:fatal )?timeout after|Client\.Timeout exceeded while awaiting headers", ("cond", "op", "log"), "timeout"),
    Pattern("A5", MANIFEST, r"authentication required|authentication failed|repository not found|knownhosts: key (?:is unknown|mismatch)|ssh: handshake failed|ssh: unable to authenticate|Permission denied \(publickey|could not read Username|invalid username or password|x509: certificate signed by unknown authority", ("cond", "op", "log"), "auth"),
    Pattern("A6", MANIFEST, r"unable to resolve '[^']*' to a commit SHA|revision not found|unable to resolve git revision|couldn't find remote ref|reference not found", ("cond", "op", "log"), "revision"),
    Pattern("A7", MANIFEST, r"app path does not exist", ("cond", "op", "log"), "path"),
    Pattern("A9", MANIFEST, r"`kustomize build|kustomization file not found|kustomize build", ("cond", "op", "log"), "kustomize"),
    Pattern("A8", MANIFEST, r"`helm (?:template|dependency)|failed to execute helm|helm template|error building helm chart dependencies|missing in charts/ directory|values file glob \S+ matched no files|error reading helm chart from", ("cond", "op", "log"), "helm"),
    Pattern("A10", MANIFEST, r"error generating manifests in cmp|plugin sidecar failed|couldn't find cmp-server plugin", ("cond", "op", "log"), "plugin"),
    Pattern("A13", MANIFEST, r"GIT/GPG: Failed verifying revision", ("cond", "op", "log"), "other"),
    Pattern("A12", MANIFEST, r"spec\.source\.repoURL and either spec\.source\.path or spec\.source\.chart are required|spec\.source\.targetRevision is required|Unable to generate manifests in", ("cond", "op", "log"), "other"),
    Pattern("A11", MANIFEST, r"Manifest generation error|failed to generate manifest for source \d+ of \d+|Failed to load target state", ("cond", "op", "log"), "other"),
    # Before v2.9 a ComparisonError carried the repo-server's gRPC error bare.
    Pattern("A-bare", MANIFEST, r"(?:^|ComparisonError: )rpc error: code = (?:Unknown|Internal|InvalidArgument|NotFound) desc = ", ("cond", "op", "log"), "other"),
    # -- any other sync failure (D1-D9, webhooks, hooks, apply errors, retries).
    Pattern("webhook", SYNC, r"admission webhook \"[^\"]*\" denied the request|failed calling webhook", ALL_FIELDS),
    Pattern("hook", SYNC, r"Job has reached the specified backoff limit|BackoffLimitExceeded|SyncFail hooks failed|SyncWaveHook failed", ALL_FIELDS),
    Pattern("D2", SYNC, r"one or more objects failed to apply|error validating data|Too long: must have at most|error when (?:patching|creating|replacing|applying) \"/dev/shm/|is invalid:", ALL_FIELDS),
    Pattern("D1", SYNC, r"one or more synchronization tasks (?:are not valid|completed unsuccessfully)", ("op", "cond", "log")),
    Pattern("D5", SYNC, r"the namespace failed to apply|namespace auto creation failed|Namespace for \S+ \S+ is missing", ALL_FIELDS),
    Pattern("D6", SYNC, r"Shared resource found", ("op", "cond", "log")),
    Pattern("D8", SYNC, r"Failed to load application project|Failed to get destination cluster|Failed to load resource overrides|failed to initialize sync context|no matching service account found|failed to record sync to history", ("op", "cond", "log")),
    Pattern("F", SYNC, r"Operation terminated|Operation termination had errors|triggered by controller sync timeout|\(retried \d+ times\)", ("op", "cond", "log")),
    Pattern("H", SYNC, r"auto-sync will wipe out all resources|Skipping auto-sync: failed previous sync attempt", ("cond", "log")),
    Pattern("missing", SYNC, r"is missing, it might have been deleted|Failed to get live resource|failed to delete resource|Internal error occurred", ("res", "op", "cond", "log")),
)

# Kargo's argocd-update step wraps the operation message (knowledge/kargo.md section 5).
WRAPPER = r"Argo CD Application \"[^\"]+\" in namespace \"[^\"]+\" failed with:[\s\S]*?"
for _p in TAXONOMY:
    if "op" in _p.fields:
        cause(_p.id, WRAPPER + "(?:" + _p.regex + ")")

_FLAGS = "(?i)"


def match_index(message: pl.Expr, field_kind: pl.Expr) -> pl.Expr:
    """The index in TAXONOMY of the first row matching (null if none): each regex runs once."""
    expr = None
    for i, p in enumerate(TAXONOMY):
        test = field_kind.is_in(list(p.fields)) & message.str.contains(_FLAGS + p.regex)
        expr = pl.when(test).then(pl.lit(i)) if expr is None else expr.when(test).then(pl.lit(i))
    return expr.otherwise(pl.lit(None, pl.Int64))


def by_index(index: pl.Expr, what: str = "id") -> pl.Expr:
    """The id, key or category of a TAXONOMY index."""
    values = {i: getattr(p, what) for i, p in enumerate(TAXONOMY)}
    return index.replace_strict(values, default=None, return_dtype=pl.String)


def classify(message: pl.Expr, field_kind: pl.Expr, what: str = "id") -> pl.Expr:
    """The catalog id (``what="id"``), taxonomy key or category of the first matching row; null if none."""
    return by_index(match_index(message, field_kind), what)


def classify_text(message: str | None, field_kind: str = "op") -> tuple[str | None, str | None, str | None]:
    """(id, key, category) of one text, for the few rows a rule already holds."""
    if not message:
        return None, None, None
    index = pl.DataFrame({"m": [message], "f": [field_kind]}).select(match_index(pl.col("m"), pl.col("f"))).item()
    if index is None:
        return None, None, None
    p = TAXONOMY[index]
    return p.id, p.key, p.category
