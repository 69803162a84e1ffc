"""Spec errors: each issue knows its path and its line and column in the file."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from squeezebench.errors import UserError

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class Position:
    """A 1-based line and column in the spec file."""

    line: int
    column: int


@dataclass(frozen=True)
class SpecIssue:
    """One problem in a spec: where it is, what part of the spec it concerns, and why."""

    message: str
    path: Path = ()
    position: Position | None = None
    label: str | None = None

    def render(self, filename: str) -> str:
        """``file:line:col: label: message``, the form editors and CI logs can jump to."""
        where = filename
        if self.position is not None:
            where += f":{self.position.line}:{self.position.column}"
        label = message_line(self.label if self.label is not None else render_path(self.path))
        message = message_line(self.message)
        return f"{where}: {label}: {message}" if label else f"{where}: {message}"


def message_line(message: str) -> str:
    """Keep each issue on one line (keys, hence labels, may hold line breaks too)."""
    return " ".join(message.split())


def render_path(path: Path) -> str:
    """``("variants", "pruned", 0)`` -> ``variants.pruned[0]``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


class SpecError(UserError):
    """A spec failed to load or validate; carries every issue found, in file order."""

    def __init__(self, filename: str, issues: Sequence[SpecIssue]) -> None:
        self.filename = filename
        self.issues = sorted(
            issues,
            key=lambda i: (i.position.line, i.position.column) if i.position else (0, 0),
        )
        super().__init__(self.render())

    def render(self) -> str:
        """All issues, one per line."""
        return "\n".join(issue.render(self.filename) for issue in self.issues)
