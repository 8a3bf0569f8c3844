"""Argo CD's failure taxonomy: every known text names the right catalog id, in every field, in both generations.

The texts are Argo CD's own (knowledge/argocd.md section 2), in the v2.x and
v3.x forms, as they sit in a condition, an operation message, a failed task, or
a controller / repo-server log line; and wrapped the way Kargo's argocd-update
step reports them in a failed Promotion.
"""

from __future__ import annotations

import re

import polars as pl
import pytest

from analyzer.rules import load_builtin_rules
from analyzer.rules.argocd_taxonomy import FAMILY, TAXONOMY, classify, classify_text
from analyzer.rules.common import specific_cause

load_builtin_rules()

WRAP = "Failed to load target state: failed to generate manifest for source 1 of 1: "
REFUSED = ('rpc error: code = Unavailable desc = connection error: desc = "transport: Error while dialing: '
           'dial tcp 10.96.142.17:8081: connect: connection refused"')
REFUSED_OLD = ('rpc error: code = Unavailable desc = connection error: desc = "transport: Error while dialing dial tcp '
               '10.96.142.17:8081: connect: connection refused"')

# (text, field, id, category)
CASES = [
    # A1/A2/A4/A14 repo-server unreachable, both wrapper generations
    (WRAP + REFUSED, "cond", "argocd-repo-server-unreachable", ""),
    (REFUSED_OLD, "cond", "argocd-repo-server-unreachable", ""),
    ("ComparisonError: " + WRAP + REFUSED, "op", "argocd-repo-server-unreachable", ""),
    (WRAP + 'rpc error: code = Unavailable desc = connection error: desc = "transport: Error while dialing: dial tcp: lookup argocd-repo-server on 10.96.0.10:53: no such host"', "cond", "argocd-repo-server-unreachable", ""),
    (WRAP + "rpc error: code = Unavailable desc = error reading from server: EOF", "cond", "argocd-repo-server-unreachable", ""),
    ("rpc error: code = Unavailable desc = transport is closing", "cond", "argocd-repo-server-unreachable", ""),
    (WRAP + "rpc error: code = DeadlineExceeded desc = context deadline exceeded", "cond", "argocd-repo-server-unreachable", ""),
    ('rpc error: code = Unavailable desc = connection error: desc = "transport: authentication handshake failed: tls: first record does not look like a TLS handshake"', "cond", "argocd-repo-server-unreachable", ""),
    # A3 OOM
    (WRAP + "rpc error: code = Unknown desc = `helm template . --name-template monitoring --namespace monitoring --include-crds` failed signal: killed", "cond", "argocd-repo-server-oom", ""),
    ("finished unary call with code Unknown: `kustomize build /tmp/_argocd-repo/x/overlays/prod` failed signal: killed", "log", "argocd-repo-server-oom", ""),
    # A4b-A13 manifest generation
    (WRAP + "rpc error: code = Unknown desc = `helm template . --name-template x` failed timeout after 1m30s", "cond", "argocd-manifest-generation-failed", "timeout"),
    (WRAP + "rpc error: code = Unknown desc = authentication required", "cond", "argocd-manifest-generation-failed", "auth"),
    ("rpc error: code = Unknown desc = authentication required", "cond", "argocd-manifest-generation-failed", "auth"),
    (WRAP + "rpc error: code = Unknown desc = failed to list refs: repository not found", "cond", "argocd-manifest-generation-failed", "auth"),
    ("rpc error: code = Unknown desc = error creating SSH agent: \"SSH agent requested but SSH_AUTH_SOCK not-specified\": ssh: handshake failed: knownhosts: key is unknown", "cond", "argocd-manifest-generation-failed", "auth"),
    (WRAP + "rpc error: code = Unknown desc = unable to resolve 'stage/prod' to a commit SHA", "cond", "argocd-manifest-generation-failed", "revision"),
    (WRAP + "rpc error: code = Unknown desc = guestbook/overlays/prod: app path does not exist", "cond", "argocd-manifest-generation-failed", "path"),
    (WRAP + "rpc error: code = Unknown desc = `helm template . --name-template guestbook` failed exit status 1: Error: template: guestbook/templates/deployment.yaml:24:28: executing \"x\" at <.Values.image.tag>: nil pointer", "cond", "argocd-manifest-generation-failed", "helm"),
    (WRAP + "rpc error: code = Unknown desc = Manifest generation error (cached): failed to execute helm template command: Error: found in Chart.yaml, but missing in charts/ directory: redis", "cond", "argocd-manifest-generation-failed", "helm"),
    (WRAP + "rpc error: code = Unknown desc = `kustomize build /tmp/_argocd-repo/0b4e/overlays/prod` failed exit status 1: Error: accumulating resources", "cond", "argocd-manifest-generation-failed", "kustomize"),
    (WRAP + "rpc error: code = Unknown desc = plugin sidecar failed. error generating manifests in cmp: rpc error: code = Unknown desc = error generating manifests: exit status 1", "cond", "argocd-manifest-generation-failed", "plugin"),
    ("GIT/GPG: Failed verifying revision 4f2a9c1 by 'dana@example.com': signed with key not in keyring", "cond", "argocd-manifest-generation-failed", "other"),
    (WRAP + "rpc error: code = Unknown desc = Manifest generation error (cached): something else", "cond", "argocd-manifest-generation-failed", "other"),
    ("rpc error: code = Unknown desc = unexpected EOF", "cond", "argocd-manifest-generation-failed", "other"),
    ("application spec for guestbook-prod is invalid: InvalidSpecError: Unable to generate manifests in overlays/prod: rpc error: code = Unknown desc = x", "log", "argocd-manifest-generation-failed", "other"),
    # C project / spec
    ("Application referencing project ghost which does not exist", "cond", "argocd-project-denied", "missing"),
    ("application repo https://github.com/example-org/other.git is not permitted in project 'guestbook'", "cond", "argocd-project-denied", "repo"),
    ("application destination server 'https://kubernetes.default.svc' and namespace 'kube-system' do not match any of the allowed destinations in project 'guestbook'", "cond", "argocd-project-denied", "destination"),
    ("resource :Namespace is not permitted in project guestbook", "res", "argocd-project-denied", "resource"),
    ("resource rbac.authorization.k8s.io:ClusterRole is not permitted in project guestbook", "res", "argocd-project-denied", "resource"),
    ("one or more synchronization tasks are not valid: resource :Namespace is not permitted in project guestbook", "op", "argocd-project-denied", "resource"),
    (WRAP + "rpc error: code = Unknown desc = helm repos https://charts.example.com are not permitted in project 'guestbook'", "cond", "argocd-project-denied", "repo"),
    # CRD missing: raw, v2.8+ AugmentSyncMsg, v3.5 op suffix, RESTMapper
    ("the server could not find the requested resource", "res", "argocd-crd-missing", ""),
    ('The Kubernetes API could not find monitoring.coreos.com/ServiceMonitor for requested resource monitoring/x. Make sure the "servicemonitors.monitoring.coreos.com" CRD is installed on the destination cluster.', "res", "argocd-crd-missing", ""),
    ('The Kubernetes API could not find version "v1beta1" of policy/PodDisruptionBudget for requested resource x/y. Version "v1" of policy/PodDisruptionBudget is installed on the destination cluster.', "res", "argocd-crd-missing", ""),
    ("one or more synchronization tasks are not valid: failed to discover server resources for group version monitoring.coreos.com/v1: the server could not find the requested resource", "op", "argocd-crd-missing", ""),
    ('unable to recognize "/dev/shm/1141": no matches for kind "Certificate" in version "cert-manager.io/v1"', "res", "argocd-crd-missing", ""),
    ("failed to get API resource info for monitoring.coreos.com/ServiceMonitor: unable to verify permissions", "res", "argocd-crd-missing", ""),
    ("Adding resource result, status: 'SyncFailed', phase: '', message: 'the server could not find the requested resource'", "log", "argocd-crd-missing", ""),
    # Immutable fields (res; B3 server-side diff in a condition)
    ('error when patching "/dev/shm/361": Deployment.apps "guestbook" is invalid: spec.selector: Invalid value: v1.LabelSelector{}: field is immutable', "res", "argocd-field-immutable", ""),
    ("one or more objects failed to apply, reason: Job.batch \"db-migrate\" is invalid: spec.template: Invalid value: core.PodTemplateSpec{}: field is immutable (retried 5 times).", "op", "argocd-field-immutable", ""),
    ("Failed to compare desired state to live state: failed to calculate diff: error calculating server side diff: serverSideDiff error: error running server side apply in dryrun mode for resource Service/x: Service \"x\" is invalid: spec.clusterIP: Invalid value: \"\": field is immutable", "cond", "argocd-field-immutable", ""),
    ("StatefulSet.apps \"redis\" is invalid: spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden", "res", "argocd-field-immutable", ""),
    # B live state
    ('Failed to load live state: failed to get cluster info for "https://kubernetes.default.svc": error synchronizing cache state : failed to sync cluster https://10.96.0.1:443: failed to load initial state of resource Secret: secrets is forbidden: User "system:serviceaccount:argocd:argocd-application-controller" cannot list resource "secrets" in API group "" at the cluster scope', "cond", "argocd-live-state-failed", ""),
    ('Failed to load target state: failed to get cluster version for cluster "https://kubernetes.default.svc": failed to get cluster info for "https://kubernetes.default.svc": error getting openapi resources: the server is currently unable to handle the request', "cond", "argocd-live-state-failed", ""),
    ("there are no clusters with this name: prod-eu", "cond", "argocd-live-state-failed", ""),
    # D / E / F other sync failures
    ('one or more synchronization tasks completed unsuccessfully, reason: admission webhook "validate.kyverno.svc-fail" denied the request: blocked', "op", "argocd-sync-failed", ""),
    ('Internal error occurred: failed calling webhook "webhook.cert-manager.io": failed to call webhook: Post "https://cert-manager-webhook.cert-manager.svc:443/validate": context deadline exceeded', "res", "argocd-sync-failed", ""),
    ("Job has reached the specified backoff limit", "res", "argocd-sync-failed", ""),
    ("one or more synchronization tasks completed unsuccessfully", "op", "argocd-sync-failed", ""),
    ("one or more synchronization tasks are not valid", "op", "argocd-sync-failed", ""),
    ("one or more objects failed to apply (dry run)", "op", "argocd-sync-failed", ""),
    ('error when creating "/dev/shm/1234": error validating data: ValidationError(Deployment.spec.template.spec.containers[0]): unknown field "imagePullPolcy"', "res", "argocd-sync-failed", ""),
    ("metadata.annotations: Too long: must have at most 262144 bytes", "res", "argocd-sync-failed", ""),
    ("namespace auto creation failed: namespaces \"x\" is forbidden", "op", "argocd-sync-failed", ""),
    ("Shared resource found: /ConfigMap/guestbook-prod/x is part of applications argocd/a and argocd/b", "op", "argocd-sync-failed", ""),
    ("Operation terminated", "op", "argocd-sync-failed", ""),
    ("one or more objects failed to apply, reason: x (retried 5 times).", "op", "argocd-sync-failed", ""),
    ("Failed last sync attempt to [4f2a9c1]: one or more synchronization tasks completed unsuccessfully", "cond", "argocd-sync-failed", ""),
    ("Failed sync attempt to 4f2a9c1: one or more synchronization tasks completed unsuccessfully", "cond", "argocd-sync-failed", ""),
    ("Resource apps/Deployment/guestbook is missing, it might have been deleted", "res", "argocd-sync-failed", ""),
    ("SyncWaveHook failed: failed to patch", "op", "argocd-sync-failed", ""),
    ("Failed to load application project: appproject.argoproj.io \"guestbook\" not found", "op", "argocd-project-denied", "missing"),
    ("no matching service account found for destination server https://kubernetes.default.svc and namespace guestbook-prod", "op", "argocd-sync-failed", ""),
    # H auto-sync
    ("Skipping sync attempt to [4f2a9c1]: auto-sync will wipe out all resources", "cond", "argocd-sync-failed", ""),
    ("Skipping auto-sync: failed previous sync attempt to [4f2a9c1] and will not retry for [4f2a9c1]", "log", "argocd-sync-failed", ""),
    # Not failures
    ("successfully synced (all tasks run)", "op", None, None),
    ("waiting for healthy state of apps/Deployment/guestbook", "op", None, None),
    ("deployment.apps/guestbook configured", "res", None, None),
    ("Application has 1 orphaned resources", "cond", None, None),
    ("Skipping auto-sync: application status is Synced", "log", None, None),
    ("Skipping auto-sync: another operation is in progress", "log", None, None),
]


@pytest.mark.parametrize("text,field,ident,category", CASES, ids=[f"{c[2]}-{i}" for i, c in enumerate(CASES)])
def test_classification(text, field, ident, category):
    got, _key, got_category = classify_text(text, field)
    assert got == ident, f"{text!r} in {field}: got {got}, want {ident}"
    if ident is not None:
        assert got_category == category


@pytest.mark.parametrize("text,field,ident,category", [c for c in CASES if c[2] and c[1] == "op"],
                         ids=[f"{c[2]}-wrapped-{i}" for i, c in enumerate(c for c in CASES if c[2] and c[1] == "op")])
def test_wrapped_in_a_failed_promotion(text, field, ident, category):
    """Kargo's argocd-update step wraps the operation message; the cause registry finds the same id."""
    message = f'step "step-5" met error threshold of 1: Argo CD Application "guestbook-prod" in namespace "argocd" failed with: {text}'
    assert specific_cause(message) == ident


def test_wrapped_message_of_another_step_names_no_argocd_cause():
    message = 'step "step-4" met error threshold of 1: error pushing commits to remote: authentication required'
    assert specific_cause(message) not in FAMILY


def test_polars_and_python_regexes_agree():
    texts = pl.DataFrame({"text": [c[0] for c in CASES]})
    for p in TAXONOMY:
        python = [bool(re.search(p.regex, t, re.IGNORECASE)) for t in texts["text"]]
        rust = texts.select(pl.col("text").str.contains("(?i)" + p.regex)).to_series().to_list()
        assert python == rust, p.key


def test_every_pattern_is_exercised_and_every_family_id_has_one():
    used = {classify_text(text, field)[1] for text, field, ident, _ in CASES if ident}
    keys = {p.key for p in TAXONOMY}
    assert keys - used <= {"C"}, f"patterns without a test text: {sorted(keys - used - {'C'})}"
    assert {p.id for p in TAXONOMY} == set(FAMILY)


def test_fields_restrict_where_a_pattern_applies():
    # "one or more synchronization tasks are not valid" is an operation text, not a task's.
    frame = pl.DataFrame({"m": ["one or more synchronization tasks are not valid"] * 2, "f": ["op", "res"]})
    got = frame.select(classify(pl.col("m"), pl.col("f"))).to_series().to_list()
    assert got == ["argocd-sync-failed", None]
