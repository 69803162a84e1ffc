"""The contracts' own behaviour (the data classes plugins receive)."""

from __future__ import annotations

from squeezebench.plugins import MethodContext


def test_note_prefixes_the_running_step_once() -> None:
    # issue 12, bug 7: authors who wrote the method name got it twice
    ctx = MethodContext(seed=0, current_step="example.halve")
    ctx.note("halved 3 layers")
    ctx.note("example.halve: halved 2 more")
    ctx.note("example.halve halved the bias too")
    assert ctx.notes == [
        "example.halve: halved 3 layers",
        "example.halve: halved 2 more",
        "example.halve halved the bias too",
    ]


def test_note_does_not_treat_a_longer_name_as_the_prefix() -> None:
    ctx = MethodContext(seed=0, current_step="prune.n")
    ctx.note("prune.n_m is not me")
    assert ctx.notes == ["prune.n: prune.n_m is not me"]


def test_note_outside_a_step_is_kept_as_is() -> None:
    ctx = MethodContext(seed=0)
    ctx.note("no step running")
    assert ctx.notes == ["no step running"]
