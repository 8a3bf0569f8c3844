"""gitops-master ask: the playbook's mode table, never a default to diagnose."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from analyzer.cli import main
from analyzer.modes.ask import route
from conftest import SAMPLES

ROUTES = [
    # the playbook's own phrases
    ("the dev stage is stuck", "diagnose"),
    ("sync failed for guestbook", "diagnose"),
    ("pods crashing in prod", "diagnose"),
    ("I get an error when promoting", "diagnose"),
    ("help me debug staging", "diagnose"),
    ("staging is broken", "diagnose"),
    ("deploys are not working", "diagnose"),
    ("check stage prod", "verify"),
    ("verify staging", "verify"),
    ("what is the health of prod", "verify"),
    ("is it up?", "verify"),
    ("promote to prod", "promote"),
    ("pipeline status", "promote"),
    ("which freight is where", "promote"),
    ("advance stage qa", "promote"),
    ("push through to prod", "promote"),
    ("add verification to qa", "setup"),
    ("configure the monitoring stage", "setup"),
    ("retry config for loki", "setup"),
    ("RBAC for verification jobs", "setup"),
    ("new stage for monitoring", "setup"),
    ("write an analysis template", "setup"),
    # plain questions
    ("is prod up?", "verify"),
    ("may I promote this freight to prod?", "promote"),
    ("is my new stage configured right?", "setup"),
    ("why did the promotion fail on staging?", "diagnose"),
    ("write a post-mortem report", "report"),
]


@pytest.mark.parametrize("text, mode", ROUTES, ids=[r[0] for r in ROUTES])
def test_mode_table(text, mode):
    context = route(text)
    assert (context.outcome, context.mode) == ("routed", mode)


def test_nothing_matched_is_not_diagnose():
    context = route("hello there")
    assert context.outcome == "none" and context.mode is None and context.exit_code == 1
    assert {c.mode for c in context.candidates} == {"diagnose", "verify", "promote", "setup", "report"}


def test_ambiguous_lists_the_candidates():
    context = route("promote prod and check its health")
    assert context.outcome == "ambiguous" and context.command is None
    assert {c.mode for c in context.candidates} == {"verify", "promote"}


def test_commands_name_the_stage_and_freight():
    assert route("is prod up?").command == "gitops-master verify BUNDLE --stage prod"
    assert route("quick health check of staging").command == "gitops-master verify BUNDLE --stage staging --quick"
    assert (route("promote freight sunny-mantis to prod-eu", stages=["dev", "prod-eu"]).command
            == "gitops-master promote-check BUNDLE --stage prod-eu --freight sunny-mantis")
    assert route("scaffold a new stage monitoring").command.startswith("gitops-master scaffold stage --project PROJECT --name monitoring")
    assert route("is my new stage configured right?").command == "gitops-master lint BUNDLE"


def test_cli_prints_and_does_not_run():
    result = CliRunner().invoke(main, ["ask", "is qa up?", "--bundle", str(SAMPLES / "verification-failed")])
    assert result.exit_code == 0, result.output
    assert f"Command: gitops-master verify {SAMPLES / 'verification-failed'} --stage qa" in result.stdout
    assert "VERIFICATION REPORT" not in result.stdout


def test_cli_run_runs_it_with_its_exit_code():
    result = CliRunner().invoke(main, ["ask", "is qa up?", "--bundle", str(SAMPLES / "verification-failed"), "--run"])
    assert result.exit_code == 1  # verify: qa FAILs at Level 4
    assert "VERIFICATION REPORT" in result.stdout and "Overall: FAIL at Level 4" in result.stdout


def test_cli_run_refuses_placeholders_and_reports_ambiguity():
    runner = CliRunner()
    result = runner.invoke(main, ["ask", "is prod up?", "--run"])
    assert result.exit_code == 2 and "fill in BUNDLE" in result.output
    result = runner.invoke(main, ["ask", "hello"])
    assert result.exit_code == 1 and "does not assume DIAGNOSE" in result.stdout
