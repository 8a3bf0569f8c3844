"""Built-in kinds: Pods (and their containers), Events, workloads, Jobs, Namespaces."""

from __future__ import annotations

import polars as pl

from analyzer.frames.build import Bool, Int, KindSpec, String, condition, field, listof, metadata, struct, utc

APP_LABELS = (
    "app.kubernetes.io/name",
    "app.kubernetes.io/component",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/part-of",
    "job-name",
)

TERMINATED = struct(reason=String, message=String, exitCode=Int, startedAt=String, finishedAt=String)
CONTAINER_STATE = struct(
    waiting=struct(reason=String, message=String),
    running=struct(startedAt=String),
    terminated=TERMINATED,
)
CONTAINER_STATUS = struct(
    name=String, image=String, ready=Bool, started=Bool, restartCount=Int,
    state=CONTAINER_STATE, lastState=CONTAINER_STATE,
)
POD_CONDITION = struct(type=String, status=String, reason=String, message=String, lastTransitionTime=String)

POD_SCHEMA = {
    "metadata": metadata(labels=APP_LABELS),
    "spec": struct(nodeName=String, serviceAccountName=String, containers=listof(struct(
        name=String, image=String,
        resources=struct(limits=struct(memory=String), requests=struct(memory=String)),
    ))),
    "status": struct(
        phase=String, reason=String, message=String, startTime=String,
        conditions=listof(POD_CONDITION),
        containerStatuses=listof(CONTAINER_STATUS),
        initContainerStatuses=listof(CONTAINER_STATUS),
    ),
}


def _labels(prefix: str = "metadata.labels") -> list[pl.Expr]:
    labels = field(prefix)
    return [
        labels.struct.field("app.kubernetes.io/name").alias("app_name"),
        labels.struct.field("app.kubernetes.io/component").alias("app_component"),
        labels.struct.field("app.kubernetes.io/instance").alias("app_instance"),
        labels.struct.field("app.kubernetes.io/part-of").alias("part_of"),
    ]


def _pod_columns() -> list[pl.Expr]:
    owners = field("metadata.ownerReferences")
    return [
        field("metadata.namespace").alias("namespace"),
        field("metadata.name").alias("name"),
        utc(field("metadata.creationTimestamp")).alias("created"),
        *_labels(),
        field("metadata.labels").struct.field("job-name").alias("job_name"),
        owners.list.first().struct.field("kind").alias("owner_kind"),
        owners.list.first().struct.field("name").alias("owner_name"),
        field("spec.nodeName").alias("node"),
        field("spec.serviceAccountName").alias("service_account"),
        field("status.phase").alias("phase"),
        field("status.reason").alias("reason"),
        field("status.message").alias("message"),
        utc(field("status.startTime")).alias("started_at"),
        condition(field("status.conditions"), "Ready", "status").alias("ready_status"),
        field("spec.containers").list.eval(pl.element().struct.field("image")).alias("images"),
        field("spec.containers").alias("spec_containers"),
        field("status.containerStatuses").alias("container_statuses"),
        field("status.containerStatuses").list.eval(pl.element().struct.field("restartCount")).list.sum().fill_null(0).alias("restarts"),
    ]


PODS = KindSpec("pods", "Pod", POD_SCHEMA, _pod_columns)


def containers(pods: pl.DataFrame) -> pl.DataFrame:
    """One row per container status, with its current and last termination."""
    exploded = (
        pods.select("source", "namespace", pl.col("name").alias("pod"), "app_name", "app_component", "phase", "created",
                    pl.col("container_statuses"))
        .explode("container_statuses")
        .filter(pl.col("container_statuses").is_not_null())
        .unnest("container_statuses")
    )
    limits = (
        pods.select("namespace", pl.col("name").alias("pod"), pl.col("spec_containers").alias("c"))
        .explode("c").filter(pl.col("c").is_not_null())
        .select("namespace", "pod", pl.col("c").struct.field("name").alias("name"),
                pl.col("c").struct.field("resources").struct.field("limits").struct.field("memory").alias("memory_limit"))
        .unique(["namespace", "pod", "name"], keep="first")
    )
    exploded = exploded.join(limits, on=["namespace", "pod", "name"], how="left")
    state, last = pl.col("state"), pl.col("lastState")
    return exploded.select(
        "source", "namespace", "pod", "app_name", "app_component", "phase",
        pl.col("name").alias("container"),
        pl.col("image"),
        pl.col("ready").fill_null(False),
        pl.col("restartCount").fill_null(0).alias("restarts"),
        state.struct.field("waiting").struct.field("reason").alias("waiting_reason"),
        state.struct.field("waiting").struct.field("message").alias("waiting_message"),
        utc(state.struct.field("running").struct.field("startedAt")).alias("running_since"),
        state.struct.field("terminated").struct.field("reason").alias("terminated_reason"),
        state.struct.field("terminated").struct.field("exitCode").alias("terminated_exit_code"),
        last.struct.field("terminated").struct.field("reason").alias("last_terminated_reason"),
        last.struct.field("terminated").struct.field("exitCode").alias("last_exit_code"),
        last.struct.field("terminated").struct.field("message").alias("last_terminated_message"),
        utc(last.struct.field("terminated").struct.field("startedAt")).alias("last_started_at"),
        utc(last.struct.field("terminated").struct.field("finishedAt")).alias("last_finished_at"),
        pl.col("memory_limit"),
    )


EVENT_SCHEMA = {
    "metadata": metadata(),
    "involvedObject": struct(kind=String, namespace=String, name=String, uid=String),
    "reason": String,
    "message": String,
    "type": String,
    "count": Int,
    "firstTimestamp": String,
    "lastTimestamp": String,
    "eventTime": String,
    "series": struct(count=Int, lastObservedTime=String),
    "source": struct(component=String),
    "reportingComponent": String,
}


def _event_columns() -> list[pl.Expr]:
    return [
        field("metadata.namespace").alias("namespace"),
        field("metadata.name").alias("name"),
        field("involvedObject.kind").alias("object_kind"),
        pl.coalesce(field("involvedObject.namespace"), field("metadata.namespace")).alias("object_namespace"),
        field("involvedObject.name").alias("object_name"),
        pl.col("reason"),
        pl.col("message"),
        pl.col("type"),
        pl.coalesce(field("series.count"), pl.col("count")).fill_null(1).alias("count"),
        utc(pl.coalesce(pl.col("firstTimestamp"), pl.col("eventTime"))).alias("first_seen"),
        utc(pl.coalesce(field("series.lastObservedTime"), pl.col("lastTimestamp"), pl.col("eventTime"), pl.col("firstTimestamp"))).alias("last_seen"),
        pl.coalesce(field("source.component"), pl.col("reportingComponent")).alias("component"),
    ]


EVENTS = KindSpec("events", "Event", EVENT_SCHEMA, _event_columns)

WORKLOAD_SCHEMA = {
    "kind": String,
    "metadata": metadata(labels=APP_LABELS[:4]),
    "spec": struct(replicas=Int, template=struct(spec=struct(containers=listof(struct(name=String, image=String))))),
    "status": struct(replicas=Int, readyReplicas=Int, availableReplicas=Int, updatedReplicas=Int),
}


def _workload_columns() -> list[pl.Expr]:
    return [
        pl.col("kind"),
        field("metadata.namespace").alias("namespace"),
        field("metadata.name").alias("name"),
        *_labels(),
        field("spec.replicas").alias("replicas"),
        field("status.readyReplicas").fill_null(0).alias("ready_replicas"),
        field("status.availableReplicas").fill_null(0).alias("available_replicas"),
        field("spec.template.spec.containers").list.eval(pl.element().struct.field("image")).alias("images"),
    ]


DEPLOYMENTS = KindSpec("deployments", "Deployment", WORKLOAD_SCHEMA, _workload_columns)
STATEFULSETS = KindSpec("statefulsets", "StatefulSet", WORKLOAD_SCHEMA, _workload_columns)

JOB_SCHEMA = {
    "metadata": metadata(),
    "spec": struct(backoffLimit=Int, template=struct(spec=struct(serviceAccountName=String))),
    "status": struct(
        active=Int, succeeded=Int, failed=Int, startTime=String, completionTime=String,
        conditions=listof(struct(type=String, status=String, reason=String, message=String, lastTransitionTime=String)),
    ),
}


def _job_columns() -> list[pl.Expr]:
    owners = field("metadata.ownerReferences")
    conds = field("status.conditions")
    return [
        field("metadata.namespace").alias("namespace"),
        field("metadata.name").alias("name"),
        utc(field("metadata.creationTimestamp")).alias("created"),
        owners.list.first().struct.field("kind").alias("owner_kind"),
        owners.list.first().struct.field("name").alias("owner_name"),
        field("spec.template.spec.serviceAccountName").alias("service_account"),
        field("status.active").fill_null(0).alias("active"),
        field("status.succeeded").fill_null(0).alias("succeeded"),
        field("status.failed").fill_null(0).alias("failed"),
        utc(field("status.startTime")).alias("started_at"),
        utc(field("status.completionTime")).alias("completed_at"),
        condition(conds, "Failed", "reason").alias("failed_reason"),
        condition(conds, "Failed", "message").alias("failed_message"),
    ]


JOBS = KindSpec("jobs", "Job", JOB_SCHEMA, _job_columns)

NAMESPACE_SCHEMA = {
    "metadata": metadata(labels=("kargo.akuity.io/project",)),
    "status": struct(phase=String),
}


def _namespace_columns() -> list[pl.Expr]:
    return [
        field("metadata.name").alias("name"),
        (field("metadata.labels").struct.field("kargo.akuity.io/project") == "true").fill_null(False).alias("kargo_project"),
        field("status.phase").alias("phase"),
    ]


NAMESPACES = KindSpec("namespaces", "Namespace", NAMESPACE_SCHEMA, _namespace_columns)
