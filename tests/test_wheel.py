"""An installed wheel works outside the checkout: templates and samples ship inside it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

from conftest import REPO, SAMPLES


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(REPO)],
                   check=True, capture_output=True)
    (path,) = out.glob("gitops_master-*.whl")
    return path


def test_wheel_contains_templates_and_samples(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert "analyzer/catalog_data/kargo.yaml" in names
    assert "analyzer/_data/report_templates/diagnosis.txt.j2" in names
    assert any(n.startswith("analyzer/_data/sample_bundles/") for n in names)


def test_installed_wheel_diagnoses_outside_the_checkout(wheel, tmp_path):
    clean = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env_dir = tmp_path / "venv"
    # Reuse the already installed dependencies; the wheel itself goes in without them.
    venv.create(env_dir, system_site_packages=True, with_pip=True)
    py = env_dir / "bin" / "python"
    subprocess.run([str(py), "-m", "pip", "install", "--no-deps", "--quiet", str(wheel)], check=True, capture_output=True)
    sample = next(p for p in sorted(SAMPLES.iterdir()) if p.is_dir() and (p / "manifest.json").exists())
    copy = tmp_path / "work" / sample.name
    shutil.copytree(sample, copy)
    cli = env_dir / "bin" / "gitops-master"
    result = subprocess.run([str(cli), "diagnose", str(copy)], cwd=tmp_path / "work", capture_output=True, text=True, env=clean)
    assert result.returncode in (0, 1), result.stderr
    assert "Reference time:" in result.stdout
    where = subprocess.run([str(py), "-c", "import analyzer, sys; print(analyzer.__file__)"], cwd=tmp_path, capture_output=True, text=True, env=clean)
    assert str(env_dir) in where.stdout, "the test must exercise the installed package, not the checkout"
    report = tmp_path / "work" / "r.html"
    result = subprocess.run([str(cli), "report", str(copy), "-o", str(report)], cwd=tmp_path / "work", capture_output=True, text=True, env=clean)
    assert report.exists() and "<!DOCTYPE html>" in report.read_text()
