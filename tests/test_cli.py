"""The CLI contract: help with examples, thresholds, exit codes."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from analyzer.cli import main
from conftest import SAMPLES


def run(*args):
    return CliRunner().invoke(main, list(args))


import click


def leaf_commands(group, prefix=()):
    for name, cmd in sorted(group.commands.items()):
        if isinstance(cmd, click.Group):
            yield from leaf_commands(cmd, (*prefix, name))
        else:
            yield (*prefix, name)


@pytest.mark.parametrize("command", list(leaf_commands(main)), ids=" ".join)
def test_every_command_has_help_with_an_example(command):
    result = run(*command, "--help")
    assert result.exit_code == 0
    assert "Example" in result.output or command == ("thresholds",), result.output


def test_threshold_override_changes_the_verdict():
    stuck = run("diagnose", str(SAMPLES / "pasted-ticket"))
    assert stuck.exit_code == 1 and "promotion-stuck" in stuck.stdout
    patient = run("diagnose", str(SAMPLES / "pasted-ticket"), "--threshold", "promotion_stuck_after=2h")
    assert "promotion-stuck" not in patient.stdout


def test_unknown_threshold_is_a_usage_error():
    result = run("diagnose", str(SAMPLES / "pasted-ticket"), "--threshold", "nope=1m")
    assert result.exit_code == 2
    assert "promotion_stuck_after" in result.output


def test_thresholds_lists_every_setting_with_its_meaning():
    from dataclasses import fields

    from analyzer.settings import Settings

    result = run("thresholds")
    assert result.exit_code == 0
    for f in fields(Settings):
        assert f"{f.name} = " in result.output
    blocks = result.output.split("\n")
    meanings = [blocks[i + 1].strip() for i, line in enumerate(blocks) if " = " in line]
    assert all(meanings), "every threshold says what it means"


def test_progress_appears_only_after_a_second(monkeypatch):
    from analyzer import cli

    shown = []
    monkeypatch.setattr(cli.click, "echo", lambda text, err=False: shown.append(text))
    quiet = cli.Progress(enabled=True)
    quiet("reading the bundle")
    assert shown == []
    slow = cli.Progress(enabled=True)
    slow.started -= 2
    slow("building frames")
    slow.done()
    assert shown[0].startswith("gitops-master: building frames (2.") and shown[1].startswith("gitops-master: done in 2.")
    off = cli.Progress(enabled=False)
    off.started -= 5
    off("x")
    assert len(shown) == 2
