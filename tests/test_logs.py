"""Log lines of every controller format land in the same frame rows.

The same events, written by Argo CD < v3.0 (logrus text) and >= v3.0 (JSON),
or by Kargo <= v1.7 (logrus), >= v1.8 (zap console) and with LOG_FORMAT=json,
must parse to identical (time, level, message, app, error, ...) rows, so no
rule has to know which format a bundle's logs were written in.
"""

from __future__ import annotations

from datetime import datetime, timezone

import polars as pl
import pytest

from analyzer.bundle import LogFile
from analyzer.frames.logs import LOG_SCHEMA, component_of, load_logs, parse_log

UTC = timezone.utc
ARGO_COLUMNS = ["time", "level", "message", "error", "app", "app_namespace", "object_namespace"]
KARGO_COLUMNS = ["time", "level", "message", "error", "object_namespace", "stage", "promotion", "freight", "app", "app_namespace"]

PROMO = "prod.01m7v0q2a8x3k5d9f1h4j6n8r0.7a1c9e3"
FREIGHT = "7a1c9e3b5d7f9a1c3e5b7d9f1a3c5e7b9d1f3a5c"


def log(lines: list[str] | bytes, *, pod: str = "argocd-application-controller-0",
        container: str = "argocd-application-controller", namespace: str = "argocd") -> LogFile:
    data = lines if isinstance(lines, bytes) else ("\n".join(lines) + "\n").encode()
    return LogFile(f"cluster-resources/pods/logs/{namespace}/{pod}/{container}.log", namespace, pod, container, False, data)


def rows(lines, columns, **kw) -> list[dict]:
    return parse_log(log(lines, **kw)).select(columns).to_dicts()


# ------------------------------------------------------------------ Argo CD

# The same five controller events, as Argo CD v2.14 (logrus text) writes them ...
ARGO_V2 = [
    '2026-11-18T14:18:01.204518327Z time="2026-11-18T14:18:01Z" level=info msg="Adding resource result, status: '
    "'SyncFailed', phase: '', message: 'the server could not find the requested resource'\" app-namespace=argocd "
    "app-qualified-name=argocd/monitoring application=monitoring kind=ServiceMonitor name=guestbook "
    "namespace=guestbook-dev phase=Sync project=default syncId=00023-BlFyD",
    '2026-11-18T14:18:02.011004512Z time="2026-11-18T14:18:02Z" level=warning msg="Ignoring temporary failed attempt '
    'to compare app state against repo" app-namespace=argocd app-qualified-name=argocd/guestbook-staging '
    'application=guestbook-staging error="rpc error: code = Unavailable desc = connection error: desc = '
    '\\"transport: Error while dialing: dial tcp 10.96.142.17:8081: connect: connection refused\\"" project=default',
    '2026-11-18T14:18:03.5Z time="2026-11-18T14:18:03Z" level=info msg="Sync operation to 4f2a9c1 failed: one or more '
    'synchronization tasks completed unsuccessfully, reason: admission webhook \\"validate.kyverno.svc-fail\\" denied '
    'the request: \\n\\nresource Deployment/guestbook-dev/guestbook was blocked" app-namespace=argocd '
    'app-qualified-name=argocd/guestbook-dev application=guestbook-dev dest-name= dest-namespace=guestbook-dev '
    'dest-server="https://kubernetes.default.svc" fields.level=1 project=default reason=OperationCompleted type=Warning',
    '2026-11-18T14:18:04Z time="2026-11-18T14:18:04Z" level=info msg="Updating operation state. phase: Running -> '
    "Failed, message: 'one or more objects failed to apply, reason: Deployment.apps \\\"guestbook\\\" is invalid: "
    "spec.selector: Invalid value: <nil>: field is immutable' -> 'one or more objects failed to apply (retried 5 "
    "times).'\" app-namespace=argocd app-qualified-name=argocd/guestbook-prod application=guestbook-prod "
    "project=default syncId=00024-QwErT",
    '2026-11-18T14:18:05Z time="2026-11-18T14:18:05Z" level=error msg="Failed to initiate auto-sync to 4f2a9c1" '
    'app-namespace=argocd app-qualified-name=argocd/guestbook-dev application=guestbook-dev '
    'error="another operation is already in progress" project=default',
]

# ... and as Argo CD v3.0 (JSON, keys sorted, HTML characters escaped) writes them.
ARGO_V3 = [
    '2026-11-18T14:18:01.204518327Z {"app-namespace":"argocd","app-qualified-name":"argocd/monitoring",'
    '"application":"monitoring","kind":"ServiceMonitor","level":"info","msg":"Adding resource result, status: '
    "'SyncFailed', phase: '', message: 'the server could not find the requested resource'\",\"name\":\"guestbook\","
    '"namespace":"guestbook-dev","phase":"Sync","project":"default","syncId":"00023-BlFyD","time":"2026-11-18T14:18:01Z"}',
    '2026-11-18T14:18:02.011004512Z {"app-namespace":"argocd","app-qualified-name":"argocd/guestbook-staging",'
    '"application":"guestbook-staging","error":"rpc error: code = Unavailable desc = connection error: desc = '
    '\\"transport: Error while dialing: dial tcp 10.96.142.17:8081: connect: connection refused\\"",'
    '"level":"warning","msg":"Ignoring temporary failed attempt to compare app state against repo",'
    '"project":"default","time":"2026-11-18T14:18:02Z"}',
    '2026-11-18T14:18:03.5Z {"app-namespace":"argocd","app-qualified-name":"argocd/guestbook-dev",'
    '"application":"guestbook-dev","dest-name":"","dest-namespace":"guestbook-dev",'
    '"dest-server":"https://kubernetes.default.svc","fields.level":1,"level":"info","msg":"Sync operation to 4f2a9c1 '
    'failed: one or more synchronization tasks completed unsuccessfully, reason: admission webhook '
    '\\"validate.kyverno.svc-fail\\" denied the request: \\n\\nresource Deployment/guestbook-dev/guestbook was '
    'blocked","project":"default","reason":"OperationCompleted","time":"2026-11-18T14:18:03Z","type":"Warning"}',
    '2026-11-18T14:18:04Z {"app-namespace":"argocd","app-qualified-name":"argocd/guestbook-prod",'
    '"application":"guestbook-prod","level":"info","msg":"Updating operation state. phase: Running -\\u003e Failed, '
    "message: 'one or more objects failed to apply, reason: Deployment.apps \\\"guestbook\\\" is invalid: "
    "spec.selector: Invalid value: \\u003cnil\\u003e: field is immutable' -\\u003e 'one or more objects failed to "
    "apply (retried 5 times).'\",\"project\":\"default\",\"syncId\":\"00024-QwErT\",\"time\":\"2026-11-18T14:18:04Z\"}",
    '2026-11-18T14:18:05Z {"app-namespace":"argocd","app-qualified-name":"argocd/guestbook-dev",'
    '"application":"guestbook-dev","error":"another operation is already in progress","level":"error",'
    '"msg":"Failed to initiate auto-sync to 4f2a9c1","project":"default","time":"2026-11-18T14:18:05Z"}',
]


def test_argocd_v2_text_and_v3_json_give_the_same_rows():
    v2, v3 = rows(ARGO_V2, ARGO_COLUMNS), rows(ARGO_V3, ARGO_COLUMNS)
    assert len(v2) == 5
    assert v2 == v3


def test_argocd_values_are_unquoted():
    got = rows(ARGO_V2, ARGO_COLUMNS)
    assert got[0]["message"].endswith("message: 'the server could not find the requested resource'")
    assert got[0]["app"] == "monitoring" and got[0]["app_namespace"] == "argocd"
    # The resource's namespace key does not pass for the Application's.
    assert got[0]["object_namespace"] == "argocd"
    assert got[1]["level"] == "warning"
    assert got[1]["error"].endswith('"transport: Error while dialing: dial tcp 10.96.142.17:8081: connect: connection refused"')
    assert "\n\nresource Deployment/guestbook-dev/guestbook" in got[2]["message"]
    assert 'admission webhook "validate.kyverno.svc-fail" denied' in got[2]["message"]
    assert '"guestbook" is invalid: spec.selector: Invalid value: <nil>: field is immutable' in got[3]["message"]
    assert got[4] == {**got[4], "level": "error", "error": "another operation is already in progress"}


def test_kubectl_prefix_is_the_clock():
    got = rows(ARGO_V2, ["time"])
    assert got[0]["time"] == datetime(2026, 11, 18, 14, 18, 1, 204518, tzinfo=UTC)
    assert got[2]["time"] == datetime(2026, 11, 18, 14, 18, 3, 500000, tzinfo=UTC)


def test_lines_without_the_kubectl_prefix_use_their_own_time():
    bare = [line.split(" ", 1)[1] for line in ARGO_V2[:2]] + [line.split(" ", 1)[1] for line in ARGO_V3[:2]]
    got = rows(bare, ["time"])
    assert [r["time"] for r in got] == [datetime(2026, 11, 18, 14, 18, s, tzinfo=UTC) for s in (1, 2, 1, 2)]


def test_argocd_qualified_application_names_before_v2_12():
    old = ['time="2026-11-18T14:18:06Z" level=info msg="Skipping auto-sync: application status is Synced" '
           "application=argocd/guestbook-dev"]
    new = ['{"app-namespace":"argocd","application":"guestbook-dev","level":"info",'
           '"msg":"Skipping auto-sync: application status is Synced","project":"default","time":"2026-11-18T14:18:06Z"}']
    assert rows(old, ARGO_COLUMNS) == rows(new, ARGO_COLUMNS)
    assert rows(old, ["app", "app_namespace"]) == [{"app": "guestbook-dev", "app_namespace": "argocd"}]


def test_repo_server_grpc_errors_land_in_error_for_both_versions():
    err = ("Manifest generation error (cached): `helm template . --name-template guestbook --namespace guestbook-prod "
           "--include-crds` failed exit status 1: Error: template: guestbook/templates/deployment.yaml:12:20: "
           "executing \\\"guestbook/templates/deployment.yaml\\\" at <.Values.image.tag>: nil pointer evaluating "
           "interface {}.tag")
    v2 = [f'time="2026-11-18T14:18:07Z" level=error msg="finished unary call with code Unknown" error="{err}" '
          "grpc.code=Unknown grpc.method=GenerateManifest grpc.request.deadline=\"2026-11-18T14:19:07Z\" "
          "grpc.service=repository.RepoServerService grpc.start_time=\"2026-11-18T14:18:06Z\" grpc.time_ms=1203.5 "
          "span.kind=server system=grpc"]
    v3_err = err.replace("<", "\\u003c").replace(">", "\\u003e")
    v3 = ['{"grpc.code":"Unknown","grpc.component":"server","grpc.error":"' + v3_err + '",'
          '"grpc.method":"GenerateManifest","grpc.method_type":"unary","grpc.service":"repository.RepoServerService",'
          '"grpc.start_time":"2026-11-18T14:18:06Z","grpc.time_ms":"1203.5","level":"error","msg":"finished call",'
          '"peer.address":"10.244.1.17:51234","protocol":"grpc","time":"2026-11-18T14:18:07Z"}']
    kw = dict(pod="argocd-repo-server-6xhdgprp26-fsw6v", container="argocd-repo-server")
    a, b = rows(v2, ["time", "level", "error"], **kw), rows(v3, ["time", "level", "error"], **kw)
    assert a == b
    assert a[0]["error"].startswith("Manifest generation error (cached): `helm template .")
    assert 'executing "guestbook/templates/deployment.yaml" at <.Values.image.tag>' in a[0]["error"]


# -------------------------------------------------------------------- Kargo

KARGO_LOGRUS = [  # Kargo <= v1.7
    f'2026-11-18T14:18:31.018649Z time="2026-11-18T14:18:31Z" level=info msg="began promotion" freight={FREIGHT} '
    f"namespace=kargo-demo promotion={PROMO} stage=prod",
    f'2026-11-18T14:18:52.1Z time="2026-11-18T14:18:52Z" level=info msg="promotion" freight={FREIGHT} '
    f"namespace=kargo-demo phase=Errored promotion={PROMO} stage=prod",
]
KARGO_CONSOLE = [  # Kargo >= v1.8, the default format
    f'2026-11-18T14:18:31.018649Z 2026-11-18T14:18:31Z\tINFO\tpromotions/promotions.go:388\tbegan promotion\t'
    f'{{"namespace":"kargo-demo","promotion":"{PROMO}","namespace":"kargo-demo","promotion":"{PROMO}",'
    f'"stage":"prod","freight":"{FREIGHT}"}}',
    f'2026-11-18T14:18:52.1Z 2026-11-18T14:18:52Z\tINFO\tpromotions/promotions.go:437\tpromotion\t'
    f'{{"namespace":"kargo-demo","promotion":"{PROMO}","namespace":"kargo-demo","promotion":"{PROMO}",'
    f'"stage":"prod","freight":"{FREIGHT}","phase":"Errored"}}',
]
KARGO_JSON = [  # LOG_FORMAT=json
    f'2026-11-18T14:18:31.018649Z {{"level":"INFO","ts":"2026-11-18T14:18:31Z","caller":"promotions/promotions.go:388",'
    f'"msg":"began promotion","namespace":"kargo-demo","promotion":"{PROMO}","namespace":"kargo-demo",'
    f'"promotion":"{PROMO}","stage":"prod","freight":"{FREIGHT}"}}',
    f'2026-11-18T14:18:52.1Z {{"level":"INFO","ts":"2026-11-18T14:18:52Z","caller":"promotions/promotions.go:437",'
    f'"msg":"promotion","namespace":"kargo-demo","promotion":"{PROMO}","namespace":"kargo-demo",'
    f'"promotion":"{PROMO}","stage":"prod","freight":"{FREIGHT}","phase":"Errored"}}',
]
KARGO_POD = dict(pod="kargo-controller-m2rnlgqlrs-cjld9", container="controller", namespace="kargo")


def test_kargo_logrus_console_and_json_give_the_same_rows():
    a = rows(KARGO_LOGRUS, KARGO_COLUMNS, **KARGO_POD)
    b = rows(KARGO_CONSOLE, KARGO_COLUMNS, **KARGO_POD)
    c = rows(KARGO_JSON, KARGO_COLUMNS, **KARGO_POD)
    assert a == b == c
    assert a[0] == {"time": datetime(2026, 11, 18, 14, 18, 31, 18649, tzinfo=UTC), "level": "info",
                    "message": "began promotion", "error": None, "object_namespace": "kargo-demo", "stage": "prod",
                    "promotion": PROMO, "freight": FREIGHT, "app": None, "app_namespace": None}


def test_kargo_repeated_namespace_keys_keep_the_promotion_and_the_application_apart():
    context = (f'{{"namespace":"kargo-demo","promotion":"{PROMO}","namespace":"kargo-demo","promotion":"{PROMO}",'
               f'"stage":"prod","freight":"{FREIGHT}","app":"guestbook-prod","namespace":"argocd"}}')
    console = [f"2026-11-18T14:18:40Z\tINFO\tbuiltin/argocd_updater.go:317\tArgo CD Application requires update\t{context}"]
    as_json = ['{"level":"INFO","ts":"2026-11-18T14:18:40Z","caller":"builtin/argocd_updater.go:317",'
               '"msg":"Argo CD Application requires update",' + context[1:]]
    a, b = rows(console, KARGO_COLUMNS, **KARGO_POD), rows(as_json, KARGO_COLUMNS, **KARGO_POD)
    assert a == b
    assert a[0]["object_namespace"] == "kargo-demo"
    assert (a[0]["app"], a[0]["app_namespace"]) == ("guestbook-prod", "argocd")
    assert a[0]["promotion"] == PROMO and a[0]["stage"] == "prod"


def test_kargo_errors_by_version():
    err = 'step "step-1" met error threshold of 1: Argo CD Application "guestbook-prod" in namespace "argocd" failed with: x'
    quoted = err.replace('"', '\\"')
    v17 = [f'time="2026-11-18T14:18:52Z" level=error msg="error executing Promotion" error="{quoted}" '
           f"namespace=kargo-demo promotion={PROMO}"]
    v18 = [f'2026-11-18T14:18:52Z\tERROR\tpromotions/promotions.go:301\terror executing Promotion\t'
           f'{{"namespace":"kargo-demo","promotion":"{PROMO}","error":"{quoted}"}}']
    v19 = [f'2026-11-18T14:18:52Z\tERROR\tpromotions/promotions.go:301\terror executing Promotion: {err}\t'
           f'{{"namespace":"kargo-demo","promotion":"{PROMO}"}}']
    a, b, c = (rows(x, ["level", "message", "error", "promotion"], **KARGO_POD) for x in (v17, v18, v19))
    assert a == b == [{"level": "error", "message": "error executing Promotion", "error": err, "promotion": PROMO}]
    # v1.9+ folds the error into the message (Kargo's own logger has no error key).
    assert c == [{"level": "error", "message": f"error executing Promotion: {err}", "error": None, "promotion": PROMO}]


def test_zap_epoch_timestamps():
    line = ['{"level":"info","ts":1763475511.5,"caller":"x.go:1","msg":"began promotion","namespace":"kargo-demo"}']
    assert rows(line, ["time"])[0]["time"] == datetime(2025, 11, 18, 14, 18, 31, 500000, tzinfo=UTC)


# ----------------------------------------------------------- damaged bytes


def test_non_utf8_and_nul_bytes_are_replaced_not_fatal():
    data = (b'2026-11-18T14:18:01Z time="2026-11-18T14:18:01Z" level=info msg="caf\xe9 \xff\xfe au lait" application=a\n'
            b'2026-11-18T14:18:02Z time="2026-11-18T14:18:02Z" level=error msg="nul\x00inside" application=b\n'
            b"\n"
            b'2026-11-18T14:18:03Z {"level":"info","msg":"unit\x1fseparator","time":"2026-11-18T14:18:03Z"}\n')
    got = parse_log(log(data)).select("line_no", "level", "message", "app").to_dicts()
    assert [r["line_no"] for r in got] == [1, 2, 4]  # line numbers count the blank line
    assert got[0]["message"].startswith("caf\ufffd \ufffd\ufffd au lait") and got[0]["app"] == "a"
    assert got[1] == {"line_no": 2, "level": "error", "message": "nul inside", "app": "b"}
    assert got[2]["message"] == "unit separator"


def test_crlf_line_endings():
    data = ("\r\n".join(ARGO_V2[:2]) + "\r\n").encode()
    assert rows(data, ARGO_COLUMNS) == rows(ARGO_V2[:2], ARGO_COLUMNS)


def test_klog_lines():
    lines = ["2026-11-18T14:18:09.000001Z E1118 14:18:09.000001       1 reflector.go:147] "
             "k8s.io/client-go/informers/factory.go:160: Failed to watch *v1.Secret: unknown (get secrets)",
             "2026-11-18T14:18:10Z W1118 14:18:10.5       1 warnings.go:70] v1 Endpoints is deprecated in v1.33+"]
    got = rows(lines, ["time", "format", "level", "message"])
    assert got[0] == {"time": datetime(2026, 11, 18, 14, 18, 9, 1, tzinfo=UTC), "format": "klog", "level": "error",
                      "message": "k8s.io/client-go/informers/factory.go:160: Failed to watch *v1.Secret: unknown (get secrets)"}
    assert got[1]["level"] == "warning" and got[1]["message"] == "v1 Endpoints is deprecated in v1.33+"


def test_plain_lines_are_kept_as_messages():
    lines = ["2026-11-18T14:17:56Z fatal error: concurrent map read and map write", "2026-11-18T14:17:56Z ",
             "2026-11-18T14:17:56Z goroutine 48213 [running]:"]
    got = rows(lines, ["format", "level", "message"])
    assert got == [{"format": "plain", "level": None, "message": "fatal error: concurrent map read and map write"},
                   {"format": "plain", "level": None, "message": "goroutine 48213 [running]:"}]


@pytest.mark.parametrize("pod,component", [
    ("argocd-repo-server-6xhdgprp26-fsw6v", "argocd-repo-server"),
    ("argocd-application-controller-0", "argocd-application-controller"),
    ("kargo-controller-m2rnlgqlrs-cjld9", "kargo-controller"),
    ("argocd-redis-ha-server-2", "argocd-redis-ha-server"),
    ("kargo-api-5d8f7c9b4-x2kqz", "kargo-api"),
])
def test_component_from_pod_name(pod, component):
    assert component_of(pod) == component


def test_frame_schema_is_stable():
    frame = load_logs([log(ARGO_V2), log(KARGO_CONSOLE, **KARGO_POD)])
    assert dict(frame.schema) == LOG_SCHEMA
    assert frame.height == 7
    assert load_logs([]).schema == pl.Schema(LOG_SCHEMA)
