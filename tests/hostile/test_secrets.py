"""scan and redact on the planted-secrets bundle (planted.py), and the rules one by one."""

from __future__ import annotations

import io
import json
import hashlib
import re
import stat
import tarfile
from pathlib import Path

import pytest
from click.testing import CliRunner

import planted
from analyzer.cli import main
from analyzer.secrets import COLLECTOR_RULES, find_spans, scan_bundle
import sys

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hostile_support import REPO

PLANTED = planted.planted_secrets()
NEEDLES = [n for p in PLANTED for n in p.needles]
SAMPLES = sorted(p for p in (REPO / "sample_bundles").iterdir() if p.is_dir() or p.name.endswith(".tar.gz"))


def invoke(*args: str):
    result = CliRunner().invoke(main, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.stdout + result.stderr
    return result


def members(tar_path: Path) -> dict[str, bytes]:
    with tarfile.open(tar_path) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}


@pytest.fixture(params=["directory", "tar.gz"])
def bundle(request, tmp_path) -> Path:
    name = "bundle" if request.param == "directory" else "bundle.tar.gz"
    return planted.write_bundle(tmp_path / name)


def test_the_corpus_has_at_least_30_kinds_and_unique_needles():
    assert len(PLANTED) >= 30
    assert len({p.kind for p in PLANTED}) == len(PLANTED)
    assert all(len(n) >= 12 for n in NEEDLES)
    files = planted.bundle_files()
    blob = b"".join(files.values())
    for needle in NEEDLES:
        assert needle.encode() in blob, needle[:6]


def test_scan_finds_every_planted_secret(bundle):
    hits = scan_bundle(bundle).hits
    values = [h.value for h in hits]
    missing = [p.kind for p in PLANTED if not all(any(n in v for v in values) for n in p.needles)]
    assert missing == []
    # Each find is reported in the file it was planted in.
    for p in PLANTED:
        assert any(h.file.endswith(p.file) and any(n in h.value for n in p.needles) for h in hits), p.kind


def test_scan_cli_lists_file_field_and_rule_but_never_the_secret(bundle):
    result = invoke("scan", str(bundle))
    assert result.exit_code == 1
    out = result.stdout + result.stderr
    for needle in NEEDLES:
        assert needle not in out
        assert needle[2:14] not in out  # not even a longer prefix than the 2-character hint
    lines = result.stdout.splitlines()
    assert any(re.search(r"pods/payments\.json: Pod payments/api-\S+ spec\.containers\[0\]\.env\[1\]\.value: "
                         r"env-secret-value: \S\S\.\.\. \(40 chars\)$", line) for line in lines), lines[:5]
    assert any(re.search(r"api\.log: line 3: authorization-header: ", line) for line in lines)
    assert lines[-1].startswith(f"{len(lines) - 1} secret-looking value(s) in ")
    data = json.loads(invoke("scan", str(bundle), "--format", "json").stdout)
    assert len(data["findings"]) == len(lines) - 1
    assert {"file", "where", "rule", "length", "hint"} <= set(data["findings"][0])
    assert all(len(f["hint"]) <= 2 for f in data["findings"])


def test_redact_removes_every_planted_secret(bundle, tmp_path):
    out = tmp_path / "redacted.tar.gz"
    result = invoke("redact", str(bundle), "-o", str(out))
    assert result.exit_code == 0, result.stderr
    assert "wrote " + str(out) in result.stderr
    files = members(out)
    blob = b"\n".join(files.values()) + "\n".join(files).encode()
    survived = [p.kind for p in PLANTED for n in p.needles if n.encode() in blob]
    assert survived == []
    # The same layout: every file of the input, under the same names.
    before = planted.bundle_files()
    tops = {name.split("/", 1)[0] for name in files}
    assert len(tops) == 1
    assert {name.split("/", 1)[1] for name in files} == set(before)
    # Nothing left for scan to find, and the bundle still analyses.
    assert invoke("scan", str(out)).exit_code == 0
    assert invoke("diagnose", str(out), "--format", "json").exit_code in (0, 1)
    # No mapping unless asked for.
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != bundle.name) == ["redacted.tar.gz"]


def test_redact_tokens_are_consistent_and_counted(tmp_path):
    src = planted.write_bundle(tmp_path / "b")
    out = tmp_path / "r.tar.gz"
    assert invoke("redact", str(src), "-o", str(out)).exit_code == 0
    files = {name.split("/", 1)[1]: data.decode() for name, data in members(out).items()}
    pods = json.loads(files["cluster-resources/pods/payments.json"])
    env = {e["name"]: e["value"] for e in pods["items"][0]["spec"]["containers"][0]["env"]}
    token = env["DB_PASSWORD"]
    assert re.fullmatch(r"\*\*\*REDACTED-env-secret-value-\d+\*\*\*", token)
    log = files["cluster-resources/pods/logs/payments/api-7d9f8c6b5-x2x9q/api.log"]
    assert f"DB_PASSWORD={token} " in log  # the same value in a log line: the same token
    assert env["LOG_LEVEL"] == "info"
    manifest = json.loads(files["manifest.json"])
    counts = manifest["redaction"]["counts"]
    tokens = re.findall(r"\*\*\*REDACTED-([a-z0-9-]+?)-\d+\*\*\*", "".join(v for k, v in files.items() if k != "manifest.json"))
    assert sum(counts.values()) == len(tokens)
    assert manifest["redaction"]["passes"][-1]["counts"] == counts
    for command in manifest["commands"]:
        data = files[command["output"]].encode()
        assert command["bytes"] == len(data)
        assert command["sha256"] == hashlib.sha256(data).hexdigest()


def test_mapping_only_when_asked_and_private(tmp_path):
    src = planted.write_bundle(tmp_path / "b.tar.gz")
    out = tmp_path / "r.tar.gz"
    mapping = tmp_path / "mapping.json"
    result = invoke("redact", str(src), "-o", str(out), "--mapping", str(mapping))
    assert result.exit_code == 0
    assert stat.S_IMODE(mapping.stat().st_mode) == 0o600
    tokens = json.loads(mapping.read_text())["tokens"]
    originals = set(tokens.values())
    for needle in NEEDLES:
        assert any(needle in value for value in originals), needle[:6]
    redacted = b"".join(members(out).values()).decode()
    assert all(token in redacted for token in tokens)
    # An existing, world-readable file is made private too.
    mapping.chmod(0o644)
    assert invoke("redact", str(src), "-o", str(out), "--mapping", str(mapping)).exit_code == 0
    assert stat.S_IMODE(mapping.stat().st_mode) == 0o600


def test_redact_is_idempotent_and_refuses_bad_outputs(tmp_path):
    src = planted.write_bundle(tmp_path / "b")
    first = tmp_path / "first.tar.gz"
    second = tmp_path / "second.tar.gz"
    assert invoke("redact", str(src), "-o", str(first)).exit_code == 0
    result = invoke("redact", str(first), "-o", str(second))
    assert result.exit_code == 0
    assert "redacted 0 value(s)" in result.stderr
    for bad, why in ((src / "inside.tar.gz", "inside the input"), (tmp_path / "x.zip", ".tar.gz"),
                     (tmp_path / "nodir" / "x.tar.gz", "does not exist")):
        result = invoke("redact", str(src), "-o", str(bad))
        assert result.exit_code == 2 and why in result.stderr, result.stderr
        assert not bad.exists()
    result = invoke("redact", str(first), "-o", str(first))
    assert result.exit_code == 2 and "is the input" in result.stderr


def test_redact_refuses_a_file_over_the_cap_instead_of_dropping_it(tmp_path):
    src = planted.write_bundle(tmp_path / "b")
    result = invoke("redact", str(src), "-o", str(tmp_path / "r.tar.gz"), "--max-file-size", "1k")
    assert result.exit_code == 2
    assert "--max-file-size" in result.stderr and "raise the cap" in result.stderr
    assert not (tmp_path / "r.tar.gz").exists()
    scan = invoke("scan", str(src), "--max-file-size", "1k")
    assert scan.exit_code == 1  # what it could read holds secrets; the rest is listed as not scanned
    assert "not scanned" in scan.stderr


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: p.name)
def test_samples_are_clean(sample):
    """The collector's redacted samples: nothing left to find (no false positives either)."""
    result = invoke("scan", str(sample))
    assert result.exit_code == 0, result.stdout


# One line per collector rule: the text, and the part that must be hidden.
RULE_EXAMPLES = {
    "last-applied-configuration": None,  # structural: test_last_applied below
    "pem-private-key": ("key: -----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAq1w2\nabcdEFGH1234\n-----END RSA PRIVATE KEY-----",
                        "MIIEowIBAAKCAQEAq1w2"),
    "url-credentials": ("clone https://bob:s3cretPassw0rd@git.example.com/x.git", "s3cretPassw0rd"),
    "authorization-header": ('{"Authorization": "Basic Ym9iOnNlY3JldA=="}', "Ym9iOnNlY3JldA=="),
    "bearer-token": ("sent Bearer abcdefghijklmnop1234 upstream", "abcdefghijklmnop1234"),
    "aws-access-key": ("key AKIAABCDEFGHIJKLMNOP in use", "AKIAABCDEFGHIJKLMNOP"),
    "github-token": ("tok ghp_abcdefghijklmnopqrstuvwxyz0123456789", "ghp_abcdefghijklmnopqrstuvwxyz0123456789"),
    "gitlab-token": ("tok glpat-abcdefghij0123456789", "glpat-abcdefghij0123456789"),
    "slack-token": ("tok xoxb-1234567890-abcdef", "xoxb-1234567890-abcdef"),
    "slack-webhook": ("url https://hooks.slack.com/services/T0001/B0001/abcdefXYZ", "T0001/B0001/abcdefXYZ"),
    "jwt": ("t eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.sig_nature-x", "eyJzdWIiOiIxMjM0NTY3ODkwIn0"),
    "docker-config-auth": ('{"auths":{"r.io":{"auth":"dXNlcjpwYXNzd29yZA=="}}}', "dXNlcjpwYXNzd29yZA=="),
    "cli-secret-flag": ("run --client-secret=hunter2hunter2 --port=80", "hunter2hunter2"),
    "env-secret-value": ('{"name": "API_TOKEN", "value": "t0ps3cr3tvalue"}', "t0ps3cr3tvalue"),
    "secret-field": ("password: correct-horse-battery", "correct-horse-battery"),
}


@pytest.mark.parametrize("rule", [r for r in COLLECTOR_RULES if RULE_EXAMPLES[r]])  # last-applied: see test_last_applied
def test_each_collector_rule_fires(rule):
    text, secret = RULE_EXAMPLES[rule]
    spans = find_spans(text)
    hidden = [text[s.start:s.end] for s in spans]
    assert any(secret in h for h in hidden), (spans, hidden)


def test_last_applied(tmp_path):
    obj = {"apiVersion": "v1", "kind": "List", "items": [{
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "n", "annotations": {
            "kubectl.kubernetes.io/last-applied-configuration": json.dumps({"kind": "ConfigMap", "data": {"a": "b"}})}}}]}
    (tmp_path / "b" / "cluster-resources" / "configmaps").mkdir(parents=True)
    (tmp_path / "b" / "cluster-resources" / "configmaps" / "n.json").write_text(json.dumps(obj))
    assert scan_bundle(tmp_path / "b").hits == []  # nothing secret inside: not reported
    out = tmp_path / "r.tar.gz"
    assert invoke("redact", str(tmp_path / "b"), "-o", str(out)).exit_code == 0
    data = json.loads(next(iter(members(out).values())))
    value = data["items"][0]["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
    assert value == "***REDACTED-last-applied-configuration-1***"  # hidden whole, as the collector does


@pytest.mark.parametrize("text", [
    '"secretName": "argocd-secret"', "tokenTTL: 24h", "passwordSecretRef: db", '"automountServiceAccountToken": true',
    "password: ${DB_PASSWORD}", "password: ***HIDDEN***", "token: <redacted>", "api_key: null", "auth: true",
    "https://git.example.com/org/repo.git", "git@github.com:org/repo.git", "Bearer short", "sha256:" + "a" * 64,
])
def test_not_secrets(text):
    assert find_spans(text) == []


def test_scan_of_a_tarball_reads_members_without_extracting(tmp_path, monkeypatch):
    work = tmp_path / "a" / "b"  # ../../escape from here is tmp_path/escape
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    tar_path = tmp_path / "t.tar.gz"
    with tarfile.open(tar_path, "w:gz") as tar:
        data = b"password=hunter2hunter2\n"
        info = tarfile.TarInfo("../../escape/leak.log")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
        info = tarfile.TarInfo("b/ok.log")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    result = invoke("scan", str(tar_path))
    assert result.exit_code == 1
    assert "path escapes the bundle" in result.stderr
    assert not (tmp_path / "escape").exists()


@pytest.mark.parametrize("command", ["scan", "redact"])
def test_an_unforeseen_failure_is_one_line_not_a_traceback(tmp_path, monkeypatch, command):
    import analyzer.secrets as secrets

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(secrets, "scan_bundle", broken)
    monkeypatch.setattr(secrets, "redact_bundle", broken)
    args = [command, str(REPO / "sample_bundles" / "healthy-pipeline")] + (["-o", str(tmp_path / "r.tar.gz")] if command == "redact" else [])
    result = invoke(*args)
    assert result.exit_code == 2
    assert "internal error" in result.stderr and "RuntimeError: boom" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
