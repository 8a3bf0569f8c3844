#!/usr/bin/env python3
"""Write a synthetic bundle v1 of a chosen size, for benchmarks and scale tests.

Scale 1 is the "enterprise" size divided by 16: 125 Stages, 1,250
Promotions, ~313 Freight, 625 Applications, 1,250 Pods, 3,125 Events and
128 MB of controller logs. Scale 16 is the enterprise bundle itself (2,000
Stages, 20,000 Promotions, 5,000 Freight, 10,000 Applications, 20,000 Pods,
50,000 Events, 2 GB of logs). Fractional scales (0.02) make tiny instances for
tests; below about scale 1 the counts have floors, because every planted
scenario needs a pipeline of its own.

What is in it:

* many Kargo projects (namespaces), each with one to four pipelines of 3-6
  Stages (dev -> qa -> staging -> prod-eu/prod-us/...), a Warehouse, Freight,
  Promotions with their AnalysisRuns, the Applications the Stages promote and
  their workloads; Applications Kargo does not promote (cluster add-ons on
  remote clusters, auto-synced) make up the rest of the Application count;
* a healthy majority, and every failure scenario of the diagnosis catalog
  planted at a small rate (``PLANTS``); the list of what was planted is
  returned by :func:`generate` and written beside the bundle as
  ``<bundle>.planted.json`` (never inside it);
* controller logs as ``kubectl logs --timestamps`` prints them: Kargo (zap
  console from v1.8, logrus text before), Argo CD application controller and
  repo-server (JSON from v3.0, logrus text before), INFO-level majority, with
  the warnings and errors of the planted scenarios at their times.

Objects come from the builders of ``make_sample_bundles.py`` where those fit
(pods, workloads, services, events, Freight, Warehouses, AnalysisRuns,
control planes); Stages, Promotions and Applications are built here with the
same shapes but with project, pipeline and Application names of their own.

Files are written as they are produced: object lists are kept as serialized
bytes until their file is complete, logs are generated in chunks straight to
the output, and every file's size and sha256 is computed while it is written.
The output is deterministic for a given seed and scale.

Usage::

    scripts/make_synthetic_bundle.py --scale 1 --out /tmp/bundle-1x.tar.gz --tar
    scripts/make_synthetic_bundle.py --scale 0.02 --out /tmp/tiny --seed 7
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import hashlib
import io
import json
import math
import os
import random
import re
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

import orjson
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_sample_bundles as sb  # noqa: E402  (the sample bundles' object builders)

UTC = timezone.utc
FORMAT = "gitops-bundle/v1"
COLLECTED_AT = datetime(2026, 11, 24, 14, 5, 31, tzinfo=UTC)
KARGO_NS = sb.KARGO_NS
ARGOCD_NS = sb.ARGOCD_NS
IN_CLUSTER = sb.IN_CLUSTER
HIDDEN = sb.HIDDEN
LAST_APPLIED = sb.LAST_APPLIED

# The enterprise bundle divided by 16.
SCALE1 = {
    "stages": 125,
    "promotions": 1250,
    "freight": 312.5,
    "applications": 625,
    "pods": 1250,
    "events": 3125,
    "log_bytes": 128 * 1024 * 1024,
}
# Each planted scenario occurs on about this fraction of Stages (at least once).
PLANT_RATE = 0.002
# Log volume split between the controllers.
LOG_SHARE = {"kargo": 0.12, "application-controller": 0.55, "repo-server": 0.33}
EVENT_WINDOW = timedelta(hours=3)
LOG_WINDOW = timedelta(hours=24)

TEAMS = (
    "payments", "checkout", "catalog", "search", "identity", "billing", "shipping", "inventory", "pricing",
    "reviews", "loyalty", "notifications", "messaging", "analytics", "reporting", "fraud", "ledger", "onboarding",
    "support", "marketing", "recommendations", "media", "maps", "booking", "orders", "accounts", "risk",
    "compliance", "storefront", "partners", "insights", "growth", "trust", "logistics", "returns", "subscriptions",
    "content", "localization", "experiments", "tax",
)
TEAM_SUFFIXES = ("", "-eu", "-us", "-apac", "-internal", "-edge", "-mobile", "-b2b", "-data", "-core")
SERVICES = (
    "api", "web", "worker", "gateway", "scheduler", "indexer", "ingest", "exporter", "frontend", "backend",
    "sync", "consumer", "admin", "auth", "renderer", "notifier", "router", "cache",
)
ADJECTIVES = (
    "brave", "calm", "eager", "fancy", "gentle", "happy", "jolly", "kind", "lively", "merry", "nice", "proud",
    "silly", "witty", "zealous", "bold", "crisp", "dapper", "early", "fresh", "grand", "humble", "ideal", "keen",
    "lucky", "mellow", "noble", "polite", "quick", "rapid", "shiny", "sunny", "tidy", "upbeat", "vivid", "warm",
)
ANIMALS = (
    "otter", "heron", "lynx", "walrus", "marmot", "badger", "gecko", "mantis", "beaver", "pelican", "koala",
    "narwhal", "falcon", "yak", "panda", "ibis", "orca", "puffin", "quokka", "raven", "seal", "tapir", "viper",
    "wombat", "zebra", "bison", "cobra", "dingo", "egret", "ferret", "gibbon", "hyena", "jackal", "lemur",
)
ADDONS = (
    ("cert-manager", "https://charts.jetstack.io", "v1.15.3"),
    ("external-dns", "https://kubernetes-sigs.github.io/external-dns", "1.15.0"),
    ("ingress-nginx", "https://kubernetes.github.io/ingress-nginx", "4.11.2"),
    ("kube-prometheus-stack", "https://prometheus-community.github.io/helm-charts", "65.1.1"),
    ("loki", "https://grafana.github.io/helm-charts", "6.16.0"),
    ("promtail", "https://grafana.github.io/helm-charts", "6.16.6"),
    ("velero", "https://vmware-tanzu.github.io/helm-charts", "7.2.1"),
    ("external-secrets", "https://charts.external-secrets.io", "0.10.4"),
    ("kyverno", "https://kyverno.github.io/kyverno", "3.2.7"),
    ("metrics-server", "https://kubernetes-sigs.github.io/metrics-server", "3.12.1"),
    ("cluster-autoscaler", "https://kubernetes.github.io/autoscaler", "9.43.0"),
    ("reloader", "https://stakater.github.io/stakater-charts", "1.1.0"),
    ("keda", "https://kedacore.github.io/charts", "2.15.1"),
    ("opentelemetry-collector", "https://open-telemetry.github.io/opentelemetry-helm-charts", "0.108.0"),
)
REGIONS = ("eu-west-1", "eu-central-1", "us-east-1", "us-west-2", "ap-southeast-1", "ap-northeast-1")
CLUSTER_ENVS = ("prod", "staging", "dev", "perf", "dr")
PIPELINE_SHAPES = {
    3: [("dev", []), ("staging", ["dev"]), ("prod", ["staging"])],
    4: [("dev", []), ("staging", ["dev"]), ("prod-eu", ["staging"]), ("prod-us", ["staging"])],
    5: [("dev", []), ("qa", ["dev"]), ("staging", ["qa"]), ("prod-eu", ["staging"]), ("prod-us", ["staging"])],
    6: [("dev", []), ("qa", ["dev"]), ("staging", ["qa"]), ("prod-eu", ["staging"]), ("prod-us", ["staging"]),
        ("prod-ap", ["staging"])],
}

# ---------------------------------------------------------------- planted scenarios
#
# scenario -> (where it lives, catalog ids a correct analysis reports for it).
# "stage": the leaf Stage of a pipeline of its own; "pipeline": that
# pipeline's Warehouse; "app": an Application Kargo does not promote;
# "cluster": once per bundle whatever the scale.
PLANTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "poisoned-promotion": ("stage", ("stage-poisoned-promotion",)),
    "promotion-step-failed": ("stage", ("promotion-step-failed",)),
    "promotion-stuck": ("stage", ("promotion-stuck",)),
    "stage-no-freight": ("stage", ("stage-no-freight",)),
    "stage-reconcile-error": ("stage", ("stage-reconcile-error",)),
    "verification-failed": ("stage", ("verification-failed",)),
    "stage-unhealthy": ("stage", ("stage-unhealthy", "argocd-app-degraded")),
    "multiple-faults": ("stage", ("stage-multiple-faults", "stage-reconcile-error", "stage-unhealthy",
                                  "argocd-app-degraded")),
    "update-unauthorized": ("stage", ("argocd-update-unauthorized", "setup-missing-authorized-stage")),
    "update-foreign-operation": ("stage", ("argocd-update-foreign-operation",)),
    "update-conflict": ("stage", ("argocd-update-conflict",)),
    "update-revision-mismatch": ("stage", ("argocd-update-revision-mismatch",)),
    "git-step-failed": ("stage", ("git-step-failed",)),
    "repo-server-unreachable": ("stage", ("argocd-repo-server-unreachable",)),
    "repo-server-oom": ("stage", ("argocd-repo-server-oom",)),
    "stage-sync-failed": ("stage", ("argocd-sync-failed",)),
    "stage-field-immutable": ("stage", ("argocd-field-immutable",)),
    "blocked-by-verification": ("stage", ("promotion-blocked-by-verification",)),
    "auto-promotion-blocked": ("stage", ("auto-promotion-blocked",)),
    "verification-rbac-forbidden": ("stage", ("verification-rbac-forbidden", "setup-verification-rbac-missing")),
    "verification-error": ("stage", ("verification-error",)),
    "verification-not-started": ("stage", ("verification-not-started",)),
    "health-check-settling": ("stage", ("health-check-settling",)),
    "setup-missing-retry": ("stage", ("setup-missing-retry",)),
    "setup-retry-too-low": ("stage", ("setup-retry-too-low",)),
    "setup-autosync-conflict": ("stage", ("setup-autosync-conflict",)),
    "setup-missing-verification": ("stage", ("setup-missing-verification",)),
    "setup-foundation-self-promotion": ("stage", ("setup-foundation-self-promotion",)),
    "setup-unknown-freight-source": ("stage", ("setup-unknown-freight-source",)),
    "warehouse-discovery-failed": ("pipeline", ("warehouse-discovery-failed",)),
    "warehouse-no-new-freight": ("pipeline", ("warehouse-no-new-freight",)),
    "app-manifest-failed": ("app", ("argocd-manifest-generation-failed",)),
    "app-crd-missing": ("app", ("argocd-crd-missing",)),
    "app-project-denied": ("app", ("argocd-project-denied",)),
    "app-live-state-failed": ("app", ("argocd-live-state-failed",)),
    "app-sync-failed": ("app", ("argocd-sync-failed",)),
    "app-stale-operation": ("app", ("argocd-stale-operation-state",)),
    "app-operation-stuck": ("app", ("argocd-operation-stuck",)),
    "app-degraded": ("app", ("argocd-app-degraded",)),
    "selfheal-pending": ("app", ("selfheal-pending",)),
    "controller-down": ("cluster", ("controller-down",)),
    "collection-gap": ("cluster", ("collection-gap",)),
}
# Scenarios that exist only from a Kargo version on (before v1.7 the health check waits instead).
PLANT_SINCE_KARGO = {"health-check-settling": (1, 7, 0)}
# Scenarios whose host Stage is promoted automatically (the others are promoted by hand).
AUTO_HOSTS = {"auto-promotion-blocked", "stage-reconcile-error", "multiple-faults", "blocked-by-verification",
              "poisoned-promotion"}
# Scenarios that add a Promotion of the newest Freight to the host Stage.
NEW_PROMOTION = {
    "promotion-step-failed", "promotion-stuck", "update-unauthorized", "update-foreign-operation",
    "update-conflict", "update-revision-mismatch", "git-step-failed", "repo-server-unreachable",
    "repo-server-oom", "stage-sync-failed", "stage-field-immutable", "blocked-by-verification",
    "auto-promotion-blocked", "verification-not-started", "health-check-settling",
}

# ---------------------------------------------------------------- serialisation

_JSON_OPT = orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS
_LINE = re.compile(rb"\n( *)")
# orjson indents by 2; kubectl by 4, and List items sit two levels deep.
_PAD = [b"\n" + b" " * (2 * n + 8) for n in range(512)]


def _pad(m: re.Match) -> bytes:
    return _PAD[m.end() - m.start() - 1]


def kube_item(obj: Any) -> bytes:
    """One object as an item of ``kubectl get -o json`` (4-space indent, sorted keys, Go HTML escaping)."""
    raw = _LINE.sub(_pad, orjson.dumps(obj, option=_JSON_OPT))
    if b"<" in raw or b">" in raw or b"&" in raw:
        raw = raw.replace(b"<", b"\\u003c").replace(b">", b"\\u003e").replace(b"&", b"\\u0026")
    return b"        " + raw


_LIST_TAIL = b'\n    ],\n    "kind": "List",\n    "metadata": {\n        "resourceVersion": ""\n    }\n}\n'
_EMPTY_LIST = b'{\n    "apiVersion": "v1",\n    "items": [],\n    "kind": "List",\n    "metadata": {\n        "resourceVersion": ""\n    }\n}\n'


def list_chunks(items: list[bytes]) -> Iterator[bytes]:
    if not items:
        yield _EMPTY_LIST
        return
    yield b'{\n    "apiVersion": "v1",\n    "items": [\n'
    for i, item in enumerate(items):
        yield item if i == 0 else b",\n" + item
    yield _LIST_TAIL


def ts(at: datetime) -> str:
    return sb.ts(at)


# ---------------------------------------------------------------- output


class _Stream:
    """A file being written: bytes go out as they come, size and sha256 computed on the way."""

    def __init__(self, out: "Output", rel: str):
        self.out = out
        self.rel = rel
        self.sha = hashlib.sha256()
        self.size = 0
        if out.tar is None:
            path = out.root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            self.fh = open(path, "wb")
            self.tmp = None
        else:
            fd, tmp = tempfile.mkstemp(prefix=".member-", dir=out.tmpdir)
            self.fh = os.fdopen(fd, "wb")
            self.tmp = tmp

    def write(self, data: bytes) -> None:
        self.sha.update(data)
        self.size += len(data)
        self.fh.write(data)

    def close(self) -> None:
        self.fh.close()
        if self.tmp is not None:
            with open(self.tmp, "rb") as fh:
                self.out._add_member(self.rel, self.size, fh)
            os.unlink(self.tmp)
        self.out.written.append((self.rel, self.size, self.sha.hexdigest()))


class Output:
    """A bundle directory, or a .tar.gz holding one top-level directory, written member by member."""

    def __init__(self, path: Path, as_tar: bool, top: str, mtime: datetime):
        self.path = path
        self.written: list[tuple[str, int, str]] = []
        self.mtime = int(mtime.timestamp())
        self.top = top
        self.tar = None
        if as_tar:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.tmpdir = str(path.parent)
            self._raw = open(path, "wb")
            self._gz = gzip.GzipFile(filename="", mode="wb", fileobj=self._raw, mtime=0, compresslevel=6)
            self.tar = tarfile.open(fileobj=self._gz, mode="w", format=tarfile.GNU_FORMAT)
            self._dirs: set[str] = set()
            self._add_dir("")
        else:
            self.root = path
            path.mkdir(parents=True, exist_ok=True)

    def _info(self, name: str) -> tarfile.TarInfo:
        info = tarfile.TarInfo(name)
        info.mtime = self.mtime
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        return info

    def _add_dir(self, rel_dir: str) -> None:
        assert self.tar is not None
        parts = [p for p in rel_dir.split("/") if p]
        for i in range(len(parts) + 1):
            d = "/".join(parts[:i])
            if d in self._dirs:
                continue
            self._dirs.add(d)
            info = self._info(f"{self.top}/{d}".rstrip("/"))
            info.type = tarfile.DIRTYPE
            info.mode = 0o755
            self.tar.addfile(info)

    def _add_member(self, rel: str, size: int, fh) -> None:
        assert self.tar is not None
        self._add_dir(rel.rsplit("/", 1)[0] if "/" in rel else "")
        info = self._info(f"{self.top}/{rel}")
        info.size = size
        info.mode = 0o644
        self.tar.addfile(info, fh)

    def write(self, rel: str, data: bytes, record: bool = True) -> None:
        if self.tar is None:
            path = self.root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        else:
            self._add_member(rel, len(data), io.BytesIO(data))
        if record:
            self.written.append((rel, len(data), hashlib.sha256(data).hexdigest()))

    @contextlib.contextmanager
    def stream(self, rel: str) -> Iterator[_Stream]:
        s = _Stream(self, rel)
        try:
            yield s
        finally:
            s.close()

    def close(self) -> None:
        if self.tar is not None:
            self.tar.close()
            self._gz.close()
            self._raw.close()


class Lists:
    """Object files in progress: serialized items per file, written sorted when the file is complete."""

    def __init__(self, out: Output):
        self.out = out
        self.files: dict[str, list[tuple[tuple, bytes]]] = {}
        self.counts: dict[str, int] = {}
        self.redactions = 0  # last-applied-configuration annotations replaced by the collector

    def touch(self, rel: str) -> None:
        self.files.setdefault(rel, [])

    def add(self, rel: str, obj: dict) -> None:
        meta = obj["metadata"]
        key = (meta.get("namespace", ""), meta["name"])
        self.files.setdefault(rel, []).append((key, kube_item(obj)))
        kind = obj.get("kind", "")
        self.counts[kind] = self.counts.get(kind, 0) + 1
        if (meta.get("annotations") or {}).get(LAST_APPLIED) == HIDDEN:
            self.redactions += 1

    def flush(self, rel: str) -> None:
        items = self.files.pop(rel, None)
        if items is None:
            return
        items.sort(key=lambda kv: kv[0])
        with self.out.stream(rel) as s:
            for chunk in list_chunks([b for _k, b in items]):
                s.write(chunk)

    def flush_namespace(self, namespace: str) -> None:
        for rel in [r for r in self.files if r.endswith(f"/{namespace}.json")]:
            self.flush(rel)

    def flush_all(self) -> None:
        for rel in sorted(self.files):
            self.flush(rel)


# ---------------------------------------------------------------- the plan


@dataclass
class AppPlan:
    name: str
    dest_ns: str
    components: list[tuple[str, int]]  # (Deployment, replicas)
    chart: str | None = None  # a Helm chart source instead of a kustomize path
    auto_sync: bool = False
    authorized: bool = True
    no_workload: bool = False  # it deploys into a namespace whose pods come from elsewhere
    foundation: bool = False  # it deploys Argo CD itself


@dataclass
class StagePlan:
    name: str
    env: str
    upstream: list[str]
    auto: bool
    apps: list[AppPlan]
    leaf: bool
    plant: str | None = None
    verification: str | None = "smoke"
    retry: dict | None = field(default_factory=lambda: {"timeout": "10m", "errorThreshold": 3})


@dataclass
class PipelinePlan:
    project: str
    service: str
    warehouse: str
    stages: list[StagePlan]
    freight_count: int
    manual_fraction: float
    slug: str
    plant: str | None = None  # the scenario planted on it (its leaf Stage or its Warehouse)
    tag_major: int = 1
    retry_rate: float = 0.03


@dataclass
class ProjectPlan:
    name: str
    pipelines: list[PipelinePlan]


@dataclass
class UnmanagedApp:
    name: str
    addon: str
    repo: str
    version: str
    cluster: str
    server: str
    dest_ns: str
    project: str
    plant: str | None = None


@dataclass
class Plan:
    scale: float
    seed: int
    kargo_version: str
    argocd_version: str
    projects: list[ProjectPlan]
    unmanaged: list[UnmanagedApp]
    cluster_plants: list[str]
    targets: dict[str, float]
    pods_per_app: float
    app_controller_shards: int
    repo_server_replicas: int
    nodes: list[str]

    @property
    def pipelines(self) -> list[PipelinePlan]:
        return [p for proj in self.projects for p in proj.pipelines]


def _version(text: str) -> tuple[int, int, int]:
    parts = [int(p) for p in text.lstrip("v").split(".")]
    while len(parts) < 3:
        parts.append(0)
    return parts[0], parts[1], parts[2]


def _unique_names(rng: random.Random, words: tuple[str, ...], suffixes: tuple[str, ...], n: int) -> list[str]:
    combos = [w + s for s in suffixes for w in words]
    if n > len(combos):
        combos += [f"{w}{s}-{i}" for i in range(2, 2 + n // max(len(combos), 1) + 1) for s in suffixes for w in words]
    head = combos[:len(words)]
    rng.shuffle(head)
    return (head + combos[len(words):])[:n]


def make_plan(scale: float, seed: int, kargo_version: str, argocd_version: str) -> Plan:
    if scale <= 0:
        raise ValueError("--scale must be positive")
    rng = random.Random(f"plan/{seed}")
    targets = {k: v * scale for k, v in SCALE1.items()}
    stage_target = max(1, round(targets["stages"]))

    def count(scope: str) -> int:
        return max(1, round(stage_target * PLANT_RATE))

    stage_plants: list[str] = []
    app_plants: list[str] = []
    cluster_plants: list[str] = []
    kargo = _version(kargo_version)
    for name, (scope, _ids) in PLANTS.items():
        if kargo < PLANT_SINCE_KARGO.get(name, (0, 0, 0)):
            continue
        if scope in ("stage", "pipeline"):
            stage_plants += [name] * count(scope)
        elif scope == "app":
            app_plants += [name] * count(scope)
        else:
            cluster_plants.append(name)
    rng.shuffle(stage_plants)

    n_pipelines = max(round(stage_target / 4.5), len(stage_plants) + 4)
    total_stages = max(stage_target, 3 * n_pipelines)
    sizes = [3] * n_pipelines
    extra = total_stages - 3 * n_pipelines
    while extra > 0:
        grew = False
        for i in rng.sample(range(n_pipelines), n_pipelines):
            if extra <= 0:
                break
            if sizes[i] < 6:
                sizes[i] += 1
                extra -= 1
                grew = True
        if not grew:
            break
    # Projects hold 1-4 pipelines.
    groups: list[int] = []
    left = n_pipelines
    while left > 0:
        k = min(left, rng.choice((1, 1, 2, 2, 2, 3, 4)))
        groups.append(k)
        left -= k
    team_names = _unique_names(rng, TEAMS, TEAM_SUFFIXES, len(groups))

    freight_target = max(targets["freight"], 3 * n_pipelines)
    freight_per_pipeline = freight_target / n_pipelines
    promo_target = max(targets["promotions"], 2 * total_stages)

    projects: list[ProjectPlan] = []
    pipelines: list[PipelinePlan] = []
    plant_iter = iter(stage_plants)
    index = 0
    for team, k in zip(team_names, groups, strict=True):
        services = rng.sample(SERVICES, k)
        proj = ProjectPlan(team, [])
        for service in services:
            size = sizes[index]
            index += 1
            plant = next(plant_iter, None)
            stages: list[StagePlan] = []
            for env, ups in PIPELINE_SHAPES[size]:
                name = env if k == 1 else f"{service}-{env}"
                upstream = [u if k == 1 else f"{service}-{u}" for u in ups]
                app_base = f"{team}-{service}-{env}"
                apps = [AppPlan(app_base, app_base, [])]
                if rng.random() < 0.15:
                    apps.append(AppPlan(f"{app_base}-jobs", app_base, []))
                stages.append(StagePlan(name, env, upstream, auto=not env.startswith("prod"), apps=apps,
                                        leaf=False))
                if rng.random() < 0.3:
                    stages[-1].retry = {"timeout": "5m", "errorThreshold": 2}
            ups_all = {u for s in stages for u in s.upstream}
            for s in stages:
                s.leaf = s.name not in ups_all
            f = freight_per_pipeline * rng.uniform(0.8, 1.2)
            fcount = max(3, round(f))
            if plant in ("poisoned-promotion",):
                fcount = max(fcount, 5)
            pl_ = PipelinePlan(team, service, f"{service}-images" if k > 1 else "images", stages, fcount, 0.5,
                               slug=f"synthetic-{seed}/{team}/{service}", plant=plant,
                               tag_major=rng.randint(1, 6))
            proj.pipelines.append(pl_)
            pipelines.append(pl_)
        projects.append(proj)

    # Promotions: auto Stages take every Freight; manual ones a fraction chosen to hit the target.
    auto_total = sum(p.freight_count * sum(1 for s in p.stages if s.auto) for p in pipelines)
    manual_total = sum(p.freight_count * sum(1 for s in p.stages if not s.auto) for p in pipelines)
    fraction = (promo_target - auto_total) / manual_total if manual_total else 0.5
    fraction = min(1.0, max(0.2, fraction))
    # What the Freight cannot give comes from Promotions that failed once and succeeded when run again.
    expected = 0.96 * (auto_total + fraction * manual_total)  # a few are skipped: too close to collection
    # Only Stages with errorThreshold >= 3 (about 70%) get them.
    retry_rate = min(0.6, max(0.03, (promo_target - expected) / max(0.65 * expected, 1)))
    for p in pipelines:
        p.manual_fraction = fraction
        p.retry_rate = retry_rate

    # Plant hosts: the leaf Stage of the pipeline.
    for p in pipelines:
        if not p.plant or PLANTS[p.plant][0] != "stage":
            continue
        leaves = [s for s in p.stages if s.leaf]
        host = leaves[rng.randrange(len(leaves))]
        host.plant = p.plant
        host.auto = p.plant in AUTO_HOSTS
        _configure_host(host, p)

    managed = sum(len(s.apps) for p in pipelines for s in p.stages)
    unmanaged_count = max(round(targets["applications"]) - managed, len(app_plants) + 4)
    clusters = []
    for i in range(max(1, math.ceil(unmanaged_count / len(ADDONS)))):
        env = CLUSTER_ENVS[i % len(CLUSTER_ENVS)]
        region = REGIONS[(i // len(CLUSTER_ENVS)) % len(REGIONS)]
        clusters.append(f"{env}-{region}-{i // (len(CLUSTER_ENVS) * len(REGIONS)) + 1}")
    unmanaged: list[UnmanagedApp] = []
    for i in range(unmanaged_count):
        addon, repo, version = ADDONS[i % len(ADDONS)]
        cluster = clusters[i // len(ADDONS)]
        unmanaged.append(UnmanagedApp(f"{addon}-{cluster}", addon, repo, version, cluster,
                                      f"https://k8s-{cluster}.example.internal:6443", addon, "platform"))
    for plant, app in zip(app_plants, rng.sample(unmanaged, len(app_plants)), strict=True):
        app.plant = plant
        if plant == "app-project-denied":
            app.project = "restricted"

    # Pods: the control planes, then the Deployments of the promoted Applications.
    shards = max(1, min(8, math.ceil(scale / 2)))
    repo_replicas = max(2, min(6, math.ceil(scale / 4) + 1))
    control_pods = 5 + 4 + shards + repo_replicas
    pods_target = max(targets["pods"], managed + control_pods)
    pods_per_app = max(1.0, (pods_target - control_pods) / managed)
    node_count = max(3, math.ceil(pods_target / 90))
    nodes = ["k8s-cp-01", "k8s-worker-01", "k8s-worker-02"] + [f"k8s-worker-{i:03d}" for i in range(3, node_count + 3)]
    plan = Plan(scale, seed, kargo_version, argocd_version, projects, unmanaged, cluster_plants, targets,
                pods_per_app, shards, repo_replicas, nodes)
    _assign_components(plan, rng)
    return plan


def _configure_host(host: StagePlan, pipeline: PipelinePlan) -> None:
    plant = host.plant
    app = host.apps[0]
    if plant == "setup-missing-retry":
        host.retry = None
    elif plant == "setup-retry-too-low":
        host.retry = {"timeout": "1m", "errorThreshold": 1}
        app.chart = "kube-prometheus-stack"
        app.name = f"{pipeline.project}-kube-prometheus-stack-{host.env}"
        app.dest_ns = f"{pipeline.project}-monitoring-{host.env}"
    elif plant == "setup-autosync-conflict":
        app.auto_sync = True
    elif plant == "setup-missing-verification":
        host.verification = None
    elif plant == "setup-foundation-self-promotion":
        app.name = f"{pipeline.project}-platform-{host.env}"
        app.dest_ns = ARGOCD_NS
        app.no_workload = True
        app.foundation = True
    elif plant == "update-unauthorized":
        app.authorized = False
    elif plant == "verification-rbac-forbidden":
        host.verification = "rollout-check"
    if len(host.apps) > 1 and plant not in ("setup-autosync-conflict",):
        host.apps = host.apps[:1]


def _assign_components(plan: Plan, rng: random.Random) -> None:
    apps = [a for p in plan.pipelines for s in p.stages for a in s.apps if not a.no_workload]
    total = round(plan.pods_per_app * len(apps))
    base = total // max(len(apps), 1)
    rest = total - base * len(apps)
    for app in (a for p in plan.pipelines for s in p.stages for a in s.apps if a.foundation):
        app.components = [("argocd-server", 1), ("argocd-repo-server", 1)]
    for i, app in enumerate(apps):
        n = base + (1 if i < rest else 0)
        n = max(1, n)
        if app.name.endswith("-jobs"):
            app.components = [("jobs", n)]
            continue
        kinds = ["api", "web", "worker", "redis"]
        k = 1 if n < 3 else min(4, 1 + n // 3)
        parts = [n // k + (1 if j < n % k else 0) for j in range(k)]
        app.components = [(kinds[j], parts[j]) for j in range(k) if parts[j] > 0]


# ---------------------------------------------------------------- the sample builders' module globals


@contextlib.contextmanager
def pipeline_scope(p: PipelinePlan) -> Iterator[None]:
    """Point the sample builders' module globals (project, warehouse, repositories) at one pipeline."""
    saved = {k: getattr(sb, k) for k in ("PROJECT", "WAREHOUSE", "SOURCE_REPO", "IMAGE_REPO", "GITOPS_REPO")}
    sb.PROJECT = p.project
    sb.WAREHOUSE = p.warehouse
    sb.SOURCE_REPO = f"https://github.com/example-org/{p.project}-{p.service}.git"
    sb.IMAGE_REPO = f"ghcr.io/example-org/{p.project}/{p.service}"
    sb.GITOPS_REPO = f"https://github.com/example-org/{p.project}-gitops.git"
    try:
        yield
    finally:
        for k, v in saved.items():
            setattr(sb, k, v)


@contextlib.contextmanager
def node_scope(nodes: list[str]) -> Iterator[None]:
    saved = (sb.NODES, sb.NODE_IPS)
    sb.NODES = tuple(nodes)
    ips = dict(sb.NODE_IPS)
    for i, n in enumerate(nodes):
        ips.setdefault(n, f"10.0.{2 + i // 250}.{10 + i % 240}")
    sb.NODE_IPS = ips
    try:
        yield
    finally:
        sb.NODES, sb.NODE_IPS = saved


# ---------------------------------------------------------------- generation state


@dataclass
class Rec:
    """One Promotion of a Stage, as the simulation leaves it."""

    stage: str
    freight: Any  # sb.Freight
    name: str
    created: datetime
    finished: datetime | None
    phase: str
    obj: dict
    commit: str
    recorded: bool = True
    actor: str | None = None
    synced: bool = True
    verification: dict | None = None
    run: dict | None = None


@dataclass
class Planted:
    scenario: str
    ids: tuple[str, ...]
    subjects: list[dict]  # the objects the findings of ``ids`` are about (when certain)
    scope: list[dict]  # every object a finding about this scenario may name as its subject


class Gen:
    """Everything one generation run accumulates besides the files themselves."""

    def __init__(self, plan: Plan, out: Output):
        self.plan = plan
        self.out = out
        self.lists = Lists(out)
        self.C = COLLECTED_AT
        self.kargo = _version(plan.kargo_version)
        self.argocd = _version(plan.argocd_version)
        self.cl = sb.Cluster(f"synthetic-{plan.seed}", self.C, plan.kargo_version, plan.argocd_version, [], "")
        self.rng = random.Random(f"gen/{plan.seed}")
        self.planted: list[Planted] = []
        self.gaps: list[dict] = []
        # Pools the log writers draw from.
        self.promotion_pool: list[tuple] = []  # (project, stage, promotion, freight, apps, phase)
        self.app_pool: list[tuple] = []  # (app, dest_ns, server, project, auto)
        self.repo_pool: list[tuple] = []  # (repo_url, path_or_chart, dest_ns, release)
        self.warehouse_pool: list[tuple] = []  # (project, warehouse)
        self.incidents: dict[str, list[tuple[float, str]]] = {}
        self.views: dict[str, list[list[str]]] = {}
        self.events_made = 0
        # Control-plane facts the scenarios refer to (filled by control_plane()).
        self.kargo_pod = ""
        self.unreachable_at = self.C - timedelta(minutes=34, seconds=12)
        self.oom_at = self.C - timedelta(hours=3, minutes=10, seconds=41)
        self.repo_ip = "10.96.142.17"
        self._aliases: dict[str, set[str]] = {}
        self.event_names: set[tuple[str, str]] = set()
        self.app_events: list[tuple[str, str, str, datetime, str]] = []  # (app, reason, message, at, type)
        self.small_logs: dict[str, list[tuple[datetime, str]]] = {}  # verification Job pods
        self.repo_server_pods: list[str] = []
        self.app_rows: list[list[str]] = []
        self.namespaces_made: set[str] = set()
        self.ns_remaining = 0

    # -- bookkeeping
    def plant(self, scenario: str, subjects: list[tuple[str, str | None, str]],
              scope: list[tuple[str, str | None, str]] = ()) -> None:
        ids = PLANTS[scenario][1]
        subs = [{"kind": k, "namespace": ns, "name": n} for k, ns, n in subjects]
        wide = [{"kind": k, "namespace": ns, "name": n} for k, ns, n in dict.fromkeys([*subjects, *scope])]
        self.planted.append(Planted(scenario, ids, subs, wide))

    def incident(self, role: str, at: datetime, body: str) -> None:
        self.incidents.setdefault(role, []).append((at.timestamp(), body))

    def shard_of(self, app: str) -> int:
        return int(sb.digest("shard", app)[:6], 16) % self.plan.app_controller_shards

    # -- log line bodies (planted lines; routine lines come from the template engine)
    def argocd_line(self, at: datetime, level: str, msg: str, **fields: Any) -> str:
        return sb.argocd_log(self.cl, at, level, msg, **fields)[1]

    def kargo_line(self, at: datetime, level: str, caller: str, msg: str, fields: list[tuple[str, Any]]) -> str:
        if self.kargo >= (1, 8, 0):
            return sb.kargo_log(self.cl, at, level, caller, msg, fields)[1]
        parts = [f'time="{ts(at)}"', f"level={level.lower()}", f"msg={sb.logrus_value(msg)}"]
        seen: dict[str, Any] = {}
        for k, v in fields:
            seen[k] = v
        parts += [f"{k}={sb.logrus_value(str(v).lower() if isinstance(v, bool) else v)}" for k, v in sorted(seen.items())]
        return " ".join(parts)

    def app_fields(self, app: str) -> dict:
        return sb.app_fields(self.cl, app)


def node_for(plan: Plan, name: str) -> str:
    workers = plan.nodes[3:] or plan.nodes[1:]
    return workers[int(sb.digest("node", name)[:6], 16) % len(workers)]


def place_pod(plan: Plan, pod: dict) -> None:
    """Put an application pod on one of the many workers (the sample builders know only two)."""
    node = node_for(plan, pod["metadata"]["name"])
    ip = sb.NODE_IPS[node]
    pod["spec"]["nodeName"] = node
    pod["status"]["hostIP"] = ip
    pod["status"]["hostIPs"] = [{"ip": ip}]
    h = int(sb.digest("podip", pod["metadata"]["name"])[:8], 16)
    podip = f"10.{64 + h % 60}.{(h >> 8) % 256}.{2 + (h >> 16) % 250}"
    pod["status"]["podIP"] = podip
    pod["status"]["podIPs"] = [{"ip": podip}]


# ---------------------------------------------------------------- Kargo objects


STEP_ALIASES = ["step-1", "step-2", "commit", "step-4", "step-5"]


class Pipe:
    """One pipeline while it is built: its Cluster identity, repositories and Freight."""

    def __init__(self, g: Gen, p: PipelinePlan):
        self.g = g
        self.p = p
        self.cl = sb.Cluster(p.slug, g.C, g.plan.kargo_version, g.plan.argocd_version, [s.name for s in p.stages], "")
        self.rng = random.Random(p.slug)
        self.gitops = f"https://github.com/example-org/{p.project}-gitops.git"
        self.source = f"https://github.com/example-org/{p.project}-{p.service}.git"
        self.image = f"ghcr.io/example-org/{p.project}/{p.service}"
        self.freights: list[Any] = []
        self.runs: dict[str, "StageRun"] = {}

    def steps(self, s: StagePlan) -> list[dict]:
        app = s.apps[0]
        if app.chart:
            update = {"uses": "yaml-update", "config": {"path": f"./out/charts/{app.chart}/values.yaml", "updates": [
                {"key": "image.tag", "value": f"${{{{ imageFrom(\"{self.image}\").Tag }}}}"}]}}
        else:
            update = {"uses": "kustomize-set-image", "config": {"path": f"./out/apps/{self.p.service}/{s.env}", "images": [
                {"image": self.image, "tag": f"${{{{ imageFrom(\"{self.image}\").Tag }}}}"}]}}
        argocd: dict[str, Any] = {"uses": "argocd-update", "config": {"apps": [
            {"name": a.name, "namespace": ARGOCD_NS, "sources": [
                {"repoURL": self.gitops, "desiredRevision": "${{ outputs.commit.commit }}"}]} for a in s.apps]}}
        if s.retry is not None:
            argocd["retry"] = dict(s.retry)
        return [
            {"uses": "git-clone", "config": {"repoURL": self.gitops, "checkout": [
                {"branch": f"stage/{s.name}", "create": True, "path": "./out"}]}},
            update,
            {"uses": "git-commit", "as": "commit", "config": {
                "path": "./out", "message": "${{ outputs['step-2'].commitMessage }}"}},
            {"uses": "git-push", "config": {"path": "./out"}},
            argocd,
        ]

    def promotion(self, s: StagePlan, *, name: str, freight: Any, created: datetime, phase: str,
                  finished: datetime | None, step_times: list[tuple], message: str | None, actor: str | None,
                  generated: bool, running_step: int | None, commit: str) -> dict:
        """A Promotion as the controller leaves it (the shape of make_sample_bundles.promotion_obj)."""
        cl, v = self.cl, self.g.kargo
        annotations: dict[str, str] = {}
        labels: dict[str, str] = {}
        extra: dict[str, Any] = {}
        if actor:
            annotations["kargo.akuity.io/create-actor"] = actor
        if v >= (1, 11, 0):
            labels["kargo.akuity.io/stage"] = s.name
            annotations["kargo.akuity.io/stage"] = s.name
            if generated and not (actor or "").startswith("kubernetes:"):
                extra["generateName"] = "promo-"
        meta = cl.meta("Promotion", name, self.p.project, created, finished or self.g.C - timedelta(minutes=1),
                       annotations=annotations or None, generation=1, labels=labels or None,
                       ownerReferences=[cl.owner("kargo.akuity.io/v1alpha1", "Stage", self.p.project, s.name,
                                                 blockOwnerDeletion=True, controller=True)], **extra)
        metadata_list = []
        for i, (started, done, status, msg, errors) in enumerate(step_times):
            entry: dict[str, Any] = {"alias": STEP_ALIASES[i], "status": status}
            if started:
                entry["startedAt"] = ts(started)
            if done:
                entry["finishedAt"] = ts(done)
            if msg:
                entry["message"] = msg
            if errors:
                entry["errorCount"] = errors
            metadata_list.append(entry)
        status: dict[str, Any] = {"freight": freight.ref(), "freightCollection": freight.collection_obj(),
                                  "phase": phase, "stepExecutionMetadata": metadata_list}
        if v >= (1, 8, 0):
            status["startedAt"] = ts(created + timedelta(seconds=1))
        done_steps = {m["alias"] for m in metadata_list if m["status"] == "Succeeded"}
        state: dict[str, Any] = {}
        if "step-2" in done_steps:
            state["step-2"] = {"commitMessage": f"Updated image {self.image} to {freight.tag}"}
        if "commit" in done_steps:
            state["commit"] = {"commit": commit}
        if "step-4" in done_steps:
            state["step-4"] = {"branch": f"stage/{s.name}", "commit": commit,
                               "commitURL": f"{self.gitops.removesuffix('.git')}/commit/{commit}"}
        if state:
            status["state"] = state
        status["currentStep"] = running_step if running_step is not None else len(step_times) - 1
        if message:
            status["message"] = message
        if finished:
            status["finishedAt"] = ts(finished)
        if phase == "Succeeded":
            status["healthChecks"] = [{"config": {"apps": [{"desiredRevisions": [commit], "name": a.name,
                                                            "namespace": ARGOCD_NS} for a in s.apps]},
                                       "uses": "argocd-update"}]
        if phase == "Pending":
            status = {"phase": "Pending"} if v >= (1, 0, 0) else {}
        return {
            "apiVersion": "kargo.akuity.io/v1alpha1",
            "kind": "Promotion",
            "metadata": meta,
            "spec": {"freight": freight.name, "stage": s.name, "steps": self.steps(s)},
            "status": status,
        }

    def stage_obj(self, s: StagePlan, *, created: datetime, generation: int, status: dict) -> dict:
        sources: dict[str, Any] = {"direct": True} if not s.upstream else {"stages": list(s.upstream)}
        if s.plant == "setup-unknown-freight-source":
            sources = {"stages": [f"{s.upstream[0]}-legacy" if s.upstream else "legacy"]}
        spec: dict[str, Any] = {
            "promotionTemplate": {"spec": {"steps": self.steps(s)}},
            "requestedFreight": [{"origin": {"kind": "Warehouse", "name": self.p.warehouse}, "sources": sources}],
        }
        if s.verification:
            spec["verification"] = {"analysisTemplates": [{"name": s.verification}],
                                    "args": [{"name": "namespace", "value": s.apps[0].dest_ns}]}
        context = json.dumps([{"name": a.name, "namespace": ARGOCD_NS} for a in s.apps], separators=(",", ":"))
        return {
            "apiVersion": "kargo.akuity.io/v1alpha1",
            "kind": "Stage",
            "metadata": self.cl.meta("Stage", s.name, self.p.project, created, self.g.C - timedelta(minutes=1),
                                     annotations={LAST_APPLIED: HIDDEN, "kargo.akuity.io/argocd-context": context},
                                     finalizers=["kargo.akuity.io/finalizer"], generation=generation),
            "spec": spec,
            "status": status,
        }


def _step_message(g: Gen, index: int, kind: str, message: str, threshold: int = 1) -> str:
    """How the promotion orchestrator wraps a step's error, per Kargo version."""
    if g.kargo >= (1, 5, 0):
        return f'step "{STEP_ALIASES[index]}" met error threshold of {threshold}: {message}'
    return (f"step execution failed: step {index} met error threshold of {threshold}: "
            f'failed to run step "{kind}": {message}')


@dataclass
class StageRun:
    plan: StagePlan
    created: datetime
    promos: list[Rec] = field(default_factory=list)
    conditions: list[dict] | None = None
    health: dict | None = None
    current: Rec | None = None  # currentPromotion
    generation: int = 2
    verified_override: dict | None = None  # verificationHistory entry for the current Freight
    no_verification_entry: bool = False
    apps: dict[str, dict] = field(default_factory=dict)  # app name -> overrides for the Application

    def recorded(self) -> list[Rec]:
        return [p for p in self.promos if p.recorded and p.finished is not None]

    def history(self) -> list[Rec]:
        return [p for p in reversed(self.recorded()) if p.phase == "Succeeded"][:10]

    def synced(self) -> list[Rec]:
        return [p for p in self.promos if p.synced and p.finished is not None]


# ---------------------------------------------------------------- pipeline simulation

PEOPLE = ("alice", "bob", "carol", "dmitri", "erin", "farah", "gustavo", "hana", "ivan", "jun", "kofi", "lena")
COMMIT_SUBJECTS = (
    "Fix pagination of list endpoint", "Add retry to upstream client", "Bump base image", "Tune connection pool",
    "Add metrics for queue depth", "Remove deprecated flag", "Harden input validation", "Cache lookups",
    "Switch to structured logging", "Update dependencies", "Improve startup time", "Add feature flag for beta",
)
HOOK_JOB = "db-migrate"


def _freights(pipe: Pipe, newest: datetime) -> None:
    p, rng, g = pipe.p, pipe.rng, pipe.g
    n = p.freight_count
    times = [newest]
    for _ in range(n - 1):
        times.append(times[-1] - timedelta(hours=rng.uniform(5, 16), minutes=rng.randint(0, 59)))
    times.reverse()
    minor = rng.randint(0, 9)
    patch = 0
    used_aliases = g._aliases.setdefault(p.project, set())
    for i, at in enumerate(times):
        if rng.random() < 0.3:
            minor += 1
            patch = 0
        else:
            patch += 1
        tag = f"v{p.tag_major}.{minor}.{patch}"
        while True:
            alias = f"{rng.choice(ADJECTIVES)}-{rng.choice(ANIMALS)}"
            if alias not in used_aliases:
                used_aliases.add(alias)
                break
            if len(used_aliases) > len(ADJECTIVES) * len(ANIMALS) - 5:
                alias = f"{alias}-{i}"
                break
        pipe.freights.append(sb.make_freight(pipe.cl, tag, alias, at, rng.choice(COMMIT_SUBJECTS)))


def _succeeded_steps(start: datetime) -> list[tuple]:
    return sb.succeeded_steps(start)


def _fail_steps(start: datetime, index: int, message: str, duration: int = 27, errors: int = 1) -> list[tuple]:
    t = start
    out = []
    for i, d in enumerate((3, 1, 1, 2, duration)):
        if i < index:
            out.append((t, t + timedelta(seconds=d), "Succeeded", None, 0))
            t += timedelta(seconds=d)
        elif i == index:
            out.append((t, t + timedelta(seconds=d), "Errored", message, errors))
            t += timedelta(seconds=d)
        else:
            out.append((None, None, "Skipped", None, 0))
    return out


def _running_steps(start: datetime) -> list[tuple]:
    t = start
    out = []
    for d in (3, 1, 1, 2):
        out.append((t, t + timedelta(seconds=d), "Succeeded", None, 0))
        t += timedelta(seconds=d)
    out.append((t, None, "Running", None, 0))
    return out


def promote(pipe: Pipe, run: StageRun, f: Any, created: datetime, *, phase: str = "Succeeded",
            steps: list[tuple] | None = None, message: str | None = None, actor: str | None = None,
            recorded: bool = True, verify: str | None = "Successful", synced: bool | None = None,
            name: str | None = None, verify_times: tuple[datetime, datetime | None] | None = None,
            run_message: str | None = None) -> Rec:
    s = run.plan
    cl = pipe.cl
    name = name or f"{s.name}.{sb.ulid(created, cl.slug, 'promo', s.name, f.name)}.{f.short}"
    steps = steps or _succeeded_steps(created + timedelta(seconds=1))
    finished = max(st[1] for st in steps if st[1]) if phase not in ("Running", "Pending") else None
    commit = sb.gitops_commit(cl, name)
    generated = name.count(".") == 2 and len(name.split(".")[1]) == 26
    obj = pipe.promotion(s, name=name, freight=f, created=created, phase=phase, finished=finished,
                         step_times=steps if phase != "Pending" else [], message=message, actor=actor,
                         generated=generated, running_step=4 if phase == "Running" else None, commit=commit)
    rec = Rec(s.name, f, name, created, finished, phase, obj, commit, recorded, actor,
              synced if synced is not None else phase in ("Succeeded", "Running"))
    if phase == "Succeeded" and recorded and verify:
        assert finished is not None
        start, end = verify_times or (finished + timedelta(seconds=44), finished + timedelta(seconds=75))
        if s.verification:
            ar = sb.analysis_run(cl, stage=s.name, freight=f, promotion=name, template="smoke", started=start,
                                 finished=end, phase=verify, namespace_arg=s.apps[0].dest_ns, message=run_message)
            if verify == "Running":
                ar["status"].pop("completedAt", None)
                ar["status"]["runSummary"] = {"count": 1, "successful": 0}
                for m in ar["status"]["metricResults"]:
                    m["phase"] = "Running"
            rec.run = ar
            rec.verification = sb.verification_info(cl, ar, verify, start, end, run_message)
        else:
            vid = sb.make_uid(cl.slug, "verification", name)
            rec.verification = {"id": vid, "phase": "Successful", "startTime": ts(finished + timedelta(seconds=2)),
                                "finishTime": ts(finished + timedelta(seconds=2))}
    run.promos.append(rec)
    return rec


def _person(rng: random.Random) -> str:
    return f"email:{rng.choice(PEOPLE)}@example.com"


def simulate(pipe: Pipe) -> None:
    """Baseline history of every Stage, then the planted scenario on the host Stage."""
    g, p, rng = pipe.g, pipe.p, pipe.rng
    host = next((s for s in p.stages if s.plant), None)
    scenario = host.plant if host else p.plant
    plant_at = _plant_time(pipe, scenario)
    if plant_at is not None:
        newest = plant_at - timedelta(hours=rng.uniform(1.2, 4.0))
    else:
        newest = g.C - timedelta(hours=rng.uniform(0.7, 30))
    _freights(pipe, newest)
    project_created = pipe.freights[0].created - timedelta(days=rng.randint(5, 40))
    pipe.project_created = project_created
    ready: dict[str, list[tuple[Any, datetime]]] = {}
    for s in p.stages:
        run = StageRun(s, project_created + timedelta(minutes=5, seconds=rng.randint(0, 600)),
                       generation=rng.randint(1, 6))
        pipe.runs[s.name] = run
        ready[s.name] = []
        if s.plant == "stage-no-freight":
            run.created = g.C - timedelta(hours=2, minutes=rng.randint(0, 50))
            apply_stage_plant(pipe, run, [], None)
            continue
        if not s.upstream:
            candidates = [(f, f.created + timedelta(seconds=30)) for f in pipe.freights]
        else:
            candidates = list(ready[s.upstream[0]])
        held = []
        if s.plant in NEW_PROMOTION and candidates:
            held = [candidates[-1]]
            candidates = candidates[:-1]
            if s.plant == "blocked-by-verification" and len(candidates) > 1:
                held.insert(0, candidates[-1])
                candidates = candidates[:-1]
        if s.auto:
            chosen = candidates
        else:
            chosen = [c for i, c in enumerate(candidates) if i == 0 or rng.random() < p.manual_fraction]
        for f, ready_at in chosen:
            if s.auto:
                created = ready_at + timedelta(seconds=rng.randint(20, 150))
            else:
                created = ready_at + timedelta(minutes=rng.randint(30, 480))
                if created > g.C - timedelta(minutes=20):
                    created = ready_at + timedelta(minutes=rng.randint(2, 10))
            if created > g.C - timedelta(minutes=6) or (plant_at and created > plant_at - timedelta(minutes=10)
                                                          and s is host):
                continue
            actor = None if s.auto else _person(rng)
            if (s is not host and (s.retry or {}).get("errorThreshold", 1) >= 3 and rng.random() < p.retry_rate
                    and created < g.C - timedelta(minutes=30)):
                _failed_attempt(pipe, run, f, created, actor)
                created += timedelta(minutes=rng.randint(3, 15))
            rec = promote(pipe, run, f, created, actor=actor)
            if rec.verification:
                end = rec.verification.get("finishTime")
                ready[s.name].append((f, sb.parse_ts(end) if end else rec.finished))
        if s is host:
            if not run.recorded() and s.plant not in ("blocked-by-verification",):
                f, ready_at = (candidates or held)[0]
                rec = promote(pipe, run, f, min(ready_at + timedelta(minutes=3), plant_at - timedelta(hours=1)),
                              actor=None if s.auto else _person(rng))
            apply_stage_plant(pipe, run, held, plant_at)


def _failed_attempt(pipe: Pipe, run: StageRun, f: Any, created: datetime, actor: str | None) -> None:
    """An earlier attempt that lost a race (git push or the Application write) and was run again."""
    s, rng = run.plan, pipe.rng
    if rng.random() < 0.5:
        message = _step_message(pipe.g, 3, "git-push", f"error pushing commits to remote: error pushing branch: "
                                                       f"! [rejected] stage/{s.name} -> stage/{s.name} (fetch first)")
        steps = _fail_steps(created + timedelta(seconds=1), 3, message, 3)
    else:
        threshold = int((s.retry or {}).get("errorThreshold") or 1)
        message = _step_message(pipe.g, 4, "argocd-update",
                                f'error patching Argo CD Application "{s.apps[0].name}": Operation cannot be fulfilled '
                                f'on applications.argoproj.io "{s.apps[0].name}": the object has been modified; please '
                                "apply your changes to the latest version and try again", threshold)
        steps = _fail_steps(created + timedelta(seconds=1), 4, message, 4, threshold)
    promote(pipe, run, f, created, phase="Errored", steps=steps, message=message, actor=actor, verify=None,
            synced=False)


def _plant_time(pipe: Pipe, scenario: str | None) -> datetime | None:
    g, rng = pipe.g, pipe.rng
    if scenario is None or PLANTS[scenario][0] != "stage" or scenario not in NEW_PROMOTION:
        return None
    fixed = {
        "promotion-stuck": g.C - timedelta(minutes=47),
        "update-foreign-operation": g.C - timedelta(minutes=22),
        "repo-server-unreachable": g.unreachable_at - timedelta(seconds=rng.randint(2, 20)),
        "repo-server-oom": g.oom_at - timedelta(seconds=rng.randint(5, 25)),
        "health-check-settling": g.C - timedelta(seconds=75),
        "verification-not-started": g.C - timedelta(minutes=31),
        "blocked-by-verification": g.C - timedelta(minutes=18),
        "auto-promotion-blocked": g.C - timedelta(hours=6, minutes=rng.randint(0, 50)),
    }
    return fixed.get(scenario, g.C - timedelta(minutes=rng.randint(25, 20 * 60)))


def _argo_wrap(app: str, op_message: str) -> str:
    return f'Argo CD Application "{app}" in namespace "{ARGOCD_NS}" failed with: {op_message}'


REFUSED = sb.REFUSED
COMPARISON_REFUSED = sb.COMPARISON_ERROR


def _kargo_promotion_lines(pipe: Pipe, rec: Rec, phase: str, end: datetime | None,
                           extra: list[tuple[datetime, str, str, str, list]] | None = None) -> None:
    """The Kargo controller's INFO lines for one planted Promotion (and any extra ones)."""
    g, s = pipe.g, pipe.runs[rec.stage].plan
    base = [("namespace", pipe.p.project), ("promotion", rec.name), ("namespace", pipe.p.project),
            ("promotion", rec.name), ("stage", rec.stage), ("freight", rec.freight.name)]
    v11 = g.kargo >= (1, 11, 0)
    start = rec.created + timedelta(seconds=1)
    g.incident("kargo", start, g.kargo_line(start, "INFO", f"promotions/promotions.go:{388 if v11 else 369}",
                                            "began promotion", base))
    step5 = start + timedelta(seconds=8)
    app = [("app", s.apps[0].name), ("namespace", ARGOCD_NS)]
    g.incident("kargo", step5, g.kargo_line(step5, "INFO", f"builtin/argocd_updater.go:{165 if v11 else 161}",
                                            "executing argocd-update promotion step", base))
    for at, level, caller, msg, fields in extra or []:
        g.incident("kargo", at, g.kargo_line(at, level, caller, msg, base + app + fields))
    if end is not None:
        g.incident("kargo", end, g.kargo_line(end, "INFO", f"promotions/promotions.go:{437 if v11 else 418}",
                                              "promotion", base + [("phase", phase)]))


def apply_stage_plant(pipe: Pipe, run: StageRun, held: list[tuple[Any, datetime]], at: datetime | None) -> None:
    g, s, rng, cl = pipe.g, run.plan, pipe.rng, pipe.cl
    scenario = s.plant
    assert scenario is not None
    project = pipe.p.project
    app = s.apps[0]
    actor = None if s.auto else _person(rng)
    stage_subject = ("Stage", project, s.name)
    subjects: list[tuple[str, str | None, str]] = [stage_subject]
    f_new = held[-1][0] if held else None

    def fail(index: int, kind: str, inner: str, *, fail_at: datetime | None = None, synced: bool = False,
             name: str | None = None) -> Rec:
        created = at
        assert created is not None and f_new is not None
        step_start = created + timedelta(seconds=1)
        duration = 27
        if fail_at is not None:
            duration = max(1, int((fail_at - (step_start + timedelta(seconds=7))).total_seconds()))
        threshold = int((s.retry or {}).get("errorThreshold") or 1) if index == 4 else 1
        message = _step_message(g, index, kind, inner, threshold)
        rec = promote(pipe, run, f_new, created, phase="Errored",
                      steps=_fail_steps(step_start, index, message, duration, threshold),
                      message=message, actor=actor, verify=None, synced=synced, name=name)
        _kargo_promotion_lines(pipe, rec, "Errored", rec.finished)
        return rec

    def argo_failure(rec: Rec, phase: str, op_message: str, resources: list[dict] | None = None) -> None:
        assert rec.finished is not None
        op: dict[str, Any] = {
            "finishedAt": ts(rec.finished - timedelta(seconds=1)),
            "message": op_message,
            "operation": sb.kargo_operation(rec.name, actor),
            "phase": phase,
            "startedAt": ts(rec.finished - timedelta(seconds=min(25, max(2, (rec.finished - rec.created).seconds - 8)))),
            "syncResult": {"revision": rec.commit, "source": app_source(pipe, s, app)},
        }
        if resources:
            op["syncResult"]["resources"] = resources
        run.apps[app.name] = {"op_state": op, "sync_status": "OutOfSync", "revision": rec.commit,
                              "reconciled": min(g.C - timedelta(seconds=rng.randint(20, 150)),
                                                rec.finished + timedelta(minutes=rng.randint(1, 30)))}
        fields = g.app_fields(app.name)
        dest = {"dest_namespace": app.dest_ns, "dest_server": IN_CLUSTER}
        role = f"ctrl:{g.shard_of(app.name)}"
        t = rec.finished - timedelta(seconds=1)
        g.incident(role, t, g.argocd_line(t, "info", f"Updating operation state. phase: Running -> {phase}, "
                                          f"message: '' -> '{op_message}'", **fields))
        g.incident(role, t, g.argocd_line(t, "info", f"updated '{app.name}' operation (phase: {phase})", **fields))
        g.incident(role, t, g.argocd_line(t, "info", f"Sync operation to {rec.commit} failed: {op_message}",
                                          **fields, **dest, reason="OperationCompleted", type="Warning"))
        g.app_events.append((app.name, "OperationCompleted", f"Sync operation to {rec.commit} failed: {op_message}",
                             t, "Warning"))

    if scenario == "promotion-step-failed":
        path = f"./out/apps/{pipe.p.service}/{s.env}"
        fail(1, "kustomize-set-image", f"error updating image references in {path}: error reading kustomization "
                                       f"file: open {path.removeprefix('./')}/kustomization.yaml: no such file or directory")
    elif scenario == "git-step-failed":
        if rng.random() < 0.5:
            fail(3, "git-push", f"error pushing commits to remote: error pushing branch: ! [rejected] stage/{s.name} "
                                f"-> stage/{s.name} (non-fast-forward)")
        else:
            fail(0, "git-clone", f'error cloning git repo "{pipe.gitops}": exit status 128: remote: Invalid username '
                                 f"or password.\nfatal: Authentication failed for '{pipe.gitops.removesuffix('.git')}/'")
    elif scenario == "update-unauthorized":
        if g.kargo >= (1, 9, 0):
            inner = f'Argo CD Application "{app.name}" in namespace "{ARGOCD_NS}" is not authorized'
        else:
            inner = (f'Argo CD Application "{app.name}" in namespace "{ARGOCD_NS}" does not permit mutation by Kargo '
                     f"Stage {s.name} in namespace {project}")
        fail(4, "argocd-update", inner)
    elif scenario == "update-conflict":
        fail(4, "argocd-update", f'error patching Argo CD Application "{app.name}": Operation cannot be fulfilled on '
                                 f'applications.argoproj.io "{app.name}": the object has been modified; please apply '
                                 "your changes to the latest version and try again")
    elif scenario == "update-revision-mismatch":
        assert at is not None and f_new is not None
        name = f"{s.name}.{sb.ulid(at, cl.slug, 'promo', s.name, f_new.name)}.{f_new.short}"
        desired = sb.gitops_commit(cl, name)
        wrong = sb.sha1_hex(f"{cl.slug}/{s.name}/main-head")
        rec = fail(4, "argocd-update", f"sync result revisions [{wrong}] do not match desired revisions [{desired}]",
                   fail_at=at + timedelta(minutes=5, seconds=9), name=name)
        base = [("namespace", project), ("promotion", rec.name), ("namespace", project), ("promotion", rec.name),
                ("stage", s.name), ("freight", f_new.name), ("app", app.name), ("namespace", ARGOCD_NS)]
        for i in range(5):
            t = at + timedelta(seconds=40 + 60 * i)
            g.incident("kargo", t, g.kargo_line(t, "INFO", "builtin/argocd_updater.go:541",
                                                "sync result revision does not match desired revision", base))
        op = sb.succeeded_operation(cl, s.name, rec.name, wrong, f_new.tag, at + timedelta(seconds=12),
                                    at + timedelta(seconds=31))
        op["syncResult"] = sync_result(pipe, s, app, wrong, f_new.tag)
        run.apps[app.name] = {"op_state": op, "sync_status": "Synced", "revision": wrong}
    elif scenario in ("repo-server-unreachable", "repo-server-oom", "stage-sync-failed", "stage-field-immutable"):
        if scenario == "repo-server-unreachable":
            fail_at = g.unreachable_at + timedelta(seconds=rng.randint(25, 55))
            phase, op_message, res = "Error", COMPARISON_REFUSED, None
        elif scenario == "repo-server-oom":
            fail_at = g.oom_at + timedelta(seconds=rng.randint(5, 30))
            phase = "Error"
            op_message = ("ComparisonError: Failed to load target state: failed to generate manifest for source 1 of 1: "
                          "rpc error: code = Unavailable desc = error reading from server: EOF")
            res = None
        elif scenario == "stage-sync-failed":
            assert at is not None
            fail_at = at + timedelta(seconds=rng.randint(30, 50))
            comp = app.components[0][0] if app.components else "api"
            denial = (f'admission webhook "validate.kyverno.svc-fail" denied the request: \n\nresource Deployment/'
                      f"{app.dest_ns}/{comp} was blocked due to the following policies \n\nrequire-run-as-nonroot:\n  "
                      "run-as-non-root: 'validation error: Running as root is not allowed. rule run-as-non-root "
                      "failed at path /spec/template/spec/securityContext/runAsNonRoot/'\n")
            phase, op_message = "Failed", "one or more synchronization tasks completed unsuccessfully, reason: " + denial
            res = [{"group": "apps", "hookPhase": "Failed", "kind": "Deployment", "message": denial, "name": comp,
                    "namespace": app.dest_ns, "status": "SyncFailed", "syncPhase": "Sync", "version": "v1"}]
        else:
            assert at is not None
            fail_at = at + timedelta(seconds=rng.randint(30, 50))
            job = f"{pipe.p.service}-migrate"
            immutable = (f'Job.batch "{job}" is invalid: spec.template: Invalid value: core.PodTemplateSpec{{'
                         f'ObjectMeta:v1.ObjectMeta{{Name:"", Labels:map[string]string{{"job-name":"{job}"}}}}}}: '
                         "field is immutable")
            phase, op_message = "Failed", "one or more synchronization tasks completed unsuccessfully"
            res = [{"group": "batch", "hookPhase": "Failed", "kind": "Job", "message": immutable, "name": job,
                    "namespace": app.dest_ns, "status": "SyncFailed", "syncPhase": "Sync", "version": "v1"}]
        rec = fail(4, "argocd-update", _argo_wrap(app.name, op_message), fail_at=fail_at)
        argo_failure(rec, phase, op_message, res)
        if scenario == "repo-server-unreachable":
            t = fail_at - timedelta(seconds=2)
            g.incident(f"ctrl:{g.shard_of(app.name)}", t, g.argocd_line(
                t, "warning", "Ignoring temporary failed attempt to compare app state against repo",
                **g.app_fields(app.name), error=REFUSED))
    elif scenario == "promotion-stuck":
        assert at is not None and f_new is not None
        rec = promote(pipe, run, f_new, at, phase="Running", steps=_running_steps(at + timedelta(seconds=1)),
                      actor=actor, verify=None)
        run.current = rec
        op_start = at + timedelta(minutes=1)
        comp = HOOK_JOB
        operation = sb.kargo_operation(rec.name, actor)
        run.apps[app.name] = {
            "op_state": {"message": f"waiting for completion of hook batch/Job/{comp}", "operation": operation,
                         "phase": "Running", "startedAt": ts(op_start),
                         "syncResult": {"resources": [{"group": "batch", "hookPhase": "Running", "hookType": "PreSync",
                                                       "kind": "Job", "message": f"job.batch/{comp} created",
                                                       "name": comp, "namespace": app.dest_ns, "syncPhase": "PreSync",
                                                       "version": "v1"}],
                                        "revision": rec.commit, "source": app_source(pipe, s, app)}},
            "sync_status": "OutOfSync", "revision": rec.commit, "operation": operation,
            "reconciled": g.C - timedelta(seconds=rng.randint(5, 100))}
        _promoting(run, rec, "Running")
        _kargo_promotion_lines(pipe, rec, "Running", None)
    elif scenario == "update-foreign-operation":
        assert at is not None and f_new is not None
        rec = promote(pipe, run, f_new, at, phase="Running", steps=_running_steps(at + timedelta(seconds=1)),
                      actor=actor, verify=None)
        run.current = rec
        person = f"{rng.choice(PEOPLE)}@example.com"
        comp = app.components[0][0] if app.components else "api"
        operation = {"initiatedBy": {"username": person}, "retry": {},
                     "sync": {"revision": "HEAD", "syncOptions": ["CreateNamespace=true"]}}
        run.apps[app.name] = {
            "op_state": {"message": f"waiting for healthy state of apps/Deployment/{comp}", "operation": operation,
                         "phase": "Running", "startedAt": ts(g.C - timedelta(minutes=20)),
                         "syncResult": {"revision": sb.sha1_hex(f"{cl.slug}/hotfix-branch"),
                                        "source": app_source(pipe, s, app)}},
            "sync_status": "OutOfSync", "operation": operation,
            "reconciled": g.C - timedelta(seconds=rng.randint(5, 100))}
        _promoting(run, rec, "Running")
        _kargo_promotion_lines(pipe, rec, "Running", None, extra=[
            (at + timedelta(seconds=10), "INFO", "builtin/argocd_updater.go:493",
             "current operation was not initiated for this promotion", [])])
        g.app_events.append((app.name, "OperationStarted", f"{person} initiated sync to HEAD",
                             g.C - timedelta(minutes=20), "Normal"))
    elif scenario == "health-check-settling":
        assert at is not None and f_new is not None
        rec = promote(pipe, run, f_new, at, actor=actor, verify=None)
        assert rec.finished is not None
        op_done = rec.finished - timedelta(seconds=2)
        reconciled = op_done - timedelta(seconds=rng.randint(20, 40))
        run.apps[app.name] = {"reconciled": reconciled}
        run.no_verification_entry = True
        if (1, 7, 0) <= g.kargo < (1, 10, 0):
            issue = (f'last operation of Argo CD Application "{app.name}" in namespace "{ARGOCD_NS}" completed less '
                     "than 10s ago; Application health status not trusted")
        else:
            issue = (f'Argo CD Application "{app.name}" in namespace "{ARGOCD_NS}" was not reconciled after its most '
                     "recent operation completed; Application health status not trusted")
        since = rec.finished + timedelta(seconds=1)
        run.conditions = [
            sb.condition("Ready", "False", "Unknown", "", since, run.generation),
            sb.condition("Healthy", "Unknown", "Unknown", "", since, run.generation),
            sb.condition("Verified", "Unknown", "WaitingForVerification",
                         "Waiting for verification to be performed after successful promotion", since, run.generation),
        ]
        run.health = {"issues": [issue], "status": "Unknown", "_output": True}
        _kargo_promotion_lines(pipe, rec, "Succeeded", rec.finished)
    elif scenario == "verification-not-started":
        assert at is not None and f_new is not None
        rec = promote(pipe, run, f_new, at, actor=actor, verify=None)
        assert rec.finished is not None
        run.no_verification_entry = True
        since = rec.finished + timedelta(seconds=6)
        msg = "Waiting for verification to be performed after successful promotion"
        run.conditions = [
            sb.condition("Ready", "False", "WaitingForVerification", msg, since, run.generation),
            sb.condition("Healthy", "True", "Healthy", "Stage is healthy (performed 1 health checks)", since,
                         run.generation),
            sb.condition("Verified", "Unknown", "WaitingForVerification", msg, since, run.generation),
        ]
        run.health = {"status": "Healthy", "_output": True}
    elif scenario == "blocked-by-verification":
        (f_cur, _r1), (f_next, _r2) = held[0], held[-1]
        assert at is not None
        cur_at = g.C - timedelta(minutes=27)
        rec = promote(pipe, run, f_cur, cur_at, actor=actor, verify="Running",
                      verify_times=(cur_at + timedelta(minutes=1, seconds=15), None))
        if rec.run is not None:
            _long_running_metric(rec.run, cur_at + timedelta(minutes=1, seconds=15), g.C)
        promote(pipe, run, f_next, at, phase="Pending", actor=actor, verify=None)
        since = cur_at + timedelta(minutes=1, seconds=16)
        msg = "Freight is currently being verified"
        run.conditions = [
            sb.condition("Ready", "False", "VerificationRunning", msg, since, run.generation),
            sb.condition("Healthy", "True", "Healthy", "Stage is healthy (performed 1 health checks)",
                         cur_at + timedelta(seconds=40), run.generation),
            sb.condition("Verified", "Unknown", "VerificationRunning", msg, since, run.generation),
        ]
        run.health = {"status": "Healthy", "_output": True}
    elif scenario == "auto-promotion-blocked":
        assert at is not None and f_new is not None
        last = run.recorded()[-1]
        path = f"./out/apps/{pipe.p.service}/{s.env}"
        message = _step_message(g, 1, "kustomize-set-image",
                                f"error updating image references in {path}: unable to parse image tag")
        failed = promote(pipe, run, f_new, at, phase="Errored",
                         steps=_fail_steps(at + timedelta(seconds=1), 1, message), message=message, verify=None,
                         synced=False)
        _kargo_promotion_lines(pipe, failed, "Errored", failed.finished)
        promote(pipe, run, last.freight, at + timedelta(minutes=rng.randint(40, 90)), actor=_person(rng))
    elif scenario in ("verification-failed", "verification-rbac-forbidden"):
        rec = run.history()[0]
        assert rec.finished is not None
        start, end = rec.finished + timedelta(seconds=44), rec.finished + timedelta(seconds=140)
        if scenario == "verification-failed":
            message = 'Metric "healthz" assessed Failed due to failed (2) > failureLimit (1)'
            ar = sb.analysis_run(cl, stage=s.name, freight=rec.freight, promotion=rec.name, template="smoke",
                                 started=start, finished=end, phase="Failed", namespace_arg=app.dest_ns, message=message)
            ar["status"]["metricResults"] = [{
                "count": 3, "failed": 2, "successful": 1, "name": "healthz", "phase": "Failed",
                "measurements": [{"finishedAt": ts(start + timedelta(seconds=10 * i + 1)),
                                  "phase": "Successful" if i == 0 else "Failed",
                                  "startedAt": ts(start + timedelta(seconds=10 * i)),
                                  "value": "ok" if i == 0 else "degraded"} for i in range(3)],
            }]
            ar["status"]["runSummary"] = {"count": 1, "failed": 1}
        else:
            message = 'Metric "rollout-check" assessed Failed due to failed (1) > failureLimit (0)'
            ar = _job_analysis_run(pipe, s, rec, start, end, message)
        rec.run = ar
        rec.verification = sb.verification_info(cl, ar, "Failed", start, end, message)
        run.conditions = [
            sb.condition("Ready", "False", "VerificationFailed", message, end + timedelta(seconds=1), run.generation),
            sb.condition("Healthy", "True", "Healthy", "Stage is healthy (performed 1 health checks)",
                         rec.finished + timedelta(seconds=4), run.generation),
            sb.condition("Verified", "False", "VerificationFailed", message, end + timedelta(seconds=1),
                         run.generation),
        ]
        run.health = {"status": "Healthy", "_output": True}
    elif scenario == "verification-error":
        rec = run.history()[0]
        assert rec.finished is not None
        ar_name = f"{s.name}.{sb.ulid(rec.finished, cl.slug, 'ar', s.name, rec.freight.name)}.{rec.freight.collection[:7]}"
        message = (f'error creating AnalysisRun "{ar_name}" in namespace "{project}": etcdserver: request timed out')
        rec.run = None
        at_v = rec.finished + timedelta(seconds=20)
        rec.verification = {"id": sb.make_uid(cl.slug, "verification", rec.name), "message": message, "phase": "Error",
                            "startTime": ts(at_v), "finishTime": ts(at_v)}
        run.conditions = [
            sb.condition("Ready", "False", "VerificationError", message, at_v, run.generation),
            sb.condition("Healthy", "True", "Healthy", "Stage is healthy (performed 1 health checks)",
                         rec.finished + timedelta(seconds=4), run.generation),
            sb.condition("Verified", "False", "VerificationError", message, at_v, run.generation),
        ]
        run.health = {"status": "Healthy", "_output": True}
        g.incident("kargo", at_v, g.kargo_line(at_v, "ERROR", "stages/regular_stages.go:2311",
                                               f"failed to update Stage status after verifying Stage Freight: {message}",
                                               [("namespace", project), ("stage", s.name), ("controlFlow", False)]))
    elif scenario in ("stage-reconcile-error", "multiple-faults"):
        rec = run.history()[0]
        assert rec.finished is not None
        since = g.C - timedelta(minutes=rng.randint(20, 300))
        message = (f'failed to auto-promote Freight: error creating Promotion for Freight "{rec.freight.name}" for '
                   f'Stage "{s.name}": admission webhook "promotion.kargo.akuity.io" denied the request: Freight is '
                   "not available to this Stage")
        healthy = sb.condition("Healthy", "True", "Healthy", "Stage is healthy (performed 1 health checks)",
                               rec.finished + timedelta(seconds=4), run.generation)
        if scenario == "multiple-faults":
            issue = f'Argo CD Application "{app.name}" in namespace "{ARGOCD_NS}" has health state "Degraded"'
            healthy = sb.condition("Healthy", "False", "Unhealthy", "Stage is unhealthy (1 issues in 1 health checks)",
                                   g.C - timedelta(minutes=41), run.generation)
            run.health = {"issues": [issue], "status": "Unhealthy", "_output": True}
            run.apps[app.name] = {"health": "Degraded", "health_changed": g.C - timedelta(minutes=41),
                                  "crashloop": True}
            subjects.append(("Application", ARGOCD_NS, app.name))
        else:
            run.health = {"status": "Healthy", "_output": True}
        verified_at = sb.parse_ts(rec.verification["finishTime"]) if rec.verification else rec.finished
        run.conditions = [
            sb.condition("Ready", "False", "ReconcileError", message, since, run.generation),
            sb.condition("Reconciling", "True", "RetryAfterError", "", since, run.generation),
            healthy,
            sb.condition("Verified", "True", "Verified", "Freight has been verified", verified_at, run.generation),
        ]
        for i in range(6):
            t = since + timedelta(minutes=i * 7 + 1)
            if t < g.C:
                g.incident("kargo", t, g.kargo_line(
                    t, "ERROR", "stages/regular_stages.go:2311",
                    f"failed to update Stage status after auto-promoting Freight: {message.removeprefix('failed to auto-promote Freight: ')}",
                    [("namespace", project), ("stage", s.name), ("controlFlow", False)]))
    elif scenario == "stage-unhealthy":
        since = g.C - timedelta(minutes=rng.randint(15, 200))
        issue = f'Argo CD Application "{app.name}" in namespace "{ARGOCD_NS}" has health state "Degraded"'
        msg = "Stage is unhealthy (1 issues in 1 health checks)"
        rec = run.history()[0]
        verified_at = sb.parse_ts(rec.verification["finishTime"]) if rec.verification else since
        run.conditions = [
            sb.condition("Ready", "False", "Unhealthy", msg, since, run.generation),
            sb.condition("Healthy", "False", "Unhealthy", msg, since, run.generation),
            sb.condition("Verified", "True", "Verified", "Freight has been verified", verified_at, run.generation),
        ]
        run.health = {"issues": [issue], "status": "Unhealthy", "_output": True}
        run.apps[app.name] = {"health": "Degraded", "health_changed": since, "crashloop": True}
        subjects.append(("Application", ARGOCD_NS, app.name))
    elif scenario == "poisoned-promotion":
        _poison(pipe, run)
    elif scenario == "stage-no-freight":
        since = run.created + timedelta(seconds=5)
        run.conditions = [
            sb.condition("Ready", "False", "NoFreight", "Stage has no current Freight", since, 1),
            sb.condition("Healthy", "Unknown", "NoFreight", "Stage has no current Freight", since, 1),
            sb.condition("Verified", "Unknown", "NoFreight", "Stage has no current Freight to verify", since, 1),
        ]
        run.generation = 1
        s.auto = False
    # setup-* scenarios need nothing beyond their configuration (see _configure_host).
    scope = [stage_subject] + [("Application", ARGOCD_NS, a.name) for a in s.apps]
    if scenario == "repo-server-oom":
        scope.append(("Pod", ARGOCD_NS, g.repo_server_pods[1]))
    if scenario == "repo-server-unreachable":
        scope.append(("Pod", ARGOCD_NS, g.repo_server_pods[0]))
    g.plant(scenario, subjects, scope)


def _promoting(run: StageRun, rec: Rec, phase: str) -> None:
    promoting = f'Promotion "{rec.name}" is currently {phase}'
    current = run.history()[0] if run.history() else None
    verified_at = sb.parse_ts(current.verification["finishTime"]) if current and current.verification else rec.created
    run.conditions = [
        sb.condition("Ready", "False", "ActivePromotion", promoting, rec.created, run.generation),
        sb.condition("Healthy", "Unknown", "ActivePromotion", "Stage has a Promotion in progress",
                     rec.created + timedelta(seconds=1), run.generation),
        sb.condition("Verified", "True", "Verified", "Freight has been verified", verified_at, run.generation),
        sb.condition("Promoting", "True", "ActivePromotion", promoting, rec.created, run.generation),
    ]
    run.health = {"issues": ["Cannot assess health because a Promotion is currently in progress"], "status": "Unknown"}


def _long_running_metric(ar: dict, started: datetime, now: datetime) -> None:
    """A soak metric that measures every minute for half an hour: still Running at collection."""
    ar["spec"]["metrics"] = [{
        "name": "error-rate", "count": 30, "interval": "1m", "failureLimit": 3,
        "successCondition": "result[0] < 0.01",
        "provider": {"prometheus": {"address": "http://prometheus-operated.monitoring.svc:9090",
                                    "query": "sum(rate(http_requests_total{code=~\"5..\"}[2m])) / "
                                             "sum(rate(http_requests_total[2m]))"}},
    }]
    n = max(1, int((now - started).total_seconds() // 60))
    ar["status"]["metricResults"] = [{
        "count": n, "successful": n, "name": "error-rate", "phase": "Running",
        "measurements": [{"finishedAt": ts(started + timedelta(minutes=i, seconds=1)), "phase": "Successful",
                          "startedAt": ts(started + timedelta(minutes=i)), "value": "[0.0012]"}
                         for i in range(max(0, n - 3), n)],
    }]
    ar["status"]["phase"] = "Running"
    ar["status"].pop("completedAt", None)
    ar["status"]["runSummary"] = {"count": 1}


def _job_analysis_run(pipe: Pipe, s: StagePlan, rec: Rec, start: datetime, end: datetime, message: str) -> dict:
    """A Job-metric AnalysisRun whose kubectl check is refused by RBAC; its Job, pod and log go in too."""
    g, cl, project = pipe.g, pipe.cl, pipe.p.project
    ar = sb.analysis_run(cl, stage=s.name, freight=rec.freight, promotion=rec.name, template="smoke", started=start,
                         finished=end, phase="Failed", namespace_arg=s.apps[0].dest_ns, message=message)
    job_spec = _rollout_check_job(s.apps[0])
    ar["spec"]["metrics"] = [{"name": "rollout-check", "provider": {"job": {"spec": job_spec}}}]
    job_name = f"{ar['metadata']['uid']}.rollout-check.1"
    ar["status"]["metricResults"] = [{
        "count": 1, "failed": 1, "name": "rollout-check", "phase": "Failed",
        "measurements": [{"finishedAt": ts(end), "metadata": {"job-name": job_name, "job-namespace": project},
                          "phase": "Failed", "startedAt": ts(start)}],
    }]
    ar["status"]["runSummary"] = {"count": 1, "failed": 1}
    job_uid = cl.uid("Job", project, job_name)
    pod_labels = {"batch.kubernetes.io/controller-uid": job_uid, "batch.kubernetes.io/job-name": job_name,
                  "controller-uid": job_uid, "job-name": job_name}
    container = dict(job_spec["template"]["spec"]["containers"][0])
    failed = end - timedelta(seconds=3)
    job = {
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": cl.meta("Job", job_name, project, start + timedelta(seconds=1), failed + timedelta(seconds=1),
                            annotations={"analysisrun.argoproj.io/metric-name": "rollout-check",
                                         "analysisrun.argoproj.io/name": ar["metadata"]["name"]},
                            generation=1, labels={"analysisrun.argoproj.io/uid": ar["metadata"]["uid"]},
                            ownerReferences=[cl.owner("argoproj.io/v1alpha1", "AnalysisRun", project,
                                                      ar["metadata"]["name"], blockOwnerDeletion=True,
                                                      controller=True)]),
        "spec": {"backoffLimit": 0, "completionMode": "NonIndexed", "completions": 1, "parallelism": 1,
                 "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": job_uid}}, "suspend": False,
                 "template": {"metadata": {"creationTimestamp": None, "labels": pod_labels},
                              "spec": dict(job_spec["template"]["spec"], dnsPolicy="ClusterFirst",
                                           schedulerName="default-scheduler", securityContext={},
                                           terminationGracePeriodSeconds=30)}},
        "status": {"conditions": [{"lastProbeTime": ts(failed + timedelta(seconds=1)),
                                   "lastTransitionTime": ts(failed + timedelta(seconds=1)),
                                   "message": "Job has reached the specified backoff limit",
                                   "reason": "BackoffLimitExceeded", "status": "True", "type": "Failed"}],
                   "failed": 1, "ready": 0, "startTime": ts(start + timedelta(seconds=1)), "terminating": 0,
                   "uncountedTerminatedPods": {}},
    }
    pod_name = f"{job_name}-{sb.safe_suffix(5, cl.slug, job_name)}"
    spec = sb.container_spec(container["name"], container["image"], args=container["args"],
                             command=container["command"])
    state = sb.ContainerRun(started=start + timedelta(seconds=5), ready=False,
                            terminated={"exitCode": 1, "reason": "Error", "finishedAt": failed})
    pod = sb.pod_obj(cl, project, pod_name, pod_labels, start + timedelta(seconds=1), [spec], {container["name"]: state},
                     cl.owner("batch/v1", "Job", project, job_name, blockOwnerDeletion=True, controller=True),
                     restart_policy="Never", generate_name=f"{job_name}-")
    place_pod(g.plan, pod)
    g.lists.add(f"cluster-resources/jobs/{project}.json", job)
    g.lists.add(f"cluster-resources/pods/{project}.json", pod)
    user = f"system:serviceaccount:{project}:default"
    dep = s.apps[0].components[0][0] if s.apps[0].components else "api"
    t0 = start + timedelta(seconds=6)
    lines = [
        (t0, f'Error from server (Forbidden): deployments.apps "{dep}" is forbidden: User "{user}" cannot get '
             f'resource "deployments" in API group "apps" in the namespace "{s.apps[0].dest_ns}"'),
    ]
    g.small_logs[f"cluster-resources/pods/logs/{project}/{pod_name}/{container['name']}.log"] = lines
    return ar


def _rollout_check_job(app: AppPlan) -> dict:
    dep = app.components[0][0] if app.components else "api"
    return {"backoffLimit": 0, "template": {"spec": {
        "containers": [{"args": ["rollout", "status", f"deployment/{dep}", "-n", app.dest_ns, "--timeout=120s"],
                        "command": ["kubectl"], "image": "registry.k8s.io/kubectl:v1.30.4", "name": "rollout-check"}],
        "restartPolicy": "Never"}}}


def _poison(pipe: Pipe, run: StageRun) -> None:
    """A hand-made Promotion (kubectl, name outside Kargo's scheme) pins the Stage; later ones go unrecorded."""
    g, s, rng = pipe.g, run.plan, pipe.rng
    upstream = pipe.runs[s.upstream[0]] if s.upstream else None
    ready = [(r.freight, sb.parse_ts(r.verification["finishTime"]) if r.verification else r.finished)
             for r in (upstream.history()[::-1] if upstream else [])]
    if not ready:
        ready = [(f, f.created + timedelta(seconds=30)) for f in pipe.freights]
    run.promos.clear()
    before, hot, after = ready[:-3], ready[-3], ready[-2:]
    if not before:
        before = [ready[0]]
    for f, r_at in before:
        promote(pipe, run, f, r_at + timedelta(minutes=rng.randint(20, 120)), actor=_person(rng))
    person = rng.choice(PEOPLE)
    hot_at = hot[1] + timedelta(minutes=rng.randint(30, 90))
    limit = after[0][1] - timedelta(minutes=5)
    if hot_at > limit:
        hot_at = hot[1] + (limit - hot[1]) / 2
    push = "error pushing commits to remote: error pushing branch: non-fast-forward"
    message = _step_message(g, 3, "git-push", push)
    word = rng.choice(("hotfix-manual", "manual-rollout", "hotfix", "emergency-fix"))
    promote(pipe, run, hot[0], hot_at, name=f"{s.name}.{word}", actor=f"kubernetes:{person}@example.com",
            phase="Errored", steps=_fail_steps(hot_at + timedelta(seconds=1), 3, message, 52), message=message,
            verify=None, synced=False)
    for f, r_at in after:
        t = r_at + timedelta(minutes=rng.randint(2, 30))
        if t > g.C - timedelta(minutes=10):
            t = r_at + timedelta(minutes=1)
        promote(pipe, run, f, t, recorded=False, verify=None)


# ---------------------------------------------------------------- Argo CD Applications


def app_source(pipe: Pipe, s: StagePlan, app: AppPlan) -> dict:
    if app.chart:
        return {"helm": {"releaseName": app.chart}, "path": f"charts/{app.chart}", "repoURL": pipe.gitops,
                "targetRevision": f"stage/{s.name}"}
    sub = "/jobs" if app.name.endswith("-jobs") else ""
    return {"path": f"apps/{pipe.p.service}/{s.env}{sub}", "repoURL": pipe.gitops, "targetRevision": f"stage/{s.name}"}


def _components(app: AppPlan) -> list[tuple[str, int]]:
    return app.components or [("api", 1)]


def sync_result(pipe: Pipe, s: StagePlan, app: AppPlan, revision: str, tag: str) -> dict:
    res = []
    for comp, _n in _components(app):
        res.append({"group": "", "hookPhase": "Running", "kind": "Service", "message": f"service/{comp} unchanged",
                    "name": comp, "namespace": app.dest_ns, "status": "Synced", "syncPhase": "Sync", "version": "v1"})
        res.append({"group": "apps", "hookPhase": "Running", "images": [_image(pipe, app, comp, tag)],
                    "kind": "Deployment", "message": f"deployment.apps/{comp} configured", "name": comp,
                    "namespace": app.dest_ns, "status": "Synced", "syncPhase": "Sync", "version": "v1"})
    return {"resources": res, "revision": revision, "source": app_source(pipe, s, app)}


def _image(pipe: Pipe, app: AppPlan, comp: str, tag: str) -> str:
    if comp == "redis":
        return "public.ecr.aws/docker/library/redis:7.2.5-alpine"
    if app.name.endswith("-jobs"):
        return f"{pipe.image}-jobs:{tag}"
    return f"{pipe.image}:{tag}"


def application_obj(g: Gen, cl: Any, *, name: str, project: str, source: dict, dest_server: str, dest_ns: str,
                    created: datetime, generation: int, sync_status: str, revision: str | None, health: str,
                    health_changed: datetime, reconciled: datetime, op_state: dict | None, history: list[dict],
                    images: list[str], resources: list[tuple], annotations: dict, sync_policy: dict,
                    conditions: list[dict] | None = None, operation: dict | None = None,
                    health_message: str | None = None) -> dict:
    """An Application (the shape of make_sample_bundles.application_obj, any name and source)."""
    persisted = g.argocd < (3, 0, 0)
    res_list = []
    for group, kind, rname, rstatus, rhealth in resources:
        r: dict[str, Any] = {"kind": kind, "name": rname, "namespace": dest_ns, "status": rstatus, "version": "v1"}
        if group:
            r["group"] = group
        if persisted and rhealth:
            r["health"] = {"status": rhealth}
            if rhealth == "Degraded" and health_message:
                r["health"]["message"] = health_message
        res_list.append(r)
    sync: dict[str, Any] = {"comparedTo": {"destination": {"namespace": dest_ns, "server": dest_server},
                                           "source": source}, "status": sync_status}
    if revision:
        sync["revision"] = revision
    status: dict[str, Any] = {
        "controllerNamespace": ARGOCD_NS,
        "health": {"status": health},
        "history": history,
        "reconciledAt": ts(reconciled),
        "resources": res_list,
        "sourceHydrator": {},
        "sourceType": "Helm" if source.get("chart") or source.get("helm") else "Kustomize",
        "summary": {"images": images},
        "sync": sync,
    }
    if g.argocd >= (2, 14, 0):
        status["health"]["lastTransitionTime"] = ts(health_changed)
    if not persisted:
        status["resourceHealthSource"] = "appTree"
    if op_state:
        status["operationState"] = op_state
    if conditions:
        status["conditions"] = conditions
    obj = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": cl.meta("Application", name, ARGOCD_NS, created, reconciled, annotations=annotations,
                            finalizers=["resources-finalizer.argocd.argoproj.io"], generation=generation),
        "spec": {"destination": {"namespace": dest_ns, "server": dest_server}, "project": project, "source": source,
                 "syncPolicy": sync_policy},
        "status": status,
    }
    if operation:
        obj["operation"] = operation
    return obj


def managed_app(pipe: Pipe, run: StageRun, app: AppPlan) -> dict:
    g, s, rng, cl = pipe.g, run.plan, pipe.rng, pipe.cl
    ov = run.apps.get(app.name, {})
    synced = run.synced()
    source = app_source(pipe, s, app)
    created = pipe.project_created + timedelta(minutes=25)
    history = []
    if synced:
        for idx, rec in enumerate(synced[-10:], start=max(1, len(synced) - 9)):
            assert rec.finished is not None
            initiated: dict[str, Any] = {"username": rec.actor or "kargo-controller"}
            if rec.actor is None:
                initiated["automated"] = True
            history.append({"deployStartedAt": ts(rec.finished - timedelta(seconds=21)),
                            "deployedAt": ts(rec.finished - timedelta(seconds=2)), "id": idx, "initiatedBy": initiated,
                            "revision": rec.commit, "source": source})
        last = synced[-1]
        assert last.finished is not None
        tag = last.freight.tag
        revision = last.commit
        op = {"finishedAt": ts(last.finished - timedelta(seconds=2)), "message": "successfully synced (all tasks run)",
              "operation": sb.kargo_operation(last.name, last.actor), "phase": "Succeeded",
              "startedAt": ts(last.finished - timedelta(seconds=22)),
              "syncResult": sync_result(pipe, s, app, last.commit, tag)}
        health_changed = last.finished - timedelta(seconds=1)
        op_done = last.finished - timedelta(seconds=2)
    else:
        person = f"{rng.choice(PEOPLE)}@example.com"
        tag = pipe.freights[0].tag
        revision = sb.sha1_hex(f"{cl.slug}/{s.name}/initial")
        started = run.created - timedelta(hours=1)
        history.append({"deployStartedAt": ts(started), "deployedAt": ts(started + timedelta(seconds=19)), "id": 1,
                        "initiatedBy": {"username": person}, "revision": revision, "source": source})
        op = {"finishedAt": ts(started + timedelta(seconds=19)), "message": "successfully synced (all tasks run)",
              "operation": {"initiatedBy": {"username": person}, "retry": {},
                            "sync": {"revision": revision, "syncOptions": ["CreateNamespace=true"]}},
              "phase": "Succeeded", "startedAt": ts(started), "syncResult": sync_result(pipe, s, app, revision, tag)}
        health_changed = started + timedelta(seconds=25)
        op_done = started + timedelta(seconds=19)
    op_state = ov.get("op_state", op)
    reconciled = ov.get("reconciled") or max(op_done + timedelta(seconds=5),
                                             g.C - timedelta(seconds=rng.randint(15, 170)))
    health = ov.get("health", "Healthy")
    sync_status = ov.get("sync_status", "Synced")
    resources = []
    for comp, _n in _components(app):
        resources.append(("", "Service", comp, "Synced", "Healthy"))
        resources.append(("apps", "Deployment", comp, sync_status,
                          health if comp == _components(app)[0][0] else "Healthy"))
    annotations = {LAST_APPLIED: HIDDEN}
    if app.authorized:
        annotations["kargo.akuity.io/authorized-stage"] = f"{pipe.p.project}:{s.name}"
    policy: dict[str, Any] = {"syncOptions": ["CreateNamespace=true"]}
    if app.auto_sync:
        policy["automated"] = {"prune": True, "selfHeal": True}
    generation = 40 + 37 * len(run.promos) + int(sb.digest("gen", cl.slug, app.name)[:2], 16)
    images = sorted({_image(pipe, app, comp, tag) for comp, _n in _components(app)})
    return application_obj(
        g, cl, name=app.name, project="default", source=source, dest_server=IN_CLUSTER, dest_ns=app.dest_ns,
        created=created, generation=generation, sync_status=sync_status, revision=ov.get("revision", revision),
        health=health, health_changed=ov.get("health_changed", health_changed), reconciled=reconciled,
        op_state=op_state, history=history, images=images, resources=resources, annotations=annotations,
        sync_policy=policy, operation=ov.get("operation"),
        health_message=f'Deployment "{_components(app)[0][0]}" exceeded its progress deadline')


# ---------------------------------------------------------------- workloads and events


def _crashloop(pod: dict, container: str, since: datetime) -> None:
    st = pod["status"]["containerStatuses"][0]
    st["ready"] = False
    st["started"] = False
    st["state"] = {"waiting": {"message": f"back-off 5m0s restarting failed container={container} "
                                          f"pod={pod['metadata']['name']}_{pod['metadata']['namespace']}"
                                          f"({pod['metadata']['uid']})",
                               "reason": "CrashLoopBackOff"}}
    for cond in pod["status"]["conditions"]:
        if cond["type"] in ("Ready", "ContainersReady"):
            cond["status"] = "False"
            cond["reason"] = "ContainersNotReady"
            cond["message"] = f"containers with unready status: [{container}]"
            cond["lastTransitionTime"] = ts(since)


def app_workloads(pipe: Pipe, run: StageRun, app: AppPlan) -> list[tuple[str, dict]]:
    g, cl = pipe.g, pipe.cl
    if app.no_workload:
        return []
    ov = run.apps.get(app.name, {})
    synced = run.synced()
    last = synced[-1] if synced else None
    tag = last.freight.tag if last else pipe.freights[0].tag
    deployed = (last.finished - timedelta(seconds=12)) if last and last.finished else run.created - timedelta(hours=1)
    revision = max(1, len(synced))
    ns = app.dest_ns
    ns_created = pipe.project_created + timedelta(minutes=20)
    all_pods = []
    for j, (comp, replicas) in enumerate(_components(app)):
        image = _image(pipe, app, comp, tag)
        port = 6379 if comp == "redis" else 8080
        probes = {} if comp == "redis" else {"readinessProbe": {
            "failureThreshold": 3, "httpGet": {"path": "/healthz", "port": "http", "scheme": "HTTP"},
            "periodSeconds": 10, "successThreshold": 1, "timeoutSeconds": 1}}
        spec = sb.container_spec(comp, image, ports=[{"containerPort": port, "name": "http" if port == 8080 else "redis",
                                                      "protocol": "TCP"}], probes=probes,
                                 resources={"limits": {"cpu": "500m", "memory": "512Mi"},
                                            "requests": {"cpu": "100m", "memory": "256Mi"}})
        selector = {"app.kubernetes.io/instance": app.name, "app.kubernetes.io/name": comp}
        labels = dict(selector, **{"app.kubernetes.io/part-of": pipe.p.service})
        annotations = None
        if g.argocd >= (3, 0, 0):
            annotations = {"argocd.argoproj.io/tracking-id": f"{app.name}:apps/Deployment:{ns}/{comp}"}
        crash = bool(ov.get("crashloop")) and j == 0
        comp_rev = revision if comp != "redis" else 1
        pod_created = deployed + timedelta(seconds=2 + j) if comp != "redis" else ns_created + timedelta(minutes=2)

        def run_state(k: int, pod_created: datetime = pod_created, crash: bool = crash) -> Any:
            started = pod_created + timedelta(seconds=4 + k)
            if crash:
                last_end = g.C - timedelta(minutes=2, seconds=k * 7 + 10)
                return sb.ContainerRun(started=last_end, restarts=14 + k, ready=False,
                                       last_terminated={"reason": "Error", "exitCode": 1,
                                                        "startedAt": last_end - timedelta(seconds=9),
                                                        "finishedAt": last_end})
            return sb.ContainerRun(started=started)

        w = sb.deployment(cl, ns, comp, created=ns_created, selector=selector, labels=labels, containers=[spec],
                          runs={comp: run_state(0)}, pod_created=pod_created, revision=comp_rev,
                          annotations=annotations, generation=comp_rev, template_labels=dict(selector))
        assert w.replicaset is not None
        pods = [w.pod]
        template_containers = w.controller["spec"]["template"]["spec"]["containers"]
        rs_name = w.replicaset["metadata"]["name"]
        pod_labels = w.replicaset["metadata"]["labels"]
        for k in range(1, replicas):
            pname = f"{rs_name}-{sb.safe_suffix(5, cl.slug, ns, comp, k)}"
            pods.append(sb.pod_obj(cl, ns, pname, pod_labels, pod_created + timedelta(seconds=k), template_containers,
                                   {comp: run_state(k)},
                                   cl.owner("apps/v1", "ReplicaSet", ns, rs_name, blockOwnerDeletion=True,
                                            controller=True), generate_name=f"{rs_name}-"))
        for pod in pods:
            place_pod(g.plan, pod)
            if crash:
                _crashloop(pod, comp, g.C - timedelta(minutes=2))
        ready = 0 if crash else replicas
        dep, rs = w.controller, w.replicaset
        dep["spec"]["replicas"] = replicas
        dep["status"].update({"replicas": replicas, "updatedReplicas": replicas})
        rs["spec"]["replicas"] = replicas
        rs["status"].update({"replicas": replicas, "fullyLabeledReplicas": replicas})
        if ready:
            dep["status"].update({"readyReplicas": ready, "availableReplicas": ready})
            rs["status"].update({"readyReplicas": ready, "availableReplicas": ready})
        else:
            dep["status"].pop("readyReplicas", None)
            dep["status"]["availableReplicas"] = 0
            dep["status"]["unavailableReplicas"] = replicas
            rs["status"].pop("readyReplicas", None)
            rs["status"].pop("availableReplicas", None)
        g.lists.add(f"cluster-resources/deployments/{ns}.json", dep)
        g.lists.add(f"cluster-resources/replicasets/{ns}.json", rs)
        for pod in pods:
            g.lists.add(f"cluster-resources/pods/{ns}.json", pod)
        svc_ann = {"argocd.argoproj.io/tracking-id": f"{app.name}:/Service:{ns}/{comp}"} if annotations else None
        g.lists.add(f"cluster-resources/services/{ns}.json", sb.service_obj(
            cl, ns, comp, ns_created, labels, selector,
            [{"name": "http" if port == 8080 else "redis", "port": 80 if port == 8080 else 6379, "protocol": "TCP",
              "targetPort": "http" if port == 8080 else "redis"}], annotations=svc_ann))
        g.lists.add(f"cluster-resources/endpoints/{ns}.json",
                    endpoints_obj(g, ns, comp, pods, port, "http" if port == 8080 else "redis", ns_created))
        if crash:
            pod = pods[0]
            add_event(g, sb.event_obj(cl, ns, sb.involved(pod, f"spec.containers{{{comp}}}"), "BackOff",
                                      f"Back-off restarting failed container {comp} in pod {pod['metadata']['name']}"
                                      f"_{ns}({pod['metadata']['uid']})", g.C - timedelta(minutes=45),
                                      g.C - timedelta(seconds=50), count=180, type_="Warning", component="kubelet",
                                      host=pod["spec"]["nodeName"], reporting="kubelet"))
        all_pods.extend((comp, p) for p in pods)
    return all_pods


def add_event(g: Gen, ev: dict) -> None:
    key = (ev["metadata"]["namespace"], ev["metadata"]["name"])
    if key in g.event_names:
        return
    g.event_names.add(key)
    g.events_made += 1
    g.lists.add(f"cluster-resources/events/{ev['metadata']['namespace']}.json", ev)


def kargo_event(pipe: Pipe, *, reason: str, message: str, at: datetime, component: str, promotion: dict | None = None,
                freight: Any = None, stage: str | None = None, extra: dict | None = None) -> dict:
    """An Event recorded by a Kargo controller (the shape of make_sample_bundles.kargo_event)."""
    project = pipe.p.project
    annotations: dict[str, str] = {"event.kargo.akuity.io/actor": f"controller:{component}",
                                   "event.kargo.akuity.io/project": project}
    if freight is not None:
        ref = freight.ref()
        annotations.update({
            "event.kargo.akuity.io/freight-alias": freight.alias,
            "event.kargo.akuity.io/freight-commits": json.dumps(ref["commits"], separators=(",", ":")),
            "event.kargo.akuity.io/freight-create-time": ts(freight.created),
            "event.kargo.akuity.io/freight-images": json.dumps(ref["images"], separators=(",", ":")),
            "event.kargo.akuity.io/freight-name": freight.name,
            "event.kargo.akuity.io/freight-warehouse-name": pipe.p.warehouse,
        })
    if stage:
        annotations["event.kargo.akuity.io/stage-name"] = stage
    if promotion is not None:
        meta = promotion["metadata"]
        st = pipe.runs[promotion["spec"]["stage"]].plan
        annotations.update({
            "event.kargo.akuity.io/applications": json.dumps([{"Namespace": ARGOCD_NS, "Name": a.name} for a in st.apps],
                                                             separators=(",", ":")),
            "event.kargo.akuity.io/promotion-create-time": meta["creationTimestamp"],
            "event.kargo.akuity.io/promotion-name": meta["name"],
            "event.kargo.akuity.io/stage-name": promotion["spec"]["stage"],
        })
    annotations.update(extra or {})
    target = promotion or {
        "apiVersion": "kargo.akuity.io/v1alpha1", "kind": "Freight",
        "metadata": {"name": freight.name, "namespace": project, "resourceVersion": pipe.cl.rv(at, "Freight", freight.name),
                     "uid": pipe.cl.uid("Freight", project, freight.name)}}
    return sb.event_obj(pipe.cl, project, sb.involved(target), reason, message, at, component=component,
                        reporting=component, annotations=annotations)


def app_event(g: Gen, cl: Any, app: dict, reason: str, message: str, at: datetime, type_: str = "Normal",
              user: str | None = None) -> dict:
    ns = app["spec"]["destination"]["namespace"]
    annotations = {"dest-namespace": ns, "dest-server": app["spec"]["destination"]["server"]}
    component = "argocd-application-controller"
    if user:
        annotations = {"user": user}
        component = "argocd-server"
    return sb.event_obj(cl, ARGOCD_NS, sb.involved(app), reason, message, at, type_=type_, component=component,
                        annotations=annotations)


def stage_events(pipe: Pipe, run: StageRun, apps: dict[str, dict], pods: list[tuple[str, dict]]) -> None:
    """Events of the last hours: Promotions, verifications, syncs, rollouts, and routine churn."""
    g, s, rng, cl = pipe.g, run.plan, pipe.rng, pipe.cl
    window = g.C - EVENT_WINDOW
    for rec in run.promos:
        if rec.created < window:
            continue
        how = "Automatically promoted" if rec.actor is None else "Manually promoted"
        add_event(g, kargo_event(pipe, reason="PromotionCreated", at=rec.created, component="stage-controller",
                                 promotion=rec.obj, freight=rec.freight,
                                 message=f'{how} Freight from origin "Warehouse/{pipe.p.warehouse}" for Stage "{s.name}"'))
        if rec.finished and rec.phase in ("Succeeded", "Errored", "Failed"):
            add_event(g, kargo_event(pipe, reason=f"Promotion{rec.phase}", at=rec.finished,
                                     component="promotion-controller", promotion=rec.obj, freight=rec.freight,
                                     message=f"Promotion {rec.phase}" + (f": {rec.obj['status'].get('message')}"
                                                                         if rec.phase != "Succeeded" else "")))
        if rec.verification and rec.verification.get("finishTime") and rec.verification["phase"] == "Successful" \
                and rec.run is not None:
            end = sb.parse_ts(rec.verification["finishTime"])
            add_event(g, kargo_event(pipe, reason="FreightVerificationSucceeded", at=end, component="stage-controller",
                                     freight=rec.freight, stage=s.name, message="Freight verification succeeded",
                                     extra={"event.kargo.akuity.io/analysis-run-name": rec.run["metadata"]["name"]}))
        if rec.synced and rec.finished:
            for a in s.apps:
                obj = apps[a.name]
                add_event(g, app_event(g, cl, obj, "OperationStarted",
                                       f"{rec.actor.removeprefix('email:') if rec.actor else 'kargo-controller'} "
                                       f"initiated sync to stage/{s.name}", rec.finished - timedelta(seconds=24),
                                       user=rec.actor.removeprefix("email:") if rec.actor else "kargo-controller"))
                add_event(g, app_event(g, cl, obj, "OperationCompleted", f"Sync operation to {rec.commit} succeeded",
                                       rec.finished - timedelta(seconds=2)))
    for app_name, reason, message, at, type_ in [e for e in g.app_events if e[0] in apps]:
        add_event(g, app_event(g, cl, apps[app_name], reason, message, at, type_=type_))
    # Routine churn in the application namespaces: scale-ups and scale-downs.
    if not pods:
        return
    g.ns_remaining -= 1
    budget = (0.65 * g.plan.targets["events"] - g.events_made) / max(1, g.ns_remaining + 1) * rng.uniform(0.8, 1.2)
    if budget <= 0:
        return
    made = 0
    ns = pods[0][1]["metadata"]["namespace"]
    while made < budget:
        comp, pod = pods[rng.randrange(len(pods))]
        at = g.C - timedelta(seconds=rng.randint(300, int(EVENT_WINDOW.total_seconds())))
        owner = pod["metadata"]["ownerReferences"][0]["name"]
        dep_name = owner.rsplit("-", 1)[0]
        new = f"{owner}-{sb.safe_suffix(5, cl.slug, ns, owner, at.isoformat())}"
        rs_ref = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": owner, "namespace": ns,
                  "resourceVersion": cl.rv(at, "rs", owner), "uid": cl.uid("ReplicaSet", ns, owner)}
        dep_ref = {"apiVersion": "apps/v1", "kind": "Deployment", "name": dep_name, "namespace": ns,
                   "resourceVersion": cl.rv(at, "dep", dep_name), "uid": cl.uid("Deployment", ns, dep_name)}
        pod_ref = {"apiVersion": "v1", "kind": "Pod", "name": new, "namespace": ns,
                   "resourceVersion": cl.rv(at, "pod", new), "uid": cl.uid("Pod", ns, new)}
        node = node_for(g.plan, new)
        image = pod["spec"]["containers"][0]["image"]
        n = rng.randint(2, 6)
        evs = [
            sb.event_obj(cl, ns, {**dep_ref}, "ScalingReplicaSet", f"Scaled up replica set {owner} from {n} to {n + 1}",
                         at, component="deployment-controller", reporting="deployment-controller"),
            sb.event_obj(cl, ns, {**rs_ref}, "SuccessfulCreate", f"Created pod: {new}", at,
                         component="replicaset-controller", reporting="replicaset-controller"),
            sb.event_obj(cl, ns, {**pod_ref}, "Scheduled", f"Successfully assigned {ns}/{new} to {node}", at,
                         component="default-scheduler", reporting="default-scheduler"),
            sb.event_obj(cl, ns, dict(pod_ref, fieldPath=f"spec.containers{{{comp}}}"), "Pulled",
                         f'Container image "{image}" already present on machine', at + timedelta(seconds=1),
                         component="kubelet", host=node, reporting="kubelet"),
            sb.event_obj(cl, ns, dict(pod_ref, fieldPath=f"spec.containers{{{comp}}}"), "Created",
                         f"Created container {comp}", at + timedelta(seconds=1), component="kubelet", host=node,
                         reporting="kubelet"),
            sb.event_obj(cl, ns, dict(pod_ref, fieldPath=f"spec.containers{{{comp}}}"), "Started",
                         f"Started container {comp}", at + timedelta(seconds=2), component="kubelet", host=node,
                         reporting="kubelet"),
        ]
        later = at + timedelta(minutes=rng.randint(5, 60))
        if later < g.C - timedelta(minutes=2):
            evs += [
                sb.event_obj(cl, ns, {**dep_ref}, "ScalingReplicaSet",
                             f"Scaled down replica set {owner} from {n + 1} to {n}", later,
                             component="deployment-controller", reporting="deployment-controller"),
                sb.event_obj(cl, ns, {**rs_ref}, "SuccessfulDelete", f"Deleted pod: {new}", later,
                             component="replicaset-controller", reporting="replicaset-controller"),
                sb.event_obj(cl, ns, dict(pod_ref, fieldPath=f"spec.containers{{{comp}}}"), "Killing",
                             f"Stopping container {comp}", later, component="kubelet", host=node, reporting="kubelet"),
            ]
        for ev in evs:
            add_event(g, ev)
        made += len(evs)


# ---------------------------------------------------------------- one pipeline, one project


def stage_status(pipe: Pipe, run: StageRun, apps: dict[str, dict]) -> dict:
    g, s = pipe.g, run.plan
    recorded, history = run.recorded(), run.history()
    last = recorded[-1] if recorded else None
    current = history[0] if history else None
    fh = []
    for i, r in enumerate(history):
        if (i == 0 and run.no_verification_entry) or not r.verification:
            fh.append(r.freight.collection_obj())
        else:
            fh.append(r.freight.collection_obj([r.verification]))
    status: dict[str, Any] = {"freightSummary": current.freight.name if current else "0/1 Fulfilled"}
    if fh:
        status["freightHistory"] = fh
    if last is not None:
        assert last.finished is not None
        status["lastPromotion"] = {"finishedAt": ts(last.finished), "freight": last.freight.ref(), "name": last.name,
                                   "status": orjson.loads(orjson.dumps(last.obj["status"]))}
    if g.kargo >= (1, 7, 0):
        status["autoPromotionEnabled"] = s.auto
    output = {"applicationStatuses": [
        sb.argocd_health_output(g.cl, dict(apps[a.name]["status"], _name=a.name))["applicationStatuses"][0]
        for a in s.apps]}
    conditions, health = run.conditions, run.health
    if conditions is None and last is not None:
        assert last.finished is not None
        if last.phase != "Succeeded":
            at = last.finished + timedelta(seconds=1)
            verified_at = sb.parse_ts(current.verification["finishTime"]) if current and current.verification else at
            conditions = [
                sb.condition("Ready", "False", f"LastPromotion{last.phase}", last.obj["status"].get("message", ""), at,
                             run.generation),
                sb.condition("Healthy", "Unknown", f"LastPromotion{last.phase}",
                             "Cannot assess health because last Promotion did not succeed", at, run.generation),
                sb.condition("Verified", "True", "Verified", "Freight has been verified", verified_at, run.generation),
            ]
            health = {"issues": ["Cannot assess health because last Promotion did not succeed"], "status": "Unknown"}
        else:
            assert current is not None
            verified_at = sb.parse_ts(current.verification["finishTime"]) if current.verification else last.finished
            healthy_at = last.finished + timedelta(seconds=4)
            conditions = [
                sb.condition("Ready", "True", "Verified", "Freight has been verified", verified_at, run.generation),
                sb.condition("Healthy", "True", "Healthy", "Stage is healthy (performed 1 health checks)", healthy_at,
                             run.generation),
                sb.condition("Verified", "True", "Verified", "Freight has been verified", verified_at, run.generation),
            ]
            health = {"status": "Healthy", "_output": True}
    if health is not None:
        health = dict(health)
        if health.pop("_output", False):
            health["output"] = [output]
        status["health"] = health
    status["observedGeneration"] = run.generation
    status["conditions"] = conditions or []
    if run.current is not None:
        status["currentPromotion"] = {"freight": run.current.freight.ref(), "name": run.current.name}
    return status


def freight_statuses(pipe: Pipe) -> dict[str, dict]:
    out: dict[str, dict] = {f.name: {} for f in pipe.freights}
    for run in pipe.runs.values():
        hist = list(reversed(run.history()))
        for i, rec in enumerate(hist):
            st = out[rec.freight.name]
            leaving = hist[i + 1] if i + 1 < len(hist) else None
            assert rec.finished is not None
            if leaving is None:
                st.setdefault("currentlyIn", {})[run.plan.name] = {"since": ts(rec.finished + timedelta(seconds=1))}
            if rec.verification and rec.verification["phase"] == "Successful" and not (
                    leaving is None and run.no_verification_entry):
                entry: dict[str, Any] = {"verifiedAt": rec.verification["finishTime"]}
                if leaving is not None:
                    assert leaving.finished is not None
                    entry["longestSoak"] = sb.go_duration(leaving.finished - rec.finished)
                st.setdefault("verifiedIn", {})[run.plan.name] = entry
    return out


def analysis_template(pipe: Pipe, name: str, created: datetime) -> dict:
    t = sb.smoke_template(pipe.cl, created)
    t["metadata"] = pipe.cl.meta("AnalysisTemplate", name, pipe.p.project, created,
                                 annotations={LAST_APPLIED: HIDDEN}, generation=1)
    if name == "rollout-check":
        t["spec"] = {"args": [{"name": "namespace"}],
                     "metrics": [{"name": "rollout-check", "provider": {"job": {"spec": {
                         "backoffLimit": 0, "template": {"spec": {
                             "containers": [{"args": ["rollout", "status", "deployment/api", "-n", "{{args.namespace}}",
                                                      "--timeout=120s"], "command": ["kubectl"],
                                             "image": "registry.k8s.io/kubectl:v1.30.4", "name": "rollout-check"}],
                             "restartPolicy": "Never"}}}}}}]}
    else:
        t["spec"]["metrics"][0]["provider"]["web"]["url"] = "http://api.{{args.namespace}}.svc.cluster.local/healthz"
    return t


def warehouse(pipe: Pipe) -> dict:
    g, p, rng = pipe.g, pipe.p, pipe.rng
    created = pipe.project_created + timedelta(minutes=2)
    discovered = g.C - timedelta(minutes=rng.randint(0, 4), seconds=rng.randint(1, 59))
    wh = sb.warehouse_obj(pipe.cl, created, pipe.freights, discovered)
    if p.plant == "warehouse-discovery-failed":
        since = g.C - timedelta(hours=rng.randint(2, 9), minutes=rng.randint(0, 59))
        err = (f'error discovering artifacts: error discovering newest applicable image tags for image repository '
               f'"{pipe.image}": error listing tags: GET https://ghcr.io/v2/{pipe.image.removeprefix("ghcr.io/")}/'
               "tags/list?n=1000: UNAUTHORIZED: authentication required; [map[Action:pull Class: "
               f"Name:{pipe.image.removeprefix('ghcr.io/')} Type:repository]]")
        conds = wh["status"]["conditions"]
        wh["status"]["conditions"] = [
            sb.condition("Ready", "False", "DiscoveryFailure", f"Artifact discovery failed: {err}", since, 1),
            sb.condition("Healthy", "False", "DiscoveryFailed", f"Unable to discover artifacts: {err}", since, 1),
        ] + [c for c in conds if c["type"] not in ("Ready", "Healthy")]
        wh["status"]["discoveredArtifacts"]["discoveredAt"] = ts(since - timedelta(minutes=5))
        t = since
        while t < g.C:
            g.incident("kargo", t, g.kargo_line(t, "ERROR", "warehouses/warehouses.go:223", f"error syncing Warehouse: {err}",
                                                [("namespace", p.project), ("warehouse", p.warehouse)]))
            t += timedelta(minutes=5, seconds=rng.randint(0, 9))
        g.plant("warehouse-discovery-failed", [], _warehouse_scope(pipe))
    elif p.plant == "warehouse-no-new-freight":
        head = sb.sha1_hex(f"{pipe.cl.slug}/docs-only-commit")
        for sub in wh["spec"]["subscriptions"]:
            if "git" in sub:
                sub["git"]["includePaths"] = [f"services/{p.service}/"]
        git = wh["status"]["discoveredArtifacts"]["git"][0]
        if "observedRefs" in git:
            git["observedRefs"]["branchHead"] = head
        refreshed = g.C - timedelta(minutes=rng.randint(8, 40))
        token = ts(refreshed)
        wh["metadata"].setdefault("annotations", {})["kargo.akuity.io/refresh"] = token
        wh["status"]["lastHandledRefresh"] = token
        g.plant("warehouse-no-new-freight", [], _warehouse_scope(pipe))
    return wh


# What collector.sh lists in every namespace of interest (one file per resource, empty lists included).
NS_RESOURCES = ("pods", "events", "deployments", "statefulsets", "replicasets", "daemonsets", "jobs", "cronjobs",
                "services", "endpoints", "serviceaccounts", "configmaps", "roles", "rolebindings", "ingresses",
                "secrets")
_CA_BODY = "\n".join(sb.digest("ca", i)[:64] for i in range(17))
KUBE_ROOT_CA = f"-----BEGIN CERTIFICATE-----\n{_CA_BODY}\n-----END CERTIFICATE-----\n"


def namespace_files(g: Gen, ns: str, created: datetime, *, service_accounts: tuple[str, ...] = (),
                    configmaps: tuple[str, ...] = (), secrets: bool = True) -> None:
    """The per-namespace files of the collector, with the objects every namespace has."""
    cl = g.cl
    for r in NS_RESOURCES:
        if r == "secrets" and not secrets:
            continue
        g.lists.touch(f"cluster-resources/{r}/{ns}.json")
    for sa in ("default", *service_accounts):
        g.lists.add(f"cluster-resources/serviceaccounts/{ns}.json", {
            "apiVersion": "v1", "kind": "ServiceAccount", "metadata": cl.meta("ServiceAccount", sa, ns, created)})
    g.lists.add(f"cluster-resources/configmaps/{ns}.json", {
        "apiVersion": "v1", "kind": "ConfigMap", "data": {"ca.crt": KUBE_ROOT_CA},
        "metadata": cl.meta("ConfigMap", "kube-root-ca.crt", ns, created,
                            annotations={"kubernetes.io/description": "Contains a CA bundle that can be used to verify "
                                                                      "the kube-apiserver when using internal endpoints "
                                                                      "such as the internal service IP or "
                                                                      "kubernetes.default.svc. No other usage is "
                                                                      "guaranteed across distributions of Kubernetes "
                                                                      "clusters."})})
    for name in configmaps:
        g.lists.add(f"cluster-resources/configmaps/{ns}.json", {
            "apiVersion": "v1", "kind": "ConfigMap", "metadata": cl.meta("ConfigMap", name, ns, created),
            "data": {"LOG_LEVEL": "info", "HTTP_PORT": "8080", "FEATURE_FLAGS": "beta-search,new-checkout"}})


def endpoints_obj(g: Gen, ns: str, name: str, pods: list[dict], port: int, port_name: str, created: datetime) -> dict:
    addresses = [{"ip": p["status"]["podIP"], "nodeName": p["spec"]["nodeName"],
                  "targetRef": {"kind": "Pod", "name": p["metadata"]["name"], "namespace": ns, "uid": p["metadata"]["uid"]}}
                 for p in pods if p["status"]["containerStatuses"][0].get("ready")]
    subset: dict[str, Any] = {"ports": [{"name": port_name, "port": port, "protocol": "TCP"}]}
    if addresses:
        subset["addresses"] = addresses
    else:
        subset["notReadyAddresses"] = [{"ip": p["status"]["podIP"], "nodeName": p["spec"]["nodeName"],
                                        "targetRef": {"kind": "Pod", "name": p["metadata"]["name"], "namespace": ns,
                                                      "uid": p["metadata"]["uid"]}} for p in pods]
    return {"apiVersion": "v1", "kind": "Endpoints", "metadata": g.cl.meta("Endpoints", name, ns, created),
            "subsets": [subset]}


def project_rbac(g: Gen, project: str, created: datetime) -> None:
    """Kargo's project roles: ServiceAccount, Role and RoleBinding each for admin, viewer and promoter."""
    cl = g.cl
    verbs = {"kargo-admin": ["*"], "kargo-viewer": ["get", "list", "watch"],
             "kargo-promoter": ["get", "list", "watch", "create"]}
    for name, v in verbs.items():
        g.lists.add(f"cluster-resources/serviceaccounts/{project}.json", {
            "apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": cl.meta("ServiceAccount", name, project, created,
                                annotations={"rbac.kargo.akuity.io/claim.groups": f"{project}-{name.split('-')[1]}s"},
                                labels={"rbac.kargo.akuity.io/managed": "true"})})
        g.lists.add(f"cluster-resources/roles/{project}.json", {
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
            "metadata": cl.meta("Role", name, project, created, labels={"rbac.kargo.akuity.io/managed": "true"}),
            "rules": [{"apiGroups": ["kargo.akuity.io"], "resources": ["stages", "promotions", "freights", "warehouses"],
                       "verbs": v}]})
        g.lists.add(f"cluster-resources/rolebindings/{project}.json", {
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": cl.meta("RoleBinding", name, project, created, labels={"rbac.kargo.akuity.io/managed": "true"}),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
            "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": project}]})


def _warehouse_scope(pipe: Pipe) -> list[tuple[str, str | None, str]]:
    return [("Warehouse", pipe.p.project, pipe.p.warehouse)] + [("Stage", pipe.p.project, s.name) for s in pipe.p.stages]


def emit_pipeline(pipe: Pipe, project_rows: dict) -> None:
    g, p = pipe.g, pipe.p
    project = p.project
    base = "cluster-resources/custom-resources"
    apps: dict[str, dict] = {}
    for s in p.stages:
        for a in s.apps:
            apps[a.name] = managed_app(pipe, pipe.runs[s.name], a)
    for s in p.stages:
        run = pipe.runs[s.name]
        stage = pipe.stage_obj(s, created=run.created, generation=run.generation, status=stage_status(pipe, run, apps))
        g.lists.add(f"{base}/stages.kargo.akuity.io/{project}.json", stage)
        ready = next((c for c in stage["status"]["conditions"] if c["type"] == "Ready"), {})
        project_rows["stages"].append([s.name, "", stage["status"].get("freightSummary", ""),
                                       stage["status"].get("health", {}).get("status", ""), ready.get("status", ""),
                                       ready.get("message", ""), sb.human_age(g.C - run.created)])
        for rec in run.promos:
            g.lists.add(f"{base}/promotions.kargo.akuity.io/{project}.json", rec.obj)
            project_rows["promotions"].append([rec.name, "", s.name, rec.freight.name, rec.phase,
                                               sb.human_age(g.C - rec.created)])
            if rec.run is not None:
                g.lists.add(f"{base}/analysisruns.argoproj.io/{project}.json", rec.run)
            if rec.phase == "Succeeded":
                g.promotion_pool.append((project, s.name, rec.name, rec.freight.name, tuple(a.name for a in s.apps),
                                         rec.commit))
        pods: list[tuple[str, dict]] = []
        for a in s.apps:
            g.lists.add(f"cluster-resources/custom-resources/applications.argoproj.io/{ARGOCD_NS}.json", apps[a.name])
            g.app_rows.append([a.name, apps[a.name]["status"]["sync"]["status"], apps[a.name]["status"]["health"]["status"],
                               apps[a.name]["status"]["sync"].get("revision", ""), "default"])
            pods += app_workloads(pipe, run, a)
            g.app_pool.append((a.name, a.dest_ns, IN_CLUSTER, a.auto_sync))
            src = app_source(pipe, s, a)
            g.repo_pool.append((src["repoURL"], src["path"], a.dest_ns, a.name, bool(a.chart)))
            if a.dest_ns not in g.namespaces_made:
                g.namespaces_made.add(a.dest_ns)
                ns_created = pipe.project_created + timedelta(minutes=20)
                g.lists.add("cluster-resources/namespaces.json", sb.namespace_obj(g.cl, a.dest_ns, ns_created))
                namespace_files(g, a.dest_ns, ns_created, configmaps=(f"{a.name}-config",))
        stage_events(pipe, run, {a.name: apps[a.name] for a in s.apps}, pods)
        for a in s.apps:
            if a.dest_ns != ARGOCD_NS:
                g.lists.flush_namespace(a.dest_ns)
    fstatus = freight_statuses(pipe)
    for f in pipe.freights:
        g.lists.add(f"{base}/freights.kargo.akuity.io/{project}.json", sb.freight_obj(pipe.cl, f, fstatus[f.name]))
    g.lists.add(f"{base}/warehouses.kargo.akuity.io/{project}.json", warehouse(pipe))
    g.warehouse_pool.append((project, p.warehouse))


def emit_project(g: Gen, proj: ProjectPlan) -> None:
    project = proj.name
    base = "cluster-resources/custom-resources"
    rows: dict[str, list] = {"stages": [], "promotions": []}
    created = None
    templates: set[str] = set()
    policies = []
    n_stages = healthy = 0
    for p in proj.pipelines:
        with pipeline_scope(p):
            pipe = Pipe(g, p)
            simulate(pipe)
            emit_pipeline(pipe, rows)
            created = min(created or pipe.project_created, pipe.project_created)
            for s in p.stages:
                if s.verification and s.verification != "load-test":
                    templates.add(s.verification)
                policies.append({"autoPromotionEnabled": s.auto, "stage": s.name})
                n_stages += 1
                run = pipe.runs[s.name]
                healthy += 1 if (run.conditions is None and run.recorded() and run.recorded()[-1].phase == "Succeeded") else 0
            if templates:
                for name in sorted(templates):
                    g.lists.add(f"{base}/analysistemplates.argoproj.io/{project}.json",
                                analysis_template(pipe, name, pipe.project_created + timedelta(minutes=3)))
                templates.clear()
    assert created is not None
    cl = g.cl
    status: dict[str, Any] = {"conditions": [sb.condition("Ready", "True", "Synced", "Project is synced and ready for use",
                                                          created + timedelta(seconds=2), 1)]}
    if g.kargo >= (1, 10, 0):
        status["stats"] = {"stages": {"count": n_stages, "health": {"healthy": healthy}},
                           "warehouses": {"count": len(proj.pipelines), "health": {"healthy": len(proj.pipelines)}}}
    project_obj: dict[str, Any] = {
        "apiVersion": "kargo.akuity.io/v1alpha1", "kind": "Project",
        "metadata": cl.meta("Project", project, None, created, g.C - timedelta(minutes=3),
                            annotations={LAST_APPLIED: HIDDEN}, finalizers=["kargo.akuity.io/finalizer"], generation=1),
        "status": status,
    }
    if g.kargo >= (1, 5, 0):
        g.lists.add(f"{base}/projectconfigs.kargo.akuity.io/{project}.json", {
            "apiVersion": "kargo.akuity.io/v1alpha1", "kind": "ProjectConfig",
            "metadata": cl.meta("ProjectConfig", project, project, created + timedelta(seconds=1),
                                annotations={LAST_APPLIED: HIDDEN}, generation=1),
            "spec": {"promotionPolicies": policies},
            "status": {"conditions": [sb.condition("Ready", "True", "Synced",
                                                   "ProjectConfig is synced and ready for use",
                                                   created + timedelta(seconds=3), 1)], "observedGeneration": 1},
        })
    else:
        project_obj["spec"] = {"promotionPolicies": policies}
    g.lists.add(f"{base}/projects.kargo.akuity.io.json", project_obj)
    g.lists.add("cluster-resources/namespaces.json", sb.namespace_obj(
        cl, project, created + timedelta(seconds=1), labels={"kargo.akuity.io/project": "true"},
        finalizers=["kargo.akuity.io/finalizer"]))
    namespace_files(g, project, created, secrets=False)
    project_rbac(g, project, created)
    for rel in (f"{base}/analysisruns.argoproj.io/{project}.json", f"{base}/analysistemplates.argoproj.io/{project}.json"):
        g.lists.touch(rel)
    if "collection-gap" in g.plan.cluster_plants and not g.gaps:
        g.gaps.append({"id": f"secrets/{project}",
                       "argv": ["kubectl", "get", "secrets", "-n", project, "-o", "go-template=...",
                                "--request-timeout=20s"],
                       "exit_code": 1,
                       "stderr": f'Error from server (Forbidden): secrets is forbidden: User "{sb.COLLECTOR_SA}" '
                                 f'cannot list resource "secrets" in API group "" in the namespace "{project}"'})
        g.plant("collection-gap", [("Secret", project, "*")])
    else:
        g.lists.add(f"cluster-resources/secrets/{project}.json", _repo_secret(g, project, created))
    g.lists.flush_namespace(project)
    g.views[f"views/stages-wide-{project}.txt"] = [["NAME", "SHARD", "CURRENT FREIGHT", "HEALTH", "READY", "STATUS", "AGE"]] + sorted(rows["stages"])
    g.views[f"views/promotions-{project}.txt"] = [["NAME", "SHARD", "STAGE", "FREIGHT", "PHASE", "AGE"]] + sorted(rows["promotions"])


def _repo_secret(g: Gen, project: str, created: datetime) -> dict:
    """A repository credentials Secret as the collector keeps it: names, type and key names only."""
    return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": g.cl.meta("Secret", f"{project}-git-creds", project, created,
                                  labels={"kargo.akuity.io/cred-type": "git"}),
            "data": {"password": "", "repoURL": "", "username": ""}}


# ---------------------------------------------------------------- Applications Kargo does not promote


def emit_unmanaged(g: Gen) -> None:
    cl, C = g.cl, g.C
    rng = random.Random(f"unmanaged/{g.plan.seed}")
    for idx, ua in enumerate(g.plan.unmanaged):
        created = C - timedelta(days=rng.randint(20, 300), minutes=rng.randint(0, 1439))
        src = {"chart": ua.addon, "helm": {"releaseName": ua.addon}, "repoURL": ua.repo, "targetRevision": ua.version}
        revision = ua.version
        synced_at = C - timedelta(hours=rng.uniform(2, 24 * 20))
        op_start, op_end = synced_at, synced_at + timedelta(seconds=rng.randint(4, 40))
        retry = {"backoff": {"duration": "5s", "factor": 2, "maxDuration": "3m"}, "limit": 5}
        automated_op = {"initiatedBy": {"automated": True}, "retry": retry,
                        "sync": {"revision": revision, "syncOptions": ["CreateNamespace=true", "ServerSideApply=true"]}}
        res_kinds = [("apps", "Deployment", ua.addon), ("", "Service", ua.addon), ("", "ServiceAccount", ua.addon),
                     ("", "ConfigMap", f"{ua.addon}-config")]
        sync_res = [{"group": grp, "hookPhase": "Running", "kind": kind, "message": f"{kind.lower()}/{name} serverside-applied",
                     "name": name, "namespace": ua.dest_ns, "status": "Synced", "syncPhase": "Sync", "version": "v1"}
                    for grp, kind, name in res_kinds]
        op = {"finishedAt": ts(op_end), "message": "successfully synced (all tasks run)", "operation": automated_op,
              "phase": "Succeeded", "startedAt": ts(op_start),
              "syncResult": {"resources": sync_res, "revision": revision, "source": src}}
        history = []
        n_hist = rng.randint(1, 5)
        for i in range(n_hist):
            at = op_start - timedelta(days=(n_hist - 1 - i) * rng.randint(3, 20))
            history.append({"deployStartedAt": ts(at), "deployedAt": ts(at + timedelta(seconds=12)), "id": i + 1,
                            "initiatedBy": {"automated": True}, "revision": revision, "source": src})
        health, sync_status, conditions, operation = "Healthy", "Synced", None, None
        health_changed = op_end + timedelta(seconds=5)
        reconciled = C - timedelta(seconds=rng.randint(5, 175))
        res_state = {kind: ("Synced", "Healthy") for _g, kind, _n in res_kinds}
        health_message = None
        plant = ua.plant
        subject = [("Application", ARGOCD_NS, ua.name)]
        role = f"ctrl:{g.shard_of(ua.name)}"
        fields = g.app_fields(ua.name)
        if plant == "app-manifest-failed":
            since = C - timedelta(minutes=rng.randint(15, 600))
            src = dict(src, targetRevision=_bump(ua.version))
            err = (f"`helm template . --name-template {ua.addon} --namespace {ua.dest_ns} --kube-version 1.30 "
                   f"--values /tmp/{sb.make_uid('values', ua.name)}/values.yaml --include-crds` failed exit status 1: "
                   f"Error: template: {ua.addon}/templates/deployment.yaml:42:20: executing "
                   f"\"{ua.addon}/templates/deployment.yaml\" at <.Values.image.repository>: nil pointer evaluating "
                   "interface {}.repository")
            conditions = [{"lastTransitionTime": ts(since), "type": "ComparisonError",
                           "message": "Failed to load target state: failed to generate manifest for source 1 of 1: "
                                      f"rpc error: code = Unknown desc = {err}"}]
            sync_status, revision = "Unknown", None
            g.incident(f"repo:{rng.randrange(g.plan.repo_server_replicas)}", since,
                       g.argocd_line(since, "error", err, dir=f"/tmp/_argocd-repo/{sb.make_uid('repo', ua.repo)}",
                                     execID=sb.safe_suffix(5, ua.name)))
        elif plant in ("app-crd-missing", "app-sync-failed"):
            failed_at = C - timedelta(minutes=rng.randint(10, 180))
            if plant == "app-crd-missing":
                message = ("The Kubernetes API could not find monitoring.coreos.com/ServiceMonitor for requested "
                           f"resource {ua.dest_ns}/{ua.addon}. Make sure the \"ServiceMonitor\" CRD is installed on the "
                           "destination cluster.")
                bad = {"group": "monitoring.coreos.com", "hookPhase": "Failed", "kind": "ServiceMonitor",
                       "message": message, "name": ua.addon, "namespace": ua.dest_ns, "status": "SyncFailed",
                       "syncPhase": "Sync", "version": "v1"}
                op_message = "one or more synchronization tasks are not valid (retried 5 times)."
            else:
                message = (f'admission webhook "validate.kyverno.svc-fail" denied the request: \n\nresource '
                           f"Deployment/{ua.dest_ns}/{ua.addon} was blocked due to the following policies \n\n"
                           "disallow-privileged-containers:\n  privileged-containers: 'validation error: Privileged "
                           "mode is disallowed. rule privileged-containers failed at path "
                           "/spec/template/spec/containers/0/securityContext/privileged/'\n")
                bad = {"group": "apps", "hookPhase": "Failed", "kind": "Deployment", "message": message,
                       "name": ua.addon, "namespace": ua.dest_ns, "status": "SyncFailed", "syncPhase": "Sync",
                       "version": "v1"}
                op_message = "one or more synchronization tasks completed unsuccessfully, reason: " + message + \
                             " (retried 5 times)."
            new_rev = _bump(ua.version)
            src = dict(src, targetRevision=new_rev)
            op = {"finishedAt": ts(failed_at), "message": op_message,
                  "operation": dict(automated_op, sync={"revision": new_rev, "syncOptions": ["CreateNamespace=true"]}),
                  "phase": "Failed", "retryCount": 5, "startedAt": ts(failed_at - timedelta(minutes=3)),
                  "syncResult": {"resources": [r for r in sync_res if r["kind"] != bad["kind"]] + [bad],
                                 "revision": new_rev, "source": src}}
            sync_status = "OutOfSync"
            g.incident(role, failed_at, g.argocd_line(
                failed_at, "info", f"Adding resource result, status: 'SyncFailed', phase: '', message: '{message}'",
                **fields, kind=bad["kind"], name=ua.addon, namespace=ua.dest_ns, phase="Sync", syncId="00005-x9Kq2"))
            g.incident(role, failed_at, g.argocd_line(
                failed_at, "info", f"Sync operation to {new_rev} failed: {op_message}", **fields,
                **{"dest-namespace": ua.dest_ns, "dest-server": ua.server}, reason="OperationCompleted", type="Warning"))
            g.app_events.append((ua.name, "OperationCompleted", f"Sync operation to {new_rev} failed: {op_message}",
                                 failed_at, "Warning"))
        elif plant == "app-project-denied":
            since = C - timedelta(hours=rng.randint(1, 30))
            conditions = [{"lastTransitionTime": ts(since), "type": "InvalidSpecError",
                           "message": f"application destination server '{ua.server}' and namespace '{ua.dest_ns}' do "
                                      "not match any of the allowed destinations in project 'restricted'"}]
            sync_status, health, revision, op = "Unknown", "Unknown", None, None
            history = []
        elif plant == "app-live-state-failed":
            since = C - timedelta(minutes=rng.randint(20, 300))
            err = (f'failed to sync cluster {ua.server}: failed to load initial state of resource '
                   'Ingress.networking.k8s.io: ingresses.networking.k8s.io is forbidden: User '
                   f'"system:serviceaccount:{ARGOCD_NS}:argocd-application-controller" cannot list resource '
                   '"ingresses" in API group "networking.k8s.io" at the cluster scope')
            conditions = [{"lastTransitionTime": ts(since), "type": "ComparisonError",
                           "message": f'Failed to load live state: failed to get cluster info for "{ua.server}": '
                                      f"error synchronizing cache state : {err}"}]
            sync_status, revision = "Unknown", None
            g.incident(role, since, g.argocd_line(since, "error", "Failed to sync cluster", error=err, server=ua.server))
        elif plant == "app-stale-operation":
            person = f"{rng.choice(PEOPLE)}@example.com"
            t0 = C - timedelta(days=3, hours=rng.randint(0, 20))
            denial = (f'admission webhook "validate.kyverno.svc-fail" denied the request: \n\nresource '
                      f"Deployment/{ua.dest_ns}/{ua.addon} was blocked due to the following policies \n\n"
                      "require-requests-limits:\n  validate-resources: 'validation error: CPU and memory resource "
                      "requests and limits are required.'\n")
            op = {"finishedAt": ts(t0 + timedelta(seconds=9)),
                  "message": "one or more synchronization tasks completed unsuccessfully, reason: " + denial,
                  "operation": {"initiatedBy": {"username": person}, "retry": {},
                                "sync": {"revision": f"{ua.version}-rc.1", "syncOptions": ["CreateNamespace=true"]}},
                  "phase": "Failed", "startedAt": ts(t0),
                  "syncResult": {"resources": [dict(sync_res[0], hookPhase="Failed", message=denial,
                                                    status="SyncFailed")], "revision": f"{ua.version}-rc.1",
                                 "source": src}}
        elif plant == "app-operation-stuck":
            started = C - timedelta(hours=2, minutes=rng.randint(5, 50))
            op = {"message": f"waiting for completion of hook batch/Job/{ua.addon}-pre-upgrade", "operation": automated_op,
                  "phase": "Running", "startedAt": ts(started),
                  "syncResult": {"resources": [{"group": "batch", "hookPhase": "Running", "hookType": "PreSync",
                                                "kind": "Job", "message": f"job.batch/{ua.addon}-pre-upgrade created",
                                                "name": f"{ua.addon}-pre-upgrade", "namespace": ua.dest_ns,
                                                "syncPhase": "PreSync", "version": "v1"}],
                                 "revision": revision, "source": src}}
            operation = automated_op
            sync_status, health = "OutOfSync", "Progressing"
            health_changed = started + timedelta(seconds=3)
            t = started + timedelta(minutes=3)
            while t < C:
                g.incident(role, t, g.argocd_line(t, "info", "Skipping auto-sync: another operation is in progress",
                                                  **fields))
                t += timedelta(minutes=3, seconds=rng.randint(0, 30))
        elif plant == "app-degraded":
            since = C - timedelta(minutes=rng.randint(20, 400))
            health, health_changed = "Degraded", since
            res_state["Deployment"] = ("Synced", "Degraded")
            health_message = f'Deployment "{ua.addon}" exceeded its progress deadline'
            g.app_events.append((ua.name, "ResourceUpdated", "Updated health status: Healthy -> Degraded", since,
                                 "Normal"))
        elif plant == "selfheal-pending":
            deleted = C - timedelta(seconds=rng.randint(40, 70))
            person = f"{rng.choice(PEOPLE)}@example.com"
            res_state["Deployment"] = ("OutOfSync", "Missing")
            sync_status, health, health_changed = "OutOfSync", "Missing", deleted + timedelta(seconds=5)
            reconciled = deleted + timedelta(seconds=8)
            g.app_events.append((ua.name, "ResourceDeleted", f"deleted resource apps/Deployment '{ua.addon}'",
                                 deleted, f"user:{person}"))
        if plant:
            g.plant(plant, subject)
        resources = [(grp, kind, name, *res_state[kind]) for grp, kind, name in res_kinds]
        policy = {"automated": {"prune": True, "selfHeal": True}, "retry": retry,
                  "syncOptions": ["CreateNamespace=true", "ServerSideApply=true"]}
        obj = application_obj(
            g, cl, name=ua.name, project=ua.project, source=src, dest_server=ua.server, dest_ns=ua.dest_ns,
            created=created, generation=rng.randint(20, 4000), sync_status=sync_status, revision=revision,
            health=health, health_changed=health_changed, reconciled=reconciled, op_state=op, history=history,
            images=[f"registry.example.com/mirror/{ua.addon}:{ua.version}"], resources=resources,
            annotations={LAST_APPLIED: HIDDEN}, sync_policy=policy, conditions=conditions, operation=operation,
            health_message=health_message)
        g.lists.add(f"cluster-resources/custom-resources/applications.argoproj.io/{ARGOCD_NS}.json", obj)
        g.app_rows.append([ua.name, sync_status, health, revision or "", ua.project])
        g.app_pool.append((ua.name, ua.dest_ns, ua.server, True))
        g.repo_pool.append((ua.repo, ua.addon, ua.dest_ns, ua.addon, True))
        for _app, reason, message, at, type_ in [e for e in g.app_events if e[0] == ua.name]:
            user = type_.removeprefix("user:") if type_.startswith("user:") else None
            add_event(g, app_event(g, cl, obj, reason, message, at, type_="Normal" if user else type_, user=user))
        # Routine auto-syncs in the last hours.
        left = len(g.plan.unmanaged) - idx
        budget = (g.plan.targets["events"] - g.events_made) / max(1, left) * rng.uniform(0.8, 1.2)
        made = 0
        while made < budget:
            at = C - timedelta(seconds=rng.randint(600, int(EVENT_WINDOW.total_seconds())))
            for reason, message, dt in (("OperationStarted", f"Initiated automated sync to '{revision or ua.version}'", 0),
                                        ("OperationCompleted", f"Sync operation to {revision or ua.version} succeeded", 9),
                                        ("ResourceUpdated", "Updated health status: Progressing -> Healthy", 14)):
                add_event(g, app_event(g, cl, obj, reason, message, at + timedelta(seconds=dt)))
            made += 3


def _bump(version: str) -> str:
    m = re.match(r"^(v?)(\d+)\.(\d+)\.(\d+)(.*)$", version)
    if not m:
        return version + "-next"
    return f"{m.group(1)}{m.group(2)}.{int(m.group(3)) + 1}.0"


# ---------------------------------------------------------------- control planes


def control_plane(g: Gen) -> None:
    cl, C, plan = g.cl, g.C, g.plan
    kargo_installed = C - timedelta(days=61, hours=3)
    argocd_installed = C - timedelta(days=190, hours=5)
    namespaces = [
        sb.namespace_obj(cl, "default", sb.CLUSTER_BORN), sb.namespace_obj(cl, "kube-node-lease", sb.CLUSTER_BORN),
        sb.namespace_obj(cl, "kube-public", sb.CLUSTER_BORN), sb.namespace_obj(cl, "kube-system", sb.CLUSTER_BORN),
        sb.namespace_obj(cl, ARGOCD_NS, argocd_installed - timedelta(minutes=1)),
        sb.namespace_obj(cl, KARGO_NS, kargo_installed - timedelta(minutes=1)),
        sb.namespace_obj(cl, "argo-rollouts", kargo_installed - timedelta(minutes=20)),
        sb.namespace_obj(cl, "cert-manager", argocd_installed - timedelta(days=3)),
        sb.namespace_obj(cl, "monitoring", argocd_installed - timedelta(days=2)),
        sb.namespace_obj(cl, "support", kargo_installed + timedelta(days=3)),
    ]
    if g.kargo >= (1, 6, 0):
        namespaces.append(sb.namespace_obj(cl, "kargo-cluster-secrets", kargo_installed))
    if g.kargo >= (1, 9, 0):
        namespaces.append(sb.namespace_obj(cl, "kargo-shared-resources", kargo_installed))
        namespaces.append(sb.namespace_obj(cl, "kargo-system-resources", kargo_installed))
    for ns in namespaces:
        g.lists.add("cluster-resources/namespaces.json", ns)
        g.namespaces_made.add(ns["metadata"]["name"])
    for i, name in enumerate(plan.nodes):
        node = sb.node_obj(cl, name)
        for cond in node["status"]["conditions"]:
            cond["lastHeartbeatTime"] = ts(C - timedelta(seconds=5 + i % 37))
        g.lists.add("cluster-resources/nodes.json", node)

    kargo = sb.kargo_workloads(cl, kargo_installed)
    unreachable = {"reason": "Error", "exitCode": 2, "finishedAt": g.unreachable_at,
                   "readyAt": g.unreachable_at + timedelta(seconds=38)}
    argo = sb.argocd_workloads(cl, argocd_installed, repo_server_restart=unreachable)
    by_name = {w.controller["metadata"]["name"]: w for w in argo}
    # Application controller shards (a StatefulSet) and repo-server replicas.
    sts = by_name["argocd-application-controller"]
    sts.controller["spec"]["replicas"] = plan.app_controller_shards
    sts.controller["status"].update({k: plan.app_controller_shards for k in
                                        ("availableReplicas", "currentReplicas", "readyReplicas", "replicas",
                                         "updatedReplicas")})
    env = sts.controller["spec"]["template"]["spec"]["containers"][0].setdefault("env", [])
    env.append({"name": "ARGOCD_CONTROLLER_REPLICAS", "value": str(plan.app_controller_shards)})
    extra_pods = []
    tmpl = [_strip_token_mount(c) for c in sts.pod["spec"]["containers"]]
    for i in range(1, plan.app_controller_shards):
        name = f"argocd-application-controller-{i}"
        labels = dict(sts.pod["metadata"]["labels"], **{"apps.kubernetes.io/pod-index": str(i),
                                                           "statefulset.kubernetes.io/pod-name": name})
        run = sb.ContainerRun(started=argocd_installed + timedelta(seconds=20 + 9 * i))
        extra_pods.append(sb.pod_obj(cl, ARGOCD_NS, name, labels, argocd_installed + timedelta(seconds=12 + 9 * i), tmpl,
                                     {tmpl[0]["name"]: run}, sts.pod["metadata"]["ownerReferences"][0],
                                     service_account="argocd-application-controller",
                                     extra_volumes=[v for v in sts.pod["spec"]["volumes"]
                                                    if not v["name"].startswith("kube-api-access-")],
                                     generate_name="argocd-application-controller-"))
    repo = by_name["argocd-repo-server"]
    assert repo.replicaset is not None
    limits = {"limits": {"memory": "1Gi"}, "requests": {"cpu": "250m", "memory": "512Mi"}}
    repo.controller["spec"]["template"]["spec"]["containers"][0]["resources"] = limits
    repo.replicaset["spec"]["template"]["spec"]["containers"][0]["resources"] = limits
    repo.pod["spec"]["containers"][0]["resources"] = limits
    rs_name = repo.replicaset["metadata"]["name"]
    repo_pods = [repo.pod]
    rtmpl = [_strip_token_mount(c) for c in repo.pod["spec"]["containers"]]
    rinit = [_strip_token_mount(c) for c in repo.pod["spec"].get("initContainers", [])]
    vols = [v for v in repo.pod["spec"]["volumes"] if not v["name"].startswith("kube-api-access-")]
    for i in range(1, plan.repo_server_replicas):
        name = f"{rs_name}-{sb.safe_suffix(5, cl.slug, 'repo', i)}"
        started = argocd_installed + timedelta(days=30, seconds=6 + i)
        run = sb.ContainerRun(started=started)
        if i == 1:
            run = sb.ContainerRun(started=g.oom_at + timedelta(seconds=1), restarts=1,
                                  last_terminated={"reason": "OOMKilled", "exitCode": 137, "startedAt": started,
                                                   "finishedAt": g.oom_at})
            run.ready_at = g.oom_at + timedelta(seconds=41)
        pod = sb.pod_obj(cl, ARGOCD_NS, name, repo.pod["metadata"]["labels"], started - timedelta(seconds=5), rtmpl,
                         {rtmpl[0]["name"]: run}, repo.pod["metadata"]["ownerReferences"][0],
                         service_account="argocd-repo-server", extra_volumes=vols, init_containers=rinit,
                         generate_name=f"{rs_name}-")
        repo_pods.append(pod)
        extra_pods.append(pod)
    n = plan.repo_server_replicas
    for obj in (repo.controller, repo.replicaset):
        obj["spec"]["replicas"] = n
        obj["status"].update({"replicas": n, "readyReplicas": n, "availableReplicas": n})
        if "updatedReplicas" in obj["status"]:
            obj["status"]["updatedReplicas"] = n
        if "fullyLabeledReplicas" in obj["status"]:
            obj["status"]["fullyLabeledReplicas"] = n
    g.repo_server_pods = [p["metadata"]["name"] for p in repo_pods]
    g.kargo_pod = next(w.pod["metadata"]["name"] for w in kargo if w.controller["metadata"]["name"] == "kargo-controller")
    # controller-down: the ApplicationSet controller is crash-looping.
    appset = by_name["argocd-applicationset-controller"]
    if "controller-down" in plan.cluster_plants:
        pod = appset.pod
        last_end = C - timedelta(minutes=3, seconds=12)
        st = pod["status"]["containerStatuses"][0]
        st["restartCount"] = 23
        st["lastState"] = {"terminated": {"containerID": st["containerID"], "exitCode": 1, "finishedAt": ts(last_end),
                                          "reason": "Error", "startedAt": ts(last_end - timedelta(seconds=4))}}
        _crashloop(pod, st["name"], last_end)
        for obj in (appset.controller, appset.replicaset):
            assert obj is not None
            obj["status"].pop("readyReplicas", None)
            obj["status"]["availableReplicas"] = 0
        appset.controller["status"]["unavailableReplicas"] = 1
        appset.controller["status"]["conditions"][0].update(
            {"message": "Deployment does not have minimum availability.", "reason": "MinimumReplicasUnavailable",
             "status": "False"})
        add_event(g, sb.event_obj(cl, ARGOCD_NS, sb.involved(pod, f"spec.containers{{{st['name']}}}"), "BackOff",
                                  f"Back-off restarting failed container {st['name']} in pod {pod['metadata']['name']}"
                                  f"_{ARGOCD_NS}({pod['metadata']['uid']})", C - timedelta(hours=1, minutes=52),
                                  C - timedelta(seconds=40), count=412, type_="Warning", component="kubelet",
                                  host=pod["spec"]["nodeName"], reporting="kubelet"))
        g.plant("controller-down", [], [("Pod", ARGOCD_NS, pod["metadata"]["name"]),
                                        ("Deployment", ARGOCD_NS, "argocd-applicationset-controller")])
    sb.add_workloads(cl, KARGO_NS, kargo)
    sb.add_workloads(cl, ARGOCD_NS, argo)
    for pod in extra_pods:
        cl.add(f"cluster-resources/pods/{ARGOCD_NS}.json", pod)
    sb.control_plane_services(cl, kargo_installed, argocd_installed, g.repo_ip)
    cl.add(f"cluster-resources/custom-resources/appprojects.argoproj.io/{ARGOCD_NS}.json",
           sb.appproject_obj(cl, argocd_installed + timedelta(seconds=20)))
    for name, destinations in (("platform", [{"namespace": "*", "server": "*"}]),
                               ("restricted", [{"namespace": "team-*", "server": IN_CLUSTER}])):
        proj = sb.appproject_obj(cl, argocd_installed + timedelta(days=2))
        proj["metadata"] = cl.meta("AppProject", name, ARGOCD_NS, argocd_installed + timedelta(days=2), generation=1)
        proj["spec"]["destinations"] = destinations
        cl.add(f"cluster-resources/custom-resources/appprojects.argoproj.io/{ARGOCD_NS}.json", proj)
    # The repo-server that crashed (connection refused) and the one that was OOM-killed came back.
    r0 = repo.pod
    add_event(g, sb.event_obj(cl, ARGOCD_NS, sb.involved(r0, "spec.containers{argocd-repo-server}"), "Unhealthy",
                              f'Readiness probe failed: Get "http://{r0["status"]["podIP"]}:8084/healthz": dial tcp '
                              f'{r0["status"]["podIP"]}:8084: connect: connection refused',
                              g.unreachable_at + timedelta(seconds=7), g.unreachable_at + timedelta(seconds=31),
                              count=3, type_="Warning", component="kubelet", host=r0["spec"]["nodeName"],
                              reporting="kubelet"))
    for ev in sb.pod_start_events(cl, r0, "argocd-repo-server", sb.argocd_image(cl),
                                  g.unreachable_at + timedelta(seconds=1)):
        add_event(g, ev)
    for rel, objs in cl.files.items():
        for obj in objs:
            g.lists.add(rel, obj)
    cl.files.clear()
    for ns, sas in ((KARGO_NS, ("kargo-api", "kargo-controller", "kargo-management-controller",
                                 "kargo-webhooks-server", "kargo-external-webhooks-server")),
                    (ARGOCD_NS, ("argocd-application-controller", "argocd-applicationset-controller",
                                 "argocd-repo-server", "argocd-server", "argocd-redis"))):
        namespace_files(g, ns, argocd_installed if ns == ARGOCD_NS else kargo_installed, service_accounts=sas)
    cluster_rbac(g, kargo_installed, argocd_installed)


CRDS = (
    ("kargo.akuity.io", "Namespaced", [("Stage", "stages"), ("Promotion", "promotions"), ("Freight", "freights"),
                                       ("Warehouse", "warehouses"), ("ProjectConfig", "projectconfigs"),
                                       ("PromotionTask", "promotiontasks")]),
    ("kargo.akuity.io", "Cluster", [("Project", "projects"), ("ClusterPromotionTask", "clusterpromotiontasks"),
                                    ("ClusterConfig", "clusterconfigs")]),
    ("argoproj.io", "Namespaced", [("Application", "applications"), ("ApplicationSet", "applicationsets"),
                                   ("AppProject", "appprojects"), ("AnalysisRun", "analysisruns"),
                                   ("AnalysisTemplate", "analysistemplates"), ("Experiment", "experiments"),
                                   ("Rollout", "rollouts")]),
    ("argoproj.io", "Cluster", [("ClusterAnalysisTemplate", "clusteranalysistemplates")]),
    ("cert-manager.io", "Namespaced", [("Certificate", "certificates"), ("Issuer", "issuers")]),
    ("monitoring.coreos.com", "Namespaced", [("ServiceMonitor", "servicemonitors"), ("PodMonitor", "podmonitors"),
                                             ("PrometheusRule", "prometheusrules")]),
)


def cluster_rbac(g: Gen, kargo_installed: datetime, argocd_installed: datetime) -> None:
    cl = g.cl
    for name, ns, created in (("argocd-application-controller", ARGOCD_NS, argocd_installed),
                              ("argocd-server", ARGOCD_NS, argocd_installed),
                              ("kargo-controller", KARGO_NS, kargo_installed), ("kargo-api", KARGO_NS, kargo_installed),
                              ("kargo-management-controller", KARGO_NS, kargo_installed)):
        g.lists.add("cluster-resources/clusterroles.json", {
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": cl.meta("ClusterRole", name, None, created),
            "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["get", "list", "watch"]}]})
        g.lists.add("cluster-resources/clusterrolebindings.json", {
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": cl.meta("ClusterRoleBinding", name, None, created),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
            "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": ns}]})
    for group, scope, kinds in CRDS:
        for kind, plural in kinds:
            created = kargo_installed if group == "kargo.akuity.io" else argocd_installed
            g.lists.add("cluster-resources/customresourcedefinitions.json", {
                "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
                "metadata": {"name": f"{plural}.{group}", "creationTimestamp": ts(created), "generation": 1,
                             "labels": {}, "annotations": {}},
                "spec": {"group": group, "scope": scope,
                         "names": {"kind": kind, "plural": plural, "singular": kind.lower(), "shortNames": [],
                                   "categories": []},
                         "versions": [{"name": "v1alpha1" if group != "cert-manager.io" and group != "monitoring.coreos.com"
                                       else "v1", "served": True, "storage": True, "deprecated": False,
                                       "additionalPrinterColumns": []}]},
                "status": {"storedVersions": ["v1alpha1"]}})


def _strip_token_mount(c: dict) -> dict:
    c = dict(c)
    mounts = [m for m in c.get("volumeMounts", []) if not m["name"].startswith("kube-api-access-")]
    if mounts:
        c["volumeMounts"] = mounts
    else:
        c.pop("volumeMounts", None)
    return c


# ---------------------------------------------------------------- logs
#
# Routine lines come from %-templates built once per line kind; per line only
# the time, the entity (an Application, a Promotion, a repository) and a few
# numbers change. Planted lines (the scenarios' warnings and errors) are
# merged in at their times.

_MARK = re.compile(r"@@#?(\w+)@@")


def _tpl(body: str) -> tuple[str, tuple[str, ...]]:
    names = tuple(_MARK.findall(body))
    return _MARK.sub("%s", body.replace("%", "%%")), names


def _argo_body(g: Gen, level: str, msg: str, fields: dict) -> tuple[str, tuple[str, ...]]:
    fields = {k.replace("_", "-") if k in ("app_namespace", "app_qualified_name", "dest_server", "dest_namespace",
                                           "dest_name", "comparison_level") else k: v for k, v in fields.items()}
    if g.argocd >= (3, 0, 0):
        record = dict(fields, level=level, msg=msg, time="@@T@@")
        body = json.dumps(dict(sorted(record.items())), separators=(",", ":"), ensure_ascii=False)
        body = body.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
        body = re.sub(r'"(@@#\w+@@)"', r"\1", body)
    else:
        fields = {k: (v.replace("@@#", "@@") if isinstance(v, str) else v) for k, v in fields.items()}
        parts = ['time="@@T@@"', f"level={level}", f"msg={sb.logrus_value(msg)}"]
        parts += [f"{k}={sb.logrus_value(v)}" for k, v in sorted(fields.items())]
        body = " ".join(parts)
    return _tpl(body)


def _kargo_body(g: Gen, level: str, caller: str, msg: str, fields: list[tuple[str, Any]]) -> tuple[str, tuple[str, ...]]:
    if g.kargo >= (1, 8, 0):
        line = f"@@T@@\t{level}\t{caller}\t{msg}"
        if fields:
            line += "\t{" + ",".join(f"{json.dumps(k)}:{json.dumps(v, separators=(',', ':'))}" for k, v in fields) + "}"
        return _tpl(line)
    seen = dict(fields)
    parts = ['time="@@T@@"', f"level={level.lower()}", f"msg={sb.logrus_value(msg)}"]
    parts += [f"{k}={sb.logrus_value(v)}" for k, v in sorted(seen.items())]
    return _tpl(" ".join(parts))


def _fill(tpl: tuple[str, tuple[str, ...]], vals: dict) -> str:
    return tpl[0] % tuple([vals[n] for n in tpl[1]])


class Episodes:
    """Routine log episodes of one component: a few lines about one entity at one instant."""

    def __init__(self, g: Gen, kind: str):
        self.g, self.kind = g, kind
        a = g.argocd
        if kind == "ctrl":
            qualified = {"app_qualified_name": "argocd/@@A@@"} if a < (3, 1, 0) else {}
            app = {"app_namespace": ARGOCD_NS, "application": "@@A@@", "project": "@@P@@", **qualified}
            expiry = "2m0s" if a >= (3, 0, 0) else "3m0s"
            self.t_refresh = [
                _argo_body(g, "info", f"Refreshing app status (comparison expired, requesting refresh. reconciledAt: "
                                      f"@@R@@, expiry: {expiry}), level (2)", app),
                _argo_body(g, "info", "Refreshing app status (controller refresh requested), level (1)", app),
                _argo_body(g, "info", "Refreshing app status (normal refresh requested), level (2)", app),
            ]
            self.t_compare = _argo_body(g, "info", "Comparing app state (cluster: @@S@@, namespace: @@N@@)", app)
            self.t_update = _argo_body(g, "info", "Update successful", app)
            self.t_nochange = _argo_body(g, "info", "No status changes. Skipping patch", app)
            timing = {k: f"@@#{k}@@" for k in ("dedup_ms", "diff_ms", "git_ms", "health_ms", "live_ms", "patch_ms",
                                               "setop_ms", "settings_ms", "sync_ms", "time_ms")}
            self.t_done = _argo_body(g, "info", "Reconciliation completed", dict(
                app, comparison_level="@@#cl@@", dest_name="", dest_namespace="@@N@@", dest_server="@@S@@", **timing))
            self.t_cluster = [_argo_body(g, "info", "Start syncing cluster", {"server": "@@S@@"}),
                              _argo_body(g, "info", "Cluster successfully synced", {"server": "@@S@@"})]
        elif kind == "repo":
            d = {"dir": "/tmp/_argocd-repo/@@U@@", "execID": "@@X@@"}
            self.t_fetch = _argo_body(g, "info", "git fetch origin --tags --force --prune", d)
            self.t_checkout = _argo_body(g, "info", "git checkout --force @@H@@", d)
            self.t_clean = _argo_body(g, "info", "git clean -ffdx", d)
            self.t_kustomize = _argo_body(g, "info", "kustomize build /tmp/_argocd-repo/@@U@@/@@C@@", d)
            self.t_helm = _argo_body(g, "info", "helm template . --name-template @@L@@ --namespace @@N@@ "
                                                "--kube-version 1.30 --include-crds",
                                     {"dir": "/tmp/_argocd-repo/@@U@@/@@C@@", "execID": "@@X@@"})
            self.t_calls = {}
            for method in ("GenerateManifest", "ResolveRevision", "GetRevisionMetadata", "GetAppDetails"):
                if a >= (3, 0, 0):
                    self.t_calls[method] = _argo_body(g, "info", "finished call", {
                        "grpc.code": "OK", "grpc.component": "server", "grpc.method": method,
                        "grpc.method_type": "unary", "grpc.service": "repository.RepoServerService",
                        "grpc.start_time": "@@T@@", "grpc.time_ms": "@@ms@@", "peer.address": "@@I@@",
                        "protocol": "grpc"})
                else:
                    self.t_calls[method] = _argo_body(g, "info", "finished unary call with code OK", {
                        "grpc.code": "OK", "grpc.method": method, "grpc.service": "repository.RepoServerService",
                        "grpc.start_time": "@@T@@", "grpc.time_ms": "@@ms@@", "span.kind": "server",
                        "system": "grpc"})
        else:
            v11 = g.kargo >= (1, 11, 0)
            base = [("namespace", "@@P@@"), ("promotion", "@@M@@"), ("namespace", "@@P@@"), ("promotion", "@@M@@"),
                    ("stage", "@@G@@"), ("freight", "@@F@@")]
            app = [("app", "@@A@@"), ("namespace", ARGOCD_NS)]
            upd = "builtin/argocd_updater.go"
            self.t_kargo = [
                _kargo_body(g, "INFO", f"promotions/promotions.go:{388 if v11 else 369}", "began promotion", base),
                _kargo_body(g, "INFO", f"{upd}:{165 if v11 else 161}", "executing argocd-update promotion step", base),
                _kargo_body(g, "INFO", f"{upd}:{317 if v11 else 313}", "Argo CD Application requires update", base + app),
                _kargo_body(g, "INFO", f"{upd}:{558 if v11 else 554}", "desired revisions were observably applied",
                            base + app),
                _kargo_body(g, "INFO", f"{upd}:{235 if v11 else 231}", "done executing argocd-update promotion step",
                            base + [("status", "Succeeded")]),
                _kargo_body(g, "INFO", f"promotions/promotions.go:{437 if v11 else 418}", "promotion",
                            base + [("phase", "Succeeded")]),
            ]

    def entity(self, item: tuple) -> dict:
        if self.kind == "ctrl":
            name, ns, server, _auto = item
            return {"A": name, "N": ns, "S": server, "P": "default" if server == IN_CLUSTER else "platform"}
        if self.kind == "repo":
            repo, path, ns, release, chart = item
            return {"U": sb.make_uid("repo", repo), "C": path, "N": ns, "L": release, "chart": chart,
                    "H": sb.sha1_hex(f"{repo}/{path}")}
        project, stage, promo, freight, apps, _commit = item
        return {"P": project, "G": stage, "M": promo, "F": freight, "A": apps[0]}

    def lines(self, ent: dict, T: str, R: str, rng: random.Random) -> list[str]:
        r = rng.random
        if self.kind == "ctrl":
            if r() < 0.01:
                vals = {"T": T, "S": ent["S"]}
                return [_fill(t, vals) for t in self.t_cluster]
            x = r()
            refresh = self.t_refresh[0 if x < 0.8 else 1 if x < 0.95 else 2]
            vals = dict(ent, T=T, R=R, cl=2 if x < 0.8 else 1, dedup_ms=0, diff_ms=int(r() * 9), git_ms=int(r() * 60),
                        health_ms=int(r() * 3), live_ms=int(r() * 5), patch_ms=int(r() * 30), setop_ms=0,
                        settings_ms=0, sync_ms=0)
            vals["time_ms"] = vals["diff_ms"] + vals["git_ms"] + vals["patch_ms"] + int(r() * 20) + 3
            return [_fill(refresh, vals), _fill(self.t_compare, vals),
                    _fill(self.t_update if r() < 0.25 else self.t_nochange, vals), _fill(self.t_done, vals)]
        if self.kind == "repo":
            vals = dict(ent, T=T, X="".join(rng.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(5)),
                        ms=f"{1 + r() * 900:.3f}", I=f"10.244.{int(r() * 2) + 1}.{int(r() * 250) + 2}:"
                                                    f"{40000 + int(r() * 20000)}")
            out = []
            if r() < 0.4:
                out.append(_fill(self.t_calls["ResolveRevision"], vals))
            out += [_fill(self.t_fetch, vals), _fill(self.t_checkout, vals), _fill(self.t_clean, vals),
                    _fill(self.t_helm if ent["chart"] else self.t_kustomize, vals),
                    _fill(self.t_calls["GenerateManifest"], vals)]
            if r() < 0.2:
                out.append(_fill(self.t_calls["GetRevisionMetadata" if r() < 0.5 else "GetAppDetails"], vals))
            return out
        vals = dict(ent, T=T)
        return [_fill(t, vals) for t in self.t_kargo]


def _stamp(at: float) -> str:
    sec = int(at)
    frac = f"{int((at - sec) * 1e9):09d}".rstrip("0")
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec)) + (f".{frac}" if frac else "") + "Z"


def write_log(g: Gen, rel: str, episodes: Episodes | None, pool: list[tuple], start: datetime, end: datetime,
              target: int, incidents: list[tuple[float, str]], seed: str) -> int:
    """One container log: routine episodes until ``target`` bytes, planted lines at their times."""
    rng = random.Random(seed)
    t0, t1 = start.timestamp(), end.timestamp()
    span = t1 - t0
    # kubectl logs --since: nothing before the window; the container's own lines only until it ended.
    inc = sorted(x for x in incidents if t0 <= x[0] <= t1 + 1)
    ii = 0
    entities: dict[int, dict] = {}
    buf: list[str] = []
    size = 0
    flushed = 0
    cache_sec = -1
    T = R = sec_str = ""
    gmtime, strftime = time.gmtime, time.strftime
    with g.out.stream(rel) as st:
        while episodes is not None and pool and flushed + size < target:
            t = t0 + span * (flushed + size) / target
            while ii < len(inc) and inc[ii][0] <= t:
                line = f"{_stamp(inc[ii][0])} {inc[ii][1]}\n"
                buf.append(line)
                size += len(line)
                ii += 1
            sec = int(t)
            if sec != cache_sec:
                cache_sec = sec
                sec_str = strftime("%Y-%m-%dT%H:%M:%S", gmtime(sec))
                T = sec_str + "Z"
                R = strftime("%Y-%m-%d %H:%M:%S +0000 UTC", gmtime(sec - 120 - sec % 59))
            k = rng.randrange(len(pool))
            ent = entities.get(k)
            if ent is None:
                ent = entities[k] = episodes.entity(pool[k])
            nanos = int((t - sec) * 1e9)
            for body in episodes.lines(ent, T, R, rng):
                frac = f"{nanos:09d}".rstrip("0")
                line = f"{sec_str}.{frac}Z {body}\n" if frac else f"{sec_str}Z {body}\n"
                buf.append(line)
                size += len(line)
                nanos = min(999_999_999, nanos + 1_000_000 + int(rng.random() * 40_000_000))
            if size > 1 << 20:
                data = "".join(buf).encode()
                st.write(data)
                flushed += len(data)
                buf, size = [], 0
        for at, body in inc[ii:]:
            if at <= t1 + 1:
                buf.append(f"{_stamp(at)} {body}\n")
        data = "".join(buf).encode()
        st.write(data)
        return st.size


def write_logs(g: Gen, progress: Callable[[str], None]) -> int:
    plan, C = g.plan, g.C
    total = plan.targets["log_bytes"]
    start = C - LOG_WINDOW
    written = 0
    pods_root = "cluster-resources/pods/logs"
    # Kargo controller.
    kargo_pool = g.promotion_pool or [("none", "none", "none", "none", ("none",), "")]
    written += write_log(g, f"{pods_root}/{KARGO_NS}/{g.kargo_pod}/controller.log", Episodes(g, "kargo"), kargo_pool,
                         start, C, max(4096, int(total * LOG_SHARE["kargo"])), g.incidents.get("kargo", []),
                         f"{plan.seed}/kargo")
    progress("log: kargo controller")
    # Application controller shards.
    ctrl = Episodes(g, "ctrl")
    per_shard = max(4096, int(total * LOG_SHARE["application-controller"] / plan.app_controller_shards))
    for i in range(plan.app_controller_shards):
        pool = [a for a in g.app_pool if g.shard_of(a[0]) == i] or g.app_pool
        name = f"argocd-application-controller-{i}"
        written += write_log(g, f"{pods_root}/{ARGOCD_NS}/{name}/argocd-application-controller.log", ctrl, pool,
                             start, C, per_shard, g.incidents.get(f"ctrl:{i}", []), f"{plan.seed}/ctrl/{i}")
        progress(f"log: {name}")
    # Repo-server replicas; two of them restarted (their previous container's log is collected too).
    repo = Episodes(g, "repo")
    per_replica = max(4096, int(total * LOG_SHARE["repo-server"] / plan.repo_server_replicas))
    span = LOG_WINDOW.total_seconds()
    for i, pod in enumerate(g.repo_server_pods):
        base = f"{pods_root}/{ARGOCD_NS}/{pod}/argocd-repo-server"
        restart = {0: g.unreachable_at, 1: g.oom_at}.get(i)
        inc = g.incidents.get(f"repo:{i}", [])
        if restart is None:
            written += write_log(g, f"{base}.log", repo, g.repo_pool, start, C, per_replica, inc, f"{plan.seed}/repo/{i}")
            continue
        before = (restart - start).total_seconds() / span
        prev_inc = [x for x in inc if x[0] < restart.timestamp()] + g.incidents.get(f"repo:{i}:prev", [])
        cur_inc = [x for x in inc if x[0] >= restart.timestamp()] + _repo_boot(g, restart + timedelta(seconds=1))
        written += write_log(g, f"{base}-previous.log", repo, g.repo_pool, start, restart - timedelta(seconds=1),
                             max(2048, int(per_replica * before)), prev_inc, f"{plan.seed}/repo/{i}/prev")
        written += write_log(g, f"{base}.log", repo, g.repo_pool, restart + timedelta(seconds=1), C,
                             max(2048, int(per_replica * (1 - before))), cur_inc, f"{plan.seed}/repo/{i}/cur")
        progress(f"log: {pod}")
    # Verification Job pods.
    for rel, lines in sorted(g.small_logs.items()):
        with g.out.stream(rel) as st:
            st.write("".join(f"{_stamp(at.timestamp())} {body}\n" for at, body in lines).encode())
            written += st.size
    return written


def _repo_boot(g: Gen, at: datetime) -> list[tuple[float, str]]:
    version = f"v{g.plan.argocd_version}+{sb.digest('build', g.plan.argocd_version)[:7]}"
    lines = [
        (at, g.argocd_line(at, "info", "ArgoCD Repository Server is starting", built="2025-09-30T14:21:07Z",
                           commit=sb.digest("commit", g.plan.argocd_version)[:40], port=8081, version=version)),
        (at, g.argocd_line(at, "info", "Generating self-signed gRPC TLS certificate for this session")),
        (at, g.argocd_line(at, "info", "Initializing GnuPG keyring at /app/config/gpg/keys")),
        (at + timedelta(seconds=30), g.argocd_line(at + timedelta(seconds=30), "info",
                                                   "Loaded 0 (and removed 0) keys from keyring")),
        (at + timedelta(seconds=31), g.argocd_line(at + timedelta(seconds=31), "info",
                                                   "argocd-repo-server is listening on [::]:8081")),
    ]
    return [(t.timestamp(), body) for t, body in lines]


def _repo_crash_lines(g: Gen, at: datetime) -> None:
    """The repo-server that crashed with exit code 2: a Go runtime fatal error ends its previous log."""
    for body in ("fatal error: concurrent map read and map write", "", "goroutine 48213 [running]:",
                 "runtime.fatal({0x3b1c8e2?, 0x0?})",
                 "\t/usr/local/go/src/runtime/panic.go:1088 +0x4c fp=0xc002b7f2a8 sp=0xc002b7f278 pc=0x4711ec"):
        g.incident("repo:0:prev", at - timedelta(seconds=1), body)


# ---------------------------------------------------------------- the bundle


def _table(rows: list[list[str]]) -> str:
    return sb.table(rows) if len(rows) > 1 else "No resources found.\n"


def write_views(g: Gen) -> None:
    for rel, rows in sorted(g.views.items()):
        g.out.write(rel, _table(rows).encode())
    rows = [["NAME", "SYNC STATUS", "HEALTH STATUS", "REVISION", "PROJECT"]] + sorted(g.app_rows)
    g.out.write(f"views/applications-{ARGOCD_NS}.txt", _table(rows).encode())


def _view_argv(rel: str) -> tuple[str, list[str]]:
    name = rel.removeprefix("views/").removesuffix(".txt")
    if name.startswith("stages-wide-"):
        return name, ["kubectl", "get", "stages.kargo.akuity.io", "-n", name.removeprefix("stages-wide-"), "-o", "wide"]
    if name.startswith("promotions-"):
        return name, ["kubectl", "get", "promotions.kargo.akuity.io", "-n", name.removeprefix("promotions-"),
                      "--sort-by=.metadata.creationTimestamp", "-o", "wide"]
    return name, ["kubectl", "get", "applications.argoproj.io", "-n", name.removeprefix("applications-"), "-o", "wide"]


def config_values(g: Gen) -> dict[str, str]:
    projects = [p.name for p in g.plan.projects]
    app_ns = sorted({a.dest_ns for p in g.plan.pipelines for s in p.stages for a in s.apps if a.dest_ns != ARGOCD_NS})
    warehouses = sorted({p.warehouse for p in g.plan.pipelines})
    return {
        "kargo_namespace": ",".join(projects),
        "kargo_controller_namespace": KARGO_NS,
        "argocd_namespace": ARGOCD_NS,
        "argocd_controller_namespace": ARGOCD_NS,
        "app_namespace": ",".join(app_ns),
        "domain": "example.com",
        "kargo_project": ",".join(projects),
        "monitoring_namespace": "monitoring",
        "warehouse_name": ",".join(warehouses),
    }


def write_manifest(g: Gen, config: dict[str, str]) -> None:
    C = g.C
    entries = []
    for rel, size, sha in g.out.written:
        if rel == "config.yaml":
            continue
        cmd_id, argv = _view_argv(rel) if rel.startswith("views/") else sb._argv_for(rel)
        entries.append((cmd_id, {"argv": argv, "output": rel, "bytes": size, "sha256": sha, "exit_code": 0,
                                 "stderr": ""}))
    for gap in g.gaps:
        entries.append((gap["id"], {"argv": gap["argv"], "output": None, "bytes": 0, "sha256": None,
                                    "exit_code": gap["exit_code"], "stderr": gap["stderr"]}))
    entries.sort(key=lambda e: e[0])
    duration = 13 + len(entries) // 40
    commands = []
    for i, (cmd_id, e) in enumerate(entries):
        began = C + timedelta(seconds=(i * duration) // max(len(entries), 1))
        commands.append({"id": cmd_id, "argv": e["argv"], "output": e["output"], "started_at": ts(began),
                         "finished_at": ts(began + timedelta(seconds=1 if e["bytes"] < 10**6 else 3)),
                         "exit_code": e["exit_code"], "stderr": e["stderr"], "bytes": e["bytes"],
                         "sha256": e["sha256"]})
    sources = {"monitoring_namespace": "default"}
    manifest = {
        "format": FORMAT,
        "collector": {"name": "collector.sh", "version": "0.1.0"},
        "collected_at": ts(C),
        "finished_at": ts(C + timedelta(seconds=duration)),
        "complete": True,
        "kubectl": {"client": {"gitVersion": "v1.31.2"}, "server": {"gitVersion": "v1.30.4"}},
        "config": {k: {"value": v, "source": sources.get(k, "discovered")} for k, v in config.items()},
        "redaction": {"enabled": True,
                      "rules": ["secret-values", "last-applied-configuration", "env-secret-names", "url-credentials",
                                "bearer-tokens", "private-keys"],
                      "counts": {"last-applied-configuration": g.lists.redactions}},
        "commands": commands,
    }
    g.out.write("manifest.json", (json.dumps(manifest, indent=2) + "\n").encode(), record=False)


def planted_path_for(out: Path) -> Path:
    name = out.name
    for suffix in (".tar.gz", ".tgz"):
        if name.endswith(suffix):
            return out.with_name(name[: -len(suffix)] + ".planted.json")
    return out.with_name(name + ".planted.json")


def generate(out: str | os.PathLike, *, scale: float = 1.0, seed: int = 1, kargo_version: str = "1.11.2",
             argocd_version: str = "3.1.8", tar: bool = False, planted: str | os.PathLike | None = None,
             progress: Callable[[str], None] | None = None) -> dict:
    """Write the bundle at ``out``; return (and write beside it) what was planted in it."""
    began = time.monotonic()
    say = progress or (lambda _msg: None)
    out_path = Path(out)
    plan = make_plan(scale, seed, kargo_version, argocd_version)
    top = f"gitops-bundle-{COLLECTED_AT.strftime('%Y%m%dT%H%M%SZ')}"
    output = Output(out_path, tar, top, COLLECTED_AT + timedelta(seconds=13))
    g = Gen(plan, output)
    g.ns_remaining = sum(1 for p in plan.pipelines for s in p.stages if any(not a.no_workload for a in s.apps))
    try:
        with node_scope(plan.nodes):
            control_plane(g)
            _repo_crash_lines(g, g.unreachable_at)
            for i, proj in enumerate(plan.projects):
                emit_project(g, proj)
                if i % 10 == 9:
                    say(f"objects: {i + 1}/{len(plan.projects)} projects")
            emit_unmanaged(g)
            g.lists.flush_all()
        say("objects written")
        log_bytes = write_logs(g, say)
        write_views(g)
        config = config_values(g)
        output.write("config.yaml", yaml.safe_dump(config, sort_keys=False, width=10**9).encode())
        write_manifest(g, config)
    finally:
        output.close()
    counts = dict(sorted(g.lists.counts.items()))
    counts["log_bytes"] = log_bytes
    counts["files"] = len(output.written) + 1
    counts["uncompressed_bytes"] = sum(size for _r, size, _s in output.written)
    ids = sorted({i for p in g.planted for i in p.ids})
    result = {
        "bundle": str(out_path),
        "layout": "tar.gz" if tar else "directory",
        "scale": scale,
        "seed": seed,
        "kargo_version": kargo_version,
        "argocd_version": argocd_version,
        "collected_at": ts(COLLECTED_AT),
        "seconds": round(time.monotonic() - began, 1),
        "targets": {k: round(v, 1) for k, v in plan.targets.items()},
        "counts": counts,
        "ids": ids,
        "plants": [{"scenario": p.scenario, "ids": list(p.ids), "subjects": p.subjects, "scope": p.scope}
                   for p in g.planted],
    }
    ppath = Path(planted) if planted else planted_path_for(out_path)
    ppath.write_text(json.dumps(result, indent=2) + "\n")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, required=True,
                        help="1 = the enterprise bundle divided by 16; 16 = the enterprise bundle; 0.02 for tests")
    parser.add_argument("--out", type=Path, required=True, help="bundle directory, or .tar.gz file with --tar")
    parser.add_argument("--kargo-version", default="1.11.2")
    parser.add_argument("--argocd-version", default="3.1.8")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--tar", action="store_true", help="write a .tar.gz holding one top-level directory")
    parser.add_argument("--planted", type=Path, help="where to write the list of planted scenarios "
                                                      "(default: beside the bundle, <name>.planted.json)")
    parser.add_argument("-q", "--quiet", action="store_true")
    args = parser.parse_args(argv)
    if args.scale <= 0:
        parser.error("--scale must be positive")
    if args.out.exists() and not args.tar and any(args.out.iterdir()):
        parser.error(f"{args.out} exists and is not empty")
    t0 = time.monotonic()

    def progress(msg: str) -> None:
        if not args.quiet:
            print(f"[{time.monotonic() - t0:7.1f}s] {msg}", file=sys.stderr, flush=True)

    result = generate(args.out, scale=args.scale, seed=args.seed, kargo_version=args.kargo_version,
                      argocd_version=args.argocd_version, tar=args.tar, planted=args.planted, progress=progress)
    c = result["counts"]
    progress(f"wrote {args.out}: {c.get('Stage', 0)} stages, {c.get('Promotion', 0)} promotions, "
             f"{c.get('Freight', 0)} freight, {c.get('Application', 0)} applications, {c.get('Pod', 0)} pods, "
             f"{c.get('Event', 0)} events, {c['log_bytes'] / 2**20:.1f} MiB of logs, "
             f"{c['uncompressed_bytes'] / 2**20:.1f} MiB uncompressed, {len(result['ids'])} catalog ids planted")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
