"""A read-only Kubernetes API server over a bundle.

Point the real ``kubectl`` at a snapshot: ``gitops-master serve BUNDLE``
writes a kubeconfig for ``http://127.0.0.1:PORT`` and answers the requests
``kubectl get``, ``describe``, ``logs``, ``api-resources`` and ``version``
make, from the objects :func:`analyzer.bundle.open_bundle` read. Nothing is
ever served by path: every answer is built from parsed objects and log files.

What it answers, like the real apiserver:

* discovery (``/version``, ``/api``, ``/api/v1``, ``/apis``, ``/apis/G``,
  ``/apis/G/V``) in the legacy, unaggregated form. Newer clients ask for
  aggregated discovery first and fall back when the answer is plain JSON.
* get and list of every resource in the bundle, all namespaces or one, with
  ``labelSelector`` and ``fieldSelector``; ``meta.k8s.io/v1`` Tables for
  ``kubectl get``, with the printer columns of the built-in kinds and of the
  Kargo, Argo CD and Argo Rollouts CRDs. Ages in tables are measured from the
  bundle's reference time (the collection instant), never from now.
* container logs (``/pods/NAME/log``) with ``container``, ``previous``,
  ``timestamps``, ``sinceSeconds``, ``sinceTime``, ``tailLines`` and
  ``limitBytes``; ``sinceSeconds`` counts back from the reference time. A pod
  the bundle holds logs of but not the object of is answered from its logs, so
  that ``kubectl logs`` (which GETs the pod first) works.
* the service proxy for a Prometheus Service's ``/api/v1/targets``
  (``kubectl get --raw /api/v1/namespaces/NS/services/SVC:PORT/proxy/api/v1/targets``),
  answered with the ``response`` of the bundle's ``PrometheusTarget`` object of
  that Service (``bundle.gitops-master.io``, what collector.sh read there); a
  404 Status for any other path or a Service whose answer the bundle lacks.
  ``PrometheusTarget`` is the bundle's kind, not an API resource: it is not
  served as one.

What it refuses:

* every method but GET and HEAD (405 ``MethodNotAllowed``): the server is
  read-only, so ``kubectl auth can-i`` (a POST of a SelfSubjectAccessReview, or
  with ``--list`` of a SelfSubjectRulesReview),
  ``apply``, ``edit``, ``exec`` and ``port-forward`` fail;
* watches (405), ``/openapi/v2`` and ``/openapi/v3`` (404: ``kubectl explain``
  and client-side validation are unavailable);
* a list of something the bundle does not hold for that namespace answers 404
  "were not collected in this bundle", never an empty list, so "not collected"
  is not mistaken for "not there". ``uncollected="empty"`` answers an empty
  list instead, serves every known kind and an empty log for a container whose
  log the bundle lacks: how the analyzer reads a hand-written bundle, and what
  collector.sh run against the server should see;
* in both modes, what the bundle's manifest records as failed (a Forbidden
  list, a timeout) stays a failure: 403 for Forbidden, 404 "could not be
  collected" otherwise. Optional commands and discovery queries do not count.

Ages that kubectl computes itself (``kubectl describe``) are still measured
from the client's clock. Plain HTTP without authentication: the server binds
loopback addresses only.

Test hooks: ``deny`` answers 403 Forbidden with the apiserver's RBAC message for
a resource (optionally in one namespace; ``services/proxy`` for the service
proxy); ``delay`` holds the answer for a resource so that ``kubectl
--request-timeout`` fires (``"*"``: every list, get, log and proxied GET, to
simulate API latency). Every request is recorded
(method, path with query, status) in memory and, with ``request_log``, as one
JSON object per line in a file: the proof that a client only read.
"""

from analyzer.serve.server import (
    BundleServer,
    main,
    parse_delay,
    parse_deny,
    serve_forever,
    server_version,
)

__all__ = ["BundleServer", "main", "parse_delay", "parse_deny", "serve_forever", "server_version"]
