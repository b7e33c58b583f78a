"""What a user gets from the repository before running a command: the license (an SPDX
expression in the installed package's metadata, and a LICENSE file), a README that says what
migratectl is before how to set it up, and a CI example that installs migratectl the way the
README does while no release exists."""

from __future__ import annotations

import importlib.metadata
import re
import sys
from pathlib import Path

import yaml

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent


def test_the_license_is_an_spdx_expression_with_a_license_file() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert pyproject["project"]["license"] == "MIT"
    assert pyproject["project"]["license-files"] == ["LICENSE"]
    # The SPDX string form needs setuptools 77 or later to build.
    assert "setuptools>=77" in pyproject["build-system"]["requires"]
    license_text = (ROOT / "LICENSE").read_text()
    assert license_text.startswith("MIT License\n")
    assert "Copyright (c) the migratectl authors" in license_text
    assert 'THE SOFTWARE IS PROVIDED "AS IS"' in license_text


def test_the_installed_package_declares_its_license() -> None:
    metadata = importlib.metadata.metadata("migratectl")
    assert metadata["License-Expression"] == "MIT"
    assert "LICENSE" in (metadata.get_all("License-File") or [])


def test_the_readme_says_what_migratectl_is_before_how_to_set_it_up() -> None:
    text = (ROOT / "README.md").read_text()
    title, first, *rest = [block.strip() for block in text.split("\n\n")]
    assert title == "# migratectl"
    assert first.startswith("migratectl is a standalone command-line tool")
    assert "```" not in first
    # Then the two set-up commands, in one code block, before any section.
    setup = text.index("```sh\npip install -e '.[dev]'\npytest\n```")
    assert text.index(first) < setup < text.index("\n## ")


def test_the_ci_example_installs_migratectl_from_its_repository() -> None:
    workflow = yaml.safe_load((ROOT / "examples" / "ci" / "github-actions.yml").read_text())
    jobs = workflow["jobs"]
    for name, extra in (("lint", ""), ("migrations", "[postgres]")):
        job = jobs[name]
        installs = [step["run"] for step in job["steps"] if "pip install" in step.get("run", "")]
        assert installs == [f'pip install -e . "migratectl{extra} @ ${{MIGRATECTL_SOURCE}}"']
        assert re.fullmatch(r"git\+https://\S+\.git", job["env"]["MIGRATECTL_SOURCE"])
    readme = (ROOT / "README.md").read_text()
    assert "From a checkout of this repository" in readme  # no release: the README's way too
