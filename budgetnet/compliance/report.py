"""`budgetnet check` results in the forms CI systems read (JUnit XML, GitHub workflow
annotations), and the audit record: which exact files were checked, under which rules, with
what verdicts, by which versions, when; and its verification later."""
from __future__ import annotations

import json
import sys
from datetime import datetime, timezone
from pathlib import Path
from xml.etree import ElementTree as ET

from budgetnet import atomic
from budgetnet.versions import versions
from budgetnet.compliance.rules import FileResult, Rules, VerdictStatus, check
from budgetnet.errors import BudgetnetError
from budgetnet.compliance.inputs import sha256

RECORD_FORMAT = "budgetnet-check-record/1"


# ---------------------------------------------------------------------------------- JUnit XML
def junit_xml(results: list[FileResult]) -> str:
    """One testcase per input and rule: a violation is a <failure>, bad input an <error>, a
    rule that could not be verified is <skipped>."""
    suites = ET.Element("testsuites", name="budgetnet check")
    suite = ET.SubElement(suites, "testsuite", name="budgetnet check")
    tests = failures = errors = skipped = 0
    for r in results:
        if r.error:
            case = ET.SubElement(suite, "testcase", classname=r.source, name="input")
            ET.SubElement(case, "error", message=r.error_lines[0] if r.error_lines else "bad input").text = \
                "\n".join(r.error_lines)
            tests, errors = tests + 1, errors + 1
            continue
        for v in r.verdicts:
            case = ET.SubElement(suite, "testcase", classname=r.source, name=v.rule)
            tests += 1
            if v.status == VerdictStatus.FAIL:
                ET.SubElement(case, "failure", message=v.message, type="budget").text = f"{v.actual_text} (limit {v.limit_text})"
                failures += 1
            elif v.status == VerdictStatus.SKIPPED:
                ET.SubElement(case, "skipped", message=v.message)
                skipped += 1
    for element in (suites, suite):
        element.set("tests", str(tests))
        element.set("failures", str(failures))
        element.set("errors", str(errors))
        element.set("skipped", str(skipped))
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"


# ----------------------------------------------------------------- GitHub workflow annotations
def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _file_of(r: FileResult) -> str:
    return r.files[0] if r.files else r.source


def github_annotations(results: list[FileResult]) -> list[str]:
    """`::error file=...,title=...::message` per violation and per bad input, `::notice` per
    complying input (the workflow-command syntax GitHub Actions reads from stdout)."""
    lines = []
    for r in results:
        file = _escape_property(_file_of(r))
        if r.error:
            lines.append(f"::error file={file},title={_escape_property('budgetnet check: bad input')}::"
                         f"{_escape_data(' | '.join(r.error_lines))}")
            continue
        for v in r.verdicts:
            if v.status == VerdictStatus.FAIL:
                lines.append(f"::error file={file},title={_escape_property('budgetnet check: ' + v.rule)}::"
                             f"{_escape_data(v.message)}")
        if r.ok:
            lines.append(f"::notice file={file},title={_escape_property('budgetnet check')}::"
                         f"{_escape_data('complies: ' + '; '.join(v.message for v in r.verdicts))}")
    return lines


# ------------------------------------------------------------------------------ audit record
def _versions() -> dict:
    return versions()


def record(results: list[FileResult], exit_code: int, options: dict) -> dict:
    inputs = []
    for r in results:
        files = [{"path": p, "sha256": sha256(p)} for p in r.files if Path(p).is_file()]
        rules = r.rules.model_dump(exclude_defaults=True) if r.rules else {}
        inputs.append({"input": r.input or r.source, "source": r.source, "kind": r.kind, "name": r.name, "status": r.status, "error": r.error,
                       "files": files,
                       "rules": {k: {"value": list(v) if isinstance(v, tuple) else v, "from": r.rule_origin.get(k)}
                                 for k, v in rules.items()},
                       "verdicts": [v.to_dict() for v in r.verdicts]})
    return {"format": RECORD_FORMAT, "utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "versions": _versions(), "command": sys.argv, "exit_code": exit_code, "options": options,
            "inputs": inputs}


def write_record(path: str | Path, data: dict) -> None:
    atomic.write_json(path, data)


def read_record(path: str | Path, fmt: str, what: str) -> tuple[dict | None, str]:
    """A JSON record with the format tag `fmt`, or None and the one line that says why not."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as e:
        return None, f"{path}: cannot read the record ({getattr(e, 'strerror', None) or e})"
    if not isinstance(data, dict) or data.get("format") != fmt:
        return None, f"{path}: not a budgetnet {what} record (no '{fmt}' format tag)"
    return data, ""


def verify_record(path: str | Path) -> tuple[int, list[str]]:
    """Re-hash every recorded file and re-check every input under its recorded rules.
    (exit code, lines): 0 every file and verdict is the same, 1 something changed, 2 the record
    or a file it names cannot be read."""
    data, why = read_record(path, RECORD_FORMAT, "check")
    if data is None:
        return 2, [why]
    code, lines = 0, []
    options = data.get("options") or {}
    for item in data.get("inputs", []):
        source = item["source"]
        for f in item.get("files", []):
            if not Path(f["path"]).is_file():
                code = 2
                lines.append(f"MISSING {source}: {f['path']} is gone")
            elif sha256(f["path"]) != f["sha256"]:
                code = max(code, 1)
                lines.append(f"CHANGED {source}: {f['path']} no longer has sha256 {f['sha256'][:12]}...")
        if item.get("error") or code == 2:
            continue
        limits = {k: v["value"] for k, v in item["rules"].items()}
        try:
            now = check(item.get("input", source), weights=options.get("weights"), rules=Rules(), data=options.get("data", options.get("data_dir")),
                        input_shape=tuple(options.get("input_shape") or (1, 28, 28)), kwargs=options.get("kwargs"),
                        **limits)
        except BudgetnetError as e:
            code = 2
            lines.append(f"ERROR {source}: {str(e).splitlines()[0]}")
            continue
        before = [(v["rule"], v["status"], v["actual"]) for v in item["verdicts"]]
        legacy = any(isinstance(b[2], str) for b in before)  # written before verdicts carried numbers
        after = [(v.rule, v.status, v.actual_text if legacy else v.actual) for v in now.verdicts]
        if before != after:
            code = max(code, 1)
            changed = [f"{a[0]}: {a[1]} {a[2]} (recorded {b[1]} {b[2]})" for a, b in zip(after, before) if a != b]
            lines.append(f"CHANGED {source}: " + ("; ".join(changed) or "the set of verdicts differs"))
        else:
            lines.append(f"SAME {source}: {len(after)} verdict(s) hold")
    return code, lines
