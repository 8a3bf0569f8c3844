"""A bundle with secrets planted where they leak in real clusters.

More than 30 kinds: cloud keys (AWS, a GCP service-account JSON, an Azure
connection string and SAS URL, a Google API key), Git host tokens (GitHub,
GitLab, Bitbucket), JWTs, PEM private keys (RSA, EC, OpenSSH, PKCS#8),
credentials in URLs, docker config JSON, passwords in env, ConfigMaps,
annotations, Helm values and log lines, Argo CD repository and cluster secret
shapes, Kargo credential Secrets, Slack webhooks and tokens, npm tokens,
Authorization headers, secret CLI flags and sshpass.

Every value is made up (seeded, so the same on every run) and unique, so a
test can search the output for it literally. Reuse::

    sys.path.insert(0, "tests/hostile")
    import planted

    for p in planted.planted_secrets():   # Planted(kind, file, where, needles)
        ...
    root = planted.write_bundle(tmp_path / "bundle")            # a bundle directory
    tar = planted.write_bundle(tmp_path / "bundle.tar.gz")      # or a .tar.gz
    objects = planted.cluster_objects()   # {bundle path: kubectl List} for a fake API server

The layout is collector.sh's (cluster-resources/...), so ``gitops-master
serve`` can serve it to collector.sh, and ``gitops-master scan`` and
``redact`` read it as a bundle.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import random
import tarfile
from dataclasses import dataclass
from pathlib import Path

COLLECTED_AT = "2026-11-20T03:12:45Z"
TOP = "gitops-bundle-20261120T031245Z"


@dataclass(frozen=True)
class Planted:
    kind: str  # what it is, e.g. "aws-secret-access-key in pod env"
    file: str  # the bundle file it is in
    where: str  # where in that file
    needles: tuple[str, ...]  # literal strings that must not survive redaction


class _Values:
    """Made-up secrets, the same on every run."""

    def __init__(self, seed: int = 20261120):
        self.rng = random.Random(seed)

    def chars(self, alphabet: str, n: int) -> str:
        return "".join(self.rng.choice(alphabet) for _ in range(n))

    def alnum(self, n: int) -> str:
        return self.chars("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", n)

    def upper(self, n: int) -> str:
        return self.chars("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", n)

    def b64(self, n: int) -> str:
        return self.chars("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", n)

    def hex(self, n: int) -> str:
        return self.chars("0123456789abcdef", n)

    def password(self) -> str:
        return "Pw-" + self.alnum(14) + "!" + self.alnum(3)

    def pem(self, label: str, lines: int = 6) -> tuple[str, str]:
        """A PEM block and one of its body lines (the needle)."""
        body = [self.b64(64) for _ in range(lines)]
        return f"-----BEGIN {label}-----\n" + "\n".join(body) + f"\n-----END {label}-----\n", body[1]

    def jwt(self) -> str:
        def seg(obj: dict) -> str:
            return base64.urlsafe_b64encode(json.dumps(obj, separators=(",", ":")).encode()).decode().rstrip("=")

        return (seg({"alg": "RS256", "kid": self.hex(8)}) + "." +
                seg({"iss": "kubernetes/serviceaccount", "sub": "system:serviceaccount:argocd:" + self.alnum(12)}) + "." +
                self.chars("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", 86))


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _list(items: list[dict]) -> dict:
    return {"apiVersion": "v1", "kind": "List", "items": items, "metadata": {"resourceVersion": ""}}


def _meta(name: str, ns: str, **extra) -> dict:
    return {"name": name, "namespace": ns, "uid": f"uid-{name}", "creationTimestamp": "2026-11-19T10:00:00Z", **extra}


def _build(seed: int = 20261120) -> tuple[list[Planted], dict[str, object]]:
    """The planted list and the bundle's files (path -> JSON object or text)."""
    v = _Values(seed)
    planted: list[Planted] = []
    files: dict[str, object] = {}

    def plant(kind: str, file: str, where: str, *needles: str) -> None:
        planted.append(Planted(kind, file, where, tuple(needles)))

    # ---------------------------------------------------------------- pods
    pods = "cluster-resources/pods/payments.json"
    aws_id = "AKIA" + v.upper(16)
    aws_secret = v.b64(40)
    db_password = v.password()
    flag_token = "tok_" + v.alnum(32)
    flag_password = v.password()
    gho = "gho_" + v.alnum(36)
    api_pod = {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": _meta("api-7d9f8c6b5-x2x9q", "payments", labels={"app": "api"}),
        "spec": {"containers": [{
            "name": "api", "image": "registry.example.com/payments/api:1.4.2",
            "args": ["serve", "--token", flag_token, f"--db-password={flag_password}", "--port=8080"],
            "env": [
                {"name": "AWS_ACCESS_KEY_ID", "value": aws_id},
                {"name": "AWS_SECRET_ACCESS_KEY", "value": aws_secret},
                {"name": "DB_PASSWORD", "value": db_password},
                {"name": "GIT_CLONE_AUTH", "value": gho},
                {"name": "LOG_LEVEL", "value": "info"},
            ],
        }]},
        "status": {"phase": "Running", "containerStatuses": [{"name": "api", "ready": True, "restartCount": 0,
                                                               "image": "registry.example.com/payments/api:1.4.2"}]},
    }
    files[pods] = _list([api_pod])
    plant("aws-access-key-id in pod env", pods, "env AWS_ACCESS_KEY_ID", aws_id)
    plant("aws-secret-access-key in pod env", pods, "env AWS_SECRET_ACCESS_KEY", aws_secret)
    plant("database password in pod env", pods, "env DB_PASSWORD", db_password)
    plant("github oauth token in pod env", pods, "env GIT_CLONE_AUTH", gho)
    plant("token as a separate CLI argument", pods, "args --token <value>", flag_token)
    plant("password in a --flag=value argument", pods, "args --db-password=", flag_password)

    # ---------------------------------------------------------------- configmaps
    cms = "cluster-resources/configmaps/payments.json"
    sa_key, sa_needle = v.pem("PRIVATE KEY")
    sa_key_id = v.hex(40)
    gcp_json = json.dumps({
        "type": "service_account", "project_id": "payments-prod", "private_key_id": sa_key_id,
        "private_key": sa_key, "client_email": "deployer@payments-prod.iam.gserviceaccount.com",
        "client_id": "1" + "".join(v.rng.choice("0123456789") for _ in range(20)),
        "token_uri": "https://oauth2.googleapis.com/token",
    }, indent=2)
    google_key = "AIza" + v.chars("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-", 35)
    azure_key = v.b64(86) + "=="
    npm = "npm_" + v.alnum(36)
    cm_password = v.password()
    atbb = "ATBB" + v.alnum(32)
    rsa_key, rsa_needle = v.pem("RSA PRIVATE KEY", 8)
    docker_password = v.password()
    docker_auth = _b64("ci-bot:" + docker_password)
    slack_hook = f"T{v.upper(8)}/B{v.upper(10)}/{v.alnum(24)}"
    configmaps = [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": _meta("gcp-deployer", "payments"),
         "data": {"key.json": gcp_json}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": _meta("frontend", "payments"),
         "data": {"settings.js": f"window.MAPS = {{ key: '{google_key}', zoom: 12 }};\n"}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": _meta("storage", "payments"),
         "data": {"STORAGE_CONNECTION": "DefaultEndpointsProtocol=https;AccountName=paymentsprod;"
                                       f"AccountKey={azure_key};EndpointSuffix=core.windows.net"}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": _meta("npm", "payments"),
         "data": {".npmrc": f"registry=https://registry.npmjs.org/\n//registry.npmjs.org/:_authToken={npm}\n"}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": _meta("app-config", "payments"),
         "data": {"database.host": "pg.payments.svc", "password": cm_password}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": _meta("ci-notes", "payments"),
         "data": {"README": f"Mirror job pushes to bitbucket with the app password {atbb} (rotate yearly)."}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": _meta("tls", "payments"),
         "data": {"server.crt": "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n", "server.key": rsa_key}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": _meta("docker", "payments"),
         "data": {"config.json": json.dumps({"auths": {"registry.example.com": {
             "username": "ci-bot", "password": docker_password, "auth": docker_auth}}})}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": _meta("alerts", "payments"),
         "data": {"notify.yaml": f"receivers:\n- name: team\n  slack_configs:\n  - api_url: https://hooks.slack.com/services/{slack_hook}\n"}},
    ]
    files[cms] = _list(configmaps)
    plant("GCP service-account JSON in a ConfigMap", cms, "gcp-deployer key.json", sa_needle, sa_key_id)
    plant("Google API key in a ConfigMap script", cms, "frontend settings.js", google_key)
    plant("Azure storage connection string in a ConfigMap", cms, "storage STORAGE_CONNECTION", azure_key)
    plant("npm token in an .npmrc ConfigMap", cms, "npm .npmrc", npm)
    plant("password in a ConfigMap", cms, "app-config password", cm_password)
    plant("Bitbucket app password in ConfigMap text", cms, "ci-notes README", atbb)
    plant("RSA private key in a ConfigMap", cms, "tls server.key", rsa_needle)
    plant("docker config JSON in a ConfigMap", cms, "docker config.json", docker_password, docker_auth)
    plant("Slack webhook in Alertmanager config", cms, "alerts notify.yaml", slack_hook.rsplit("/", 1)[1])

    # Argo CD repository and cluster secret shapes, leaked as ConfigMaps and annotations.
    argo_cms = "cluster-resources/configmaps/argocd.json"
    repo_token = "ghp_" + v.alnum(36)
    ssh_key, ssh_needle = v.pem("OPENSSH PRIVATE KEY", 7)
    app_key, app_needle = v.pem("RSA PRIVATE KEY")
    files[argo_cms] = _list([
        {"apiVersion": "v1", "kind": "ConfigMap",
         "metadata": _meta("repo-private-copy", "argocd", labels={"argocd.argoproj.io/secret-type": "repository"}),
         "data": {"type": "git", "url": "https://github.com/example/private-config", "username": "git",
                  "password": repo_token, "sshPrivateKey": ssh_key}},
        {"apiVersion": "v1", "kind": "ConfigMap",
         "metadata": _meta("repo-creds-github-app", "argocd", labels={"argocd.argoproj.io/secret-type": "repo-creds"}),
         "data": {"url": "https://github.com/example", "githubAppID": "123456", "githubAppInstallationID": "7890",
                  "githubAppPrivateKey": app_key}},
    ])
    plant("Argo CD repository secret shape in a ConfigMap (password)", argo_cms, "repo-private-copy password", repo_token)
    plant("OpenSSH private key in an Argo CD repository ConfigMap", argo_cms, "repo-private-copy sshPrivateKey", ssh_needle)
    plant("GitHub App private key in an Argo CD repo-creds ConfigMap", argo_cms, "repo-creds-github-app githubAppPrivateKey", app_needle)

    # ---------------------------------------------------------------- annotations
    deploys = "cluster-resources/deployments/payments.json"
    admin_password = v.password()
    ghp = "ghp_" + v.alnum(36)
    signature = v.alnum(20) + v.hex(20)
    pkcs8, pkcs8_needle = v.pem("PRIVATE KEY", 4)
    files[deploys] = _list([{
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": _meta("api", "payments", annotations={
            "example.com/admin-password": admin_password,
            "ci.example.com/github-token": ghp,
            "example.com/webhook-signature": signature,
            "example.com/tls-private-key": pkcs8,
            "deployment.kubernetes.io/revision": "7",
        }),
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "api"}},
                 "template": {"metadata": {"labels": {"app": "api"}}, "spec": {"containers": [
                     {"name": "api", "image": "registry.example.com/payments/api:1.4.2"}]}}},
        "status": {"replicas": 2, "readyReplicas": 2, "availableReplicas": 2},
    }])
    plant("password in an annotation", deploys, "annotation example.com/admin-password", admin_password)
    plant("GitHub classic token in an annotation", deploys, "annotation ci.example.com/github-token", ghp)
    plant("high-entropy webhook signature in an annotation", deploys, "annotation example.com/webhook-signature", signature)
    plant("PKCS#8 private key in an annotation", deploys, "annotation example.com/tls-private-key", pkcs8_needle)

    apps = "cluster-resources/custom-resources/applications.argoproj.io/argocd.json"
    cluster_jwt = v.jwt()
    key_data = _b64("-----BEGIN EC PRIVATE KEY-----\n" + v.b64(64) + "\n-----END EC PRIVATE KEY-----\n")
    helm_password = v.password()
    fine_grained = "github_pat_" + v.alnum(22) + "_" + v.alnum(59)
    files[apps] = _list([{
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
        "metadata": _meta("payments-prod", "argocd", annotations={
            "kargo.akuity.io/authorized-stage": "kargo-demo:prod",
            "example.com/cluster-config": json.dumps({"bearerToken": cluster_jwt, "tlsClientConfig": {
                "insecure": False, "caData": _b64("not a secret"), "keyData": key_data}}),
        }),
        "spec": {"project": "default", "destination": {"server": "https://kubernetes.default.svc", "namespace": "payments"},
                 "source": {"repoURL": "https://github.com/example/payments-config", "targetRevision": "main",
                            "path": "charts/payments", "helm": {"values": (
                                "replicaCount: 2\npostgresql:\n  auth:\n"
                                f"    postgresPassword: {helm_password}\n"
                                f"github:\n  token: {fine_grained}\n")}}},
        "status": {"sync": {"status": "Synced", "revision": v.hex(40)}, "health": {"status": "Healthy"}},
    }])
    plant("Argo CD cluster secret config (bearer JWT) in an annotation", apps, "annotation example.com/cluster-config", cluster_jwt)
    plant("Argo CD cluster secret config (keyData) in an annotation", apps, "annotation example.com/cluster-config", key_data)
    plant("password in Helm values of an Application", apps, "spec.source.helm.values postgresPassword", helm_password)
    plant("GitHub fine-grained token in Helm values", apps, "spec.source.helm.values github.token", fine_grained)

    warehouses = "cluster-resources/custom-resources/warehouses.kargo.akuity.io/kargo-demo.json"
    url_password = v.password().replace("!", "x")
    files[warehouses] = _list([{
        "apiVersion": "kargo.akuity.io/v1alpha1", "kind": "Warehouse",
        "metadata": _meta("payments", "kargo-demo"),
        "spec": {"subscriptions": [{"git": {"repoURL": f"https://deploy:{url_password}@git.example.com/payments/config.git",
                                            "branch": "main"}}]},
    }])
    plant("basic-auth credentials in a Warehouse repoURL", warehouses, "spec.subscriptions[0].git.repoURL", url_password)

    # ---------------------------------------------------------------- secrets that should never have been collected
    secrets = "cluster-resources/secrets/kargo-demo.json"
    kargo_password = v.password()
    kargo_plain = v.password()
    dockerconfig = _b64(json.dumps({"auths": {"ghcr.io": {"auth": _b64("bot:" + v.password())}}}))
    lac_password = _b64(v.password())
    files[secrets] = _list([
        {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
         "metadata": _meta("git-creds", "kargo-demo", labels={"kargo.akuity.io/cred-type": "git"}),
         "data": {"repoURL": _b64("https://github.com/example/payments-config"), "username": _b64("kargo"),
                  "password": _b64(kargo_password)}},
        {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
         "metadata": _meta("image-creds", "kargo-demo", labels={"kargo.akuity.io/cred-type": "image"}),
         "stringData": {"repoURL": "ghcr.io/example/payments", "username": "kargo", "password": kargo_plain}},
        {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/dockerconfigjson",
         "metadata": _meta("pull", "kargo-demo"), "data": {".dockerconfigjson": dockerconfig}},
        # As collector.sh writes a Secret (data values empty), but the annotation kept a copy.
        {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
         "metadata": _meta("db", "kargo-demo", annotations={
             "kubectl.kubernetes.io/last-applied-configuration": json.dumps({
                 "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": "kargo-demo"},
                 "data": {"password": lac_password}})}),
         "data": {"password": ""}},
    ])
    plant("Kargo git credentials Secret (data, base64)", secrets, "git-creds data.password", _b64(kargo_password))
    plant("Kargo image credentials Secret (stringData)", secrets, "image-creds stringData.password", kargo_plain)
    plant("dockerconfigjson Secret data", secrets, "pull data[.dockerconfigjson]", dockerconfig)
    plant("Secret data in last-applied-configuration", secrets, "db last-applied-configuration", lac_password)

    # ---------------------------------------------------------------- jobs
    jobs = "cluster-resources/jobs/payments.json"
    sshpass = v.password().replace("!", "x")
    files[jobs] = _list([{
        "apiVersion": "batch/v1", "kind": "Job", "metadata": _meta("restart-legacy", "payments"),
        "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{
            "name": "ssh", "image": "alpine:3.20",
            "command": ["sh", "-c", f"sshpass -p '{sshpass}' ssh deploy@10.0.0.5 'systemctl restart legacy'"]}]}}},
        "status": {"succeeded": 1},
    }])
    plant("sshpass password in a Job command", jobs, "command sh -c", sshpass)

    # ---------------------------------------------------------------- events
    events = "cluster-resources/events/payments.json"
    event_jwt = v.jwt()
    files[events] = _list([{
        "apiVersion": "v1", "kind": "Event", "metadata": _meta("api.1801", "payments"),
        "involvedObject": {"kind": "Pod", "name": "api-7d9f8c6b5-x2x9q", "namespace": "payments"},
        "reason": "Failed", "type": "Warning", "count": 1, "lastTimestamp": "2026-11-20T03:00:00Z",
        "message": f"webhook call failed: token {event_jwt} rejected: expired",
    }])
    plant("service-account JWT in an Event message", events, "message", event_jwt)

    # ---------------------------------------------------------------- logs
    log = "cluster-resources/pods/logs/payments/api-7d9f8c6b5-x2x9q/api.log"
    sas = v.b64(43).replace("+", "%2B").replace("/", "%2F") + "%3D"
    glpat = "glpat-" + v.alnum(20)
    bearer = v.alnum(40)
    basic = _b64("admin:" + v.password())
    ec_key, ec_needle = v.pem("EC PRIVATE KEY", 3)
    token_user = v.hex(40)
    log_password = v.password().replace("!", "x")
    json_password = v.password()
    xoxb = f"xoxb-{v.chars('0123456789', 12)}-{v.chars('0123456789', 13)}-{v.alnum(24)}"
    t = "2026-11-20T03:0{}:{:02d}.000000000Z "
    lines = [
        t.format(1, 1) + f"GET https://paymentsprod.blob.core.windows.net/exports/day.csv?sv=2022-11-02&se=2026-12-01&sp=r&sig={sas}",
        t.format(1, 2) + f"cloning https://gitlab.example.com/payments/config.git with {glpat}",
        t.format(1, 3) + f"outgoing request headers: Authorization: Bearer {bearer}",
        t.format(1, 4) + f"proxy sent authorization: Basic {basic}",
    ]
    for i, line in enumerate(ec_key.rstrip("\n").split("\n")):
        lines.append(t.format(2, i) + line)
    lines += [
        t.format(3, 1) + f"fetching https://{token_user}@github.com/example/payments-config.git",
        t.format(3, 2) + f'level=info msg="connecting to database" host=pg.payments.svc password={log_password}',
        t.format(3, 3) + json.dumps({"level": "error", "msg": "login failed", "user": "admin", "password": json_password}),
        t.format(3, 4) + f"posting to slack with {xoxb}",
        t.format(3, 5) + f"db retry: DB_PASSWORD={db_password} (same value as the pod env, same token after redaction)",
        t.format(3, 6) + "GET /healthz 200",
    ]
    files[log] = "\n".join(lines) + "\n"
    plant("Azure SAS signature in a log line", log, "line 1", sas)
    plant("GitLab token in a log line", log, "line 2", glpat)
    plant("Bearer header in a log line", log, "line 3", bearer)
    plant("Basic authorization header in a log line", log, "line 4", basic)
    plant("EC private key spread over log lines", log, "lines 5-9", ec_needle)
    plant("token as the user part of a URL in a log line", log, "https://<token>@", token_user)
    plant("password in a logfmt log line", log, "password=", log_password)
    plant("password in a JSON log line", log, '"password":', json_password)
    plant("Slack bot token in a log line", log, "xoxb-", xoxb)
    return planted, files


def planted_secrets(seed: int = 20261120) -> list[Planted]:
    """Every planted secret: its kind, file, place and the literal strings that must not survive."""
    return _build(seed)[0]


def cluster_objects(seed: int = 20261120) -> dict[str, object]:
    """The bundle's files, path -> kubectl List (JSON files) or text (logs)."""
    return _build(seed)[1]


def _manifest(blobs: dict[str, bytes]) -> dict:
    commands = []
    for path, data in sorted(blobs.items()):
        commands.append({"id": path.removeprefix("cluster-resources/").removesuffix(".json"),
                         "argv": ["kubectl", "get", "-o", "json"], "output": path,
                         "started_at": COLLECTED_AT, "finished_at": COLLECTED_AT, "exit_code": 0, "stderr": "",
                         "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()})
    return {"format": "gitops-bundle/v1", "collector": {"name": "planted.py", "version": "0"},
            "collected_at": COLLECTED_AT, "finished_at": COLLECTED_AT, "complete": True,
            "redaction": {"enabled": False, "rules": [], "counts": {}}, "commands": commands}


def bundle_files(seed: int = 20261120) -> dict[str, bytes]:
    """Every file of the bundle as bytes (kubectl's 4-space JSON), manifest.json included."""
    blobs: dict[str, bytes] = {}
    for path, content in cluster_objects(seed).items():
        blobs[path] = (json.dumps(content, indent=4) + "\n").encode() if path.endswith(".json") else str(content).encode()
    blobs["manifest.json"] = (json.dumps(_manifest(blobs), indent=2) + "\n").encode()
    return blobs


def write_bundle(out: Path, seed: int = 20261120) -> Path:
    """Write the bundle: a directory, or a .tar.gz (one top-level directory) when ``out`` ends so."""
    out = Path(out)
    blobs = bundle_files(seed)
    if out.name.endswith((".tar.gz", ".tgz")):
        with tarfile.open(out, "w:gz") as tar:
            for path, data in blobs.items():
                info = tarfile.TarInfo(f"{TOP}/{path}")
                info.size = len(data)
                info.mode = 0o644
                tar.addfile(info, io.BytesIO(data))
        return out
    for path, data in blobs.items():
        target = out / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return out


if __name__ == "__main__":  # pragma: no cover
    import sys

    if len(sys.argv) != 2:
        sys.exit("usage: planted.py OUT_DIR_OR_TAR_GZ")
    print(write_bundle(Path(sys.argv[1])))
    print(f"{len(planted_secrets())} planted secrets", file=sys.stderr)
