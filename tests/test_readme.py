"""The README's quick start stays true: its test command is the one CI runs."""

import re

from conftest import REPO


def _quick_start_commands() -> list[str]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.+?)\n```", section)


def test_quick_start_has_exactly_two_commands_demo_then_tests():
    commands = _quick_start_commands()
    assert len(commands) == 2
    assert commands[0].endswith("poseclf demo")
    assert "pytest" in commands[1] and ".[test]" in commands[1]


def test_ci_runs_the_readme_test_command_word_for_word():
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert f"TEST_COMMAND='{_quick_start_commands()[1]}'" in ci
