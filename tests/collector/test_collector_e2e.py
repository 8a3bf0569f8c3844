"""collector.sh end to end: the real kubectl against `gitops-master serve`.

Every test serves a bundle with :class:`analyzer.serve.BundleServer` on
127.0.0.1, points the machine's ``kubectl`` (a dispatcher that runs the client
matching the server's version) at it through a kubeconfig, runs the real
``collector.sh`` and reads what it wrote: the tarball, its manifest, and what
``gitops-master diagnose`` makes of it. Each collector run gets its own HOME,
so kubectl's discovery cache never carries over from one server to the next.

Why the servers run with ``uncollected="empty"``: the sample bundles are
written by hand and hold a subset of what the collector gathers (no
ServiceAccounts, no ConfigMaps, logs of a few pods only). The analyzer reads a
file that a sample lacks, with no failed command about it, as "nothing there";
"empty" serves it the same way (an empty list, an empty log), so a collection
from the server means what the sample means. The default, "notfound", would
turn every such omission into a 404 and the new bundle into dozens of
collection gaps the sample never had. Gaps the sample *does* record in its
manifest are replayed in both modes (Forbidden stays Forbidden).

Ages are judged at the sample's reference time (``diagnose --at``): the
collector stamps the new bundle with the time it ran, the data is from the
sample's instant.
"""

from __future__ import annotations

import base64
import gzip
import json
import os
import re
import signal
import subprocess
import sys
import tarfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from analyzer.frames.platform import PROMETHEUS_TARGET_RESOURCE as PROM_TARGETS
from analyzer.serve import BundleServer
from tests.conftest import PROMETHEUS_TARGETS_PATH, REPO, expectation_for, sample_paths

pytestmark = pytest.mark.skipif(
    subprocess.run(["sh", "-c", "command -v kubectl"], capture_output=True, check=False).returncode != 0,
    reason="kubectl is not installed",
)

SCRIPT = REPO / "collector.sh"
READ_VERBS = {"get", "logs", "version", "api-resources", "api-versions", "auth"}
FAST = ("--parallel", "8", "--request-timeout", "5s")


# --------------------------------------------------------------------------
# Running the collector against a served bundle
# --------------------------------------------------------------------------


@dataclass
class Run:
    rc: int
    stderr: str
    wall: float
    bundle: Path
    manifest: dict
    files: dict[str, bytes]  # path inside the bundle -> content
    requests: list[tuple[str, str, int]]  # what the server was asked: its request log


def _clean_env(home: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITOPS_") and k != "KUBECONFIG"}
    env["HOME"] = str(home)
    return env


def read_bundle(path: Path) -> tuple[dict, dict[str, bytes]]:
    files: dict[str, bytes] = {}
    tops = set()
    with tarfile.open(path, "r:gz") as tf:
        for member in tf.getmembers():
            tops.add(member.name.split("/", 1)[0])
            if member.isfile():
                files[member.name.split("/", 1)[1]] = tf.extractfile(member).read()
    assert len(tops) == 1, tops
    return json.loads(files["manifest.json"]), files


def collect(source, work: Path, *args: str, server_options: dict | None = None, cwd: Path | None = None,
            interrupt_after: int | None = None, timeout: float = 240) -> Run:
    """Serve ``source``, run collector.sh against it, return what came back.

    ``interrupt_after=N`` sends SIGINT to the collector's process group (as a
    terminal's Ctrl-C does) once N commands have finished.
    """
    work.mkdir(parents=True, exist_ok=True)
    home = work / "home"
    home.mkdir(exist_ok=True)
    out = work / "bundle.tar.gz"
    options = {"uncollected": "empty", **(server_options or {})}
    with BundleServer(source, request_log=work / "requests.jsonl", **options) as server:
        kubeconfig = server.write_kubeconfig(work / "kubeconfig")
        argv = ["bash", str(SCRIPT), "--kubeconfig", kubeconfig, "-o", str(out), *args]
        started = time.monotonic()
        proc = subprocess.Popen(argv, cwd=cwd or work, env=_clean_env(home), stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
        lines = []
        try:
            for line in proc.stderr:
                lines.append(line)
                m = re.match(r"^\[(\d+)/\d+\]", line)
                if interrupt_after is not None and m and int(m.group(1)) >= interrupt_after:
                    os.killpg(proc.pid, signal.SIGINT)
                    interrupt_after = None
            rc = proc.wait(timeout=timeout)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        wall = time.monotonic() - started
    requests = [(e["method"], e["path"], e["status"]) for e in map(json.loads, (work / "requests.jsonl").read_text().splitlines())]
    assert out.is_file(), "".join(lines)
    manifest, files = read_bundle(out)
    return Run(rc, "".join(lines), wall, out, manifest, files, requests)


def analyzer_json(mode: str, path: Path, *args: str, codes: tuple[int, ...]) -> tuple[int, dict]:
    """``gitops-master MODE PATH ARGS --format json`` as a process: its exit code (one of ``codes``) and answer."""
    cmd = [sys.executable, "-m", "analyzer", mode, str(path), *args, "--format", "json"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode in codes, proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def diagnose(path: Path, at: str | None = None) -> tuple[int, dict]:
    return analyzer_json("diagnose", path, *(["--at", at] if at else []), codes=(0, 1))


def finding_keys(report: dict) -> set[tuple]:
    return {(f["id"], f["subject"].get("kind"), f["subject"].get("namespace"), f["subject"].get("name")) for f in report["findings"]}


def commands(run: Run, status: str | None = None) -> list[dict]:
    return [c for c in run.manifest["commands"] if status is None or c["status"] == status]


def duration(c: dict) -> float:
    from datetime import datetime

    def t(s):
        return datetime.fromisoformat(s.replace("Z", "+00:00"))
    return (t(c["finished_at"]) - t(c["started_at"])).total_seconds()


# --------------------------------------------------------------------------
# Round trip: sample -> serve -> collector.sh -> same findings
# --------------------------------------------------------------------------


def _served_path(sample: Path) -> Path:
    if sample.is_dir() and not (sample / "manifest.json").exists():
        # A pasted ticket: the directory holds loose YAML and its expected.json.
        return next(p for p in sorted(sample.iterdir()) if p.suffix in (".yaml", ".yml", ".json") and p.name != "expected.json")
    return sample


SAMPLES = sample_paths()
_ROUND_TRIPS: dict[str, tuple[Run, dict, dict]] = {}


@pytest.fixture(scope="module")
def round_trip(tmp_path_factory):
    """sample name -> (collector run, diagnose of the sample, diagnose of the collected bundle); each run once."""

    def get(sample: Path):
        if sample.name not in _ROUND_TRIPS:
            _, original = diagnose(_served_path(sample))
            run = collect(_served_path(sample), tmp_path_factory.mktemp(sample.name.replace(".", "-")), *FAST)
            _, collected = diagnose(run.bundle, at=original["bundle"]["reference_time"])
            _ROUND_TRIPS[sample.name] = (run, original, collected)
        return _ROUND_TRIPS[sample.name]

    return get


@pytest.mark.parametrize("sample", SAMPLES, ids=[p.name for p in SAMPLES])
def test_round_trip_gives_the_samples_findings(sample, round_trip):
    run, original, collected = round_trip(sample)
    assert run.rc == 0, run.stderr
    assert run.manifest["complete"] is True
    assert finding_keys(collected) == finding_keys(original)
    # and what the sample is about is still found
    expected = {(f["id"], f["subject"]["kind"], f["subject"]["namespace"], f["subject"]["name"])
                for f in expectation_for(sample)["findings"]}
    assert expected <= finding_keys(collected)
    # no gap but the ones the sample itself records (replayed by the server)
    gaps = [c["id"] for c in commands(run) if c["exit_code"] != 0 and not c["optional"]]
    assert len(gaps) == sum(1 for f in original["findings"] if f["id"] == "collection-gap"), gaps


@pytest.mark.parametrize("sample", SAMPLES, ids=[p.name for p in SAMPLES])
def test_discovery_finds_the_samples_namespaces(sample, round_trip):
    """No config file, no flags: every namespace comes from the cluster, and the manifest says so."""
    run, _, _ = round_trip(sample)
    config = run.manifest["config"]
    served = _objects(_served_path(sample))
    stage_ns = {o["metadata"]["namespace"] for o in served if o.get("kind") == "Stage"}
    app_ns = {o["metadata"]["namespace"] for o in served if o.get("kind") == "Application"}
    destinations = {o["spec"]["destination"]["namespace"] for o in served
                    if o.get("kind") == "Application" and (o.get("spec") or {}).get("destination", {}).get("namespace")}

    assert set(config["kargo_namespace"]["values"]) == stage_ns
    assert config["kargo_namespace"]["source"] == "discovered"
    assert set(config["argocd_namespace"]["values"]) == app_ns
    assert config["argocd_namespace"]["source"] == "discovered"
    assert config["kargo_project"]["values"] == sorted(stage_ns)
    assert set(config["app_namespace"]["values"]) <= destinations and config["app_namespace"]["values"]
    assert config["app_namespace"]["source"] == "discovered"
    assert config["ssh_command"] == {"value": None, "source": "default"}
    controllers = {o["metadata"]["namespace"] for o in served if o.get("kind") == "Pod"
                   and (o["metadata"].get("labels") or {}).get("app.kubernetes.io/component") == "controller"
                   and (o["metadata"].get("labels") or {}).get("app.kubernetes.io/name") == "kargo"}
    if controllers:
        assert set(config["kargo_controller_namespace"]["value"].split(",")) == controllers
        assert config["kargo_controller_namespace"]["source"] == "discovered"
    else:  # a pasted ticket has no pods: the usual namespace, said to be a default
        assert config["kargo_controller_namespace"] == {"value": "kargo", "source": "default"}
    sample_manifest = _sample_manifest(sample)
    if sample_manifest:
        # what the sample's own collection found is found again
        for key in ("kargo_namespace", "argocd_namespace", "kargo_controller_namespace", "argocd_controller_namespace",
                    "kargo_project", "warehouse_name"):
            assert config[key]["value"] == sample_manifest["config"][key]["value"], key
        assert sample_manifest["config"]["app_namespace"]["value"] in config["app_namespace"]["values"]
    hosts = [r.get("host") for o in served if o.get("kind") == "Ingress" for r in (o.get("spec") or {}).get("rules") or []]
    if any(h and h.split(".", 1)[0] in ("kargo", "argocd") for h in hosts):
        assert config["domain"]["source"] == "discovered" and config["domain"]["value"]
    # the namespaces found are the ones collected
    for ns in stage_ns:
        assert f"cluster-resources/custom-resources/stages.kargo.akuity.io/{ns}.json" in run.files
    for ns in config["app_namespace"]["values"]:
        assert f"cluster-resources/pods/{ns}.json" in run.files


def _sample_manifest(sample: Path) -> dict | None:
    if sample.is_dir():
        p = sample / "manifest.json"
        return json.loads(p.read_text()) if p.exists() else None
    manifest, _ = read_bundle(sample)
    return manifest


def _objects(path: Path) -> list[dict]:
    from analyzer.bundle import open_bundle

    out = []
    for docs in open_bundle(path).documents.values():
        for doc in docs:
            try:
                data = json.loads(doc.data)
            except ValueError:
                continue
            items = data.get("items") if isinstance(data, dict) and isinstance(data.get("items"), list) else [data]
            out += [o for o in items if isinstance(o, dict) and isinstance(o.get("metadata"), dict)]
    return out


def test_read_only_every_request_is_a_get(round_trip):
    """The server saw GETs only, except the one POST kubectl makes for `auth can-i --list`, which it refused."""
    runs = [round_trip(s)[0] for s in SAMPLES]
    assert runs
    for run in runs:
        verbs = Counter(c["argv"][1] for c in commands(run))
        assert set(verbs) <= READ_VERBS, verbs
        for c in commands(run):
            assert not {"--watch", "-w", "--follow", "-f"} & set(c["argv"]), c["argv"]
        methods = Counter(m for m, _, _ in run.requests)
        not_get = [(m, p, s) for m, p, s in run.requests if m != "GET"]
        # kubectl auth can-i --list creates a SelfSubjectRulesReview (a POST that reads):
        # the read-only server answers 405, the collector records it as optional, no gap.
        assert all(m == "POST" and p.startswith("/apis/authorization.k8s.io/v1/selfsubjectrulesreviews") and s == 405
                   for m, p, s in not_get), not_get
        can_i = [c for c in commands(run) if c["argv"][1:3] == ["auth", "can-i"]]
        assert len(not_get) == len(can_i), (methods, len(can_i))
        assert all(c["optional"] and c["status"] != "ok" for c in can_i)
        assert all(s < 500 for _, _, s in run.requests)


def test_config_file_overrides_discovery(tmp_path):
    """.gitops-config.yaml in the working directory wins over discovery; what it leaves out is still discovered."""
    sample = REPO / "sample_bundles" / "verification-failed"
    workdir = tmp_path / "project"
    workdir.mkdir()
    (workdir / ".gitops-config.yaml").write_text(
        "# written by hand\n"
        "kargo_namespace: kargo-demo\n"
        "argocd_namespace: argocd\n"
        'app_namespace: "guestbook-dev"\n'
        "monitoring_namespace: monitoring\n"
        "domain: example.org\n"
    )
    run = collect(sample, tmp_path / "run", *FAST, cwd=workdir)
    assert run.rc == 0, run.stderr
    config = run.manifest["config"]
    for key, value in (("kargo_namespace", "kargo-demo"), ("argocd_namespace", "argocd"), ("app_namespace", "guestbook-dev"),
                       ("monitoring_namespace", "monitoring"), ("domain", "example.org")):
        assert config[key] == {**config[key], "value": value, "source": "config-file"}, key
    assert config["kargo_controller_namespace"] == {"value": "kargo", "source": "discovered"}
    assert run.manifest["options"]["config_file"] == ".gitops-config.yaml"
    ids = [c["id"] for c in commands(run)]
    # discovery did not look for what the file gave
    assert "discover-stages" not in ids and "discover-applications" not in ids and "discover-projects" not in ids
    # the app namespace discovery would pick (guestbook-qa) is not collected, the configured one is
    assert "cluster-resources/pods/guestbook-dev.json" in run.files
    assert "cluster-resources/pods/guestbook-qa.json" not in run.files
    assert "domain: \"example.org\"  # config-file" in run.files["config.yaml"].decode()


# --------------------------------------------------------------------------
# Failures: denied, hanging, interrupted
# --------------------------------------------------------------------------


def test_denied_resource_is_a_gap_not_an_absence(tmp_path):
    """AnalysisRuns forbidden: the collector goes on, records it, and the analyzer says "unknown", not "none"."""
    sample = REPO / "sample_bundles" / "verification-failed"
    run = collect(sample, tmp_path, *FAST, server_options={"deny": {"analysisruns": {None}}})
    assert run.rc == 0, run.stderr
    forbidden = {c["id"] for c in commands(run, "forbidden")}
    assert forbidden == {"analysisruns.argoproj.io/kargo-demo", "analysisruns-kargo-demo"}
    for c in commands(run, "forbidden"):
        assert c["exit_code"] != 0 and c["output"] is None and "forbidden" in c["stderr"].lower()
    assert not any(name.startswith("cluster-resources/custom-resources/analysisruns.argoproj.io/") for name in run.files)
    # everything else was collected
    assert len(commands(run, "ok")) > 100
    assert "cluster-resources/custom-resources/stages.kargo.akuity.io/kargo-demo.json" in run.files
    assert "analysisruns.argoproj.io/kargo-demo: forbidden" in run.stderr

    _, original = diagnose(sample)
    code, report = diagnose(run.bundle, at=original["bundle"]["reference_time"])
    keys = finding_keys(report)
    assert ("collection-gap", "AnalysisRun", "kargo-demo", "*") in keys
    gap = next(f for f in report["findings"] if f["id"] == "collection-gap")
    assert "forbidden" in gap["root_cause"]
    # The verdict stands on the Stage's own record of the failed verification ...
    assert ("verification-failed", "Stage", "kargo-demo", "qa") in keys
    # ... and missing AnalysisRuns are not read as "verification never ran", nor as "all good".
    assert not any(k[0] == "verification-not-started" for k in keys)
    assert code == 1
    assert keys - {("collection-gap", "AnalysisRun", "kargo-demo", "*")} == finding_keys(original)




def verify_check(path: Path, stage: str, ident: str, at: str) -> dict:
    """One check of ``gitops-master verify`` on one Stage, judged at the sample's instant."""
    _, answer = analyzer_json("verify", path, "--stage", stage, "--at", at, codes=(0, 1, 3))
    (report,) = answer["stages"]
    found = [c for level in report["levels"] for c in level["checks"] if c["id"] == ident]
    assert found, [c["id"] for level in report["levels"] for c in level["checks"]]
    return found[0]


def test_prometheus_targets_round_trip(round_trip):
    """verified-pipeline's dev Application deploys a Prometheus: its targets come back through the service proxy."""
    sample = REPO / "sample_bundles" / "verified-pipeline"
    run, original, _ = round_trip(sample)
    assert run.rc == 0, run.stderr
    rel = f"cluster-resources/custom-resources/{PROM_TARGETS}/guestbook-dev.json"
    entry = next(c for c in commands(run) if c["id"] == f"{PROM_TARGETS}/guestbook-dev")
    assert entry["status"] == "ok" and entry["output"] == rel and entry["optional"] is False
    assert entry["argv"][:4] == ["kubectl", "get", "--raw",
                                 "/api/v1/namespaces/guestbook-dev/services/prometheus-operated:9090/proxy/api/v1/targets?state=active"]
    # the answer, unchanged, in the same PrometheusTarget object
    collected = json.loads(run.files[rel])["items"]
    served = json.loads((sample / rel).read_text())["items"]
    assert [(o["apiVersion"], o["kind"], o["metadata"]) for o in collected] == \
        [(o["apiVersion"], o["kind"], {"name": o["metadata"]["name"], "namespace": o["metadata"]["namespace"]}) for o in served]
    assert collected[0]["response"] == served[0]["response"]
    # only where a Prometheus Service is: no other namespace has targets, nor a gap for them
    assert [c["id"] for c in commands(run) if c["id"].startswith(PROM_TARGETS)] == [f"{PROM_TARGETS}/guestbook-dev"]
    # asked with GETs of the one proxied path (kubectl adds its --request-timeout to the query)
    proxied = [(m, re.sub(r"&timeout=\d+s$", "", p), s) for m, p, s in run.requests if "/proxy/" in p]
    assert proxied and all(m == "GET" and PROMETHEUS_TARGETS_PATH.match(p) and s == 200 for m, p, s in proxied), proxied
    at = original["bundle"]["reference_time"]
    for path in (sample, run.bundle):
        check = verify_check(path, "dev", "prometheus", at)
        assert (check["status"], check["detail"]) == ("PASS", "1/1 active targets up"), (path, check)


def test_prometheus_proxy_denied_is_a_gap_not_a_pass(tmp_path, round_trip):
    """services/proxy forbidden: the collector records the failure under the PrometheusTarget id, verify says UNKNOWN."""
    sample = REPO / "sample_bundles" / "verified-pipeline"
    run = collect(sample, tmp_path, *FAST, server_options={"deny": {"services/proxy": {None}}})
    assert run.rc == 0, run.stderr
    entry = next(c for c in commands(run) if c["id"] == f"{PROM_TARGETS}/guestbook-dev")
    assert entry["status"] == "forbidden" and entry["exit_code"] != 0 and entry["output"] is None
    assert entry["optional"] is False
    assert 'cannot get resource "services/proxy"' in entry["stderr"]
    assert not any(name.startswith(f"cluster-resources/custom-resources/{PROM_TARGETS}/") for name in run.files)
    assert f"{PROM_TARGETS}/guestbook-dev: forbidden" in run.stderr
    # the rest was collected, the Services included
    assert "cluster-resources/services/guestbook-dev.json" in run.files
    assert [s for m, p, s in run.requests if "/proxy/" in p] == [403]
    _, original, _ = round_trip(sample)
    check = verify_check(run.bundle, "dev", "prometheus", original["bundle"]["reference_time"])
    assert check["status"] == "UNKNOWN" and "forbidden" in check["detail"], check


def test_hanging_resource_times_out_and_the_deadline_holds(tmp_path):
    """Stages and logs never answer: each call ends at --request-timeout, the run at --deadline."""
    sample = REPO / "sample_bundles" / "verification-failed"
    deadline = 12
    run = collect(sample, tmp_path, "--parallel", "8", "--request-timeout", "2s", "--deadline", f"{deadline}s",
                  server_options={"delay": {"stages": 60, "pods/log": 60}})
    # the whole run: the deadline plus finalizing the bundle
    assert run.wall < deadline + 8, run.wall
    assert run.rc == 1, run.stderr
    assert run.manifest["complete"] is False
    assert run.manifest["interrupted"] == "deadline"
    assert run.manifest["options"]["request_timeout_seconds"] == 2
    assert run.manifest["options"]["deadline_seconds"] == deadline
    stages = next(c for c in commands(run) if c["id"] == "stages.kargo.akuity.io/kargo-demo")
    assert stages["status"] == "timeout", stages
    assert stages["exit_code"] not in (0, None)
    assert re.search(r"timeout|deadline exceeded", stages["stderr"], re.IGNORECASE), stages["stderr"]
    assert duration(stages) < 2 + 4, duration(stages)
    timed_out_logs = [c for c in commands(run, "timeout") if c["id"].startswith("logs/")]
    assert timed_out_logs
    assert all(duration(c) < 2 + 4 for c in timed_out_logs)
    # what the deadline cut is recorded too, never silently dropped
    assert commands(run, "skipped") or commands(run, "interrupted")
    for c in commands(run, "skipped"):
        assert c["exit_code"] is None and c["stderr"] == "skipped: deadline reached"
    # what answered is there
    assert "cluster-resources/custom-resources/promotions.kargo.akuity.io/kargo-demo.json" in run.files
    _, report = diagnose(run.bundle, at="2026-11-21T09:41:18Z")
    assert report["bundle"]["complete"] is False
    gaps = {(f["subject"]["kind"], f["subject"]["namespace"]) for f in report["findings"] if f["id"] == "collection-gap"}
    assert ("Stage", "kargo-demo") in gaps


def test_sigint_leaves_a_partial_bundle_the_analyzer_reads(tmp_path):
    sample = REPO / "sample_bundles" / "verification-failed"
    run = collect(sample, tmp_path, *FAST, interrupt_after=25)
    assert run.rc == 130, run.stderr
    assert run.manifest["complete"] is False
    assert run.manifest["interrupted"] == "SIGINT"
    statuses = Counter(c["status"] for c in commands(run))
    assert statuses["ok"] >= 20
    assert statuses["skipped"] > 0
    assert set(statuses) <= {"ok", "skipped", "interrupted", "not-served", "error", "partial"}, statuses
    for c in commands(run):
        if c["status"] in ("skipped", "interrupted"):
            assert c["output"] is None and c["exit_code"] is None
    # every file the manifest names is in the tarball, intact
    import hashlib
    for c in commands(run, "ok"):
        if c["output"]:
            assert hashlib.sha256(run.files[c["output"]]).hexdigest() == c["sha256"]
    assert "Bundle is incomplete (SIGINT)." in run.stderr
    _, report = diagnose(run.bundle, at="2026-11-21T09:41:18Z")
    assert report["bundle"]["complete"] is False
    assert any(f["id"] == "collection-gap" for f in report["findings"])


# --------------------------------------------------------------------------
# Redaction: planted secrets never leave the cluster
# --------------------------------------------------------------------------

PEM_BODY = "MIIEpAIBAAKCAQEAplantedPEMbody0123456789abcdefABCDEF"
PEM_BODY2 = "b3BlbnNzaC1rZXktdjEAAAAAplantedSSHkeyBody987654321"
GH_TOKEN = "ghp_PLANTEDabcdefghijklmnopqrstuvwxyz012"
GHS_TOKEN = "ghs_PLANTEDinstallTokenABCDEFGHIJ0123456789"
GL_TOKEN = "glpat-PLANTEDglab1234567890xyz"
SLACK_TOKEN = "xoxb-123456789012-PLANTEDslackToken9"
BB_TOKEN = "ATBBPLANTEDbitbucketAppPassword0123456"
NPM_TOKEN = "npm_PLANTEDnpmTokenabcdefghijklmnopqrstu"
GOOGLE_KEY = "AIzaPLANTEDgoogleApiKey0123456789abcdef"
AWS_KEY = "AKIAPLNTD7Q2X9ZK4M3B"
JWT = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJwbGFudGVkLWp3dCJ9.c2lnbmF0dXJlLXBsYW50ZWQtand0"
DOCKER_AUTH = base64.b64encode(b"docker-user:docker-planted-pw-Q1w2").decode()
SECRET_DATA_PW = "secret-data-pw-Lk8Jh7"

# name -> the literal that must not be found anywhere in the collected bundle
PLANTED = {
    "configmap key": "pw-cm-Q8k2Lm9xV",
    "argocd-cm repositories password (YAML in a value)": "pw-repo-Z7c1VbN",
    "argocd-cm url with credentials": "pw-urlcm-K3j9Hs",
    "argocd-cm dex clientSecret": "dex-secret-T5g6H7",
    "repository secret shape in a ConfigMap": "repo-shape-pw-N4m5",
    "repository secret shape ssh key": PEM_BODY2,
    "cluster secret shape bearerToken": "tok-cluster-Hq5Rt7YuP",
    "cluster secret shape keyData": "a2V5LWRhdGEtUGxhbnRlZEs",
    "cluster secret shape in an annotation": "ann-cluster-tok-Zx9Cv8",
    "annotation with a token": "ann-tok-W2e3R4t5Y",
    "slack webhook in an annotation": "XyZplantedHook9",
    "env GITHUB_TOKEN": "env-tok-P0o9I8u7Y",
    "env AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMIK7MDENGbPxRfiCYPLANTEDKEY",
    "env in one line": "env-oneline-pw-Rr5Tt6",
    "cli flag --password=": "cli-pw-A1s2D3f4",
    "cli flag --auth-token VALUE": "cli-tok-B5n6M7q8",
    "last-applied-configuration": "lastapplied-pw-G5h6J7",
    "Application repoURL user:password": "app-url-pw-M4n5B6v",
    "Application repoURL token as user": "tokenuserAbcdef0123456789",
    "Warehouse git subscription credentials": "wh-url-pw-V7c8X9z",
    "Warehouse chart subscription credentials": "wh-oci-pw-C3v4B5n",
    "Kargo credentials Secret value": SECRET_DATA_PW,
    "Kargo credentials Secret value (base64)": base64.b64encode(SECRET_DATA_PW.encode()).decode(),
    "Argo CD repository Secret value (base64)": base64.b64encode(b"argo-repo-secret-pw-P9o8").decode(),
    "Secret annotation last-applied": "secret-lastapplied-V1b2",
    "log: token in a clone URL": GHS_TOKEN,
    "log: Authorization header": "Basic-planted-ZGVwbG95OnBsYW50ZWQ",
    "log: bearer token": "plantedBearerToken0123456789abcdef",
    "log: password=": "log-pw-T6y7U8i",
    "log: multi-line PEM": PEM_BODY,
    "event message with credentials": "event-url-pw-Y6u7",
    "JWT": JWT,
    "PEM private key in a ConfigMap": "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCplantedCM",
    "docker config JSON auth": DOCKER_AUTH,
    "AWS access key id": AWS_KEY,
    "GitHub token": GH_TOKEN,
    "GitLab token": GL_TOKEN,
    "Slack token": SLACK_TOKEN,
    "Bitbucket app password": BB_TOKEN,
    "npm token": NPM_TOKEN,
    "Google API key": GOOGLE_KEY,
    "Azure storage account key": "QXp1cmVQbGFudGVkQWNjb3VudEtleQ+/9",
    "Azure SAS signature in a URL": "PLANTEDsasSig0123%3D",
    "webhook signature in an annotation": "sigPLANTEDhmac4f3e2d1c",
}


def _meta(name: str, ns: str | None = None, **extra) -> dict:
    md = {"name": name, "uid": f"uid-{name}", "creationTimestamp": "2026-11-20T01:00:00Z", "resourceVersion": "100"}
    if ns:
        md["namespace"] = ns
    md.update(extra)
    return md


def _list(items: list[dict]) -> str:
    return json.dumps({"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": items}, indent=2)


def _pod(name: str, ns: str, labels: dict, containers: list[dict], restarts: int = 0) -> dict:
    return {
        "apiVersion": "v1", "kind": "Pod", "metadata": _meta(name, ns, labels=labels),
        "spec": {"containers": containers, "nodeName": "worker-1"},
        "status": {"phase": "Running", "containerStatuses": [
            {"name": c["name"], "ready": True, "restartCount": restarts, "image": c.get("image", "x"), "imageID": "",
             "state": {"running": {"startedAt": "2026-11-20T01:00:00Z"}}} for c in containers]},
    }


def planted_bundle(root: Path) -> Path:
    """A bundle whose objects and logs carry a secret of every kind the collector redacts."""
    b = root / "planted"
    cr = b / "cluster-resources"
    (cr / "custom-resources").mkdir(parents=True)
    P = PLANTED

    def write(rel: str, text: str) -> None:
        path = b / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)

    write("manifest.json", json.dumps({
        "format": "gitops-bundle/v1", "collector": {"name": "planted", "version": "0"},
        "collected_at": "2026-11-20T03:00:00Z", "finished_at": "2026-11-20T03:00:05Z", "complete": True,
        "kubectl": {"server": {"gitVersion": "v1.30.4"}}, "commands": [],
    }))
    write("cluster-resources/namespaces.json", _list([
        {"apiVersion": "v1", "kind": "Namespace", "metadata": _meta(n, labels=lab)}
        for n, lab in (("kargo", {}), ("argocd", {}), ("kargo-demo", {"kargo.akuity.io/project": "true"}), ("guestbook", {}))]))
    write("cluster-resources/custom-resources/projects.kargo.akuity.io.json", _list([
        {"apiVersion": "kargo.akuity.io/v1alpha1", "kind": "Project", "metadata": _meta("kargo-demo")}]))
    write("cluster-resources/custom-resources/stages.kargo.akuity.io/kargo-demo.json", _list([
        {"apiVersion": "kargo.akuity.io/v1alpha1", "kind": "Stage", "metadata": _meta("test", "kargo-demo"),
         "spec": {"requestedFreight": [{"origin": {"kind": "Warehouse", "name": "guestbook"}, "sources": {"direct": True}}]},
         "status": {"conditions": [{"type": "Ready", "status": "True", "reason": "Ready"}]}}]))
    write("cluster-resources/custom-resources/warehouses.kargo.akuity.io/kargo-demo.json", _list([
        {"apiVersion": "kargo.akuity.io/v1alpha1", "kind": "Warehouse",
         "metadata": _meta("guestbook", "kargo-demo", annotations={"example.com/mirror": f"https://mirror:{P['Warehouse git subscription credentials']}@git.example.com/m.git"}),
         "spec": {"subscriptions": [
             {"git": {"repoURL": f"https://kargo:{P['Warehouse git subscription credentials']}@git.example.com/org/guestbook.git"}},
             {"chart": {"repoURL": f"oci://robot:{P['Warehouse chart subscription credentials']}@registry.example.com/charts", "name": "guestbook"}},
         ]}}]))
    write("cluster-resources/custom-resources/applications.argoproj.io/argocd.json", _list([
        {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
         "metadata": _meta("guestbook-test", "argocd", annotations={"kargo.akuity.io/authorized-stage": "kargo-demo:test"}),
         "spec": {"project": "default",
                  "source": {"repoURL": f"https://deploy:{P['Application repoURL user:password']}@github.com/org/guestbook.git", "path": "."},
                  "sources": [{"repoURL": f"https://{P['Application repoURL token as user']}@git.example.com/org/values.git"}],
                  "destination": {"server": "https://kubernetes.default.svc", "namespace": "guestbook"}},
         "status": {"sync": {"status": "Synced"}, "health": {"status": "Healthy"}}}]))

    argocd_cm = {
        "repositories": f"- url: https://github.com/org/private.git\n  username: git\n  password: {P['argocd-cm repositories password (YAML in a value)']}\n",
        "repository.credentials": f"- url: https://ci:{P['argocd-cm url with credentials']}@git.example.com\n",
        "dex.config": f"connectors:\n- type: github\n  config:\n    clientID: abc\n    clientSecret: {P['argocd-cm dex clientSecret']}\n",
        "url": "https://argocd.example.com",
    }
    repo_shape = {  # an Argo CD repository Secret, kept in a ConfigMap by mistake
        "type": "git", "url": "git@github.com:org/private.git", "password": P["repository secret shape in a ConfigMap"],
        "sshPrivateKey": f"-----BEGIN OPENSSH PRIVATE KEY-----\n{PEM_BODY2}\n-----END OPENSSH PRIVATE KEY-----\n",
    }
    cluster_config = json.dumps({"bearerToken": P["cluster secret shape bearerToken"],
                                 "tlsClientConfig": {"insecure": False, "caData": "Y2EtZGF0YQ==", "keyData": P["cluster secret shape keyData"]}})
    cluster_shape = {"name": "prod", "server": "https://prod.example.com:6443", "config": cluster_config}
    app_settings = {
        "DB_PASSWORD": P["configmap key"],
        "tls.key": f"-----BEGIN PRIVATE KEY-----\n{P['PEM private key in a ConfigMap']}\n-----END PRIVATE KEY-----\n",
        "config.json": json.dumps({"auths": {"registry.example.com": {"auth": DOCKER_AUTH}}}),
        "notes": f"deploy key {AWS_KEY}; ci token {GH_TOKEN}; gitlab {GL_TOKEN}; slack {SLACK_TOKEN}; session {JWT}; "
                 f"mirror {BB_TOKEN}",
        ".npmrc": f"registry=https://registry.npmjs.org/\n//registry.npmjs.org/:_authToken={NPM_TOKEN}\n",
        "settings.js": f"window.MAPS = {{ key: '{GOOGLE_KEY}', zoom: 12 }};\n",
        "STORAGE_CONNECTION": f"DefaultEndpointsProtocol=https;AccountName=prod;AccountKey={P['Azure storage account key']};EndpointSuffix=core.windows.net",
        "LOG_LEVEL": "debug",
    }
    write("cluster-resources/configmaps/argocd.json", _list([
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": _meta("argocd-cm", "argocd"), "data": argocd_cm},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": _meta("repo-private", "argocd"), "data": repo_shape},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": _meta("cluster-prod", "argocd"), "data": cluster_shape},
    ]))
    write("cluster-resources/configmaps/kargo-demo.json", _list([
        {"apiVersion": "v1", "kind": "ConfigMap",
         "metadata": _meta("app-settings", "kargo-demo", annotations={
             "example.com/webhook-token": P["annotation with a token"],
             "example.com/alerts": f"https://hooks.slack.com/services/T0PLANT/B0PLANT/{P['slack webhook in an annotation']}",
             "example.com/cluster": json.dumps({"bearerToken": P["cluster secret shape in an annotation"]}),
             "example.com/webhook-signature": P["webhook signature in an annotation"],
         }),
         "data": app_settings}]))

    controller = {"name": "controller", "image": "ghcr.io/akuity/kargo:v1.11.2",
                  "args": ["--log-level=info", f"--password={P['cli flag --password=']}", "--auth-token", P["cli flag --auth-token VALUE"]],
                  "env": [{"name": "GITHUB_TOKEN", "value": P["env GITHUB_TOKEN"]}, {"name": "LOG_LEVEL", "value": "info"},
                          {"name": "AWS_SECRET_ACCESS_KEY", "value": P["env AWS_SECRET_ACCESS_KEY"]}]}
    write("cluster-resources/pods/kargo.json", _list([
        _pod("kargo-controller-7d9f8-abcde", "kargo", {"app.kubernetes.io/name": "kargo", "app.kubernetes.io/component": "controller"}, [controller]),
    ]))
    write("cluster-resources/pods/argocd.json", _list([
        _pod("argocd-application-controller-0", "argocd", {"app.kubernetes.io/name": "argocd-application-controller"},
             [{"name": "argocd-application-controller", "image": "quay.io/argoproj/argocd:v3.1.8"}]),
        _pod("argocd-repo-server-5c6b7-fghij", "argocd", {"app.kubernetes.io/name": "argocd-repo-server"},
             [{"name": "argocd-repo-server", "image": "quay.io/argoproj/argocd:v3.1.8"}]),
    ]))
    write("cluster-resources/pods/kargo-demo.json", _list([
        _pod("verify-test-1-xyz12", "kargo-demo", {"job-name": "verify-test-1"}, [{"name": "smoke", "image": "curlimages/curl"}]),
    ]))
    deployment = {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": _meta("guestbook", "guestbook", annotations={
            "kubectl.kubernetes.io/last-applied-configuration": json.dumps(
                {"kind": "Deployment", "spec": {"template": {"spec": {"containers": [
                    {"name": "app", "env": [{"name": "DB_URL", "value": f"postgres://app:{P['last-applied-configuration']}@db/app"}]}]}}}}) + "\n"}),
        "spec": {"template": {"spec": {"containers": [{"name": "app", "env": [
            {"name": "DB_PASSWORD", "value": P["env in one line"]}]}]}}},
        "status": {"replicas": 1},
    }
    # one line per object: env pairs appear as {"name": ..., "value": ...} on a single line
    write("cluster-resources/deployments/guestbook.json", json.dumps({"apiVersion": "v1", "kind": "List", "items": [deployment]}))
    write("cluster-resources/events/kargo-demo.json", _list([
        {"apiVersion": "v1", "kind": "Event", "metadata": _meta("warehouse.1", "kargo-demo"), "type": "Warning", "reason": "DiscoveryFailed",
         "involvedObject": {"kind": "Warehouse", "name": "guestbook", "namespace": "kargo-demo"},
         "message": f"error listing tags of https://robot:{P['event message with credentials']}@registry.example.com/app: unauthorized",
         "firstTimestamp": "2026-11-20T02:00:00Z", "lastTimestamp": "2026-11-20T02:00:00Z", "count": 1}]))

    def secret(name, ns, labels, data, annotations=None):
        return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                "metadata": _meta(name, ns, labels=labels, annotations=annotations or {}),
                "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}}
    write("cluster-resources/secrets/kargo-demo.json", _list([
        secret("git-creds", "kargo-demo", {"kargo.akuity.io/cred-type": "git"},
               {"repoURL": "https://git.example.com/org/guestbook.git", "username": "kargo", "password": SECRET_DATA_PW},
               {"kubectl.kubernetes.io/last-applied-configuration": json.dumps({"stringData": {"password": P["Secret annotation last-applied"]}})}),
    ]))
    write("cluster-resources/secrets/argocd.json", _list([
        secret("repo-private", "argocd", {"argocd.argoproj.io/secret-type": "repository"},
               {"url": "https://github.com/org/private.git", "password": "argo-repo-secret-pw-P9o8"}),
        secret("cluster-prod", "argocd", {"argocd.argoproj.io/secret-type": "cluster"},
               {"name": "prod", "server": "https://prod.example.com:6443", "config": cluster_config}),
    ]))

    logs = b / "cluster-resources" / "pods" / "logs"
    write(str((logs / "kargo" / "kargo-controller-7d9f8-abcde" / "controller.log").relative_to(b)), "".join([
        ('2026-11-20T02:10:00.000000000Z time="2026-11-20T02:10:00Z" level=info msg="cloning" '
         f'url="https://x-access-token:{GHS_TOKEN}@github.com/org/guestbook.git"\n'),
        f'2026-11-20T02:10:01.000000000Z level=debug msg="request" Authorization: {P["log: Authorization header"]}\n',
        f'2026-11-20T02:10:02.000000000Z level=debug msg="calling the registry with Bearer {P["log: bearer token"]}"\n',
        f'2026-11-20T02:10:03.000000000Z level=error msg="login failed" user=kargo password={P["log: password="]} attempt=2\n',
        "2026-11-20T02:10:04.000000000Z loading key\n",
        "2026-11-20T02:10:04.000000000Z -----BEGIN RSA PRIVATE KEY-----\n",
        f"2026-11-20T02:10:04.000000000Z {PEM_BODY}\n",
        "2026-11-20T02:10:04.000000000Z -----END RSA PRIVATE KEY-----\n",
        f'2026-11-20T02:10:05.000000000Z level=info msg="token {JWT} accepted" key={AWS_KEY}\n',
        f'2026-11-20T02:10:05.500000000Z GET https://prod.blob.core.windows.net/x.csv?sv=2022-11-02&sp=r&sig={P["Azure SAS signature in a URL"]}\n',
        '2026-11-20T02:10:06.000000000Z level=info msg="promotion succeeded" stage=test\n',
    ]))
    write(str((logs / "argocd" / "argocd-repo-server-5c6b7-fghij" / "argocd-repo-server.log").relative_to(b)),
          f'2026-11-20T02:11:00.000000000Z level=info msg="helm pull oci://robot:{P["Warehouse chart subscription credentials"]}@registry.example.com/charts"\n'
          f'2026-11-20T02:11:01.000000000Z level=info msg="git fetch" token={GL_TOKEN} slack={SLACK_TOKEN} gh={GH_TOKEN}\n')
    write(str((logs / "argocd" / "argocd-application-controller-0" / "argocd-application-controller.log").relative_to(b)),
          '2026-11-20T02:12:00.000000000Z level=info msg="Reconciliation completed" application=argocd/guestbook-test\n')
    write(str((logs / "kargo-demo" / "verify-test-1-xyz12" / "smoke.log").relative_to(b)),
          f'2026-11-20T02:13:00.000000000Z curl -H "Authorization: Bearer {P["log: bearer token"]}" https://guestbook.example.com/healthz\n')
    return b


def test_redaction_no_planted_secret_survives(tmp_path):
    bundle = planted_bundle(tmp_path)
    # the served data really carries them (or the test proves nothing)
    served = b"".join(p.read_bytes() for p in bundle.rglob("*") if p.is_file())
    for what, secret in PLANTED.items():
        if what.endswith("(base64)") or "Secret value" in what:
            continue  # Secret data is base64 in the served bundle
        assert secret.encode() in served or json.dumps(secret)[1:-1].encode() in served, what

    run = collect(bundle, tmp_path / "run", *FAST)
    assert run.rc == 0, run.stderr
    tarball = run.bundle.read_bytes()
    everything = b"\n".join(run.files.values())
    leaked = {what: secret for what, secret in PLANTED.items() if secret.encode() in everything}
    assert not leaked, leaked
    unpacked = gzip.decompress(tarball)  # the raw tar stream: headers, padding and every member
    assert not any(secret.encode() in unpacked for secret in PLANTED.values())

    # the data around the secrets is still there
    cms = run.files["cluster-resources/configmaps/kargo-demo.json"].decode()
    assert '"LOG_LEVEL": "debug"' in cms and "***HIDDEN***" in cms
    secrets = json.loads(run.files["cluster-resources/secrets/kargo-demo.json"])
    assert secrets["items"][0]["metadata"]["labels"] == {"kargo.akuity.io/cred-type": "git"}
    assert secrets["items"][0]["data"] == {"password": "", "repoURL": "", "username": ""}
    assert "kubectl.kubernetes.io/last-applied-configuration" not in secrets["items"][0]["metadata"]["annotations"]
    log = run.files["cluster-resources/pods/logs/kargo/kargo-controller-7d9f8-abcde/controller.log"].decode()
    assert 'msg="promotion succeeded" stage=test' in log
    assert "github.com/org/guestbook.git" in log
    assert "2026-11-20T02:10:04.000000000Z -----END RSA PRIVATE KEY-----\n" in log
    apps = json.loads(run.files["cluster-resources/custom-resources/applications.argoproj.io/argocd.json"])
    assert apps["items"][0]["spec"]["source"]["repoURL"] == "https://***HIDDEN***@github.com/org/guestbook.git"
    for name, data in run.files.items():
        if name.endswith(".json"):
            json.loads(data)  # redaction keeps every JSON document valid

    redaction = run.manifest["redaction"]
    assert redaction["enabled"] is True and redaction["replacement"] == "***HIDDEN***"
    counts = redaction["counts"]
    assert set(counts) == set(redaction["rules"])
    zero = [rule for rule, n in counts.items() if n == 0]
    assert not zero, counts
    assert sum(counts.values()) >= len(PLANTED)
