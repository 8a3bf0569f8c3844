"""The bundle server answers the real kubectl as a read-only apiserver would.

Every test runs the ``kubectl`` on PATH (a dispatcher that picks the client
matching the server's reported version) against a server on 127.0.0.1 built
from a small bundle written here.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from analyzer.serve import BundleServer, parse_delay, parse_deny

pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")

COLLECTED_AT = "2026-11-20T03:12:45Z"
TOP = "gitops-bundle-20261120T031245Z"


def _list(items: list[dict]) -> dict:
    return {"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": items}


def _stage(name: str, created: str, ready: str, message: str, health: str, freight: str) -> dict:
    return {
        "apiVersion": "kargo.akuity.io/v1alpha1",
        "kind": "Stage",
        "metadata": {"name": name, "namespace": "kargo-demo", "creationTimestamp": created, "generation": 3,
                     "resourceVersion": "41872", "uid": f"5b1c{name:0>8}"[:12] + "-0000-4000-8000-000000000001"},
        "spec": {
            "requestedFreight": [{"origin": {"kind": "Warehouse", "name": "guestbook"}, "sources": {"direct": name == "test"}}],
            "promotionTemplate": {"spec": {"steps": [{"uses": "argocd-update", "config": {"apps": [{"name": f"guestbook-{name}"}]}}]}},
        },
        "status": {
            "freightSummary": freight,
            "health": {"status": health},
            "conditions": [
                {"type": "Ready", "status": ready, "reason": "Ready" if ready == "True" else "NotReady", "message": message,
                 "lastTransitionTime": "2026-11-20T02:00:00Z", "observedGeneration": 3},
            ],
            "observedGeneration": 3,
        },
    }


def _promotion(name: str, stage: str, phase: str, created: str) -> dict:
    return {
        "apiVersion": "kargo.akuity.io/v1alpha1",
        "kind": "Promotion",
        "metadata": {"name": name, "namespace": "kargo-demo", "creationTimestamp": created,
                     "labels": {"kargo.akuity.io/shard": ""}},
        "spec": {"stage": stage, "freight": "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678", "steps": [{"uses": "argocd-update"}]},
        "status": {"phase": phase},
    }


def _container_status(name: str, *, ready: bool, restarts: int = 0, waiting: str | None = None, last_oom: str | None = None) -> dict:
    state = {"waiting": {"reason": waiting}} if waiting else {"running": {"startedAt": "2026-11-20T01:00:00Z"}}
    out = {"name": name, "ready": ready, "restartCount": restarts, "image": "quay.io/argoproj/argocd:v3.5.1",
           "imageID": "", "started": not waiting, "state": state, "lastState": {}}
    if last_oom:
        out["lastState"] = {"terminated": {"reason": "OOMKilled", "exitCode": 137, "finishedAt": last_oom,
                                           "startedAt": "2026-11-19T22:00:00Z"}}
    return out


def _pod(name: str, ns: str, phase: str, labels: dict, statuses: list[dict], created: str, node: str = "worker-1") -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": labels, "creationTimestamp": created, "uid": f"uid-{name}"},
        "spec": {"nodeName": node, "containers": [{"name": s["name"], "image": s["image"]} for s in statuses]},
        "status": {
            "phase": phase,
            "podIP": "10.244.1.17",
            "podIPs": [{"ip": "10.244.1.17"}],
            "conditions": [{"type": "Ready", "status": "True" if all(s["ready"] for s in statuses) else "False"}],
            "containerStatuses": statuses,
        },
    }


def _event(name: str, ns: str, typ: str, reason: str, kind: str, obj: str, message: str, last: str, count: int = 1) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": name, "namespace": ns, "creationTimestamp": last},
        "involvedObject": {"kind": kind, "name": obj, "namespace": ns},
        "reason": reason,
        "message": message,
        "type": typ,
        "count": count,
        "firstTimestamp": last,
        "lastTimestamp": last,
        "source": {"component": "kubelet", "host": "worker-1"},
    }


REPO_SERVER = "argocd-repo-server-7d9f8b6c5-x2x9k"
LOG_LINES = [
    ("2026-11-20T00:10:00.000000001Z", 'time="2026-11-20T00:10:00Z" level=info msg="ArgoCD Repository Server is starting"'),
    ("2026-11-20T01:45:00.250000000Z", 'time="2026-11-20T01:45:00Z" level=info msg="manifest cache hit"'),
    ("2026-11-20T02:13:00.000000000Z", 'time="2026-11-20T02:13:00Z" level=info msg="generating manifests" app=guestbook-test'),
    ("2026-11-20T02:40:12.123456789Z", 'time="2026-11-20T02:40:12Z" level=warning msg="helm template took 41s"'),
    ("2026-11-20T03:12:40.000000000Z", 'time="2026-11-20T03:12:40Z" level=error msg="rpc error: code = Unknown desc = signal: killed"'),
]
PREVIOUS_LINES = [
    ("2026-11-19T23:58:30.000000000Z", 'time="2026-11-19T23:58:30Z" level=info msg="generating manifests" app=kube-prometheus-stack'),
    ("2026-11-19T23:59:59.900000000Z", 'time="2026-11-19T23:59:59Z" level=fatal msg="out of memory"'),
]


def write_bundle(root: Path, server_version: str = "v1.30.4") -> Path:
    """A small unpacked bundle in the v1 layout."""
    top = root / TOP
    res = top / "cluster-resources"

    def put(rel: str, obj: object) -> None:
        path = res / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(obj, indent=1))

    top.mkdir(parents=True)
    (top / "manifest.json").write_text(json.dumps({
        "format": "gitops-bundle/v1",
        "collector": {"name": "collector.sh", "version": "0.1.0"},
        "collected_at": COLLECTED_AT,
        "finished_at": "2026-11-20T03:12:58Z",
        "kubectl": {"client": {"gitVersion": "v1.31.9"}, "server": {"gitVersion": server_version}},
        "commands": [],
    }))
    put("namespaces.json", _list([
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n, "creationTimestamp": "2026-10-01T00:00:00Z"},
         "status": {"phase": "Active"}} for n in ("argocd", "default", "kargo", "kargo-demo")
    ]))
    put("custom-resources/stages.kargo.akuity.io/kargo-demo.json", _list([
        # 3h2m before collection, 2d before, exactly 5m before
        _stage("test", "2026-11-20T00:10:45Z", "True", "", "Healthy", "a1b2c3d"),
        _stage("uat", "2026-11-18T03:12:45Z", "False", "Stage is waiting for verification", "Progressing", "a1b2c3d"),
        _stage("prod", "2026-11-20T03:07:45Z", "False", "No Freight is currently promoted", "Unknown", ""),
    ]))
    put("custom-resources/promotions.kargo.akuity.io/kargo-demo.json", _list([
        _promotion("test.01jd4x5v6k7m8n9p0q1r2s3t4u.a1b2c3d", "test", "Succeeded", "2026-11-20T02:12:45Z"),
        _promotion("uat.01jd4y5v6k7m8n9p0q1r2s3t4u.a1b2c3d", "uat", "Running", "2026-11-20T02:55:45Z"),
    ]))
    put("custom-resources/warehouses.kargo.akuity.io/kargo-demo.json", _list([
        {"apiVersion": "kargo.akuity.io/v1alpha1", "kind": "Warehouse",
         "metadata": {"name": "guestbook", "namespace": "kargo-demo", "creationTimestamp": "2026-11-01T00:00:00Z"},
         "spec": {"subscriptions": [{"image": {"repoURL": "ghcr.io/akuity/guestbook"}}]}},
    ]))
    put("custom-resources/applications.argoproj.io/argocd.json", _list([
        {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
         "metadata": {"name": f"guestbook-{s}", "namespace": "argocd", "creationTimestamp": "2026-11-01T00:00:00Z",
                      "annotations": {"kargo.akuity.io/authorized-stage": f"kargo-demo:{s}"}},
         "spec": {"project": "default", "destination": {"server": "https://kubernetes.default.svc", "namespace": f"guestbook-{s}"},
                  "source": {"repoURL": "https://github.com/example/guestbook.git", "path": f"env/{s}", "targetRevision": "HEAD"}},
         "status": {"sync": {"status": st, "revision": "9f8e7d6c5b4a39281706f5e4d3c2b1a098765432"}, "health": {"status": h}}}
        for s, st, h in (("test", "Synced", "Healthy"), ("uat", "OutOfSync", "Progressing"))
    ]))
    put("pods/argocd.json", _list([
        _pod(REPO_SERVER, "argocd", "Running", {"app.kubernetes.io/name": "argocd-repo-server", "app.kubernetes.io/part-of": "argocd"},
             [_container_status("argocd-repo-server", ready=True, restarts=2, last_oom="2026-11-20T00:00:00Z")], "2026-11-19T03:12:45Z"),
        _pod("argocd-application-controller-0", "argocd", "Running",
             {"app.kubernetes.io/name": "argocd-application-controller", "app.kubernetes.io/part-of": "argocd"},
             [_container_status("argocd-application-controller", ready=True)], "2026-11-19T03:12:45Z"),
        _pod("argocd-dex-server-5c8d9f7b4-pq7rs", "argocd", "Pending", {"app.kubernetes.io/name": "argocd-dex-server"},
             [_container_status("dex", ready=False, waiting="ImagePullBackOff")], "2026-11-20T03:02:45Z"),
    ]))
    verify = _pod("uat-verify-7k2lp", "kargo-demo", "Failed", {"job-name": "uat-verify"},
                  [_container_status("verify", ready=False)], "2026-11-20T02:58:45Z")
    verify["status"]["containerStatuses"][0]["state"] = {"terminated": {"reason": "Error", "exitCode": 1}}
    put("pods/kargo-demo.json", _list([verify]))
    put("events/argocd.json", _list([
        _event("argocd-repo-server.1", "argocd", "Warning", "BackOff", "Pod", REPO_SERVER, "Back-off restarting failed container", "2026-11-20T03:10:45Z", 4),
        _event("argocd-repo-server.2", "argocd", "Normal", "Pulled", "Pod", REPO_SERVER, "Container image already present on machine", "2026-11-20T00:00:05Z"),
    ]))
    logs = res / "pods" / "logs" / "argocd" / REPO_SERVER
    logs.mkdir(parents=True)
    (logs / "argocd-repo-server.log").write_text("".join(f"{ts} {msg}\n" for ts, msg in LOG_LINES))
    (logs / "argocd-repo-server-previous.log").write_text("".join(f"{ts} {msg}\n" for ts, msg in PREVIOUS_LINES))
    return top


# ------------------------------------------------------------------ helpers


def run_kubectl(kubeconfig: str, home: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("KUBECONFIG", "KUBECACHEDIR")}
    env["HOME"] = str(home)  # discovery caches stay inside the test
    return subprocess.run(["kubectl", "--kubeconfig", kubeconfig, *args], capture_output=True, text=True, env=env, timeout=timeout)


def parse_table(text: str) -> list[dict[str, str]]:
    """kubectl's aligned columns -> one dict per row (header names may hold single spaces)."""
    lines = [line for line in text.splitlines() if line.strip()]
    header = lines[0]
    starts = [(m.start(), m.group()) for m in re.finditer(r"\S+(?: \S+)*", header)]
    rows = []
    for line in lines[1:]:
        row = {}
        for i, (start, name) in enumerate(starts):
            end = starts[i + 1][0] if i + 1 < len(starts) else None
            row[name] = line[start:end].strip()
        rows.append(row)
    return rows


class Cluster:
    """A started server and how to talk to it."""

    def __init__(self, server: BundleServer, kubeconfig: str, home: Path):
        self.server = server
        self.kubeconfig = kubeconfig
        self.home = home

    def kubectl(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        return run_kubectl(self.kubeconfig, self.home, *args, timeout=timeout)

    def ok(self, *args: str) -> str:
        out = self.kubectl(*args)
        assert out.returncode == 0, f"kubectl {' '.join(args)} failed: {out.stderr}"
        return out.stdout


def start(tmp: Path, bundle: Path, **kwargs) -> Cluster:
    server = BundleServer(bundle, **kwargs).start()
    kubeconfig = server.write_kubeconfig(tmp / f"kubeconfig-{server.port}")
    home = tmp / "home"
    home.mkdir(exist_ok=True)
    return Cluster(server, kubeconfig, home)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    return write_bundle(tmp_path_factory.mktemp("bundle"))


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, bundle) -> Cluster:
    c = start(tmp_path_factory.mktemp("cluster"), bundle,
              deny={"promotions": {"kargo-demo"}}, delay={"warehouses.kargo.akuity.io": 10})
    yield c
    c.server.stop()


# -------------------------------------------------------------------- get


def test_stages_show_the_crd_printer_columns_aged_from_collection(cluster):
    out = cluster.ok("get", "stages", "-n", "kargo-demo")
    assert out.splitlines()[0].split() == ["NAME", "SHARD", "CURRENT", "FREIGHT", "HEALTH", "READY", "STATUS", "AGE"]
    rows = {r["NAME"]: r for r in parse_table(out)}
    assert rows["test"] == {"NAME": "test", "SHARD": "", "CURRENT FREIGHT": "a1b2c3d", "HEALTH": "Healthy",
                            "READY": "True", "STATUS": "", "AGE": "3h2m"}
    assert rows["uat"]["STATUS"] == "Stage is waiting for verification"
    assert rows["uat"]["AGE"] == "2d"
    assert rows["prod"]["AGE"] == "5m"


def test_single_stage_is_a_one_row_table(cluster):
    rows = parse_table(cluster.ok("get", "stage", "test", "-n", "kargo-demo"))
    assert [(r["NAME"], r["AGE"]) for r in rows] == [("test", "3h2m")]


def test_short_names_and_wide_columns(cluster):
    promos = cluster.kubectl("get", "promo", "-n", "kargo-demo")
    assert "forbidden" in promos.stderr  # promo resolves to promotions, which are denied
    apps = parse_table(cluster.ok("get", "app", "-n", "argocd", "-o", "wide"))
    assert [(a["NAME"], a["SYNC STATUS"], a["HEALTH STATUS"], a["PROJECT"]) for a in apps] == [
        ("guestbook-test", "Synced", "Healthy", "default"), ("guestbook-uat", "OutOfSync", "Progressing", "default")]


def test_pods_table_like_the_apiserver_prints_it(cluster):
    rows = {r["NAME"]: r for r in parse_table(cluster.ok("get", "pods", "-A"))}
    repo = rows[REPO_SERVER]
    assert (repo["NAMESPACE"], repo["READY"], repo["STATUS"], repo["RESTARTS"], repo["AGE"]) == (
        "argocd", "1/1", "Running", "2 (3h12m ago)", "24h")
    assert rows["argocd-dex-server-5c8d9f7b4-pq7rs"]["STATUS"] == "ImagePullBackOff"
    assert rows["uat-verify-7k2lp"]["STATUS"] == "Error"
    wide = parse_table(cluster.ok("get", "pods", "-n", "argocd", "-o", "wide"))
    assert {(r["IP"], r["NODE"]) for r in wide} == {("10.244.1.17", "worker-1")}


def test_field_selector_filters_pods(cluster):
    names = {r["NAME"] for r in parse_table(cluster.ok("get", "pods", "-A", "--field-selector=status.phase!=Running"))}
    assert names == {"argocd-dex-server-5c8d9f7b4-pq7rs", "uat-verify-7k2lp"}
    names = {r["NAME"] for r in parse_table(cluster.ok(
        "get", "pods", "-A", "--field-selector=status.phase!=Running,status.phase!=Succeeded,metadata.namespace=argocd"))}
    assert names == {"argocd-dex-server-5c8d9f7b4-pq7rs"}


def test_field_selector_on_events(cluster):
    rows = parse_table(cluster.ok("get", "events", "-n", "argocd", "--field-selector", "type!=Normal"))
    assert [(r["TYPE"], r["REASON"], r["OBJECT"], r["LAST SEEN"]) for r in rows] == [
        ("Warning", "BackOff", f"pod/{REPO_SERVER}", "2m")]


def test_unsupported_field_label_is_a_bad_request(cluster):
    out = cluster.kubectl("get", "stages", "-n", "kargo-demo", "--field-selector=status.phase=Running")
    assert out.returncode == 1
    assert "field label not supported: status.phase" in out.stderr


def test_label_selectors(cluster):
    rows = parse_table(cluster.ok("get", "pods", "-n", "argocd", "-l", "app.kubernetes.io/name=argocd-repo-server"))
    assert [r["NAME"] for r in rows] == [REPO_SERVER]
    rows = parse_table(cluster.ok("get", "pods", "-A", "-l", "app.kubernetes.io/name in (argocd-dex-server,argocd-repo-server)"))
    assert {r["NAME"] for r in rows} == {REPO_SERVER, "argocd-dex-server-5c8d9f7b4-pq7rs"}
    rows = parse_table(cluster.ok("get", "pods", "-A", "-l", "!job-name,app.kubernetes.io/part-of!=argocd"))
    assert [r["NAME"] for r in rows] == ["argocd-dex-server-5c8d9f7b4-pq7rs"]
    assert "No resources found" in cluster.kubectl("get", "pods", "-A", "-l", "job-name=other").stderr


def test_get_object_as_json(cluster, bundle):
    obj = json.loads(cluster.ok("get", "stage", "uat", "-n", "kargo-demo", "-o", "json"))
    stored = json.loads((bundle / "cluster-resources/custom-resources/stages.kargo.akuity.io/kargo-demo.json").read_text())
    assert obj == next(s for s in stored["items"] if s["metadata"]["name"] == "uat")
    listed = json.loads(cluster.ok("get", "stages", "-n", "kargo-demo", "-o", "json"))
    assert sorted(i["metadata"]["name"] for i in listed["items"]) == ["prod", "test", "uat"]


def test_unknown_resource_type(cluster):
    out = cluster.kubectl("get", "nosuchthing")
    assert out.returncode == 1
    assert 'the server doesn\'t have a resource type "nosuchthing"' in out.stderr


def test_missing_object_is_not_found(cluster):
    out = cluster.kubectl("get", "stage", "nope", "-n", "kargo-demo")
    assert out.returncode == 1
    assert 'Error from server (NotFound): stages.kargo.akuity.io "nope" not found' in out.stderr


def test_not_collected_is_not_an_empty_list(cluster):
    out = cluster.kubectl("get", "stages", "-n", "default")
    assert out.returncode == 1
    assert 'stages.kargo.akuity.io in namespace "default" were not collected in this bundle; collected namespaces: kargo-demo' in out.stderr


# ------------------------------------------------------------------- logs


def test_logs_since_counts_back_from_collection(cluster):
    out = cluster.ok("logs", "-n", "argocd", REPO_SERVER, "-c", "argocd-repo-server", "--timestamps", "--since=1h")
    assert out.splitlines() == [f"{ts} {msg}" for ts, msg in LOG_LINES[2:]]


def test_logs_without_timestamps_and_tail(cluster):
    out = cluster.ok("logs", "-n", "argocd", REPO_SERVER, "--tail=2")
    assert out.splitlines() == [msg for _ts, msg in LOG_LINES[-2:]]
    out = cluster.ok("logs", "-n", "argocd", REPO_SERVER, "--since-time=2026-11-20T01:00:00Z", "--limit-bytes=20")
    assert out == LOG_LINES[1][1][:20]


def test_logs_previous(cluster):
    out = cluster.ok("logs", "-n", "argocd", REPO_SERVER, "--previous")
    assert out.splitlines() == [msg for _ts, msg in PREVIOUS_LINES]
    missing = cluster.kubectl("logs", "-n", "argocd", "argocd-application-controller-0", "--previous")
    assert missing.returncode == 1
    assert ('previous terminated container "argocd-application-controller" in pod '
            '"argocd-application-controller-0" not found') in missing.stderr


def test_logs_of_a_waiting_container(cluster):
    out = cluster.kubectl("logs", "-n", "argocd", "argocd-dex-server-5c8d9f7b4-pq7rs")
    assert out.returncode == 1
    assert 'container "dex" in pod "argocd-dex-server-5c8d9f7b4-pq7rs" is waiting to start: ImagePullBackOff' in out.stderr


# ------------------------------------------------------------- test hooks


def test_denied_resource_is_forbidden_and_the_rest_works(cluster):
    out = cluster.kubectl("get", "promotions", "-n", "kargo-demo")
    assert out.returncode == 1
    assert ('Error from server (Forbidden): promotions.kargo.akuity.io is forbidden: User '
            '"system:serviceaccount:support:gitops-collector" cannot list resource "promotions" in API group '
            '"kargo.akuity.io" in the namespace "kargo-demo"') in out.stderr
    assert "at the cluster scope" in cluster.kubectl("get", "promotions", "-A").stderr
    assert parse_table(cluster.ok("get", "stages", "-n", "kargo-demo"))


def test_delayed_resource_times_out(cluster):
    began = time.monotonic()
    out = cluster.kubectl("get", "warehouses", "-n", "kargo-demo", "--request-timeout=1s")
    assert out.returncode == 1
    assert time.monotonic() - began < 8
    assert "Timeout" in out.stderr or "timeout" in out.stderr or "deadline" in out.stderr


def test_version_reports_the_bundle_server(cluster):
    versions = json.loads(cluster.ok("version", "-o", "json"))
    assert versions["serverVersion"]["gitVersion"] == "v1.30.4"
    assert versions["clientVersion"]["minor"].rstrip("+") == "30"


def test_writes_and_watches_are_refused(cluster):
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        req = urllib.request.Request(cluster.server.url + "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
                                     data=b"{}", method=method, headers={"Content-Type": "application/json"})
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(req, timeout=10)
        assert err.value.code == 405
        status = json.loads(err.value.read())
        assert (status["kind"], status["reason"], status["code"]) == ("Status", "MethodNotAllowed", 405)
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(cluster.server.url + "/api/v1/pods?watch=true", timeout=10)
    assert err.value.code == 405
    assert cluster.kubectl("auth", "can-i", "list", "pods").returncode != 0


def test_table_rows_carry_object_metadata(cluster):
    req = urllib.request.Request(cluster.server.url + "/apis/kargo.akuity.io/v1alpha1/namespaces/kargo-demo/stages/test",
                                 headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"})
    table = json.loads(urllib.request.urlopen(req, timeout=10).read())
    assert (table["kind"], table["apiVersion"]) == ("Table", "meta.k8s.io/v1")
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Shard", "Current Freight", "Health", "Ready", "Status", "Age"]
    row = table["rows"][0]
    assert row["cells"] == ["test", None, "a1b2c3d", "Healthy", "True", "", "3h2m"]
    assert row["object"]["kind"] == "PartialObjectMetadata"
    assert row["object"]["metadata"]["namespace"] == "kargo-demo"


def test_request_log_proves_reads_only(tmp_path, bundle):
    log = tmp_path / "requests.jsonl"
    c = start(tmp_path, bundle, request_log=str(log))
    try:
        c.ok("get", "stages", "-A")
        c.ok("get", "pods", "-A", "-o", "wide")
        c.ok("describe", "pod", "-n", "argocd", REPO_SERVER)
        c.ok("logs", "-n", "argocd", REPO_SERVER, "--tail=1")
        c.ok("api-resources")
    finally:
        c.server.stop()
    entries = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(entries) == len(c.server.requests) >= 5
    assert {e["method"] for e in entries} == {"GET"}
    paths = [e["path"] for e in entries]
    assert any(p.startswith("/apis/kargo.akuity.io/v1alpha1/stages") for p in paths)
    assert any(p.startswith(f"/api/v1/namespaces/argocd/pods/{REPO_SERVER}/log") for p in paths)
    assert all(isinstance(e["status"], int) for e in entries)


# --------------------------------------------------------- client versions


@pytest.mark.parametrize("server_version", ["v1.27.16", "v1.30.4", "v1.33.1"])
def test_each_kubectl_client_works(tmp_path, server_version):
    c = start(tmp_path, write_bundle(tmp_path / "b", server_version))
    try:
        versions = json.loads(c.ok("version", "-o", "json"))
        assert versions["serverVersion"]["gitVersion"] == server_version
        assert versions["clientVersion"]["minor"].rstrip("+") == server_version.split(".")[1]
        stages = {r["NAME"]: r["AGE"] for r in parse_table(c.ok("get", "stages", "-n", "kargo-demo"))}
        assert stages == {"prod": "5m", "test": "3h2m", "uat": "2d"}
        pods = {r["NAME"] for r in parse_table(c.ok("get", "pods", "-A"))}
        assert REPO_SERVER in pods and len(pods) == 4
    finally:
        c.server.stop()


# ------------------------------------------------------------------- units


def test_server_version_is_clamped_to_the_clients_available():
    from analyzer.serve import server_version

    assert server_version({"kubectl": {"server": {"gitVersion": "v1.29.3+k3s1"}}})[0]["gitVersion"] == "v1.29.3+k3s1"
    info, note = server_version({"kubectl": {"server": {"gitVersion": "v1.25.16"}}})
    assert (info["gitVersion"], info["minor"]) == ("v1.27.0", "27") and "outside" in note
    assert server_version({"kubectl": {"server": {"gitVersion": "v1.35.0"}}})[0]["gitVersion"] == "v1.33.0"
    assert server_version(None)[0]["gitVersion"] == "v1.30.0"


def test_option_parsers():
    assert parse_deny(["stages:kargo-demo", "stages:kargo-prod", "pods/log"]) == {
        "stages": {"kargo-demo", "kargo-prod"}, "pods/log": {None}}
    assert parse_delay(["applications=2.5"]) == {"applications": 2.5}
    with pytest.raises(ValueError):
        parse_delay(["applications"])


def test_only_loopback(bundle):
    with pytest.raises(ValueError):
        BundleServer(bundle, host="0.0.0.0")


# ------------------------------------------------ what collector.sh relies on


def _with_manifest_commands(root: Path, commands: list[dict]) -> Path:
    """The small bundle, with a manifest that records these collector commands."""
    top = write_bundle(root)
    manifest = json.loads((top / "manifest.json").read_text())
    manifest["commands"] = commands
    (top / "manifest.json").write_text(json.dumps(manifest))
    return top


def _cmd(cid: str, argv: list[str], exit_code: int | None, status: str, stderr: str = "", optional: bool = False) -> dict:
    return {"id": cid, "argv": ["kubectl", *argv, "--request-timeout=20s"], "output": None, "started_at": COLLECTED_AT,
            "finished_at": COLLECTED_AT, "exit_code": exit_code, "status": status, "optional": optional, "stderr": stderr,
            "bytes": None, "sha256": None}


def test_uncollected_empty_serves_every_known_type_and_empty_logs(tmp_path, bundle):
    c = start(tmp_path, bundle, uncollected="empty")
    try:
        # not in the bundle: an empty list, not a 404 (what a hand-written sample means)
        assert json.loads(c.ok("get", "configmaps", "-n", "kargo-demo", "-o", "json"))["items"] == []
        # a Kargo kind the bundle holds no object of is still served
        assert "No resources found" in c.kubectl("get", "promotiontasks.kargo.akuity.io", "-n", "kargo-demo").stderr
        # a log the bundle lacks reads as an empty one; one it holds is served as always
        assert c.ok("logs", "-n", "argocd", "argocd-application-controller-0") == ""
        assert c.ok("logs", "-n", "argocd", REPO_SERVER, "--tail=1").strip() == LOG_LINES[-1][1]
        # a previous log of a container that never restarted still does not exist
        out = c.kubectl("logs", "-n", "argocd", "argocd-application-controller-0", "--previous")
        assert out.returncode == 1 and "previous terminated container" in out.stderr
    finally:
        c.server.stop()


def test_gaps_recorded_in_the_manifest_are_replayed_in_both_modes(tmp_path):
    top = _with_manifest_commands(tmp_path / "b", [
        _cmd("secrets/kargo-demo", ["get", "secrets", "-n", "kargo-demo", "-o", "go-template=..."], 1, "forbidden",
             'Error from server (Forbidden): secrets is forbidden: User "viewer" cannot list resource "secrets" in API group "" in the namespace "kargo-demo"'),
        _cmd("jobs.batch/kargo-demo", ["get", "jobs.v1.batch", "-n", "kargo-demo", "-o", "json"], 1, "timeout",
             "Unable to connect to the server: context deadline exceeded"),
        _cmd("deployments.apps/argocd", ["get", "deployments.v1.apps", "-n", "argocd", "-o", "json"], 0, "ok"),
        # neither a discovery query nor an optional command says anything about the data
        _cmd("discover-stages", ["get", "stages.kargo.akuity.io", "-A", "-o", "jsonpath={.items}"], 1, "forbidden", "forbidden", optional=True),
        _cmd("can-i-argocd", ["auth", "can-i", "--list", "-n", "argocd"], 1, "error", "MethodNotAllowed", optional=True),
    ])
    for mode in ("notfound", "empty"):
        (tmp_path / mode).mkdir()
        c = start(tmp_path / mode, top, uncollected=mode)
        try:
            out = c.kubectl("get", "secrets", "-n", "kargo-demo")
            assert out.returncode == 1
            assert 'Error from server (Forbidden): secrets is forbidden: User "viewer" cannot list resource "secrets"' in out.stderr
            out = c.kubectl("get", "jobs", "-n", "kargo-demo")
            assert out.returncode == 1
            assert "could not be collected when this bundle was taken (timeout)" in out.stderr
            # a successful command with a versioned resource argument proves the (empty) list was collected
            assert json.loads(c.ok("get", "deployments", "-n", "argocd", "-o", "json"))["items"] == []
            assert parse_table(c.ok("get", "stages", "-A"))
        finally:
            c.server.stop()


def test_logs_of_a_pod_the_bundle_holds_only_logs_of(tmp_path):
    """kubectl logs GETs the pod first; a bundle with the log but not the pod list still answers."""
    top = write_bundle(tmp_path / "b")
    logs = top / "cluster-resources" / "pods" / "logs" / "kargo" / "kargo-controller-6b8d9-x1y2z"
    logs.mkdir(parents=True)
    (logs / "controller.log").write_text("2026-11-20T03:00:00Z reconciling stage test\n")
    c = start(tmp_path, top)
    try:
        assert c.ok("logs", "-n", "kargo", "kargo-controller-6b8d9-x1y2z", "-c", "controller", "--timestamps") == \
            "2026-11-20T03:00:00Z reconciling stage test\n"
        pod = json.loads(c.ok("get", "pod", "-n", "kargo", "kargo-controller-6b8d9-x1y2z", "-o", "json"))
        assert [x["name"] for x in pod["spec"]["containers"]] == ["controller"]
        # the list is still "not collected": the pod object itself is not in the bundle
        assert "not collected" in c.kubectl("get", "pods", "-n", "kargo").stderr
    finally:
        c.server.stop()


def test_label_selectors_however_they_are_encoded(cluster):
    base = cluster.server.url + "/api/v1/pods?labelSelector="
    for encoded in ("app.kubernetes.io%2Fname+in+%28argocd-dex-server%2Cargocd-repo-server%29",
                    "app.kubernetes.io%2Fname%20in%20(argocd-dex-server,argocd-repo-server)",
                    "app.kubernetes.io/name+in+(argocd-repo-server,argocd-dex-server)"):
        items = json.loads(urllib.request.urlopen(base + encoded, timeout=10).read())["items"]
        assert {i["metadata"]["name"] for i in items} == {REPO_SERVER, "argocd-dex-server-5c8d9f7b4-pq7rs"}, encoded
    items = json.loads(urllib.request.urlopen(base + "job-name", timeout=10).read())["items"]
    assert [i["metadata"]["name"] for i in items] == ["uat-verify-7k2lp"]
    items = json.loads(urllib.request.urlopen(base + "%21job-name%2Capp.kubernetes.io%2Fpart-of%21%3Dargocd", timeout=10).read())["items"]
    assert [i["metadata"]["name"] for i in items] == ["argocd-dex-server-5c8d9f7b4-pq7rs"]


def test_auth_can_i_list_is_refused_and_logged(tmp_path, bundle):
    """`kubectl auth can-i --list` POSTs a SelfSubjectRulesReview: the read-only server answers 405, and says so."""
    log = tmp_path / "requests.jsonl"
    c = start(tmp_path, bundle, request_log=str(log))
    try:
        out = c.kubectl("auth", "can-i", "--list", "-n", "kargo-demo")
    finally:
        c.server.stop()
    assert out.returncode != 0
    assert "MethodNotAllowed" in out.stderr or "not allow" in out.stderr
    entries = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(e["method"], e["path"].split("?")[0], e["status"]) for e in entries if e["method"] != "GET"] == [
        ("POST", "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews", 405)]


def test_versioned_resource_names_need_no_rediscovery(tmp_path, bundle):
    """collector.sh names resources PLURAL.VERSION.GROUP: with a warm cache, kubectl asks for the list only."""
    log = tmp_path / "requests.jsonl"
    c = start(tmp_path, bundle, request_log=str(log))
    try:
        c.ok("get", "stages.v1alpha1.kargo.akuity.io", "-n", "kargo-demo", "-o", "json")  # fills the cache
        first = len(log.read_text().splitlines())
        assert json.loads(c.ok("get", "stages.v1alpha1.kargo.akuity.io", "-n", "kargo-demo", "-o", "json"))["items"]
        paths = [json.loads(line)["path"].split("?")[0] for line in log.read_text().splitlines()[first:]]
    finally:
        c.server.stop()
    assert [p for p in paths if p != "/version"] == ["/apis/kargo.akuity.io/v1alpha1/namespaces/kargo-demo/stages"]


def test_delay_for_every_resource(tmp_path, bundle):
    """delay {"*": S} holds every list, get and log, but not discovery: API latency for benchmarks."""
    c = start(tmp_path, bundle, delay={"*": 3})
    try:
        began = time.monotonic()
        assert "v1alpha1" in c.ok("api-versions")
        assert time.monotonic() - began < 3
        out = c.kubectl("get", "pods", "-n", "argocd", "--request-timeout=1s")
        assert out.returncode == 1
        out = c.kubectl("logs", "-n", "argocd", REPO_SERVER, "--request-timeout=1s")
        assert out.returncode == 1
    finally:
        c.server.stop()
    assert parse_delay(["*=0.25"]) == {"*": 0.25}


# ------------------------------------------------------- the service proxy


PROM_ANSWER = {"status": "success", "data": {"activeTargets": [{
    "discoveredLabels": {"__address__": "10.244.1.7:8080", "__metrics_path__": "/metrics", "__scheme__": "http",
                         "__scrape_interval__": "30s", "__scrape_timeout__": "10s",
                         "job": "serviceMonitor/monitoring/guestbook/0"},
    "labels": {"instance": "10.244.1.7:8080", "job": "guestbook", "namespace": "monitoring"},
    "scrapePool": "serviceMonitor/monitoring/guestbook/0", "scrapeUrl": "http://10.244.1.7:8080/metrics",
    "globalUrl": "http://10.244.1.7:8080/metrics", "lastError": "", "lastScrape": "2026-11-24T08:30:27.118425117Z",
    "lastScrapeDuration": 0.003412771, "health": "up", "scrapeInterval": "30s", "scrapeTimeout": "10s"}],
    "droppedTargets": [], "droppedTargetCounts": None}}


def _with_prometheus(root: Path, commands: list[dict] | None = None) -> Path:
    """The small bundle, plus a monitoring namespace whose Prometheus Service's targets were collected."""
    top = _with_manifest_commands(root, commands or [])
    res = top / "cluster-resources"
    services = [
        {"apiVersion": "v1", "kind": "Service",
         "metadata": {"name": name, "namespace": "monitoring", "creationTimestamp": "2026-11-01T00:00:00Z", "labels": labels},
         "spec": {"clusterIP": "None", "ports": [{"name": "web", "port": 9090, "protocol": "TCP", "targetPort": "web"}],
                  "selector": {"app.kubernetes.io/name": "prometheus"}, "type": "ClusterIP"}}
        for name, labels in (("prometheus-operated", {"operated-prometheus": "true"}), ("prometheus-k8s", {"app.kubernetes.io/name": "prometheus"}))]
    (res / "services").mkdir(exist_ok=True)
    (res / "services" / "monitoring.json").write_text(json.dumps(_list(services)))
    targets = res / "custom-resources" / "prometheustargets.bundle.gitops-master.io"
    targets.mkdir(parents=True)
    (targets / "monitoring.json").write_text(json.dumps(_list([
        {"apiVersion": "bundle.gitops-master.io/v1", "kind": "PrometheusTarget",
         "metadata": {"name": "prometheus-operated", "namespace": "monitoring"}, "response": PROM_ANSWER}])))
    return top


def _targets(service: str, ns: str = "monitoring", path: str = "api/v1/targets?state=active") -> str:
    return f"/api/v1/namespaces/{ns}/services/{service}/proxy/{path}"


def test_prometheus_targets_are_answered_through_the_service_proxy(tmp_path):
    top = _with_prometheus(tmp_path / "b")
    log = tmp_path / "requests.jsonl"
    c = start(tmp_path, top, request_log=str(log))
    try:
        # what collector.sh asks, and the same answer by port name, by scheme, and for a plain GET of the path
        assert json.loads(c.ok("get", "--raw", _targets("prometheus-operated:9090"))) == PROM_ANSWER
        assert json.loads(c.ok("get", "--raw", _targets("prometheus-operated:web"))) == PROM_ANSWER
        assert json.loads(c.ok("get", "--raw", _targets("http:prometheus-operated:9090", path="api/v1/targets"))) == PROM_ANSWER
        # the Services are served as Services, so that discovery finds them
        found = c.ok("get", "services", "-A", "-l", "operated-prometheus=true", "-o", "jsonpath={.items[*].metadata.name}")
        assert found == "prometheus-operated"
        # a Service whose answer the bundle lacks, a Service that is not there, a port it does not have, another path
        out = c.kubectl("get", "--raw", _targets("prometheus-k8s:9090"))
        assert out.returncode == 1 and "NotFound" in out.stderr and "not collected in this bundle" in out.stderr
        out = c.kubectl("get", "--raw", _targets("nope:9090"))
        assert out.returncode == 1 and 'services "nope" not found' in out.stderr
        out = c.kubectl("get", "--raw", _targets("prometheus-operated:9999"))
        assert out.returncode == 1 and 'no service port "9999" found for service "prometheus-operated"' in out.stderr
        out = c.kubectl("get", "--raw", _targets("prometheus-operated:9090", path="api/v1/query?query=up"))
        assert out.returncode == 1 and "NotFound" in out.stderr
        # the bundle's own kind is no API resource
        assert "bundle.gitops-master.io" not in c.ok("api-versions")
        assert c.kubectl("get", "prometheustargets", "-A").returncode != 0
    finally:
        c.server.stop()
    methods = {json.loads(line)["method"] for line in log.read_text().splitlines()}
    assert methods == {"GET"}


def test_prometheus_proxy_denied_or_recorded_as_failed(tmp_path):
    top = _with_prometheus(tmp_path / "b")
    c = start(tmp_path / "b", top, deny=parse_deny(["services/proxy:monitoring"]))
    try:
        out = c.kubectl("get", "--raw", _targets("prometheus-operated:9090"))
        assert out.returncode == 1
        assert ('Error from server (Forbidden): services "prometheus-operated:9090" is forbidden: User '
                '"system:serviceaccount:support:gitops-collector" cannot get resource "services/proxy" in API group "" '
                'in the namespace "monitoring"') in out.stderr
        c.ok("get", "services", "-n", "monitoring")  # the Services themselves are not denied
    finally:
        c.server.stop()
    refused = ('Error from server (Forbidden): services "prometheus-k8s:9090" is forbidden: User '
               '"system:serviceaccount:support:gitops-collector" cannot get resource "services/proxy" in API group "" '
               'in the namespace "monitoring"')
    top = _with_prometheus(tmp_path / "c", [
        _cmd("prometheustargets.bundle.gitops-master.io/monitoring",
             ["get", "--raw", _targets("prometheus-k8s:9090")], 1, "partial", refused)])
    c = start(tmp_path / "c", top)
    try:
        # the failure the manifest records is replayed; what was collected is still answered
        out = c.kubectl("get", "--raw", _targets("prometheus-k8s:9090"))
        assert out.returncode == 1 and refused in out.stderr
        assert json.loads(c.ok("get", "--raw", _targets("prometheus-operated:9090"))) == PROM_ANSWER
    finally:
        c.server.stop()
