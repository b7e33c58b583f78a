"""What ``migratectl lint`` prints: its findings in the formats ``--format`` names.

``text`` is for people (one line per finding, a summary on stderr); ``json`` is SPEC §3's
``{"findings": [...]}``; ``github`` prints GitHub Actions workflow commands, which the
runner turns into annotations on the revision files; ``sarif`` is a SARIF 2.1.0 log with
every rule described, for code scanning (GitHub's ``upload-sarif`` and other viewers).

Everything here is a pure function of the findings and the rule table: no file is read, no
database opened.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from migratectl import __version__
from migratectl.commands.lint.engine import UnreadStatement
from migratectl.lint_rules import BY_ID, RULES, Finding, Rule

FORMATS = ("text", "json", "github", "sarif")
SARIF_SCHEMA = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
# Every finding fails the command until it is acknowledged, so every rule is an error.
RULE_LEVEL = "error"
_DIALECT_NAMES = {"postgresql": "PostgreSQL", "mysql": "MySQL/MariaDB"}


def target(finding: Finding) -> str:
    """``table.column``, ``table``, ``?`` when the revision computes the name, or nothing
    for a finding about no table (an allow-marker, a statement on no table)."""
    if not finding.table and not finding.column:
        return ""
    table = finding.table or "?"
    return f"{table}.{finding.column}" if finding.column else table


def _where(finding: Finding) -> str:
    """``REV, table.column`` (or just ``REV``), for the formats that put it after the message."""
    return ", ".join(filter(None, [finding.revision, target(finding)]))


# --------------------------------------------------------------------------- text


def text_line(finding: Finding) -> str:
    """``path:line: MC102 drop-column REV table.column — message`` (+ ``(allowed)``)."""
    where = " ".join(filter(None, [finding.rule, finding.name, finding.revision, target(finding)]))
    line = f"{finding.path}:{finding.line}: {where} — {finding.message}"
    return f"{line} (allowed)" if finding.acknowledged else line


def summary_lines(
    findings: Sequence[Finding], revisions: int, skipped_rules: Collection[str] = ()
) -> list[str]:
    """What the findings add up to, and which rules did not run (for stderr)."""
    open_count = sum(1 for finding in findings if not finding.acknowledged)
    total = len(findings)
    if open_count:
        lines = [
            f"{open_count} of {total} finding(s) in {revisions} revision(s) not acknowledged. "
            "Review each; if it is intended, add `# migratectl: allow RULE` (the rule's id or "
            "name) on its line or the line above."
        ]
    elif total:
        lines = [f"{total} finding(s), all acknowledged, in {revisions} revision(s)."]
    else:
        lines = [f"No findings in {revisions} revision(s)."]
    skipped = skipped_text(skipped_rules)
    if skipped:
        lines.append(skipped)
    return lines


def unread_lines(unread: Sequence[UnreadStatement]) -> list[str]:
    """The op.execute() calls whose SQL lint could not read (for stderr)."""
    return [
        f"{u.path}:{u.line}: {u.revision}: the SQL of this call was not checked: {u.reason}."
        for u in unread
    ]


def skipped_text(skipped_rules: Collection[str]) -> str | None:
    """One sentence naming the dialect rules that did not run, or None when all ran."""
    if not skipped_rules:
        return None
    groups: dict[str, list[str]] = {}
    for rule in RULES:
        if rule.id in skipped_rules:
            name = _DIALECT_NAMES.get(rule.dialect or "", rule.dialect or "other")
            groups.setdefault(name, []).append(rule.id)
    described = " and ".join(f"the {name} rules ({', '.join(ids)})" for name, ids in groups.items())
    return (
        f"Skipped {described}: no database dialect is known. Set database_url, or "
        '[lint] dialect = "postgresql" (or "mysql", "mariadb", "sqlite"), to run them.'
    )


# --------------------------------------------------------------------------- json


def json_document(findings: Sequence[Finding]) -> dict[str, Any]:
    """SPEC §3: ``{"findings": [...]}``."""
    return {"findings": [finding.as_json() for finding in findings]}


# --------------------------------------------------------------------------- github


def escape_data(text: str) -> str:
    """A workflow command's message: ``%``, CR and LF escaped (the runner's own rules)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A workflow command's property value: as data, plus ``:`` and ``,``."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def workflow_command(command: str, message: str, **properties: str | int) -> str:
    """``::command k=v,k=v::message``, every part escaped."""
    props = ",".join(f"{key}={escape_property(str(value))}" for key, value in properties.items())
    head = f"{command} {props}" if props else command
    return f"::{head}::{escape_data(message)}"


def github_lines(findings: Sequence[Finding], skipped_rules: Collection[str] = ()) -> list[str]:
    """One ``::error`` annotation per finding not acknowledged.

    Acknowledged findings print nothing: they are decisions already taken, and repeating them
    on every run would bury the new ones (GitHub also shows only the first few annotations of
    a kind per step). Rules that did not run are one ``::notice``.
    """
    lines = [
        workflow_command(
            "error",
            f"{finding.message} ({_where(finding)})",
            file=finding.path.replace("\\", "/"),
            line=finding.line,
            title=f"{finding.rule} {finding.name}",
        )
        for finding in findings
        if not finding.acknowledged
    ]
    skipped = skipped_text(skipped_rules)
    if skipped:
        lines.append(workflow_command("notice", skipped, title="migratectl lint"))
    return lines


def github_error(message: str) -> str:
    """The annotation for a lint that could not run (the exit code says so too)."""
    return workflow_command("error", message, title="migratectl lint failed")


# --------------------------------------------------------------------------- sarif


def _sarif_rule(rule: Rule) -> dict[str, Any]:
    dialect = f" ({_DIALECT_NAMES[rule.dialect]})" if rule.dialect else ""
    return {
        "id": rule.id,
        "name": rule.name,
        "shortDescription": {"text": f"{rule.name}{dialect}: {rule.summary}"},
        "fullDescription": {"text": f"Flags {rule.summary}{dialect}. Why it hurts: {rule.why}."},
        "help": {
            "text": f"Why it hurts: {rule.why}. The safe way: {rule.fix}. If it is intended, "
            f"acknowledge it with `# migratectl: allow {rule.id}` (or `{rule.name}`) on the "
            "operation's line or the line above.",
            "markdown": f"**Why it hurts:** {rule.why}.\n\n**The safe way:** {rule.fix}.\n\n"
            f"If it is intended, acknowledge it with `# migratectl: allow {rule.id}` (or "
            f"`{rule.name}`) on the operation's line or the line above.",
        },
        "defaultConfiguration": {"level": RULE_LEVEL},
        "properties": {"tags": [rule.dialect] if rule.dialect else []},
    }


def project_url() -> str | None:
    """The home page the installed package declares (``[project.urls]``), if any."""
    from importlib.metadata import PackageNotFoundError, metadata

    try:
        fields = metadata("migratectl")
    except PackageNotFoundError:
        return None
    for entry in fields.get_all("Project-URL") or []:
        label, _, url = entry.partition(",")
        if label.strip().lower() in ("homepage", "home", "repository", "source"):
            return url.strip()
    home_page = fields.get_all("Home-page") or []
    return home_page[0] if home_page else None


def _sarif_driver() -> dict[str, Any]:
    driver: dict[str, Any] = {
        "name": "migratectl",
        "version": __version__,
        "semanticVersion": __version__,
    }
    url = project_url()
    if url:  # SARIF wants an absolute URI: none is made up when the package declares none
        driver["informationUri"] = url
    driver["rules"] = [_sarif_rule(rule) for rule in RULES]
    return driver


_RULE_INDEX = {rule.id: index for index, rule in enumerate(RULES)}


def artifact_location(path: str) -> dict[str, str]:
    """A path as SARIF wants it (§3.4): a relative URI reference with forward slashes against
    the folder migratectl ran in, or a ``file:`` URI for a path outside it."""
    from pathlib import PurePosixPath, PureWindowsPath
    from urllib.parse import quote

    for flavour in (PurePosixPath, PureWindowsPath):
        if flavour(path).is_absolute():
            return {"uri": flavour(path).as_uri()}
    return {"uri": quote(path.replace("\\", "/"), safe="/"), "uriBaseId": "%SRCROOT%"}


def _sarif_result(finding: Finding) -> dict[str, Any]:
    result: dict[str, Any] = {
        "ruleId": finding.rule,
        "ruleIndex": _RULE_INDEX[finding.rule],
        "level": RULE_LEVEL,
        "message": {"text": f"{finding.message} ({_where(finding)})"},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": artifact_location(finding.path),
                    "region": {"startLine": finding.line},
                }
            }
        ],
        "partialFingerprints": {
            # Stable across edits that move the line: the revision and what it touches.
            "migratectl/v1": f"{finding.rule}:{finding.revision}:{finding.operation}:"
            f"{target(finding)}"
        },
        "properties": {
            "revision": finding.revision,
            "operation": finding.operation,
            "table": finding.table,
            "column": finding.column,
        },
    }
    if finding.acknowledged:
        result["suppressions"] = [
            {"kind": "inSource", "justification": "acknowledged by `# migratectl: allow`"}
        ]
    return result


def sarif_log(
    findings: Sequence[Finding],
    *,
    skipped_rules: Collection[str] = (),
    disabled_rules: Collection[str] = (),
    error: tuple[str, int] | None = None,
) -> dict[str, Any]:
    """A SARIF 2.1.0 log of one run: every rule described, one result per finding.

    ``disabled_rules`` (``[lint] disable``) become rule configuration overrides,
    ``skipped_rules`` a note; ``error`` (message, exit code) marks a run that could not
    read the revisions, with no results.
    """
    notifications: list[dict[str, Any]] = []
    skipped = skipped_text(skipped_rules)
    if skipped:
        notifications.append({"level": "note", "message": {"text": skipped}})
    if error is not None:
        notifications.append({"level": "error", "message": {"text": error[0]}})
    invocation: dict[str, Any] = {
        "executionSuccessful": error is None,
        "toolExecutionNotifications": notifications,
    }
    if error is not None:
        invocation["exitCode"] = error[1]
    overrides = [
        {
            "descriptor": {"id": rule_id, "index": _RULE_INDEX[rule_id]},
            "configuration": {"enabled": False},
        }
        for rule_id in sorted(disabled_rules)
        if rule_id in BY_ID
    ]
    if overrides:
        invocation["ruleConfigurationOverrides"] = overrides
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {"driver": _sarif_driver()},
                "invocations": [invocation],
                "originalUriBaseIds": {
                    "%SRCROOT%": {"description": {"text": "the folder migratectl ran in"}}
                },
                "columnKind": "unicodeCodePoints",
                "results": [] if error is not None else [_sarif_result(f) for f in findings],
            }
        ],
    }
