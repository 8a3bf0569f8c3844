"""The HTTP server, its kubeconfig, and the command line."""


from __future__ import annotations

import contextlib
import ipaddress
import os
import re
import signal
import sys
import tarfile
import tempfile
import threading
import zlib
from collections.abc import Iterable
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path, PurePosixPath

import orjson

from analyzer.bundle import Bundle, open_bundle
from analyzer.serve.api import Answer, Api
from analyzer.serve.resources import (
    DEFAULT_SERVER_VERSION,
    KUBECTL_MINORS,
    MAX_DISCOVERY_FILE,
    MAX_REQUEST_BODY,
    ApiError,
    Registry,
    _is_name,
)

# -------------------------------------------------------------- the server


def server_version(manifest: dict | None) -> tuple[dict, str | None]:
    """``/version`` for the bundle's cluster, clamped to what the local kubectl can run; and a note when clamped."""
    kubectl = (manifest or {}).get("kubectl")
    reported = None
    if isinstance(kubectl, dict):
        for key in ("server", "serverVersion"):
            v = kubectl.get(key)
            if isinstance(v, dict) and isinstance(v.get("gitVersion"), str):
                reported = v["gitVersion"]
                break
            if isinstance(v, str):
                reported = v
                break
    git = (reported or DEFAULT_SERVER_VERSION).strip()[:64]
    note = None
    m = re.match(r"^v?(\d+)\.(\d+)(?:\.(\d+))?([-+][0-9A-Za-z.+-]*)?$", git)
    if not m or m.group(1) != "1":
        note = f"server version {git!r} is not a Kubernetes 1.x version; reporting {DEFAULT_SERVER_VERSION}"
        git = DEFAULT_SERVER_VERSION
        m = re.match(r"^v(\d+)\.(\d+)\.(\d+)()$", git)
    minor = int(m.group(2))
    lo, hi = KUBECTL_MINORS
    if minor < lo or minor > hi:
        clamped = min(max(minor, lo), hi)
        note = f"bundle server version {git} is outside the kubectl range 1.{lo}-1.{hi}; reporting v1.{clamped}.0"
        git, minor = f"v1.{clamped}.0", clamped
    elif not git.startswith("v"):
        git = "v" + git
    info = {
        "major": "1",
        "minor": str(minor),
        "gitVersion": git,
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "1970-01-01T00:00:00Z",
        "goVersion": "go1.22",
        "compiler": "gc",
        "platform": "linux/amd64",
    }
    return info, note


def discovery_files(path: str | os.PathLike) -> dict[str, bytes]:
    """``cluster-resources/resources.json`` and ``groups.json`` of a bundle, read with the same caution as the bundle."""
    wanted = ("resources.json", "groups.json")
    out: dict[str, bytes] = {}
    p = Path(path)
    try:
        if p.is_dir():
            roots = [p] + [c for c in sorted(p.iterdir())[:64] if c.is_dir() and not c.is_symlink()]
            for root in roots:
                folder = root / "cluster-resources"
                if folder.is_symlink() or not folder.is_dir():
                    continue
                for name in wanted:
                    fp = folder / name
                    if name in out or fp.is_symlink() or not fp.is_file():
                        continue
                    if fp.stat().st_size <= MAX_DISCOVERY_FILE:
                        out[name] = fp.read_bytes()
        elif p.is_file():
            with p.open("rb") as fh:
                if fh.read(2) != b"\x1f\x8b":
                    return out
            with tarfile.open(p, mode="r|gz") as tar:
                for member in tar:
                    parts = PurePosixPath(member.name).parts
                    parts = tuple(x for x in parts if x not in ("", "."))
                    if ".." in parts or len(parts) not in (2, 3) or parts[-2] != "cluster-resources" or parts[-1] not in wanted:
                        continue
                    if member.isfile() and member.size <= MAX_DISCOVERY_FILE and parts[-1] not in out:
                        fh = tar.extractfile(member)
                        out[parts[-1]] = fh.read() if fh else b""
    except (OSError, tarfile.TarError, EOFError, zlib.error):
        pass
    return out


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "gitops-master-serve"
    timeout = 120  # an idle keep-alive connection is dropped after this many seconds
    # Headers and body go out in two writes: without TCP_NODELAY the body can
    # wait for the client's delayed ACK (40 ms on Linux) on a kept-alive connection.
    disable_nagle_algorithm = True

    def version_string(self) -> str:
        return self.server_version

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._answer("GET")

    def do_HEAD(self) -> None:  # noqa: N802
        self._answer("HEAD")

    def do_POST(self) -> None:  # noqa: N802
        self._answer("POST")

    def do_PUT(self) -> None:  # noqa: N802
        self._answer("PUT")

    def do_PATCH(self) -> None:  # noqa: N802
        self._answer("PATCH")

    def do_DELETE(self) -> None:  # noqa: N802
        self._answer("DELETE")

    def do_OPTIONS(self) -> None:  # noqa: N802
        self._answer("OPTIONS")

    def _answer(self, method: str) -> None:
        owner: BundleServer = self.server.owner  # type: ignore[attr-defined]
        self._drain_body()
        try:
            wait = owner.api.delay_for(self.path) if method in ("GET", "HEAD") else 0.0
            if wait > 0 and owner._stopping.wait(wait):
                self.close_connection = True
                return
            answer = owner.api.handle(method, self.path, self.headers.get("Accept", ""))
        except Exception as exc:  # never let a request take the server down
            err = ApiError(500, "InternalError", f"an error on the server ({type(exc).__name__}) has prevented the request from succeeding", {})
            answer = Answer(500, orjson.dumps(err.status()))
        owner._record(method, self.path, answer.status)
        try:
            self.send_response(answer.status)
            self.send_header("Content-Type", answer.content_type)
            self.send_header("Content-Length", str(len(answer.body)))
            self.send_header("Cache-Control", "no-cache, private")
            self.send_header("X-Content-Type-Options", "nosniff")
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            if method != "HEAD":
                self.wfile.write(answer.body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _drain_body(self) -> None:
        length = self.headers.get("Content-Length")
        if self.headers.get("Transfer-Encoding"):
            self.close_connection = True
            return
        if length is None:
            return
        try:
            n = int(length)
        except ValueError:
            self.close_connection = True
            return
        if 0 < n <= MAX_REQUEST_BODY:
            self.rfile.read(n)
        elif n > MAX_REQUEST_BODY:
            self.close_connection = True

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        pass


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class BundleServer:
    """A read-only Kubernetes API over one bundle, served from a background thread.

    ``with BundleServer("bundle.tar.gz") as srv: ...`` starts it; ``srv.url``,
    ``srv.kubeconfig()`` and ``srv.requests`` tell where it is and what it was asked.
    ``deny`` maps a resource (``stages``, ``stages.kargo.akuity.io``, ``pods/log``)
    to the namespaces that answer 403 (``None``: every namespace and the
    cluster scope); ``delay`` maps a resource to seconds to wait before answering
    (``"*"``: every resource and log request, the longest matching delay wins).
    """

    def __init__(self, bundle_path: str | os.PathLike | Bundle, host: str = "127.0.0.1", port: int = 0,
                 deny: dict[str, set[str | None]] | None = None, delay: dict[str, float] | None = None,
                 request_log: str | os.PathLike | None = None, uncollected: str = "notfound"):
        if not _is_loopback(host):
            raise ValueError(f"refusing to serve on {host!r}: the server has no authentication, use a loopback address such as 127.0.0.1")
        if uncollected not in ("notfound", "empty"):
            raise ValueError("uncollected must be 'notfound' or 'empty'")
        if isinstance(bundle_path, Bundle):
            self.bundle = bundle_path
            files = discovery_files(bundle_path.source) if os.path.exists(bundle_path.source) else {}
        else:
            self.bundle = open_bundle(bundle_path)
            files = discovery_files(bundle_path)
        self.host = "127.0.0.1" if host == "localhost" else host
        self._port = port
        self.version, self.version_note = server_version(self.bundle.manifest)
        self.registry = Registry(self.bundle, files, uncollected)
        self.api = Api(self.bundle, self.registry, self.version, deny, delay)
        self.request_log = str(request_log) if request_log is not None else None
        self._requests: list[tuple[str, str, int]] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle

    def start(self) -> BundleServer:
        if self._httpd is not None:
            return self
        self._stopping.clear()
        self._httpd = _HTTPServer((self.host, self._port), _Handler)
        self._httpd.owner = self  # type: ignore[attr-defined]
        self._port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.2},
                                        name=f"bundle-server-{self._port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    close = stop

    def __enter__(self) -> BundleServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- where and what

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self._port}"

    @property
    def requests(self) -> list[tuple[str, str, int]]:
        with self._lock:
            return list(self._requests)

    def kubeconfig(self, namespace: str = "default") -> str:
        """A kubeconfig (YAML) whose current context is this server."""
        name = "gitops-bundle"
        return (
            "apiVersion: v1\n"
            "kind: Config\n"
            "clusters:\n"
            f"- name: {name}\n"
            "  cluster:\n"
            f"    server: {self.url}\n"
            "contexts:\n"
            f"- name: {name}\n"
            "  context:\n"
            f"    cluster: {name}\n"
            f"    user: {name}\n"
            f"    namespace: {_yaml_scalar(namespace)}\n"
            f"current-context: {name}\n"
            "preferences: {}\n"
            "users:\n"
            f"- name: {name}\n"
            "  user: {}\n"
        )

    def write_kubeconfig(self, path: str | os.PathLike, namespace: str = "default") -> str:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(self.kubeconfig(namespace))
        return str(path)

    def _record(self, method: str, path: str, status: int) -> None:
        entry = (method, path, status)
        with self._lock:
            self._requests.append(entry)
            if self.request_log is not None:
                line = orjson.dumps({"time": datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                                     "method": method, "path": path, "status": status})
                with open(self.request_log, "ab") as fh:
                    fh.write(line + b"\n")


def _yaml_scalar(text: str) -> str:
    return text if _is_name(text) else orjson.dumps(text).decode()


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        return False
    return addr.version == 4 and addr.is_loopback


# ------------------------------------------------------------ command line


def parse_deny(values: Iterable[str]) -> dict[str, set[str | None]]:
    """``["stages:kargo-demo", "pods/log"]`` -> ``{"stages": {"kargo-demo"}, "pods/log": {None}}``."""
    out: dict[str, set[str | None]] = {}
    for value in values:
        resource, _, ns = value.partition(":")
        resource = resource.strip().lower()
        if not resource:
            raise ValueError(f"--deny {value!r}: expected RESOURCE or RESOURCE:NAMESPACE")
        out.setdefault(resource, set()).add(ns.strip() or None)
    return out


def parse_delay(values: Iterable[str]) -> dict[str, float]:
    """``["applications=5"]`` -> ``{"applications": 5.0}``."""
    out: dict[str, float] = {}
    for value in values:
        resource, _, seconds = value.partition("=")
        try:
            secs = float(seconds)
        except ValueError:
            secs = -1.0
        if not resource.strip() or not 0 <= secs <= 3600:
            raise ValueError(f"--delay {value!r}: expected RESOURCE=SECONDS with 0 <= SECONDS <= 3600")
        out[resource.strip().lower()] = secs
    return out


def serve_forever(bundle_path: str | os.PathLike | Bundle, port: int = 0, host: str = "127.0.0.1",
                  deny: dict[str, set[str | None]] | None = None, delay: dict[str, float] | None = None,
                  kubeconfig_out: str | os.PathLike | None = None, request_log: str | os.PathLike | None = None,
                  uncollected: str = "notfound", namespace: str = "default") -> None:
    """Serve until interrupted; the kubeconfig path and how to use it go to stderr."""
    server = BundleServer(bundle_path, host=host, port=port, deny=deny, delay=delay, request_log=request_log, uncollected=uncollected)
    server.start()
    own_file = kubeconfig_out is None
    if own_file:
        fd, kubeconfig_out = tempfile.mkstemp(prefix=f"gitops-bundle-{server.port}-", suffix=".kubeconfig")
        os.close(fd)
    path = server.write_kubeconfig(kubeconfig_out, namespace)
    err = sys.stderr
    bundle = server.bundle
    print(f"Serving {bundle.source} read-only at {server.url}", file=err)
    print(f"  snapshot taken {bundle.reference_time.strftime('%Y-%m-%dT%H:%M:%SZ')} ({bundle.reference_time_source}); ages are measured from it", file=err)
    print(f"  server version {server.version['gitVersion']}", file=err)
    if server.version_note:
        print(f"  note: {server.version_note}", file=err)
    print(f"Kubeconfig: {path}", file=err)
    print(f"  export KUBECONFIG={path}", file=err)
    print("  kubectl get stages -A; kubectl get pods -A; kubectl logs -n NAMESPACE POD", file=err)
    print("Only GET is answered; writes, watches, exec and auth can-i are refused. Ctrl-C stops.", file=err)
    err.flush()
    stop = threading.Event()
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        if own_file:
            with contextlib.suppress(OSError):
                os.unlink(path)
        print("Stopped.", file=err)


def main(argv: list[str] | None = None) -> int:
    """``python -m analyzer.serve BUNDLE [--port N] ...`` for use without the CLI."""
    import argparse

    ap = argparse.ArgumentParser(prog="python -m analyzer.serve", description="Serve a bundle as a read-only Kubernetes API.")
    ap.add_argument("bundle")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--deny", action="append", default=[], metavar="RESOURCE[:NAMESPACE]")
    ap.add_argument("--delay", action="append", default=[], metavar="RESOURCE=SECONDS")
    ap.add_argument("--kubeconfig-out")
    ap.add_argument("--request-log")
    args = ap.parse_args(argv)
    try:
        serve_forever(args.bundle, port=args.port, deny=parse_deny(args.deny), delay=parse_delay(args.delay),
                      kubeconfig_out=args.kubeconfig_out, request_log=args.request_log)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
