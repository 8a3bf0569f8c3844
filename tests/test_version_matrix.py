"""The same incident in each Kargo Stage shape gives the same finding id.

Shapes (knowledge/kargo.md section 1b):

* ``v1.0`` - ``status.phase`` and ``status.message`` only, no conditions;
  Promotions without ``stepExecutionMetadata`` and the v1.0 message form
  (``failed to run step "git-push": ...``);
* ``v1.4`` - ``status.phase`` and ``status.message`` next to the conditions
  (v1.1-v1.4), the v1.2-v1.4 orchestrator message form
  (``step execution failed: step 3 met error threshold of 1: ...``);
* ``v1.10`` - conditions only (``phase`` removed in v1.5), the v1.5+ message
  form (``step "step-4" met error threshold of 1: ...``), ``startedAt`` on
  Promotions, and a controller image that says which version runs.

Each bundle is validated against the CRDs of its version (the v1.4.4 set for
Stages that carry ``status.phase``) before it is analysed.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml

from analyzer.analysis import analyze
from crd_schema import kargo_schema_for, shared_dir, validate_bundle

UTC = timezone.utc
NOW = datetime(2026, 11, 24, 10, 15, 0, tzinfo=UTC)
NS = "kargo-demo"
SHAPES = ("v1.0", "v1.4", "v1.10")


def _ts(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _sha(*parts: str) -> str:
    return hashlib.sha1("/".join(parts).encode()).hexdigest()


FREIGHT_OLD = _sha("freight", "v2.3.0")
FREIGHT_NEW = _sha("freight", "v2.4.0")


def _freight_ref(name: str) -> dict:
    return {"name": name, "origin": {"kind": "Warehouse", "name": "guestbook"},
            "images": [{"repoURL": "ghcr.io/example-org/guestbook", "tag": "v2.4.0" if name == FREIGHT_NEW else "v2.3.0"}]}


def _steps() -> list[dict]:
    return [
        {"uses": "git-clone", "config": {"repoURL": "https://github.com/example-org/kargo-demo.git",
                                         "checkout": [{"branch": "stage/qa", "path": "./out"}]}},
        {"uses": "kustomize-set-image", "config": {"path": "./out", "images": [{"image": "ghcr.io/example-org/guestbook"}]}},
        {"uses": "git-commit", "as": "commit", "config": {"path": "./out", "message": "promote"}},
        {"uses": "git-push", "config": {"path": "./out"}},
        {"uses": "argocd-update", "config": {"apps": [{"name": "guestbook-qa", "namespace": "argocd"}]}},
    ]


def _promotion(shape: str, phase: str, failed_step: int | None, message: str | None, created: datetime) -> dict:
    name = f"qa.01m86g37z0na24npggvm3tmv{'5p' if phase != 'Succeeded' else '4a'}.{FREIGHT_NEW[:7] if phase != 'Succeeded' else FREIGHT_OLD[:7]}"
    freight = FREIGHT_NEW if phase != "Succeeded" else FREIGHT_OLD
    status: dict = {"phase": phase, "freight": _freight_ref(freight),
                    "freightCollection": {"id": _sha("collection", freight), "items": {"Warehouse/guestbook": _freight_ref(freight)}},
                    "finishedAt": _ts(created + timedelta(seconds=40))}
    if message:
        status["message"] = message
    if shape != "v1.0":
        aliases = ["step-1", "step-2", "commit", "step-4", "step-5"]
        meta = []
        for i, alias in enumerate(aliases):
            if failed_step is None or i < failed_step:
                meta.append({"alias": alias, "status": "Succeeded", "startedAt": _ts(created + timedelta(seconds=i + 1)),
                             "finishedAt": _ts(created + timedelta(seconds=i + 2))})
            elif i == failed_step:
                meta.append({"alias": alias, "status": phase, "startedAt": _ts(created + timedelta(seconds=i + 1)),
                             "finishedAt": _ts(created + timedelta(seconds=40)), "message": message, "errorCount": 1})
            else:
                meta.append({"alias": alias, "status": "Skipped"})
        status["stepExecutionMetadata"] = meta
    status["currentStep"] = failed_step if failed_step is not None else 4
    if shape == "v1.10":
        status["startedAt"] = _ts(created + timedelta(seconds=1))
    return {"apiVersion": "kargo.akuity.io/v1alpha1", "kind": "Promotion",
            "metadata": {"name": name, "namespace": NS, "creationTimestamp": _ts(created),
                         "uid": "0c9a5e7b-1d2f-4a3b-8c6d-" + _sha(name)[:12]},
            "spec": {"stage": "qa", "freight": freight, "steps": _steps()}, "status": status}


def _condition(ctype: str, status: str, reason: str, message: str, at: datetime) -> dict:
    return {"type": ctype, "status": status, "reason": reason, "message": message, "observedGeneration": 2,
            "lastTransitionTime": _ts(at)}


def _stage(shape: str, *, phase: str, message: str, conditions: list[dict], last: dict, history: list[dict]) -> dict:
    status: dict = {"freightSummary": history[0]["items"]["Warehouse/guestbook"]["name"], "freightHistory": history,
                    "lastPromotion": {"name": last["metadata"]["name"], "freight": last["status"]["freight"],
                                      "finishedAt": last["status"]["finishedAt"], "status": last["status"]}}
    if shape in ("v1.0", "v1.4"):
        status["phase"] = phase
        status["message"] = message
    if shape in ("v1.4", "v1.10"):
        status["conditions"] = conditions
    return {"apiVersion": "kargo.akuity.io/v1alpha1", "kind": "Stage",
            "metadata": {"name": "qa", "namespace": NS, "generation": 2, "creationTimestamp": _ts(NOW - timedelta(days=30)),
                         "uid": "5b0c1a4e-8f5e-4d0b-9c43-2a6c1f7e9d10"},
            "spec": {"requestedFreight": [{"origin": {"kind": "Warehouse", "name": "guestbook"}, "sources": {"stages": ["dev"]}}],
                     "promotionTemplate": {"spec": {"steps": _steps()}},
                     "verification": {"analysisTemplates": [{"name": "guestbook-smoke"}]}},
            "status": status}


def _history(freight: str, verification: dict | None) -> dict:
    entry = {"id": _sha("collection", freight), "items": {"Warehouse/guestbook": _freight_ref(freight)}}
    if verification:
        entry["verificationHistory"] = [verification]
    return entry


def _controller_pod() -> dict:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "kargo-controller-7c9d5b8f6d-x2k8q", "namespace": "kargo",
                         "creationTimestamp": _ts(NOW - timedelta(days=9)),
                         "labels": {"app.kubernetes.io/name": "kargo", "app.kubernetes.io/component": "controller"}},
            "spec": {"containers": [{"name": "controller", "image": "ghcr.io/akuity/kargo:v1.10.2"}]},
            "status": {"phase": "Running", "containerStatuses": [
                {"name": "controller", "image": "ghcr.io/akuity/kargo:v1.10.2", "ready": True, "restartCount": 0,
                 "state": {"running": {"startedAt": _ts(NOW - timedelta(days=9))}}}]}}


def _step_message(shape: str, index: int, alias: str, kind: str, detail: str) -> str:
    if shape == "v1.10":
        return f'step "{alias}" met error threshold of 1: {detail}'
    if shape == "v1.4":
        return f'step execution failed: step {index} met error threshold of 1: failed to run step "{kind}": {detail}'
    return f'failed to run step "{kind}": {detail}'


def errored_promotion(shape: str, step: int, alias: str, kind: str, detail: str) -> list[dict]:
    failed_at = NOW - timedelta(minutes=12)
    message = _step_message(shape, step, alias, kind, detail)
    good = _promotion(shape, "Succeeded", None, "All steps completed", NOW - timedelta(days=3))
    bad = _promotion(shape, "Errored", step, message, failed_at - timedelta(seconds=40))
    verified = {"id": "6f1c2b1e-0b7e-4d1a-9f38-0d1e2c3b4a59", "phase": "Successful",
                "startTime": _ts(NOW - timedelta(days=3) + timedelta(minutes=1)),
                "finishTime": _ts(NOW - timedelta(days=3) + timedelta(minutes=2))}
    stage = _stage(shape, phase="Failed", message=message, last=bad, history=[_history(FREIGHT_OLD, verified)], conditions=[
        _condition("Ready", "False", "LastPromotionErrored", message, failed_at),
        _condition("Healthy", "Unknown", "LastPromotionErrored", "Cannot assess health because last Promotion did not succeed", failed_at),
        _condition("Verified", "True", "Verified", "Freight has been verified", NOW - timedelta(days=3)),
    ])
    return [stage, good, bad]


def failed_verification(shape: str) -> list[dict]:
    promoted = NOW - timedelta(minutes=25)
    message = 'Metric "healthz" assessed Failed due to failed (2) > failureLimit (1)'
    good = _promotion(shape, "Succeeded", None, "All steps completed", promoted)
    run_name = f"qa.01m86fefx0202nsggkqbcabryc.{_sha('collection', FREIGHT_OLD)[:7]}"
    verification = {"id": "2d0f4c8e-5a1b-4c3d-8e9f-1a2b3c4d5e6f", "phase": "Failed", "message": message,
                    "analysisRun": {"name": run_name, "namespace": NS, "phase": "Failed"},
                    "startTime": _ts(promoted + timedelta(minutes=1)), "finishTime": _ts(promoted + timedelta(minutes=3))}
    stage = _stage(shape, phase="Verifying", message=message, last=good, history=[_history(FREIGHT_OLD, verification)],
                   conditions=[
                       _condition("Ready", "False", "VerificationFailed", message, promoted + timedelta(minutes=3)),
                       _condition("Healthy", "True", "Healthy", "Stage is healthy (performed 1 health checks)", promoted + timedelta(seconds=40)),
                       _condition("Verified", "False", "VerificationFailed", message, promoted + timedelta(minutes=3)),
                   ])
    stage["status"]["health"] = {"status": "Healthy"}
    run = {"apiVersion": "argoproj.io/v1alpha1", "kind": "AnalysisRun",
           "metadata": {"name": run_name, "namespace": NS, "creationTimestamp": _ts(promoted + timedelta(minutes=1)),
                        "labels": {"kargo.akuity.io/stage": "qa", "kargo.akuity.io/freight-collection": _sha("collection", FREIGHT_OLD)}},
           "spec": {"metrics": [{"name": "healthz", "provider": {"web": {"url": "http://guestbook.guestbook-qa.svc/healthz"}}}]},
           "status": {"phase": "Failed", "message": message, "startedAt": _ts(promoted + timedelta(minutes=1)),
                      "metricResults": [{"name": "healthz", "phase": "Failed", "count": 3, "failed": 2, "successful": 1}]}}
    return [stage, good, run]


INCIDENTS = {
    # id -> (builder, what the incident is)
    "promotion-step-failed": lambda shape: errored_promotion(
        shape, 1, "step-2", "kustomize-set-image",
        "error reading kustomization file: open /tmp/promotion-3f1c/out/kustomization.yaml: no such file or directory"),
    "git-step-failed": lambda shape: errored_promotion(
        shape, 3, "step-4", "git-push", "error pushing commits to remote: error pushing branch: non-fast-forward"),
    "verification-failed": failed_verification,
}


def _write(tmp_path: Path, incident: str, shape: str) -> Path:
    objects = INCIDENTS[incident](shape)
    if shape == "v1.10":
        objects.append(_controller_pod())
    path = tmp_path / f"{incident}-{shape}.yaml"
    path.write_text("---\n".join(yaml.safe_dump(o, sort_keys=False) for o in objects))
    return path


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("incident", sorted(INCIDENTS))
def test_same_incident_same_id(tmp_path: Path, incident: str, shape: str):
    path = _write(tmp_path, incident, shape)
    ids = {(f.id, f.subject.kind, f.subject.name) for f in analyze(path, at=NOW).findings}
    assert (incident, "Stage", "qa") in ids, f"{shape}: {sorted(ids)}"
    others = {i for i, kind, name in ids if kind == "Stage" and name == "qa" and i != incident}
    # The generic step failure never doubles a more specific id.
    assert "promotion-step-failed" not in others, f"{shape}: {sorted(ids)}"


@pytest.mark.parametrize("incident", sorted(INCIDENTS))
def test_versions_are_told_apart(tmp_path: Path, incident: str):
    detected = {shape: analyze(_write(tmp_path, incident, shape), at=NOW).frames.versions.kargo for shape in SHAPES}
    assert detected["v1.0"].version == (1, 0, 0) and detected["v1.0"].assumed
    assert detected["v1.4"].version == (1, 4, 0) and detected["v1.4"].assumed
    assert detected["v1.10"].version == (1, 10, 2) and not detected["v1.10"].assumed


@pytest.mark.skipif(not (shared_dir() / "crds").is_dir(), reason="../shared/crds not found (set GITOPS_SHARED)")
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("incident", sorted(INCIDENTS))
def test_matrix_objects_validate_against_their_version(tmp_path: Path, incident: str, shape: str):
    path = _write(tmp_path, incident, shape)
    objects = [o for o in yaml.safe_load_all(path.read_text()) if o]
    assert kargo_schema_for(objects) == ("kargo-v1.11.2" if shape == "v1.10" else "kargo-v1.4.4")
    errors = validate_bundle(path)
    assert not errors, "\n".join(errors[:20])
