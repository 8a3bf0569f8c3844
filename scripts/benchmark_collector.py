#!/usr/bin/env python3
"""How close collector.sh comes to its critical path.

Writes a large synthetic bundle (several Kargo projects, one app namespace per
Stage, hundreds of Promotions, Applications, pods, events and megabytes of
controller logs), serves it with ``gitops-master serve``'s server on
127.0.0.1 with an artificial latency on every request (``delay={"*": S}``,
optionally more for some resources), and runs the real ``collector.sh`` with
the machine's ``kubectl`` against it. From the manifest's ``started_at`` /
``finished_at`` it computes:

* the critical path: the longest chain of commands that depend on each other
  (a discovery query, then the pod listing that picks whose logs to take,
  then a log), which no amount of parallelism can shorten;
* the work bound: the sum of all command durations divided by ``--parallel``
  (a pool of N slots cannot finish sooner);
* the sum of all command durations: the same commands one after another;

and compares the run's wall time with them, with the CPU floor (the CPU time
of the collector and its kubectl processes over the machine's cores), and with
an actual run at ``--parallel 1``. It also reports how long finalizing took
(manifest, tar, gzip, cleanup: from the last command's end to the exit).

Usage:
  python scripts/benchmark_collector.py                      # defaults, prints a Markdown table
  python scripts/benchmark_collector.py --parallel 8 --parallel 16 --delay 0.5
  python scripts/benchmark_collector.py --no-sequential --projects 2 --stages 3
  python scripts/benchmark_collector.py --json results.json

Nothing leaves 127.0.0.1; each run gets a fresh HOME (a cold kubectl
discovery cache, as on a bastion that never ran kubectl against the cluster).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from analyzer.serve import BundleServer

COLLECTED_AT = datetime(2026, 11, 20, 3, 0, 0, tzinfo=timezone.utc)


# --------------------------------------------------------------------------
# The synthetic bundle
# --------------------------------------------------------------------------


def ts(minutes_before: float) -> str:
    return (COLLECTED_AT - timedelta(minutes=minutes_before)).strftime("%Y-%m-%dT%H:%M:%SZ")


def meta(name: str, ns: str | None = None, minutes_before: float = 600, **extra) -> dict:
    md = {"name": name, "uid": f"{abs(hash((ns, name))) % 10**12:012d}-0000-4000-8000-000000000000",
          "creationTimestamp": ts(minutes_before), "resourceVersion": "1000", "generation": 1}
    if ns:
        md["namespace"] = ns
    md.update(extra)
    return md


def listing(items: list[dict]) -> str:
    return json.dumps({"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": items}, indent=2)


def pod(name: str, ns: str, labels: dict, containers: list[str], restarts: int = 0, phase: str = "Running") -> dict:
    return {
        "apiVersion": "v1", "kind": "Pod", "metadata": meta(name, ns, labels=labels),
        "spec": {"nodeName": "worker-1", "serviceAccountName": "default",
                 "containers": [{"name": c, "image": f"example.com/{c}:v1", "env": [{"name": "LOG_LEVEL", "value": "info"}],
                                 "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}}} for c in containers]},
        "status": {"phase": phase, "podIP": "10.0.0.1", "conditions": [{"type": "Ready", "status": "True"}],
                   "containerStatuses": [{"name": c, "ready": True, "restartCount": restarts, "image": f"example.com/{c}:v1",
                                          "imageID": "", "state": {"running": {"startedAt": ts(300)}},
                                          "lastState": {"terminated": {"reason": "Error", "exitCode": 1, "finishedAt": ts(301)}} if restarts else {}}
                                         for c in containers]},
    }


def log_lines(component: str, n: int) -> str:
    out = []
    for i in range(n):
        t = (COLLECTED_AT - timedelta(seconds=(n - i) * 4)).strftime("%Y-%m-%dT%H:%M:%S.%f000Z")
        out.append(f'{t} time="{t[:19]}Z" level=info msg="reconciling" component={component} object=item-{i % 97} '
                   f'namespace=ns-{i % 13} took={i % 50}ms\n')
    return "".join(out)


def write_bundle(root: Path, projects: int, stages: int, promotions: int, log_lines_n: int) -> dict:
    """Write the bundle directory; returns a summary of what it holds."""
    b = root / "synthetic"
    files: dict[str, str] = {}
    namespaces = ["kargo", "argocd", "monitoring", "kube-system"]
    apps, app_namespaces = [], []
    for p in range(1, projects + 1):
        proj = f"project-{p}"
        namespaces.append(proj)
        stage_objs, promo_objs, freight_objs, runs = [], [], [], []
        for s in range(1, stages + 1):
            stage = f"stage-{s}"
            app_ns = f"{proj}-{stage}"
            app_namespaces.append(app_ns)
            app = f"{proj}-{stage}"
            stage_objs.append({
                "apiVersion": "kargo.akuity.io/v1alpha1", "kind": "Stage", "metadata": meta(stage, proj),
                "spec": {"requestedFreight": [{"origin": {"kind": "Warehouse", "name": "main"}, "sources": {"direct": s == 1}}],
                         "promotionTemplate": {"spec": {"steps": [{"uses": "argocd-update", "config": {"apps": [{"name": app}]}}]}},
                         "verification": {"analysisTemplates": [{"name": "smoke"}]}},
                "status": {"conditions": [{"type": "Ready", "status": "True", "reason": "Ready", "lastTransitionTime": ts(30)},
                                          {"type": "Verified", "status": "True", "reason": "Verified", "lastTransitionTime": ts(30)}],
                           "health": {"status": "Healthy"}, "freightSummary": "f-1", "observedGeneration": 1},
            })
            apps.append({
                "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
                "metadata": meta(app, "argocd", annotations={"kargo.akuity.io/authorized-stage": f"{proj}:{stage}"}),
                "spec": {"project": "default", "source": {"repoURL": "https://github.com/example/gitops.git", "path": app, "targetRevision": "main"},
                         "destination": {"server": "https://kubernetes.default.svc", "namespace": app_ns}},
                "status": {"sync": {"status": "Synced", "revision": "a" * 40}, "health": {"status": "Healthy"},
                           "reconciledAt": ts(1), "operationState": {"phase": "Succeeded", "finishedAt": ts(60), "startedAt": ts(61)}},
            })
            for k in range(promotions // stages):
                promo_objs.append({
                    "apiVersion": "kargo.akuity.io/v1alpha1", "kind": "Promotion",
                    "metadata": meta(f"{stage}.01j{k:023d}.abcdef{k % 10}", proj, minutes_before=60 * k + 5,
                                     labels={"kargo.akuity.io/shard": ""}),
                    "spec": {"stage": stage, "freight": f"{k:040x}", "steps": [{"uses": "argocd-update"}]},
                    "status": {"phase": "Succeeded", "finishedAt": ts(60 * k)},
                })
            for k in range(5):
                runs.append({
                    "apiVersion": "argoproj.io/v1alpha1", "kind": "AnalysisRun",
                    "metadata": meta(f"{stage}.{k:026d}.abcdef0", proj, minutes_before=60 * k + 10),
                    "spec": {"metrics": [{"name": "smoke", "provider": {"job": {"spec": {}}}}]},
                    "status": {"phase": "Successful", "startedAt": ts(60 * k + 10)},
                })
            files[f"cluster-resources/pods/{app_ns}.json"] = listing(
                [pod(f"{app}-7d9f8b6c5-{i:05d}", app_ns, {"app.kubernetes.io/name": app}, ["app"]) for i in range(3)])
            files[f"cluster-resources/deployments/{app_ns}.json"] = listing([{
                "apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta(app, app_ns),
                "spec": {"replicas": 3}, "status": {"replicas": 3, "readyReplicas": 3, "availableReplicas": 3}}])
            files[f"cluster-resources/events/{app_ns}.json"] = listing([{
                "apiVersion": "v1", "kind": "Event", "metadata": meta(f"{app}.{i:016x}", app_ns),
                "involvedObject": {"kind": "Pod", "name": f"{app}-7d9f8b6c5-00000", "namespace": app_ns},
                "reason": "Pulled", "message": "Container image already present on machine", "type": "Normal",
                "firstTimestamp": ts(i), "lastTimestamp": ts(i), "count": 1} for i in range(40)])
        for k in range(40):
            freight_objs.append({
                "apiVersion": "kargo.akuity.io/v1alpha1", "kind": "Freight", "metadata": meta(f"{k:040x}", proj, minutes_before=60 * k),
                "origin": {"kind": "Warehouse", "name": "main"},
                "images": [{"repoURL": "example.com/app", "tag": f"v1.{k}.0", "digest": "sha256:" + "0" * 64}],
                "status": {"verifiedIn": {f"stage-{s}": {} for s in range(1, stages + 1)}},
            })
        cr = "cluster-resources/custom-resources"
        files[f"{cr}/stages.kargo.akuity.io/{proj}.json"] = listing(stage_objs)
        files[f"{cr}/promotions.kargo.akuity.io/{proj}.json"] = listing(promo_objs)
        files[f"{cr}/freights.kargo.akuity.io/{proj}.json"] = listing(freight_objs)
        files[f"{cr}/analysisruns.argoproj.io/{proj}.json"] = listing(runs)
        files[f"{cr}/warehouses.kargo.akuity.io/{proj}.json"] = listing([{
            "apiVersion": "kargo.akuity.io/v1alpha1", "kind": "Warehouse", "metadata": meta("main", proj),
            "spec": {"subscriptions": [{"image": {"repoURL": "example.com/app"}}]}, "status": {}}])
        job_pods = [pod(f"smoke-{k}-abcde", proj, {"job-name": f"smoke-{k}"}, ["smoke"], phase="Succeeded") for k in range(6)]
        files[f"cluster-resources/pods/{proj}.json"] = listing(job_pods)
        for jp in job_pods:
            files[f"cluster-resources/pods/logs/{proj}/{jp['metadata']['name']}/smoke.log"] = log_lines("smoke", 50)
    files["cluster-resources/custom-resources/applications.argoproj.io/argocd.json"] = listing(apps)
    files["cluster-resources/custom-resources/projects.kargo.akuity.io.json"] = listing(
        [{"apiVersion": "kargo.akuity.io/v1alpha1", "kind": "Project", "metadata": meta(f"project-{p}")} for p in range(1, projects + 1)])
    kargo_pods = [pod("kargo-controller-5d4c3b2a1-aaaaa", "kargo", {"app.kubernetes.io/name": "kargo", "app.kubernetes.io/component": "controller"}, ["controller"], restarts=1),
                  pod("kargo-api-5d4c3b2a1-bbbbb", "kargo", {"app.kubernetes.io/name": "kargo", "app.kubernetes.io/component": "api"}, ["api"])]
    argo_names = ["argocd-application-controller", "argocd-repo-server", "argocd-server", "argocd-applicationset-controller"]
    argo_pods = [pod(f"{n}-6c5b4a3-ccccc" if n != "argocd-application-controller" else f"{n}-0", "argocd",
                     {"app.kubernetes.io/name": n}, [n]) for n in argo_names]
    files["cluster-resources/pods/kargo.json"] = listing(kargo_pods)
    files["cluster-resources/pods/argocd.json"] = listing(argo_pods)
    for p in kargo_pods + argo_pods:
        for c in p["spec"]["containers"]:
            files[f"cluster-resources/pods/logs/{p['metadata']['namespace']}/{p['metadata']['name']}/{c['name']}.log"] = log_lines(c["name"], log_lines_n)
            if p["status"]["containerStatuses"][0]["restartCount"]:
                files[f"cluster-resources/pods/logs/{p['metadata']['namespace']}/{p['metadata']['name']}/{c['name']}-previous.log"] = log_lines(c["name"], log_lines_n // 4)
    namespaces += app_namespaces
    files["cluster-resources/namespaces.json"] = listing([
        {"apiVersion": "v1", "kind": "Namespace",
         "metadata": meta(n, labels={"kargo.akuity.io/project": "true"} if n.startswith("project-") and n.count("-") == 1 else {})}
        for n in namespaces])
    files["cluster-resources/nodes.json"] = listing([{"apiVersion": "v1", "kind": "Node", "metadata": meta(f"worker-{i}"),
                                                     "status": {"conditions": [{"type": "Ready", "status": "True"}]}} for i in range(10)])
    files["manifest.json"] = json.dumps({"format": "gitops-bundle/v1", "collector": {"name": "synthetic", "version": "0"},
                                         "collected_at": COLLECTED_AT.strftime("%Y-%m-%dT%H:%M:%SZ"), "complete": True,
                                         "kubectl": {"server": {"gitVersion": "v1.30.4"}}, "commands": []})
    size = 0
    for rel, text in files.items():
        path = b / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        size += len(text)
    return {"path": b, "namespaces": len(namespaces), "files": len(files), "bytes": size,
            "stages": projects * stages, "applications": len(apps)}


# --------------------------------------------------------------------------
# Running and measuring
# --------------------------------------------------------------------------


def parse_time(s: str) -> float:
    return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


def run_collector(bundle: Path, work: Path, parallel: int, delay: dict, request_timeout: str) -> dict:
    work.mkdir(parents=True, exist_ok=True)
    home = work / "home"
    home.mkdir(exist_ok=True)
    out = work / "bundle.tar.gz"
    with BundleServer(bundle, uncollected="empty", delay=delay) as server:
        kubeconfig = server.write_kubeconfig(work / "kubeconfig")
        env = {k: v for k, v in os.environ.items() if not k.startswith("GITOPS_") and k != "KUBECONFIG"}
        env["HOME"] = str(home)
        argv = ["bash", str(REPO / "collector.sh"), "--kubeconfig", kubeconfig, "-o", str(out), "-q",
                "--parallel", str(parallel), "--request-timeout", request_timeout, "--deadline", "30m"]
        started = time.time()
        cpu0 = os.times()
        proc = subprocess.run(argv, cwd=work, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False)
        cpu1 = os.times()
        ended = time.time()
    if proc.returncode not in (0, 1):
        raise SystemExit(f"collector failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    with tarfile.open(out) as tf:
        member = next(m for m in tf.getmembers() if m.name.endswith("/manifest.json"))
        manifest = json.load(tf.extractfile(member))
    result = analyse(manifest, started, ended, parallel)
    cpu = (cpu1.children_user - cpu0.children_user) + (cpu1.children_system - cpu0.children_system)
    floor = cpu / (os.cpu_count() or 1)
    bound = max(result["ideal"], floor)
    return result | {
        "bundle_bytes": out.stat().st_size,
        "cpu_seconds": round(cpu, 1),
        "cpu_floor": round(floor, 2),
        "bound": round(bound, 2),
        "wall_over_bound": round(result["wall"] / bound, 2) if bound else None,
    }


# What collector.sh queues as soon as the API groups are known (plan_cluster_wide).
CLUSTER_WIDE = {
    "projects.kargo.akuity.io", "clusterpromotiontasks.kargo.akuity.io", "clusteranalysistemplates.argoproj.io",
    "pods-not-running-wide", "pods-not-running", "nodes", "namespaces", "clusterroles.rbac.authorization.k8s.io",
    "clusterrolebindings.rbac.authorization.k8s.io", "customresourcedefinitions", "api-resources",
}


def analyse(manifest: dict, started: float, ended: float, parallel: int) -> dict:
    cmds = [c for c in manifest["commands"] if c.get("started_at") and c.get("finished_at")]
    if not cmds:
        raise SystemExit("the collector recorded no timed command; nothing to measure")
    for c in cmds:
        c["t0"], c["t1"] = parse_time(c["started_at"]), parse_time(c["finished_at"])
        c["d"] = c["t1"] - c["t0"]
    phase1 = [c for c in cmds if c["id"].startswith(("discover-", "version", "api-groups"))]
    phase2 = [c for c in cmds if c not in phase1]
    p1 = max((c["d"] for c in phase1), default=0.0)
    groups = max((c["d"] for c in phase1 if c["id"].startswith("api-groups")), default=0.0)
    # The longest chain of dependent commands. Discovery queries depend on
    # nothing; the cluster-wide commands on the API groups; the rest on all of
    # discovery; a log also on the pod listing of its namespace when there was one.
    targets = {}
    for c in phase2:
        if c["id"].startswith("log-targets/"):
            ns = c["id"].split("/")[1]
            targets[ns] = max(targets.get(ns, 0.0), c["d"])
    chains = [(c["d"], c["id"]) for c in phase1]
    for c in phase2:
        if c["id"] in CLUSTER_WIDE:
            chains.append((groups + c["d"], c["id"]))
        elif c["id"].startswith(("logs/", "logs-previous/")):
            chains.append((p1 + targets.get(c["id"].split("/")[1], 0.0) + c["d"], c["id"]))
        else:
            chains.append((p1 + c["d"], c["id"]))
    critical, critical_id = max(chains, default=(p1, "phase 1"))
    total = sum(c["d"] for c in cmds)
    slowest = max(cmds, key=lambda c: c["d"])
    last_finish = max(c["t1"] for c in cmds)
    first_p2 = min((c["t0"] for c in phase2), default=last_finish)
    last_p1 = max((c["t1"] for c in phase1), default=started)
    wall = ended - started
    work_bound = total / parallel
    ideal = max(critical, work_bound)
    return {
        "parallel": parallel,
        "commands": len(manifest["commands"]),
        "wall": round(wall, 2),
        "critical_path": round(critical, 2),
        "critical_path_ends_with": critical_id,
        "slowest_command": round(slowest["d"], 2),
        "slowest_command_id": slowest["id"],
        "sum_of_durations": round(total, 2),
        "work_bound": round(work_bound, 2),
        "ideal": round(ideal, 2),
        "wall_over_critical_path": round(wall / critical, 2) if critical else None,
        "wall_over_ideal": round(wall / ideal, 2) if ideal else None,
        "speedup_over_sum": round(total / wall, 2),
        "startup": round(min(c["t0"] for c in cmds) - started, 2),
        "discovery_barrier": round(max(0.0, first_p2 - last_p1), 2),
        "finalize": round(ended - last_finish, 2),
        "complete": manifest.get("complete"),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--projects", type=int, default=3, help="Kargo projects (namespaces), default 3")
    ap.add_argument("--stages", type=int, default=4, help="Stages per project, each with its own app namespace, default 4")
    ap.add_argument("--promotions", type=int, default=120, help="Promotions per project, default 120")
    ap.add_argument("--log-lines", type=int, default=20000, help="lines per controller log, default 20000 (about 3 MB)")
    ap.add_argument("--delay", type=float, default=0.3, help="seconds the server waits before every answer, default 0.3")
    ap.add_argument("--slow", action="append", default=[], metavar="RESOURCE=SECONDS",
                    help="a slower resource on top of --delay, e.g. events=1.5 (repeatable)")
    ap.add_argument("--parallel", type=int, action="append", help="collector --parallel, repeatable (default: 8)")
    ap.add_argument("--request-timeout", default="20s")
    ap.add_argument("--no-sequential", action="store_true", help="skip the run at --parallel 1")
    ap.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    args = ap.parse_args(argv)
    if shutil.which("kubectl") is None:
        print("kubectl is not on PATH", file=sys.stderr)
        return 2
    delay = {"*": args.delay}
    for item in args.slow:
        name, _, secs = item.partition("=")
        delay[name] = float(secs)
    parallels = args.parallel or [8]
    if not args.no_sequential:
        parallels = parallels + [1]
    work = Path(tempfile.mkdtemp(prefix="collector-benchmark-"))
    try:
        info = write_bundle(work, args.projects, args.stages, args.promotions, args.log_lines)
        print(f"synthetic bundle: {info['namespaces']} namespaces, {info['stages']} Stages, {info['applications']} Applications, "
              f"{info['files']} files, {info['bytes'] / 1e6:.1f} MB; delay {delay}", file=sys.stderr)
        results = []
        print(f"machine: {machine()}", file=sys.stderr)
        for p in parallels:
            print(f"running collector.sh --parallel {p} ...", file=sys.stderr)
            results.append(run_collector(info["path"], work / f"p{p}", p, delay, args.request_timeout))
        print_table(results, info, delay)
        if args.json:
            Path(args.json).write_text(json.dumps({"bundle": {k: v for k, v in info.items() if k != "path"}, "delay": delay,
                                                   "machine": machine(), "results": results}, indent=2))
    finally:
        if args.keep:
            print(f"work directory kept: {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


def machine() -> str:
    kubectl = subprocess.run(["kubectl", "version", "--client"], capture_output=True, text=True, check=False).stdout.splitlines()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return f"{platform.machine()}, {os.cpu_count()} CPUs, load average {load}, {kubectl[0] if kubectl else 'kubectl ?'}"


def print_table(results: list[dict], info: dict, delay: dict) -> None:
    print(f"\nMachine: {machine()}. Bundle: {info['namespaces']} namespaces, {info['bytes'] / 1e6:.1f} MB; "
          f"server delay per request: {delay}.\n")
    print("| --parallel | commands | wall (s) | critical path (s) | wall / critical path | sum / parallel (s) "
          "| CPU / cores (s) | wall / max(the three) | sum of durations (s) | speedup | finalize (s) |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(f"| {r['parallel']} | {r['commands']} | {r['wall']} | {r['critical_path']} | {r['wall_over_critical_path']} "
              f"| {r['work_bound']} | {r['cpu_floor']} | {r['wall_over_bound']} | {r['sum_of_durations']} "
              f"| {r['speedup_over_sum']}x | {r['finalize']} |")
    sequential = next((r for r in results if r["parallel"] == 1), None)
    if sequential:
        for r in results:
            if r is not sequential:
                print(f"\n--parallel {r['parallel']}: {sequential['wall'] / r['wall']:.1f}x faster than the same commands "
                      f"one after another ({sequential['wall']} s); the longest chain with uncontended durations "
                      f"(from the sequential run) is {sequential['critical_path']} s.")


if __name__ == "__main__":
    sys.exit(main())
