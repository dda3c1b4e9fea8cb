"""The README stays true: quick start commands, CI command, configuration table."""

from __future__ import annotations

import re
from pathlib import Path

from pandamock.config import Settings

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def _shell_blocks() -> list[str]:
    return re.findall(r"```sh\n(.*?)\n```", README, flags=re.S)


def test_quick_start_has_two_commands_and_ci_runs_the_test_one():
    install, test = _shell_blocks()[:2]
    assert "pandamock serve" in install
    assert "pytest" in test
    ci = (ROOT / ".ci" / "run").read_text()
    assert test.strip() in ci.splitlines()


def test_every_setting_is_in_the_configuration_table():
    for spec in Settings.specs():
        row = next((line for line in README.splitlines() if line.startswith(f"| {spec.name} |")), None)
        assert row is not None, f"README lacks a row for {spec.name}"
        assert f"`{spec.env}`" in row and f"`{spec.flag}`" in row
