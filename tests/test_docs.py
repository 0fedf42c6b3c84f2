"""The README documents what the code does: every setting, the two commands, CI calling the test command."""

import re
from pathlib import Path

from authserver.config import SETTINGS

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def test_every_setting_is_documented_in_the_readme():
    missing = [name for name in SETTINGS if f"`AUTHSERVER_{name}`" not in README]
    assert missing == []


def test_readme_opens_with_the_run_and_test_commands():
    first_block = re.search(r"```sh\n(.*?)```", README, re.S).group(1)
    commands = [line.split("#")[0].strip() for line in first_block.splitlines() if line.strip()]
    assert commands == ["make run", "make test"]


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci


def test_key_material_is_ignored_by_git():
    ignore = (ROOT / "keys" / ".gitignore").read_text().splitlines()
    assert "*" in ignore and "!README.md" in ignore
