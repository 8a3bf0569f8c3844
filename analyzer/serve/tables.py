"""``meta.k8s.io/v1`` Tables for ``kubectl get``: built-in printers and CRD columns; ages from the reference time."""


from __future__ import annotations

from datetime import datetime, timedelta

import orjson

from analyzer.bundle import parse_time
from analyzer.serve.resources import (
    AGE,
    CRD_COLUMNS,
    Column,
    ResourceType,
    _condition,
    _get,
    _lst,
)
from analyzer.serve.selectors import jsonpath_find, parse_jsonpath

# ----------------------------------------------------------------- tables


def human_duration(d: timedelta) -> str:
    """``k8s.io/apimachinery/pkg/util/duration.HumanDuration``: ``5m``, ``3h2m``, ``2d``."""
    seconds = int(d.total_seconds())
    if seconds < -1:
        return "<invalid>"
    if seconds < 0:
        return "0s"
    if seconds < 60 * 2:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 10:
        s = seconds % 60
        return f"{minutes}m" if s == 0 else f"{minutes}m{s}s"
    if minutes < 60 * 3:
        return f"{minutes}m"
    hours = seconds // 3600
    if hours < 8:
        m = minutes % 60
        return f"{hours}h" if m == 0 else f"{hours}h{m}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        h = hours % 24
        return f"{hours // 24}d" if h == 0 else f"{hours // 24}d{h}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        dy = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if dy == 0 else f"{hours // 24 // 365}y{dy}d"
    return f"{hours // 24 // 365}y"


class Printer:
    """Server-side printing: the cells ``kubectl get`` shows, aged against the reference time."""

    def __init__(self, now: datetime):
        self.now = now

    def since(self, value: object) -> str:
        t = parse_time(value) if isinstance(value, str) and value else None
        return "<unknown>" if t is None else human_duration(self.now - t)

    def table(self, t: ResourceType, objects: list[dict], include: str, resource_version: str) -> dict:
        columns, cells_of = self.columns_for(t)
        rows = []
        for obj in objects:
            row: dict = {"cells": cells_of(obj)}
            if include == "Object":
                row["object"] = obj
            elif include != "None":
                row["object"] = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj.get("metadata") or {}}
            if t.plural == "pods" and t.group == "":
                phase = (obj.get("status") or {}).get("phase")
                if phase in ("Succeeded", "Failed"):
                    row["conditions"] = [{"type": "Completed", "status": "True", "reason": phase,
                                          "message": "The pod has completed successfully." if phase == "Succeeded" else "The pod failed."}]
            rows.append(row)
        return {
            "kind": "Table",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": {"resourceVersion": resource_version},
            "columnDefinitions": [
                {"name": name, "type": typ, "format": fmt, "description": desc, "priority": prio}
                for name, typ, fmt, desc, prio in columns
            ],
            "rows": rows,
        }

    def columns_for(self, t: ResourceType):
        name_col = ("Name", "string", "name", "Name must be unique within a namespace.", 0)
        builtin = None if t.custom else BUILTIN_PRINTERS.get((t.group, t.plural))
        if builtin is not None:
            cols, fn = builtin
            defs = [(n, ty, "name" if n == "Name" else "", d, p) for n, ty, d, p in cols]
            if t.plural == "events":  # the one printer whose name is a late, wide-only column
                return defs, lambda o: fn(self, o)
            return [name_col] + defs, lambda o: [_meta(o, "name")] + fn(self, o)
        if t.custom or t.columns is not None:
            crd_cols = t.columns if t.columns is not None else CRD_COLUMNS.get((t.group, t.plural), (AGE,))
            compiled = []
            for c in crd_cols:
                try:
                    compiled.append((c, parse_jsonpath(c.json_path)))
                except ValueError:
                    compiled.append((c, None))
            defs = [name_col] + [(c.name, c.type, "", c.description, c.priority) for c in crd_cols]
            return defs, lambda o: [_meta(o, "name")] + [self.crd_cell(o, c, steps) for c, steps in compiled]
        if (t.group, t.plural) in CREATED_AT_TYPES:
            return [name_col, ("Created At", "date", "", "Creation timestamp", 0)], lambda o: [_meta(o, "name"), _meta(o, "creationTimestamp") or None]
        return [name_col, ("Age", "string", "", "Time since resource was created", 0)], lambda o: [_meta(o, "name"), self.since(_meta(o, "creationTimestamp"))]

    def crd_cell(self, obj: dict, c: Column, steps) -> object:
        if steps is None:
            return None
        found = jsonpath_find(obj, steps)
        if not found:
            return None
        value = found[0]
        if c.type == "date":
            return self.since(value) if isinstance(value, str) else None
        if c.type == "integer":
            return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
        if c.type == "number":
            return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None
        if c.type == "boolean":
            return value if isinstance(value, bool) else None
        return _text(value)


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
    return orjson.dumps(value).decode()


def _meta(obj: dict, key: str) -> object:
    md = obj.get("metadata")
    return md.get(key) if isinstance(md, dict) else None


def _num(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _pod_cells(p: Printer, pod: dict) -> list:
    spec, status = _get(pod, "spec", default={}), _get(pod, "status", default={})
    containers = _lst(_get(spec, "containers"))
    init_specs = {c.get("name"): c for c in _lst(_get(spec, "initContainers")) if isinstance(c, dict)}
    restartable = {n for n, c in init_specs.items() if c.get("restartPolicy") == "Always"}
    total = len(containers) + len(restartable)
    ready = restarts = sidecar_restarts = 0
    last_restart = sidecar_last = None
    phase = _get(status, "phase", default="")
    reason = _get(status, "reason") or phase
    for c in _lst(_get(status, "conditions")):
        if isinstance(c, dict) and c.get("type") == "PodScheduled" and c.get("reason") == "SchedulingGated":
            reason = "SchedulingGated"

    def later(current, when):
        t = parse_time(when) if isinstance(when, str) else None
        return t if t is not None and (current is None or t > current) else current

    initializing = False
    init_statuses = [c for c in _lst(_get(status, "initContainerStatuses")) if isinstance(c, dict)]
    for i, c in enumerate(init_statuses):
        restarts += _num(c.get("restartCount"))
        finished = _get(c, "lastState", "terminated", "finishedAt")
        last_restart = later(last_restart, finished)
        is_sidecar = c.get("name") in restartable
        if is_sidecar:
            sidecar_restarts += _num(c.get("restartCount"))
            sidecar_last = later(sidecar_last, finished)
        term, wait = _get(c, "state", "terminated"), _get(c, "state", "waiting")
        if isinstance(term, dict) and _num(term.get("exitCode")) == 0:
            continue
        if is_sidecar and c.get("started") is True:
            ready += 1 if c.get("ready") else 0
            continue
        if isinstance(term, dict):
            if term.get("reason"):
                reason = "Init:" + str(term["reason"])
            elif _num(term.get("signal")):
                reason = f"Init:Signal:{_num(term.get('signal'))}"
            else:
                reason = f"Init:ExitCode:{_num(term.get('exitCode'))}"
        elif isinstance(wait, dict) and wait.get("reason") and wait.get("reason") != "PodInitializing":
            reason = "Init:" + str(wait["reason"])
        else:
            reason = f"Init:{i}/{len(init_specs)}"
        initializing = True
        break
    initialized = (_condition(pod, "Initialized") or {}).get("status") == "True"
    if not initializing or initialized:
        restarts, last_restart = sidecar_restarts, sidecar_last
        has_running = False
        for c in reversed([c for c in _lst(_get(status, "containerStatuses")) if isinstance(c, dict)]):
            restarts += _num(c.get("restartCount"))
            last_restart = later(last_restart, _get(c, "lastState", "terminated", "finishedAt"))
            term, wait = _get(c, "state", "terminated"), _get(c, "state", "waiting")
            if isinstance(wait, dict) and wait.get("reason"):
                reason = str(wait["reason"])
            elif isinstance(term, dict) and term.get("reason"):
                reason = str(term["reason"])
            elif isinstance(term, dict):
                reason = f"Signal:{_num(term.get('signal'))}" if _num(term.get("signal")) else f"ExitCode:{_num(term.get('exitCode'))}"
            elif c.get("ready") and isinstance(_get(c, "state", "running"), dict):
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            reason = "Running" if (_condition(pod, "Ready") or {}).get("status") == "True" else "NotReady"
    if _meta(pod, "deletionTimestamp") and _get(status, "reason") == "NodeLost":
        reason = "Unknown"
    elif _meta(pod, "deletionTimestamp") and phase not in ("Succeeded", "Failed"):
        reason = "Terminating"
    restarts_text = str(restarts)
    if restarts and last_restart is not None:
        restarts_text = f"{restarts} ({human_duration(p.now - last_restart)} ago)"
    ips = _lst(_get(status, "podIPs"))
    ip = (ips[0].get("ip") if ips and isinstance(ips[0], dict) else None) or _get(status, "podIP") or "<none>"
    gates = _lst(_get(spec, "readinessGates"))
    gates_text = "<none>"
    if gates:
        true = sum(1 for g in gates if isinstance(g, dict) and (_condition(pod, str(g.get("conditionType"))) or {}).get("status") == "True")
        gates_text = f"{true}/{len(gates)}"
    return [f"{ready}/{total}", reason, restarts_text, p.since(_meta(pod, "creationTimestamp")),
            ip, _get(spec, "nodeName") or "<none>", _get(status, "nominatedNodeName") or "<none>", gates_text]


def _event_cells(p: Printer, ev: dict) -> list:
    first = p.since(ev.get("firstTimestamp")) if ev.get("firstTimestamp") else p.since(ev.get("eventTime"))
    last = p.since(ev.get("lastTimestamp")) if ev.get("lastTimestamp") else first
    count = _num(ev.get("count"))
    series = ev.get("series")
    if isinstance(series, dict):
        last = p.since(series.get("lastObservedTime"))
        count = _num(series.get("count"))
    elif count == 0:
        count = 1
    kind = str(_get(ev, "involvedObject", "kind", default="")).lower()
    name = _get(ev, "involvedObject", "name", default="")
    target = f"{kind}/{name}" if name else kind
    source = _get(ev, "source", default={})
    component = ev.get("reportingComponent") or _get(source, "component", default="")
    host = ev.get("reportingInstance") or _get(source, "host", default="")
    src = f"{component}, {host}" if host else str(component)
    return [last, ev.get("type", ""), ev.get("reason", ""), target, _get(ev, "involvedObject", "fieldPath", default=""),
            src, str(ev.get("message", "")).strip(), first, count, _meta(ev, "name")]


def _event_v1_cells(p: Printer, ev: dict) -> list:
    core = {"firstTimestamp": ev.get("deprecatedFirstTimestamp"), "lastTimestamp": ev.get("deprecatedLastTimestamp"),
            "eventTime": ev.get("eventTime"), "count": ev.get("deprecatedCount"), "series": ev.get("series"),
            "involvedObject": ev.get("regarding"), "type": ev.get("type"), "reason": ev.get("reason"),
            "message": ev.get("note"), "reportingComponent": ev.get("reportingController"),
            "reportingInstance": ev.get("reportingInstance"), "source": ev.get("deprecatedSource"), "metadata": ev.get("metadata")}
    return _event_cells(p, {k: v for k, v in core.items() if v is not None})


def _node_cells(p: Printer, node: dict) -> list:
    ready = _condition(node, "Ready")
    status = ["Unknown" if ready is None or ready.get("status") not in ("True", "False") else "Ready" if ready.get("status") == "True" else "NotReady"]
    if _get(node, "spec", "unschedulable") is True:
        status.append("SchedulingDisabled")
    labels = _get(node, "metadata", "labels", default={})
    roles = sorted({k.split("/", 1)[1] for k in labels if k.startswith("node-role.kubernetes.io/") and k.split("/", 1)[1]}
                   | ({labels["kubernetes.io/role"]} if labels.get("kubernetes.io/role") else set()))
    addrs = [a for a in _lst(_get(node, "status", "addresses")) if isinstance(a, dict)]

    def addr(kind):
        return next((a.get("address") for a in addrs if a.get("type") == kind), None) or "<none>"

    info = _get(node, "status", "nodeInfo", default={})
    return [",".join(status), ",".join(roles) or "<none>", p.since(_meta(node, "creationTimestamp")), info.get("kubeletVersion", ""),
            addr("InternalIP"), addr("ExternalIP"), info.get("osImage") or "<unknown>", info.get("kernelVersion") or "<unknown>",
            info.get("containerRuntimeVersion") or "<unknown>"]


def _containers(obj: dict) -> tuple[str, str]:
    cs = [c for c in _lst(_get(obj, "spec", "template", "spec", "containers")) if isinstance(c, dict)]
    return ",".join(str(c.get("name", "")) for c in cs), ",".join(str(c.get("image", "")) for c in cs)


def _selector(obj: dict) -> str:
    sel = _get(obj, "spec", "selector", default={})
    if not isinstance(sel, dict):
        return "<none>"
    parts = [f"{k}={v}" for k, v in sorted((sel.get("matchLabels") or {}).items())]
    for e in _lst(sel.get("matchExpressions")):
        if isinstance(e, dict):
            op = {"In": "in", "NotIn": "notin"}.get(e.get("operator"))
            if op:
                parts.append(f"{e.get('key')} {op} ({','.join(map(str, _lst(e.get('values'))))})")
            else:
                parts.append(("!" if e.get("operator") == "DoesNotExist" else "") + str(e.get("key")))
    return ",".join(parts) or "<none>"


def _deployment_cells(p: Printer, d: dict) -> list:
    names, images = _containers(d)
    st = _get(d, "status", default={})
    desired = _get(d, "spec", "replicas", default=1)
    return [f"{_num(st.get('readyReplicas'))}/{_num(desired)}", _num(st.get("updatedReplicas")), _num(st.get("availableReplicas")),
            p.since(_meta(d, "creationTimestamp")), names, images, _selector(d)]


def _replicaset_cells(p: Printer, r: dict) -> list:
    names, images = _containers(r)
    st = _get(r, "status", default={})
    return [_num(_get(r, "spec", "replicas", default=1)), _num(st.get("replicas")), _num(st.get("readyReplicas")),
            p.since(_meta(r, "creationTimestamp")), names, images, _selector(r)]


def _statefulset_cells(p: Printer, s: dict) -> list:
    names, images = _containers(s)
    return [f"{_num(_get(s, 'status', 'readyReplicas'))}/{_num(_get(s, 'spec', 'replicas', default=1))}",
            p.since(_meta(s, "creationTimestamp")), names, images]


def _daemonset_cells(p: Printer, d: dict) -> list:
    names, images = _containers(d)
    st = _get(d, "status", default={})
    ns = _get(d, "spec", "template", "spec", "nodeSelector", default={})
    node_sel = ",".join(f"{k}={v}" for k, v in sorted(ns.items())) if isinstance(ns, dict) and ns else "<none>"
    return [_num(st.get("desiredNumberScheduled")), _num(st.get("currentNumberScheduled")), _num(st.get("numberReady")),
            _num(st.get("updatedNumberScheduled")), _num(st.get("numberAvailable")), node_sel,
            p.since(_meta(d, "creationTimestamp")), names, images, _selector(d)]


def _job_cells(p: Printer, j: dict) -> list:
    spec, st = _get(j, "spec", default={}), _get(j, "status", default={})
    succeeded = _num(st.get("succeeded"))
    if isinstance(spec.get("completions"), int):
        completions = f"{succeeded}/{spec['completions']}"
    elif _num(spec.get("parallelism")) > 1:
        completions = f"{succeeded}/1 of {_num(spec.get('parallelism'))}"
    else:
        completions = f"{succeeded}/1"
    start = parse_time(st["startTime"]) if isinstance(st.get("startTime"), str) else None
    done = parse_time(st["completionTime"]) if isinstance(st.get("completionTime"), str) else None
    duration = "" if start is None else human_duration((done or p.now) - start)

    def has(ctype):
        c = _condition(j, ctype)
        return c is not None and c.get("status") == "True"

    if has("Complete"):
        status = "Complete"
    elif has("Failed"):
        status = "Failed"
    elif _meta(j, "deletionTimestamp"):
        status = "Terminating"
    elif has("Suspended"):
        status = "Suspended"
    elif has("FailureTarget"):
        status = "FailureTarget"
    elif has("SuccessCriteriaMet"):
        status = "SuccessCriteriaMet"
    else:
        status = "Running"
    cs = [c for c in _lst(_get(j, "spec", "template", "spec", "containers")) if isinstance(c, dict)]
    return [status, completions, duration, p.since(_meta(j, "creationTimestamp")),
            ",".join(str(c.get("name", "")) for c in cs), ",".join(str(c.get("image", "")) for c in cs), _selector(j)]


def _namespace_cells(p: Printer, n: dict) -> list:
    return [_get(n, "status", "phase", default=""), p.since(_meta(n, "creationTimestamp"))]


def _service_cells(p: Printer, s: dict) -> list:
    spec = _get(s, "spec", default={})
    typ = spec.get("type") or "ClusterIP"
    ingress = [i.get("ip") or i.get("hostname") for i in _lst(_get(s, "status", "loadBalancer", "ingress")) if isinstance(i, dict)]
    external = [str(x) for x in _lst(spec.get("externalIPs"))]
    if typ == "LoadBalancer":
        ext = ",".join([x for x in ingress if x] + external) or "<pending>"
    elif typ == "ExternalName":
        ext = spec.get("externalName") or "<none>"
    else:
        ext = ",".join(external) or "<none>"
    ports = []
    for port in _lst(spec.get("ports")):
        if isinstance(port, dict):
            proto = port.get("protocol") or "TCP"
            ports.append(f"{port.get('port')}:{port['nodePort']}/{proto}" if port.get("nodePort") else f"{port.get('port')}/{proto}")
    sel = spec.get("selector")
    selector = ",".join(f"{k}={v}" for k, v in sorted(sel.items())) if isinstance(sel, dict) and sel else "<none>"
    return [typ, spec.get("clusterIP") or "<none>", ext, ",".join(ports) or "<none>", p.since(_meta(s, "creationTimestamp")), selector]


def _configmap_cells(p: Printer, c: dict) -> list:
    n = len(c.get("data") or {}) + len(c.get("binaryData") or {})
    return [n, p.since(_meta(c, "creationTimestamp"))]


def _secret_cells(p: Printer, s: dict) -> list:
    return [s.get("type", ""), len(s.get("data") or {}), p.since(_meta(s, "creationTimestamp"))]


def _endpoints_cells(p: Printer, e: dict) -> list:
    addrs = []
    for subset in _lst(e.get("subsets")):
        if not isinstance(subset, dict):
            continue
        ports = [pt.get("port") for pt in _lst(subset.get("ports")) if isinstance(pt, dict)] or [None]
        for a in _lst(subset.get("addresses")):
            for port in ports:
                ip = a.get("ip") if isinstance(a, dict) else None
                addrs.append(f"{ip}:{port}" if port is not None else str(ip))
    text = ",".join(addrs[:3]) + (f" + {len(addrs) - 3} more..." if len(addrs) > 3 else "") if addrs else "<none>"
    return [text, p.since(_meta(e, "creationTimestamp"))]


STR, INT = "string", "integer"
BUILTIN_PRINTERS = {
    ("", "pods"): ((("Ready", STR, "The aggregate readiness state of this pod for accepting traffic.", 0),
                    ("Status", STR, "The aggregate status of the containers in this pod.", 0),
                    ("Restarts", STR, "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.", 0),
                    ("Age", STR, "CreationTimestamp is a timestamp representing the server time when this object was created.", 0),
                    ("IP", STR, "IP address allocated to the pod.", 1), ("Node", STR, "Name of the node the pod runs on.", 1),
                    ("Nominated Node", STR, "Nominated node name.", 1), ("Readiness Gates", STR, "Pod readiness gates.", 1)), _pod_cells),
    ("", "events"): ((("Last Seen", STR, "The time at which the most recent occurrence of this event was recorded.", 0),
                      ("Type", STR, "Type of this event (Normal, Warning).", 0), ("Reason", STR, "Why the action was taken.", 0),
                      ("Object", STR, "The object that this event is about.", 0), ("Subobject", STR, "The field path of the object.", 1),
                      ("Source", STR, "The component reporting this event.", 1), ("Message", STR, "A human-readable description.", 0),
                      ("First Seen", STR, "The time at which the event was first recorded.", 1), ("Count", STR, "The number of times this event has occurred.", 1),
                      ("Name", STR, "Name of the event.", 1)), _event_cells),
    ("events.k8s.io", "events"): None,  # filled below: same columns, converted cells
    ("", "nodes"): ((("Status", STR, "The status of the node", 0), ("Roles", STR, "The roles of the node", 0),
                     ("Age", STR, "Time since the node was created.", 0), ("Version", STR, "Kubelet Version reported by the node.", 0),
                     ("Internal-IP", STR, "List of internal IPs.", 1), ("External-IP", STR, "List of external IPs.", 1),
                     ("OS-Image", STR, "OS Image reported by the node.", 1), ("Kernel-Version", STR, "Kernel Version reported by the node.", 1),
                     ("Container-Runtime", STR, "Container Runtime Version reported by the node.", 1)), _node_cells),
    ("", "namespaces"): ((("Status", STR, "The status of the namespace", 0), ("Age", STR, "Time since the namespace was created.", 0)), _namespace_cells),
    ("", "services"): ((("Type", STR, "The type of the service.", 0), ("Cluster-IP", STR, "The IP address of the service.", 0),
                        ("External-IP", STR, "The external IP addresses of the service.", 0), ("Port(s)", STR, "The ports of the service.", 0),
                        ("Age", STR, "Time since the service was created.", 0), ("Selector", STR, "The selector of the service.", 1)), _service_cells),
    ("", "configmaps"): ((("Data", INT, "Number of data keys.", 0), ("Age", STR, "Time since the config map was created.", 0)), _configmap_cells),
    ("", "secrets"): ((("Type", STR, "The type of the secret.", 0), ("Data", INT, "Number of data keys.", 0),
                       ("Age", STR, "Time since the secret was created.", 0)), _secret_cells),
    ("", "endpoints"): ((("Endpoints", STR, "Endpoints of the service.", 0), ("Age", STR, "Time since the endpoints were created.", 0)), _endpoints_cells),
    ("apps", "deployments"): ((("Ready", STR, "Number of the pod with ready state", 0), ("Up-to-date", INT, "Total number of non-terminated pods that have the desired template spec.", 0),
                               ("Available", INT, "Total number of available pods.", 0), ("Age", STR, "Time since the deployment was created.", 0),
                               ("Containers", STR, "Names of each container in the template.", 1), ("Images", STR, "Images referenced by each container in the template.", 1),
                               ("Selector", STR, "Label selector for pods.", 1)), _deployment_cells),
    ("apps", "replicasets"): ((("Desired", INT, "Number of desired pods.", 0), ("Current", INT, "Number of actual replicas.", 0),
                               ("Ready", INT, "The number of ready replicas.", 0), ("Age", STR, "Time since the replica set was created.", 0),
                               ("Containers", STR, "Names of each container in the template.", 1), ("Images", STR, "Images referenced by each container in the template.", 1),
                               ("Selector", STR, "Label selector for pods.", 1)), _replicaset_cells),
    ("apps", "statefulsets"): ((("Ready", STR, "Number of the pod with ready state", 0), ("Age", STR, "Time since the stateful set was created.", 0),
                                ("Containers", STR, "Names of each container in the template.", 1), ("Images", STR, "Images referenced by each container in the template.", 1)), _statefulset_cells),
    ("apps", "daemonsets"): ((("Desired", INT, "Number of nodes that should run the daemon pod.", 0), ("Current", INT, "Number of nodes running the daemon pod.", 0),
                              ("Ready", INT, "Number of nodes with the daemon pod ready.", 0), ("Up-to-date", INT, "Number of nodes running the updated daemon pod.", 0),
                              ("Available", INT, "Number of nodes with the daemon pod available.", 0), ("Node Selector", STR, "Node selector of the pod template.", 0),
                              ("Age", STR, "Time since the daemon set was created.", 0), ("Containers", STR, "Names of each container in the template.", 1),
                              ("Images", STR, "Images referenced by each container in the template.", 1), ("Selector", STR, "Label selector for pods.", 1)), _daemonset_cells),
    ("batch", "jobs"): ((("Status", STR, "Status of the job.", 0), ("Completions", STR, "The completion status of the job.", 0),
                         ("Duration", STR, "Time required to complete the job.", 0), ("Age", STR, "Time since the job was created.", 0),
                         ("Containers", STR, "Names of each container in the template.", 1), ("Images", STR, "Images referenced by each container in the template.", 1),
                         ("Selector", STR, "Label selector for pods.", 1)), _job_cells),
}
BUILTIN_PRINTERS[("events.k8s.io", "events")] = (BUILTIN_PRINTERS[("", "events")][0], _event_v1_cells)
# Built-ins without a printer of their own show the default convertor's absolute creation time.
CREATED_AT_TYPES = {
    ("rbac.authorization.k8s.io", "roles"), ("rbac.authorization.k8s.io", "clusterroles"),
    ("apiextensions.k8s.io", "customresourcedefinitions"), ("apiregistration.k8s.io", "apiservices"),
    ("admissionregistration.k8s.io", "mutatingwebhookconfigurations"), ("admissionregistration.k8s.io", "validatingwebhookconfigurations"),
}


