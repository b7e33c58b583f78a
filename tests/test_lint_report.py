"""``migratectl lint --format text|json|github|sarif``: what each format prints, checked
against its own definition — SPEC §3 for json, GitHub's workflow-command syntax for github,
the SARIF 2.1.0 JSON schema for sarif (tests/data/sarif-schema-2.1.0.json, OASIS's schema as
published with the 2.1.0 errata, from oasis-tcs/sarif-spec sarif-2.1/schema/)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from conftest import Project
from lint_support import FIRST_BODY_LINE, add_revision, lint_project

from migratectl import __version__
from migratectl.commands.lint import report
from migratectl.lint_rules import RULES, Finding

SCHEMA = json.loads((Path(__file__).parent / "data" / "sarif-schema-2.1.0.json").read_text())
FINDING_KEYS = [
    "rule",
    "name",
    "revision",
    "path",
    "line",
    "operation",
    "table",
    "column",
    "message",
    "acknowledged",
]
# ::command k=v,k=v::message — property values never hold a raw "," or ":", no part a raw
# CR or LF, every "%" starts an escape.
_ESCAPED = r"(?:[^%\r\n]|%25|%0D|%0A)"
_PROPERTY_VALUE = r"(?:[^%\r\n,:]|%25|%0D|%0A|%3A|%2C)"
WORKFLOW_COMMAND = re.compile(
    rf"^::(?P<command>error|warning|notice)"
    rf"(?: (?P<properties>[a-zA-Z]+={_PROPERTY_VALUE}*(?:,[a-zA-Z]+={_PROPERTY_VALUE}*)*))?"
    rf"::(?P<message>{_ESCAPED}*)$"
)


def unescape(text: str) -> str:
    for escaped, raw in (("%0D", "\r"), ("%0A", "\n"), ("%3A", ":"), ("%2C", ","), ("%25", "%")):
        text = text.replace(escaped, raw)
    return text


def parse_workflow_command(line: str) -> tuple[str, dict[str, str], str]:
    match = WORKFLOW_COMMAND.match(line)
    assert match, f"not a workflow command: {line!r}"
    properties = dict(
        (key, unescape(value))
        for key, _, value in (
            item.partition("=") for item in (match["properties"] or "").split(",") if item
        )
    )
    return match["command"], properties, unescape(match["message"])


def validate_sarif(log: dict[str, Any]) -> None:
    jsonschema.Draft4Validator.check_schema(SCHEMA)
    errors = sorted(jsonschema.Draft4Validator(SCHEMA).iter_errors(log), key=str)
    assert errors == [], [f"{list(e.absolute_path)}: {e.message}" for e in errors]


@pytest.fixture
def repo(sqlite_project: Project) -> Project:
    """Two revisions: a1 drops a column (open) and a table (acknowledged); b2 renames."""
    project = lint_project(sqlite_project)
    add_revision(
        project,
        "a1",
        None,
        """
        op.drop_column("users", "age")
        op.drop_table("legacy")  # migratectl: allow drop_table
        """,
    )
    add_revision(project, "b2", "a1", 'op.rename_table("orders", "purchases")')
    return project


A1 = "migrations/versions/a1_change.py"
B2 = "migrations/versions/b2_change.py"


def test_text_names_rule_id_name_revision_target_and_message(repo: Project) -> None:
    result = repo.run("lint")

    assert result.exit_code == 1, result
    lines = result.stdout.splitlines()
    assert len(lines) == 3
    assert lines[0].startswith(f"{A1}:{FIRST_BODY_LINE}: MC102 drop-column a1 users.age — ")
    assert lines[1].startswith(f"{A1}:{FIRST_BODY_LINE + 1}: MC101 drop-table a1 legacy — ")
    assert lines[1].endswith(" (allowed)")
    assert lines[2].startswith(f"{B2}:{FIRST_BODY_LINE}: MC201 rename-table b2 orders — ")
    assert not lines[0].endswith("(allowed)") and not lines[2].endswith("(allowed)")
    assert "2 of 3 finding(s) in 2 revision(s) not acknowledged" in result.stderr
    assert "Skipped" not in result.stderr  # the SQLite URL names the dialect


def test_json_is_exactly_the_spec_document(repo: Project) -> None:
    for args in (["--json"], ["--format", "json"], ["--json", "--format", "json"]):
        result = repo.run("lint", *args)
        assert result.exit_code == 1, result
        document = json.loads(result.stdout)
        assert list(document) == ["findings"]
        assert [list(finding) for finding in document["findings"]] == [FINDING_KEYS] * 3
        first = document["findings"][0]
        assert (first["rule"], first["name"], first["revision"], first["path"]) == (
            "MC102",
            "drop-column",
            "a1",
            A1,
        )
        assert (first["line"], first["table"], first["column"]) == (FIRST_BODY_LINE, "users", "age")
        assert [f["acknowledged"] for f in document["findings"]] == [False, True, False]


def test_json_and_format_that_disagree_are_a_usage_error(repo: Project) -> None:
    result = repo.run("lint", "--json", "--format", "sarif")
    assert result.exit_code == 2, result
    assert json.loads(result.stdout)["error"]["message"] == (
        "--json and --format sarif disagree: --json is --format json."
    )
    result = repo.run("lint", "--format", "xml")
    assert result.exit_code == 2, result
    assert result.stdout == ""
    assert "--format xml is not a format lint prints" in result.stderr


def test_github_annotates_each_open_finding_and_nothing_else(repo: Project) -> None:
    result = repo.run("lint", "--format", "github")

    assert result.exit_code == 1, result
    commands = [parse_workflow_command(line) for line in result.stdout.splitlines()]
    assert [(c, p) for c, p, _ in commands] == [
        ("error", {"file": A1, "line": str(FIRST_BODY_LINE), "title": "MC102 drop-column"}),
        ("error", {"file": B2, "line": str(FIRST_BODY_LINE), "title": "MC201 rename-table"}),
    ]
    assert commands[0][2].endswith("(a1, users.age)")
    assert "2 of 3 finding(s)" in result.stderr  # the summary stays in the log


def test_github_escapes_commas_colons_percents_and_newlines(sqlite_project: Project) -> None:
    project = lint_project(sqlite_project)
    path = add_revision(
        project, "c3", None, 'op.drop_table("odd\\nname")', filename="c3_a,b:50%.py"
    )

    result = project.run("lint", "--format", "github")

    assert result.exit_code == 1, result
    [line] = result.stdout.splitlines()
    assert f"::error file=migrations/versions/c3_a%2Cb%3A50%25.py,line={FIRST_BODY_LINE}," in line
    assert "odd%0Aname" in line
    command, properties, message = parse_workflow_command(line)
    assert (command, properties["file"], properties["line"]) == (
        "error",
        path,
        str(FIRST_BODY_LINE),
    )
    assert message.endswith("(c3, odd\nname)")


def test_workflow_command_escaping_rules() -> None:
    assert report.escape_data("100% a:b,c\r\nd") == "100%25 a:b,c%0D%0Ad"
    assert report.escape_property("100% a:b,c\r\nd") == "100%25 a%3Ab%2Cc%0D%0Ad"
    line = report.workflow_command("warning", "m%\n", file="a,b", line=3)
    assert line == "::warning file=a%2Cb,line=3::m%25%0A"
    assert parse_workflow_command(line) == ("warning", {"file": "a,b", "line": "3"}, "m%\n")


def test_sarif_is_a_valid_log_describing_every_rule(repo: Project) -> None:
    result = repo.run("lint", "--format", "sarif")

    assert result.exit_code == 1, result
    log = json.loads(result.stdout)
    validate_sarif(log)
    assert log["version"] == "2.1.0"
    [run] = log["runs"]
    driver = run["tool"]["driver"]
    assert (driver["name"], driver["version"]) == ("migratectl", __version__)
    assert [rule["id"] for rule in driver["rules"]] == [rule.id for rule in RULES]
    for described, rule in zip(driver["rules"], RULES, strict=True):
        assert described["name"] == rule.name
        assert rule.summary in described["shortDescription"]["text"]
        assert rule.why in described["fullDescription"]["text"]
        assert rule.why in described["help"]["text"] and rule.fix in described["help"]["text"]
        assert described["defaultConfiguration"]["level"] == "error"
    assert run["invocations"] == [{"executionSuccessful": True, "toolExecutionNotifications": []}]

    results = run["results"]
    assert [r["ruleId"] for r in results] == ["MC102", "MC101", "MC201"]
    for item in results:
        assert driver["rules"][item["ruleIndex"]]["id"] == item["ruleId"]
        assert item["level"] == "error"
    locations = [r["locations"][0]["physicalLocation"] for r in results]
    assert [loc["artifactLocation"]["uri"] for loc in locations] == [A1, A1, B2]
    assert [loc["region"]["startLine"] for loc in locations] == [
        FIRST_BODY_LINE,
        FIRST_BODY_LINE + 1,
        FIRST_BODY_LINE,
    ]
    assert ["suppressions" in r for r in results] == [False, True, False]
    assert results[1]["suppressions"][0]["kind"] == "inSource"
    assert "users.age" in results[0]["message"]["text"]

    # The schema is really applied: a level SARIF does not define is refused.
    results[0]["level"] = "fatal"
    with pytest.raises(AssertionError, match="fatal"):
        validate_sarif(log)


def test_sarif_uris_are_relative_with_forward_slashes_or_file_uris() -> None:
    assert report.artifact_location("migrations\\versions\\a 1.py") == {
        "uri": "migrations/versions/a%201.py",
        "uriBaseId": "%SRCROOT%",
    }
    assert report.artifact_location("/srv/app/migrations/versions/a1.py") == {
        "uri": "file:///srv/app/migrations/versions/a1.py"
    }


def test_sarif_marks_disabled_and_skipped_rules() -> None:
    finding = Finding(
        "MC102", "drop-column", "a1", "m/a1.py", 3, "drop_column", "t", "c", "Drops.", False
    )
    log = report.sarif_log(
        [finding], skipped_rules=("MC302", "MC303"), disabled_rules=frozenset({"MC201"})
    )
    validate_sarif(log)
    [invocation] = log["runs"][0]["invocations"]
    assert invocation["ruleConfigurationOverrides"] == [
        {"descriptor": {"id": "MC201", "index": 4}, "configuration": {"enabled": False}}
    ]
    [note] = invocation["toolExecutionNotifications"]
    assert note["level"] == "note"
    assert "PostgreSQL rules (MC302)" in note["message"]["text"]
    assert "MySQL/MariaDB rules (MC303)" in note["message"]["text"]


@pytest.mark.parametrize("fmt", ["sarif", "github", "json", "text"])
def test_a_lint_that_cannot_run_says_so_in_its_format(repo: Project, fmt: str) -> None:
    result = repo.run("lint", "nope:", "--format", fmt)

    assert result.exit_code == 2, result
    assert "Unknown revision 'nope'" in result.stderr
    if fmt == "sarif":
        log = json.loads(result.stdout)
        validate_sarif(log)
        [invocation] = log["runs"][0]["invocations"]
        assert (invocation["executionSuccessful"], invocation["exitCode"]) == (False, 2)
        assert (
            "Unknown revision 'nope'"
            in invocation["toolExecutionNotifications"][0]["message"]["text"]
        )
        assert log["runs"][0]["results"] == []
    elif fmt == "github":
        command, properties, message = parse_workflow_command(result.stdout.strip())
        assert (command, properties) == ("error", {"title": "migratectl lint failed"})
        assert "Unknown revision 'nope'" in message
    elif fmt == "json":
        assert json.loads(result.stdout)["error"]["exit_code"] == 2
    else:
        assert result.stdout == ""


def test_no_findings_is_exit_0_in_every_format(sqlite_project: Project) -> None:
    project = lint_project(sqlite_project)
    add_revision(project, "d4", None, 'op.create_table("t", sa.Column("id", sa.Integer()))')
    for fmt in ("text", "json", "github", "sarif"):
        result = project.run("lint", "--format", fmt)
        assert result.exit_code == 0, (fmt, result)
    assert project.run("lint", "--format", "github").stdout == ""
    log = json.loads(project.run("lint", "--format", "sarif").stdout)
    validate_sarif(log)
    assert log["runs"][0]["results"] == []


def test_sarif_from_the_installed_command_is_valid(repo: Project) -> None:
    result = repo.run_cli("lint", "--format", "sarif")
    assert result.exit_code == 1, result
    validate_sarif(json.loads(result.stdout))
