"""What a worker reports when a job fails: one line of reason, the traceback apart."""

from __future__ import annotations

from squeezebench.errors import MethodError
from squeezebench.harness.workspace import failure_result


def _raise(error: BaseException) -> BaseException:
    try:
        raise error
    except BaseException as caught:
        return caught


def test_an_unexpected_error_gives_one_line_and_keeps_its_traceback() -> None:
    error = _raise(RuntimeError("first line\nsecond line"))
    result = failure_result(error, "compressing v failed: ")
    assert result.status == "error"
    assert result.reason == "compressing v failed: RuntimeError: first line"
    assert "Traceback (most recent call last)" in result.details
    assert "second line" in result.details and "_raise" in result.details


def test_our_own_errors_need_no_traceback() -> None:
    result = failure_result(_raise(MethodError("nothing to prune")))
    assert result.reason == "squeezebench.errors.MethodError: nothing to prune"
    assert result.details is None
    long = failure_result(_raise(MethodError("line one\nline two")))
    assert long.reason.endswith("MethodError: line one")
    assert "line two" in long.details and "Traceback" not in long.details
