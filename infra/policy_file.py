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


class PolicyFileCache:
    """The policy file as it is on disk now, re-read only when its mtime changes: for the
    worker's outcome and metrics code, which look at it on every close or delivery."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._cached: tuple[float, PolicyFile] | None = None

    def get(self) -> PolicyFile:
        """The policies, or `PolicyConfigError` / `OSError` if the file is bad or gone."""
        mtime = self._path.stat().st_mtime
        if self._cached is None or self._cached[0] != mtime:
            self._cached = (mtime, load_policies(self._path))
        return self._cached[1]
