"""Routing of API paths to answers; every method but GET and HEAD is refused."""


from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import parse_qs, unquote, urlsplit

import orjson

from analyzer.bundle import Bundle, parse_time
from analyzer.serve.logs import render_log
from analyzer.serve.resources import (
    CORE_SUBRESOURCES,
    DENIED_USER,
    GROUP_ORDER,
    SELF_REVIEWS,
    ApiError,
    Registry,
    ResourceType,
    _bad_request,
    _is_name,
    _get,
    _lst,
    _method_not_allowed,
    _not_found_path,
)
from analyzer.serve.selectors import (
    check_field_selector,
    fields_match,
    labels_match,
    parse_field_selector,
    parse_label_selector,
)
from analyzer.serve.tables import Printer, _meta

# GET /api/v1/namespaces/NS/services/[SCHEME:]NAME[:PORT]/proxy/PATH: the API server's service proxy.
_SERVICE_PROXY = re.compile(r"^/api/v1/namespaces/([^/]+)/services/([^/]+)/proxy(/.*)?$")

# ------------------------------------------------------------------ the api


@dataclass
class Answer:
    status: int
    body: bytes
    content_type: str = "application/json"


class Api:
    """Request -> answer, with no HTTP in it: the part the tests could call directly."""

    def __init__(self, bundle: Bundle, registry: Registry, version: dict,
                 deny: dict[str, set[str | None]] | None = None, delay: dict[str, float] | None = None):
        self.bundle = bundle
        self.registry = registry
        self.version = version
        self.deny: dict[str, set[str | None]] = {}
        for key, namespaces in (deny or {}).items():
            for name in self._aliases(key):
                self.deny.setdefault(name, set()).update(namespaces)
        self.delay = {name: float(secs) for key, secs in (delay or {}).items() for name in self._aliases(key)}
        self.printer = Printer(bundle.reference_time)
        self.logs = {(lf.namespace, lf.pod, lf.container, lf.previous): lf for lf in bundle.logs}  # read when asked for
        versions = [str(_meta(o, "resourceVersion") or "") for t in registry.types.values() for o in t.objects.values()]
        self.resource_version = str(max([int(v) for v in versions if v.isdigit() and len(v) < 20] or [1]))

    def _aliases(self, key: str) -> set[str]:
        """``promo``, ``stage/log`` -> the names requests are matched by (``promotions.kargo.akuity.io``, ...)."""
        key = key.strip().lower()
        base, slash, sub = key.partition("/")
        t = self.registry.resolve(base)
        out = {key}
        if t is not None:
            out |= {f"{n}/{sub}" for n in t.names()} if slash else t.names()
        return out

    # -- routing

    def delay_for(self, path: str) -> float:
        """Seconds to hold the answer to ``path`` (0 when no delay applies)."""
        if not self.delay:
            return 0.0
        if _SERVICE_PROXY.match(urlsplit(path).path):
            names = {"services/proxy", "*"}
            return max((float(s) for k, s in self.delay.items() if k in names), default=0.0)
        try:
            target = self._target(urlsplit(path).path)
        except ApiError:
            return 0.0
        if target is None:
            return 0.0
        t, _ns, _name, sub = target
        names = {f"{t.plural}/{sub}", f"{t.qualified}/{sub}"} if sub else t.names()
        if sub is None or sub == "log":
            names.add("*")  # "*": every list, get and log (discovery stays fast), to simulate API latency
        return max((float(s) for k, s in self.delay.items() if k in names), default=0.0)

    def handle(self, method: str, raw_path: str, accept: str) -> Answer:
        try:
            if method not in ("GET", "HEAD"):
                raise _method_not_allowed(
                    f"the server does not allow this method on the requested resource: {method} is refused, this server is a read-only replay of a bundle")
            split = urlsplit(raw_path)
            query = {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
            return self._get(split.path, query, accept)
        except ApiError as exc:
            return Answer(exc.code, orjson.dumps(exc.status()))

    def _get(self, path: str, query: dict[str, str], accept: str) -> Answer:
        path = path.rstrip("/") or "/"
        if path == "/version":
            return _json(self.version)
        if path in ("/healthz", "/livez", "/readyz"):
            return Answer(200, b"ok", "text/plain; charset=utf-8")
        if path == "/api":
            return _json({"kind": "APIVersions", "versions": ["v1"],
                          "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]})
        if path == "/apis":
            return _json(self._group_list())
        if path.startswith("/openapi") or path.startswith("/swagger"):
            raise ApiError(404, "NotFound", "this server replays a bundle and serves no OpenAPI schema", {})
        proxy = _SERVICE_PROXY.match(path)
        if proxy:
            return self._service_proxy(unquote(proxy.group(1)), unquote(proxy.group(2)), proxy.group(3) or "/")
        target = self._target(path)
        if target is None:  # a discovery document
            return _json(self._discovery(path))
        t, ns, name, sub = target
        if _truthy(query.get("watch")):
            raise _method_not_allowed("watch is not supported: this server replays a bundle snapshot, nothing changes")
        if sub == "log":
            return self._log(t, ns or "", name or "", query)
        if sub not in (None, "status"):
            raise _not_found_path()
        if "get" not in t.verbs and "list" not in t.verbs:
            raise _method_not_allowed()
        self._check_deny(t, ns, name, "get" if name else "list")
        table = _wants_table(accept)
        if name is not None:
            obj = self._one(t, ns, name)
            if table:
                return _json(self.printer.table(t, [obj], query.get("includeObject", "Metadata"), self.resource_version))
            return _json(obj)
        objects = self._list(t, ns, query)
        if table:
            return _json(self.printer.table(t, objects, query.get("includeObject", "Metadata"), self.resource_version))
        return _json({"apiVersion": t.group_version, "kind": f"{t.kind}List",
                      "metadata": {"resourceVersion": self.resource_version}, "items": objects})

    def _target(self, path: str) -> tuple[ResourceType, str | None, str | None, str | None] | None:
        """``(type, namespace, name, subresource)`` for a resource path; None for a discovery path."""
        parts = [unquote(p) for p in path.strip("/").split("/")]
        if parts[:2] == ["api", "v1"]:
            group, version, rest = "", "v1", parts[2:]
        elif parts[0] == "apis" and len(parts) >= 3:
            group, version, rest = parts[1], parts[2], parts[3:]
        elif parts[0] == "apis" and len(parts) == 2:
            return None
        else:
            raise _not_found_path()
        if not rest:
            if group not in self.registry.group_versions() or version not in self.registry.group_versions()[group]:
                raise _not_found_path()
            return None
        if any(not p or p in (".", "..") or "\x00" in p for p in rest):
            raise _not_found_path()
        if rest[0] == "namespaces" and len(rest) >= 3 and group == "":
            ns = rest[1]
            t = self.registry.lookup(group, version, rest[2])
            if t is not None and t.namespaced:
                if len(rest) > 5:
                    raise _not_found_path()
                return t, ns, rest[3] if len(rest) > 3 else None, rest[4] if len(rest) > 4 else None
            if len(rest) == 3 and rest[2] in ("status", "finalize"):
                t = self.registry.lookup("", "v1", "namespaces")
                if t is not None:
                    return t, None, ns, rest[2]
            raise _not_found_path()
        if rest[0] == "namespaces" and len(rest) >= 3 and group != "":
            t = self.registry.lookup(group, version, rest[2])
            if t is None or not t.namespaced or len(rest) > 5:
                raise _not_found_path()
            return t, rest[1], rest[3] if len(rest) > 3 else None, rest[4] if len(rest) > 4 else None
        t = self.registry.lookup(group, version, rest[0])
        if t is None or len(rest) > 3:
            raise _not_found_path()
        if len(rest) >= 2 and t.namespaced:
            raise _not_found_path()
        return t, None, rest[1] if len(rest) > 1 else None, rest[2] if len(rest) > 2 else None

    # -- discovery

    def _group_list(self) -> dict:
        gvs = self.registry.group_versions()
        groups = [g for g in gvs if g]
        ordered = [g for g in GROUP_ORDER if g in groups] + sorted(g for g in groups if g not in GROUP_ORDER)
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [_group(g, gvs[g]) for g in ordered]}

    def _discovery(self, path: str) -> dict:
        parts = path.strip("/").split("/")
        gvs = self.registry.group_versions()
        if parts[0] == "apis" and len(parts) == 2:
            if parts[1] not in gvs or not parts[1]:
                raise _not_found_path()
            return {"kind": "APIGroup", "apiVersion": "v1", **_group(parts[1], gvs[parts[1]])}
        group, version = ("", "v1") if parts[0] == "api" else (parts[1], parts[2])
        resources = []
        for t in sorted(self.registry.served(), key=lambda t: t.plural):
            if t.group == group and t.version == version:
                resources.append(t.discovery())
                if group == "":
                    resources += [{"name": sub, "singularName": "", "namespaced": True, "kind": kind, "verbs": ["get"]}
                                  for sub, kind in CORE_SUBRESOURCES.items() if sub.split("/")[0] == t.plural]
        if group == "authorization.k8s.io" and version == "v1":
            resources += [{"name": n, "singularName": k.lower(), "namespaced": False, "kind": k, "verbs": ["create"]} for n, k in SELF_REVIEWS]
        out = {"kind": "APIResourceList", "groupVersion": f"{group}/{version}" if group else version, "resources": resources}
        if group:
            out["apiVersion"] = "v1"
        return out

    # -- objects

    def _check_deny(self, t: ResourceType, ns: str | None, name: str | None, verb: str, sub: str | None = None) -> None:
        names = {f"{t.plural}/{sub}", f"{t.qualified}/{sub}"} if sub else t.names()
        scopes: set[str | None] = set()
        for key, namespaces in self.deny.items():
            if key in names:
                scopes |= namespaces
        if not scopes:
            return
        # A namespace-bound denial also denies the cluster-wide list: the permission is missing somewhere.
        if None in scopes or ns is None or ns in scopes:
            resource = f"{t.plural}/{sub}" if sub else t.plural
            who = f'{t.qualified} "{name}"' if name else t.qualified
            where = f'in the namespace "{ns}"' if ns is not None else "at the cluster scope"
            details = {"group": t.group, "kind": t.plural}
            if name:
                details = {"name": name, **details}
            raise ApiError(403, "Forbidden",
                           f'{who} is forbidden: User "{DENIED_USER}" cannot {verb} resource "{resource}" in API group "{t.group}" {where}',
                           details)

    def _not_collected(self, t: ResourceType, ns: str | None, name: str | None = None) -> ApiError:
        failure = self.registry.failure(t, ns)
        if failure is not None:
            # The bundle's own gap, replayed: Forbidden stays Forbidden, the rest is "not collected".
            status, message = failure
            details = {"group": t.group, "kind": t.plural, **({"name": name} if name else {})}
            if status == "forbidden":
                text = re.sub(r"^Error from server \(Forbidden\):\s*", "", message.splitlines()[0] if message else "")
                return ApiError(403, "Forbidden", text or f"{t.qualified} is forbidden (recorded in the bundle's manifest)", details)
            where = f' in namespace "{ns}"' if ns else ""
            return ApiError(404, "NotFound", f"{t.qualified}{where} could not be collected when this bundle was taken ({status})", details)
        base = t.derived_from and self.registry.types.get(t.derived_from) or t
        have = sorted(base.covered_ns | {n for n, _ in base.objects if n})
        where = f' in namespace "{ns}"' if ns else ""
        subject = f'{t.qualified} "{name}"{where} was' if name else f"{t.qualified}{where} were"
        hint = f"; collected namespaces: {', '.join(have[:20])}" if have and ns else ""
        details = {"group": t.group, "kind": t.plural}
        if name:
            details = {"name": name, **details}
        return ApiError(404, "NotFound", f"{subject} not collected in this bundle{hint}", details)

    def _one(self, t: ResourceType, ns: str | None, name: str) -> dict:
        obj = self.registry.objects(t).get((ns or "", name))
        if obj is not None:
            return obj
        if (t.group, t.plural) == ("", "pods") and ns:
            pod = self._pod_from_logs(ns, name)
            if pod is not None:
                return pod
        if not self.registry.covered(t, ns):
            raise self._not_collected(t, ns, name)
        raise ApiError(404, "NotFound", f'{t.qualified} "{name}" not found', {"name": name, "group": t.group, "kind": t.plural})

    def _list(self, t: ResourceType, ns: str | None, query: dict[str, str]) -> list[dict]:
        if not self.registry.covered(t, ns):
            raise self._not_collected(t, ns)
        labels = parse_label_selector(query.get("labelSelector", ""))
        terms = parse_field_selector(query.get("fieldSelector", ""))
        check_field_selector(t, terms)
        source = t
        if t.derived_from:
            source = self.registry.types.get(t.derived_from) or t
        out = []
        for (obj_ns, _name), obj in sorted(self.registry.objects(t).items()):
            if ns is not None and obj_ns != ns:
                continue
            raw = source.objects.get((obj_ns, _name), obj) if t.derived_from else obj
            md_labels = _get(obj, "metadata", "labels", default={})
            if labels and not labels_match(md_labels if isinstance(md_labels, dict) else {}, labels):
                continue
            if terms and not fields_match(t, raw, terms):
                continue
            out.append(obj)
        return out

    # -- the service proxy

    def _service_proxy(self, ns: str, service: str, sub: str) -> Answer:
        """A Prometheus Service's ``/api/v1/targets``, answered from the bundle's PrometheusTarget objects.

        Nothing else is behind a service here: any other path, or a Service whose answer the bundle does
        not hold, is a 404 Status. ``services/proxy`` is its own RBAC resource, as on a real apiserver
        (``deny={"services/proxy": ...}``); a collection the manifest records as failed stays failed.
        """
        services = self.registry.types[("", "services")]
        self._check_deny(services, ns, service, "get", sub="proxy")
        parts = service.split(":")  # NAME, NAME:PORT or SCHEME:NAME:PORT
        if len(parts) > 3:
            raise _not_found_path()
        name, port = (parts[0], "") if len(parts) == 1 else (parts[0], parts[1]) if len(parts) == 2 else (parts[1], parts[2])
        if not _is_name(ns) or not _is_name(name):
            raise _not_found_path()
        details = {"name": name, "kind": "services"}
        found = self.registry.prometheus_targets.get((ns, name))
        svc = self.registry.objects(services).get((ns, name))
        if found is None:
            failure = self.registry.prometheus_failed.get(ns)
            if failure is not None:
                status, message = failure
                if status == "forbidden":
                    text = re.sub(r"^Error from server \(Forbidden\):\s*", "", message.splitlines()[0] if message else "")
                    raise ApiError(403, "Forbidden", text or f'services "{service}" is forbidden (recorded in the bundle\'s manifest)', details)
                raise ApiError(404, "NotFound", f'the Prometheus targets of services "{name}" in namespace "{ns}" could not be collected '
                                                f"when this bundle was taken ({status})", details)
            if svc is None:
                raise ApiError(404, "NotFound", f'services "{name}" not found', details)
        if svc is not None and port:
            ports = [p for p in _lst(_get(svc, "spec", "ports")) if isinstance(p, dict)]
            if ports and not any(port in (str(p.get("name") or ""), str(p.get("port") or "")) for p in ports):
                raise ApiError(503, "ServiceUnavailable", f'no service port "{port}" found for service "{name}"', {})
        if found is None or sub.rstrip("/") != "/api/v1/targets":
            what = "the Prometheus targets" if found is None else f"{sub!r}"
            raise ApiError(404, "NotFound", f'{what} of services "{name}" in namespace "{ns}" not collected in this bundle '
                                            "(only /api/v1/targets of a Prometheus Service is)", details)
        return _json(found["response"])

    # -- logs

    def _pod_from_logs(self, ns: str, name: str) -> dict | None:
        """A pod the bundle holds logs of but not the object: enough of it for ``kubectl logs`` (which GETs the pod first)."""
        containers = sorted({c for (n, p, c, _prev) in self.logs if n == ns and p == name})
        if not containers:
            return None
        restarted = {c for (n, p, c, prev) in self.logs if n == ns and p == name and prev}
        return {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": ns,
                         "annotations": {"gitops-master/note": "the bundle holds this pod's logs, not the pod object"}},
            "spec": {"containers": [{"name": c, "image": ""} for c in containers]},
            "status": {"phase": "Unknown", "containerStatuses": [
                {"name": c, "ready": False, "restartCount": 1 if c in restarted else 0, "image": "", "imageID": "", "state": {}}
                for c in containers]},
        }

    def _log(self, t: ResourceType, ns: str, pod_name: str, query: dict[str, str]) -> Answer:
        if (t.group, t.plural) != ("", "pods"):
            raise _not_found_path()
        self._check_deny(t, ns, pod_name, "get", sub="log")
        pod = self.registry.objects(t).get((ns, pod_name))
        have = sorted({(c, prev) for (n, p, c, prev) in self.logs if n == ns and p == pod_name})
        if pod is None and not have:
            self._one(t, ns, pod_name)  # raises the right NotFound
        containers = [str(c.get("name")) for c in _lst(_get(pod, "spec", "containers")) if isinstance(c, dict)] if pod else []
        inits = [str(c.get("name")) for c in _lst(_get(pod, "spec", "initContainers")) if isinstance(c, dict)] if pod else []
        ephemeral = [str(c.get("name")) for c in _lst(_get(pod, "spec", "ephemeralContainers")) if isinstance(c, dict)] if pod else []
        if pod is None:
            containers = sorted({c for c, _ in have})
        container = query.get("container") or ""
        if not container:
            if len(containers) == 1:
                container = containers[0]
            else:
                msg = f"a container name must be specified for pod {pod_name}, choose one of: [{' '.join(containers)}]"
                if inits:
                    msg += f" or one of the init containers: [{' '.join(inits)}]"
                raise _bad_request(msg)
        if pod is not None and container not in containers + inits + ephemeral:
            raise _bad_request(f"container {container} is not valid for pod {pod_name}")
        previous = _truthy(query.get("previous"))
        since = None
        if query.get("sinceSeconds"):
            secs = query["sinceSeconds"]
            if not secs.isdigit() or int(secs) < 1:
                raise _bad_request(f"PodLogOptions.v1 \"\" is invalid: sinceSeconds: Invalid value: {secs}: must be greater than 0")
            since = self.bundle.reference_time - timedelta(seconds=int(secs))
        if query.get("sinceTime"):
            since = parse_time(query["sinceTime"])
            if since is None:
                raise _bad_request(f"invalid sinceTime {query['sinceTime']!r}: not an RFC 3339 time")
        tail = _nonneg(query.get("tailLines"), "tailLines")
        limit = _nonneg(query.get("limitBytes"), "limitBytes")
        if limit == 0:
            raise _bad_request("PodLogOptions.v1 \"\" is invalid: limitBytes: Invalid value: 0: must be greater than 0")
        log = self.logs.get((ns, pod_name, container, previous))
        data = log.read() if log is not None else None
        if data is None and self.registry.uncollected == "empty" and pod is not None and (
                not previous or _restarted(pod, container)):
            data = b""  # "empty": a log the bundle lacks reads as an empty one
        if data is None:
            if previous:
                raise _bad_request(f'previous terminated container "{container}" in pod "{pod_name}" not found')
            waiting = next((_get(s, "state", "waiting") for s in _lst(_get(pod, "status", "containerStatuses"))
                            + _lst(_get(pod, "status", "initContainerStatuses")) if isinstance(s, dict) and s.get("name") == container), None)
            if isinstance(waiting, dict):
                raise _bad_request(f'container "{container}" in pod "{pod_name}" is waiting to start: {waiting.get("reason") or "ContainerCreating"}')
            raise ApiError(404, "NotFound", f'the log of container "{container}" in pod "{pod_name}" (namespace "{ns}") was not collected in this bundle',
                           {"name": pod_name, "kind": "pods"})
        body = render_log(data, self.bundle.reference_time, timestamps=_truthy(query.get("timestamps")), since=since, tail=tail, limit=limit)
        return Answer(200, body, "text/plain")


def _restarted(pod: dict, container: str) -> bool:
    for s in _lst(_get(pod, "status", "containerStatuses")) + _lst(_get(pod, "status", "initContainerStatuses")):
        if isinstance(s, dict) and s.get("name") == container:
            return bool(s.get("restartCount")) or isinstance(_get(s, "lastState", "terminated"), dict)
    return False


def _nonneg(value: str | None, name: str) -> int | None:
    if value is None or value == "":
        return None
    if not value.isdigit():
        raise _bad_request(f"PodLogOptions.v1 \"\" is invalid: {name}: Invalid value: {value!r}: must be a non-negative integer")
    return int(value)


def _truthy(value: str | None) -> bool:
    return value is not None and value.lower() in ("true", "1", "")


def _wants_table(accept: str) -> bool:
    for alt in accept.split(","):
        params = {k.strip(): v.strip() for k, _, v in (p.partition("=") for p in alt.split(";")[1:])}
        if params.get("as") == "Table" and params.get("g") == "meta.k8s.io":
            return True
    return False


def _group(name: str, versions: list[str]) -> dict:
    vs = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
    return {"name": name, "versions": vs, "preferredVersion": vs[0]}


def _json(obj: object) -> Answer:
    return Answer(200, orjson.dumps(obj))


