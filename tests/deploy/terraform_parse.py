"""terraform/ read with python-hcl2, for the deployment tests.

python-hcl2 keeps a string literal in its quotes ('"production"') and an expression as
'${...}'; `literal` tells them apart.  Blocks come as lists of dicts.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import hcl2

REPO = Path(__file__).resolve().parents[2]
TERRAFORM = REPO / "terraform"


def tf_files() -> list[Path]:
    return sorted(TERRAFORM.rglob("*.tf"))


@cache
def parsed(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as file:
        return hcl2.load(file)


def unquote(label: str) -> str:
    return label[1:-1] if len(label) >= 2 and label[0] == label[-1] == '"' else label


def literal(value: Any) -> Any:
    """The value of a literal (string without its quotes, number, bool); None for an expression."""
    if isinstance(value, str):
        if value.startswith('"') and value.endswith('"') and "${" not in value:
            return value[1:-1]
        return None
    return value


def text(value: Any) -> Any:
    """A quoted string's inside, template strings ("${x}/y") included; anything else as it is."""
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def resources(kind: str) -> dict[str, dict[str, Any]]:
    """Every `resource "<kind>" "<name>"` in terraform/, by name."""
    found: dict[str, dict[str, Any]] = {}
    for path in tf_files():
        for block in parsed(path).get("resource", []):
            for label, named in block.items():
                if unquote(label) == kind:
                    for name, body in named.items():
                        found[unquote(name)] = body
    return found


def all_resources() -> list[tuple[str, str, dict[str, Any]]]:
    out = []
    for path in tf_files():
        for block in parsed(path).get("resource", []):
            for label, named in block.items():
                for name, body in named.items():
                    out.append((unquote(label), unquote(name), body))
    return out


def locals_() -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for path in tf_files():
        for block in parsed(path).get("locals", []):
            merged.update(block)
    return merged


def variables() -> dict[str, dict[str, Any]]:
    merged: dict[str, dict[str, Any]] = {}
    for path in tf_files():
        for block in parsed(path).get("variable", []):
            for name, body in block.items():
                merged[unquote(name)] = body
    return merged


def outputs() -> dict[str, dict[str, Any]]:
    merged: dict[str, dict[str, Any]] = {}
    for path in tf_files():
        for block in parsed(path).get("output", []):
            for name, body in block.items():
                merged[unquote(name)] = body
    return merged


def one(blocks: Any) -> dict[str, Any]:
    assert isinstance(blocks, list) and len(blocks) == 1, blocks
    return blocks[0]


def containers(resource_body: dict[str, Any]) -> list[dict[str, Any]]:
    """The containers of a Cloud Run service or worker pool (template) or job (template.template)."""
    template = one(resource_body["template"])
    if "template" in template:  # a job: execution template -> task template
        template = one(template["template"])
    return template["containers"]


def template_of(resource_body: dict[str, Any]) -> dict[str, Any]:
    template = one(resource_body["template"])
    return one(template["template"]) if "template" in template else template


def static_env(container: dict[str, Any]) -> dict[str, Any]:
    """name -> raw value of each literal `env` block (dynamic ones are listed apart)."""
    env: dict[str, Any] = {}
    for block in container.get("env", []):
        name = literal(block["name"])
        assert name is not None, f"env name must be a literal: {block}"
        assert name not in env, f"{name} set twice"
        env[name] = block.get("value")
    return env
