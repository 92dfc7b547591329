"""Reading the policy file from disk; what it means is `domain.policies`' business."""

from __future__ import annotations

from pathlib import Path

from domain.policies import PolicyConfigError, PolicyFile, parse_policy_toml


def load_policies(path: Path) -> PolicyFile:
    """The policies in `path`, or `PolicyConfigError` naming the file and every bad field."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PolicyConfigError(f"{path}: policy file not found") from None
    return parse_policy_toml(text, source=str(path))
