#!/usr/bin/env python3
"""Write the sample bundles in ``sample_bundles/``.

Five scenarios, each a snapshot of a small Kargo + Argo CD installation as
``collector.sh`` would capture it (bundle format v1, see DESIGN.md):

* ``poisoned-promotion/``          Kargo v1.10.2, Argo CD v3.0.6
* ``repo-server-refused.tar.gz``   Kargo v1.11.2, Argo CD v2.14.11
* ``verification-failed/``         Kargo v1.11.2, Argo CD v3.1.8
* ``healthy-pipeline/``            Kargo v1.11.2, Argo CD v3.1.8
* ``pasted-ticket/ticket.yaml``    Kargo v1.4.4 objects pasted into a ticket

Every scenario sits beside an ``expected.json`` naming the findings a correct
diagnosis produces. The output is deterministic: no randomness, no clock. Every
id, hash, IP address and timestamp is derived from the scenario's
``collected_at`` and from the object's name, so running the script twice
writes byte-identical files (the tarball included).

Usage: ``python scripts/make_sample_bundles.py [--out DIR]``
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import re
import shutil
import tarfile
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

import yaml

UTC = timezone.utc
REPO_ROOT = Path(__file__).resolve().parent.parent

PROJECT = "kargo-demo"
KARGO_NS = "kargo"
ARGOCD_NS = "argocd"
WAREHOUSE = "guestbook"
GITOPS_REPO = "https://github.com/example-org/kargo-demo.git"
SOURCE_REPO = "https://github.com/example-org/guestbook.git"
IMAGE_REPO = "ghcr.io/example-org/guestbook"
IN_CLUSTER = "https://kubernetes.default.svc"
HIDDEN = "***HIDDEN***"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
COLLECTOR_SA = "system:serviceaccount:support:gitops-collector"
NODES = ("k8s-cp-01", "k8s-worker-01", "k8s-worker-02")
NODE_IPS = {"k8s-cp-01": "10.0.1.10", "k8s-worker-01": "10.0.1.21", "k8s-worker-02": "10.0.1.22"}
CLUSTER_BORN = datetime(2026, 3, 2, 9, 14, 7, tzinfo=UTC)

# ---------------------------------------------------------------- primitives


def digest(*parts: Any) -> str:
    return hashlib.sha256("\x1f".join(map(str, parts)).encode()).hexdigest()


def sha1_hex(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()  # noqa: S324 - identifiers, not security


def make_uid(*parts: Any) -> str:
    return str(uuid.UUID(hex=digest("uid", *parts)[:32], version=4))


_SAFE = "bcdfghjklmnpqrstvwxz2456789"  # k8s rand.SafeEncodeString alphabet
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def safe_suffix(length: int, *parts: Any) -> str:
    raw = bytes.fromhex(digest("suffix", *parts))
    return "".join(_SAFE[b % len(_SAFE)] for b in raw[:length])


def ulid(at: datetime, *parts: Any) -> str:
    """A lowercase ULID: 10 chars of the millisecond timestamp + 16 derived chars."""
    ms = int(at.timestamp() * 1000)
    head = ""
    for _ in range(10):
        head = _CROCKFORD[ms % 32] + head
        ms //= 32
    raw = int(digest("ulid", *parts)[:20], 16)
    tail = ""
    for _ in range(16):
        tail = _CROCKFORD[raw % 32] + tail
        raw //= 32
    return (head + tail).lower()


def ts(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def human_age(delta: timedelta) -> str:
    """kubectl's duration.HumanDuration."""
    seconds = int(delta.total_seconds())
    if seconds < 0:
        seconds = 0
    if seconds < 120:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 10:
        sec = seconds % 60
        return f"{minutes}m{sec}s" if sec else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 8:
        mins = minutes % 60
        return f"{hours}h{mins}m" if mins else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        hrs = hours % 24
        return f"{hours // 24}d{hrs}h" if hrs else f"{hours // 24}d"
    return f"{hours // 24}d"


def freight_name(commit_sha: str, tag: str, image_digest: str) -> str:
    """Kargo's GenerateFreightID for one git commit and one image."""
    repo = SOURCE_REPO.lower().removesuffix("/").removesuffix(".git")
    parts = sorted([f"{repo}:{commit_sha}", f"{IMAGE_REPO}:{tag}@{image_digest}"])
    return sha1_hex(f"Warehouse/{WAREHOUSE}:" + "|".join(parts))


def collection_id(*names: str) -> str:
    return sha1_hex(",".join(sorted(names)))


# ---------------------------------------------------------------- serialisation


def kubectl_json(obj: Any) -> bytes:
    """``kubectl get -o json`` output: 4-space indent, sorted keys, Go HTML escaping."""
    text = json.dumps(obj, indent=4, sort_keys=True, ensure_ascii=False)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return (text + "\n").encode()


def kube_list(items: list[dict]) -> dict:
    return {"apiVersion": "v1", "items": items, "kind": "List", "metadata": {"resourceVersion": ""}}


class _KubectlDumper(yaml.SafeDumper):
    """Dump YAML the way sigs.k8s.io/yaml does: block style, double quotes where quoting is needed."""

    def choose_scalar_style(self) -> str:
        style = super().choose_scalar_style()
        return '"' if style == "'" else style


def _str_presenter(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if "\n" in value:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_KubectlDumper.add_representer(str, _str_presenter)


def kubectl_yaml(obj: Any) -> str:
    return yaml.dump(obj, Dumper=_KubectlDumper, sort_keys=True, default_flow_style=False, width=4096)


# ---------------------------------------------------------------- the cluster


@dataclass
class Cluster:
    """One snapshot: its clock, versions, and the files collected from it."""

    slug: str
    collected_at: datetime
    kargo_version: str
    argocd_version: str
    stages: list[str]
    app_namespace: str
    files: dict[str, list[dict]] = field(default_factory=dict)
    logs: dict[str, list[str]] = field(default_factory=dict)
    views: dict[str, str] = field(default_factory=dict)
    gaps: list[dict] = field(default_factory=list)
    # files not written by a plain `kubectl get`: path -> (command id, argv)
    commands: dict[str, tuple[str, list[str]]] = field(default_factory=dict)

    # -- clock and identities
    def ago(self, **kw: float) -> datetime:
        return self.collected_at - timedelta(**kw)

    def uid(self, kind: str, namespace: str | None, name: str) -> str:
        return make_uid(self.slug, kind, namespace or "", name)

    def rv(self, at: datetime, *parts: Any) -> str:
        base = int((at - CLUSTER_BORN).total_seconds()) * 40
        return str(base + int(digest("rv", self.slug, *parts)[:4], 16) % 40)

    def meta(
        self,
        kind: str,
        name: str,
        namespace: str | None,
        created: datetime,
        modified: datetime | None = None,
        **extra: Any,
    ) -> dict:
        meta = {
            "creationTimestamp": ts(created),
            "name": name,
            "resourceVersion": self.rv(modified or created, kind, namespace, name),
            "uid": self.uid(kind, namespace, name),
        }
        if namespace:
            meta["namespace"] = namespace
        for key, value in extra.items():
            if value is not None:
                meta[key] = value
        return meta

    def owner(self, api_version: str, kind: str, namespace: str | None, name: str, **flags: bool) -> dict:
        ref = {"apiVersion": api_version, "kind": kind, "name": name, "uid": self.uid(kind, namespace, name)}
        ref.update(flags)
        return ref

    def add(self, rel: str, *objects: dict) -> None:
        self.files.setdefault(rel, []).extend(objects)

    def touch(self, rel: str) -> None:
        self.files.setdefault(rel, [])

    # -- versions
    @property
    def kargo(self) -> tuple[int, int, int]:
        return tuple(int(p) for p in self.kargo_version.split("."))  # type: ignore[return-value]

    @property
    def argocd(self) -> tuple[int, int, int]:
        return tuple(int(p) for p in self.argocd_version.split("."))  # type: ignore[return-value]


def pod_ip(cluster: Cluster, name: str) -> str:
    h = int(digest("ip", cluster.slug, name)[:6], 16)
    return f"10.244.{1 + h % 2}.{2 + (h >> 8) % 250}"


def node_for(cluster: Cluster, name: str) -> str:
    return NODES[1 + int(digest("node", cluster.slug, name)[:4], 16) % 2]


def image_digest(image: str) -> str:
    return "sha256:" + digest("image", image)


def container_id(cluster: Cluster, pod: str, container: str, restart: int) -> str:
    return "containerd://" + digest("cid", cluster.slug, pod, container, restart)


# ---------------------------------------------------------------- core objects


def namespace_obj(cluster: Cluster, name: str, created: datetime, labels: dict | None = None,
                  finalizers: list[str] | None = None) -> dict:
    all_labels = {"kubernetes.io/metadata.name": name}
    all_labels.update(labels or {})
    meta = cluster.meta("Namespace", name, None, created, labels=all_labels)
    if finalizers:
        meta["finalizers"] = finalizers
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": meta,
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"},
    }


def node_obj(cluster: Cluster, name: str) -> dict:
    control_plane = name.startswith("k8s-cp")
    labels = {
        "beta.kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
    }
    if control_plane:
        labels["node-role.kubernetes.io/control-plane"] = ""
        labels["node.kubernetes.io/exclude-from-external-load-balancers"] = ""
    heartbeat = cluster.ago(seconds=17 + NODES.index(name) * 9)
    idx = NODES.index(name)
    conditions = [
        ("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
        ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
        ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
        ("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
    ]
    spec: dict[str, Any] = {"podCIDR": f"10.244.{idx}.0/24", "podCIDRs": [f"10.244.{idx}.0/24"]}
    if control_plane:
        spec["taints"] = [{"effect": "NoSchedule", "key": "node-role.kubernetes.io/control-plane"}]
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": cluster.meta(
            "Node", name, None, CLUSTER_BORN + timedelta(minutes=idx * 3), heartbeat,
            annotations={
                "kubeadm.alpha.kubernetes.io/cri-socket": "unix:///var/run/containerd/containerd.sock",
                "node.alpha.kubernetes.io/ttl": "0",
                "volumes.kubernetes.io/controller-managed-attach-detach": "true",
            },
            labels=labels,
        ),
        "spec": spec,
        "status": {
            "addresses": [
                {"address": NODE_IPS[name], "type": "InternalIP"},
                {"address": name, "type": "Hostname"},
            ],
            "allocatable": {"cpu": "4", "ephemeral-storage": "96143180846", "hugepages-2Mi": "0",
                            "memory": "16265396Ki", "pods": "110"},
            "capacity": {"cpu": "4", "ephemeral-storage": "104322028Ki", "hugepages-2Mi": "0",
                         "memory": "16367796Ki", "pods": "110"},
            "conditions": [
                {
                    "lastHeartbeatTime": ts(heartbeat),
                    "lastTransitionTime": ts(CLUSTER_BORN + timedelta(days=41, minutes=idx)),
                    "message": message,
                    "reason": reason,
                    "status": status,
                    "type": ctype,
                }
                for ctype, status, reason, message in conditions
            ],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {
                "architecture": "amd64",
                "bootID": make_uid(cluster.slug, "boot", name),
                "containerRuntimeVersion": "containerd://1.7.22",
                "kernelVersion": "6.8.0-48-generic",
                "kubeProxyVersion": "v1.30.4",
                "kubeletVersion": "v1.30.4",
                "machineID": digest("machine", name)[:32],
                "operatingSystem": "linux",
                "osImage": "Ubuntu 24.04.1 LTS",
                "systemUUID": make_uid("system", name),
            },
        },
    }


KUBE_API_ACCESS_SOURCES = [
    {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
    {"configMap": {"items": [{"key": "ca.crt", "path": "ca.crt"}], "name": "kube-root-ca.crt"}},
    {"downwardAPI": {"items": [{"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"},
                                "path": "namespace"}]}},
]


@dataclass
class ContainerRun:
    """How one container of a pod has run: restarts and the last termination."""

    started: datetime
    restarts: int = 0
    last_terminated: dict | None = None  # {"reason", "exitCode", "startedAt", "finishedAt"}
    terminated: dict | None = None  # the container finished (Job pods)
    ready: bool = True
    ready_at: datetime | None = None  # when the readiness probe first passed


def container_spec(name: str, image: str, args: list[str] | None = None, ports: list[dict] | None = None,
                   env: list[dict] | None = None, env_from: list[dict] | None = None,
                   probes: dict | None = None, resources: dict | None = None,
                   volume_mounts: list[dict] | None = None, pull: str = "IfNotPresent",
                   command: list[str] | None = None) -> dict:
    spec: dict[str, Any] = {"image": image, "imagePullPolicy": pull, "name": name}
    if command:
        spec["command"] = command
    if args:
        spec["args"] = args
    if env:
        spec["env"] = env
    if env_from:
        spec["envFrom"] = env_from
    if ports:
        spec["ports"] = ports
    spec.update(probes or {})
    spec["resources"] = resources or {}
    spec["terminationMessagePath"] = "/dev/termination-log"
    spec["terminationMessagePolicy"] = "File"
    if volume_mounts:
        spec["volumeMounts"] = list(volume_mounts)
    return spec


def pod_obj(cluster: Cluster, namespace: str, name: str, labels: dict, created: datetime,
            containers: list[dict], runs: dict[str, ContainerRun], owner: dict | None,
            service_account: str = "default", restart_policy: str = "Always",
            annotations: dict | None = None, extra_volumes: list[dict] | None = None,
            init_containers: list[dict] | None = None, generate_name: str | None = None) -> dict:
    node = node_for(cluster, name)
    token_volume = "kube-api-access-" + safe_suffix(5, cluster.slug, namespace, name, "vol")
    mount = {"mountPath": "/var/run/secrets/kubernetes.io/serviceaccount", "name": token_volume, "readOnly": True}
    containers = [dict(c, volumeMounts=c.get("volumeMounts", []) + [mount]) for c in containers]
    init_containers = [dict(c, volumeMounts=c.get("volumeMounts", []) + [mount]) for c in (init_containers or [])]
    scheduled = created + timedelta(seconds=1)
    statuses = []
    all_ready = True
    phase = "Running"
    last_change = scheduled
    for spec in containers:
        run = runs[spec["name"]]
        status: dict[str, Any] = {
            "containerID": container_id(cluster, name, spec["name"], run.restarts),
            "image": spec["image"],
            "imageID": spec["image"].split(":")[0] + "@" + image_digest(spec["image"]),
            "lastState": {},
            "name": spec["name"],
            "ready": run.ready and run.terminated is None,
            "restartCount": run.restarts,
            "started": run.terminated is None,
        }
        if run.last_terminated:
            lt = run.last_terminated
            status["lastState"] = {"terminated": {
                "containerID": container_id(cluster, name, spec["name"], run.restarts - 1),
                "exitCode": lt["exitCode"],
                "finishedAt": ts(lt["finishedAt"]),
                "reason": lt["reason"],
                "startedAt": ts(lt["startedAt"]),
            }}
        if run.terminated:
            t = run.terminated
            status["state"] = {"terminated": {
                "containerID": status["containerID"],
                "exitCode": t["exitCode"],
                "finishedAt": ts(t["finishedAt"]),
                "reason": t["reason"],
                "startedAt": ts(run.started),
            }}
            phase = "Failed" if t["exitCode"] else "Succeeded"
            all_ready = False
            last_change = max(last_change, t["finishedAt"])
        else:
            status["state"] = {"running": {"startedAt": ts(run.started)}}
            all_ready = all_ready and run.ready
            last_change = max(last_change, run.ready_at or run.started)
        statuses.append(status)
    first_start = min(
        (runs[c["name"]].last_terminated or {}).get("startedAt") or runs[c["name"]].started for c in containers
    )
    init_done = first_start - timedelta(seconds=1) if init_containers else scheduled
    ready_time = max(
        (runs[c["name"]].ready_at or runs[c["name"]].started + timedelta(seconds=6)) for c in containers
    )
    if phase != "Running":
        ready_time = last_change
    pod_conditions = [
        ("PodReadyToStartContainers", "True" if phase == "Running" else "False",
         scheduled + timedelta(seconds=2) if phase == "Running" else last_change + timedelta(seconds=1)),
        ("Initialized", "True", init_done + timedelta(seconds=1)),
        ("Ready", "True" if all_ready else "False", ready_time),
        ("ContainersReady", "True" if all_ready else "False", ready_time),
        ("PodScheduled", "True", scheduled),
    ]
    conditions = []
    for ctype, status_value, at in pod_conditions:
        cond = {"lastProbeTime": None, "lastTransitionTime": ts(at), "status": status_value, "type": ctype}
        if ctype in ("Ready", "ContainersReady") and phase != "Running":
            cond["reason"] = "PodFailed" if phase == "Failed" else "PodCompleted"
        conditions.append(cond)
    has_limits = any(c["resources"].get("limits") or c["resources"].get("requests") for c in containers)
    meta = cluster.meta("Pod", name, namespace, created, last_change + timedelta(seconds=1),
                        annotations=annotations or None, generateName=generate_name, labels=labels,
                        ownerReferences=[owner] if owner else None)
    spec: dict[str, Any] = {
        "containers": containers,
        "dnsPolicy": "ClusterFirst",
        "enableServiceLinks": True,
        "nodeName": node,
        "preemptionPolicy": "PreemptLowerPriority",
        "priority": 0,
        "restartPolicy": restart_policy,
        "schedulerName": "default-scheduler",
        "securityContext": {},
        "serviceAccount": service_account,
        "serviceAccountName": service_account,
        "terminationGracePeriodSeconds": 30,
        "tolerations": [
            {"effect": "NoExecute", "key": "node.kubernetes.io/not-ready", "operator": "Exists",
             "tolerationSeconds": 300},
            {"effect": "NoExecute", "key": "node.kubernetes.io/unreachable", "operator": "Exists",
             "tolerationSeconds": 300},
        ],
        "volumes": list(extra_volumes or []) + [
            {"name": token_volume, "projected": {"defaultMode": 420, "sources": KUBE_API_ACCESS_SOURCES}}
        ],
    }
    if init_containers:
        spec["initContainers"] = init_containers
    ip = pod_ip(cluster, name)
    status: dict[str, Any] = {
        "conditions": conditions,
        "containerStatuses": statuses,
        "hostIP": NODE_IPS[node],
        "hostIPs": [{"ip": NODE_IPS[node]}],
        "phase": phase,
        "podIP": ip,
        "podIPs": [{"ip": ip}],
        "qosClass": "Burstable" if has_limits else "BestEffort",
        "startTime": ts(scheduled),
    }
    if init_containers:
        status["initContainerStatuses"] = [
            {
                "containerID": container_id(cluster, name, c["name"], 0),
                "image": c["image"],
                "imageID": c["image"].split(":")[0] + "@" + image_digest(c["image"]),
                "lastState": {},
                "name": c["name"],
                "ready": True,
                "restartCount": 0,
                "started": False,
                "state": {"terminated": {
                    "containerID": container_id(cluster, name, c["name"], 0),
                    "exitCode": 0,
                    "finishedAt": ts(init_done),
                    "reason": "Completed",
                    "startedAt": ts(init_done - timedelta(seconds=1)),
                }},
            }
            for c in init_containers
        ]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec, "status": status}


@dataclass
class Workload:
    controller: dict
    replicaset: dict | None
    pod: dict


def deployment(cluster: Cluster, namespace: str, name: str, *, created: datetime,
               selector: dict, labels: dict, containers: list[dict], runs: dict[str, ContainerRun],
               pod_created: datetime | None = None, revision: int = 1, annotations: dict | None = None,
               pod_annotations: dict | None = None, service_account: str = "default",
               extra_volumes: list[dict] | None = None, init_containers: list[dict] | None = None,
               generation: int = 1, template_labels: dict | None = None, recreate: bool = False) -> Workload:
    pod_created = pod_created or created + timedelta(seconds=2)
    template_labels = dict(template_labels or selector)
    if "app.kubernetes.io/instance" in labels and not template_labels.get("app.kubernetes.io/instance"):
        template_labels["app.kubernetes.io/instance"] = labels["app.kubernetes.io/instance"]
    template_hash = safe_suffix(10, cluster.slug, namespace, name, revision)
    rs_name = f"{name}-{template_hash}"
    pod_name = f"{rs_name}-{safe_suffix(5, cluster.slug, namespace, name, revision, 'pod')}"
    pod_labels = dict(template_labels, **{"pod-template-hash": template_hash})
    template = {
        "metadata": {"creationTimestamp": None, "labels": template_labels},
        "spec": {
            "containers": containers,
            "dnsPolicy": "ClusterFirst",
            "restartPolicy": "Always",
            "schedulerName": "default-scheduler",
            "securityContext": {},
            "serviceAccount": service_account,
            "serviceAccountName": service_account,
            "terminationGracePeriodSeconds": 30,
        },
    }
    if pod_annotations:
        template["metadata"]["annotations"] = pod_annotations
    if extra_volumes:
        template["spec"]["volumes"] = extra_volumes
    if init_containers:
        template["spec"]["initContainers"] = init_containers
    pod = pod_obj(
        cluster, namespace, pod_name, pod_labels, pod_created, containers, runs,
        cluster.owner("apps/v1", "ReplicaSet", namespace, rs_name, blockOwnerDeletion=True, controller=True),
        service_account=service_account, annotations=pod_annotations, extra_volumes=extra_volumes,
        init_containers=init_containers, generate_name=f"{rs_name}-",
    )
    ready = all(c["ready"] for c in pod["status"]["containerStatuses"])
    ready_at = pod_created + timedelta(seconds=8)
    for cond in pod["status"]["conditions"]:
        if cond["type"] == "Ready":
            ready_at = datetime.strptime(cond["lastTransitionTime"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    dep_annotations = {"deployment.kubernetes.io/revision": str(revision)}
    dep_annotations.update(annotations or {})
    dep_status: dict[str, Any] = {
        "availableReplicas": 1 if ready else 0,
        "conditions": [
            {
                "lastTransitionTime": ts(ready_at if ready else created + timedelta(seconds=2)),
                "lastUpdateTime": ts(ready_at if ready else created + timedelta(seconds=2)),
                "message": "Deployment has minimum availability." if ready
                else "Deployment does not have minimum availability.",
                "reason": "MinimumReplicasAvailable" if ready else "MinimumReplicasUnavailable",
                "status": "True" if ready else "False",
                "type": "Available",
            },
            {
                "lastTransitionTime": ts(created + timedelta(seconds=2)),
                "lastUpdateTime": ts(pod_created + timedelta(seconds=8)),
                "message": f'ReplicaSet "{rs_name}" has successfully progressed.',
                "reason": "NewReplicaSetAvailable",
                "status": "True",
                "type": "Progressing",
            },
        ],
        "observedGeneration": generation,
        "replicas": 1,
        "updatedReplicas": 1,
    }
    if ready:
        dep_status["readyReplicas"] = 1
    else:
        dep_status["unavailableReplicas"] = 1
    dep = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": cluster.meta("Deployment", name, namespace, created, ready_at, annotations=dep_annotations,
                                 generation=generation, labels=labels),
        "spec": {
            "progressDeadlineSeconds": 600,
            "replicas": 1,
            "revisionHistoryLimit": 10,
            "selector": {"matchLabels": selector},
            "strategy": {"type": "Recreate"} if recreate
            else {"rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}, "type": "RollingUpdate"},
            "template": template,
        },
        "status": dep_status,
    }
    rs_template = json.loads(json.dumps(template))
    rs_template["metadata"]["labels"] = pod_labels
    rs_status: dict[str, Any] = {"fullyLabeledReplicas": 1, "observedGeneration": 1, "replicas": 1}
    if ready:
        rs_status.update({"availableReplicas": 1, "readyReplicas": 1})
    rs = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": cluster.meta(
            "ReplicaSet", rs_name, namespace, pod_created - timedelta(seconds=1), ready_at,
            annotations={
                "deployment.kubernetes.io/desired-replicas": "1",
                "deployment.kubernetes.io/max-replicas": "2",
                "deployment.kubernetes.io/revision": str(revision),
            },
            generation=1,
            labels=pod_labels,
            ownerReferences=[cluster.owner("apps/v1", "Deployment", namespace, name, blockOwnerDeletion=True,
                                           controller=True)],
        ),
        "spec": {"replicas": 1, "selector": {"matchLabels": dict(selector, **{"pod-template-hash": template_hash})},
                 "template": rs_template},
        "status": rs_status,
    }
    return Workload(dep, rs, pod)


def statefulset(cluster: Cluster, namespace: str, name: str, *, created: datetime, selector: dict,
                labels: dict, containers: list[dict], runs: dict[str, ContainerRun],
                service_account: str, extra_volumes: list[dict] | None = None) -> Workload:
    revision = f"{name}-{safe_suffix(10, cluster.slug, namespace, name, 'rev')}"
    pod_name = f"{name}-0"
    pod_labels = dict(selector, **{
        "apps.kubernetes.io/pod-index": "0",
        "controller-revision-hash": revision,
        "statefulset.kubernetes.io/pod-name": pod_name,
    })
    template = {
        "metadata": {"creationTimestamp": None, "labels": dict(selector)},
        "spec": {
            "containers": containers,
            "dnsPolicy": "ClusterFirst",
            "restartPolicy": "Always",
            "schedulerName": "default-scheduler",
            "securityContext": {},
            "serviceAccount": service_account,
            "serviceAccountName": service_account,
            "terminationGracePeriodSeconds": 30,
        },
    }
    if extra_volumes:
        template["spec"]["volumes"] = extra_volumes
    pod_created = created + timedelta(seconds=2)
    pod = pod_obj(cluster, namespace, pod_name, pod_labels, pod_created, containers, runs,
                  cluster.owner("apps/v1", "StatefulSet", namespace, name, blockOwnerDeletion=True, controller=True),
                  service_account=service_account, extra_volumes=extra_volumes, generate_name=f"{name}-")
    sts = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": cluster.meta("StatefulSet", name, namespace, created, pod_created + timedelta(seconds=9),
                                 generation=1, labels=labels),
        "spec": {
            "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"},
            "podManagementPolicy": "OrderedReady",
            "replicas": 1,
            "revisionHistoryLimit": 10,
            "selector": {"matchLabels": selector},
            "serviceName": name,
            "template": template,
            "updateStrategy": {"rollingUpdate": {"partition": 0}, "type": "RollingUpdate"},
        },
        "status": {
            "availableReplicas": 1,
            "collisionCount": 0,
            "currentReplicas": 1,
            "currentRevision": revision,
            "observedGeneration": 1,
            "readyReplicas": 1,
            "replicas": 1,
            "updateRevision": revision,
            "updatedReplicas": 1,
        },
    }
    return Workload(sts, None, pod)


def service_obj(cluster: Cluster, namespace: str, name: str, created: datetime, labels: dict,
                selector: dict, ports: list[dict], cluster_ip: str | None = None,
                annotations: dict | None = None) -> dict:
    ip = cluster_ip or "10.96.{}.{}".format(*divmod(int(digest("svc", cluster.slug, namespace, name)[:4], 16)
                                                    % 60000 + 300, 250))
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": cluster.meta("Service", name, namespace, created, annotations=annotations, labels=labels),
        "spec": {
            "clusterIP": ip,
            "clusterIPs": [ip],
            "internalTrafficPolicy": "Cluster",
            "ipFamilies": ["IPv4"],
            "ipFamilyPolicy": "SingleStack",
            "ports": ports,
            "selector": selector,
            "sessionAffinity": "None",
            "type": "ClusterIP",
        },
        "status": {"loadBalancer": {}},
    }


def event_obj(cluster: Cluster, namespace: str, involved: dict, reason: str, message: str, first: datetime,
              last: datetime | None = None, count: int = 1, type_: str = "Normal",
              component: str = "", host: str | None = None, reporting: str | None = None,
              annotations: dict | None = None) -> dict:
    last = last or first
    ns_stamp = int(first.timestamp()) * 1_000_000_000 + int(digest("evt", reason, involved["name"])[:6], 16) % 10**9
    name = f"{involved['name']}.{ns_stamp:x}"
    source: dict[str, str] = {}
    if component:
        source["component"] = component
    if host:
        source["host"] = host
    meta = cluster.meta("Event", name, namespace, first, last, annotations=annotations)
    return {
        "apiVersion": "v1",
        "count": count,
        "eventTime": None,
        "firstTimestamp": ts(first),
        "involvedObject": involved,
        "kind": "Event",
        "lastTimestamp": ts(last),
        "message": message,
        "metadata": meta,
        "reason": reason,
        "reportingComponent": reporting if reporting is not None else "",
        "reportingInstance": (host or "") if reporting else "",
        "source": source,
        "type": type_,
    }


def involved(obj: dict, field_path: str | None = None) -> dict:
    ref = {
        "apiVersion": obj["apiVersion"],
        "kind": obj["kind"],
        "name": obj["metadata"]["name"],
        "namespace": obj["metadata"].get("namespace"),
        "resourceVersion": obj["metadata"]["resourceVersion"],
        "uid": obj["metadata"]["uid"],
    }
    if field_path:
        ref["fieldPath"] = field_path
    return {k: v for k, v in ref.items() if v is not None}


def pod_start_events(cluster: Cluster, pod: dict, container: str, image: str, started: datetime,
                     count: int = 1, pulled_from_cache: bool = True) -> list[dict]:
    """The kubelet's Pulled/Created/Started events for one container start."""
    ns = pod["metadata"]["namespace"]
    node = pod["spec"]["nodeName"]
    ref = involved(pod, f"spec.containers{{{container}}}")
    pulled = (f'Container image "{image}" already present on machine' if pulled_from_cache
              else f'Successfully pulled image "{image}" in 2.184s (2.184s including waiting). Image size: '
                   f"48211093 bytes.")
    return [
        event_obj(cluster, ns, ref, "Pulled", pulled, started - timedelta(seconds=1), count=count,
                  component="kubelet", host=node, reporting="kubelet"),
        event_obj(cluster, ns, ref, "Created", f"Created container {container}", started - timedelta(seconds=1),
                  count=count, component="kubelet", host=node, reporting="kubelet"),
        event_obj(cluster, ns, ref, "Started", f"Started container {container}", started, count=count,
                  component="kubelet", host=node, reporting="kubelet"),
    ]


# ---------------------------------------------------------------- control planes


def kargo_workloads(cluster: Cluster, installed: datetime, controller_restart: dict | None = None) -> list[Workload]:
    version = cluster.kargo_version
    image = f"ghcr.io/akuity/kargo:v{version}"
    chart_labels = {
        "app.kubernetes.io/instance": "kargo",
        "app.kubernetes.io/managed-by": "Helm",
        "app.kubernetes.io/name": "kargo",
        "app.kubernetes.io/version": version,
        "helm.sh/chart": f"kargo-{version}",
    }
    webhooks_component = "kubernetes-webhooks-server" if cluster.kargo >= (1, 6, 0) else "webhooks-server"
    components = [
        ("kargo-api", "api", "api", [{"containerPort": 8080, "name": "http", "protocol": "TCP"}]),
        ("kargo-controller", "controller", "controller", []),
        ("kargo-management-controller", "management-controller", "management-controller", []),
        ("kargo-webhooks-server", "webhooks-server", webhooks_component,
         [{"containerPort": 9443, "name": "webhooks", "protocol": "TCP"}]),
    ]
    if cluster.kargo >= (1, 6, 0):
        components.append(("kargo-external-webhooks-server", "webhooks-server", "external-webhooks-server",
                           [{"containerPort": 8080, "name": "http", "protocol": "TCP"}]))
    out = []
    for name, container, component, ports in components:
        selector = {"app.kubernetes.io/component": component, "app.kubernetes.io/instance": "kargo",
                    "app.kubernetes.io/name": "kargo"}
        labels = dict(chart_labels, **{"app.kubernetes.io/component": component})
        args = {"kargo-api": ["api"], "kargo-controller": ["controller"],
                "kargo-management-controller": ["management-controller"]}.get(name)
        if args is None:
            args = ["external-webhooks-server"] if "external" in name else ["kubernetes-webhooks-server"]
        env = [{"name": "GOMEMLIMIT", "valueFrom": {"resourceFieldRef": {
                    "containerName": container, "divisor": "1", "resource": "limits.memory"}}},
               {"name": "GOMAXPROCS", "valueFrom": {"resourceFieldRef": {
                   "containerName": container, "divisor": "1", "resource": "limits.cpu"}}}]
        spec = container_spec(
            container, image, args=None if name == "kargo-api" else args, ports=ports, env=env,
            env_from=[{"configMapRef": {"name": name}}],
            command=["/usr/local/bin/kargo", "api"] if name == "kargo-api"
            else ["/sbin/tini", "--", "/usr/local/bin/kargo"],
            resources={"limits": {"memory": "1Gi"}, "requests": {"cpu": "100m", "memory": "256Mi"}}
            if name == "kargo-controller" else {},
        )
        pod_created = installed + timedelta(seconds=3)
        run = ContainerRun(started=pod_created + timedelta(seconds=5))
        if name == "kargo-controller" and controller_restart:
            run = ContainerRun(
                started=controller_restart["finishedAt"] + timedelta(seconds=1),
                restarts=1,
                last_terminated=dict(controller_restart, startedAt=pod_created + timedelta(seconds=5)),
            )
            run.ready_at = run.started + timedelta(seconds=7)
        sa = name if name != "kargo-external-webhooks-server" else "kargo-external-webhooks-server"
        out.append(deployment(
            cluster, KARGO_NS, name, created=installed, selector=selector, labels=labels, containers=[spec],
            runs={container: run}, pod_created=pod_created, service_account=sa,
            annotations={"meta.helm.sh/release-name": "kargo", "meta.helm.sh/release-namespace": KARGO_NS},
            pod_annotations={"configmap/checksum": digest("configmap", cluster.slug, name)},
            template_labels=labels, recreate=name == "kargo-controller",
        ))
    return out


def argocd_image(cluster: Cluster) -> str:
    return f"quay.io/argoproj/argocd:v{cluster.argocd_version}"


def argocd_workloads(cluster: Cluster, installed: datetime,
                     repo_server_restart: dict | None = None) -> list[Workload]:
    image = argocd_image(cluster)
    redis_image = ("public.ecr.aws/docker/library/redis:7.2.7-alpine" if cluster.argocd >= (3, 0, 0)
                   else "public.ecr.aws/docker/library/redis:7.0.15-alpine")
    cm_env = [
        {"name": "ARGOCD_RECONCILIATION_TIMEOUT", "valueFrom": {"configMapKeyRef": {
            "key": "timeout.reconciliation", "name": "argocd-cm", "optional": True}}},
        {"name": "ARGOCD_REPO_SERVER", "valueFrom": {"configMapKeyRef": {
            "key": "repo.server", "name": "argocd-cmd-params-cm", "optional": True}}},
    ]
    out = []

    def labels(name: str, component: str) -> dict:
        return {"app.kubernetes.io/component": component, "app.kubernetes.io/name": name,
                "app.kubernetes.io/part-of": "argocd"}

    # application controller (StatefulSet)
    ctrl_spec = container_spec(
        "argocd-application-controller", image, args=["/usr/local/bin/argocd-application-controller"],
        env=cm_env, ports=[{"containerPort": 8082, "protocol": "TCP"}],
        probes={"readinessProbe": {"failureThreshold": 3, "httpGet": {"path": "/healthz", "port": 8082,
                                                                       "scheme": "HTTP"},
                                   "initialDelaySeconds": 5, "periodSeconds": 10, "successThreshold": 1,
                                   "timeoutSeconds": 1}},
        volume_mounts=[{"mountPath": "/app/config/controller/tls", "name": "argocd-repo-server-tls"},
                       {"mountPath": "/home/argocd", "name": "argocd-home"}],
    )
    out.append(statefulset(
        cluster, ARGOCD_NS, "argocd-application-controller", created=installed,
        selector={"app.kubernetes.io/name": "argocd-application-controller"},
        labels=labels("argocd-application-controller", "application-controller"),
        containers=[ctrl_spec],
        runs={"argocd-application-controller": ContainerRun(started=installed + timedelta(seconds=9))},
        service_account="argocd-application-controller",
        extra_volumes=[{"emptyDir": {}, "name": "argocd-home"},
                       {"name": "argocd-repo-server-tls", "secret": {"defaultMode": 420, "items": [
                           {"key": "tls.crt", "path": "tls.crt"}, {"key": "tls.key", "path": "tls.key"},
                           {"key": "ca.crt", "path": "ca.crt"}], "optional": True,
                           "secretName": "argocd-repo-server-tls"}}],
    ))

    deployments = [
        ("argocd-repo-server", "repo-server", ["/usr/local/bin/argocd-repo-server"],
         [{"containerPort": 8081, "protocol": "TCP"}, {"containerPort": 8084, "protocol": "TCP"}], 8084,
         "/healthz?full=true"),
        ("argocd-server", "server", ["/usr/local/bin/argocd-server"],
         [{"containerPort": 8080, "protocol": "TCP"}, {"containerPort": 8083, "protocol": "TCP"}], 8080,
         "/healthz?full=true"),
        ("argocd-applicationset-controller", "applicationset-controller",
         ["/usr/local/bin/argocd-applicationset-controller"],
         [{"containerPort": 7000, "name": "webhook", "protocol": "TCP"},
          {"containerPort": 8080, "name": "metrics", "protocol": "TCP"}], None, None),
        ("argocd-redis", "redis", None, [{"containerPort": 6379, "protocol": "TCP"}], None, None),
    ]
    for name, component, args, ports, probe_port, probe_path in deployments:
        container_name = "redis" if name == "argocd-redis" else name
        img = redis_image if name == "argocd-redis" else image
        probes = {}
        if probe_port:
            probes = {
                "livenessProbe": {"failureThreshold": 3, "httpGet": {"path": probe_path, "port": probe_port,
                                                                     "scheme": "HTTP"},
                                  "initialDelaySeconds": 30 if name == "argocd-repo-server" else 3,
                                  "periodSeconds": 30, "successThreshold": 1, "timeoutSeconds": 5},
                "readinessProbe": {"failureThreshold": 3, "httpGet": {"path": "/healthz", "port": probe_port,
                                                                      "scheme": "HTTP"},
                                   "initialDelaySeconds": 5 if name == "argocd-repo-server" else 3,
                                   "periodSeconds": 10, "successThreshold": 1, "timeoutSeconds": 1},
            }
        if name == "argocd-redis":
            spec = container_spec(
                container_name, img,
                args=["--save", "", "--appendonly", "no", "--requirepass $(REDIS_PASSWORD)"], ports=ports,
                env=[{"name": "REDIS_PASSWORD", "valueFrom": {"secretKeyRef": {"key": "auth",
                                                                                "name": "argocd-redis"}}}],
            )
        else:
            spec = container_spec(container_name, img, args=args, ports=ports, probes=probes,
                                  env=cm_env if name != "argocd-applicationset-controller" else None)
        init = None
        volumes = None
        if name == "argocd-repo-server":
            spec["volumeMounts"] = [
                {"mountPath": "/app/config/ssh", "name": "ssh-known-hosts"},
                {"mountPath": "/app/config/tls", "name": "tls-certs"},
                {"mountPath": "/app/config/gpg/source", "name": "gpg-keys"},
                {"mountPath": "/app/config/gpg/keys", "name": "gpg-keyring"},
                {"mountPath": "/tmp", "name": "tmp"},
                {"mountPath": "/app/config/reposerver/tls", "name": "argocd-repo-server-tls"},
                {"mountPath": "/home/argocd/cmp-server/plugins", "name": "plugins"},
            ]
            init = [container_spec("copyutil", image, command=["/bin/cp", "-n", "/usr/local/bin/argocd",
                                                               "/var/run/argocd/argocd-cmp-server"],
                                   volume_mounts=[{"mountPath": "/var/run/argocd", "name": "var-files"}])]
            volumes = [
                {"configMap": {"defaultMode": 420, "name": "argocd-ssh-known-hosts-cm"}, "name": "ssh-known-hosts"},
                {"configMap": {"defaultMode": 420, "name": "argocd-tls-certs-cm"}, "name": "tls-certs"},
                {"configMap": {"defaultMode": 420, "name": "argocd-gpg-keys-cm"}, "name": "gpg-keys"},
                {"emptyDir": {}, "name": "gpg-keyring"},
                {"emptyDir": {}, "name": "tmp"},
                {"name": "argocd-repo-server-tls", "secret": {"defaultMode": 420, "optional": True,
                                                              "secretName": "argocd-repo-server-tls"}},
                {"emptyDir": {}, "name": "var-files"},
                {"emptyDir": {}, "name": "plugins"},
            ]
        pod_created = installed + timedelta(seconds=2)
        run = ContainerRun(started=pod_created + timedelta(seconds=4))
        if name == "argocd-repo-server" and repo_server_restart:
            run = ContainerRun(
                started=repo_server_restart["finishedAt"] + timedelta(seconds=1),
                restarts=1,
                last_terminated=dict(repo_server_restart, startedAt=pod_created + timedelta(seconds=4)),
            )
            run.ready_at = repo_server_restart["readyAt"]
            run.last_terminated = {k: v for k, v in run.last_terminated.items() if k != "readyAt"}
        sa = {"argocd-repo-server": "argocd-repo-server", "argocd-server": "argocd-server",
              "argocd-applicationset-controller": "argocd-applicationset-controller",
              "argocd-redis": "argocd-redis"}[name]
        out.append(deployment(
            cluster, ARGOCD_NS, name, created=installed, selector={"app.kubernetes.io/name": name},
            labels=labels(name, component), containers=[spec], runs={container_name: run},
            pod_created=pod_created, service_account=sa, extra_volumes=volumes, init_containers=init,
        ))
    return out


def control_plane_services(cluster: Cluster, kargo_installed: datetime, argocd_installed: datetime,
                           repo_server_ip: str) -> None:
    def argo_labels(name: str, component: str) -> dict:
        return {"app.kubernetes.io/component": component, "app.kubernetes.io/name": name,
                "app.kubernetes.io/part-of": "argocd"}

    cluster.add(f"cluster-resources/services/{ARGOCD_NS}.json",
                service_obj(cluster, ARGOCD_NS, "argocd-applicationset-controller", argocd_installed,
                            argo_labels("argocd-applicationset-controller", "applicationset-controller"),
                            {"app.kubernetes.io/name": "argocd-applicationset-controller"},
                            [{"name": "webhook", "port": 7000, "protocol": "TCP", "targetPort": "webhook"},
                             {"name": "metrics", "port": 8080, "protocol": "TCP", "targetPort": "metrics"}]),
                service_obj(cluster, ARGOCD_NS, "argocd-metrics", argocd_installed,
                            argo_labels("argocd-metrics", "metrics"),
                            {"app.kubernetes.io/name": "argocd-application-controller"},
                            [{"name": "metrics", "port": 8082, "protocol": "TCP", "targetPort": 8082}]),
                service_obj(cluster, ARGOCD_NS, "argocd-redis", argocd_installed,
                            argo_labels("argocd-redis", "redis"), {"app.kubernetes.io/name": "argocd-redis"},
                            [{"name": "tcp-redis", "port": 6379, "protocol": "TCP", "targetPort": 6379}]),
                service_obj(cluster, ARGOCD_NS, "argocd-repo-server", argocd_installed,
                            argo_labels("argocd-repo-server", "repo-server"),
                            {"app.kubernetes.io/name": "argocd-repo-server"},
                            [{"name": "server", "port": 8081, "protocol": "TCP", "targetPort": 8081},
                             {"name": "metrics", "port": 8084, "protocol": "TCP", "targetPort": 8084}],
                            cluster_ip=repo_server_ip),
                service_obj(cluster, ARGOCD_NS, "argocd-server", argocd_installed,
                            argo_labels("argocd-server", "server"), {"app.kubernetes.io/name": "argocd-server"},
                            [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080},
                             {"name": "https", "port": 443, "protocol": "TCP", "targetPort": 8080}]))
    kargo_labels = {
        "app.kubernetes.io/instance": "kargo", "app.kubernetes.io/managed-by": "Helm",
        "app.kubernetes.io/name": "kargo", "app.kubernetes.io/version": cluster.kargo_version,
        "helm.sh/chart": f"kargo-{cluster.kargo_version}",
    }
    helm = {"meta.helm.sh/release-name": "kargo", "meta.helm.sh/release-namespace": KARGO_NS}
    webhooks_component = "kubernetes-webhooks-server" if cluster.kargo >= (1, 6, 0) else "webhooks-server"
    services = [("kargo-api", "api", 443, "http"), ("kargo-webhooks-server", webhooks_component, 443, "webhooks")]
    if cluster.kargo >= (1, 6, 0):
        services.append(("kargo-external-webhooks-server", "external-webhooks-server", 443, "http"))
    for name, component, port, target in services:
        cluster.add(f"cluster-resources/services/{KARGO_NS}.json", service_obj(
            cluster, KARGO_NS, name, kargo_installed, dict(kargo_labels, **{"app.kubernetes.io/component": component}),
            {"app.kubernetes.io/component": component, "app.kubernetes.io/instance": "kargo",
             "app.kubernetes.io/name": "kargo"},
            [{"name": "https" if port == 443 else "http", "port": port, "protocol": "TCP", "targetPort": target}],
            annotations=helm))


def add_workloads(cluster: Cluster, namespace: str, workloads: list[Workload]) -> None:
    for w in workloads:
        kind = "statefulsets" if w.controller["kind"] == "StatefulSet" else "deployments"
        cluster.add(f"cluster-resources/{kind}/{namespace}.json", w.controller)
        if w.replicaset:
            cluster.add(f"cluster-resources/replicasets/{namespace}.json", w.replicaset)
        cluster.add(f"cluster-resources/pods/{namespace}.json", w.pod)


# ---------------------------------------------------------------- app workloads


def app_namespace_objects(cluster: Cluster, stage: str, image_tag: str, deployed: datetime,
                          created: datetime, revision: int) -> Workload:
    ns = f"guestbook-{stage}"
    app = f"guestbook-{stage}"
    tracking = cluster.argocd >= (3, 0, 0)
    labels = {"app.kubernetes.io/name": "guestbook"}
    annotations = {}
    if tracking:
        annotations["argocd.argoproj.io/tracking-id"] = f"{app}:apps/Deployment:{ns}/guestbook"
    else:
        labels["app.kubernetes.io/instance"] = app
    image = f"{IMAGE_REPO}:{image_tag}"
    spec = container_spec(
        "guestbook", image, ports=[{"containerPort": 8080, "name": "http", "protocol": "TCP"}],
        probes={"readinessProbe": {"failureThreshold": 3, "httpGet": {"path": "/healthz", "port": "http",
                                                                       "scheme": "HTTP"},
                                   "periodSeconds": 10, "successThreshold": 1, "timeoutSeconds": 1}},
        resources={"limits": {"cpu": "250m", "memory": "128Mi"}, "requests": {"cpu": "50m", "memory": "64Mi"}},
    )
    workload = deployment(
        cluster, ns, "guestbook", created=created, selector={"app.kubernetes.io/name": "guestbook"},
        labels=labels, containers=[spec], runs={"guestbook": ContainerRun(started=deployed + timedelta(seconds=6))},
        pod_created=deployed + timedelta(seconds=2), revision=revision, annotations=annotations or None,
        generation=revision,
    )
    cluster.add(f"cluster-resources/services/{ns}.json", service_obj(
        cluster, ns, "guestbook", created, labels, {"app.kubernetes.io/name": "guestbook"},
        [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": "http"}],
        annotations=({"argocd.argoproj.io/tracking-id": f"{app}:/Service:{ns}/guestbook"} if tracking else None)))
    add_workloads(cluster, ns, [workload])
    cluster.touch(f"cluster-resources/events/{ns}.json")
    return workload


# ---------------------------------------------------------------- Kargo objects


@dataclass
class Freight:
    name: str
    alias: str
    tag: str
    commit: str
    image_digest: str
    created: datetime
    message: str

    @property
    def short(self) -> str:
        return self.name[:7]

    @property
    def collection(self) -> str:
        return collection_id(self.name)

    def ref(self) -> dict:
        return {
            "commits": [{"author": "Dana Whitfield <dana@example.com>", "branch": "main",
                         "committer": "GitHub <noreply@github.com>", "id": self.commit,
                         "message": self.message, "repoURL": SOURCE_REPO}],
            "images": [{"digest": self.image_digest, "repoURL": IMAGE_REPO, "tag": self.tag}],
            "name": self.name,
            "origin": {"kind": "Warehouse", "name": WAREHOUSE},
        }

    def collection_obj(self, verifications: list[dict] | None = None) -> dict:
        obj: dict[str, Any] = {"id": self.collection, "items": {f"Warehouse/{WAREHOUSE}": self.ref()}}
        if verifications is not None:
            obj["verificationHistory"] = verifications
        return obj


def make_freight(cluster: Cluster, tag: str, alias: str, created: datetime, message: str) -> Freight:
    commit = sha1_hex(f"{cluster.slug}/commit/{tag}")
    img_digest = "sha256:" + digest("image-digest", cluster.slug, tag)
    return Freight(freight_name(commit, tag, img_digest), alias, tag, commit, img_digest, created, message)


def stage_promotion_steps(cluster: Cluster, stage: str) -> list[dict]:
    """The Stage's promotion template: clone, set image, commit, push, argocd-update."""
    steps: list[dict] = [
        {"uses": "git-clone", "config": {"repoURL": GITOPS_REPO, "checkout": [
            {"branch": f"stage/{stage}", "create": True, "path": "./out"}]}},
        {"uses": "kustomize-set-image", "config": {"path": "./out", "images": [
            {"image": IMAGE_REPO, "tag": f"${{{{ imageFrom(\"{IMAGE_REPO}\").Tag }}}}"}]}},
        {"uses": "git-commit", "as": "commit", "config": {
            "path": "./out", "message": "${{ outputs['step-2'].commitMessage }}"}},
        {"uses": "git-push", "config": {"path": "./out"}},
        {"uses": "argocd-update", "retry": {"timeout": "10m"}, "config": {"apps": [
            {"name": f"guestbook-{stage}", "namespace": ARGOCD_NS, "sources": [
                {"repoURL": GITOPS_REPO, "desiredRevision": "${{ outputs.commit.commit }}"}]}]}},
    ]
    return steps


def stage_obj(cluster: Cluster, name: str, *, created: datetime, upstream: str | None, generation: int,
              status: dict, verification: dict | None, soak: str | None = None,
              annotations: dict | None = None) -> dict:
    sources: dict[str, Any] = {"direct": True} if upstream is None else {"stages": [upstream]}
    if soak:
        sources["requiredSoakTime"] = soak
    spec: dict[str, Any] = {
        "promotionTemplate": {"spec": {"steps": stage_promotion_steps(cluster, name)}},
        "requestedFreight": [{"origin": {"kind": "Warehouse", "name": WAREHOUSE}, "sources": sources}],
    }
    if verification:
        spec["verification"] = verification
    all_annotations = {LAST_APPLIED: HIDDEN}
    all_annotations.update(annotations or {})
    return {
        "apiVersion": "kargo.akuity.io/v1alpha1",
        "kind": "Stage",
        "metadata": cluster.meta("Stage", name, PROJECT, created, cluster.ago(minutes=1), annotations=all_annotations,
                                 finalizers=["kargo.akuity.io/finalizer"], generation=generation),
        "spec": spec,
        "status": status,
    }


def condition(ctype: str, status: str, reason: str, message: str, at: datetime, generation: int) -> dict:
    return {"lastTransitionTime": ts(at), "message": message, "observedGeneration": generation,
            "reason": reason, "status": status, "type": ctype}


def argocd_health_output(cluster: Cluster, app_status: dict) -> dict:
    """One entry of Stage ``status.health.output`` for an Argo CD health check."""
    op = app_status.get("operationState")
    entry: dict[str, Any] = {
        "Name": app_status["_name"],
        "Namespace": ARGOCD_NS,
        "health": {"status": app_status["health"]["status"]},
        "sync": {"revision": app_status["sync"]["revision"], "status": app_status["sync"]["status"]},
    }
    if cluster.kargo < (1, 11, 0):
        entry["reconciledAt"] = app_status["reconciledAt"]
    if op:
        operation = op["operation"]
        kop: dict[str, Any] = {"initiatedBy": operation["initiatedBy"], "retry": {}}
        if operation.get("info"):
            kop["info"] = operation["info"]
        if operation.get("sync"):
            kop["sync"] = {k: v for k, v in operation["sync"].items() if k in ("syncOptions", "revisions")}
        kstate: dict[str, Any] = {"operation": kop, "phase": op["phase"]}
        if op.get("message"):
            kstate["message"] = op["message"]
        if op.get("syncResult"):
            src = op["syncResult"].get("source", {})
            kstate["syncResult"] = {"revision": op["syncResult"]["revision"],
                                    "source": {"repoURL": src.get("repoURL", ""),
                                               "targetRevision": src.get("targetRevision", "")}}
        if op.get("finishedAt"):
            kstate["finishedAt"] = op["finishedAt"]
        entry["operationState"] = kstate
    return {"applicationStatuses": [entry]}


def promotion_obj(cluster: Cluster, *, stage: str, name: str, freight: Freight, created: datetime,
                  phase: str, finished: datetime | None, step_times: list[tuple], message: str | None = None,
                  actor: str | None = None, generated: bool = True, running_step: int | None = None,
                  app_commit: str | None = None) -> dict:
    """A Promotion as the controller leaves it.

    ``step_times`` holds (started, finished, status, message, errorCount) per step.
    """
    v = cluster.kargo
    annotations: dict[str, str] = {}
    labels: dict[str, str] = {}
    extra: dict[str, Any] = {}
    if actor:
        annotations["kargo.akuity.io/create-actor"] = actor
    if v >= (1, 11, 0):
        labels["kargo.akuity.io/stage"] = stage
        annotations["kargo.akuity.io/stage"] = stage
        if generated and not (actor or "").startswith("kubernetes:"):
            extra["generateName"] = "promo-"
    meta = cluster.meta(
        "Promotion", name, PROJECT, created, finished or cluster.ago(minutes=1),
        annotations=annotations or None, generation=1, labels=labels or None,
        ownerReferences=[cluster.owner("kargo.akuity.io/v1alpha1", "Stage", PROJECT, stage,
                                       blockOwnerDeletion=True, controller=True)],
        **extra,
    )
    metadata_list = []
    for i, (started, done, status, msg, errors) in enumerate(step_times):
        entry: dict[str, Any] = {"alias": ["step-1", "step-2", "commit", "step-4", "step-5"][i], "status": status}
        if started:
            entry["startedAt"] = ts(started)
        if done:
            entry["finishedAt"] = ts(done)
        if msg:
            entry["message"] = msg
        if errors:
            entry["errorCount"] = errors
        metadata_list.append(entry)
    status: dict[str, Any] = {
        "freight": freight.ref(),
        "freightCollection": freight.collection_obj(),
        "phase": phase,
        "stepExecutionMetadata": metadata_list,
    }
    if v >= (1, 8, 0):
        status["startedAt"] = ts(created + timedelta(seconds=1))
    commit = app_commit or sha1_hex(f"{cluster.slug}/gitops/{name}")
    done_steps = {m["alias"] for m in metadata_list if m["status"] == "Succeeded"}
    state: dict[str, Any] = {}
    if "step-2" in done_steps:
        state["step-2"] = {"commitMessage": f"Updated ./out/kustomization.yaml to use new image\n\n"
                                            f"- {IMAGE_REPO}:{freight.tag}"}
    if "commit" in done_steps:
        state["commit"] = {"commit": commit}
    if "step-4" in done_steps:
        state["step-4"] = {"branch": f"stage/{stage}", "commit": commit,
                           "commitURL": f"https://github.com/example-org/kargo-demo/commit/{commit}"}
    if state:
        status["state"] = state
    if running_step is not None:
        status["currentStep"] = running_step
    else:
        status["currentStep"] = len(step_times) - 1
    if message:
        status["message"] = message
    if finished:
        status["finishedAt"] = ts(finished)
    if phase == "Succeeded":
        status["healthChecks"] = [{"config": {"apps": [{"desiredRevisions": [commit],
                                                        "name": f"guestbook-{stage}", "namespace": ARGOCD_NS}]},
                                   "uses": "argocd-update"}]
    return {
        "apiVersion": "kargo.akuity.io/v1alpha1",
        "kind": "Promotion",
        "metadata": meta,
        "spec": {"freight": freight.name, "stage": stage, "steps": stage_promotion_steps(cluster, stage)},
        "status": status,
    }


def gitops_commit(cluster: Cluster, promotion: str) -> str:
    return sha1_hex(f"{cluster.slug}/gitops/{promotion}")


def succeeded_steps(start: datetime) -> list[tuple]:
    t = start
    out = []
    for duration in (3, 1, 1, 2, 24):
        out.append((t, t + timedelta(seconds=duration), "Succeeded", None, 0))
        t = t + timedelta(seconds=duration)
    return out


def freight_obj(cluster: Cluster, f: Freight, status: dict) -> dict:
    obj: dict[str, Any] = {
        "alias": f.alias,
        "apiVersion": "kargo.akuity.io/v1alpha1",
        "commits": f.ref()["commits"],
        "images": f.ref()["images"],
        "kind": "Freight",
        "metadata": cluster.meta("Freight", f.name, PROJECT, f.created, cluster.ago(minutes=2),
                                 generation=1, labels={"kargo.akuity.io/alias": f.alias}),
        "origin": {"kind": "Warehouse", "name": WAREHOUSE},
        "status": status,
    }
    if cluster.kargo >= (1, 11, 0):
        obj["discoveredAt"] = ts(f.created - timedelta(seconds=2))
    return obj


def warehouse_obj(cluster: Cluster, created: datetime, freights: list[Freight], discovered: datetime) -> dict:
    latest = freights[-1]
    git_commits = []
    for f in reversed(freights[-3:]):
        git_commits.append({"author": "Dana Whitfield <dana@example.com>", "branch": "main",
                            "committer": "GitHub <noreply@github.com>", "creatorDate": ts(f.created - timedelta(minutes=9)),
                            "id": f.commit, "subject": f.message})
    refs = [{"createdAt": ts(f.created - timedelta(minutes=3)), "digest": f.image_digest, "tag": f.tag}
            for f in reversed(freights[-3:])]
    status: dict[str, Any] = {
        "conditions": [
            condition("Ready", "True", "ArtifactsDiscovered", "Successfully discovered artifacts from 2 subscriptions",
                      created + timedelta(seconds=40), 1),
            condition("Healthy", "True", "ReconciliationSucceeded", "", created + timedelta(seconds=40), 1),
            condition("FreightCreationCriteriaSatisfied", "True", "CriteriaSatisfied",
                      "Freight creation criteria satisfied", created + timedelta(seconds=39), 1),
            condition("FreightCreated", "False", "AlreadyExists",
                      "Freight composed of the newest artifacts already exists", latest.created + timedelta(minutes=5), 1),
        ],
        "discoveredArtifacts": {
            "discoveredAt": ts(discovered),
            "git": [{"commits": git_commits, "observedRefs": {"branchHead": latest.commit}, "repoURL": SOURCE_REPO}],
            "images": [{"references": refs, "repoURL": IMAGE_REPO}],
        },
        "lastFreightID": latest.name,
        "observedGeneration": 1,
    }
    if cluster.kargo < (1, 11, 0):
        status["discoveredArtifacts"]["git"][0].pop("observedRefs")
    return {
        "apiVersion": "kargo.akuity.io/v1alpha1",
        "kind": "Warehouse",
        "metadata": cluster.meta("Warehouse", WAREHOUSE, PROJECT, created, discovered,
                                 annotations={LAST_APPLIED: HIDDEN}, generation=1),
        "spec": {
            "freightCreationPolicy": "Automatic",
            "interval": "5m0s",
            "subscriptions": [
                {"git": {"branch": "main", "commitSelectionStrategy": "NewestFromBranch", "discoveryLimit": 20,
                         "repoURL": SOURCE_REPO, "strictSemvers": True}},
                {"image": {"constraint": "^" + latest.tag.lstrip("v").split(".")[0] + ".0.0",
                           "discoveryLimit": 20, "imageSelectionStrategy": "SemVer",
                           "repoURL": IMAGE_REPO, "strictSemvers": True}},
            ],
        },
        "status": status,
    }


def project_objects(cluster: Cluster, created: datetime, stage_count: int, healthy: int,
                    auto_promote: dict[str, bool], config_updated: datetime | None = None,
                    config_generation: int = 1) -> None:
    project_status: dict[str, Any] = {"conditions": [condition(
        "Ready", "True", "Synced", "Project is synced and ready for use", created + timedelta(seconds=2), 1)]}
    if cluster.kargo >= (1, 10, 0):
        project_status["stats"] = {"stages": {"count": stage_count, "health": {"healthy": healthy}},
                                   "warehouses": {"count": 1, "health": {"healthy": 1}}}
    cluster.add("cluster-resources/custom-resources/projects.kargo.akuity.io.json", {
        "apiVersion": "kargo.akuity.io/v1alpha1",
        "kind": "Project",
        "metadata": cluster.meta("Project", PROJECT, None, created, cluster.ago(minutes=3),
                                 annotations={LAST_APPLIED: HIDDEN}, finalizers=["kargo.akuity.io/finalizer"],
                                 generation=1),
        "status": project_status,
    })
    cluster.add(f"cluster-resources/custom-resources/projectconfigs.kargo.akuity.io/{PROJECT}.json", {
        "apiVersion": "kargo.akuity.io/v1alpha1",
        "kind": "ProjectConfig",
        "metadata": cluster.meta("ProjectConfig", PROJECT, PROJECT, created + timedelta(seconds=1), config_updated,
                                 annotations={LAST_APPLIED: HIDDEN}, generation=config_generation),
        "spec": {"promotionPolicies": [{"autoPromotionEnabled": enabled, "stage": stage}
                                       for stage, enabled in auto_promote.items()]},
        "status": {"conditions": [condition("Ready", "True", "Synced", "ProjectConfig is synced and ready for use",
                                            created + timedelta(seconds=3), config_generation)],
                   "observedGeneration": config_generation},
    })


# ---------------------------------------------------------------- Argo Rollouts objects


def smoke_template(cluster: Cluster, created: datetime) -> dict:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AnalysisTemplate",
        "metadata": cluster.meta("AnalysisTemplate", "guestbook-smoke", PROJECT, created,
                                 annotations={LAST_APPLIED: HIDDEN}, generation=1),
        "spec": {
            "args": [{"name": "namespace"}],
            "metrics": [{
                "count": 3,
                "failureLimit": 1,
                "interval": "10s",
                "name": "healthz",
                "provider": {"web": {"jsonPath": "{$.status}", "timeoutSeconds": 10,
                                     "url": "http://guestbook.{{args.namespace}}.svc.cluster.local/healthz"}},
                "successCondition": "result == 'ok'",
            }],
        },
    }


def qa_smoke_template(cluster: Cluster, created: datetime) -> dict:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AnalysisTemplate",
        "metadata": cluster.meta("AnalysisTemplate", "qa-smoke", PROJECT, created,
                                 annotations={LAST_APPLIED: HIDDEN}, generation=1),
        "spec": {
            "args": [{"name": "namespace"}],
            "metrics": [{"name": "integration-test", "provider": {"job": {"spec": _integration_job_spec()}}}],
        },
    }


def _integration_job_spec(namespace: str = "{{args.namespace}}") -> dict:
    return {
        "backoffLimit": 0,
        "template": {"spec": {
            "containers": [{
                "args": ["--target", f"http://guestbook.{namespace}.svc.cluster.local", "--suite", "smoke"],
                "image": "ghcr.io/example-org/guestbook-e2e:v1",
                "name": "integration-test",
            }],
            "restartPolicy": "Never",
        }},
    }


def analysis_run(cluster: Cluster, *, stage: str, freight: Freight, promotion: str, template: str,
                 started: datetime, finished: datetime | None, phase: str, namespace_arg: str,
                 message: str | None = None, job_name: str | None = None) -> dict:
    name = f"{stage}.{ulid(started, cluster.slug, 'ar', stage, freight.name)}.{freight.collection[:7]}"
    meta = cluster.meta(
        "AnalysisRun", name, PROJECT, started, finished or started,
        annotations={"kargo.akuity.io/promotion": promotion},
        generation=4 if finished else 2,
        labels={"kargo.akuity.io/freight-collection": freight.collection, "kargo.akuity.io/stage": stage},
        ownerReferences=[cluster.owner("kargo.akuity.io/v1alpha1", "Freight", PROJECT, freight.name,
                                       blockOwnerDeletion=False)],
    )
    if template == "qa-smoke":
        job_name = job_name or f"{meta['uid']}.integration-test.1"
        metrics = [{"name": "integration-test", "provider": {"job": {"spec": _integration_job_spec()}}}]
        results = [{
            "count": 1,
            "measurements": [{
                "finishedAt": ts(finished) if finished else None,
                "metadata": {"job-name": job_name, "job-namespace": PROJECT},
                "phase": phase,
                "startedAt": ts(started),
            }],
            "name": "integration-test", "phase": phase,
        }]
        results[0]["failed" if phase == "Failed" else "successful"] = 1
        summary = {"count": 1, "failed": 1} if phase == "Failed" else {"count": 1, "successful": 1}
    else:
        metrics = smoke_template(cluster, started)["spec"]["metrics"]
        results = [{
            "count": 3,
            "measurements": [{"finishedAt": ts(started + timedelta(seconds=10 * i + 1)), "phase": "Successful",
                              "startedAt": ts(started + timedelta(seconds=10 * i)), "value": "ok"}
                             for i in range(3)],
            "name": "healthz", "phase": "Successful", "successful": 3,
        }]
        summary = {"count": 1, "successful": 1}
    status: dict[str, Any] = {"dryRunSummary": {}, "metricResults": results, "phase": phase,
                              "runSummary": summary, "startedAt": ts(started)}
    if message:
        status["message"] = message
    if finished:
        status["completedAt"] = ts(finished)
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AnalysisRun",
        "metadata": meta,
        "spec": {"args": [{"name": "namespace", "value": namespace_arg}], "metrics": metrics},
        "status": status,
    }


def verification_info(cluster: Cluster, run: dict, phase: str, started: datetime,
                      finished: datetime | None, message: str | None = None) -> dict:
    info: dict[str, Any] = {
        "analysisRun": {"name": run["metadata"]["name"], "namespace": PROJECT, "phase": phase},
        "id": make_uid(cluster.slug, "verification", run["metadata"]["name"]),
        "phase": phase,
        "startTime": ts(started),
    }
    if finished:
        info["finishTime"] = ts(finished)
    if message:
        info["message"] = message
    return info


# ---------------------------------------------------------------- Argo CD objects


def appproject_obj(cluster: Cluster, created: datetime) -> dict:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AppProject",
        "metadata": cluster.meta("AppProject", "default", ARGOCD_NS, created, generation=1),
        "spec": {"clusterResourceWhitelist": [{"group": "*", "kind": "*"}],
                 "destinations": [{"namespace": "*", "server": "*"}], "sourceRepos": ["*"]},
        "status": {},
    }


def app_source(stage: str) -> dict:
    return {"path": ".", "repoURL": GITOPS_REPO, "targetRevision": f"stage/{stage}"}


def kargo_operation(promotion: str, actor: str | None = None) -> dict:
    return {
        "info": [{"name": "Reason", "value": "Promotion triggered a sync of this Application resource."},
                 {"name": "kargo.akuity.io/promotion", "value": promotion}],
        "initiatedBy": {"automated": True, "username": "kargo-controller"} if not actor
        else {"username": actor},
        "retry": {},
        "sync": {"syncOptions": ["CreateNamespace=true"]},
    }


def sync_result(cluster: Cluster, stage: str, revision: str, image_tag: str, resources: bool = True) -> dict:
    ns = f"guestbook-{stage}"
    result: dict[str, Any] = {"revision": revision, "source": app_source(stage)}
    if resources:
        result["resources"] = [
            {"group": "", "hookPhase": "Running", "kind": "Service", "message": "service/guestbook unchanged",
             "name": "guestbook", "namespace": ns, "status": "Synced", "syncPhase": "Sync", "version": "v1"},
            {"group": "apps", "hookPhase": "Running", "images": [f"{IMAGE_REPO}:{image_tag}"], "kind": "Deployment",
             "message": "deployment.apps/guestbook configured", "name": "guestbook", "namespace": ns,
             "status": "Synced", "syncPhase": "Sync", "version": "v1"},
        ]
    return result


def application_obj(cluster: Cluster, stage: str, *, created: datetime, generation: int, sync_status: str,
                    revision: str, health: str, health_changed: datetime, reconciled: datetime,
                    operation_state: dict | None, history: list[dict], image_tag: str,
                    conditions: list[dict] | None = None, operation: dict | None = None) -> dict:
    ns = f"guestbook-{stage}"
    persisted_health = cluster.argocd < (3, 0, 0)
    resources = [
        {"kind": "Service", "name": "guestbook", "namespace": ns, "status": "Synced", "version": "v1"},
        {"group": "apps", "kind": "Deployment", "name": "guestbook", "namespace": ns,
         "status": sync_status, "version": "v1"},
    ]
    if persisted_health:
        for res in resources:
            res["health"] = {"status": health}
    status: dict[str, Any] = {
        "controllerNamespace": ARGOCD_NS,
        "health": {"status": health},
        "history": history,
        "reconciledAt": ts(reconciled),
        "resources": resources,
        "sourceHydrator": {},
        "sourceType": "Kustomize",
        "summary": {"images": [f"{IMAGE_REPO}:{image_tag}"]},
        "sync": {"comparedTo": {"destination": {"namespace": ns, "server": IN_CLUSTER}, "source": app_source(stage)},
                 "revision": revision, "status": sync_status},
    }
    if cluster.argocd >= (2, 14, 0):
        status["health"]["lastTransitionTime"] = ts(health_changed)
    if not persisted_health:
        status["resourceHealthSource"] = "appTree"
    if operation_state:
        status["operationState"] = operation_state
    if conditions:
        status["conditions"] = conditions
    obj = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": cluster.meta(
            "Application", f"guestbook-{stage}", ARGOCD_NS, created, reconciled,
            annotations={"kargo.akuity.io/authorized-stage": f"{PROJECT}:{stage}", LAST_APPLIED: HIDDEN},
            finalizers=["resources-finalizer.argocd.argoproj.io"], generation=generation),
        "spec": {
            "destination": {"namespace": ns, "server": IN_CLUSTER},
            "project": "default",
            "source": app_source(stage),
            "syncPolicy": {"syncOptions": ["CreateNamespace=true"]},
        },
        "status": status,
    }
    if operation:
        obj["operation"] = operation
    return obj


def history_entry(stage: str, idx: int, revision: str, started: datetime, deployed: datetime,
                  actor: str = "kargo-controller", automated: bool = True) -> dict:
    initiated: dict[str, Any] = {"username": actor}
    if automated:
        initiated["automated"] = True
    return {"deployStartedAt": ts(started), "deployedAt": ts(deployed), "id": idx, "initiatedBy": initiated,
            "revision": revision, "source": app_source(stage)}


def succeeded_operation(cluster: Cluster, stage: str, promotion: str, revision: str, image_tag: str,
                        started: datetime, finished: datetime) -> dict:
    return {
        "finishedAt": ts(finished),
        "message": "successfully synced (all tasks run)",
        "operation": kargo_operation(promotion),
        "phase": "Succeeded",
        "startedAt": ts(started),
        "syncResult": sync_result(cluster, stage, revision, image_tag),
    }


# ---------------------------------------------------------------- logs


def kargo_log(cluster: Cluster, at: datetime, level: str, caller: str, msg: str,
              fields: list[tuple[str, Any]] | None = None) -> tuple[datetime, str]:
    """A zap console line (Kargo >= v1.8), with its kubectl --timestamps prefix."""
    line = f"{ts(at)}\t{level}\t{caller}\t{msg}"
    if fields:
        body = ",".join(f"{json.dumps(k)}:{json.dumps(v, separators=(',', ':'))}" for k, v in fields)
        line += "\t{" + body + "}"
    return at, line


def kargo_promotion_lines(cluster: Cluster, promotion: str, stage: str, freight: str, start: datetime,
                          end: datetime, phase: str, compact: bool = False) -> list[tuple[datetime, str]]:
    v11 = cluster.kargo >= (1, 11, 0)
    promo_go = 388 if v11 else 369
    done_go = 437 if v11 else 418
    upd = "builtin/argocd_updater.go"
    lines = {"exec": 165 if v11 else 161, "requires": 317 if v11 else 313, "not_require": 319 if v11 else 315,
             "kargo": 481 if v11 else 477, "complete": 517 if v11 else 513, "applied": 558 if v11 else 554,
             "done": 235 if v11 else 231, "notfor": 493 if v11 else 489, "canstart": 507 if v11 else 503}
    base = [("namespace", PROJECT), ("promotion", promotion), ("namespace", PROJECT), ("promotion", promotion),
            ("stage", stage), ("freight", freight)]
    app = [("app", f"guestbook-{stage}"), ("namespace", ARGOCD_NS)]
    step5 = end - timedelta(seconds=24) if phase == "Succeeded" else start + timedelta(seconds=22)
    out = [
        kargo_log(cluster, start, "INFO", f"promotions/promotions.go:{promo_go}", "began promotion", base),
        kargo_log(cluster, step5, "INFO", f"{upd}:{lines['exec']}", "executing argocd-update promotion step", base),
        kargo_log(cluster, step5, "INFO", f"{upd}:{lines['kargo']}", "current operation was initiated by Kargo",
                  base + app),
        kargo_log(cluster, step5, "INFO", f"{upd}:{lines['notfor']}",
                  "current operation was not initiated for this promotion", base + app),
        kargo_log(cluster, step5, "INFO", f"{upd}:{lines['canstart']}",
                  "current operation is complete; can start a new one", base + app),
        kargo_log(cluster, step5, "INFO", f"{upd}:{lines['requires']}", "Argo CD Application requires update",
                  base + app),
        kargo_log(cluster, end, "INFO", f"{upd}:{lines['exec']}", "executing argocd-update promotion step", base),
        kargo_log(cluster, end, "INFO", f"{upd}:{lines['kargo']}", "current operation was initiated by Kargo",
                  base + app),
        kargo_log(cluster, end, "INFO", f"{upd}:{lines['complete']}", "current operation is complete", base + app),
        kargo_log(cluster, end, "INFO", f"{upd}:{lines['applied']}", "desired revisions were observably applied",
                  base + app),
        kargo_log(cluster, end, "INFO", f"{upd}:{lines['not_require']}", "Argo CD Application does not require update",
                  base + app),
    ]
    if phase == "Succeeded":
        out.append(kargo_log(cluster, end, "INFO", f"{upd}:{lines['done']}", "done executing argocd-update promotion step",
                             base + [("status", "Succeeded")]))
    out.append(kargo_log(cluster, end, "INFO", f"promotions/promotions.go:{done_go}", "promotion",
                         base + [("phase", phase)]))
    if compact:
        keep = ("began promotion", "Argo CD Application requires update", "desired revisions were observably applied",
                "done executing argocd-update promotion step", "\tpromotion\t")
        out = [line for line in out if any(k in line[1] for k in keep)]
    return out


def logrus_value(value: Any) -> str:
    text = str(value)
    if text == "":
        return ""
    if re.fullmatch(r"[A-Za-z0-9\-._/@^+]+", text):
        return text
    return json.dumps(text, ensure_ascii=False)


def argocd_log(cluster: Cluster, at: datetime, level: str, msg: str, **fields: Any) -> tuple[datetime, str]:
    """An Argo CD log line: logrus text before v3.0, JSON from v3.0."""
    fields = {k.replace("_", "-") if k in ("app_namespace", "app_qualified_name", "dest_server",
                                           "dest_namespace", "dest_name", "comparison_level") else k: v
              for k, v in fields.items()}
    if cluster.argocd >= (3, 0, 0):
        record = dict(fields, level=level, msg=msg, time=ts(at))
        body = json.dumps(dict(sorted(record.items())), separators=(",", ":"), ensure_ascii=False)
        body = body.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    else:
        parts = [f'time="{ts(at)}"', f"level={level}", f"msg={logrus_value(msg)}"]
        parts += [f"{k}={logrus_value(v)}" for k, v in sorted(fields.items())]
        body = " ".join(parts)
    return at, body


def app_fields(cluster: Cluster, app: str) -> dict:
    fields: dict[str, Any] = {"application": app, "app_namespace": ARGOCD_NS, "project": "default"}
    if cluster.argocd < (3, 1, 0):
        fields["app_qualified_name"] = f"{ARGOCD_NS}/{app}"
    return fields


def controller_reconcile_lines(cluster: Cluster, app: str, at: datetime, level_cmp: int = 2) -> list:
    ns = app.replace("guestbook-", "guestbook-")
    fields = app_fields(cluster, app)
    period = "2m0s" if cluster.argocd >= (3, 0, 0) else "3m0s"
    out = [
        argocd_log(cluster, at, "info",
                   f"Refreshing app status (comparison expired, requesting refresh. reconciledAt: "
                   f"{(at - timedelta(seconds=139)).strftime('%Y-%m-%d %H:%M:%S +0000 UTC')}, expiry: {period}), "
                   f"level ({level_cmp})", **fields),
        argocd_log(cluster, at, "info", f"Comparing app state (cluster: {IN_CLUSTER}, namespace: {ns})", **fields),
        argocd_log(cluster, at + timedelta(seconds=1), "info", "Update successful", **fields),
        argocd_log(cluster, at + timedelta(seconds=1), "info", "Reconciliation completed", **dict(
            fields, comparison_level=level_cmp, dedup_ms=0, dest_name="", dest_namespace=ns, dest_server=IN_CLUSTER,
            diff_ms=3, git_ms=41, health_ms=1, live_ms=2, patch_ms=0, setop_ms=0, settings_ms=0, sync_ms=0,
            time_ms=58)),
    ]
    return out


def repo_server_call(cluster: Cluster, at: datetime, code: str = "OK", ms: float = 12.5) -> tuple:
    if cluster.argocd >= (3, 0, 0):
        return argocd_log(cluster, at, "info", "finished call", **{
            "grpc.code": code, "grpc.component": "server", "grpc.method": "GenerateManifest",
            "grpc.method_type": "unary", "grpc.service": "repository.RepoServerService",
            "grpc.start_time": ts(at), "grpc.time_ms": f"{ms:.3f}",
            "peer.address": f"{pod_ip(cluster, 'argocd-application-controller-0')}:{40000 + int(ms * 37) % 20000}",
            "protocol": "grpc"})
    return argocd_log(cluster, at, "info", f"finished unary call with code {code}", **{
        "grpc.code": code, "grpc.method": "GenerateManifest", "grpc.service": "repository.RepoServerService",
        "grpc.start_time": ts(at), "grpc.time_ms": f"{ms:.3f}", "span.kind": "server", "system": "grpc"})


def add_log(cluster: Cluster, namespace: str, pod: str, container: str, lines: list[tuple[datetime, str]],
            previous: bool = False) -> None:
    """Store a container log as ``kubectl logs --timestamps`` prints it."""
    ordered = []
    last_second = None
    nanos = 0
    for at, body in sorted(lines, key=lambda x: x[0]):
        if at != last_second:
            last_second = at
            nanos = int(digest("ns", cluster.slug, pod, ts(at))[:6], 16) % 400_000_000
        else:
            nanos += 1_000_000 + int(digest("step", body)[:6], 16) % 90_000_000
        frac = f"{min(nanos, 999_999_999):09d}".rstrip("0")
        stamp = at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S") + (f".{frac}" if frac else "") + "Z"
        ordered.append(f"{stamp} {body}")
    assert len(ordered) <= 40, f"log {pod}/{container} has {len(ordered)} lines"
    suffix = "-previous" if previous else ""
    cluster.logs[f"cluster-resources/pods/logs/{namespace}/{pod}/{container}{suffix}.log"] = ordered


# ---------------------------------------------------------------- views


def table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = []
    for row in rows:
        cells = [cell.ljust(widths[i] + 3) if i < len(row) - 1 else cell for i, cell in enumerate(row)]
        out.append("".join(cells).rstrip())
    return "\n".join(out) + "\n"


def write_views(cluster: Cluster) -> None:
    base = "cluster-resources/custom-resources"
    stages = cluster.files.get(f"{base}/stages.kargo.akuity.io/{PROJECT}.json", [])
    rows = [["NAME", "SHARD", "CURRENT FREIGHT", "HEALTH", "READY", "STATUS", "AGE"]]
    for s in sorted(stages, key=lambda o: o["metadata"]["name"]):
        ready = next((c for c in s["status"].get("conditions", []) if c["type"] == "Ready"), {})
        created = datetime.strptime(s["metadata"]["creationTimestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        rows.append([s["metadata"]["name"], "", s["status"].get("freightSummary", ""),
                     s["status"].get("health", {}).get("status", ""), ready.get("status", ""),
                     ready.get("message", ""), human_age(cluster.collected_at - created)])
    cluster.views["views/stages.txt"] = table(rows)
    promos = cluster.files.get(f"{base}/promotions.kargo.akuity.io/{PROJECT}.json", [])
    rows = [["NAME", "SHARD", "STAGE", "FREIGHT", "PHASE", "AGE"]]
    for p in sorted(promos, key=lambda o: o["metadata"]["name"]):
        created = datetime.strptime(p["metadata"]["creationTimestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        rows.append([p["metadata"]["name"], "", p["spec"]["stage"], p["spec"]["freight"], p["status"]["phase"],
                     human_age(cluster.collected_at - created)])
    cluster.views["views/promotions.txt"] = table(rows)
    apps = cluster.files.get(f"{base}/applications.argoproj.io/{ARGOCD_NS}.json", [])
    rows = [["NAME", "SYNC STATUS", "HEALTH STATUS", "REVISION", "PROJECT"]]
    for a in sorted(apps, key=lambda o: o["metadata"]["name"]):
        rows.append([a["metadata"]["name"], a["status"]["sync"]["status"], a["status"]["health"]["status"],
                     a["status"]["sync"].get("revision", ""), a["spec"]["project"]])
    cluster.views["views/applications.txt"] = table(rows)


# ---------------------------------------------------------------- bundle writing


def _argv_for(rel: str) -> tuple[str, list[str]]:
    """The command id and kubectl argv that produced a collected file."""
    parts = rel.split("/")
    timeout = "--request-timeout=20s"
    if parts[1] == "custom-resources":
        if len(parts) == 4:
            resource, ns = parts[2], parts[3].removesuffix(".json")
            return f"{resource}/{ns}", ["kubectl", "get", resource, "-n", ns, "-o", "json", timeout]
        resource = parts[2].removesuffix(".json")
        return resource, ["kubectl", "get", resource, "-o", "json", timeout]
    if parts[1] == "pods" and parts[2] == "logs":
        ns, pod, file = parts[3], parts[4], parts[5]
        container = file.removesuffix(".log")
        argv = ["kubectl", "logs", "-n", ns, pod, "-c", container.removesuffix("-previous"), "--timestamps",
                "--since=24h"]
        if container.endswith("-previous"):
            argv.insert(-2, "--previous")
        return f"logs/{ns}/{pod}/{container}", argv
    if len(parts) == 3:
        resource, ns = parts[1], parts[2].removesuffix(".json")
        return f"{resource}/{ns}", ["kubectl", "get", resource, "-n", ns, "-o", "json", timeout]
    resource = parts[1].removesuffix(".json")
    return resource, ["kubectl", "get", resource, "-o", "json", timeout]


VIEW_ARGV = {
    "views/stages.txt": ["kubectl", "get", "stages.kargo.akuity.io", "-n", PROJECT, "-o", "wide"],
    "views/promotions.txt": ["kubectl", "get", "promotions.kargo.akuity.io", "-n", PROJECT, "-o", "wide"],
    "views/applications.txt": ["kubectl", "get", "applications.argoproj.io", "-n", ARGOCD_NS, "-o", "wide"],
}


def render_bundle(cluster: Cluster) -> dict[str, bytes]:
    """Every file of the bundle (manifest last), as bytes."""
    contents: dict[str, bytes] = {}
    for rel, objects in cluster.files.items():
        ordered = sorted(objects, key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"]))
        contents[rel] = kubectl_json(kube_list(ordered))
    for rel, lines in cluster.logs.items():
        contents[rel] = "".join(line + "\n" for line in lines).encode()
    write_views(cluster)
    for rel, text in cluster.views.items():
        contents[rel] = text.encode()
    config = {
        "kargo_namespace": PROJECT,
        "kargo_controller_namespace": KARGO_NS,
        "argocd_namespace": ARGOCD_NS,
        "argocd_controller_namespace": ARGOCD_NS,
        "app_namespace": cluster.app_namespace,
        "domain": "example.com",
        "kargo_project": PROJECT,
        "monitoring_namespace": "monitoring",
        "warehouse_name": WAREHOUSE,
    }
    contents["config.yaml"] = yaml.safe_dump(config, sort_keys=False).encode()

    commands = []
    order = sorted(r for r in contents if r != "config.yaml")
    start = cluster.collected_at
    gap_ids = {g["id"]: g for g in cluster.gaps}
    entries: list[tuple[str, dict]] = []
    for rel in order:
        if rel.startswith("views/"):
            cmd_id, argv = "view/" + rel.removeprefix("views/").removesuffix(".txt"), VIEW_ARGV[rel]
        elif rel in cluster.commands:
            cmd_id, argv = cluster.commands[rel]
        else:
            cmd_id, argv = _argv_for(rel)
        entries.append((cmd_id, {"argv": argv, "output": rel}))
    for gap in cluster.gaps:
        entries.append((gap["id"], {"argv": gap["argv"], "output": None}))
    entries.sort(key=lambda e: e[0])
    for i, (cmd_id, entry) in enumerate(entries):
        offset = (i * 7) % 10
        began = start + timedelta(seconds=offset)
        rel = entry["output"]
        data = contents[rel] if rel else b""
        duration = 1 if len(data) < 60000 else 2
        record: dict[str, Any] = {
            "id": cmd_id,
            "argv": entry["argv"],
            "output": rel,
            "started_at": ts(began),
            "finished_at": ts(began + timedelta(seconds=duration)),
            "exit_code": 0,
            "stderr": "",
            "bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest() if rel else None,
        }
        if cmd_id in gap_ids:
            record["exit_code"] = gap_ids[cmd_id]["exit_code"]
            record["stderr"] = gap_ids[cmd_id]["stderr"]
        commands.append(record)
    redactions = sum(
        1
        for objects in cluster.files.values()
        for obj in objects
        if (obj.get("metadata", {}).get("annotations") or {}).get(LAST_APPLIED) == HIDDEN
    )
    manifest = {
        "format": "gitops-bundle/v1",
        "collector": {"name": "collector.sh", "version": "0.1.0"},
        "collected_at": ts(cluster.collected_at),
        "finished_at": ts(cluster.collected_at + timedelta(seconds=13)),
        "complete": True,
        "kubectl": {"client": {"gitVersion": "v1.31.2"}, "server": {"gitVersion": "v1.30.4"}},
        "config": {
            "kargo_namespace": {"value": PROJECT, "source": "discovered"},
            "kargo_controller_namespace": {"value": KARGO_NS, "source": "discovered"},
            "argocd_namespace": {"value": ARGOCD_NS, "source": "discovered"},
            "argocd_controller_namespace": {"value": ARGOCD_NS, "source": "discovered"},
            "app_namespace": {"value": cluster.app_namespace, "source": "discovered"},
            "domain": {"value": "example.com", "source": "discovered"},
            "kargo_project": {"value": PROJECT, "source": "discovered"},
            "monitoring_namespace": {"value": "monitoring", "source": "default"},
            "warehouse_name": {"value": WAREHOUSE, "source": "discovered"},
        },
        "redaction": {
            "enabled": True,
            "rules": ["secret-values", "last-applied-configuration", "env-secret-names", "url-credentials",
                      "bearer-tokens", "private-keys"],
            "counts": {"last-applied-configuration": redactions} if redactions else {},
        },
        "commands": commands,
    }
    contents["manifest.json"] = (json.dumps(manifest, indent=2) + "\n").encode()
    return dict(sorted(contents.items()))


def write_dir(root: Path, contents: dict[str, bytes]) -> None:
    for rel, data in contents.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def write_tarball(path: Path, top: str, contents: dict[str, bytes], mtime: datetime) -> None:
    """A byte-reproducible .tar.gz holding one top-level directory."""
    raw = io.BytesIO()
    stamp = int(mtime.timestamp())
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as tar:
        dirs = sorted({"/".join(rel.split("/")[:i]) for rel in contents for i in range(1, rel.count("/") + 1)})
        for member in [""] + dirs:
            info = tarfile.TarInfo(f"{top}/{member}".rstrip("/"))
            info.type = tarfile.DIRTYPE
            info.mode = 0o755
            info.mtime = stamp
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            tar.addfile(info)
        for rel, data in contents.items():
            info = tarfile.TarInfo(f"{top}/{rel}")
            info.size = len(data)
            info.mode = 0o644
            info.mtime = stamp
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            tar.addfile(info, io.BytesIO(data))
    compressed = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=compressed, mtime=0, compresslevel=9) as gz:
        gz.write(raw.getvalue())
    path.write_bytes(compressed.getvalue())


def write_expected(path: Path, description: str, findings: list[tuple], must_not: list[tuple]) -> None:
    def item(entry: tuple) -> dict:
        fid, kind, namespace, name = entry
        return {"id": fid, "subject": {"kind": kind, "namespace": namespace, "name": name}}

    doc = {"description": description, "findings": [item(f) for f in findings],
           "must_not": [item(m) for m in must_not]}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2) + "\n")


# ---------------------------------------------------------------- pipeline simulation


def go_duration(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"


def parse_ts(value: str) -> datetime:
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


@dataclass
class PromoRecord:
    stage: str
    freight: Freight
    name: str
    created: datetime
    finished: datetime | None
    phase: str
    obj: dict
    commit: str
    recorded: bool
    actor: str | None
    synced: bool  # its argocd-update step completed a sync
    verification: dict | None = None
    run: dict | None = None


class StageSim:
    """A Stage's promotions, verifications and the resulting status."""

    def __init__(self, cluster: Cluster, name: str, upstream: str | None, created: datetime,
                 template: str = "guestbook-smoke", soak: str | None = None, auto: bool = True):
        self.cluster = cluster
        self.name = name
        self.upstream = upstream
        self.created = created
        self.template = template
        self.soak = soak
        self.auto = auto
        self.promos: list[PromoRecord] = []

    def promote(self, freight: Freight, created: datetime, *, phase: str = "Succeeded", name: str | None = None,
                actor: str | None = None, recorded: bool = True, verify: str | None = "Successful",
                steps: list[tuple] | None = None, message: str | None = None,
                verify_times: tuple[datetime, datetime] | None = None, synced: bool | None = None,
                run_message: str | None = None, job_name: str | None = None) -> PromoRecord:
        cl = self.cluster
        name = name or f"{self.name}.{ulid(created, cl.slug, 'promo', self.name, freight.name)}.{freight.short}"
        steps = steps or succeeded_steps(created + timedelta(seconds=1))
        finished = max(step[1] for step in steps if step[1]) if phase != "Running" else None
        commit = gitops_commit(cl, name)
        obj = promotion_obj(cl, stage=self.name, name=name, freight=freight, created=created, phase=phase,
                            finished=finished, step_times=steps, message=message, actor=actor,
                            generated=name.count(".") == 2 and len(name.split(".")[1]) == 26,
                            running_step=4 if phase == "Running" else None, app_commit=commit)
        rec = PromoRecord(self.name, freight, name, created, finished, phase, obj, commit, recorded, actor,
                          synced if synced is not None else phase in ("Succeeded", "Running"))
        if phase == "Succeeded" and recorded and verify:
            start, end = verify_times or (finished + timedelta(seconds=44), finished + timedelta(seconds=75))
            run = analysis_run(cl, stage=self.name, freight=freight, promotion=name, template=self.template,
                               started=start, finished=end if verify != "Running" else None, phase=verify,
                               namespace_arg=f"guestbook-{self.name}", message=run_message, job_name=job_name)
            rec.run = run
            rec.verification = verification_info(cl, run, verify, start, end if verify != "Running" else None,
                                                 run_message)
        self.promos.append(rec)
        return rec

    # -- derived state
    def recorded(self) -> list[PromoRecord]:
        return [p for p in self.promos if p.recorded and p.finished is not None]

    def history(self) -> list[PromoRecord]:
        return [p for p in reversed(self.recorded()) if p.phase == "Succeeded"][:10]

    def current(self) -> PromoRecord | None:
        hist = self.history()
        return hist[0] if hist else None

    def last_synced(self) -> PromoRecord | None:
        synced = [p for p in self.promos if p.synced]
        return synced[-1] if synced else None

    def since(self, rec: PromoRecord) -> datetime:
        assert rec.finished is not None
        return rec.finished + timedelta(seconds=1)

    def verification(self) -> dict | None:
        if not self.template:
            return None
        return {"analysisTemplates": [{"name": self.template}],
                "args": [{"name": "namespace", "value": f"guestbook-{self.name}"}]}

    def promotion_ref(self, rec: PromoRecord) -> dict:
        return {"finishedAt": ts(rec.finished), "freight": rec.freight.ref(), "name": rec.name,
                "status": json.loads(json.dumps(rec.obj["status"]))}

    def freight_history(self) -> list[dict]:
        return [p.freight.collection_obj([p.verification] if p.verification else [])
                if p.verification else p.freight.collection_obj()
                for p in self.history()]

    def status(self, generation: int, app: dict, *, conditions: list[dict] | None = None,
               health: dict | None = None, ready_since: datetime | None = None) -> dict:
        cl = self.cluster
        last = self.recorded()[-1]
        current = self.current()
        status: dict[str, Any] = {
            "freightHistory": self.freight_history(),
            "freightSummary": current.freight.name if current else "0/1 Fulfilled",
            "lastPromotion": self.promotion_ref(last),
        }
        if cl.kargo >= (1, 7, 0):
            status["autoPromotionEnabled"] = self.auto
        if conditions is None:
            conditions, health, _ready = self.default_conditions(generation, app, last, current)
        # Set when the Stage was last Ready; its spec has not changed since.
        status["observedGeneration"] = generation
        status["conditions"] = conditions
        if health is not None:
            status["health"] = health
        return status

    def healthy_output(self, app: dict) -> dict:
        return {"output": [argocd_health_output(self.cluster, dict(app["status"], _name=app["metadata"]["name"]))],
                "status": "Healthy"}

    def default_conditions(self, generation: int, app: dict, last: PromoRecord,
                           current: PromoRecord | None) -> tuple[list[dict], dict, bool]:
        assert last.finished is not None
        if last.phase != "Succeeded":
            at = last.finished + timedelta(seconds=1)
            verified_at = parse_ts(current.verification["finishTime"]) if current and current.verification else at
            conds = [
                condition("Ready", "False", f"LastPromotion{last.phase}", last.obj["status"]["message"], at, generation),
                condition("Healthy", "Unknown", f"LastPromotion{last.phase}",
                          "Cannot assess health because last Promotion did not succeed", at, generation),
                condition("Verified", "True", "Verified", "Freight has been verified", verified_at, generation),
            ]
            health = {"issues": ["Cannot assess health because last Promotion did not succeed"], "status": "Unknown"}
            return conds, health, False
        assert current is not None and current.verification is not None
        healthy_at = last.finished + timedelta(seconds=4)
        verified_at = parse_ts(current.verification["finishTime"])
        conds = [
            condition("Ready", "True", "Verified", "Freight has been verified", verified_at, generation),
            condition("Healthy", "True", "Healthy", "Stage is healthy (performed 1 health checks)", healthy_at,
                      generation),
            condition("Verified", "True", "Verified", "Freight has been verified", verified_at, generation),
        ]
        return conds, self.healthy_output(app), True


def freight_statuses(cluster: Cluster, freights: list[Freight], sims: list[StageSim]) -> dict[str, dict]:
    out: dict[str, dict] = {f.name: {} for f in freights}
    for sim in sims:
        hist = list(reversed(sim.history()))  # oldest first
        for i, rec in enumerate(hist):
            st = out[rec.freight.name]
            leaving = hist[i + 1] if i + 1 < len(hist) else None
            if leaving is None:
                st.setdefault("currentlyIn", {})[sim.name] = {"since": ts(sim.since(rec))}
            if rec.verification and rec.verification["phase"] == "Successful":
                entry: dict[str, Any] = {"verifiedAt": rec.verification["finishTime"]}
                if leaving is not None:
                    entry["longestSoak"] = go_duration(sim.since(leaving) - sim.since(rec))
                st.setdefault("verifiedIn", {})[sim.name] = entry
    return out


def app_for(cluster: Cluster, sim: StageSim, *, created: datetime, reconciled: datetime,
            operation_state: dict | None = None, sync_status: str = "Synced", revision: str | None = None,
            health: str = "Healthy", conditions: list[dict] | None = None, operation: dict | None = None,
            extra_history: list[dict] | None = None) -> dict:
    synced = [p for p in sim.promos if p.synced and p.finished is not None]
    history = []
    for idx, rec in enumerate(synced[-10:], start=max(1, len(synced) - 9)):
        started = rec.finished - timedelta(seconds=21)
        actor = rec.actor or "kargo-controller"
        history.append(history_entry(sim.name, idx, rec.commit, started, rec.finished - timedelta(seconds=2),
                                     actor=actor, automated=rec.actor is None))
    history.extend(extra_history or [])
    last = synced[-1]
    if operation_state is None:
        op = succeeded_operation(cluster, sim.name, last.name, last.commit, last.freight.tag,
                                 last.finished - timedelta(seconds=22), last.finished - timedelta(seconds=2))
        if last.actor:
            op["operation"] = kargo_operation(last.name, last.actor)
        operation_state = op
    generation = 40 + 37 * len(sim.promos) + int(digest("gen", cluster.slug, sim.name)[:2], 16)
    health_changed = last.finished - timedelta(seconds=1)
    return application_obj(
        cluster, sim.name, created=created, generation=generation, sync_status=sync_status,
        revision=revision or last.commit, health=health, health_changed=health_changed, reconciled=reconciled,
        operation_state=operation_state, history=history, image_tag=last.freight.tag, conditions=conditions,
        operation=operation,
    )


def app_workload_for(cluster: Cluster, sim: StageSim, ns_created: datetime) -> Workload:
    synced = [p for p in sim.promos if p.synced and p.finished is not None]
    last = synced[-1]
    workload = app_namespace_objects(cluster, sim.name, last.freight.tag, last.finished - timedelta(seconds=12),
                                     ns_created, len(synced))
    ns = f"guestbook-{sim.name}"
    if len(synced) > 1:
        previous = synced[-2]
        old = old_replicaset(cluster, ns, workload, previous.freight.tag, len(synced) - 1,
                             previous.finished - timedelta(seconds=12), last.finished - timedelta(seconds=4))
        cluster.add(f"cluster-resources/replicasets/{ns}.json", old)
    return workload


def old_replicaset(cluster: Cluster, namespace: str, current: Workload, tag: str, revision: int,
                   created: datetime, scaled_down: datetime) -> dict:
    assert current.replicaset is not None
    rs = json.loads(json.dumps(current.replicaset))
    template_hash = safe_suffix(10, cluster.slug, namespace, "guestbook", revision)
    name = f"guestbook-{template_hash}"
    rs["metadata"] = cluster.meta(
        "ReplicaSet", name, namespace, created, scaled_down,
        annotations={"deployment.kubernetes.io/desired-replicas": "1", "deployment.kubernetes.io/max-replicas": "2",
                     "deployment.kubernetes.io/revision": str(revision)},
        generation=2, labels=dict(rs["metadata"]["labels"], **{"pod-template-hash": template_hash}),
        ownerReferences=rs["metadata"]["ownerReferences"],
    )
    rs["spec"]["replicas"] = 0
    rs["spec"]["selector"]["matchLabels"]["pod-template-hash"] = template_hash
    rs["spec"]["template"]["metadata"]["labels"]["pod-template-hash"] = template_hash
    rs["spec"]["template"]["spec"]["containers"][0]["image"] = f"{IMAGE_REPO}:{tag}"
    rs["status"] = {"observedGeneration": 2, "replicas": 0}
    return rs


def install_base(cluster: Cluster, *, kargo_installed: datetime, argocd_installed: datetime,
                 project_created: datetime, repo_server_ip: str, kargo_restart: dict | None = None,
                 repo_server_restart: dict | None = None) -> dict[str, Workload]:
    """Namespaces, nodes, the Kargo and Argo CD control planes, the AppProject."""
    namespaces = [
        namespace_obj(cluster, "default", CLUSTER_BORN),
        namespace_obj(cluster, "kube-node-lease", CLUSTER_BORN),
        namespace_obj(cluster, "kube-public", CLUSTER_BORN),
        namespace_obj(cluster, "kube-system", CLUSTER_BORN),
        namespace_obj(cluster, ARGOCD_NS, argocd_installed - timedelta(minutes=1)),
        namespace_obj(cluster, KARGO_NS, kargo_installed - timedelta(minutes=1)),
        namespace_obj(cluster, "argo-rollouts", kargo_installed - timedelta(minutes=20)),
        namespace_obj(cluster, "support", kargo_installed + timedelta(days=3)),
        namespace_obj(cluster, PROJECT, project_created + timedelta(seconds=1),
                      labels={"kargo.akuity.io/project": "true"}, finalizers=["kargo.akuity.io/finalizer"]),
    ]
    if cluster.kargo >= (1, 6, 0):
        namespaces.append(namespace_obj(cluster, "kargo-cluster-secrets", kargo_installed))
    if cluster.kargo >= (1, 9, 0):
        namespaces.append(namespace_obj(cluster, "kargo-shared-resources", kargo_installed))
        namespaces.append(namespace_obj(cluster, "kargo-system-resources", kargo_installed))
    for stage in cluster.stages:
        namespaces.append(namespace_obj(cluster, f"guestbook-{stage}", project_created + timedelta(minutes=20)))
    cluster.add("cluster-resources/namespaces.json", *namespaces)
    cluster.add("cluster-resources/nodes.json", *(node_obj(cluster, n) for n in NODES))

    kargo = kargo_workloads(cluster, kargo_installed, kargo_restart)
    argo = argocd_workloads(cluster, argocd_installed, repo_server_restart)
    add_workloads(cluster, KARGO_NS, kargo)
    add_workloads(cluster, ARGOCD_NS, argo)
    control_plane_services(cluster, kargo_installed, argocd_installed, repo_server_ip)
    cluster.add(f"cluster-resources/custom-resources/appprojects.argoproj.io/{ARGOCD_NS}.json",
                appproject_obj(cluster, argocd_installed + timedelta(seconds=20)))
    for ns in (KARGO_NS, ARGOCD_NS, PROJECT):
        cluster.touch(f"cluster-resources/events/{ns}.json")
    cluster.touch(f"cluster-resources/pods/{PROJECT}.json")
    cluster.touch(f"cluster-resources/jobs/{PROJECT}.json")
    return {w.controller["metadata"]["name"]: w for w in kargo + argo}


def add_pipeline(cluster: Cluster, sims: list[StageSim], freights: list[Freight], *, warehouse_created: datetime,
                 statuses: dict[str, dict], generations: dict[str, int], apps: dict[str, dict],
                 templates: list[dict]) -> None:
    base = "cluster-resources/custom-resources"
    for sim in sims:
        cluster.add(f"{base}/stages.kargo.akuity.io/{PROJECT}.json", stage_obj(
            cluster, sim.name, created=sim.created, upstream=sim.upstream, generation=generations[sim.name],
            status=statuses[sim.name], verification=sim.verification(), soak=sim.soak,
            annotations={"kargo.akuity.io/argocd-context":
                         json.dumps([{"name": f"guestbook-{sim.name}", "namespace": ARGOCD_NS}],
                                    separators=(",", ":"))}))
        for rec in sim.promos:
            cluster.add(f"{base}/promotions.kargo.akuity.io/{PROJECT}.json", rec.obj)
            if rec.run:
                cluster.add(f"{base}/analysisruns.argoproj.io/{PROJECT}.json", rec.run)
        cluster.add(f"{base}/applications.argoproj.io/{ARGOCD_NS}.json", apps[sim.name])
    fstatus = freight_statuses(cluster, freights, sims)
    for f in freights:
        cluster.add(f"{base}/freights.kargo.akuity.io/{PROJECT}.json", freight_obj(cluster, f, fstatus[f.name]))
    cluster.add(f"{base}/warehouses.kargo.akuity.io/{PROJECT}.json",
                warehouse_obj(cluster, warehouse_created, freights, cluster.ago(minutes=3, seconds=12)))
    for template in templates:
        cluster.add(f"{base}/analysistemplates.argoproj.io/{PROJECT}.json", template)
    cluster.touch(f"{base}/analysisruns.argoproj.io/{PROJECT}.json")


def argocd_routine_logs(cluster: Cluster, apps: list[str], end: datetime, cycles: int = 2,
                        skip: int = 0) -> tuple[list, list]:
    """Periodic refreshes: application-controller lines and the repo-server calls they make."""
    ctrl: list = []
    repo: list = []
    period = 150 if cluster.argocd >= (3, 0, 0) else 180
    for cycle in range(cycles):
        for i, app in enumerate(apps):
            at = end - timedelta(seconds=period * cycle + 23 * i + 7)
            if at <= end - timedelta(seconds=skip) or skip == 0:
                ctrl += controller_reconcile_lines(cluster, app, at)
                repo.append(repo_server_call(cluster, at, ms=9.5 + 3.1 * i + cycle))
    return ctrl, repo


# ---------------------------------------------------------------- scenario 1


def scenario_poisoned(out: Path) -> None:
    C = datetime(2026, 11, 20, 3, 12, 45, tzinfo=UTC)
    cl = Cluster("poisoned-promotion", C, "1.10.2", "3.0.6", ["dev", "staging", "prod"], "guestbook-prod")
    project_created = C - timedelta(days=41, hours=3)
    install_base(cl, kargo_installed=C - timedelta(days=48), argocd_installed=C - timedelta(days=63),
                 project_created=project_created, repo_server_ip="10.96.142.17")
    f0 = make_freight(cl, "v1.3.2", "lucky-marmot", C - timedelta(days=20, hours=2), "Fix pagination of guestbook entries")
    f1 = make_freight(cl, "v1.4.0", "crimson-otter", C - timedelta(days=9, hours=1), "Add entry moderation")
    f2 = make_freight(cl, "v1.5.0", "tidy-heron", C - timedelta(days=3, hours=4), "Switch storage to Redis 7")
    f3 = make_freight(cl, "v1.5.1", "brave-lynx", C - timedelta(hours=26, minutes=12), "Retry Redis connection on startup")
    f4 = make_freight(cl, "v1.5.2", "quiet-walrus", C - timedelta(hours=7, minutes=4), "Bump base image to alpine 3.20")
    freights = [f0, f1, f2, f3, f4]
    dev = StageSim(cl, "dev", None, project_created + timedelta(minutes=5))
    staging = StageSim(cl, "staging", "dev", project_created + timedelta(minutes=5))
    prod = StageSim(cl, "prod", "staging", project_created + timedelta(minutes=5))
    for f in freights:
        t = f.created + timedelta(minutes=1)
        dev.promote(f, t)
        staging.promote(f, t + timedelta(minutes=3))
    # prod was promoted by hand in the UI until auto-promotion was switched on, right after the hotfix attempt.
    prod.promote(f0, f0.created + timedelta(hours=2), actor="email:admin@example.com")
    prod.promote(f1, f1.created + timedelta(hours=3), actor="email:admin@example.com")
    # The hand-made Promotion: kubectl-created, name outside Kargo's scheme, push fails.
    hotfix_at = C - timedelta(days=2, minutes=17)
    push_error = ('step "step-4" met error threshold of 1: error pushing commits to remote: '
                  "error pushing branch: non-fast-forward")
    hot_steps = [
        (hotfix_at + timedelta(seconds=1), hotfix_at + timedelta(seconds=4), "Succeeded", None, 0),
        (hotfix_at + timedelta(seconds=4), hotfix_at + timedelta(seconds=5), "Succeeded", None, 0),
        (hotfix_at + timedelta(seconds=5), hotfix_at + timedelta(seconds=6), "Succeeded", None, 0),
        (hotfix_at + timedelta(seconds=6), hotfix_at + timedelta(seconds=58), "Errored", push_error, 1),
        (None, None, "Skipped", None, 0),
    ]
    prod.promote(f2, hotfix_at, name="prod.hotfix-manual", actor="kubernetes:admin@example.com", phase="Errored",
                 steps=hot_steps, message=push_error, verify=None, synced=False)
    # Auto-promotions after it run and succeed, but the Stage never records them.
    prod.promote(f3, f3.created + timedelta(minutes=55), recorded=False, verify=None)
    prod.promote(f4, f4.created + timedelta(minutes=44), recorded=False, verify=None)

    apps = {}
    for sim, minutes in ((dev, 1), (staging, 2), (prod, 1)):
        apps[sim.name] = app_for(cl, sim, created=project_created + timedelta(minutes=25),
                                 reconciled=C - timedelta(minutes=minutes, seconds=13))
        app_workload_for(cl, sim, project_created + timedelta(minutes=20))
    generations = {"dev": 3, "staging": 3, "prod": 4}
    statuses = {sim.name: sim.status(generations[sim.name], apps[sim.name]) for sim in (dev, staging, prod)}
    project_objects(cl, project_created, 3, 2, {"dev": True, "staging": True, "prod": True},
                    config_updated=hotfix_at + timedelta(minutes=9), config_generation=2)
    add_pipeline(cl, [dev, staging, prod], freights, warehouse_created=project_created + timedelta(minutes=2),
                 statuses=statuses, generations=generations, apps=apps,
                 templates=[smoke_template(cl, project_created + timedelta(minutes=3))])

    # Logs: the last 24 hours hold the v1.5.2 promotions of all three stages.
    kargo_pod = find_pod(cl, KARGO_NS, "kargo-controller")
    lines = []
    for sim in (dev, staging, prod):
        rec = [p for p in sim.promos if p.freight is f4][0]
        lines += kargo_promotion_lines(cl, rec.name, sim.name, f4.name, rec.created + timedelta(seconds=1),
                                       rec.finished, "Succeeded")
    add_log(cl, KARGO_NS, kargo_pod, "controller", lines[:39])
    ctrl, repo = argocd_routine_logs(cl, ["guestbook-dev", "guestbook-prod", "guestbook-staging"],
                                     C - timedelta(seconds=20))
    add_log(cl, ARGOCD_NS, "argocd-application-controller-0", "argocd-application-controller", ctrl)
    add_log(cl, ARGOCD_NS, find_pod(cl, ARGOCD_NS, "argocd-repo-server"), "argocd-repo-server", repo)

    write_dir(out / "poisoned-promotion", render_bundle(cl))
    write_expected(
        out / "poisoned-promotion" / "expected.json",
        "Stage prod looks stuck on v1.4.0 (Freight crimson-otter) although two later auto-promotions to prod "
        "(v1.5.1 and v1.5.2) Succeeded and the guestbook-prod Application already runs v1.5.2. Two days before "
        "collection someone created the Promotion 'prod.hotfix-manual' with kubectl (create-actor "
        "kubernetes:admin@example.com); Kargo v1.10 kept the hand-chosen name. It Errored on git-push "
        "(non-fast-forward), and because its name sorts after every generated '<stage>.<ulid>.<freight>' name, "
        "the Stage's name-ordered replay stops at it: status.lastPromotion still names it, freightHistory[0] "
        "still holds crimson-otter, and Ready=False/LastPromotionErrored repeats the old push error. The push "
        "error is a symptom of that old Promotion, not the current fault. A correct diagnosis names the "
        "poisoned Promotion and recommends deleting it (kubectl delete promotion prod.hotfix-manual -n "
        "kargo-demo) so the Stage replays the newer Promotions, and upgrading to Kargo v1.11+, whose webhook "
        "renames every new Promotion.",
        [("stage-poisoned-promotion", "Stage", PROJECT, "prod")],
        [("promotion-step-failed", "Stage", PROJECT, "prod"), ("git-step-failed", "Stage", PROJECT, "prod"),
         ("stage-no-freight", "Stage", PROJECT, "prod")],
    )


def find_pod(cluster: Cluster, namespace: str, prefix: str) -> str:
    for pod in cluster.files[f"cluster-resources/pods/{namespace}.json"]:
        name = pod["metadata"]["name"]
        if name.startswith(prefix + "-") and name[len(prefix) + 1:].count("-") == 1:
            return name
    raise KeyError(prefix)



def kargo_event(cluster: Cluster, *, reason: str, message: str, at: datetime, component: str,
                promotion: dict | None = None, freight: Freight | None = None, stage: str | None = None,
                actor: str | None = None, extra: dict | None = None) -> dict:
    """A Kubernetes Event recorded by a Kargo controller (always type Normal)."""
    annotations: dict[str, str] = {
        "event.kargo.akuity.io/actor": actor or f"controller:{component}",
        "event.kargo.akuity.io/project": PROJECT,
    }
    if freight:
        commits = [{"repoURL": SOURCE_REPO, "id": freight.commit, "branch": "main", "message": freight.message,
                    "author": "Dana Whitfield <dana@example.com>", "committer": "GitHub <noreply@github.com>"}]
        images = [{"repoURL": IMAGE_REPO, "tag": freight.tag, "digest": freight.image_digest}]
        annotations.update({
            "event.kargo.akuity.io/freight-alias": freight.alias,
            "event.kargo.akuity.io/freight-commits": json.dumps(commits, separators=(",", ":")),
            "event.kargo.akuity.io/freight-create-time": ts(freight.created),
            "event.kargo.akuity.io/freight-images": json.dumps(images, separators=(",", ":")),
            "event.kargo.akuity.io/freight-name": freight.name,
            "event.kargo.akuity.io/freight-warehouse-name": WAREHOUSE,
        })
    if stage:
        annotations["event.kargo.akuity.io/stage-name"] = stage
    if promotion:
        meta = promotion["metadata"]
        annotations.update({
            "event.kargo.akuity.io/applications": json.dumps(
                [{"Namespace": ARGOCD_NS, "Name": f"guestbook-{promotion['spec']['stage']}"}], separators=(",", ":")),
            "event.kargo.akuity.io/promotion-create-time": meta["creationTimestamp"],
            "event.kargo.akuity.io/promotion-name": meta["name"],
            "event.kargo.akuity.io/stage-name": promotion["spec"]["stage"],
        })
    annotations.update(extra or {})
    target = promotion or {
        "apiVersion": "kargo.akuity.io/v1alpha1", "kind": "Freight",
        "metadata": {"name": freight.name, "namespace": PROJECT, "resourceVersion":  # type: ignore[union-attr]
                     cluster.rv(at, "Freight", freight.name), "uid": cluster.uid("Freight", PROJECT, freight.name)}}
    return event_obj(cluster, PROJECT, involved(target), reason, message, at, component=component,
                     reporting=component, annotations=annotations)


def argocd_app_event(cluster: Cluster, app: dict, reason: str, message: str, at: datetime,
                     type_: str = "Normal", user: str | None = None) -> dict:
    ns = app["spec"]["destination"]["namespace"]
    annotations = {"dest-namespace": ns, "dest-server": IN_CLUSTER}
    component = "argocd-application-controller"
    if user:
        annotations = {"user": user}
        component = user
    return event_obj(cluster, ARGOCD_NS, involved(app), reason, message, at, type_=type_, component=component,
                     annotations=annotations)


# ---------------------------------------------------------------- scenario 2


REFUSED = ('rpc error: code = Unavailable desc = connection error: desc = "transport: Error while dialing: '
           'dial tcp 10.96.142.17:8081: connect: connection refused"')
COMPARISON_ERROR = "ComparisonError: Failed to load target state: failed to generate manifest for source 1 of 1: " + REFUSED


def scenario_repo_server_refused(out: Path) -> None:
    C = datetime(2026, 11, 18, 14, 27, 31, tzinfo=UTC)
    cl = Cluster("repo-server-refused", C, "1.11.2", "2.14.11", ["dev", "staging"], "guestbook-staging")
    project_created = C - timedelta(days=34, hours=5)
    crash = C - timedelta(seconds=575)
    ready = C - timedelta(seconds=541)
    control = install_base(
        cl, kargo_installed=C - timedelta(days=37), argocd_installed=C - timedelta(days=52),
        project_created=project_created, repo_server_ip="10.96.142.17",
        repo_server_restart={"reason": "Error", "exitCode": 2, "finishedAt": crash, "readyAt": ready})
    f1 = make_freight(cl, "v2.3.0", "gentle-kestrel", C - timedelta(days=12, hours=2), "Render entries server-side")
    f2 = make_freight(cl, "v2.4.0", "amber-badger", C - timedelta(hours=72, minutes=12), "Add rate limiting to POST /entries")
    dev = StageSim(cl, "dev", None, project_created + timedelta(minutes=4))
    staging = StageSim(cl, "staging", "dev", project_created + timedelta(minutes=4), soak="72h")
    d1 = dev.promote(f1, f1.created + timedelta(minutes=1))
    staging.promote(f1, d1.finished + timedelta(hours=72, minutes=1))
    dev.promote(f2, C - timedelta(hours=72, minutes=10, seconds=58))
    failure = 'step "step-5" met error threshold of 1: Argo CD Application "guestbook-staging" in namespace ' \
              f'"argocd" failed with: {COMPARISON_ERROR}'
    promo_at = C - timedelta(seconds=625)
    steps = [
        (C - timedelta(seconds=624), C - timedelta(seconds=600), "Succeeded", None, 0),
        (C - timedelta(seconds=600), C - timedelta(seconds=599), "Succeeded", None, 0),
        (C - timedelta(seconds=599), C - timedelta(seconds=598), "Succeeded", None, 0),
        (C - timedelta(seconds=598), C - timedelta(seconds=571), "Succeeded", None, 0),
        (C - timedelta(seconds=570), C - timedelta(seconds=540), "Errored", failure, 1),
    ]
    bad = staging.promote(f2, promo_at, phase="Errored", steps=steps, message=failure, verify=None, synced=False)

    # guestbook-dev: Synced and Healthy now; its last operation is a hand-started sync of a feature-branch
    # commit that an admission webhook refused, three days ago.
    experiment = sha1_hex("repo-server-refused/feature/drop-limits")
    kyverno = ('admission webhook "validate.kyverno.svc-fail" denied the request: \n\nresource '
               "Deployment/guestbook-dev/guestbook was blocked due to the following policies \n\n"
               "require-requests-limits:\n  validate-resources: 'validation error: CPU and memory resource "
               "requests and limits are required. rule validate-resources failed at path "
               "/spec/template/spec/containers/0/resources/limits/'\n")
    manual_start = C - timedelta(hours=71, minutes=56, seconds=40)
    manual_end = C - timedelta(hours=71, minutes=56, seconds=31)
    manual_op = {
        "finishedAt": ts(manual_end),
        "message": "one or more synchronization tasks completed unsuccessfully, reason: " + kyverno,
        "operation": {"initiatedBy": {"username": "alice@example.com"}, "retry": {},
                      "sync": {"revision": experiment, "syncOptions": ["CreateNamespace=true"],
                               "syncStrategy": {"hook": {}}}},
        "phase": "Failed",
        "startedAt": ts(manual_start),
        "syncResult": {
            "resources": [
                {"group": "", "hookPhase": "Running", "kind": "Service", "message": "service/guestbook unchanged",
                 "name": "guestbook", "namespace": "guestbook-dev", "status": "Synced", "syncPhase": "Sync",
                 "version": "v1"},
                {"group": "apps", "hookPhase": "Failed", "kind": "Deployment", "message": kyverno,
                 "name": "guestbook", "namespace": "guestbook-dev", "status": "SyncFailed", "syncPhase": "Sync",
                 "version": "v1"},
            ],
            "revision": experiment,
            "source": app_source("dev"),
        },
    }
    error_op = {
        "finishedAt": ts(C - timedelta(seconds=540)),
        "message": COMPARISON_ERROR,
        "operation": kargo_operation(bad.name),
        "phase": "Error",
        "startedAt": ts(C - timedelta(seconds=541)),
        "syncResult": {"revision": bad.commit, "source": app_source("staging")},
    }
    apps = {
        "dev": app_for(cl, dev, created=project_created + timedelta(minutes=24), reconciled=C - timedelta(seconds=124),
                       operation_state=manual_op),
        "staging": app_for(cl, staging, created=project_created + timedelta(minutes=24),
                           reconciled=C - timedelta(seconds=60), operation_state=error_op, sync_status="OutOfSync",
                           revision=bad.commit),
    }
    for sim in (dev, staging):
        app_workload_for(cl, sim, project_created + timedelta(minutes=20))
    generations = {"dev": 2, "staging": 3}
    statuses = {sim.name: sim.status(generations[sim.name], apps[sim.name]) for sim in (dev, staging)}
    project_objects(cl, project_created, 2, 1, {"dev": True, "staging": True})
    add_pipeline(cl, [dev, staging], [f1, f2], warehouse_created=project_created + timedelta(minutes=2),
                 statuses=statuses, generations=generations, apps=apps,
                 templates=[smoke_template(cl, project_created + timedelta(minutes=3))])
    cl.gaps.append({
        "id": f"secrets/{PROJECT}",
        "argv": ["kubectl", "get", "secrets", "-n", PROJECT, "-o", "json", "--request-timeout=20s"],
        "exit_code": 1,
        "stderr": f'Error from server (Forbidden): secrets is forbidden: User "{COLLECTOR_SA}" cannot list '
                  f'resource "secrets" in API group "" in the namespace "{PROJECT}"',
    })

    # Events of the last hour.
    repo = control["argocd-repo-server"].pod
    repo_ip = repo["status"]["podIP"]
    cl.add(f"cluster-resources/events/{ARGOCD_NS}.json",
           *pod_start_events(cl, repo, "argocd-repo-server", argocd_image(cl), crash + timedelta(seconds=1)),
           event_obj(cl, ARGOCD_NS, involved(repo, "spec.containers{argocd-repo-server}"), "Unhealthy",
                     f'Readiness probe failed: Get "http://{repo_ip}:8084/healthz": dial tcp {repo_ip}:8084: '
                     "connect: connection refused", crash + timedelta(seconds=7), ready - timedelta(seconds=7),
                     count=3, type_="Warning", component="kubelet", host=repo["spec"]["nodeName"],
                     reporting="kubelet"),
           argocd_app_event(cl, apps["staging"], "OperationStarted", "kargo-controller initiated sync to stage/staging",
                            C - timedelta(seconds=570), user="kargo-controller"),
           argocd_app_event(cl, apps["staging"], "ResourceUpdated", "Updated sync status: Synced -> Unknown",
                            C - timedelta(seconds=569)),
           argocd_app_event(cl, apps["staging"], "OperationCompleted",
                            f"Sync operation to {bad.commit} failed: {COMPARISON_ERROR}", C - timedelta(seconds=540),
                            type_="Warning"),
           argocd_app_event(cl, apps["staging"], "ResourceUpdated", "Updated sync status: Unknown -> OutOfSync",
                            C - timedelta(seconds=539)))
    cl.add(f"cluster-resources/events/{PROJECT}.json",
           kargo_event(cl, reason="PromotionCreated", at=promo_at, component="stage-controller", promotion=bad.obj,
                       freight=f2,
                       message=f'Automatically promoted Freight from origin "Warehouse/{WAREHOUSE}" for Stage "staging"'),
           kargo_event(cl, reason="PromotionErrored", at=C - timedelta(seconds=540), component="promotion-controller",
                       promotion=bad.obj, freight=f2, message=f"Promotion Errored: {failure}"))

    # Logs.
    base = [("namespace", PROJECT), ("promotion", bad.name), ("namespace", PROJECT), ("promotion", bad.name),
            ("stage", "staging"), ("freight", f2.name)]
    app_kv = [("app", "guestbook-staging"), ("namespace", ARGOCD_NS)]
    upd = "builtin/argocd_updater.go"
    step5, end = C - timedelta(seconds=570), C - timedelta(seconds=540)
    kargo_lines = [
        kargo_log(cl, C - timedelta(seconds=624), "INFO", "promotions/promotions.go:388", "began promotion", base),
        kargo_log(cl, step5, "INFO", f"{upd}:165", "executing argocd-update promotion step", base),
        kargo_log(cl, step5, "INFO", f"{upd}:481", "current operation was initiated by Kargo", base + app_kv),
        kargo_log(cl, step5, "INFO", f"{upd}:493", "current operation was not initiated for this promotion",
                  base + app_kv),
        kargo_log(cl, step5, "INFO", f"{upd}:507", "current operation is complete; can start a new one", base + app_kv),
        kargo_log(cl, step5, "INFO", f"{upd}:317", "Argo CD Application requires update", base + app_kv),
        kargo_log(cl, end, "INFO", f"{upd}:165", "executing argocd-update promotion step", base),
        kargo_log(cl, end, "INFO", f"{upd}:481", "current operation was initiated by Kargo", base + app_kv),
        kargo_log(cl, end, "INFO", f"{upd}:517", "current operation is complete", base + app_kv),
        kargo_log(cl, end, "INFO", f"{upd}:535", "desired revisions were specified for some sources", base + app_kv),
        kargo_log(cl, end, "INFO", f"{upd}:558", "desired revisions were observably applied", base + app_kv),
        kargo_log(cl, end, "INFO", f"{upd}:319", "Argo CD Application does not require update", base + app_kv),
        kargo_log(cl, end, "INFO", "promotions/promotions.go:437", "promotion", base + [("phase", "Errored")]),
    ]
    add_log(cl, KARGO_NS, find_pod(cl, KARGO_NS, "kargo-controller"), "controller", kargo_lines)

    sf = app_fields(cl, "guestbook-staging")
    dest = {"dest_namespace": "guestbook-staging", "dest_server": IN_CLUSTER}
    timings = dict(dedup_ms=0, dest_name="", diff_ms=0, git_ms=0, health_ms=1, live_ms=1, patch_ms=21, setop_ms=0,
                   settings_ms=0, sync_ms=0)
    ctrl = [
        argocd_log(cl, C - timedelta(seconds=569), "info", "Refreshing app status (hard refresh requested), level (3)",
                   **sf),
        argocd_log(cl, C - timedelta(seconds=569), "info",
                   f"Comparing app state (cluster: {IN_CLUSTER}, namespace: guestbook-staging)", **sf),
        argocd_log(cl, C - timedelta(seconds=569), "info", "Updated sync status: Synced -> Unknown",
                   **sf, **dest, reason="ResourceUpdated", type="Normal"),
        argocd_log(cl, C - timedelta(seconds=569), "info", "Reconciliation completed",
                   **sf, **dest, **timings, comparison_level=3, time_ms=47),
        argocd_log(cl, C - timedelta(seconds=540), "info", "updated 'guestbook-staging' operation (phase: Error)",
                   **sf),
        argocd_log(cl, C - timedelta(seconds=540), "info", f"Sync operation to {bad.commit} failed: {COMPARISON_ERROR}",
                   **sf, **dest, reason="OperationCompleted", type="Warning"),
        argocd_log(cl, C - timedelta(seconds=539), "info",
                   "Refreshing app status (controller refresh requested), level (2)", **sf),
        argocd_log(cl, C - timedelta(seconds=539), "info",
                   f"Comparing app state (cluster: {IN_CLUSTER}, namespace: guestbook-staging)", **sf),
        argocd_log(cl, C - timedelta(seconds=538), "info", "Updated sync status: Unknown -> OutOfSync",
                   **sf, **dest, reason="ResourceUpdated", type="Normal"),
        argocd_log(cl, C - timedelta(seconds=538), "info", "Reconciliation completed",
                   **sf, **dest, **dict(timings, git_ms=812), comparison_level=2, time_ms=871),
    ]
    repo_lines = [repo_server_call(cl, C - timedelta(seconds=541), ms=905.2),
                  repo_server_call(cl, C - timedelta(seconds=539), ms=790.4)]
    for app, times in (("guestbook-dev", (424, 244, 124)), ("guestbook-staging", (360, 180, 60))):
        for sec in times:
            at = C - timedelta(seconds=sec)
            ctrl += controller_reconcile_lines(cl, app, at)
            repo_lines.append(repo_server_call(cl, at, ms=11.0 + sec % 7))
    add_log(cl, ARGOCD_NS, "argocd-application-controller-0", "argocd-application-controller", ctrl)
    start = crash + timedelta(seconds=1)
    boot = [
        argocd_log(cl, start, "info", "ArgoCD Repository Server is starting", built="2025-06-30T14:21:07Z",
                   commit="1f0eed2c2d3b1e3d6c8f0f4d0b9a7ee2c1b2a3d4", port=8081, version="v2.14.11+1f0eed2"),
        argocd_log(cl, start, "info", "Generating self-signed gRPC TLS certificate for this session"),
        argocd_log(cl, start, "info", "Initializing GnuPG keyring at /app/config/gpg/keys"),
        argocd_log(cl, start + timedelta(seconds=1), "info",
                   "gpg --no-permission-warning --logger-fd 1 --batch --gen-key /tmp/gpg-key-recipe1437526041",
                   dir="", execID="b2f7c"),
        argocd_log(cl, ready - timedelta(seconds=2), "info",
                   "Populating GnuPG keyring with keys from /app/config/gpg/source"),
        argocd_log(cl, ready - timedelta(seconds=2), "info", "gpg --no-permission-warning --list-public-keys",
                   dir="", execID="4kq9d"),
        argocd_log(cl, ready - timedelta(seconds=2), "info", "Loaded 0 (and removed 0) keys from keyring"),
        argocd_log(cl, ready - timedelta(seconds=1), "info", "argocd-repo-server is listening on [::]:8081"),
        argocd_log(cl, ready - timedelta(seconds=1), "info",
                   "Starting GPG sync watcher on directory '/app/config/gpg/source'"),
        argocd_log(cl, ready, "info", "git fetch origin --tags --force --prune",
                   dir="/tmp/_argocd-repo/6c1e8d0b-5b0e-4f7e-9a43-2b1f3c9d7e55", execID="m8r2x"),
    ]
    add_log(cl, ARGOCD_NS, repo["metadata"]["name"], "argocd-repo-server", boot + repo_lines)
    previous = [repo_server_call(cl, crash - timedelta(seconds=s), ms=12.0 + s % 5) for s in (352, 187, 21)]
    previous += [(crash, "fatal error: concurrent map read and map write"), (crash, ""),
                 (crash, "goroutine 48213 [running]:"),
                 (crash, "runtime.fatal({0x3b1c8e2?, 0x0?})"),
                 (crash, "\t/usr/local/go/src/runtime/panic.go:1088 +0x4c fp=0xc002b7f2a8 sp=0xc002b7f278 "
                         "pc=0x4711ec"),
                 (crash, "runtime.mapaccess2_faststr(0x3a09e40, 0xc000b6e2d0, {0xc003a1c0c0, 0x41})"),
                 (crash, "\t/usr/local/go/src/runtime/map_faststr.go:117 +0x3d4 fp=0xc002b7f310 sp=0xc002b7f2a8 "
                         "pc=0x4147d4")]
    add_log(cl, ARGOCD_NS, repo["metadata"]["name"], "argocd-repo-server", previous, previous=True)

    top = f"gitops-bundle-{C.strftime('%Y%m%dT%H%M%SZ')}"
    write_tarball(out / "repo-server-refused.tar.gz", top, render_bundle(cl), C + timedelta(seconds=13))
    write_expected(
        out / "repo-server-refused.expected.json",
        "Stage staging is not Ready: its auto-promotion of v2.4.0 (Freight amber-badger) Errored 9 minutes before "
        "collection in step-5 (argocd-update) because Argo CD could not reach the repo-server: the Application's "
        "last operation ended in phase Error with 'ComparisonError: Failed to load target state: ... rpc error: "
        "code = Unavailable ... dial tcp 10.96.142.17:8081: connect: connection refused'. The argocd-repo-server "
        "container had crashed (exit code 2) about 10 minutes before collection and was restarting, so the "
        "Service had no ready endpoint when the hard refresh ran. It has recovered since (Ready, no Application "
        "conditions left), so the fix is to re-run the promotion, and to find out why the repo-server crashed "
        "(its previous log). guestbook-dev is a distractor: Synced and Healthy now, but its operationState still "
        "shows a hand-started sync of a feature-branch commit that an admission webhook refused about three "
        "days ago; that is stale, informational only. The collector could not list Secrets in kargo-demo "
        "(Forbidden), which must be reported as a collection gap, not as 'no secrets'. Secondary finding: "
        "auto-promotion is on for staging, amber-badger is the newest Freight verified upstream and is not yet on "
        "staging, and on Kargo v1.11 auto-promotion does not retry a Freight whose newest terminal Promotion to the "
        "Stage did not succeed, so staging stays on gentle-kestrel until someone promotes amber-badger (a warning, "
        "ranked below the repo-server cause).",
        [("argocd-repo-server-unreachable", "Stage", PROJECT, "staging"),
         ("auto-promotion-blocked", "Stage", PROJECT, "staging"),
         ("argocd-stale-operation-state", "Application", ARGOCD_NS, "guestbook-dev"),
         ("collection-gap", "Secret", PROJECT, "*")],
        [("promotion-step-failed", "Stage", PROJECT, "staging"),
         ("argocd-sync-failed", "Application", ARGOCD_NS, "guestbook-dev"),
         ("argocd-sync-failed", "Application", ARGOCD_NS, "guestbook-staging"),
         ("controller-down", "Pod", ARGOCD_NS, repo["metadata"]["name"])],
    )



def scheduled_event(cluster: Cluster, pod: dict, at: datetime) -> dict:
    """The scheduler's Scheduled event (events.k8s.io shape, as kubectl shows it)."""
    ns = pod["metadata"]["namespace"]
    name = f"{pod['metadata']['name']}.{int(at.timestamp()) * 1_000_000_000 + 12_345_678:x}"
    micro = at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{int(digest('micro', name)[:5], 16) % 1_000_000:06d}Z"
    return {
        "action": "Binding",
        "apiVersion": "v1",
        "eventTime": micro,
        "firstTimestamp": None,
        "involvedObject": involved(pod),
        "kind": "Event",
        "lastTimestamp": None,
        "message": f"Successfully assigned {ns}/{pod['metadata']['name']} to {pod['spec']['nodeName']}",
        "metadata": cluster.meta("Event", name, ns, at),
        "reason": "Scheduled",
        "reportingComponent": "default-scheduler",
        "reportingInstance": "default-scheduler-k8s-cp-01",
        "source": {},
        "type": "Normal",
    }


def controller_event(cluster: Cluster, obj: dict, reason: str, message: str, at: datetime, component: str,
                     type_: str = "Normal") -> dict:
    return event_obj(cluster, obj["metadata"]["namespace"], involved(obj), reason, message, at, type_=type_,
                     component=component, reporting=component)


def rollout_events(cluster: Cluster, workload: Workload, old_rs: dict, at: datetime) -> list[dict]:
    """Events of a Deployment rolling one new pod and removing the old one."""
    dep, rs, pod = workload.controller, workload.replicaset, workload.pod
    assert rs is not None
    old_pod_name = f"{old_rs['metadata']['name']}-{safe_suffix(5, cluster.slug, 'old', old_rs['metadata']['name'])}"
    old_pod_ref = {"apiVersion": "v1", "kind": "Pod", "name": old_pod_name, "namespace": dep["metadata"]["namespace"],
                   "resourceVersion": cluster.rv(at, "oldpod", old_pod_name),
                   "uid": cluster.uid("Pod", dep["metadata"]["namespace"], old_pod_name)}
    ns = dep["metadata"]["namespace"]
    image = pod["spec"]["containers"][0]["image"]
    events = [
        controller_event(cluster, dep, "ScalingReplicaSet", f"Scaled up replica set {rs['metadata']['name']} from 0 to 1",
                         at, "deployment-controller"),
        controller_event(cluster, rs, "SuccessfulCreate", f"Created pod: {pod['metadata']['name']}", at,
                         "replicaset-controller"),
        scheduled_event(cluster, pod, at),
        event_obj(cluster, ns, involved(pod, "spec.containers{guestbook}"), "Pulling",
                  f'Pulling image "{image}"', at + timedelta(seconds=1), component="kubelet",
                  host=pod["spec"]["nodeName"], reporting="kubelet"),
        *pod_start_events(cluster, pod, "guestbook", image, at + timedelta(seconds=4), pulled_from_cache=False),
        controller_event(cluster, dep, "ScalingReplicaSet",
                         f"Scaled down replica set {old_rs['metadata']['name']} from 1 to 0", at + timedelta(seconds=8),
                         "deployment-controller"),
        controller_event(cluster, old_rs, "SuccessfulDelete", f"Deleted pod: {old_pod_name}",
                         at + timedelta(seconds=8), "replicaset-controller"),
        event_obj(cluster, ns, dict(old_pod_ref, fieldPath="spec.containers{guestbook}"), "Killing",
                  "Stopping container guestbook", at + timedelta(seconds=8), component="kubelet",
                  host=node_for(cluster, old_pod_name), reporting="kubelet"),
    ]
    return events


def app_sync_events(cluster: Cluster, app: dict, rec: PromoRecord) -> list[dict]:
    assert rec.finished is not None
    start = rec.finished - timedelta(seconds=24)
    return [
        argocd_app_event(cluster, app, "OperationStarted", f"kargo-controller initiated sync to stage/{rec.stage}",
                         start, user="kargo-controller"),
        argocd_app_event(cluster, app, "ResourceUpdated", "Updated sync status: Synced -> OutOfSync",
                         start + timedelta(seconds=1)),
        argocd_app_event(cluster, app, "OperationCompleted", f"Sync operation to {rec.commit} succeeded",
                         rec.finished - timedelta(seconds=2)),
        argocd_app_event(cluster, app, "ResourceUpdated", "Updated sync status: OutOfSync -> Synced",
                         rec.finished - timedelta(seconds=1)),
        argocd_app_event(cluster, app, "ResourceUpdated", "Updated health status: Healthy -> Progressing",
                         rec.finished - timedelta(seconds=1)),
        argocd_app_event(cluster, app, "ResourceUpdated", "Updated health status: Progressing -> Healthy",
                         rec.finished + timedelta(seconds=3)),
    ]


def verification_job(cluster: Cluster, run: dict, started: datetime, failed: datetime) -> tuple[dict, dict]:
    job_name = run["status"]["metricResults"][0]["measurements"][0]["metadata"]["job-name"]
    job_uid = cluster.uid("Job", PROJECT, job_name)
    pod_labels = {"batch.kubernetes.io/controller-uid": job_uid, "batch.kubernetes.io/job-name": job_name,
                  "controller-uid": job_uid, "job-name": job_name}
    container = container_spec("integration-test", "ghcr.io/example-org/guestbook-e2e:v1",
                               args=["--target", "http://guestbook.guestbook-qa.svc.cluster.local", "--suite", "smoke"])
    template_spec = {"containers": [container], "dnsPolicy": "ClusterFirst",
                     "restartPolicy": "Never", "schedulerName": "default-scheduler", "securityContext": {},
                     "terminationGracePeriodSeconds": 30}
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": cluster.meta(
            "Job", job_name, PROJECT, started, failed + timedelta(seconds=1),
            annotations={"analysisrun.argoproj.io/metric-name": "integration-test",
                         "analysisrun.argoproj.io/name": run["metadata"]["name"]},
            generation=1, labels={"analysisrun.argoproj.io/uid": run["metadata"]["uid"]},
            ownerReferences=[cluster.owner("argoproj.io/v1alpha1", "AnalysisRun", PROJECT, run["metadata"]["name"],
                                           blockOwnerDeletion=True, controller=True)]),
        "spec": {
            "backoffLimit": 0,
            "completionMode": "NonIndexed",
            "completions": 1,
            "parallelism": 1,
            "podReplacementPolicy": "TerminatingOrFailed",
            "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": job_uid}},
            "suspend": False,
            "template": {"metadata": {"creationTimestamp": None, "labels": pod_labels}, "spec": template_spec},
        },
        "status": {
            "conditions": [{"lastProbeTime": ts(failed + timedelta(seconds=1)),
                            "lastTransitionTime": ts(failed + timedelta(seconds=1)),
                            "message": "Job has reached the specified backoff limit", "reason": "BackoffLimitExceeded",
                            "status": "True", "type": "Failed"}],
            "failed": 1,
            "ready": 0,
            "startTime": ts(started),
            "terminating": 0,
            "uncountedTerminatedPods": {},
        },
    }
    pod_name = f"{job_name}-{safe_suffix(5, cluster.slug, job_name)}"
    run_state = ContainerRun(started=started + timedelta(seconds=5), ready=False,
                             terminated={"exitCode": 1, "reason": "Error", "finishedAt": failed})
    pod = pod_obj(cluster, PROJECT, pod_name, pod_labels, started, [container], {"integration-test": run_state},
                  cluster.owner("batch/v1", "Job", PROJECT, job_name, blockOwnerDeletion=True, controller=True),
                  restart_policy="Never", generate_name=f"{job_name}-")
    return job, pod


# ---------------------------------------------------------------- scenario 3


def scenario_verification_failed(out: Path) -> None:
    C = datetime(2026, 11, 21, 9, 41, 18, tzinfo=UTC)
    cl = Cluster("verification-failed", C, "1.11.2", "3.1.8", ["dev", "qa"], "guestbook-qa")
    project_created = C - timedelta(days=22, hours=7)
    install_base(cl, kargo_installed=C - timedelta(days=25), argocd_installed=C - timedelta(days=29),
                 project_created=project_created, repo_server_ip="10.96.142.17")
    f1 = make_freight(cl, "v3.0.0", "steady-falcon", C - timedelta(days=6, hours=3), "Release 3.0: new entry form")
    f2 = make_freight(cl, "v3.1.0", "mellow-yak", C - timedelta(minutes=23), "Paginate POST /api/entries responses")
    dev = StageSim(cl, "dev", None, project_created + timedelta(minutes=6))
    qa = StageSim(cl, "qa", "dev", project_created + timedelta(minutes=6), template="qa-smoke")
    d1 = dev.promote(f1, f1.created + timedelta(minutes=1))
    qa.promote(f1, d1.finished + timedelta(minutes=2), verify_times=(d1.finished + timedelta(minutes=3),
                                                                      d1.finished + timedelta(minutes=5)))
    d2 = dev.promote(f2, C - timedelta(minutes=22, seconds=35),
                     verify_times=(C - timedelta(minutes=21, seconds=20), C - timedelta(minutes=20, seconds=49)))
    message = 'Metric "integration-test" assessed Failed due to failed (1) > failureLimit (0)'
    run_start, run_end = C - timedelta(minutes=20, seconds=4), C - timedelta(minutes=18, seconds=27)
    q2 = qa.promote(f2, C - timedelta(minutes=20, seconds=45), verify="Failed", verify_times=(run_start, run_end),
                    run_message=message)
    apps = {sim.name: app_for(cl, sim, created=project_created + timedelta(minutes=26),
                              reconciled=C - timedelta(seconds=secs))
            for sim, secs in ((dev, 83), (qa, 41))}
    workloads = {sim.name: app_workload_for(cl, sim, project_created + timedelta(minutes=20)) for sim in (dev, qa)}
    generations = {"dev": 2, "qa": 2}
    statuses = {"dev": dev.status(2, apps["dev"])}
    healthy_at = q2.finished + timedelta(seconds=8)
    statuses["qa"] = qa.status(2, apps["qa"], conditions=[
        condition("Ready", "False", "VerificationFailed", message, q2.created, 2),
        condition("Healthy", "True", "Healthy", "Stage is healthy (performed 1 health checks)", healthy_at, 2),
        condition("Verified", "False", "VerificationFailed", message, run_end + timedelta(seconds=1), 2),
    ], health=qa.healthy_output(apps["qa"]))
    project_objects(cl, project_created, 2, 2, {"dev": True, "qa": True})
    add_pipeline(cl, [dev, qa], [f1, f2], warehouse_created=project_created + timedelta(minutes=2),
                 statuses=statuses, generations=generations, apps=apps,
                 templates=[smoke_template(cl, project_created + timedelta(minutes=3)),
                            qa_smoke_template(cl, project_created + timedelta(minutes=3))])

    # The verification Job and its failed pod.
    assert q2.run is not None
    job_failed = run_end - timedelta(seconds=3)
    job, pod = verification_job(cl, q2.run, run_start + timedelta(seconds=1), job_failed - timedelta(seconds=1))
    cl.add(f"cluster-resources/jobs/{PROJECT}.json", job)
    cl.add(f"cluster-resources/pods/{PROJECT}.json", pod)
    # Jobs of earlier verifications were garbage-collected with their runs' measurements; only this one is left.
    test_start = run_start + timedelta(seconds=6)
    add_log(cl, PROJECT, pod["metadata"]["name"], "integration-test", [
        (test_start, "guestbook-e2e v1.6.2, suite=smoke, target=http://guestbook.guestbook-qa.svc.cluster.local"),
        (test_start + timedelta(seconds=1), "PASS  GET  /healthz              200   4ms"),
        (test_start + timedelta(seconds=1), "PASS  GET  /                     200  38ms"),
        (test_start + timedelta(seconds=2), "PASS  GET  /api/entries?page=1   200  61ms"),
        (job_failed - timedelta(seconds=3), "FAIL  POST /api/entries          500 30012ms"),
        (job_failed - timedelta(seconds=3), '      expected status 201, got 500: {"error":"upstream request timeout"}'),
        (job_failed - timedelta(seconds=2), "3 passed, 1 failed"),
    ])

    # Events of the last hour.
    events_kd = [
        kargo_event(cl, reason="PromotionCreated", at=d2.created, component="stage-controller", promotion=d2.obj,
                    freight=f2, message=f'Automatically promoted Freight from origin "Warehouse/{WAREHOUSE}" for '
                                        'Stage "dev"'),
        kargo_event(cl, reason="PromotionSucceeded", at=d2.finished, component="promotion-controller", promotion=d2.obj,
                    freight=f2, message="Promotion Succeeded",
                    extra={"event.kargo.akuity.io/verification-pending": "true"}),
        kargo_event(cl, reason="PromotionCreated", at=q2.created, component="stage-controller", promotion=q2.obj,
                    freight=f2, message=f'Automatically promoted Freight from origin "Warehouse/{WAREHOUSE}" for '
                                        'Stage "qa"'),
        kargo_event(cl, reason="PromotionSucceeded", at=q2.finished, component="promotion-controller", promotion=q2.obj,
                    freight=f2, message="Promotion Succeeded",
                    extra={"event.kargo.akuity.io/verification-pending": "true"}),
        kargo_event(cl, reason="FreightVerificationFailed", at=run_end + timedelta(seconds=1),
                    component="stage-controller", freight=f2, stage="qa", message=message,
                    extra={"event.kargo.akuity.io/analysis-run-name": q2.run["metadata"]["name"],
                           "event.kargo.akuity.io/verification-finish-time": ts(run_end),
                           "event.kargo.akuity.io/verification-start-time": ts(run_start)}),
        controller_event(cl, job, "SuccessfulCreate", f"Created pod: {pod['metadata']['name']}",
                         run_start + timedelta(seconds=1), "job-controller"),
        scheduled_event(cl, pod, run_start + timedelta(seconds=1)),
        *pod_start_events(cl, pod, "integration-test", "ghcr.io/example-org/guestbook-e2e:v1",
                          run_start + timedelta(seconds=5)),
        controller_event(cl, job, "BackoffLimitExceeded", "Job has reached the specified backoff limit", job_failed,
                         "job-controller", type_="Warning"),
    ]
    cl.add(f"cluster-resources/events/{PROJECT}.json", *events_kd)
    for sim, rec in ((dev, d2), (qa, q2)):
        ns = f"guestbook-{sim.name}"
        old = [r for r in cl.files[f"cluster-resources/replicasets/{ns}.json"]
               if r["metadata"]["name"] != workloads[sim.name].replicaset["metadata"]["name"]][0]
        cl.add(f"cluster-resources/events/{ns}.json",
               *rollout_events(cl, workloads[sim.name], old, rec.finished - timedelta(seconds=12)))
        cl.add(f"cluster-resources/events/{ARGOCD_NS}.json", *app_sync_events(cl, apps[sim.name], rec))

    # Logs.
    lines = []
    for sim, rec in ((dev, d2), (qa, q2)):
        lines += kargo_promotion_lines(cl, rec.name, sim.name, f2.name, rec.created + timedelta(seconds=1),
                                       rec.finished, "Succeeded")
    add_log(cl, KARGO_NS, find_pod(cl, KARGO_NS, "kargo-controller"), "controller", lines)
    ctrl, repo = argocd_routine_logs(cl, ["guestbook-dev", "guestbook-qa"], C - timedelta(seconds=41), cycles=3)
    add_log(cl, ARGOCD_NS, "argocd-application-controller-0", "argocd-application-controller", ctrl)
    add_log(cl, ARGOCD_NS, find_pod(cl, ARGOCD_NS, "argocd-repo-server"), "argocd-repo-server", repo)

    write_dir(out / "verification-failed", render_bundle(cl))
    write_expected(
        out / "verification-failed" / "expected.json",
        "Stage qa received v3.1.0 (Freight mellow-yak) 20 minutes before collection; the Promotion Succeeded and "
        "the guestbook-qa Application is Synced and Healthy, so the Stage is Healthy. Its verification then "
        "failed: the AnalysisRun spawned from AnalysisTemplate qa-smoke ran the Job metric 'integration-test', "
        "whose pod exited 1 (POST /api/entries returned 500), and the run ended Failed with 'Metric "
        "\"integration-test\" assessed Failed due to failed (1) > failureLimit (0)'. Verified=False/"
        "VerificationFailed, and Ready=False copies it. A correct diagnosis is a failed verification (the "
        "application itself regressed), pointing at the AnalysisRun, the Job and its log; it is not an RBAC "
        "problem, not an error running the verification, and not an unhealthy Stage. The fix is to fix the "
        "regression and promote new Freight, or re-verify after a fix to the environment.",
        [("verification-failed", "Stage", PROJECT, "qa")],
        [("verification-rbac-forbidden", "Stage", PROJECT, "qa"), ("verification-error", "Stage", PROJECT, "qa"),
         ("stage-unhealthy", "Stage", PROJECT, "qa"), ("promotion-step-failed", "Stage", PROJECT, "qa")],
    )


# ---------------------------------------------------------------- scenario 4


def scenario_healthy(out: Path) -> None:
    C = datetime(2026, 11, 22, 16, 5, 9, tzinfo=UTC)
    stages = ["dev", "staging", "prod-eu", "prod-us"]
    cl = Cluster("healthy-pipeline", C, "1.11.2", "3.1.8", stages, "guestbook-prod-eu")
    project_created = C - timedelta(days=58, hours=2)
    kargo_installed = C - timedelta(days=40)
    restart = {"reason": "Error", "exitCode": 1, "finishedAt": C - timedelta(days=6, hours=3, minutes=12)}
    install_base(cl, kargo_installed=kargo_installed, argocd_installed=C - timedelta(days=61),
                 project_created=project_created, repo_server_ip="10.96.142.17", kargo_restart=restart)
    f1 = make_freight(cl, "v4.1.0", "polite-beaver", C - timedelta(days=10, hours=4), "Release 4.1")
    f2 = make_freight(cl, "v4.2.0", "noble-gecko", C - timedelta(days=2, hours=5), "Release 4.2: dark mode")
    f3 = make_freight(cl, "v4.2.1", "sunny-mantis", C - timedelta(hours=20), "Fix dark mode contrast on entry list")
    sims = {
        "dev": StageSim(cl, "dev", None, project_created + timedelta(minutes=5)),
        "staging": StageSim(cl, "staging", "dev", project_created + timedelta(minutes=5)),
        "prod-eu": StageSim(cl, "prod-eu", "staging", project_created + timedelta(minutes=5), auto=False),
        "prod-us": StageSim(cl, "prod-us", "staging", project_created + timedelta(minutes=5), auto=False),
    }
    ops = "email:ops@example.com"
    recent = {}
    for f, prod_delay in ((f1, timedelta(hours=22)), (f2, timedelta(hours=9)), (f3, timedelta(hours=1, minutes=10))):
        d = sims["dev"].promote(f, f.created + timedelta(minutes=1))
        s = sims["staging"].promote(f, d.finished + timedelta(minutes=2))
        e = sims["prod-eu"].promote(f, s.finished + prod_delay, actor=ops)
        u = sims["prod-us"].promote(f, s.finished + prod_delay + timedelta(minutes=4), actor=ops)
        recent = {"dev": d, "staging": s, "prod-eu": e, "prod-us": u}
    apps = {}
    for i, (name, sim) in enumerate(sims.items()):
        apps[name] = app_for(cl, sim, created=project_created + timedelta(minutes=25),
                             reconciled=C - timedelta(seconds=37 + 29 * i))
        app_workload_for(cl, sim, project_created + timedelta(minutes=20))
    generations = {"dev": 2, "staging": 2, "prod-eu": 3, "prod-us": 3}
    statuses = {name: sim.status(generations[name], apps[name]) for name, sim in sims.items()}
    project_objects(cl, project_created, 4, 4, {name: sim.auto for name, sim in sims.items()})
    add_pipeline(cl, list(sims.values()), [f1, f2, f3], warehouse_created=project_created + timedelta(minutes=2),
                 statuses=statuses, generations=generations, apps=apps,
                 templates=[smoke_template(cl, project_created + timedelta(minutes=3))])

    lines = []
    for name, rec in recent.items():
        lines += kargo_promotion_lines(cl, rec.name, name, f3.name, rec.created + timedelta(seconds=1), rec.finished,
                                       "Succeeded", compact=True)
    add_log(cl, KARGO_NS, find_pod(cl, KARGO_NS, "kargo-controller"), "controller", lines)
    ctrl, repo = argocd_routine_logs(cl, [f"guestbook-{s}" for s in stages], C - timedelta(seconds=37))
    add_log(cl, ARGOCD_NS, "argocd-application-controller-0", "argocd-application-controller", ctrl)
    add_log(cl, ARGOCD_NS, find_pod(cl, ARGOCD_NS, "argocd-repo-server"), "argocd-repo-server", repo)

    write_dir(out / "healthy-pipeline", render_bundle(cl))
    kargo_pod = find_pod(cl, KARGO_NS, "kargo-controller")
    write_expected(
        out / "healthy-pipeline" / "expected.json",
        "A healthy four-stage pipeline (dev -> staging -> prod-eu and staging -> prod-us). All four Stages run "
        "v4.2.1 (Freight sunny-mantis), are Ready=True/Verified with Successful AnalysisRuns, and the Freight is "
        "verified in every Stage. The Applications are Synced and Healthy; their last operations Succeeded hours "
        "ago and were reconciled since. The prod Stages are promoted by hand through the Kargo UI "
        "(create-actor email:ops@example.com). Near miss: the kargo-controller container restarted once, six "
        "days before collection (exit code 1), and has run cleanly since; that is history, not an outage. A "
        "correct analysis reports no findings at all.",
        [],
        [("controller-down", "Pod", KARGO_NS, kargo_pod)],
    )


# ---------------------------------------------------------------- scenario 5


def scenario_pasted(out: Path) -> None:
    T = datetime(2026, 11, 23, 11, 20, 37, tzinfo=UTC)
    cl = Cluster("pasted-ticket", T, "1.4.4", "2.14.11", ["prod"], "guestbook-prod")
    project_created = T - timedelta(days=71)
    f1 = make_freight(cl, "v1.8.0", "brisk-pelican", T - timedelta(days=9, hours=5), "Release 1.8")
    f2 = make_freight(cl, "v1.9.0", "witty-koala", T - timedelta(days=3, hours=6), "Release 1.9")
    f3 = make_freight(cl, "v1.10.0", "jolly-narwhal", T - timedelta(hours=5), "Add entries.archived column")
    prod = StageSim(cl, "prod", "staging", project_created + timedelta(minutes=7))
    prod.promote(f1, f1.created + timedelta(hours=4))
    prod.promote(f2, f2.created + timedelta(hours=5))
    started = T - timedelta(minutes=47)
    steps = [
        (started + timedelta(seconds=1), started + timedelta(seconds=5), "Succeeded", None, 0),
        (started + timedelta(seconds=5), started + timedelta(seconds=6), "Succeeded", None, 0),
        (started + timedelta(seconds=6), started + timedelta(seconds=7), "Succeeded", None, 0),
        (started + timedelta(seconds=7), started + timedelta(seconds=29), "Succeeded", None, 0),
        (started + timedelta(seconds=30), None, "Running", None, 0),
    ]
    running = prod.promote(f3, started, phase="Running", steps=steps, verify=None)
    op_start = T - timedelta(minutes=46)
    operation = kargo_operation(running.name)
    op_state = {
        "message": "waiting for completion of hook batch/Job/db-migrate",
        "operation": operation,
        "phase": "Running",
        "startedAt": ts(op_start),
        "syncResult": {
            "resources": [{"group": "batch", "hookPhase": "Running", "hookType": "PreSync", "kind": "Job",
                           "message": "job.batch/db-migrate created", "name": "db-migrate",
                           "namespace": "guestbook-prod", "syncPhase": "PreSync", "version": "v1"}],
            "revision": running.commit,
            "source": app_source("prod"),
        },
    }
    app = app_for(cl, prod, created=project_created + timedelta(minutes=25), reconciled=T, operation_state=op_state,
                  sync_status="OutOfSync", revision=running.commit, operation=operation)
    # The health check Kargo v1.4 ran half a minute before the paste.
    app_seen = json.loads(json.dumps(app))
    app_seen["status"]["reconciledAt"] = ts(T - timedelta(minutes=2, seconds=14))
    issue = 'Argo CD Application "guestbook-prod" in namespace "argocd" is being synced'
    health = {"issues": [issue], "output": [argocd_health_output(cl, dict(app_seen["status"], _name="guestbook-prod"))],
              "status": "Unknown"}
    promoting = f'Promotion "{running.name}" is currently Running'
    current = prod.current()
    assert current is not None and current.verification is not None
    verified_at = parse_ts(current.verification["finishTime"])
    conditions = [
        condition("Ready", "False", "ActivePromotion", promoting, started, 5),
        condition("Healthy", "Unknown", "Unknown", "", started + timedelta(seconds=31), 5),
        condition("Verified", "True", "Verified", "Freight has been verified", verified_at, 5),
        condition("Promoting", "True", "ActivePromotion", promoting, started, 5),
    ]
    status = prod.status(5, app, conditions=conditions, health=health)
    status["currentPromotion"] = {"freight": f3.ref(), "name": running.name}
    status["phase"] = "Promoting"
    stage = stage_obj(cl, "prod", created=prod.created, upstream="staging", generation=5, status=status,
                      verification=prod.verification(),
                      annotations={"kargo.akuity.io/argocd-context":
                                   json.dumps([{"name": "guestbook-prod", "namespace": ARGOCD_NS}],
                                              separators=(",", ":"))})
    stage["metadata"]["resourceVersion"] = cl.rv(T - timedelta(seconds=31), "stage")
    promotions = sorted((rec.obj for rec in prod.promos), key=lambda o: o["metadata"]["name"])
    for obj in [stage, app, *promotions]:
        assert max(re.findall(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", json.dumps(obj))) <= ts(T)
    text = "\n".join([
        "# prod has been stuck on \"Promoting\" for most of an hour, nothing moves. Output below.",
        "# kubectl get stage prod -n kargo-demo -o yaml",
        kubectl_yaml(stage).rstrip("\n"),
        "---",
        "# kubectl get promotions -n kargo-demo -o yaml   (only the prod ones)",
        kubectl_yaml(kube_list(promotions)).rstrip("\n"),
        "---",
        "# kubectl get application guestbook-prod -n argocd -o yaml",
        kubectl_yaml(app).rstrip("\n"),
        "",
    ])
    folder = out / "pasted-ticket"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "ticket.yaml").write_text(text)
    write_expected(
        folder / "expected.json",
        "A user pasted three kubectl outputs into a ticket (no bundle, no manifest): the Stage prod in the Kargo "
        "v1.4 shape (status.phase: Promoting next to the conditions), the prod Promotions, and the Application "
        "guestbook-prod. The reference time is the newest timestamp in the paste, the Application's "
        "reconciledAt. The Promotion to v1.10.0 (Freight jolly-narwhal) was created 47 minutes earlier and is "
        "still Running: its argocd-update step has been Running since, waiting on an Argo CD operation that has "
        "been Running for 46 minutes with 'waiting for completion of hook batch/Job/db-migrate' (a PreSync "
        "migration Job that never completes). A correct diagnosis is a stuck promotion on Stage prod, far past "
        "the 15 minute threshold, naming the hook Job as what it waits for; the previous Promotions Succeeded "
        "and are not the cause.",
        [("promotion-stuck", "Stage", PROJECT, "prod")],
        [("promotion-step-failed", "Stage", PROJECT, "prod"),
         ("argocd-operation-stuck", "Application", ARGOCD_NS, "guestbook-prod")],
    )


# ---------------------------------------------------------------- main

# ---------------------------------------------------------------- scenario 6: everything verify needs


CRD_CATALOG = (
    ("kargo.akuity.io", "Namespaced", ("Stage", "stages"), ("Promotion", "promotions"), ("Freight", "freights"),
     ("Warehouse", "warehouses"), ("ProjectConfig", "projectconfigs"), ("PromotionTask", "promotiontasks")),
    ("kargo.akuity.io", "Cluster", ("Project", "projects"), ("ClusterPromotionTask", "clusterpromotiontasks"),
     ("ClusterConfig", "clusterconfigs")),
    ("argoproj.io", "Namespaced", ("Application", "applications"), ("ApplicationSet", "applicationsets"),
     ("AppProject", "appprojects"), ("AnalysisTemplate", "analysistemplates"), ("AnalysisRun", "analysisruns"),
     ("Rollout", "rollouts"), ("Experiment", "experiments")),
    ("argoproj.io", "Cluster", ("ClusterAnalysisTemplate", "clusteranalysistemplates")),
    ("cert-manager.io", "Namespaced", ("Certificate", "certificates"), ("CertificateRequest", "certificaterequests"),
     ("Issuer", "issuers")),
    ("cert-manager.io", "Cluster", ("ClusterIssuer", "clusterissuers")),
    ("acme.cert-manager.io", "Namespaced", ("Order", "orders"), ("Challenge", "challenges")),
    ("monitoring.coreos.com", "Namespaced", ("Alertmanager", "alertmanagers"),
     ("AlertmanagerConfig", "alertmanagerconfigs"), ("PodMonitor", "podmonitors"), ("Probe", "probes"),
     ("PrometheusAgent", "prometheusagents"), ("Prometheus", "prometheuses"), ("PrometheusRule", "prometheusrules"),
     ("ScrapeConfig", "scrapeconfigs"), ("ServiceMonitor", "servicemonitors"), ("ThanosRuler", "thanosrulers")),
)
# prometheus-operator v0.78: the kinds still served as v1alpha1 only
MONITORING_ALPHA = ("AlertmanagerConfig", "PrometheusAgent", "ScrapeConfig")


def crd_summary(cluster: Cluster, group: str, scope: str, kind: str, plural: str, created: datetime) -> dict:
    """A CRD as collector.sh summarises it (no schema)."""
    version = "v1" if "cert-manager" in group else "v1alpha1"
    if group == "monitoring.coreos.com" and kind not in MONITORING_ALPHA:
        version = "v1"
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}", "creationTimestamp": ts(created), "generation": 1,
                     "labels": {}, "annotations": {}},
        "spec": {"group": group, "scope": scope,
                 "names": {"kind": kind, "plural": plural, "singular": kind.lower(), "shortNames": [], "categories": []},
                 "versions": [{"name": version, "served": True, "storage": True, "deprecated": False,
                               "additionalPrinterColumns": []}]},
        "status": {"storedVersions": [version]},
    }


def tls_objects(cluster: Cluster, namespace: str, host: str, created: datetime, ingress_name: str, service: str,
                port: int, address: str) -> tuple[dict, dict, dict]:
    """An Ingress with TLS, the Secret as collector.sh lists it (key names only), and its Certificate."""
    secret_name = f"{ingress_name}-tls"
    issued = created + timedelta(minutes=2)
    ingress = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": cluster.meta("Ingress", ingress_name, namespace, created, generation=1,
                                 annotations={"cert-manager.io/cluster-issuer": "letsencrypt", LAST_APPLIED: HIDDEN}),
        "spec": {
            "ingressClassName": "traefik",
            "rules": [{"host": host, "http": {"paths": [{
                "path": "/", "pathType": "Prefix",
                "backend": {"service": {"name": service, "port": {"number": port}}}}]}}],
            "tls": [{"hosts": [host], "secretName": secret_name}],
        },
        "status": {"loadBalancer": {"ingress": [{"ip": address}]}},
    }
    meta = cluster.meta("Secret", secret_name, namespace, issued,
                        annotations={"cert-manager.io/certificate-name": secret_name,
                                     "cert-manager.io/issuer-kind": "ClusterIssuer",
                                     "cert-manager.io/issuer-name": "letsencrypt"},
                        labels={"controller.cert-manager.io/fao": "true"})
    meta.pop("resourceVersion", None)
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": meta, "type": "kubernetes.io/tls",
              "data": {"tls.crt": "", "tls.key": ""}}
    certificate = {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": cluster.meta("Certificate", secret_name, namespace, created, issued, generation=1,
                                 ownerReferences=[cluster.owner("networking.k8s.io/v1", "Ingress", namespace,
                                                                ingress_name, blockOwnerDeletion=True,
                                                                controller=True)]),
        "spec": {"dnsNames": [host], "issuerRef": {"group": "cert-manager.io", "kind": "ClusterIssuer",
                                                   "name": "letsencrypt"},
                 "secretName": secret_name, "usages": ["digital signature", "key encipherment"]},
        "status": {
            "conditions": [{"lastTransitionTime": ts(issued), "message": "Certificate is up to date and has not expired",
                            "observedGeneration": 1, "reason": "Ready", "status": "True", "type": "Ready"}],
            "notAfter": ts(issued + timedelta(days=90)), "notBefore": ts(issued),
            "renewalTime": ts(issued + timedelta(days=60)), "revision": 1,
        },
    }
    return ingress, secret, certificate


def verification_rbac(cluster: Cluster, created: datetime) -> None:
    """The playbook's S3 ServiceAccount, ClusterRole and ClusterRoleBinding, and the cluster's own admin role."""
    cluster.add(f"cluster-resources/serviceaccounts/{PROJECT}.json",
                {"apiVersion": "v1", "kind": "ServiceAccount",
                 "metadata": cluster.meta("ServiceAccount", "default", PROJECT, created)},
                {"apiVersion": "v1", "kind": "ServiceAccount",
                 "metadata": cluster.meta("ServiceAccount", "kargo-verification", PROJECT, created,
                                          annotations={LAST_APPLIED: HIDDEN})})
    cluster.add("cluster-resources/clusterroles.json",
                {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                 "metadata": cluster.meta("ClusterRole", "cluster-admin", None, CLUSTER_BORN,
                                          labels={"kubernetes.io/bootstrapping": "rbac-defaults"}),
                 "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
                           {"nonResourceURLs": ["*"], "verbs": ["*"]}]},
                {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                 "metadata": cluster.meta("ClusterRole", "kargo-verification", None, created,
                                          annotations={LAST_APPLIED: HIDDEN}, labels={"app": "kargo-verification"}),
                 "rules": [{"apiGroups": [""], "resources": ["pods", "services", "configmaps"], "verbs": ["get", "list"]},
                           {"apiGroups": ["apps"], "resources": ["deployments", "statefulsets"], "verbs": ["get", "list"]},
                           {"apiGroups": ["argoproj.io"], "resources": ["applications"], "verbs": ["get", "list"]}]})
    cluster.add("cluster-resources/clusterrolebindings.json",
                {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
                 "metadata": cluster.meta("ClusterRoleBinding", "cluster-admin", None, CLUSTER_BORN,
                                          labels={"kubernetes.io/bootstrapping": "rbac-defaults"}),
                 "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
                 "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "system:masters"}]},
                {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
                 "metadata": cluster.meta("ClusterRoleBinding", "kargo-verification", None, created,
                                          annotations={LAST_APPLIED: HIDDEN}),
                 "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "kargo-verification"},
                 "subjects": [{"kind": "ServiceAccount", "name": "kargo-verification", "namespace": PROJECT}]})
    cluster.touch(f"cluster-resources/rolebindings/{PROJECT}.json")


PROMETHEUS_IMAGE = "quay.io/prometheus/prometheus:v2.55.1"
CONFIG_RELOADER_IMAGE = "quay.io/prometheus-operator/prometheus-config-reloader:v0.78.2"
PROMETHEUS_TARGETS = "prometheustargets.bundle.gitops-master.io"


def app_prometheus(cluster: Cluster, app: dict, created: datetime) -> None:
    """A Prometheus (prometheus-operator) that the Application deploys beside the app, scraping it through a
    ServiceMonitor: the operator's StatefulSet, pod, Secrets and ``prometheus-operated`` Service, and the
    active targets as collector.sh reads them through the Service's proxy (every target up)."""
    ns = app["spec"]["destination"]["namespace"]
    name = "guestbook"
    sts_name = f"prometheus-{name}"
    operated = {"app.kubernetes.io/instance": name, "app.kubernetes.io/managed-by": "prometheus-operator",
                "app.kubernetes.io/name": "prometheus", "operator.prometheus.io/name": name,
                "operator.prometheus.io/shard": "0", "prometheus": name}
    mounts = [{"mountPath": "/etc/prometheus/config_out", "name": "config-out", "readOnly": True},
              {"mountPath": "/etc/prometheus/certs", "name": "tls-assets", "readOnly": True},
              {"mountPath": "/prometheus", "name": f"{sts_name}-db", "subPath": "prometheus-db"},
              {"mountPath": "/etc/prometheus/web_config/web-config.yaml", "name": "web-config", "readOnly": True,
               "subPath": "web-config.yaml"}]
    server = container_spec(
        "prometheus", PROMETHEUS_IMAGE,
        args=["--web.console.templates=/etc/prometheus/consoles", "--web.console.libraries=/etc/prometheus/console_libraries",
              "--config.file=/etc/prometheus/config_out/prometheus.env.yaml", "--web.enable-lifecycle",
              f"--web.external-url=http://{sts_name}.{ns}:9090", "--web.route-prefix=/", "--storage.tsdb.retention.time=24h",
              "--storage.tsdb.path=/prometheus", "--web.config.file=/etc/prometheus/web_config/web-config.yaml"],
        ports=[{"containerPort": 9090, "name": "web", "protocol": "TCP"}],
        probes={"readinessProbe": {"failureThreshold": 3, "httpGet": {"path": "/-/ready", "port": "web", "scheme": "HTTP"},
                                   "periodSeconds": 5, "successThreshold": 1, "timeoutSeconds": 3}},
        resources={"requests": {"memory": "400Mi"}}, volume_mounts=mounts)
    reloader = container_spec(
        "config-reloader", CONFIG_RELOADER_IMAGE, command=["/bin/prometheus-config-reloader"],
        args=["--listen-address=:8080", "--reload-url=http://127.0.0.1:9090/-/reload",
              "--config-file=/etc/prometheus/config/prometheus.yaml.gz",
              "--config-envsubst-file=/etc/prometheus/config_out/prometheus.env.yaml"],
        ports=[{"containerPort": 8080, "name": "reloader-web", "protocol": "TCP"}],
        resources={"limits": {"cpu": "10m", "memory": "50Mi"}, "requests": {"cpu": "10m", "memory": "50Mi"}},
        volume_mounts=[{"mountPath": "/etc/prometheus/config", "name": "config"},
                       {"mountPath": "/etc/prometheus/config_out", "name": "config-out"}])
    volumes = [
        {"name": "config", "secret": {"defaultMode": 420, "secretName": sts_name}},
        {"name": "tls-assets", "projected": {"defaultMode": 420, "sources": [
            {"secret": {"name": f"{sts_name}-tls-assets-0"}}]}},
        {"emptyDir": {"medium": "Memory"}, "name": "config-out"},
        {"name": "web-config", "secret": {"defaultMode": 420, "secretName": f"{sts_name}-web-config"}},
        {"emptyDir": {}, "name": f"{sts_name}-db"},
    ]
    owner = cluster.owner("monitoring.coreos.com/v1", "Prometheus", ns, name, blockOwnerDeletion=True, controller=True)
    workload = statefulset(cluster, ns, sts_name, created=created + timedelta(seconds=3), selector=operated,
                           labels=dict(operated, **{"app.kubernetes.io/version": "2.55.1", "operator.prometheus.io/mode": "server"}),
                           containers=[server, reloader],
                           runs={"prometheus": ContainerRun(started=created + timedelta(seconds=14)),
                                 "config-reloader": ContainerRun(started=created + timedelta(seconds=13))},
                           service_account=sts_name, extra_volumes=volumes)
    workload.controller["metadata"]["ownerReferences"] = [owner]
    workload.controller["spec"]["serviceName"] = "prometheus-operated"
    add_workloads(cluster, ns, [workload])
    for secret_name, keys in ((sts_name, ["prometheus.yaml.gz"]), (f"{sts_name}-tls-assets-0", []),
                              (f"{sts_name}-web-config", ["web-config.yaml"])):
        meta = cluster.meta("Secret", secret_name, ns, created + timedelta(seconds=2),
                            labels={"app.kubernetes.io/managed-by": "prometheus-operator", "managed-by": "prometheus-operator",
                                    "operator.prometheus.io/name": name})
        meta.pop("resourceVersion", None)
        cluster.add(f"cluster-resources/secrets/{ns}.json", {"apiVersion": "v1", "kind": "Secret", "metadata": meta,
                                                              "type": "Opaque", "data": {k: "" for k in keys}})
    cluster.add(f"cluster-resources/serviceaccounts/{ns}.json", {
        "apiVersion": "v1", "kind": "ServiceAccount",
        "metadata": cluster.meta("ServiceAccount", sts_name, ns, created, annotations={
            "argocd.argoproj.io/tracking-id": f"{app['metadata']['name']}:/ServiceAccount:{ns}/{sts_name}"})})
    service = service_obj(cluster, ns, "prometheus-operated", created + timedelta(seconds=2),
                          {"managed-by": "prometheus-operator", "operated-prometheus": "true"},
                          {"app.kubernetes.io/name": "prometheus"},
                          [{"name": "web", "port": 9090, "protocol": "TCP", "targetPort": "web"}], cluster_ip="None")
    service["metadata"]["ownerReferences"] = [cluster.owner("monitoring.coreos.com/v1", "Prometheus", ns, name)]
    cluster.add(f"cluster-resources/services/{ns}.json", service)

    # What Argo CD applied: the Prometheus, its ServiceAccount and the ServiceMonitor that selects the app.
    managed = [({"kind": "ServiceAccount", "name": sts_name, "namespace": ns, "status": "Synced", "version": "v1"},
                f"serviceaccount/{sts_name} unchanged"),
               ({"group": "monitoring.coreos.com", "kind": "Prometheus", "name": name, "namespace": ns,
                 "status": "Synced", "version": "v1"}, f"prometheus.monitoring.coreos.com/{name} unchanged"),
               ({"group": "monitoring.coreos.com", "kind": "ServiceMonitor", "name": name, "namespace": ns,
                 "status": "Synced", "version": "v1"}, f"servicemonitor.monitoring.coreos.com/{name} unchanged")]
    app["status"]["resources"][1:1] = [managed[0][0]]
    app["status"]["resources"] += [res for res, _ in managed[1:]]
    result = app["status"]["operationState"]["syncResult"]
    result["resources"] += [dict(res, group=res.get("group", ""), hookPhase="Running", message=message, syncPhase="Sync")
                            for res, message in managed]

    # The active targets: the ServiceMonitor's endpoint on the app's pod, scraped a few seconds ago.
    pod = find_pod(cluster, ns, "guestbook")
    ip, node = pod_ip(cluster, pod), node_for(cluster, pod)
    pool = f"serviceMonitor/{ns}/{name}/0"
    address = f"{ip}:8080"
    target = {
        "discoveredLabels": {
            "__address__": address, "__meta_kubernetes_endpoint_address_target_kind": "Pod",
            "__meta_kubernetes_endpoint_address_target_name": pod, "__meta_kubernetes_endpoint_node_name": node,
            "__meta_kubernetes_endpoint_port_name": "http", "__meta_kubernetes_endpoint_port_protocol": "TCP",
            "__meta_kubernetes_endpoint_ready": "true", "__meta_kubernetes_endpoints_name": "guestbook",
            "__meta_kubernetes_namespace": ns, "__meta_kubernetes_pod_container_name": "guestbook",
            "__meta_kubernetes_pod_container_port_name": "http", "__meta_kubernetes_pod_container_port_number": "8080",
            "__meta_kubernetes_pod_container_port_protocol": "TCP", "__meta_kubernetes_pod_ip": ip,
            "__meta_kubernetes_pod_name": pod, "__meta_kubernetes_pod_node_name": node,
            "__meta_kubernetes_pod_phase": "Running", "__meta_kubernetes_pod_ready": "true",
            "__meta_kubernetes_service_name": "guestbook", "__metrics_path__": "/metrics", "__scheme__": "http",
            "__scrape_interval__": "30s", "__scrape_timeout__": "10s", "job": pool,
        },
        "labels": {"container": "guestbook", "endpoint": "http", "instance": address, "job": "guestbook",
                   "namespace": ns, "pod": pod, "service": "guestbook"},
        "scrapePool": pool,
        "scrapeUrl": f"http://{address}/metrics",
        "globalUrl": f"http://{address}/metrics",
        "lastError": "",
        "lastScrape": cluster.ago(seconds=14).strftime("%Y-%m-%dT%H:%M:%S.118425117Z"),
        "lastScrapeDuration": 0.003412771,
        "health": "up",
        "scrapeInterval": "30s",
        "scrapeTimeout": "10s",
    }
    rel = f"cluster-resources/custom-resources/{PROMETHEUS_TARGETS}/{ns}.json"
    cluster.add(rel, {"apiVersion": "bundle.gitops-master.io/v1", "kind": "PrometheusTarget",
                      "metadata": {"name": "prometheus-operated", "namespace": ns},
                      "response": {"status": "success", "data": {"activeTargets": [target], "droppedTargets": [],
                                                                 "droppedTargetCounts": None}}})
    cluster.commands[rel] = (f"{PROMETHEUS_TARGETS}/{ns}", [
        "kubectl", "get", "--raw", f"/api/v1/namespaces/{ns}/services/prometheus-operated:9090/proxy/api/v1/targets?state=active",
        "--request-timeout=20s"])


def scenario_verified(out: Path) -> None:
    C = datetime(2026, 11, 24, 8, 30, 41, tzinfo=UTC)
    stages = ["dev", "prod"]
    cl = Cluster("verified-pipeline", C, "1.11.2", "3.1.8", stages, "guestbook-prod")
    project_created = C - timedelta(days=31, hours=5)
    kargo_installed = C - timedelta(days=33)
    install_base(cl, kargo_installed=kargo_installed, argocd_installed=C - timedelta(days=40),
                 project_created=project_created, repo_server_ip="10.96.142.17")
    f1 = make_freight(cl, "v2.7.0", "brave-otter", C - timedelta(days=6, hours=2), "Release 2.7")
    f2 = make_freight(cl, "v2.8.0", "lucky-heron", C - timedelta(hours=20), "Release 2.8: entry search")
    sims = {
        "dev": StageSim(cl, "dev", None, project_created + timedelta(minutes=5)),
        "prod": StageSim(cl, "prod", "dev", project_created + timedelta(minutes=5), auto=False),
    }
    ops = "email:ops@example.com"
    recent = {}
    for f in (f1, f2):
        d = sims["dev"].promote(f, f.created + timedelta(minutes=1))
        recent = {"dev": d, "prod": sims["prod"].promote(f, d.finished + timedelta(hours=5), actor=ops)}
    apps = {}
    for i, (name, sim) in enumerate(sims.items()):
        apps[name] = app_for(cl, sim, created=project_created + timedelta(minutes=25),
                             reconciled=C - timedelta(seconds=41 + 33 * i))
        app_workload_for(cl, sim, project_created + timedelta(minutes=20))
    generations = {"dev": 2, "prod": 2}
    statuses = {name: sim.status(generations[name], apps[name]) for name, sim in sims.items()}
    project_objects(cl, project_created, 2, 2, {name: sim.auto for name, sim in sims.items()})
    add_pipeline(cl, list(sims.values()), [f1, f2], warehouse_created=project_created + timedelta(minutes=2),
                 statuses=statuses, generations=generations, apps=apps,
                 templates=[smoke_template(cl, project_created + timedelta(minutes=3))])

    # What Levels 1 and 3 and the V3 checklist read: Ingresses, TLS Secrets, Certificates, CRDs, RBAC.
    exposed = project_created + timedelta(minutes=21)
    for i, stage in enumerate(stages):
        ns = f"guestbook-{stage}"
        host = "guestbook.example.com" if stage == "prod" else f"guestbook-{stage}.example.com"
        ingress, secret, cert = tls_objects(cl, ns, host, exposed, "guestbook", "guestbook", 80, f"203.0.113.{10 + i}")
        cl.add(f"cluster-resources/ingresses/{ns}.json", ingress)
        cl.add(f"cluster-resources/secrets/{ns}.json", secret)
        cl.add(f"cluster-resources/custom-resources/certificates.cert-manager.io/{ns}.json", cert)
        cl.add(f"cluster-resources/serviceaccounts/{ns}.json",
               {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": cl.meta("ServiceAccount", "default", ns, exposed)})
    ingress, secret, cert = tls_objects(cl, KARGO_NS, "kargo.example.com", kargo_installed + timedelta(minutes=4),
                                        "kargo-api", "kargo-api", 443, "203.0.113.5")
    cl.add(f"cluster-resources/ingresses/{KARGO_NS}.json", ingress)
    cl.add(f"cluster-resources/secrets/{KARGO_NS}.json", secret)
    cl.add(f"cluster-resources/custom-resources/certificates.cert-manager.io/{KARGO_NS}.json", cert)
    cl.touch(f"cluster-resources/secrets/{PROJECT}.json")
    cl.touch(f"cluster-resources/ingresses/{PROJECT}.json")
    crds = []
    for group, scope, *kinds in CRD_CATALOG:
        installed = kargo_installed if "kargo" in group else C - timedelta(days=40)
        crds += [crd_summary(cl, group, scope, kind, plural, installed) for kind, plural in kinds]
    cl.add("cluster-resources/customresourcedefinitions.json", *crds)
    verification_rbac(cl, project_created + timedelta(minutes=3))
    app_prometheus(cl, apps["dev"], project_created + timedelta(minutes=22))

    lines = []
    for name, rec in recent.items():
        lines += kargo_promotion_lines(cl, rec.name, name, f2.name, rec.created + timedelta(seconds=1), rec.finished,
                                       "Succeeded", compact=True)
    add_log(cl, KARGO_NS, find_pod(cl, KARGO_NS, "kargo-controller"), "controller", lines)
    ctrl, repo = argocd_routine_logs(cl, [f"guestbook-{s}" for s in stages], C - timedelta(seconds=41))
    add_log(cl, ARGOCD_NS, "argocd-application-controller-0", "argocd-application-controller", ctrl)
    add_log(cl, ARGOCD_NS, find_pod(cl, ARGOCD_NS, "argocd-repo-server"), "argocd-repo-server", repo)

    shutil.rmtree(out / "verified-pipeline", ignore_errors=True)
    write_dir(out / "verified-pipeline", render_bundle(cl))
    write_expected(
        out / "verified-pipeline" / "expected.json",
        "A two-stage pipeline (dev -> prod) collected with everything the verify mode reads: Ingresses with TLS "
        "and their cert-manager Certificates (Ready), the TLS Secrets by name and key names, the "
        "CustomResourceDefinitions, ServiceAccounts and the playbook's verification ClusterRole and binding, and "
        "the scrape targets of the Prometheus the dev Application deploys (prometheus-operator; its "
        "prometheus-operated Service answered through the API server's proxy, every target up). Both "
        "Stages run v2.8.0 (Freight lucky-heron), are Ready=True/Verified with Successful AnalysisRuns, and their "
        "Applications are Synced and Healthy. `gitops-master verify` passes all four levels on both Stages; "
        "diagnose reports nothing.",
        [],
        [("verification-failed", "Stage", PROJECT, "prod"), ("collection-gap", "Secret", PROJECT, "*")],
    )


SCENARIOS: list[Callable[[Path], None]] = [
    scenario_poisoned,
    scenario_repo_server_refused,
    scenario_verification_failed,
    scenario_healthy,
    scenario_pasted,
    scenario_verified,
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "sample_bundles",
                        help="directory to write the bundles into (default: sample_bundles/)")
    args = parser.parse_args(argv)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    for name in ("poisoned-promotion", "verification-failed", "healthy-pipeline", "pasted-ticket"):
        shutil.rmtree(out / name, ignore_errors=True)
    for scenario in SCENARIOS:
        scenario(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
