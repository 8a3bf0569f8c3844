"""collector.sh end to end against a fake `kubectl` placed first on PATH.

The fake answers the exact calls the collector makes with canned JSON, tables
and logs (secrets included, so that redaction is checked on real output
paths), is forbidden for one resource, lacks one CRD, can hang on demand, and
logs every call with its start and end time. The tests check the bundle
layout and manifest, gap recording, parallelism, the deadline, signal
handling, the ssh prefix and the "nothing found" exit.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import tarfile
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from analyzer.frames.platform import PROMETHEUS_TARGET_RESOURCE as TARGETS
from tests.conftest import PROMETHEUS_TARGETS_PATH

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "collector.sh"
READ_VERBS = {"get", "logs", "version", "api-resources", "api-versions", "auth"}

# Strings that must never reach a bundle.
SECRETS = [
    "hunter2-db-password",
    "ghp_abcdefghijklmnopqrstuvwxyzABCDEFGHIJ",
    "s3cr3t-repo-pass",
    "YWRtaW46c2VjcmV0LXZhbHVl",  # a Secret's data value
    "argocd-admin-pw",
    "abcdefghijklmnopqrstuvwxyz0123456789bearer",
    "c2VjcmV0LWluLWxhc3QtYXBwbGllZA",
]

FAKE_KUBECTL = r'''#!@PYTHON@
"""Fake kubectl for collector tests."""
import json, os, sys, time

args = sys.argv[1:]
log = os.environ["FAKE_LOG"]
start = time.time()
with open(os.environ["FAKE_PIDS"], "a") as f:
    f.write("%d\n" % os.getpid())

def opt(name):
    for i, a in enumerate(args):
        if a == name and i + 1 < len(args):
            return args[i + 1]
        if a.startswith(name + "="):
            return a.split("=", 1)[1]
    return None

def finish(code=0, out="", err=""):
    sys.stdout.write(out)
    sys.stderr.write(err)
    sys.stdout.flush()
    with open(log, "a") as f:
        f.write(json.dumps({"argv": args, "start": start, "end": time.time(), "rc": code}) + "\n")
    sys.exit(code)

joined = " ".join(args)
delay = float(os.environ.get("FAKE_SLEEP", "0"))
if delay:
    time.sleep(delay)
hang = os.environ.get("FAKE_HANG")
if hang and hang in joined:
    time.sleep(120)

verb = args[0] if args else ""
ns = opt("-n")
output = opt("-o") or ""
resource = args[1] if len(args) > 1 else ""
empty = os.environ.get("FAKE_EMPTY") == "1"

def meta(name, namespace=None, **extra):
    m = {"name": name, "uid": "uid-" + name, "creationTimestamp": "2024-05-01T10:00:00Z"}
    if namespace:
        m["namespace"] = namespace
    m.update(extra)
    return m

def listing(items):
    return json.dumps({"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": items}, indent=4) + "\n"

if verb == "version":
    client = {"major": "1", "minor": "30", "gitVersion": "v1.30.2-fake", "platform": "linux/amd64"}
    server = {"major": "1", "minor": "29", "gitVersion": "v1.29.5-fake", "platform": "linux/amd64"}
    finish(0, json.dumps({"clientVersion": client, "kustomizeVersion": "v5.0.4", "serverVersion": server}, indent=2) + "\n")

if verb == "api-resources":
    finish(0,
        "NAME          SHORTNAMES   APIVERSION                 NAMESPACED   KIND         VERBS                        CATEGORIES\n"
        "pods          po           v1                         true         Pod          [get list watch]             all\n"
        "stages                     kargo.akuity.io/v1alpha1   true         Stage        [get list watch]             \n")

if verb == "auth":
    finish(0, "Resources   Non-Resource URLs   Resource Names   Verbs\n*.*         []                  []               [get list]\n")

if verb == "logs":
    prev = "--previous" in args
    pod = [a for a in args[1:] if not a.startswith("-") and a not in (ns, opt("-c"))][0]
    lines = []
    for i in range(5):
        lines.append("2024-05-01T10:00:0%dZ pod=%s previous=%s msg=\"cloning https://git:s3cr3t-repo-pass@github.com/x/y\" token=ghp_abcdefghijklmnopqrstuvwxyzABCDEFGHIJ\n" % (i, pod, prev))
    lines.append("2024-05-01T10:00:09Z Authorization: Bearer abcdefghijklmnopqrstuvwxyz0123456789bearer\n")
    finish(0, "".join(lines))

if verb != "get":
    finish(1, "", "error: unknown command %r for fake kubectl\n" % verb)

# --- get ---
prometheus = os.environ.get("FAKE_PROMETHEUS") == "1"
if resource == "--raw" and prometheus and "/proxy/" in args[2]:
    answers = json.loads(os.environ["FAKE_PROM_ANSWERS"])
    if args[2] in answers:
        finish(0, answers[args[2]])
    svc = args[2].split("/services/")[1].split("/")[0].split(":")[0]  # the API server names the Service, not the port
    finish(1, "", 'Error from server (ServiceUnavailable): no endpoints available for service "%s"\n' % svc)
if resource == "--raw":
    finish(0, json.dumps({"kind": "APIGroupList", "apiVersion": "v1", "groups": [
        {"name": "apps", "versions": [{"groupVersion": "apps/v1", "version": "v1"}], "preferredVersion": {"groupVersion": "apps/v1", "version": "v1"}},
        {"name": "kargo.akuity.io", "versions": [{"groupVersion": "kargo.akuity.io/v1alpha1", "version": "v1alpha1"}], "preferredVersion": {"groupVersion": "kargo.akuity.io/v1alpha1", "version": "v1alpha1"}},
    ]}))

if resource.startswith("promotiontasks."):
    finish(1, "", 'error: the server doesn\'t have a resource type "promotiontasks"\n')
if resource.startswith("roles.") and ns == "argocd":
    finish(1, "", 'Error from server (Forbidden): roles.rbac.authorization.k8s.io is forbidden: User "viewer" cannot list resource "roles" in API group "rbac.authorization.k8s.io" in the namespace "argocd"\n')

if output.startswith("jsonpath="):
    out = ""
    if not empty:
        selector = opt("-l") or ""
        if resource == "services" and prometheus:
            if "-A" in args and os.environ.get("FAKE_PROM_NO_LIST") == "1":
                finish(1, "", 'Error from server (Forbidden): services is forbidden: User "viewer" cannot list resource "services" in API group "" at the cluster scope\n')
            for row in json.loads(os.environ["FAKE_PROM_SERVICES"]):
                svc_ns, name, operated, app_name, app, component, ports = row
                if ns and svc_ns != ns:
                    continue
                if (selector == "operated-prometheus=true" and operated != "true"
                        or selector == "app.kubernetes.io/name=prometheus" and app_name != "prometheus"
                        or selector.startswith("app in") and app not in ("prometheus", "kube-prometheus-stack-prometheus")):
                    continue
                out += "\t".join([svc_ns, name, operated, app_name, app, "", component, ports]) + "\n"
        elif resource == "namespaces":
            out = "argocd\t\nkargo\t\nkargo-demo\ttrue\nguestbook\t\nkube-system\t\n"
            if prometheus:
                out += "cattle-monitoring-system\t\nteam-x\t\n"
        elif resource.startswith("projects."):
            out = "kargo-demo\n"
        elif resource.startswith("stages."):
            out = "kargo-demo\nkargo-demo\n"
        elif resource.startswith("applications."):
            out = "argocd\tguestbook\tkargo-demo:test\nargocd\tkube-system\t\n"
        elif resource.startswith("warehouses."):
            out = "kargo-demo\tplatform\n"
        elif resource.startswith("ingresses."):
            out = "argocd\targocd.example.com \nkargo\tkargo.example.com \n"
        elif resource == "pods" and "-A" in args and selector == "app.kubernetes.io/name=kargo":
            # namespace, name/component labels, pod, container:restarts
            out = "kargo\tkargo/controller\tkargo-controller-7d9f\tcontroller:3 \nkargo\tkargo/api\tkargo-api-5c6b\tapi:0 \n"
        elif resource == "pods" and "-A" in args and "argocd-application-controller" in selector:
            out = ("argocd\targocd-application-controller/\targocd-application-controller-0\tapplication-controller:0 \n"
                   "argocd\targocd-repo-server/\targocd-repo-server-6f7\trepo-server:1 copyutil:0 \n")
        elif resource == "pods" and "-A" in args and selector == "job-name":
            out = "kargo-demo\t/\tverify-test-1-abc\tverify:0 \nkube-system\t/\tother-job-1-xyz\tmain:0 \n"
        elif resource == "pods" and ns == "kargo":
            out = "kargo-controller-7d9f\tcontroller:3 \nkargo-api-5c6b\tapi:0 \n"
        elif resource == "pods" and ns == "argocd":
            out = "argocd-application-controller-0\tapplication-controller:0 \nargocd-repo-server-6f7\trepo-server:1 copyutil:0 \n"
        elif resource == "pods" and ns == "kargo-demo":
            out = "verify-test-1-abc\tverify:0 \n"
    finish(0, out)

if output.startswith("go-template="):
    if resource == "secrets":
        # What the names-only template prints, Go %q escapes included.
        finish(0, '{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"v1","kind":"Secret","metadata":{"name":"repo-creds","namespace":"%s","labels":{ "argocd.argoproj.io/secret-type":"repository" },"annotations":{ "note":"bell\\a here" }},"type":"Opaque","data":{ "password":"","url":"" }}\n]}' % ns)
    if resource.startswith("customresourcedefinitions"):
        finish(0, '{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition","metadata":{"name":"stages.kargo.akuity.io","labels":{  },"annotations":{  }},"spec":{"group":"kargo.akuity.io","scope":"Namespaced","names":{"kind":"Stage","plural":"stages","shortNames":[],"categories":[]},"versions":[{"name":"v1alpha1","served":true,"storage":true,"deprecated":false,"additionalPrinterColumns":[]}]},"status":{"storedVersions":["v1alpha1"]}}\n]}')
    finish(0, '{"apiVersion":"v1","kind":"List","items":[]}')

if output == "json":
    items = []
    if not empty:
        if resource == "pods" and ns == "kargo":
            items.append({"apiVersion": "v1", "kind": "Pod", "metadata": meta("kargo-controller-7d9f", ns, labels={"app.kubernetes.io/name": "kargo"},
                          annotations={"kubectl.kubernetes.io/last-applied-configuration": "{\"data\":{\"x\":\"c2VjcmV0LWluLWxhc3QtYXBwbGllZA\"}}"}),
                          "spec": {"containers": [{"name": "controller", "env": [
                              {"name": "DB_PASSWORD", "value": "hunter2-db-password"},
                              {"name": "GITHUB_TOKEN", "value": "ghp_abcdefghijklmnopqrstuvwxyzABCDEFGHIJ"},
                              {"name": "LOG_LEVEL", "value": "debug"}]}]},
                          "status": {"phase": "Running"}})
        elif resource == "configmaps" and ns == "argocd":
            items.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta("argocd-cm", ns),
                          "data": {"admin.password": "argocd-admin-pw", "url": "https://argocd.example.com"}})
        elif resource.startswith("applications.") and ns == "argocd":
            items.append({"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
                          "metadata": meta("guestbook-test", ns, annotations={"kargo.akuity.io/authorized-stage": "kargo-demo:test"}),
                          "spec": {"source": {"repoURL": "https://git:s3cr3t-repo-pass@github.com/x/y"}, "destination": {"namespace": "guestbook"}}})
        elif resource.startswith("stages.") and ns == "kargo-demo":
            items.append({"apiVersion": "kargo.akuity.io/v1alpha1", "kind": "Stage", "metadata": meta("test", ns), "spec": {}, "status": {"phase": "Verified"}})
    finish(0, listing(items))

# human-readable tables (views)
finish(0, "NAME   AGE\ntest   2d\n")
'''

FAKE_SSH = r'''#!/bin/sh
# Stand-in for "ssh HOST -- CMD": runs the command line through a shell, the
# way sshd does on the remote side.
printf "%s\\n" "$*" >> "$FAKE_SSH_LOG"
shift
[ "$1" = "--" ] && shift
exec sh -c "$*"
'''


class Fake:
    def __init__(self, tmp_path: Path):
        self.dir = tmp_path
        self.bin = tmp_path / "bin"
        self.bin.mkdir()
        self.log = tmp_path / "calls.jsonl"
        self.pids = tmp_path / "pids"
        self.ssh_log = tmp_path / "ssh.log"
        kubectl = self.bin / "kubectl"
        kubectl.write_text(FAKE_KUBECTL.replace("@PYTHON@", sys.executable))
        kubectl.chmod(0o755)
        ssh = self.bin / "fakessh"
        ssh.write_text(FAKE_SSH)
        ssh.chmod(0o755)
        self.out = tmp_path / "out"
        self.out.mkdir()

    def env(self, **extra: str) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GITOPS_") and k != "KUBECONFIG"}
        env.update(PATH=f"{self.bin}:{os.environ['PATH']}", FAKE_LOG=str(self.log), FAKE_PIDS=str(self.pids), FAKE_SSH_LOG=str(self.ssh_log))
        env.update(extra)
        return env

    def calls(self) -> list[dict]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines() if line.strip()]

    def run(self, *args: str, timeout: float = 120, **env: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["bash", str(SCRIPT), *args],
            cwd=self.dir,
            env=self.env(**env),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def assert_no_fake_left(self):
        time.sleep(0.2)
        if not self.pids.exists():
            return
        alive = []
        for pid in self.pids.read_text().split():
            try:
                os.kill(int(pid), 0)
            except ProcessLookupError:
                continue
            # a zombie waiting for its reaper is not running
            try:
                state = Path(f"/proc/{pid}/stat").read_text().split()[2]
            except OSError:
                continue
            if state != "Z":
                alive.append(pid)
        assert not alive, f"kubectl processes left running: {alive}"


def open_bundle(path: Path) -> tuple[str, dict[str, bytes]]:
    with tarfile.open(path, "r:gz") as tf:
        files = {}
        tops = set()
        for member in tf.getmembers():
            tops.add(member.name.split("/", 1)[0])
            if member.isfile():
                files[member.name.split("/", 1)[1]] = tf.extractfile(member).read()
    assert len(tops) == 1, tops
    return tops.pop(), files


@pytest.fixture
def fake(tmp_path):
    return Fake(tmp_path)


def test_full_collection(fake):
    bundle = fake.out / "b.tar.gz"
    started = time.time()
    proc = fake.run("-o", str(bundle), "--parallel", "4", FAKE_SLEEP="0.15")
    assert proc.returncode == 0, proc.stderr
    assert time.time() - started < 240

    top, files = open_bundle(bundle)
    assert re.fullmatch(r"gitops-bundle-\d{8}T\d{6}Z", top)
    manifest = json.loads(files["manifest.json"])

    # manifest fields
    assert manifest["format"] == "gitops-bundle/v1"
    assert manifest["collector"]["name"] == "collector.sh" and manifest["collector"]["version"]
    for key in ("collected_at", "finished_at"):
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", manifest[key])
    assert top == "gitops-bundle-" + re.sub(r"[-:]", "", manifest["collected_at"])[:15] + "Z"
    assert manifest["complete"] is True
    assert manifest["kubectl"]["client"]["gitVersion"] == "v1.30.2-fake"
    assert manifest["kubectl"]["server"]["gitVersion"] == "v1.29.5-fake"
    red = manifest["redaction"]
    assert red["enabled"] is True
    assert set(red["counts"]) == set(red["rules"])
    for rule in ("last-applied-configuration", "env-secret-value", "github-token", "url-credentials", "secret-field", "authorization-header"):
        assert red["counts"][rule] > 0, rule

    # config: every value with its source
    config = manifest["config"]
    assert config["kargo_namespace"] == {"value": "kargo-demo", "source": "discovered", "values": ["kargo-demo"]}
    assert config["argocd_namespace"]["value"] == "argocd"
    assert config["kargo_controller_namespace"] == {"value": "kargo", "source": "discovered"}
    assert config["argocd_controller_namespace"] == {"value": "argocd", "source": "discovered"}
    assert config["app_namespace"]["value"] == "guestbook", "destinations of Kargo-authorized apps"
    assert config["domain"] == {"value": "example.com", "source": "discovered"}
    assert config["kargo_project"]["value"] == "kargo-demo"
    assert config["warehouse_name"]["value"] == "platform"
    assert config["ssh_command"] == {"value": None, "source": "default"}
    for entry in config.values():
        assert entry["source"] in {"config-file", "flag", "env", "discovered", "default", "prompt"}
    assert 'kargo_namespace: "kargo-demo"  # discovered' in files["config.yaml"].decode()
    # Discovery listed the Kargo, Argo CD and Job pods: their logs are taken without a second listing,
    # and only the Jobs of the Kargo namespaces count.
    ids = {c["id"] for c in manifest["commands"]}
    assert not any(i.startswith("log-targets/") for i in ids)
    assert {"logs/kargo/kargo-api-5c6b/api", "logs/argocd/argocd-repo-server-6f7/copyutil", "logs/kargo-demo/verify-test-1-abc/verify"} <= ids
    assert not any(i.startswith("logs/kube-system/") for i in ids)
    # Failed discovery queries are optional; the rest are not.
    assert all(c["optional"] == (c["id"].startswith("discover-") or c["id"].startswith("can-i-")) for c in manifest["commands"])

    # commands: one entry per call, outputs present with their size and digest
    commands = manifest["commands"]
    ids = [c["id"] for c in commands]
    assert len(ids) == len(set(ids))
    calls = fake.calls()
    assert len(calls) == len(commands)
    for c in commands:
        assert set(c) >= {"id", "argv", "output", "started_at", "finished_at", "exit_code", "stderr", "bytes", "sha256"}
        assert c["argv"][0] == "kubectl" and c["argv"][1] in READ_VERBS
        if c["output"] is not None:
            data = files[c["output"]]
            assert c["bytes"] == len(data)
            assert c["sha256"] == hashlib.sha256(data).hexdigest()
        else:
            assert c["bytes"] is None and c["sha256"] is None
    by_id = {c["id"]: c for c in commands}

    # gaps are recorded, not hidden, and leave no file behind
    forbidden = by_id["roles.rbac.authorization.k8s.io/argocd"]
    assert forbidden["status"] == "forbidden" and forbidden["exit_code"] == 1 and forbidden["output"] is None
    assert "forbidden" in forbidden["stderr"]
    assert "cluster-resources/roles/argocd.json" not in files
    missing = by_id["promotiontasks.kargo.akuity.io/kargo-demo"]
    assert missing["status"] == "not-served" and missing["output"] is None
    assert "doesn't have a resource type" in missing["stderr"]
    assert "forbidden" in proc.stderr and "Gaps" in proc.stderr

    # layout of DESIGN.md
    expected = [
        "cluster-resources/version.json",
        "cluster-resources/resources.json",
        "cluster-resources/groups.json",
        "cluster-resources/nodes.json",
        "cluster-resources/namespaces.json",
        "cluster-resources/clusterroles.json",
        "cluster-resources/clusterrolebindings.json",
        "cluster-resources/customresourcedefinitions.json",
        "cluster-resources/pods-not-running.json",
        "cluster-resources/custom-resources/projects.kargo.akuity.io.json",
        "cluster-resources/custom-resources/stages.kargo.akuity.io/kargo-demo.json",
        "cluster-resources/custom-resources/promotions.kargo.akuity.io/kargo-demo.json",
        "cluster-resources/custom-resources/freights.kargo.akuity.io/kargo-demo.json",
        "cluster-resources/custom-resources/warehouses.kargo.akuity.io/kargo-demo.json",
        "cluster-resources/custom-resources/analysisruns.argoproj.io/kargo-demo.json",
        "cluster-resources/custom-resources/applications.argoproj.io/argocd.json",
        "cluster-resources/custom-resources/appprojects.argoproj.io/argocd.json",
        "cluster-resources/pods/kargo.json",
        "cluster-resources/events/kargo-demo.json",
        "cluster-resources/deployments/argocd.json",
        "cluster-resources/jobs/kargo-demo.json",
        "cluster-resources/configmaps/argocd.json",
        "cluster-resources/secrets/argocd.json",
        "cluster-resources/ingresses/guestbook.json",
        "cluster-resources/pods/logs/kargo/kargo-controller-7d9f/controller.log",
        "cluster-resources/pods/logs/kargo/kargo-controller-7d9f/controller-previous.log",
        "cluster-resources/pods/logs/kargo/kargo-api-5c6b/api.log",
        "cluster-resources/pods/logs/argocd/argocd-repo-server-6f7/repo-server.log",
        "cluster-resources/pods/logs/argocd/argocd-repo-server-6f7/repo-server-previous.log",
        "cluster-resources/pods/logs/argocd/argocd-repo-server-6f7/copyutil.log",
        "cluster-resources/pods/logs/argocd/argocd-application-controller-0/application-controller.log",
        "cluster-resources/pods/logs/kargo-demo/verify-test-1-abc/verify.log",
        "views/stages-wide-kargo-demo.txt",
        "views/promotions-kargo-demo.txt",
        "views/applications-argocd.txt",
        "views/kargo-pods-kargo.txt",
        "views/events-warnings-kargo-demo.txt",
        "views/pods-not-running-wide.txt",
    ]
    for path in expected:
        assert path in files, path
    assert "cluster-resources/pods/logs/argocd/argocd-repo-server-6f7/copyutil-previous.log" not in files
    for name, data in files.items():
        if name.endswith(".json"):
            json.loads(data)
    assert json.loads(files["cluster-resources/groups.json"])[0]["name"] == ""
    assert json.loads(files["cluster-resources/resources.json"])[1]["groupVersion"] == "kargo.akuity.io/v1alpha1"

    # logs: the window, the byte cap and timestamps are asked for
    log_calls = [c["argv"] for c in calls if c["argv"][0] == "logs"]
    assert log_calls and all("--timestamps" in a and "--since=24h" in a and "--limit-bytes=20971520" in a for a in log_calls)
    assert sum("--previous" in a for a in log_calls) == 2

    # secrets: names, types, key names; never a value
    secrets = json.loads(files["cluster-resources/secrets/argocd.json"])
    assert secrets["items"][0]["data"] == {"password": "", "url": ""}
    assert secrets["items"][0]["metadata"]["annotations"]["note"] == "bell\x07 here"
    secret_calls = [c["argv"] for c in calls if c["argv"][:2] == ["get", "secrets"]]
    assert secret_calls and all(any(a.startswith("go-template=") for a in argv) for argv in secret_calls)
    assert not any("-o" in argv and "json" in argv for argv in secret_calls)

    # redaction reached every file and the manifest
    blob = b"\n".join(files.values())
    for secret in SECRETS:
        assert secret.encode() not in blob, secret
    assert b"kargo-demo:test" in files["cluster-resources/custom-resources/applications.argoproj.io/argocd.json"]
    assert b'"value": "debug"' in files["cluster-resources/pods/kargo.json"]

    # read-only: only read verbs ever reached kubectl
    assert {c["argv"][0] for c in calls} <= READ_VERBS
    assert all(c["argv"][1] == "can-i" for c in calls if c["argv"][0] == "auth")

    # bounded parallelism: calls overlapped, never more than --parallel at once
    events = sorted([(c["start"], 1) for c in calls] + [(c["end"], -1) for c in calls])
    running = peak = 0
    for _, delta in events:
        running += delta
        peak = max(peak, running)
    assert 2 <= peak <= 4, peak

    # progress and summary on stderr
    assert re.search(r"^\[\d+/\d+\] stages\.kargo\.akuity\.io kargo-demo ok \d+\.\ds$", proc.stderr, re.M)
    assert "Bundle: " in proc.stderr and "Commands: " in proc.stderr
    assert proc.stdout == ""
    fake.assert_no_fake_left()


def test_flags_and_config_skip_discovery(fake):
    (fake.dir / ".gitops-config.yaml").write_text('kargo_namespace: "kargo-demo"\nargocd_namespace: "argocd"  # apps\n')
    bundle = fake.out / "b.tar.gz"
    proc = fake.run("-o", str(bundle), "--app-namespace", "guestbook", "--kargo-controller-namespace", "kargo",
                    "--argocd-controller-namespace", "argocd", "--domain", "example.com", "--since", "2h", "--limit-bytes", "1Mi",
                    GITOPS_WAREHOUSE_NAME="platform")
    assert proc.returncode == 0, proc.stderr
    _, files = open_bundle(bundle)
    manifest = json.loads(files["manifest.json"])
    config = manifest["config"]
    assert config["kargo_namespace"]["source"] == "config-file"
    assert config["argocd_namespace"]["source"] == "config-file"
    assert config["app_namespace"] == {"value": "guestbook", "source": "flag", "values": ["guestbook"]}
    assert config["warehouse_name"]["source"] == "env"
    assert config["kargo_project"] == {"value": "kargo-demo", "source": "discovered", "values": ["kargo-demo"]}
    assert manifest["options"]["config_file"] == ".gitops-config.yaml"
    discovery = [c["id"] for c in manifest["commands"] if c["id"].startswith("discover-")]
    assert "discover-projects" not in discovery and "discover-applications" not in discovery
    logs = [c["argv"] for c in fake.calls() if c["argv"][0] == "logs"]
    assert logs and all("--since=2h" in a and "--limit-bytes=1048576" in a for a in logs)
    # Namespaces given, so no cluster-wide pod listing: one listing per namespace picks the logs.
    ids = {c["id"] for c in manifest["commands"]}
    assert {"log-targets/kargo/kargo", "log-targets/argocd/argocd", "log-targets/kargo-demo/verification"} <= ids
    assert "discover-kargo-pods" not in ids and "discover-job-pods" not in ids
    assert "logs/kargo/kargo-controller-7d9f/controller" in ids and "logs/kargo-demo/verify-test-1-abc/verify" in ids


def test_deadline_finalizes_with_skipped_commands(fake):
    bundle = fake.out / "b.tar.gz"
    started = time.time()
    # The first command after discovery (the Kargo controller's log) hangs; the
    # request timeout alone would not end it in time.
    proc = fake.run("-o", str(bundle), "--deadline", "8s", "--request-timeout", "60s", "--parallel", "3",
                    FAKE_SLEEP="0.2", FAKE_HANG="logs -n kargo kargo-controller-7d9f -c controller --timestamps")
    elapsed = time.time() - started
    assert proc.returncode == 1, proc.stderr
    assert elapsed < 25, elapsed
    _, files = open_bundle(bundle)
    manifest = json.loads(files["manifest.json"])
    assert manifest["complete"] is False
    assert manifest["interrupted"] == "deadline"
    statuses = Counter(c["status"] for c in manifest["commands"])
    assert statuses["skipped"] > 0 and statuses["interrupted"] > 0 and statuses["ok"] > 0
    assert {c["id"]: c["status"] for c in manifest["commands"]}["logs/kargo/kargo-controller-7d9f/controller"] == "interrupted"
    for c in manifest["commands"]:
        if c["status"] == "skipped":
            assert c["exit_code"] is None and c["stderr"] == "skipped: deadline reached"
            assert c["started_at"] is None and c["output"] is None
        if c["status"] == "interrupted":
            assert c["exit_code"] is None and c["output"] is None and c["started_at"]
    assert "deadline" in proc.stderr
    fake.assert_no_fake_left()


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_stops_and_still_writes_a_bundle(fake, sig, code):
    bundle = fake.out / "b.tar.gz"
    proc = subprocess.Popen(
        ["bash", str(SCRIPT), "-o", str(bundle), "--parallel", "3", "--request-timeout", "60s"],
        cwd=fake.dir,
        env=fake.env(FAKE_SLEEP="0.3", FAKE_HANG="get configmaps"),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.time() + 30
        # past the 14 discovery queries: the signal lands in the collection
        while len(fake.calls()) < 18 and time.time() < deadline:
            time.sleep(0.1)
        assert len(fake.calls()) >= 18, "collection did not get going"
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == code, err
    _, files = open_bundle(bundle)
    manifest = json.loads(files["manifest.json"])
    assert manifest["complete"] is False
    assert manifest["interrupted"] == sig.name
    statuses = Counter(c["status"] for c in manifest["commands"])
    assert statuses["ok"] >= 10
    assert statuses["skipped"] + statuses["interrupted"] > 0
    for c in manifest["commands"]:
        if c["status"] in ("skipped", "interrupted"):
            assert c["output"] is None and c["exit_code"] is None
            assert sig.name in c["stderr"]
        if c["output"]:
            assert c["output"] in files
    assert not list(fake.out.glob("*.partial.*"))
    fake.assert_no_fake_left()


def test_ssh_prefix_runs_every_call_through_it(fake):
    bundle = fake.out / "b.tar.gz"
    proc = fake.run("-o", str(bundle), "--ssh-command", f"FAKE_VIA=ssh {fake.bin}/fakessh bastion --",
                    "--kargo-namespace", "kargo-demo", "--argocd-namespace", "argocd", "--context", "prod")
    assert proc.returncode == 0, proc.stderr
    ssh_lines = fake.ssh_log.read_text().splitlines()
    calls = fake.calls()
    assert len(ssh_lines) == len(calls) > 50
    assert all(line.startswith("bastion -- kubectl ") for line in ssh_lines)
    # the go-template and jsonpath arguments survive the remote shell intact
    secret_calls = [c["argv"] for c in calls if c["argv"][:2] == ["get", "secrets"]]
    assert secret_calls and all(any(a.startswith('go-template={"apiVersion":"v1"') for a in argv) for argv in secret_calls)
    assert all("--context=prod" in c["argv"] for c in calls)
    _, files = open_bundle(bundle)
    manifest = json.loads(files["manifest.json"])
    assert manifest["config"]["ssh_command"]["source"] == "flag"
    assert manifest["config"]["context"] == {"value": "prod", "source": "flag"}
    assert "cluster-resources/custom-resources/stages.kargo.akuity.io/kargo-demo.json" in files


def test_no_redact_is_recorded(fake):
    bundle = fake.out / "b.tar.gz"
    proc = fake.run("-o", str(bundle), "--no-redact", "-q", "--kargo-namespace", "kargo-demo", "--argocd-namespace", "argocd")
    assert proc.returncode == 0, proc.stderr
    _, files = open_bundle(bundle)
    manifest = json.loads(files["manifest.json"])
    assert manifest["redaction"]["enabled"] is False
    assert set(manifest["redaction"]["counts"].values()) == {0}
    # secret values still never come back from the names-only template
    assert json.loads(files["cluster-resources/secrets/argocd.json"])["items"][0]["data"] == {"password": "", "url": ""}
    assert not re.search(r"^\[\d+/", proc.stderr, re.M), "quiet mode prints no progress"


def test_nothing_found_without_a_terminal_exits_two(fake):
    proc = fake.run("-o", str(fake.out / "b.tar.gz"), FAKE_EMPTY="1")
    assert proc.returncode == 2
    assert "--kargo-namespace NS" in proc.stderr and "--argocd-namespace NS" in proc.stderr
    assert not list(fake.out.iterdir()), "no bundle for a run that could not start"


def test_unreachable_cluster_message_names_the_reach_flags(fake):
    bin_dir = fake.dir / "deadbin"
    bin_dir.mkdir()
    (bin_dir / "kubectl").write_text('#!/bin/sh\necho "Unable to connect to the server: dial tcp 10.0.0.1:443: connect: connection refused" >&2\nexit 1\n')
    (bin_dir / "kubectl").chmod(0o755)
    proc = fake.run("-o", str(fake.out / "b.tar.gz"), PATH=f"{bin_dir}:{os.environ['PATH']}")
    assert proc.returncode == 2
    assert "--ssh-command" in proc.stderr and "--context" in proc.stderr


def test_kubectl_missing_everywhere_still_writes_a_bundle_when_namespaces_are_given(fake):
    bin_dir = fake.dir / "deadbin"
    bin_dir.mkdir()
    (bin_dir / "kubectl").write_text('#!/bin/sh\necho "Unable to connect to the server: dial tcp 10.0.0.1:443: i/o timeout" >&2\nexit 1\n')
    (bin_dir / "kubectl").chmod(0o755)
    bundle = fake.out / "b.tar.gz"
    proc = fake.run("-o", str(bundle), "--kargo-namespace", "kargo-demo", PATH=f"{bin_dir}:{os.environ['PATH']}")
    assert proc.returncode == 1, "nothing was collected"
    _, files = open_bundle(bundle)
    manifest = json.loads(files["manifest.json"])
    assert manifest["kubectl"] == {"client": None, "server": None}
    assert all(c["status"] == "timeout" and c["output"] is None for c in manifest["commands"])
    assert "No command succeeded" in proc.stderr


# --------------------------------------------------------------------------
# Prometheus scrape targets through the service proxy
# --------------------------------------------------------------------------

# namespace, name, operated-prometheus, app.kubernetes.io/name, app, component, ports
PROM_SERVICES = [
    ["guestbook", "prometheus-operated", "true", "", "", "", "web:9090 "],
    ["guestbook", "kps-prometheus", "", "", "kube-prometheus-stack-prometheus", "", "http-web:9090 reloader-web:8080 "],
    ["guestbook", "prom-alertmanager", "", "", "prometheus", "alertmanager", "http:80 "],  # a chart's other part
    ["cattle-monitoring-system", "rancher-monitoring-prometheus", "", "prometheus", "", "", "proxy:8081 "],
    ["team-x", "prometheus-operated", "true", "", "", "", "web:9090 "],  # neither collected nor a monitoring namespace
]


def _targets_path(ns: str, service: str) -> str:
    return f"/api/v1/namespaces/{ns}/services/{service}/proxy/api/v1/targets?state=active"


def _prometheus_answer(targets: list[dict]) -> str:
    """What Prometheus answers: one line, no trailing newline."""
    return json.dumps({"status": "success", "data": {"activeTargets": targets, "droppedTargets": [],
                                                     "droppedTargetCounts": None}}, separators=(",", ":"))


def _scraped(target: dict) -> dict:
    """A target with the fields Prometheus 2.x/3.x always sends beside the ones a test is about."""
    address = urlsplit(target["scrapeUrl"]).netloc.rsplit("@", 1)[-1]
    return {"discoveredLabels": {"__address__": address, "__metrics_path__": "/metrics", "__scheme__": "http",
                                 "__scrape_interval__": "30s", "__scrape_timeout__": "10s", "job": target["scrapePool"]},
            "globalUrl": target["scrapeUrl"], "lastScrape": "2026-11-24T08:30:27.118425117Z",
            "lastScrapeDuration": 0.003412771, "scrapeInterval": "30s", "scrapeTimeout": "10s", **target}


GUESTBOOK_TARGETS = [
    _scraped({"labels": {"job": "guestbook", "namespace": "guestbook"}, "scrapePool": "serviceMonitor/guestbook/guestbook/0",
              "scrapeUrl": "http://10.244.1.7:8080/metrics", "lastError": "", "health": "up"}),
    _scraped({"labels": {"job": "node"}, "scrapePool": "scrapeConfig/guestbook/node",
              "scrapeUrl": "http://scraper:s3cr3t-repo-pass@10.0.1.21:9100/metrics",
              "lastError": "server returned HTTP status 401; sent Authorization: Bearer abcdefghijklmnopqrstuvwxyz0123456789bearer",
              "health": "down"}),
]
RANCHER_TARGETS = [
    _scraped({"labels": {"job": "a,b", "note": 'quoted "x, y" \\ and, commas'}, "scrapePool": "podMonitor/cattle-monitoring-system/x/0",
              "scrapeUrl": "http://10.244.2.9:9090/metrics", "lastError": "", "health": "up"}),
]


def _prometheus_env(**extra: str) -> dict:
    answers = {
        _targets_path("guestbook", "kps-prometheus:9090"): _prometheus_answer(GUESTBOOK_TARGETS),
        _targets_path("cattle-monitoring-system", "rancher-monitoring-prometheus:8081"): _prometheus_answer(RANCHER_TARGETS),
        # guestbook's prometheus-operated has no endpoints: the fake answers 503. It is asked after
        # kps-prometheus (Services are asked in name order), so the failure recorded is not the first call.
    }
    return dict(FAKE_PROMETHEUS="1", FAKE_PROM_SERVICES=json.dumps(PROM_SERVICES), FAKE_PROM_ANSWERS=json.dumps(answers), **extra)


def test_prometheus_targets_through_the_service_proxy(fake):
    bundle = fake.out / "b.tar.gz"
    proc = fake.run("-o", str(bundle), "--parallel", "8", **_prometheus_env())
    assert proc.returncode == 0, proc.stderr
    _, files = open_bundle(bundle)
    manifest = json.loads(files["manifest.json"])
    by_id = {c["id"]: c for c in manifest["commands"]}

    # Discovery: one query per label, cluster-wide; the monitoring-like namespace becomes the monitoring namespace.
    for name in ("prometheus-operated", "prometheus-name", "prometheus-app"):
        assert by_id[f"discover-{name}"]["optional"] is True and by_id[f"discover-{name}"]["status"] == "ok"
    assert manifest["config"]["monitoring_namespace"] == {"value": "cattle-monitoring-system", "source": "discovered"}

    # Read-only: every proxied call is `kubectl get --raw` of a targets path, i.e. a GET, and nothing else was proxied.
    raw = [c["argv"] for c in fake.calls() if "--raw" in c["argv"]]
    assert all(a[:2] == ["get", "--raw"] for a in raw)
    proxied = sorted(a[2] for a in raw if a[2] != "/apis")
    assert all(PROMETHEUS_TARGETS_PATH.match(p) for p in proxied), proxied
    assert proxied == sorted([_targets_path("cattle-monitoring-system", "rancher-monitoring-prometheus:8081"),
                              _targets_path("guestbook", "kps-prometheus:9090"),
                              _targets_path("guestbook", "prometheus-operated:9090")])
    ids = [c["id"] for c in manifest["commands"] if c["id"].startswith("prometheustargets.")]
    assert sorted(ids) == [f"{TARGETS}/cattle-monitoring-system",
                           f"{TARGETS}/guestbook"]

    # One Service answered unchanged (the commas and escaped quotes inside strings survive the line splitting).
    rel = f"cluster-resources/custom-resources/{TARGETS}/cattle-monitoring-system.json"
    rancher = by_id[f"{TARGETS}/cattle-monitoring-system"]
    assert rancher["status"] == "ok" and rancher["output"] == rel and rancher["optional"] is False
    assert rancher["argv"][:3] == ["kubectl", "get", "--raw"]
    assert rancher["argv"][3] == _targets_path("cattle-monitoring-system", "rancher-monitoring-prometheus:8081")
    doc = json.loads(files[rel])
    assert doc["kind"] == "List" and len(doc["items"]) == 1
    item = doc["items"][0]
    assert item["apiVersion"] == "bundle.gitops-master.io/v1" and item["kind"] == "PrometheusTarget"
    assert item["metadata"] == {"name": "rancher-monitoring-prometheus", "namespace": "cattle-monitoring-system"}
    assert item["response"] == json.loads(_prometheus_answer(RANCHER_TARGETS))
    assert len(files[rel].splitlines()) > 5, "a one-line answer is split before redaction"

    # Two Services in guestbook: one answered, one refused. The answer is kept, the failure recorded (partial, a gap).
    rel = f"cluster-resources/custom-resources/{TARGETS}/guestbook.json"
    guestbook = by_id[f"{TARGETS}/guestbook"]
    assert guestbook["status"] == "partial" and guestbook["exit_code"] != 0 and guestbook["output"] == rel
    assert guestbook["argv"][3] == _targets_path("guestbook", "prometheus-operated:9090"), "the argv of the call that failed"
    assert "no endpoints available" in guestbook["stderr"]
    assert guestbook["bytes"] == len(files[rel]) and guestbook["sha256"] == hashlib.sha256(files[rel]).hexdigest()
    doc = json.loads(files[rel])
    assert [i["metadata"]["name"] for i in doc["items"]] == ["kps-prometheus"]
    response = doc["items"][0]["response"]
    assert [t["health"] for t in response["data"]["activeTargets"]] == ["up", "down"]
    # redacted like every other output
    assert b"s3cr3t-repo-pass" not in files[rel] and b"abcdefghijklmnopqrstuvwxyz0123456789bearer" not in files[rel]
    assert response["data"]["activeTargets"][1]["scrapeUrl"] == "http://***HIDDEN***@10.0.1.21:9100/metrics"
    assert not any("team-x" in c["id"] for c in manifest["commands"])
    assert not any(name.startswith(f"cluster-resources/custom-resources/{TARGETS}/team-x")
                   for name in files)
    fake.assert_no_fake_left()


def test_prometheus_services_listed_per_namespace_when_the_cluster_wide_query_is_refused(fake):
    bundle = fake.out / "b.tar.gz"
    proc = fake.run("-o", str(bundle), "--parallel", "8", **_prometheus_env(FAKE_PROM_NO_LIST="1"))
    assert proc.returncode == 0, proc.stderr
    _, files = open_bundle(bundle)
    manifest = json.loads(files["manifest.json"])
    by_id = {c["id"]: c for c in manifest["commands"]}
    assert by_id["discover-prometheus-operated"]["status"] == "forbidden" and by_id["discover-prometheus-operated"]["optional"]
    listings = {i: c for i, c in by_id.items() if i.startswith("discover-prometheus/")}
    assert "discover-prometheus/guestbook" in listings and all(c["optional"] for c in listings.values())
    assert all("-n" in c["argv"] and "-A" not in c["argv"] for c in listings.values())
    # the Services of the collected namespaces are still found; nothing names the monitoring namespace now
    assert by_id[f"{TARGETS}/guestbook"]["status"] == "partial"
    assert f"{TARGETS}/cattle-monitoring-system" not in by_id
    assert manifest["config"]["monitoring_namespace"]["value"] is None
    proxied = [c["argv"][2] for c in fake.calls() if c["argv"][:2] == ["get", "--raw"] and c["argv"][2] != "/apis"]
    assert proxied and all(PROMETHEUS_TARGETS_PATH.match(p) for p in proxied)
