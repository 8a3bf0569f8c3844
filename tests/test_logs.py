"""Log lines of every controller format land in the same frame rows.

The same events, written by Argo CD < v3.0 (logrus text) and >= v3.0 (JSON),
or by Kargo <= v1.7 (logrus), >= v1.8 (zap console) and with LOG_FORMAT=json,
must parse to identical (time, level, message, app, error, ...) rows, so no
rule has to know which format a bundle's logs were written in.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from analyzer.bundle import LogFile, open_bundle
from analyzer.frames import logs as logs_module
from analyzer.frames.logs import KEEP_LEVELS, KEEP_PHRASES, LOG_SCHEMA, component_of, load_logs, parse_log

UTC = timezone.utc
REPO = Path(__file__).resolve().parent.parent
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
    # Every Argo CD line is kept (a warning, an error, three INFO lines a rule reads);
    # of Kargo's two INFO lines no rule reads, the file's first says it logged.
    assert frame.select("container", "line_no").rows() == [("argocd-application-controller", n) for n in range(1, 6)] + [
        ("controller", 1)]
    assert dict(parse_log(log(ARGO_V2)).schema) == LOG_SCHEMA
    assert load_logs([]).schema == pl.Schema(LOG_SCHEMA)
    assert load_logs([log(b"")]).schema == pl.Schema(LOG_SCHEMA)


# ------------------------------------------------- what the analysis keeps
#
# load_logs keeps the lines rules and the timeline read, testing the raw line
# before parsing it: the levels of KEEP_LEVELS and the lines holding a
# KEEP_PHRASES phrase. These tests hold that to "every line a rule could match,
# parsed exactly as when every line is parsed".

FILLER = [  # INFO lines no rule reads, one per format
    ('2026-11-18T14:17:00Z {"app-namespace":"argocd","application":"guestbook-dev","level":"info",'
     '"msg":"Refreshing app status (controller refresh requested), level (1)","project":"default","time":"2026-11-18T14:17:00Z"}'),
    '2026-11-18T14:17:01Z time="2026-11-18T14:17:01Z" level=info msg="Reconciliation completed" application=argocd/guestbook-dev',
    f'2026-11-18T14:17:02Z 2026-11-18T14:17:02Z\tINFO\tpromotions/promotions.go:388\tbegan promotion\t{{"namespace":"kargo-demo","promotion":"{PROMO}"}}',
    "2026-11-18T14:17:03Z I1118 14:17:03.000001       1 leaderelection.go:258] successfully acquired lease kargo/kargo-controller",
    "2026-11-18T14:17:04Z goroutine 48213 [running]:",
]


def kept_lines(lines: list[str], **kw) -> list[str]:
    data = log(lines, **kw)
    numbers = load_logs([data]).get_column("line_no").to_list()
    return [lines[n - 1] for n in numbers]


def test_an_info_line_a_rule_reads_is_kept_and_one_no_rule_reads_is_dropped():
    skipping = ('2026-11-18T14:18:06Z {"app-namespace":"argocd","application":"guestbook-dev","level":"info",'
                '"msg":"Skipping auto-sync: another operation is in progress","project":"default","time":"2026-11-18T14:18:06Z"}')
    assert kept_lines([*FILLER, skipping]) == [skipping]
    assert kept_lines([FILLER[0], ARGO_V2[0], FILLER[1], ARGO_V3[3]]) == [ARGO_V2[0], ARGO_V3[3]]


@pytest.mark.parametrize("level", ["warning", "warn", "WARN", "Warning", "error", "ERROR", "fatal", "FATAL", "panic",
                                   "PANIC", "dpanic", "DPANIC"])
def test_every_level_from_warning_up_is_kept_in_every_format(level):
    lines = [
        f'2026-11-18T14:18:00Z {{"level":"{level}","msg":"a","time":"2026-11-18T14:18:00Z"}}',
        f'{{"msg":"b","level":"{level}"}}',
        f'2026-11-18T14:18:00Z time="2026-11-18T14:18:00Z" level={level} msg="c"',
        f'time="2026-11-18T14:18:00Z" level="{level}" msg="d"',
        f"2026-11-18T14:18:00Z 2026-11-18T14:18:00Z\t{level}\tx.go:1\te\t{{}}",
    ]
    got = load_logs([log([*FILLER, *lines])]).select("message", "level").rows()
    assert got == [(m, {"warn": "warning", "dpanic": "panic"}.get(level.lower(), level.lower())) for m in "abcde"]


def test_klog_warnings_errors_and_fatals_are_kept():
    lines = ["2026-11-18T14:18:09Z W1118 14:18:09.000001       1 reflector.go:147] w",
             "E1118 14:18:09.000001       1 reflector.go:147] e",
             "2026-11-18T14:18:09Z F1118 14:18:09.000001       1 reflector.go:147] f"]
    assert kept_lines([*FILLER, *lines]) == lines


def test_info_and_debug_lines_are_dropped():
    lines = ['{"level":"info","msg":"a"}', '{"level":"debug","msg":"b"}', 'time="2026-11-18T14:18:00Z" level=debug msg="c"',
             "2026-11-18T14:18:00Z\tDEBUG\tx.go:1\td\t{}", "plain text", 'time="2026-11-18T14:18:00Z" level=info msg="e"']
    assert kept_lines([*FILLER, *lines, ARGO_V2[4]]) == [ARGO_V2[4]]


def test_a_file_with_no_kept_line_keeps_its_first_line_with_a_message():
    job = {"pod": "rollout-check-29384-abcde", "container": "check", "namespace": "kargo-demo"}
    quiet = ["", "2026-11-18T14:17:56Z ", '{"level":"info"}', "rollout healthy", "done"]
    got = load_logs([log(quiet, **job), log(ARGO_V2)]).select("pod", "line_no", "message").rows()
    assert got[0] == ("rollout-check-29384-abcde", 4, "rollout healthy")
    assert [r[1] for r in got[1:]] == [1, 2, 3, 4, 5]
    # Far down a file too (the first windows parse nothing).
    assert load_logs([log(["", "{}"] * 3000 + ["late"])]).select("line_no", "message").rows() == [(6001, "late")]
    assert load_logs([log(["", "  "]), log(b"")]).height == 0


def _rule_patterns() -> list[str]:
    """Every pattern a rule or mode matches against a log line's message (and error)."""
    from analyzer.rules.argocd_signals import SUCCESS
    from analyzer.rules.argocd_taxonomy import TAXONOMY
    from analyzer.rules.kargo_common import FORBIDDEN_LINE
    from analyzer.rules.kargo_steps import MISMATCH_LOG

    return [
        *("(?i)" + p.regex for p in TAXONOMY if "log" in p.fields),  # argocd_signals, message + ": " + error
        SUCCESS,
        FORBIDDEN_LINE,
        MISMATCH_LOG,
        "another operation is (?:already )?in progress",  # rules/argocd_app.py
        "(?i)forbidden",  # modes/rbac.py
    ]


def _covered(regex: str, phrases: list[str]) -> bool:
    """Every match of ``regex`` holds one of ``phrases`` (compared case-insensitively)."""
    try:
        import re._constants as sc
        import re._parser as sp
    except ImportError:  # Python < 3.11
        import sre_constants as sc  # type: ignore[no-redef]
        import sre_parse as sp  # type: ignore[no-redef]

    def sequence(nodes) -> bool:
        run = ""
        for op, arg in list(nodes) + [(None, None)]:
            if op is sc.LITERAL:
                run += chr(arg)
                continue
            if any(p in run.lower() for p in phrases):
                return True
            run = ""
            if op is sc.SUBPATTERN and sequence(arg[-1]):
                return True
            if op is sc.BRANCH and all(sequence(branch) for branch in arg[1]):
                return True
        return False

    return sequence(sp.parse(regex))


def test_every_rule_pattern_on_log_lines_is_covered_by_a_keep_phrase():
    phrases = [p.lower() for p in KEEP_PHRASES]
    missing = [p for p in _rule_patterns() if not _covered(p, phrases)]
    assert not missing, f"add a phrase of these patterns to KEEP_PHRASES (analyzer/frames/logs.py): {missing}"
    assert not _covered("Refreshing app status|began promotion", phrases)  # the check can fail


def test_keep_phrases_are_written_the_same_in_every_encoding():
    """A phrase the raw line holds whatever escaping its encoder did, and never across ``message: error``."""
    for phrase in KEEP_PHRASES:
        assert phrase == phrase.strip() and ":" not in phrase, phrase
        plain = phrase.replace("\\u003e", ">")
        assert set(plain) <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 -_.,'()/`=>"), phrase
        if ">" in plain:  # Go's JSON encoder writes \\u003e; logfmt, zap and plain text write ">"
            assert {plain, plain.replace(">", "\\u003e")} <= set(KEEP_PHRASES), phrase


def _all_vs_kept(logs: list[LogFile]) -> tuple[pl.DataFrame, pl.DataFrame]:
    every = load_logs(logs, every_line=True)
    kept = load_logs(logs)
    assert_frame_equal(every.join(kept.select("source", "line_no"), on=["source", "line_no"], how="semi",
                                  maintain_order="left"), kept)
    text = pl.when(pl.col("error").is_not_null()).then(pl.format("{}: {}", "message", "error")).otherwise("message")
    needed = every.filter(pl.col("level").is_in(list(KEEP_LEVELS))
                          | pl.any_horizontal(*(text.str.contains(p) for p in _rule_patterns())))
    assert needed.join(kept, on=["source", "line_no"], how="anti").is_empty()
    return every, kept


def test_kept_lines_parse_as_when_every_line_is_parsed():
    lines = [*FILLER, *ARGO_V2, *ARGO_V3, *KARGO_LOGRUS, *KARGO_CONSOLE, *KARGO_JSON, *FILLER]
    every, kept = _all_vs_kept([log(lines), log(KARGO_CONSOLE, **KARGO_POD), log(FILLER, pod="x-0", container="x")])
    assert every.height == len(lines) + 2 + len(FILLER)
    # Argo CD's ten lines; of the files without one, their first line.
    assert kept.select("pod", "line_no").rows() == [("argocd-application-controller-0", n) for n in range(6, 16)] + [
        ("kargo-controller-m2rnlgqlrs-cjld9", 1), ("x-0", 1)]


def test_sample_bundles_keep_what_rules_read():
    samples = sorted(p for p in (REPO / "sample_bundles").iterdir() if p.is_dir() or p.name.endswith(".tar.gz"))
    assert samples
    for sample in samples:
        _all_vs_kept(open_bundle(sample).logs)


@pytest.mark.parametrize("kargo,argocd", [("1.11.2", "3.1.8"), ("1.7.3", "2.14.5"), ("1.9.0", "2.11.3")])
def test_synthetic_bundle_logs_keep_what_rules_read(kargo, argocd, tmp_path):
    """Every format of every version the generator writes, at a few thousand lines."""
    import importlib.util
    import sys

    script = REPO / "scripts" / "make_synthetic_bundle.py"
    spec = importlib.util.spec_from_file_location("make_synthetic_bundle", script)
    assert spec and spec.loader
    generator = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = generator
    spec.loader.exec_module(generator)
    generator.generate(tmp_path / "b", scale=0.02, seed=3, kargo_version=kargo, argocd_version=argocd)
    every, kept = _all_vs_kept(open_bundle(tmp_path / "b").logs)
    assert kept.height < every.height / 5


def test_reading_and_parsing_in_slices_changes_nothing(monkeypatch):
    lines = [*FILLER, "", *ARGO_V2, "\r", *KARGO_CONSOLE, "caf\xe9", *ARGO_V3] * 3
    files = [log(lines), log(KARGO_JSON, **KARGO_POD), log(FILLER, pod="x-0", container="x")]
    whole, kept = load_logs(files, every_line=True), load_logs(files)
    assert whole.filter(pl.col("pod") == "argocd-application-controller-0").get_column("line_no").max() == len(lines)
    monkeypatch.setattr(logs_module, "CHUNK_BYTES", 100)
    monkeypatch.setattr(logs_module, "PARSE_BATCH", 3)
    assert_frame_equal(load_logs(files, every_line=True), whole)
    assert_frame_equal(load_logs(files), kept)


# ------------------------------------- fields: decoded once, read as by path

REPEATED = (f'{{"namespace":"kargo-demo","promotion":"p1","namespace":"kargo-demo","promotion":"{PROMO}",'
            f'"stage":"prod","app":"guestbook-prod","namespace":"argocd"}}')
DOCS = [
    '{"msg":"a","level":"info","time":"2026-11-18T14:18:01Z"}',
    REPEATED,
    '{"msg":"x","msg":"y","error":"e1","grpc.error":"e2"}',
    '{"level":"info","ts":1763475511.5,"msg":"epoch"}',  # a number
    '{"msg":7,"level":true,"error":null,"kind":{"a":1},"name":[1,2]}',  # no strings at all
    '{"msg":"nested","o":{"msg":"inner","namespace":"n"}}',
    '{"msg":"not json"',  # truncated
    '{"msg":"lone \\ud800 surrogate"}',
    '{"msg":"pair \\ud83d\\ude00"}',
    '{"m\\u0073g":"escaped key","msg":"plain key"}',
    '{"msg":"deep","x":' + "[" * 130 + "]" * 130 + "}",
    '{"msg":"html \\u003cnil\\u003e -\\u003e \\u0026","error":"quote \\" backslash \\\\ tab \\t"}',
    '{"msg":"caf\u00e9 \u212a"}',
    "[1,2]",
    '"just a string"',
    "{}",
    "",
    None,
    '{"msg" : "spaced" , "level" : "error" }',
    '{"level":"err\\u006fr","msg":"escaped value"}',
]


def test_json_fields_equal_a_json_path_per_key():
    docs = pl.Series("doc", DOCS, pl.String)
    got = logs_module._json_fields(docs)
    want = pl.DataFrame({key: docs.str.json_path_match(f"$['{key}']") for key in logs_module._KEYS})
    assert_frame_equal(got, want)
    # With only valid objects too (the decoder takes every one of them at once).
    valid = docs.filter(docs.str.json_path_match("$").is_not_null() & docs.str.starts_with("{"))
    assert_frame_equal(logs_module._json_fields(valid),
                       pl.DataFrame({key: valid.str.json_path_match(f"$['{key}']") for key in logs_module._KEYS}))


def _logfmt_by_key(pairs: pl.Expr, key: str) -> pl.Expr:
    """The value of ``key`` among a line's pairs, one key at a time (the reference)."""
    prefix = key + "="
    raw = pairs.list.eval(pl.element().filter(pl.element().str.starts_with(prefix)).str.slice(len(prefix))).list.last()
    return logs_module._unquote(raw)


def test_logfmt_fields_equal_the_last_pair_of_each_key():
    lines = [
        'time="2026-11-18T14:18:01Z" level=info msg="a \\"quoted\\" \\\\ value\\n" app=x app=y namespace=n1 namespace=n2',
        'time="2026-11-18T14:18:01Z" level=error msg=bare error="e=1 level=info" grpc.error=g app-namespace= kind=K name="n m"',
        "no pairs here",
        'msg="unterminated',
        "",
        None,
    ]
    pairs = pl.Series("line", lines, pl.String).str.extract_all(logs_module._PAIR)
    got = logs_module._logfmt_fields(pairs)
    want = pl.DataFrame({"pairs": pairs}).select(_logfmt_by_key(pl.col("pairs"), k).alias(k) for k in logs_module._KEYS)
    assert_frame_equal(got, want)


def test_a_line_has_the_same_time_whatever_lines_it_is_parsed_with():
    lines = ['{"msg":"naive","time":"2026-11-18 14:18:01"}', '{"msg":"zoned","time":"2026-11-18T14:18:02Z"}',
             '{"msg":"epoch","ts":1763475511.5}', '2026-11-18T14:18:04+02:00 {"msg":"prefixed"}']
    together = parse_log(log(lines)).get_column("time").to_list()
    alone = [parse_log(log([line])).get_column("time").item() for line in lines]
    assert together == alone
    assert together[1:] == [datetime(2026, 11, 18, 14, 18, 2, tzinfo=UTC), datetime(2025, 11, 18, 14, 18, 31, 500000, tzinfo=UTC),
                            datetime(2026, 11, 18, 12, 18, 4, tzinfo=UTC)]


def test_line_count_counts_what_line_no_counts():
    from analyzer.frames.logs import line_count

    for data in (b"", b" \n", b"\n\n", b"a", b"a\n", b"a\n\nb", b"a\r\nb\r\n", b"a\n \n", b"\n\na\n\n", b"a\rb\n"):
        numbers = [n for part in logs_module._numbered(data) for n in part.get_column("line_no").to_list()]
        assert numbers == list(range(1, line_count(data) + 1)), data
