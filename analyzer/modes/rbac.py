"""The V3 verification RBAC checklist: ServiceAccount, binding, grants, and the forbidden lines that prove a gap.

A verification Job runs in the Stage's namespace as the ServiceAccount its
AnalysisTemplate names (``default`` when none). It needs a binding, and the
bound Roles must grant what the playbook's ClusterRole lists plus what the
Job's own kubectl commands use (read from the template's command and args).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field

import polars as pl

from analyzer.findings import Evidence
from analyzer.modes.common import NamespaceIndex, coverage, in_namespaces, say
from analyzer.rules.common import evidence

STATES = ("ok", "missing", "unknown", "n/a")


@dataclass(frozen=True)
class Need:
    group: str
    resource: str
    verb: str
    why: str  # the command that needs it, or "playbook"

    @property
    def label(self) -> str:
        return f"{self.verb} {self.resource}" + (f".{self.group}" if self.group else "")


# The playbook's ClusterRole for verification Jobs (S3).
BASELINE: tuple[Need, ...] = tuple(
    Need(group, resource, verb, "playbook")
    for group, resources in (("", ("pods", "services", "configmaps")), ("apps", ("deployments", "statefulsets")),
                             ("argoproj.io", ("applications",)))
    for resource in resources
    for verb in ("get", "list")
)

# kubectl resource words -> (group, plural)
RESOURCE_ALIASES: dict[str, tuple[str, str]] = {}
for _words, _target in (
    (("po", "pod", "pods"), ("", "pods")),
    (("svc", "service", "services"), ("", "services")),
    (("cm", "configmap", "configmaps"), ("", "configmaps")),
    (("secret", "secrets"), ("", "secrets")),
    (("ep", "endpoints"), ("", "endpoints")),
    (("ns", "namespace", "namespaces"), ("", "namespaces")),
    (("no", "node", "nodes"), ("", "nodes")),
    (("pvc", "persistentvolumeclaim", "persistentvolumeclaims"), ("", "persistentvolumeclaims")),
    (("ev", "event", "events"), ("", "events")),
    (("deploy", "deployment", "deployments"), ("apps", "deployments")),
    (("sts", "statefulset", "statefulsets"), ("apps", "statefulsets")),
    (("ds", "daemonset", "daemonsets"), ("apps", "daemonsets")),
    (("rs", "replicaset", "replicasets"), ("apps", "replicasets")),
    (("job", "jobs"), ("batch", "jobs")),
    (("cj", "cronjob", "cronjobs"), ("batch", "cronjobs")),
    (("ing", "ingress", "ingresses"), ("networking.k8s.io", "ingresses")),
    (("app", "apps", "application", "applications"), ("argoproj.io", "applications")),
    (("certificate", "certificates", "cert", "certs"), ("cert-manager.io", "certificates")),
    (("stage", "stages"), ("kargo.akuity.io", "stages")),
    (("freight", "freights"), ("kargo.akuity.io", "freights")),
):
    for _word in _words:
        RESOURCE_ALIASES[_word] = _target

_KUBECTL = re.compile(r"\bkubectl\s+((?:\\\n|[^\n;|&)])*)")
_FLAG_WITH_VALUE = re.compile(r"^-(?:n|l|o|c|f|-namespace|-selector|-output|-container|-for|-timeout|-field-selector|-template)$")


def _words(args: str) -> list[str]:
    """Positional words of a kubectl command line (flags and their values dropped)."""
    text = args.replace("\\\n", " ")
    try:
        words = shlex.split(text)
    except ValueError:  # an unbalanced quote in a script fragment
        words = text.split()
    out, skip = [], False
    for word in words:
        if skip:
            skip = False
            continue
        if word.startswith("-"):
            skip = "=" not in word and bool(_FLAG_WITH_VALUE.match(word))
            continue
        out.append(word.strip("'\""))
    return out


def _resource(word: str) -> tuple[str, str] | None:
    base = word.split("/", 1)[0].lower()
    head, _, group = base.partition(".")
    if head in RESOURCE_ALIASES:
        g, plural = RESOURCE_ALIASES[head]
        return (group or g, plural)
    return None


def script_needs(script: str | None) -> list[Need]:
    """What the kubectl commands of a verification Job need from RBAC."""
    needs: list[Need] = []
    for m in _KUBECTL.finditer(script or ""):
        cmd = " ".join(m.group(1).split())
        words = _words(m.group(1))
        if not words:
            continue
        verb, rest = words[0], words[1:]
        shown = f"kubectl {cmd}"[:80]
        if verb in ("get", "describe", "wait") and rest:
            named = len(rest) > 1 or "/" in rest[0]
            for token in rest[0].split(","):
                target = _resource(token)
                if target:
                    wanted = ["get"] if named or "/" in token else ["list"]
                    if verb == "describe":
                        wanted = ["get", "list"]
                    if verb == "wait":
                        wanted = ["get", "list", "watch"]
                    needs += [Need(target[0], target[1], v, shown) for v in wanted]
        elif verb == "exec":
            needs += [Need("", "pods", "get", shown), Need("", "pods/exec", "create", shown)]
            if rest and "/" in rest[0] and (target := _resource(rest[0])) and target[1] != "pods":
                needs += [Need(target[0], target[1], "get", shown), Need("", "pods", "list", shown)]
        elif verb == "logs":
            needs += [Need("", "pods", "get", shown), Need("", "pods/log", "get", shown)]
            if rest and "/" in rest[0] and (target := _resource(rest[0])) and target[1] != "pods":
                needs += [Need(target[0], target[1], "get", shown), Need("", "pods", "list", shown)]
        elif verb == "rollout" and len(rest) >= 2 and rest[0] == "status":
            target = _resource(rest[1])
            if target:
                needs += [Need(target[0], target[1], v, shown) for v in ("get", "watch")]
        elif verb == "top" and rest:
            target = _resource(rest[0])
            if target:
                needs.append(Need("metrics.k8s.io", target[1], "list", shown))
    seen: set[tuple] = set()
    unique = []
    for n in needs:
        key = (n.group, n.resource, n.verb)
        if key not in seen:
            seen.add(key)
            unique.append(n)
    return unique


@dataclass(frozen=True)
class Binding:
    kind: str  # ClusterRoleBinding or RoleBinding
    name: str
    namespace: str | None
    role_kind: str
    role_name: str
    source: str

    @property
    def label(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind} {where}{self.name} -> {self.role_kind} {self.role_name}"


@dataclass(frozen=True)
class Forbidden:
    pod: str
    line: str
    verb: str | None
    resource: str | None
    group: str | None
    namespace: str | None
    evidence: Evidence


@dataclass(frozen=True)
class RbacChecklist:
    """The V3 checklist for one ServiceAccount in one namespace."""

    namespace: str
    service_account: str
    templates: tuple[str, ...]
    sa_state: str  # ok | missing | unknown
    sa_detail: str
    binding_state: str  # ok | missing | unknown
    bindings: tuple[Binding, ...]
    binding_detail: str
    grants_state: str  # ok | missing | unknown | n/a
    missing: tuple[Need, ...]  # used by the Job's commands, not granted
    missing_baseline: tuple[Need, ...]  # the playbook's list, not granted (the Job does not use them)
    grants_detail: str
    forbidden: tuple[Forbidden, ...] = ()
    evidence: tuple[Evidence, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return self.sa_state == "ok" and self.binding_state == "ok" and self.grants_state in ("ok", "n/a") and not self.forbidden

    @property
    def failed(self) -> bool:
        return "missing" in (self.sa_state, self.binding_state, self.grants_state) or bool(self.forbidden)


def _bindings(frames, namespace: str, sa: str) -> pl.DataFrame:
    def explode(frame: pl.DataFrame, kind: str) -> pl.DataFrame:
        if frame.is_empty():
            return pl.DataFrame(schema={"kind": pl.String, "name": pl.String, "namespace": pl.String,
                                        "role_kind": pl.String, "role_name": pl.String, "source": pl.String})
        return (
            frame.explode("subjects")
            .filter(pl.col("subjects").is_not_null())
            .filter(
                (pl.col("subjects").struct.field("kind") == "ServiceAccount")
                & (pl.col("subjects").struct.field("name") == sa)
                & (pl.coalesce(pl.col("subjects").struct.field("namespace"), pl.col("namespace")) == namespace)
            )
            .select(pl.lit(kind).alias("kind"), "name", "namespace", "role_kind", "role_name", "source")
        )

    return pl.concat([explode(frames.cluster_role_bindings, "ClusterRoleBinding"),
                      explode(frames.role_bindings, "RoleBinding")], how="vertical_relaxed")


def _rules(frames, bindings: pl.DataFrame) -> pl.DataFrame:
    """Every rule the bindings grant, one row per rule."""
    cluster = frames.cluster_roles.select(pl.lit("ClusterRole").alias("role_kind"), pl.col("name").alias("role_name"),
                                          pl.lit(None, pl.String).alias("role_namespace"), "rules")
    local = frames.roles.select(pl.lit("Role").alias("role_kind"), pl.col("name").alias("role_name"),
                                pl.col("namespace").alias("role_namespace"), "rules")
    roles = pl.concat([cluster, local], how="vertical_relaxed")
    joined = bindings.join(roles, on=["role_kind", "role_name"], how="inner").filter(
        (pl.col("role_kind") == "ClusterRole") | (pl.col("role_namespace") == pl.col("namespace")))
    return joined.explode("rules").filter(pl.col("rules").is_not_null()).select(
        pl.col("rules").struct.field("apiGroups").fill_null([]).alias("groups"),
        pl.col("rules").struct.field("resources").fill_null([]).alias("resources"),
        pl.col("rules").struct.field("verbs").fill_null([]).alias("verbs"),
    )


def ungranted(rules: pl.DataFrame, needs: list[Need]) -> list[Need]:
    """The needs no rule grants (a ``*`` in a rule grants everything of its field)."""
    if not needs:
        return []
    wanted = pl.DataFrame({"i": list(range(len(needs))), "group": [n.group for n in needs],
                           "resource": [n.resource for n in needs], "verb": [n.verb for n in needs]})
    if rules.is_empty():
        return list(needs)
    granted = (
        wanted.join(rules, how="cross")
        .filter(
            (pl.col("groups").list.contains(pl.col("group")) | pl.col("groups").list.contains(pl.lit("*")))
            & (pl.col("resources").list.contains(pl.col("resource")) | pl.col("resources").list.contains(pl.lit("*")))
            & (pl.col("verbs").list.contains(pl.col("verb")) | pl.col("verbs").list.contains(pl.lit("*")))
        )
        .get_column("i").unique().to_list()
    )
    return [n for i, n in enumerate(needs) if i not in set(granted)]


FORBIDDEN_RE = (r'cannot (?P<verb>[a-z]+) resource "(?P<resource>[^"]+)"'
                r'(?: in API group "(?P<group>[^"]*)")?(?: in the namespace "(?P<namespace>[^"]+)")?')


def forbidden_lines(frames, namespace: str, analysis_runs: list[str]) -> list[Forbidden]:
    """"forbidden" lines in the logs of the Jobs the AnalysisRuns created."""
    if not analysis_runs or frames.logs.is_empty():
        return []
    jobs = in_namespaces(frames, "jobs", namespace).filter((pl.col("owner_kind") == "AnalysisRun")
                              & pl.col("owner_name").is_in(analysis_runs)).get_column("name").to_list()
    pods = in_namespaces(frames, "pods", namespace).filter(pl.col("job_name").is_in(jobs)).get_column("name").to_list()
    # A Job's pod is named <job>-<suffix>; the logs may outlive the pod object.
    prefix = "|".join(re.escape(j) for j in jobs) or "$^"
    forbidden = frames.derived("forbidden-log-lines", lambda f: NamespaceIndex(
        f.logs.filter(pl.col("message").str.contains(r"(?i)forbidden"))))
    lines = forbidden.get(namespace).filter(
        pl.col("pod").is_in(pods) | pl.col("pod").str.contains(rf"^(?:{prefix})-[a-z0-9]+$")
    ).sort("time").with_columns(pl.col("message").str.extract_groups(FORBIDDEN_RE).alias("parsed"))
    out = []
    for r in lines.head(5).to_dicts():
        parsed = r["parsed"] or {}
        out.append(Forbidden(
            r["pod"], r["message"], parsed.get("verb"), parsed.get("resource"), parsed.get("group"), parsed.get("namespace"),
            evidence(r["source"], f"line {r['line_no']}", r["message"], r["time"]),
        ))
    return out


def checklist(frames, namespace: str, sa: str, templates: list[str], script: str, analysis_runs: list[str]) -> RbacChecklist:
    """The V3 checklist of ``namespace/sa``, which runs the Jobs of ``templates`` (their kubectl lines in ``script``)."""
    ev: list[Evidence] = []
    sa_rows = in_namespaces(frames, "service_accounts", namespace).filter((pl.col("name") == sa)) \
        if not frames.service_accounts.is_empty() else pl.DataFrame()
    if sa_rows.height:
        sa_state, sa_detail = "ok", say("rbac.sa.ok", namespace=namespace, sa=sa)
        ev.append(evidence(sa_rows.row(0, named=True)["source"], f"ServiceAccount {sa}", "present"))
    else:
        cov = coverage(frames, "serviceaccounts", namespace)
        if cov.known:
            sa_state, sa_detail = "missing", say("rbac.sa.missing", namespace=namespace, sa=sa)
        else:
            sa_state, sa_detail = "unknown", say("rbac.unknown", what=f"ServiceAccount {namespace}/{sa}", why=cov.detail)

    bindings = _bindings(frames, namespace, sa)
    found = tuple(Binding(**r) for r in bindings.select("kind", "name", "namespace", "role_kind", "role_name", "source").to_dicts())
    crb = coverage(frames, "clusterrolebindings")
    rb = coverage(frames, "rolebindings", namespace)
    if found:
        binding_state = "ok"
        binding_detail = say("rbac.bound", bindings="; ".join(b.label for b in found))
        ev += [evidence(b.source, f"{b.kind} {b.name} subjects", f"ServiceAccount {namespace}/{sa}") for b in found]
    elif crb.known and rb.known:
        binding_state, binding_detail = "missing", say("rbac.unbound", namespace=namespace, sa=sa)
    else:
        binding_state = "unknown"
        binding_detail = say("rbac.unknown", what="RoleBindings and ClusterRoleBindings", why=(crb.detail or rb.detail))

    needs = script_needs(script)
    if binding_state == "missing":
        grants_state, missing, missing_base = "missing", tuple(needs), ()
        grants_detail = say("rbac.grants.none")
    elif binding_state == "unknown":
        grants_state, missing, missing_base = "unknown", (), ()
        grants_detail = say("rbac.unknown", what="the bound Roles", why=binding_detail)
    else:
        roles_cov = coverage(frames, "clusterroles")
        rules = _rules(frames, bindings)
        if rules.is_empty() and not roles_cov.known:
            grants_state, missing, missing_base = "unknown", (), ()
            grants_detail = say("rbac.unknown", what="ClusterRoles and Roles", why=roles_cov.detail)
        else:
            missing = tuple(ungranted(rules, needs))
            used = {(n.group, n.resource, n.verb) for n in needs}
            missing_base = tuple(n for n in ungranted(rules, list(BASELINE)) if (n.group, n.resource, n.verb) not in used)
            grants_state = "missing" if missing else "ok"
            if missing:
                grants_detail = say("rbac.grants.missing", missing=", ".join(n.label for n in missing))
            elif needs:
                grants_detail = say("rbac.grants.ok", count=len(needs))
            else:
                grants_detail = say("rbac.grants.no-kubectl")
            if missing_base:
                grants_detail += " " + say("rbac.grants.baseline", missing=", ".join(n.label for n in missing_base))
    forbidden = tuple(forbidden_lines(frames, namespace, analysis_runs))
    return RbacChecklist(namespace, sa, tuple(templates), sa_state, sa_detail, binding_state, found, binding_detail,
                         grants_state, missing, missing_base, grants_detail, forbidden, tuple(ev))


def rules_yaml(needs: list[Need] | tuple[Need, ...]) -> str:
    """The ClusterRole rules that grant ``needs``, one flow-style YAML rule per (group, resource)."""
    grouped: dict[tuple[str, str], list[str]] = {}
    for n in needs:
        grouped.setdefault((n.group, n.resource), [])
        if n.verb not in grouped[(n.group, n.resource)]:
            grouped[(n.group, n.resource)].append(n.verb)
    order = ("get", "list", "watch", "create", "update", "patch", "delete")
    return "  ".join(
        f'- {{apiGroups: ["{g}"], resources: ["{r}"], verbs: [{", ".join(sorted(v, key=lambda x: order.index(x) if x in order else 99))}]}}'
        for (g, r), v in grouped.items()
    )


def can_i(need: Need, namespace: str | None) -> str:
    resource = need.resource + (f".{need.group}" if need.group else "")
    return f"{need.verb} {resource}" + (f" -n {namespace}" if namespace else " -A")


def summary(check: RbacChecklist) -> str:
    """One line: what is known to be wrong, else what is unknown, else that it is complete."""
    if check.failed:
        parts = [d for st, d in ((check.sa_state, check.sa_detail), (check.binding_state, check.binding_detail),
                                 (check.grants_state, check.grants_detail)) if st == "missing"]
        if check.forbidden:
            parts.append(say("rbac.forbidden", count=len(check.forbidden), line=check.forbidden[0].line))
        return "; ".join(parts)
    unknown = [what for st, what in ((check.sa_state, "serviceaccounts"), (check.binding_state, "role bindings"),
                                     (check.grants_state, "roles")) if st == "unknown"]
    if unknown:
        return say("rbac.summary.unknown", what=", ".join(unknown))
    return "; ".join(d for d in (check.sa_detail, check.binding_detail, check.grants_detail) if d)
