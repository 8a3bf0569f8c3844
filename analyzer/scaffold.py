"""``gitops-master scaffold stage``: a new Stage the way the playbook's S2-S4 set it up, for git.

Writes, from jinja2 templates in ``report_templates/scaffold/``:

* the Stage (``kargo.akuity.io/v1alpha1``): requested Freight from the
  Warehouse through the upstream Stages (or directly), one ``argocd-update``
  step per Application with the retry of its S4 tuning class, verification by
  the AnalysisTemplate below;
* the AnalysisTemplate ``<stage>-health``: a Job checking Levels 1 and 2 of the
  Stage's namespace;
* the ServiceAccount, ClusterRole (label ``app=kargo-verification``) and
  ClusterRoleBinding its Job runs with (S3).

Names are checked as Kubernetes names before anything is written, so the
templates never need to quote them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import jinja2
import polars as pl

from analyzer import __version__
from analyzer.modes.apps import TUNING, classify
from analyzer.modes.common import DNS_LABEL, DNS_SUBDOMAIN

DEFAULT_IMAGE = "alpine/k8s:latest"
SERVICE_ACCOUNT = "kargo-verification"
FILES = (("stage", "stage.yaml.j2"), ("analysistemplate", "analysis-template.yaml.j2"), ("rbac", "verification-rbac.yaml.j2"))
# The playbook's ClusterRole for verification Jobs (S3).
RULES = (("", ("pods", "services", "configmaps")), ("apps", ("deployments", "statefulsets")), ("argoproj.io", ("applications",)))


class ScaffoldError(ValueError):
    """An argument that would not make a valid object."""


@dataclass(frozen=True)
class ScaffoldApp:
    name: str
    alias: str
    app_class: str
    why: str
    timeout: str
    error_threshold: int


@dataclass(frozen=True)
class Rule:
    group_yaml: str  # '""' for the core group
    resources: tuple[str, ...]
    verbs: tuple[str, ...]


@dataclass(frozen=True)
class ScaffoldContext:
    tool_version: str
    project: str
    namespace: str
    name: str
    upstream: tuple[str, ...]
    warehouse: str
    argocd_namespace: str
    app_namespace: str
    apps: tuple[ScaffoldApp, ...]
    app_list: str
    app_names: str
    authorized_stage: str
    template_name: str
    service_account: str
    cluster_role: str
    binding: str
    image: str
    rules: tuple[Rule, ...]
    notes: tuple[str, ...]


def _name(kind: str, value: str, subdomain: bool = False) -> str:
    pattern = DNS_SUBDOMAIN if subdomain else DNS_LABEL
    if not value or len(value) > (253 if subdomain else 63) or not pattern.match(value):
        raise ScaffoldError(f"{kind} {value!r} is not a valid Kubernetes name (lower case letters, digits and '-')")
    return value


def _image(value: str) -> str:
    if not value or any(ch.isspace() or ch in "\"'#{}[]," for ch in value):
        raise ScaffoldError(f"image {value!r} is not an image reference")
    return value


def scaffold_stage(project: str, name: str, apps: list[str], upstream: list[str] | None = None, warehouse: str | None = None,
                   namespace: str | None = None, argocd_namespace: str = "argocd", app_namespace: str | None = None,
                   image: str = DEFAULT_IMAGE) -> ScaffoldContext:
    project = _name("project", project)
    name = _name("stage name", name)
    upstream = [_name("upstream stage", u) for u in (upstream or [])]
    if not apps:
        raise ScaffoldError("at least one --app is needed: the Argo CD Application(s) the Stage promotes")
    apps = [_name("app", a, subdomain=True) for a in dict.fromkeys(apps)]
    notes = []
    if warehouse is None:
        warehouse = project
        notes.append(f"--warehouse not given: the Stage requests Freight from Warehouse {project!r}; pass --warehouse if yours is named otherwise")
    warehouse = _name("warehouse", warehouse)
    namespace = _name("namespace", namespace or project)
    argocd_namespace = _name("Argo CD namespace", argocd_namespace)
    app_namespace = _name("app namespace", app_namespace or name)
    classes = pl.DataFrame({"name": apps}).with_columns(
        *classify(pl.col("name"), pl.lit([], dtype=pl.List(pl.String)), pl.lit([], dtype=pl.List(pl.String))))
    scaffold_apps = tuple(
        ScaffoldApp(r["name"], f"update-{r['name']}"[:63].rstrip("-."), r["app_class"], r["class_why"],
                    TUNING[r["app_class"]].timeout, TUNING[r["app_class"]].error_threshold)
        for r in classes.to_dicts()
    )
    return ScaffoldContext(
        tool_version=__version__, project=project, namespace=namespace, name=name, upstream=tuple(upstream),
        warehouse=warehouse, argocd_namespace=argocd_namespace, app_namespace=app_namespace, apps=scaffold_apps,
        app_list=", ".join(apps), app_names=" ".join(apps), authorized_stage=f"{project}:{name}",
        template_name=f"{name}-health"[:63], service_account=SERVICE_ACCOUNT, cluster_role=SERVICE_ACCOUNT,
        binding=SERVICE_ACCOUNT, image=_image(image),
        rules=tuple(Rule('""' if g == "" else g, resources, ("get", "list")) for g, resources in RULES),
        notes=tuple(notes),
    )


def render_scaffold(context: ScaffoldContext) -> dict[str, str]:
    """File name -> YAML text, in the order to apply them (RBAC first)."""
    from analyzer.render import template_dir

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(template_dir() / "scaffold"),
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
        autoescape=False,
    )
    names = {
        "stage": f"stage-{context.name}.yaml",
        "analysistemplate": f"analysistemplate-{context.template_name}.yaml",
        "rbac": f"verification-rbac-{context.namespace}.yaml",
    }
    out = {names[key]: env.get_template(template).render(ctx=context) for key, template in FILES}
    return {k: out[k] for k in (names["rbac"], names["analysistemplate"], names["stage"])}


def write_scaffold(files: dict[str, str], directory: str | Path) -> list[Path]:
    """Write the files into ``directory`` (created); refuse to overwrite a file that differs."""
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in files.items():
        path = root / name
        if path.exists() and path.read_text(encoding="utf-8") != text:
            raise ScaffoldError(f"{path} exists and differs; remove it or choose another -o directory")
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def as_stream(files: dict[str, str]) -> str:
    """All files as one multi-document YAML stream (for stdout)."""
    return "---\n".join(text if text.endswith("\n") else text + "\n" for text in files.values())
