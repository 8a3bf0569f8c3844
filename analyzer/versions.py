"""Which Kargo and Argo CD versions a bundle came from, and how we know.

Controller images are the best witness; object shapes are the fallback. Rules
whose behaviour changed between releases read :class:`Versions` and say in
their findings which version they assumed.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

Version = tuple[int, int, int]

# When nothing in the bundle tells, rules apply the current releases' behaviour.
LATEST_KARGO: Version = (1, 11, 2)
LATEST_ARGOCD: Version = (3, 5, 1)

_IMAGE_PATTERNS = {
    "kargo": r"akuity/kargo(?:@[^:]+)?:v?(\d+)\.(\d+)\.(\d+)",
    "argocd": r"argoproj/argocd(?:@[^:]+)?:v?(\d+)\.(\d+)\.(\d+)",
    "rollouts": r"argoproj/argo-rollouts(?:@[^:]+)?:v?(\d+)\.(\d+)\.(\d+)",
}


@dataclass(frozen=True)
class Detected:
    version: Version | None  # None: not even a shape told
    evidence: str  # how it was found, quoted in findings and the report
    assumed: bool  # True when the version is a guess (shape, or the latest release)

    @property
    def label(self) -> str:
        if self.version is None:
            return "unknown"
        return "v" + ".".join(map(str, self.version))

    def at_least(self, major: int, minor: int, patch: int = 0) -> bool:
        return (self.version or (999, 0, 0)) >= (major, minor, patch)

    def describe(self, product: str) -> str:
        word = "assumed" if self.assumed else "detected"
        return f"{product} {self.label} ({word}: {self.evidence})"


@dataclass(frozen=True)
class Versions:
    kargo: Detected
    argocd: Detected
    rollouts: Detected


def detect(containers: pl.DataFrame, stages: pl.DataFrame, applications: pl.DataFrame) -> Versions:
    return Versions(
        kargo=_from_images(containers, "kargo", "controller") or _kargo_from_shapes(stages),
        argocd=_from_images(containers, "argocd", "application-controller") or _argocd_from_shapes(applications),
        rollouts=_from_images(containers, "rollouts", None)
        or Detected(None, "no Argo Rollouts controller image in the bundle", True),
    )


def _from_images(containers: pl.DataFrame, product: str, component: str | None) -> Detected | None:
    pattern = _IMAGE_PATTERNS[product]
    found = containers.select(
        "namespace", "pod", "image", "app_component",
        *[pl.col("image").str.extract(pattern, i).cast(pl.Int64, strict=False).alias(f"v{i}") for i in (1, 2, 3)],
    ).drop_nulls(["v1", "v2", "v3"])
    if found.is_empty():
        return None
    preferred = found.sort(
        (pl.col("app_component") == component).fill_null(False) if component else pl.lit(True),
        "v1", "v2", "v3", descending=True,
    ).row(0, named=True)
    version = (preferred["v1"], preferred["v2"], preferred["v3"])
    distinct = found.select("v1", "v2", "v3").unique().height
    note = f"image {preferred['image']} of pod {preferred['namespace']}/{preferred['pod']}"
    if distinct > 1:
        note += f"; {distinct} different versions run, the newest controller's is used"
    return Detected(version, note, False)


def _kargo_from_shapes(stages: pl.DataFrame) -> Detected:
    if stages.is_empty():
        return Detected(LATEST_KARGO, "no Kargo controller image and no Stages; current release behaviour", True)
    with_phase = stages.filter(pl.col("phase").is_not_null()).height
    with_conditions = stages.filter(pl.col("condition_count") > 0).height
    if with_phase and with_conditions:
        return Detected((1, 4, 0), "Stages carry both status.phase and conditions (v1.1-v1.4 shape)", True)
    if with_phase:
        return Detected((1, 0, 0), "Stages carry status.phase without conditions (v0.x-v1.0 shape)", True)
    return Detected(LATEST_KARGO, "Stages carry conditions without status.phase (v1.5+ shape); no controller image", True)


def _argocd_from_shapes(applications: pl.DataFrame) -> Detected:
    if applications.is_empty():
        return Detected(LATEST_ARGOCD, "no Argo CD controller image and no Applications; current release behaviour", True)
    if applications.filter(pl.col("resource_health_source") == "appTree").height:
        return Detected((3, 0, 0), "Applications report resourceHealthSource: appTree (v3.0+ shape)", True)
    if applications.filter(pl.col("health_since").is_not_null()).height:
        return Detected((2, 14, 0), "Applications carry status.health.lastTransitionTime (v2.14+ shape)", True)
    return Detected(LATEST_ARGOCD, "no Argo CD controller image; current release behaviour", True)
