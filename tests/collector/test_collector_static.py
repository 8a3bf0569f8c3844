"""Static checks of collector.sh: lint, CLI surface, dry run, and its bash/awk
building blocks (JSON escaping, redaction, go-template output fixing, API
discovery conversion, config file parsing).

The script is sourced with COLLECTOR_LIB_ONLY=1, which defines its functions
and awk programs without running anything.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "collector.sh"
READ_VERBS = {"get", "logs", "version", "api-resources", "api-versions", "auth"}


def run_lib(snippet: str, *args: str, stdin: str | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    """Runs a bash snippet with the collector's functions loaded."""
    full_env = dict(os.environ, COLLECTOR_LIB_ONLY="1")
    if env:
        full_env.update(env)
    return subprocess.run(
        ["bash", "-c", f'source "{SCRIPT}" || exit 99\n{snippet}', "snippet", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=full_env,
        timeout=60,
    )


def run_script(*args: str, cwd: Path | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(SCRIPT), *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=60,
    )


# --------------------------------------------------------------------------
# Lint and CLI surface
# --------------------------------------------------------------------------


def test_shellcheck_clean():
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck is not installed (.ci/run installs it: apt-get install -y shellcheck)")
    proc = subprocess.run(["shellcheck", str(SCRIPT)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_bash_syntax():
    proc = subprocess.run(["bash", "-n", str(SCRIPT)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_help_exits_zero_with_examples():
    proc = run_script("--help")
    assert proc.returncode == 0
    assert "Usage:" in proc.stdout
    assert "Examples:" in proc.stdout
    for flag in ("--kargo-namespace", "--ssh-command", "--dry-run", "--deadline", "--parallel", "--no-redact"):
        assert flag in proc.stdout


def test_version_exits_zero():
    proc = run_script("--version")
    assert proc.returncode == 0
    assert proc.stdout.startswith("collector.sh ")


def test_unknown_option_exits_two():
    proc = run_script("--bogus")
    assert proc.returncode == 2
    assert "unknown option" in proc.stderr


def test_bad_durations_exit_two():
    assert run_script("--deadline", "soon").returncode == 2
    assert run_script("--parallel", "0").returncode == 2
    assert run_script("--limit-bytes", "lots").returncode == 2


# --------------------------------------------------------------------------
# Dry run
# --------------------------------------------------------------------------

CONFIG_YAML = """\
# cluster settings
ssh_command: "ssh bastion.example.com --" # how to reach kubectl
kargo_namespace: "kargo-my-project-test"   # Kargo project namespace
kargo_controller_namespace: "kargo-system"
argocd_namespace: 'infra'
argocd_controller_namespace: argocd-system
monitoring_namespace: "monitoring"
app_namespace: "my-app-test"
domain: "example.com"
kargo_project: "my-project"
warehouse_name: "platform-apps"
"""
CONFIG_NAMESPACES = {"kargo-my-project-test", "kargo-system", "infra", "argocd-system", "my-app-test"}


def _fake_kubectl_that_records(tmp_path: Path) -> tuple[Path, Path]:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    calls = tmp_path / "kubectl-calls"
    (bindir / "kubectl").write_text(f'#!/bin/sh\necho "$@" >> "{calls}"\nexit 1\n')
    (bindir / "kubectl").chmod(0o755)
    (bindir / "ssh").write_text(f'#!/bin/sh\necho "ssh $@" >> "{calls}"\nexit 1\n')
    (bindir / "ssh").chmod(0o755)
    return bindir, calls


@pytest.mark.parametrize("how", ["cwd-file", "--config"])
def test_dry_run_prints_only_read_verbs_and_config_namespaces(tmp_path, how):
    bindir, calls = _fake_kubectl_that_records(tmp_path)
    workdir = tmp_path / "work"
    workdir.mkdir()
    if how == "cwd-file":
        (workdir / ".gitops-config.yaml").write_text(CONFIG_YAML)
        args = ["--dry-run"]
    else:
        (tmp_path / "settings.yaml").write_text(CONFIG_YAML)
        args = ["--dry-run", "--config", str(tmp_path / "settings.yaml")]
    env = dict(os.environ, PATH=f"{bindir}:{os.environ['PATH']}")
    for key in list(env):
        if key.startswith("GITOPS_"):
            del env[key]
    proc = run_script(*args, cwd=workdir, env=env)
    assert proc.returncode == 0, proc.stderr
    assert not calls.exists(), "dry run must not run kubectl (or ssh)"
    assert not list(workdir.iterdir()) or [p.name for p in workdir.iterdir()] == [".gitops-config.yaml"]

    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    assert len(lines) > 50
    seen_ns: set[str] = set()
    verbs: set[str] = set()
    for line in lines:
        words = shlex.split(line)
        assert words[:3] == ["ssh", "bastion.example.com", "--"], line
        assert words[3] == "kubectl", line
        verb = words[4]
        assert verb in READ_VERBS, line
        if verb == "auth":
            assert words[5] == "can-i", line
        verbs.add(verb)
        for flag in ("-w", "--watch", "-f", "--follow"):
            assert flag not in words, line
        for i, word in enumerate(words):
            if word == "-n":
                seen_ns.add(words[i + 1])
        assert any(w.startswith("--request-timeout=") for w in words), line
    assert seen_ns == CONFIG_NAMESPACES
    assert {"get", "logs", "version", "api-resources", "auth"} <= verbs
    # The D1 views and the core objects are planned.
    text = proc.stdout
    assert "get stages.kargo.akuity.io -n kargo-my-project-test -o wide" in text
    assert "get promotions.kargo.akuity.io -n kargo-my-project-test --sort-by=.metadata.creationTimestamp" in text
    assert "get applications.argoproj.io -n infra -o json" in text
    assert "--field-selector=status.phase!=Running,status.phase!=Succeeded" in text
    assert "--previous" in text
    # Secrets only ever through the names-only template.
    for line in lines:
        if " secrets " in line:
            assert "go-template=" in line and "-o json" not in line
    # The resolved configuration is shown on stderr with its sources.
    assert "kargo_namespace = kargo-my-project-test (config-file)" in proc.stderr


def test_dry_run_flags_override_config_and_placeholders_for_the_rest(tmp_path):
    bindir, calls = _fake_kubectl_that_records(tmp_path)
    env = dict(os.environ, PATH=f"{bindir}:{os.environ['PATH']}", GITOPS_ARGOCD_NAMESPACE="from-env")
    (tmp_path / "c.yaml").write_text('kargo_namespace: "from-file"\nargocd_namespace: "file-argo"\n')
    proc = run_script("--dry-run", "--config", str(tmp_path / "c.yaml"), "--kargo-namespace", "from-flag", cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    assert not calls.exists()
    assert "kargo_namespace = from-flag (flag)" in proc.stderr
    assert "argocd_namespace = from-env (env)" in proc.stderr
    assert "-n from-flag" in proc.stdout and "from-file" not in proc.stdout
    assert "-n from-env" in proc.stdout
    # Undiscovered values appear as placeholders, and discovery queries are listed.
    assert "<app-namespace>" in proc.stdout
    assert "get pods -A -l app.kubernetes.io/name=kargo -o 'jsonpath=" in proc.stdout
    assert "get pods -A -l 'app.kubernetes.io/name in (argocd-application-controller," in proc.stdout
    for line in proc.stdout.splitlines():
        words = shlex.split(line)
        assert words[0] == "kubectl" and words[1] in READ_VERBS


# --------------------------------------------------------------------------
# Read-only guard
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv, allowed",
    [
        (["get", "pods", "-n", "x", "-o", "json"], True),
        (["logs", "-n", "x", "p", "-c", "c", "--previous"], True),
        (["version", "-o", "json"], True),
        (["api-resources", "-o", "wide"], True),
        (["api-versions"], True),
        (["auth", "can-i", "--list"], True),
        (["get", "--raw", "/apis"], True),
        (["get", "--raw", "/api/v1/namespaces/mon/services/prometheus-operated:9090/proxy/api/v1/targets?state=active"], True),
        (["get", "--raw=/api/v1/namespaces/mon/services/prometheus-operated:9090/proxy/api/v1/targets?state=active"], True),
        # `get --raw` reads two paths only: no other proxied path, no other API path, no path at all
        (["get", "--raw", "/api/v1/namespaces/mon/services/prometheus-operated:9090/proxy/api/v1/admin/tsdb/snapshot"], False),
        (["get", "--raw", "/api/v1/namespaces/mon/services/prometheus-operated:9090/proxy/api/v1/targets"], False),
        (["get", "--raw", "/api/v1/namespaces/mon/pods/p/proxy/metrics"], False),
        (["get", "--raw", "/api/v1/namespaces/mon/services/../secrets/x:1/proxy/api/v1/targets?state=active"], False),
        (["get", "--raw", "/api/v1/secrets"], False),
        (["get", "--raw=/api/v1/secrets"], False),
        (["get", "--raw"], False),
        (["delete", "pod", "x"], False),
        (["apply", "-f", "x.yaml"], False),
        (["annotate", "stage", "x", "a=b"], False),
        (["patch", "app", "x"], False),
        (["exec", "p", "--", "sh"], False),
        (["create", "promotion"], False),
        (["auth", "reconcile", "-f", "x"], False),
        (["get", "pods", "-w"], False),
        (["get", "pods", "--watch"], False),
        (["logs", "p", "-f"], False),
        (["logs", "p", "--follow"], False),
        ([], False),
    ],
)
def test_kube_verb_guard(argv, allowed):
    proc = run_lib('kube_verb_allowed "$@"', *argv)
    assert (proc.returncode == 0) == allowed


def test_dry_run_shows_the_prometheus_queries(tmp_path):
    bindir, calls = _fake_kubectl_that_records(tmp_path)
    env = dict(os.environ, PATH=f"{bindir}:{os.environ['PATH']}")
    proc = run_script("--dry-run", "--kargo-namespace", "kargo-demo", cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    assert not calls.exists()
    lines = proc.stdout.splitlines()
    assert any("get services -A -l operated-prometheus=true -o 'jsonpath=" in line for line in lines)
    assert any("get services -A -l app.kubernetes.io/name=prometheus" in line for line in lines)
    assert any("get services -A -l 'app in (prometheus,kube-prometheus-stack-prometheus)'" in line for line in lines)
    raw = [shlex.split(line) for line in lines if " --raw " in line]
    paths = sorted(words[3] for words in raw)
    assert paths == ["/api/v1/namespaces/<namespace>/services/<prometheus-service>:<port>/proxy/api/v1/targets?state=active",
                     "/apis"]
    assert all(words[1:3] == ["get", "--raw"] for words in raw)


def test_kube_exec_refuses_writes_without_running_kubectl(tmp_path):
    bindir, calls = _fake_kubectl_that_records(tmp_path)
    proc = run_lib(
        '( kube_exec delete pod x ); echo "rc=$?"',
        env={"PATH": f"{bindir}:{os.environ['PATH']}"},
    )
    assert "rc=126" in proc.stdout
    assert "refusing" in proc.stderr
    assert not calls.exists()


# --------------------------------------------------------------------------
# JSON escaping
# --------------------------------------------------------------------------

TRICKY_STRINGS = [
    "",
    "plain",
    'double "quotes" inside',
    "back\\slash \\n not a newline",
    "trailing backslash \\",
    "new\nline and\r\ncrlf",
    "tab\there",
    "controls \x01\x02\x07\x08\x0b\x0c\x1b\x1f\x7f",
    "utf-8: é ü ß 中文 😀 \u200b",
    '{"json": ["in", "json"]}',
    "'single' $dollar `backtick` %s %q",
    "\\\\\"\\\"",
]


@pytest.mark.parametrize("value", TRICKY_STRINGS)
def test_json_escape_round_trips(value):
    proc = run_lib('json_str "$1"; printf "\\n"; printf "\\"%s\\"" "$(json_escape "$1")"', value)
    assert proc.returncode == 0, proc.stderr
    first, second = proc.stdout.split("\n", 1)
    assert json.loads(first) == value
    assert json.loads(second) == value


def test_json_array_and_null_helpers():
    proc = run_lib('json_array "$@"; printf "\\n"; json_str_or_null ""; printf "\\n"; json_str_or_null x', 'a"b', "c\nd", "é")
    lines = proc.stdout.split("\n")
    assert json.loads(lines[0]) == ['a"b', "c\nd", "é"]
    assert lines[1] == "null"
    assert json.loads(lines[2]) == "x"


# --------------------------------------------------------------------------
# Redaction
# --------------------------------------------------------------------------

# rule -> (input line, secret that must disappear, text that must survive)
REDACTION_CASES = {
    "last-applied-configuration": (
        '            "kubectl.kubernetes.io/last-applied-configuration": "{\\"kind\\":\\"Secret\\",\\"data\\":{\\"x\\":\\"c2VjcmV0\\"}}\\n",',
        "c2VjcmV0",
        '"kubectl.kubernetes.io/last-applied-configuration": "***HIDDEN***",',
    ),
    "pem-private-key": (
        '    "tls.key": "-----BEGIN RSA PRIVATE KEY-----\\nMIIEowIBAAKCAQEAsecretbody\\n-----END RSA PRIVATE KEY-----\\n",',
        "MIIEowIBAAKCAQEAsecretbody",
        "-----BEGIN RSA PRIVATE KEY-----***HIDDEN***-----END RSA PRIVATE KEY-----",
    ),
    "url-credentials": (
        '                "repoURL": "https://deploy:s3cr3tpass@github.com/example/repo.git",',
        "s3cr3tpass",
        '"repoURL": "https://***HIDDEN***@github.com/example/repo.git",',
    ),
    "authorization-header": (
        '2024-05-01T10:00:00Z level=debug msg="request" Authorization: Basic dXNlcjpwYXNzd29yZA==',
        "dXNlcjpwYXNzd29yZA==",
        'msg="request" Authorization: ***HIDDEN***',
    ),
    "bearer-token": (
        "calling the API with bearer abcdefghijklmnopqrstuvwxyz0123456789 now",
        "abcdefghijklmnopqrstuvwxyz0123456789",
        "bearer ***HIDDEN*** now",
    ),
    "aws-access-key": (
        "uploading with key AKIAIOSFODNN7EXAMPLE to s3",
        "AKIAIOSFODNN7EXAMPLE",
        "with key ***HIDDEN*** to s3",
    ),
    "github-token": (
        "cloning with ghp_abcdefghijklmnopqrstuvwxyzABCDEFGHIJ and github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuv",
        "ghp_abcdefghijklmnopqrstuvwxyzABCDEFGHIJ",
        "cloning with ***HIDDEN*** and ***HIDDEN***",
    ),
    "gitlab-token": (
        "push with glpat-abcdefghij0123456789xyz failed",
        "glpat-abcdefghij0123456789xyz",
        "push with ***HIDDEN*** failed",
    ),
    "bitbucket-token": (
        "mirror pushes with ATBBx7Kq2mZ9pLr4Ts8Vw1Yc3Nd6Fh0Jg5Bk2 nightly",
        "ATBBx7Kq2mZ9pLr4Ts8Vw1Yc3Nd6Fh0Jg5Bk2",
        "mirror pushes with ***HIDDEN*** nightly",
    ),
    "npm-token": (
        '    ".npmrc": "//registry.npmjs.org/:_authToken=npm_abcdefghijklmnopqrstuvwxyz0123456789\n",',
        "npm_abcdefghijklmnopqrstuvwxyz0123456789",
        "//registry.npmjs.org/:_authToken=***HIDDEN***",
    ),
    "google-api-key": (
        "    \"settings.js\": \"window.MAPS = { key: 'AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q' };\",",
        "AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q",
        "window.MAPS = { key: '***HIDDEN***' };",
    ),
    "slack-token": (
        "notify xoxb-1234567890-abcdefghijklmn done",
        "xoxb-1234567890-abcdefghijklmn",
        "notify ***HIDDEN*** done",
    ),
    "slack-webhook": (
        '    "service.slack": "https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXX",',
        "T000/B000/XXXXXXXXXXXXXXXX",
        "https://hooks.slack.com/services/***HIDDEN***",
    ),
    "jwt": (
        '    "sessionToken2": "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJl"',
        "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJl",
        "***HIDDEN***",
    ),
    "docker-config-auth": (
        '    ".dockerconfigjson": "{\\"auths\\":{\\"ghcr.io\\":{\\"auth\\":\\"dXNlcjpwYXNz\\"}}}",',
        "dXNlcjpwYXNz",
        '{\\"auths\\":{\\"ghcr.io\\":{\\"auth\\":\\"***HIDDEN***\\"}}}',
    ),
    "cli-secret-flag": (
        '                    "--repo-password=hunter22",',
        "hunter22",
        '"--repo-password=***HIDDEN***",',
    ),
    "env-secret-value": (
        '    "env": [{"name":"DB_PASSWORD","value":"hunter2"},{"name":"LOG_LEVEL","value":"debug"}],',
        "hunter2",
        '{"name":"DB_PASSWORD","value":"***HIDDEN***"},{"name":"LOG_LEVEL","value":"debug"}',
    ),
    "secret-field": (
        '            "admin.password": "adminpw123",',
        "adminpw123",
        '"admin.password": "***HIDDEN***",',
    ),
}


def redact(text: str, env: dict | None = None) -> tuple[str, dict[str, int]]:
    proc = run_lib(
        'cnt=$(mktemp); redact_stream "$cnt"; echo "@@COUNTS@@"; cat "$cnt"; rm -f "$cnt"',
        stdin=text,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    out, counts_text = proc.stdout.split("@@COUNTS@@\n")
    counts = {}
    for line in counts_text.splitlines():
        rule, n = line.split()
        counts[rule] = int(n)
    return out, counts


def test_every_rule_has_a_case():
    proc = run_lib('printf "%s\\n" "${REDACTION_RULES[@]}"')
    rules = proc.stdout.split()
    assert sorted(rules) == sorted(REDACTION_CASES)


@pytest.mark.parametrize("rule", sorted(REDACTION_CASES))
def test_redaction_rule_removes_secret_and_counts_it(rule):
    line, secret, keep = REDACTION_CASES[rule]
    out, counts = redact(line + "\n")
    assert secret not in out
    assert keep in out
    assert counts.get(rule, 0) >= 1, counts


def test_redaction_of_env_pairs_in_pretty_json():
    text = """\
                        "env": [
                            {
                                "name": "GITHUB_TOKEN_SECRET",
                                "value": "plain-secret-value"
                            },
                            {
                                "name": "LOG_LEVEL",
                                "value": "debug"
                            },
                            {
                                "name": "PASSWORD_FILE",
                                "value": "/etc/secret/pw"
                            }
                        ],
"""
    out, counts = redact(text)
    assert "plain-secret-value" not in out
    assert '"value": "debug"' in out
    assert '"value": "/etc/secret/pw"' in out
    assert counts["env-secret-value"] == 1


def test_redaction_of_multiline_pem_in_logs():
    text = (
        "2024-05-01T10:00:00Z loading key\n"
        "2024-05-01T10:00:00Z -----BEGIN OPENSSH PRIVATE KEY-----\n"
        "2024-05-01T10:00:00Z b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\n"
        "2024-05-01T10:00:00Z AAAAC3NzaC1lZDI1NTE5AAAAIGx0ZXN0a2V5\n"
        "2024-05-01T10:00:00Z -----END OPENSSH PRIVATE KEY-----\n"
        "2024-05-01T10:00:01Z key loaded\n"
    )
    out, counts = redact(text)
    assert "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ" not in out
    assert "AAAAC3NzaC1lZDI1NTE5AAAAIGx0ZXN0a2V5" not in out
    assert "-----END OPENSSH PRIVATE KEY-----" in out
    assert "key loaded" in out and "loading key" in out
    assert counts["pem-private-key"] == 1


def test_redaction_in_yaml_inside_configmap_values_and_logfmt():
    text = (
        '            "dex.config": "connectors:\\n- type: github\\n  config:\\n    clientID: abc\\n    clientSecret: literal-value-1\\n",\n'
        '            "oidc.config": "issuer: https://idp.example.com\\nclientSecret: $oidc.okta.clientSecret\\n",\n'
        'time=2024-05-01T10:00:00Z msg="refresh" access_token=tok-value-2 password="two words" count=3\n'
        '    "query": "https://x/y?a=1\\u0026token=tok-value-3\\u0026b=2",\n'
    )
    out, counts = redact(text)
    for secret in ("literal-value-1", "tok-value-2", "two words", "tok-value-3"):
        assert secret not in out
    assert "clientID: abc" in out
    assert "$oidc.okta.clientSecret" in out, "references to a secret are kept"
    assert "count=3" in out
    assert counts["secret-field"] == 4


def test_redaction_of_azure_strings_and_signatures():
    text = (
        '    "STORAGE": "DefaultEndpointsProtocol=https;AccountName=prod;AccountKey=c2VjcmV0LWtleQ+/x==;EndpointSuffix=core.windows.net",\n'
        "2024-05-01T10:00:00Z GET https://prod.blob.core.windows.net/x.csv?sv=2022-11-02&sp=r&sig=T2nOdN2WRPFK%3D\n"
        '    "example.com/webhook-signature": "ZECBR6x8NQYgAuaQam0Ub421",\n'
        '    "signatureKeys": [{"keyID": "4AEE18F83AFDEB23"}],\n'
    )
    out, counts = redact(text)
    for secret in ("c2VjcmV0LWtleQ", "T2nOdN2WRPFK", "ZECBR6x8NQYgAuaQam0Ub421"):
        assert secret not in out
    assert "AccountName=prod;AccountKey=***HIDDEN***;EndpointSuffix=core.windows.net" in out
    assert "sp=r&sig=***HIDDEN***" in out
    assert '"keyID": "4AEE18F83AFDEB23"' in out  # Argo CD's GPG key ids are not secrets
    assert counts["secret-field"] == 3


def test_redaction_keeps_diagnostic_fields():
    text = """\
            "annotations": {
                "kargo.akuity.io/authorized-stage": "kargo-demo:test",
                "argocd.argoproj.io/secret-type": "repository"
            },
            "secretName": "tls-cert",
            "passwordSecretRef": "repo-creds",
            "tokenExpirationSeconds": 3600,
            "automountServiceAccountToken": false,
            "message": "failed to get credentials: secret not found",
            "url": "https://argocd.example.com",
            "apiGroup": "rbac.authorization.k8s.io",
            "repoURL": "git@github.com:example/repo.git",
            "data": {"password": "", "token": ""}
"""
    out, counts = redact(text)
    assert out == text
    assert counts == {}


def test_redaction_is_idempotent():
    text = "\n".join(case[0] for case in REDACTION_CASES.values()) + "\n"
    once, _ = redact(text)
    twice, counts = redact(once)
    assert twice == once
    assert counts == {}


def test_no_redact_passes_data_through():
    line = REDACTION_CASES["github-token"][0] + "\n"
    proc = run_lib('OPT_REDACT=0; redact_stream ""', stdin=line)
    assert proc.stdout == line


def _awk_variants() -> list[str]:
    variants = ["awk"]
    for name in ("mawk", "gawk", "original-awk", "nawk"):
        if shutil.which(name):
            variants.append(name)
    if shutil.which("busybox"):
        variants.append("busybox")
    return variants


@pytest.mark.parametrize("awk", _awk_variants())
def test_redaction_same_with_every_awk(tmp_path, awk):
    shim = tmp_path / "shim"
    shim.mkdir()
    target = shutil.which("busybox" if awk == "busybox" else awk)
    if awk == "busybox":
        (shim / "awk").write_text(f'#!/bin/sh\nexec "{target}" awk "$@"\n')
    else:
        (shim / "awk").write_text(f'#!/bin/sh\nexec "{target}" "$@"\n')
    (shim / "awk").chmod(0o755)
    text = "\n".join(case[0] for case in REDACTION_CASES.values()) + "\n"
    reference, reference_counts = redact(text)
    out, counts = redact(text, env={"PATH": f"{shim}:{os.environ['PATH']}"})
    assert out == reference
    assert counts == reference_counts


# --------------------------------------------------------------------------
# Other awk programs
# --------------------------------------------------------------------------


def test_go_template_output_becomes_valid_json():
    # What printf "%q" produces for a bell, a raw byte, an astral non-printable
    # rune, and escaped backslashes/quotes.
    go = '{"a":"x\\ay\\vz\\x01\\U000e0001 \\\\a \\"q\\" \\u200b é"}\n'
    proc = run_lib('awk "$GOTPL_FIX_AWK"', stdin=go)
    assert json.loads(proc.stdout) == {"a": 'x\x07y\x0bz\x01\U000e0001 \\a "q" \u200b é'}


@pytest.mark.parametrize("value", TRICKY_STRINGS)
def test_json_lines_splits_outside_strings_only(value):
    doc = {"status": "success", "data": {"activeTargets": [
        {"labels": {"a,b": value, "c": "x,y"}, "lastError": value, "health": "up"},
        {"labels": {}, "lastError": "", "n": [1, 2, 3], "ok": True, "none": None}]}}
    text = json.dumps(doc, separators=(",", ":"), ensure_ascii=False)
    proc = run_lib('awk "$JSON_LINES_AWK"', stdin=text)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == doc
    # every comma outside a string ends a line, and none inside one does ("a,b", "x,y" and the value twice)
    structural = text.count(",") - 2 - 2 * value.count(",")
    assert len(proc.stdout.splitlines()) == structural + 1


def test_prometheus_services_are_chosen_by_label_and_port():
    rows = [
        # namespace, name, operated-prometheus, app.kubernetes.io/name, app, app.kubernetes.io/component, component, ports
        ("mon", "prometheus-operated", "true", "", "", "", "", "web:9090 "),
        ("mon", "prometheus-operated", "true", "prometheus", "", "", "", "web:9090 "),  # the same Service again
        ("mon", "kps-prometheus", "", "", "kube-prometheus-stack-prometheus", "", "", "reloader-web:8080 http-web:9090 "),
        ("mon", "prometheus-k8s", "", "prometheus", "", "prometheus", "", "reloader-web:8080 web:9091 "),
        ("mon", "prometheus-server", "", "prometheus", "", "server", "", "http:80 "),
        ("mon", "prometheus-alertmanager", "", "", "prometheus", "", "alertmanager", "http:80 "),
        ("mon", "prometheus-node-exporter", "", "prometheus-node-exporter", "", "", "", "metrics:9100 "),
        ("mon", "grafana", "", "grafana", "", "", "", "http:80 "),
        ("mon", "headless", "true", "", "", "", "", ""),
        ("mon", "Not_A_Name", "true", "", "", "", "", "web:9090 "),
        ("other", "prometheus", "", "", "prometheus", "", "", ":9090 "),
    ]
    text = "".join("\t".join(r) + "\n" for r in rows)
    proc = run_lib('awk -v nss="$1" "$PROM_SERVICES_AWK"', "", stdin=text)
    assert proc.stdout.splitlines() == [
        "mon\tprometheus-operated\t9090",
        "mon\tkps-prometheus\t9090",
        "mon\tprometheus-k8s\t9091",
        "mon\tprometheus-server\t80",
        "other\tprometheus\t9090",
    ]
    proc = run_lib('awk -v nss="$1" "$PROM_SERVICES_AWK"', " other ", stdin=text)
    assert proc.stdout.splitlines() == ["other\tprometheus\t9090"]


def test_json_member_extraction():
    doc = json.dumps(
        {"clientVersion": {"gitVersion": "v1.30.1", "x": "}{"}, "kustomizeVersion": "v5", "serverVersion": {"gitVersion": "v1.29.0"}},
        indent=2,
    )
    proc = run_lib('awk -v key=clientVersion "$JSONGET_AWK"; ', stdin=doc)
    assert json.loads(proc.stdout) == {"gitVersion": "v1.30.1", "x": "}{"}
    proc = run_lib('awk -v key=missing "$JSONGET_AWK"', stdin=doc)
    assert proc.stdout == ""


def test_api_groups_from_apis_document():
    doc = json.dumps(
        {
            "kind": "APIGroupList",
            "groups": [
                {"name": "apps", "versions": [{"groupVersion": "apps/v1", "version": "v1"}], "preferredVersion": {"groupVersion": "apps/v1", "version": "v1"}}
            ],
        }
    )
    proc = run_lib("groups_filter", stdin=doc)
    groups = json.loads(proc.stdout)
    assert [g["name"] for g in groups] == ["", "apps"]


@pytest.mark.parametrize(
    "table",
    [
        # kubectl 1.30: comma separated verbs
        "NAME          SHORTNAMES   APIVERSION                 NAMESPACED   KIND         VERBS      CATEGORIES\n"
        "configmaps    cm           v1                         true         ConfigMap    get,list   \n"
        "stages                     kargo.akuity.io/v1alpha1   true         Stage        get,list   kargo\n"
        "nodes         no           v1                         false        Node         get,list   \n",
        # newer kubectl: bracketed verbs
        "NAME          SHORTNAMES   APIVERSION                 NAMESPACED   KIND         VERBS                 CATEGORIES\n"
        "configmaps    cm           v1                         true         ConfigMap    [get list]            \n"
        "stages                     kargo.akuity.io/v1alpha1   true         Stage        [get list]            kargo\n"
        "nodes         no           v1                         false        Node         [get list]            \n",
    ],
)
def test_api_resources_table_to_json(table):
    proc = run_lib('awk "$APIRES_AWK"', stdin=table)
    lists = json.loads(proc.stdout)
    assert [l["groupVersion"] for l in lists] == ["v1", "kargo.akuity.io/v1alpha1"]
    core = {r["name"]: r for r in lists[0]["resources"]}
    assert core["configmaps"]["shortNames"] == ["cm"]
    assert core["configmaps"]["verbs"] == ["get", "list"]
    assert core["nodes"]["namespaced"] is False
    stage = lists[1]["resources"][0]
    assert stage == {"name": "stages", "singularName": "", "namespaced": True, "kind": "Stage", "verbs": ["get", "list"], "categories": ["kargo"]}


def test_utf8_cleaning_of_stderr():
    proc = subprocess.run(
        ["bash", "-c", f'COLLECTOR_LIB_ONLY=1 source "{SCRIPT}"; printf "ok \\303\\251 bad \\377 cut \\342\\202" | awk "$UTF8_CLEAN_AWK"'],
        capture_output=True,
    )
    assert proc.stdout.decode("utf-8") == "ok é bad ? cut ??"


def test_config_file_parsing(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        "# comment\n"
        "---\n"
        'ssh_command: "MISE_ENV=test mise run server:ssh" # How to reach the cluster\n'
        'kargo_namespace: "kargo-a" # Kargo project namespace\r\n'
        "argocd_namespace: infra   # apps\n"
        "app_namespace: [one, 'two']\n"
        "domain: 'it''s.example.com'\n"
        "\n"
        "not yaml at all\n"
    )
    proc = run_lib('awk "$CONFIG_AWK" "$1"', str(cfg))
    assert proc.stdout.splitlines() == [
        "ssh_command\tMISE_ENV=test mise run server:ssh",
        "kargo_namespace\tkargo-a",
        "argocd_namespace\tinfra",
        "app_namespace\tone,two",
        "domain\tit's.example.com",
        "!9\tnot yaml at all",
    ]


def test_shell_quote_survives_a_shell():
    words = ["get", "pods", "-o", 'jsonpath={range .items[*]}{.metadata.name}{"\\t"}{end}', "it's", "a b", "$HOME", ""]
    proc = run_lib('cmd=$(shell_join "$@"); eval "set -- $cmd"; printf "%s\\0" "$@"', *words)
    assert proc.stdout.split("\0")[:-1] == words
