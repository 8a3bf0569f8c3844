"""Variations of a sample bundle for the verify and promote-check tests.

A :class:`BundleCopy` copies a sample bundle directory into a temporary
directory; each test changes one thing the way a cluster would differ (an
object edited or added, a kind not collected, a collector command that
failed) and runs the mode on the copy. The manifest is kept consistent: a
file that is dropped loses its command, a failed command keeps its error.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

from conftest import SAMPLES

FORBIDDEN = 'Error from server (Forbidden): {res} is forbidden: User "system:serviceaccount:support:gitops-collector" cannot list resource "{res}"'


class BundleCopy:
    def __init__(self, tmp_path: Path, sample: str = "verified-pipeline"):
        self.root = tmp_path / sample
        shutil.copytree(SAMPLES / sample, self.root)

    def __str__(self) -> str:
        return str(self.root)

    # -- objects
    def items(self, rel: str) -> list[dict]:
        return json.loads((self.root / rel).read_text())["items"]

    def write(self, rel: str, items: list[dict]) -> None:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": items, "metadata": {"resourceVersion": ""}}))
        manifest = self.manifest()
        if not any(c["output"] == rel for c in manifest["commands"]):
            manifest["commands"].append({"id": rel, "argv": ["kubectl", "get", rel.split("/")[-2], "-o", "json"],
                                         "output": rel, "exit_code": 0, "stderr": "",
                                         "started_at": manifest["collected_at"], "finished_at": manifest["collected_at"]})
            self.save_manifest(manifest)

    def edit(self, rel: str, name: str, change: Callable[[dict], None]) -> None:
        items = self.items(rel)
        hits = [o for o in items if o["metadata"]["name"] == name]
        assert hits, f"no {name} in {rel}"
        for obj in hits:
            change(obj)
        self.write(rel, items)

    def add(self, rel: str, obj: dict) -> None:
        items = self.items(rel) if (self.root / rel).exists() else []
        self.write(rel, items + [obj])

    def remove(self, rel: str, name: str) -> None:
        self.write(rel, [o for o in self.items(rel) if o["metadata"]["name"] != name])

    # -- collection
    def manifest(self) -> dict:
        return json.loads((self.root / "manifest.json").read_text())

    def save_manifest(self, manifest: dict) -> None:
        (self.root / "manifest.json").write_text(json.dumps(manifest, indent=2))

    def drop(self, rel: str) -> None:
        """The collector never ran the command: the file and its command are gone (not collected)."""
        (self.root / rel).unlink()
        manifest = self.manifest()
        manifest["commands"] = [c for c in manifest["commands"] if c["output"] != rel]
        self.save_manifest(manifest)

    def drop_kind(self, folder: str) -> None:
        """The collector did not gather this kind at all (an older collector, a kind it skips)."""
        for path in sorted((self.root / folder).rglob("*.json")):
            self.drop(path.relative_to(self.root).as_posix())

    def drop_namespace(self, namespace: str) -> None:
        """The collector never visited this namespace (it was not in its configuration)."""
        for path in sorted((self.root / "cluster-resources").rglob(f"{namespace}.json")):
            self.drop(path.relative_to(self.root).as_posix())

    def fail(self, rel: str, resource: str) -> None:
        """The command ran and was refused: no file, the command's error kept (a collection gap)."""
        (self.root / rel).unlink()
        manifest = self.manifest()
        for c in manifest["commands"]:
            if c["output"] == rel:
                c.update(output=None, exit_code=1, stderr=FORBIDDEN.format(res=resource), bytes=0, sha256=None)
        self.save_manifest(manifest)


def stage_file() -> str:
    return "cluster-resources/custom-resources/stages.kargo.akuity.io/kargo-demo.json"


def app_file() -> str:
    return "cluster-resources/custom-resources/applications.argoproj.io/argocd.json"
