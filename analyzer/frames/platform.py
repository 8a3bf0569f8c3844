"""Cluster kinds the verify, promote-check and setup modes read.

RBAC (ServiceAccounts, Roles, ClusterRoles and their bindings), Ingresses,
Services, Secrets (names, types and key names only: the collector never takes
values), CustomResourceDefinitions (names), cert-manager Certificates,
Prometheus scrape targets,
and a few fields of Pods, Applications, Stages and AnalysisTemplates that the
diagnosis frames do not carry (secret references, managed resources,
requested Freight per entry, verification args, verification Job scripts).

Prometheus targets are not a Kubernetes kind: the collector reads
``/api/v1/targets`` through the API server's service proxy and wraps the
answer as a ``PrometheusTarget`` object (group ``bundle.gitops-master.io``),
one per Prometheus Service, so that it travels like any other object.
"""

from __future__ import annotations

import polars as pl

from analyzer.frames.build import (
    CONDITION,
    Bool,
    Int,
    KindSpec,
    String,
    condition,
    field,
    listof,
    metadata,
    struct,
    struct_of,
    utc,
)

PROMETHEUS_TARGET_RESOURCE = "prometheustargets.bundle.gitops-master.io"

# ------------------------------------------------------------------ RBAC

RULE = struct(
    apiGroups=listof(String), resources=listof(String), verbs=listof(String),
    resourceNames=listof(String), nonResourceURLs=listof(String),
)
ROLE_REF = struct(apiGroup=String, kind=String, name=String)
RBAC_SUBJECT = struct(kind=String, name=String, namespace=String, apiGroup=String)


def _named() -> list[pl.Expr]:
    return [
        field("metadata.namespace").alias("namespace"),
        field("metadata.name").alias("name"),
    ]


SERVICE_ACCOUNTS = KindSpec("serviceaccounts", "ServiceAccount", {"metadata": metadata()}, _named)

ROLE_SCHEMA = {"metadata": metadata(labels=("app",)), "rules": listof(RULE)}


def _role_columns() -> list[pl.Expr]:
    return [*_named(), field("metadata.labels").struct.field("app").alias("label_app"), pl.col("rules").alias("rules")]


ROLES = KindSpec("roles", "Role", ROLE_SCHEMA, _role_columns)
CLUSTER_ROLES = KindSpec("clusterroles", "ClusterRole", ROLE_SCHEMA, _role_columns)

BINDING_SCHEMA = {"metadata": metadata(), "roleRef": ROLE_REF, "subjects": listof(RBAC_SUBJECT)}


def _binding_columns() -> list[pl.Expr]:
    return [
        *_named(),
        field("roleRef.kind").alias("role_kind"),
        field("roleRef.name").alias("role_name"),
        pl.col("subjects").alias("subjects"),
    ]


ROLE_BINDINGS = KindSpec("rolebindings", "RoleBinding", BINDING_SCHEMA, _binding_columns)
CLUSTER_ROLE_BINDINGS = KindSpec("clusterrolebindings", "ClusterRoleBinding", BINDING_SCHEMA, _binding_columns)

# ------------------------------------------------------- exposure and TLS

BACKEND = struct(service=struct(name=String, port=struct(number=Int, name=String)))

INGRESS_SCHEMA = {
    "metadata": metadata(),
    "spec": struct(
        ingressClassName=String,
        defaultBackend=BACKEND,
        rules=listof(struct(host=String, http=struct(paths=listof(struct(path=String, backend=BACKEND))))),
        tls=listof(struct(hosts=listof(String), secretName=String)),
    ),
    "status": struct(loadBalancer=struct(ingress=listof(struct(ip=String, hostname=String)))),
}


def _ingress_columns() -> list[pl.Expr]:
    rules = field("spec.rules")
    return [
        *_named(),
        field("spec.ingressClassName").alias("ingress_class"),
        rules.list.eval(pl.element().struct.field("host")).list.drop_nulls().alias("hosts"),
        pl.concat_list(
            rules.list.eval(
                pl.element().struct.field("http").struct.field("paths").explode()
                .struct.field("backend").struct.field("service").struct.field("name")
            ).fill_null([]),
            pl.concat_list(field("spec.defaultBackend.service.name")).fill_null([]),
        ).list.drop_nulls().list.unique(maintain_order=True).alias("backend_services"),
        field("spec.tls").alias("tls"),
        field("status.loadBalancer.ingress").list.eval(
            pl.coalesce(pl.element().struct.field("ip"), pl.element().struct.field("hostname"))
        ).list.drop_nulls().alias("addresses"),
    ]


INGRESSES = KindSpec("ingresses", "Ingress", INGRESS_SCHEMA, _ingress_columns)

SERVICES = KindSpec(
    "services", "Service",
    {"metadata": metadata(), "spec": struct(type=String, clusterIP=String)},
    lambda: [*_named(), field("spec.type").alias("type")],
)

# Key names only; the collector writes every value as "".
SECRET_KEYS = ("tls.crt", "tls.key", "ca.crt")
SECRET_SCHEMA = {"metadata": metadata(), "type": String, "data": struct_of({k: String for k in SECRET_KEYS})}


def _secret_columns() -> list[pl.Expr]:
    data = pl.col("data")
    return [
        *_named(),
        pl.col("type").alias("type"),
        data.struct.field("tls.crt").is_not_null().alias("has_tls_crt"),
        data.struct.field("tls.key").is_not_null().alias("has_tls_key"),
    ]


SECRETS = KindSpec("secrets", "Secret", SECRET_SCHEMA, _secret_columns)

CERTIFICATE_SCHEMA = {
    "metadata": metadata(),
    "spec": struct(secretName=String, dnsNames=listof(String), issuerRef=struct(name=String, kind=String)),
    "status": struct(conditions=listof(CONDITION), notAfter=String, renewalTime=String),
}


def _certificate_columns() -> list[pl.Expr]:
    conds = field("status.conditions")
    return [
        *_named(),
        field("spec.secretName").alias("secret_name"),
        field("spec.dnsNames").alias("dns_names"),
        field("spec.issuerRef.name").alias("issuer"),
        condition(conds, "Ready", "status").alias("ready_status"),
        condition(conds, "Ready", "reason").alias("ready_reason"),
        condition(conds, "Ready", "message").alias("ready_message"),
        utc(field("status.notAfter")).alias("not_after"),
    ]


CERTIFICATES = KindSpec("certificates.cert-manager.io", "Certificate", CERTIFICATE_SCHEMA, _certificate_columns)

# ------------------------------------------------------------ API surface

CRD_SCHEMA = {
    "metadata": metadata(),
    "spec": struct(group=String, scope=String, names=struct(kind=String, plural=String),
                   versions=listof(struct(name=String, served=Bool))),
}


def _crd_columns() -> list[pl.Expr]:
    return [
        pl.lit(None, String).alias("namespace"),
        field("metadata.name").alias("name"),
        field("spec.group").alias("group"),
        field("spec.names.kind").alias("kind"),
        field("spec.names.plural").alias("plural"),
    ]


CRDS = KindSpec("customresourcedefinitions", "CustomResourceDefinition", CRD_SCHEMA, _crd_columns)

# ------------------------------------------------------ Prometheus

PROMETHEUS_TARGET_SCHEMA = {
    "metadata": metadata(),
    "response": struct(
        status=String,
        error=String,
        data=struct(activeTargets=listof(struct(
            scrapePool=String, scrapeUrl=String, health=String, lastError=String, lastScrape=String,
            labels=struct(job=String, namespace=String),
        ))),
    ),
}


def _prometheus_target_columns() -> list[pl.Expr]:
    active = field("response.data.activeTargets")
    return [
        *_named(),
        field("response.status").alias("status"),
        field("response.error").alias("error"),
        active.list.len().fill_null(0).alias("active"),
        active.list.eval(pl.element().struct.field("health") == "up").list.sum().fill_null(0).alias("up"),
        active.list.eval(
            pl.element().filter(pl.element().struct.field("health") != "up").struct.field("scrapePool")
        ).list.unique(maintain_order=True).alias("down_pools"),
        # Which Prometheus answered: kube-prometheus-stack puts two Services in front of one
        # (prometheus-operated and its own), and the same targets must not count twice.
        pl.coalesce(
            active.list.eval(pl.element().struct.field("scrapeUrl")).list.drop_nulls().list.sort().list.join(" ")
            .replace("", None),
            field("metadata.name"),
        ).alias("target_set"),
    ]


PROMETHEUS_TARGETS = KindSpec(PROMETHEUS_TARGET_RESOURCE, "PrometheusTarget", PROMETHEUS_TARGET_SCHEMA, _prometheus_target_columns)

# ------------------------------------------- extra fields of known kinds

SECRET_REF = struct(name=String, optional=Bool)
CONTAINER = struct(
    name=String,
    env=listof(struct(name=String, valueFrom=struct(secretKeyRef=SECRET_REF))),
    envFrom=listof(struct(secretRef=SECRET_REF)),
)
POD_REFS_SCHEMA = {
    "metadata": metadata(),
    "spec": struct(
        volumes=listof(struct(
            name=String,
            secret=struct(secretName=String, optional=Bool),
            projected=struct(sources=listof(struct(secret=SECRET_REF))),
        )),
        containers=listof(CONTAINER),
        initContainers=listof(CONTAINER),
        imagePullSecrets=listof(struct(name=String)),
    ),
}


def _ref(name: pl.Expr, optional: pl.Expr, via: str) -> pl.Expr:
    return pl.struct(name.alias("name"), optional.fill_null(False).alias("optional"), pl.lit(via).alias("via"))


def _container_refs(containers: pl.Expr) -> pl.Expr:
    env = containers.list.eval(
        pl.element().struct.field("env").explode().struct.field("valueFrom").struct.field("secretKeyRef")
    ).list.drop_nulls()
    env_from = containers.list.eval(
        pl.element().struct.field("envFrom").explode().struct.field("secretRef")
    ).list.drop_nulls()
    return pl.concat_list(
        env.list.eval(_ref(pl.element().struct.field("name"), pl.element().struct.field("optional"), "env")).fill_null([]),
        env_from.list.eval(_ref(pl.element().struct.field("name"), pl.element().struct.field("optional"), "envFrom")).fill_null([]),
    )


def _pod_ref_columns() -> list[pl.Expr]:
    volumes = field("spec.volumes")
    secret_volumes = volumes.list.eval(pl.element().struct.field("secret")).list.drop_nulls()
    projected = volumes.list.eval(
        pl.element().struct.field("projected").struct.field("sources").explode().struct.field("secret")
    ).list.drop_nulls()
    refs = pl.concat_list(
        secret_volumes.list.eval(_ref(pl.element().struct.field("secretName"), pl.element().struct.field("optional"), "volume")).fill_null([]),
        projected.list.eval(_ref(pl.element().struct.field("name"), pl.element().struct.field("optional"), "volume")).fill_null([]),
        _container_refs(field("spec.containers")).fill_null([]),
        _container_refs(field("spec.initContainers")).fill_null([]),
        field("spec.imagePullSecrets").list.eval(_ref(pl.element().struct.field("name"), pl.lit(False), "imagePullSecrets")).fill_null([]),
    )
    return [
        *_named(),
        refs.list.eval(pl.element().filter(pl.element().struct.field("name").is_not_null())).alias("secret_refs"),
    ]


POD_SECRET_REFS = KindSpec("pods", "Pod", POD_REFS_SCHEMA, _pod_ref_columns)

APP_SOURCE = struct(repoURL=String, path=String, chart=String, helm=struct(releaseName=String))
APP_RESOURCES_SCHEMA = {
    "metadata": metadata(),
    "spec": struct(source=APP_SOURCE, sources=listof(APP_SOURCE), destination=struct(namespace=String)),
    "status": struct(resources=listof(struct(
        group=String, version=String, kind=String, namespace=String, name=String, status=String,
    ))),
}


def _app_resource_columns() -> list[pl.Expr]:
    sources = pl.concat_list(pl.concat_list(field("spec.source")).fill_null([]), field("spec.sources").fill_null([]))
    return [
        *_named(),
        sources.list.eval(pl.element().struct.field("chart")).list.drop_nulls().alias("charts"),
        sources.list.eval(pl.element().struct.field("path")).list.drop_nulls().alias("paths"),
        sources.list.eval(pl.element().struct.field("helm").struct.field("releaseName")).list.drop_nulls().alias("release_names"),
        sources.list.eval(pl.element().struct.field("repoURL")).list.drop_nulls().alias("repo_urls"),
        field("status.resources").alias("resources"),
    ]


APPLICATION_RESOURCES = KindSpec("applications.argoproj.io", "Application", APP_RESOURCES_SCHEMA, _app_resource_columns)

STAGE_EXTRAS_SCHEMA = {
    "metadata": metadata(),
    "spec": struct(
        requestedFreight=listof(struct(
            origin=struct(kind=String, name=String),
            sources=struct(direct=Bool, stages=listof(String), availabilityStrategy=String, requiredSoakTime=String),
        )),
        verification=struct(
            analysisTemplates=listof(struct(name=String, kind=String)),
            args=listof(struct(name=String, value=String)),
        ),
    ),
}


def _stage_extra_columns() -> list[pl.Expr]:
    requested = field("spec.requestedFreight")
    return [
        *_named(),
        requested.list.eval(pl.struct(
            pl.element().struct.field("origin").struct.field("kind").alias("origin_kind"),
            pl.element().struct.field("origin").struct.field("name").alias("warehouse"),
            pl.element().struct.field("sources").struct.field("direct").fill_null(False).alias("direct"),
            pl.element().struct.field("sources").struct.field("stages").fill_null([]).alias("stages"),
            pl.when(pl.element().struct.field("sources").struct.field("availabilityStrategy") == "All")
            .then(pl.lit("All")).otherwise(pl.lit("OneOf")).alias("availability"),
            pl.element().struct.field("sources").struct.field("requiredSoakTime").alias("soak"),
        )).alias("requested"),
        field("spec.verification.analysisTemplates").alias("templates"),
        field("spec.verification.args").alias("args"),
    ]


STAGE_EXTRAS = KindSpec("stages.kargo.akuity.io", "Stage", STAGE_EXTRAS_SCHEMA, _stage_extra_columns)

JOB_CONTAINER = struct(name=String, image=String, command=listof(String), args=listof(String))
TEMPLATE_JOBS_SCHEMA = {
    "metadata": metadata(),
    "spec": struct(metrics=listof(struct(
        name=String,
        provider=struct(job=struct(spec=struct(template=struct(spec=struct(
            serviceAccountName=String, containers=listof(JOB_CONTAINER),
        ))))),
    ))),
}


def _template_job_columns() -> list[pl.Expr]:
    metrics = field("spec.metrics")
    pod = pl.element().struct.field("provider").struct.field("job").struct.field("spec").struct.field("template").struct.field("spec")
    return [
        *_named(),
        metrics.list.eval(pl.struct(
            pl.element().struct.field("name").alias("metric"),
            pod.is_not_null().alias("is_job"),
            pod.struct.field("serviceAccountName").alias("service_account"),
            pod.struct.field("containers").list.eval(
                pl.concat_list(pl.element().struct.field("command").fill_null([]), pl.element().struct.field("args").fill_null([]))
                .list.join(" ")
            ).list.join("\n").alias("script"),
        )).alias("metrics"),
    ]


TEMPLATE_JOBS = KindSpec("analysistemplates.argoproj.io", "AnalysisTemplate", TEMPLATE_JOBS_SCHEMA, _template_job_columns)
CLUSTER_TEMPLATE_JOBS = KindSpec("clusteranalysistemplates.argoproj.io", "ClusterAnalysisTemplate", TEMPLATE_JOBS_SCHEMA, _template_job_columns)

# Frames field name -> kind, merged into analyzer.frames.SPECS.
SPECS: dict[str, KindSpec] = {
    "service_accounts": SERVICE_ACCOUNTS,
    "roles": ROLES,
    "cluster_roles": CLUSTER_ROLES,
    "role_bindings": ROLE_BINDINGS,
    "cluster_role_bindings": CLUSTER_ROLE_BINDINGS,
    "ingresses": INGRESSES,
    "services": SERVICES,
    "secrets": SECRETS,
    "certificates": CERTIFICATES,
    "crds": CRDS,
    "prometheus_targets": PROMETHEUS_TARGETS,
    "pod_secret_refs": POD_SECRET_REFS,
    "application_resources": APPLICATION_RESOURCES,
    "stage_extras": STAGE_EXTRAS,
    "template_jobs": TEMPLATE_JOBS,
    "cluster_template_jobs": CLUSTER_TEMPLATE_JOBS,
}
