"""gitops-master promote-check: every DO NOT PROMOTE IF rule breaking, holding, or unknown; P2-P4.

The base is sample_bundles/verified-pipeline (dev -> prod, both on Freight
lucky-heron; brave-otter is older, verified in dev, and was promoted to prod
before). Promoting brave-otter to prod is GO there; each case breaks one rule.
"""

from __future__ import annotations

import copy
import json

import pytest
from click.testing import CliRunner

from analyzer.analysis import analyze
from analyzer.cli import main
from analyzer.modes.promote import promote_check
from conftest import SAMPLES
from mode_bundles import BundleCopy, app_file, stage_file

PROMOTIONS = "cluster-resources/custom-resources/promotions.kargo.akuity.io/kargo-demo.json"
FREIGHT = "cluster-resources/custom-resources/freights.kargo.akuity.io/kargo-demo.json"
LUCKY = "757dd0ee3e9452c751ef641f5ed2ff56f0fa217f"
BRAVE = "befc948820a4ea6db77035bf15edb989125ad736"


def check(bundle, stage="prod", freight="brave-otter"):
    return promote_check(analyze(str(bundle)), stage, freight)


def rule(context, ident):
    return next(r for r in context.rules if r.id == ident)


def _new_promotion(bundle, phase: str, freight: str, suffix: str, started: str = "2026-11-24T08:05:41Z") -> dict:
    promo = copy.deepcopy(bundle.items(PROMOTIONS)[-1])
    promo["metadata"]["name"] = f"prod.01m84{'z' * 20}{suffix}.{freight[:7]}"
    promo["metadata"]["creationTimestamp"] = started
    promo["spec"]["freight"] = freight
    status = promo["status"]
    status.update(phase=phase, startedAt=started, currentStep=4)
    status.pop("finishedAt", None)
    meta = status.get("stepExecutionMetadata") or []
    for m in meta:
        m.update(startedAt=started, finishedAt=started, status="Succeeded")
    if phase == "Running":
        meta[-1].pop("finishedAt", None)
        meta[-1]["status"] = "Running"
        status.pop("state", None)
    else:
        status["finishedAt"] = started
        meta[-1].update(status=phase, message='step "step-5" met error threshold of 1: Argo CD Application "guestbook-prod" '
                                             'in namespace "argocd" failed with: one or more synchronization tasks completed unsuccessfully')
        status["message"] = meta[-1]["message"]
    bundle.add(PROMOTIONS, promo)
    return promo


def test_go_when_every_rule_holds():
    context = check(SAMPLES / "verified-pipeline")
    assert context.freight == BRAVE
    assert [r.status for r in context.rules] == ["ok"] * len(context.rules)
    assert (context.verdict, context.exit_code) == ("GO", 0)


def test_default_freight_is_the_newest_verified_upstream():
    context = check(SAMPLES / "verified-pipeline", freight=None)
    assert context.freight == LUCKY and "newest Freight verified in dev" in context.freight_choice
    assert context.already_current  # P4 is evaluated on the bundle: it is on prod already
    assert [c.status for c in context.post] == ["PASS", "PASS", "PASS", "PASS"]


@pytest.mark.parametrize("how", ["name", "alias", "prefix"])
def test_freight_by_name_alias_or_prefix(how):
    given = {"name": BRAVE, "alias": "brave-otter", "prefix": BRAVE[:7]}[how]
    assert check(SAMPLES / "verified-pipeline", freight=given).freight == BRAVE


# ------------------------------------------------------------------ NO-GO, one rule each


def _running(bundle):
    _new_promotion(bundle, "Running", LUCKY, "r")


def _errored(bundle):
    _new_promotion(bundle, "Errored", BRAVE, "e")


def _not_verified(bundle):
    bundle.edit(FREIGHT, BRAVE, lambda f: f["status"]["verifiedIn"].pop("dev"))


def _syncing(bundle):
    def op(app):
        app["status"]["operationState"].update(phase="Running", message="waiting for healthy state of apps/Deployment/guestbook",
                                               startedAt="2026-11-24T08:28:00Z")
        app["status"]["operationState"].pop("finishedAt")
    bundle.edit(app_file(), "guestbook-prod", op)


def _unauthorized(bundle):
    bundle.edit(app_file(), "guestbook-prod", lambda a: a["metadata"]["annotations"].pop("kargo.akuity.io/authorized-stage"))


NO_GO = [
    ("running", _running),
    ("errored", _errored),
    ("upstream", _not_verified),
    ("syncing", _syncing),
    ("authorized", _unauthorized),
]


@pytest.mark.parametrize("ident, change", NO_GO, ids=[n[0] for n in NO_GO])
def test_no_go_names_the_broken_rule_with_evidence(tmp_path, ident, change):
    bundle = BundleCopy(tmp_path)
    change(bundle)
    context = check(bundle)
    broken = [r.id for r in context.rules if r.status == "blocked"]
    assert broken == [ident]
    assert rule(context, ident).action
    if ident != "authorized":
        assert rule(context, ident).evidence
    assert (context.verdict, context.exit_code) == ("NO-GO", 1)


def test_errored_then_succeeded_for_the_same_freight_is_fine(tmp_path):
    bundle = BundleCopy(tmp_path)
    promo = _new_promotion(bundle, "Errored", BRAVE, "e", started="2026-11-18T10:00:00Z")  # before its success
    promo["metadata"]["name"] = promo["metadata"]["name"].replace("01m84zzz", "01m7q000")
    bundle.write(PROMOTIONS, bundle.items(PROMOTIONS)[:-1] + [promo])
    assert rule(check(bundle), "errored").status == "ok"


def test_a_poisoned_stage_is_no_go_through_the_diagnosis():
    context = promote_check(analyze(str(SAMPLES / "poisoned-promotion")), "prod")
    assert rule(context, "diagnosis").status == "blocked"
    assert "stage-poisoned-promotion" in rule(context, "diagnosis").detail
    assert context.verdict == "NO-GO"


def test_nothing_verified_upstream_is_no_go(tmp_path):
    bundle = BundleCopy(tmp_path)
    for name in (BRAVE, LUCKY):
        bundle.edit(FREIGHT, name, lambda f: f["status"]["verifiedIn"].pop("dev"))
    context = check(bundle, freight=None)
    assert context.freight is None and rule(context, "upstream").status == "blocked"


# ------------------------------------------------------------------ UNKNOWN


UNKNOWN = [
    ("promotions-not-collected", lambda b: b.drop(PROMOTIONS), {"running", "errored"}),
    ("freight-forbidden", lambda b: b.fail(FREIGHT, "freights"), {"upstream"}),
    ("applications-not-collected", lambda b: b.drop(app_file()), {"syncing", "authorized"}),
]


@pytest.mark.parametrize("case, change, unknown", UNKNOWN, ids=[u[0] for u in UNKNOWN])
def test_unknown_when_a_rule_cannot_be_evaluated(tmp_path, case, change, unknown):
    bundle = BundleCopy(tmp_path)
    change(bundle)
    context = check(bundle, freight=BRAVE)
    assert {r.id for r in context.rules if r.status == "unknown"} == unknown
    assert not [r for r in context.rules if r.status == "blocked"]
    assert (context.verdict, context.exit_code) == ("UNKNOWN", 3)


# ------------------------------------------------------------------ P2, P3, P4


def test_how_to_promote_never_creates_a_promotion_with_kubectl():
    context = check(SAMPLES / "verified-pipeline")
    commands = [m.command for m in context.methods]
    assert f"kargo promote --project kargo-demo --stage prod --freight {BRAVE}" in commands
    assert "https://kargo.example.com/project/kargo-demo/stage/prod" in commands  # host of the Kargo Ingress
    assert not [c for c in commands if c.startswith("kubectl")]
    assert any("NEVER" in m.text for m in context.methods)
    assert "off for prod" in context.methods[0].text  # prod is promoted by hand


def test_auto_promotion_that_will_not_retry_is_said(tmp_path):
    bundle = BundleCopy(tmp_path)
    _errored(bundle)
    bundle.edit(stage_file(), "prod", lambda s: s["status"].update(autoPromotionEnabled=True))
    assert "does not retry" in check(bundle).methods[0].text


def test_progress_of_a_running_promotion(tmp_path):
    bundle = BundleCopy(tmp_path)
    _running(bundle)
    context = check(bundle)
    progress = context.progress
    assert progress.phase == "Running" and progress.age == "25m"
    assert "step 5/5" in progress.step and "argocd-update" in progress.step
    assert [line.what for line in progress.lines] == ["Promotion", "Argo CD guestbook-prod", "Stage"]
    assert progress.lines[1].expected == "OutOfSync -> Syncing -> Synced+Healthy"
    assert progress.slow and any("repo-server" in item for item in progress.checklist)
    assert any("-l kargo.akuity.io/stage=prod" in w for w in progress.watch)  # Kargo v1.11 labels Promotions


def test_progress_on_kargo_before_v1_11_filters_by_spec_stage():
    context = promote_check(analyze(str(SAMPLES / "pasted-ticket")), "prod")
    assert context.progress is not None
    assert any('spec.stage=="prod"' in w for w in context.progress.watch)
    assert not any("-l kargo.akuity.io/stage" in w for w in context.progress.watch)


def test_post_promotion_checklist_is_todo_before_the_promotion():
    context = check(SAMPLES / "verified-pipeline")
    assert not context.already_current
    assert {c.status for c in context.post} == {"TODO"}
    assert any("gitops-master verify" in c.command for c in context.post)


# ------------------------------------------------------------------ CLI


@pytest.mark.parametrize("args, code", [
    (["--freight", "brave-otter"], 0),
    ([], 0),
])
def test_cli_go(args, code):
    result = CliRunner().invoke(main, ["promote-check", str(SAMPLES / "verified-pipeline"), "--stage", "prod", *args])
    assert result.exit_code == code, result.output
    assert "Verdict: GO" in result.stdout
    assert "DO NOT PROMOTE IF:" in result.stdout


def test_cli_no_go_and_unknown_exit_codes(tmp_path):
    result = CliRunner().invoke(main, ["promote-check", str(SAMPLES / "repo-server-refused.tar.gz"), "--stage", "staging"])
    assert result.exit_code == 1 and "Verdict: NO-GO" in result.stdout
    bundle = BundleCopy(tmp_path)
    bundle.drop(PROMOTIONS)
    result = CliRunner().invoke(main, ["promote-check", str(bundle), "--stage", "prod", "--freight", "brave-otter",
                                       "--format", "json"])
    assert result.exit_code == 3
    data = json.loads(result.stdout)
    assert data["verdict"] == "UNKNOWN" and data["exit_code"] == 3


def test_cli_bad_arguments_exit_2():
    runner = CliRunner()
    assert runner.invoke(main, ["promote-check", str(SAMPLES / "verified-pipeline")]).exit_code == 2
    result = runner.invoke(main, ["promote-check", str(SAMPLES / "verified-pipeline"), "--stage", "qa"])
    assert result.exit_code == 2 and "no Stage 'qa'" in result.output


def test_markdown():
    result = CliRunner().invoke(main, ["promote-check", str(SAMPLES / "verified-pipeline"), "--stage", "prod",
                                       "--format", "md"])
    assert result.stdout.startswith("# gitops-master promote-check")
    assert "## Verdict: **GO**" in result.stdout
