"""Did-you-mean suggestions for unknown names, shared by every error that lists choices."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def closest(word: str, choices: Iterable[object]) -> str | None:
    """Return the choice most similar to ``word``, or None when nothing is close."""
    matches = difflib.get_close_matches(word, [str(c) for c in choices], n=1, cutoff=0.6)
    return matches[0] if matches else None


def unknown_name_message(kind: str, word: str, choices: Iterable[object]) -> str:
    """Phrase an unknown-name error: what was asked, a suggestion, and every valid choice.

    Choices are listed as strings (a spec's names may be numbers), sorted.
    """
    choices = sorted(str(c) for c in choices)
    message = f"unknown {kind} {word!r}"
    suggestion = closest(word, choices)
    if suggestion is not None:
        message += f"; did you mean {suggestion!r}?"
    listed = ", ".join(choices) if choices else "(none registered)"
    return f"{message} (valid: {listed})"
