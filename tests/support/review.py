"""Reading what the code-review formats write as GitHub and code scanning read it: a workflow command
line as the runner parses and unescapes it (actions/runner, ActionCommand.TryParseV2), a SARIF log
against the official 2.1.0 schema (tests/data, from oasis-tcs/sarif-spec)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema

SCHEMA = Path(__file__).resolve().parent.parent / "data" / "sarif-schema-2.1.0.json"


#: The runner's unescaping, in its order (%25 last).
DATA_ESCAPES = (("%0D", "\r"), ("%0A", "\n"), ("%25", "%"))
PROPERTY_ESCAPES = (("%0D", "\r"), ("%0A", "\n"), ("%3A", ":"), ("%2C", ","), ("%25", "%"))


def _unescape(text: str, escapes) -> str:
    for escaped, char in escapes:
        text = text.replace(escaped, char)
    return text


def parse(line: str) -> tuple[str, dict[str, str], str] | None:
    """(command, properties, message) as the runner reads a line of a step's output; None if no command."""
    line = line.lstrip()
    if not line.startswith("::") or (end := line.find("::", 2)) < 0:
        return None
    info = line[2:end]
    name, _, props = info.partition(" ")
    properties = {}
    for pair in props.strip().split(","):
        key, equals, value = pair.partition("=")
        if pair and equals and key and value:
            properties[key] = _unescape(value, PROPERTY_ESCAPES)
    return name, properties, _unescape(line[end + 2:], DATA_ESCAPES)


def commands(stdout: str) -> list[tuple[str, dict[str, str], str]]:
    """Every line of the output read as a command: each line must be one."""
    parsed = [parse(line) for line in stdout.splitlines()]
    assert None not in parsed, stdout
    return parsed  # type: ignore[return-value]


def sarif_validator() -> jsonschema.Draft7Validator:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)
