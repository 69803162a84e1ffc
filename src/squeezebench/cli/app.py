"""Command definitions. Each command imports what it needs when it runs, so that
``squeezebench --help`` never imports torch."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from squeezebench._version import __version__
from squeezebench.cli import builtin_model_commands, inspect_command, report_commands
from squeezebench.cli.exit_codes import ExitCode
from squeezebench.cli.failure import fail
from squeezebench.errors import UserError

app = typer.Typer(
    name="squeezebench",
    help="Compress a model several ways and benchmark every variant on every target.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

SpecArgument = Annotated[Path, typer.Argument(help="Spec file (YAML or JSON).", show_default=False)]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"squeezebench {__version__}")
        raise typer.Exit()


@app.callback()
def main_callback(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """squeezebench: how small, how fast and how accurate can this model be on that hardware?"""


@app.command()
def run(
    spec: SpecArgument,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Results folder (overrides the spec).")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    resume: Annotated[
        bool,
        typer.Option(
            help="Continue the latest run of this spec in the output folder, "
            "skipping jobs that already have results."
        ),
    ] = False,
    retry_errors: Annotated[
        bool, typer.Option(help="With --resume, run again the jobs that failed.")
    ] = False,
    inline: Annotated[
        bool,
        typer.Option(help="Run every job in this process (debugging): no isolation, no timeouts."),
    ] = False,
    cache_artifacts: Annotated[
        bool,
        typer.Option(
            help="Keep compressed artifacts in the user cache across runs "
            "(pickled files: the cache folder must be trusted)."
        ),
    ] = False,
    max_jobs: Annotated[
        int, typer.Option(help="Refuse specs that expand to more jobs than this.")
    ] = 500,
    repeat_check: Annotated[
        bool,
        typer.Option(
            help="Run the spec twice and fail (exit 3) unless size, accuracy and "
            "fidelity are identical; report the latency drift."
        ),
    ] = False,
    executor: Annotated[
        str | None,
        typer.Option(
            help="Where jobs run: local (one at a time here) or ray (the nodes of a Ray "
            "cluster with each target's hardware; overrides the spec's execution)."
        ),
    ] = None,
    address: Annotated[
        str | None,
        typer.Option(
            help="Ray cluster to join (auto, or ray://host:10001; implies --executor ray); "
            "without it --executor ray starts a local Ray instance for the run."
        ),
    ] = None,
) -> None:
    """Compress, run and measure every variant on every target; write Parquet results."""
    from squeezebench.cli.console import console
    from squeezebench.cli.reporting import ProgressReporter, summary_table
    from squeezebench.cli.search_output import print_search, table_rows
    from squeezebench.harness.run import run_spec
    from squeezebench.plugins.manager import default_manager, default_registry, plugin_infos
    from squeezebench.spec.load import load_spec

    try:
        registry = default_registry()
        resolved = load_spec(spec, registry)
        execution = _execution(resolved.spec.execution, executor, address)
        if inline and execution.executor == "ray":
            raise UserError("--inline runs every job in this process: not with --executor ray")
    except UserError as error:
        fail(error)
    from squeezebench.harness.shutdown import stop_on_signals
    from squeezebench.results.storage import ResultsWriteError

    plugins = [vars(info) for info in plugin_infos(default_manager())]
    reporter = ProgressReporter(console(), enabled=not quiet)
    try:
        with stop_on_signals():  # SIGTERM and SIGHUP stop the run like Ctrl-C
            with reporter:
                outcome = run_spec(
                    resolved,
                    registry,
                    output,
                    reporter=reporter,
                    plugins=plugins,
                    isolate=not inline,
                    resume=resume,
                    retry_errors=retry_errors,
                    cache_artifacts=cache_artifacts,
                    max_jobs=max_jobs,
                    execution=execution,
                )
            console().print(summary_table(table_rows(outcome), resolved.spec.name))
            if repeat_check:
                _repeat_check(resolved, registry, output, plugins, inline, outcome, execution)
    except ResultsWriteError as error:
        fail(
            UserError(f"{error}; finished jobs are saved: make room, then continue with --resume"),
            ExitCode.WRITE_FAILED,
        )
    except UserError as error:
        fail(error)
    except KeyboardInterrupt as stop:
        _interrupted(stop)
    if outcome.resumed_jobs:
        console().print(f"resumed: {outcome.resumed_jobs} job(s) kept from the earlier run")
    console().print(f"results: {outcome.directory}", highlight=False)
    if outcome.search is not None:
        print_search(console(), outcome)
    if outcome.failed_jobs:
        console().print(f"[red]{outcome.failed_jobs} job(s) failed[/]: see the reason column")
        raise typer.Exit(ExitCode.JOB_ERRORS)
    if outcome.search is not None and not outcome.search.answer.found:
        raise typer.Exit(ExitCode.NO_FEASIBLE)


def _interrupted(stop: KeyboardInterrupt) -> NoReturn:
    """Say how the run stopped, and exit with 128 + the signal's number (130 for Ctrl-C)."""
    from squeezebench.cli.console import console
    from squeezebench.harness.shutdown import interrupted_exit_code, stop_signal_name

    name = stop_signal_name(stop)
    how = "interrupted" if name == "SIGINT" else f"stopped by {name}"
    console().print(f"[yellow]{how}[/]: finished jobs are saved; continue with --resume")
    raise typer.Exit(interrupted_exit_code(stop)) from None


def _execution(spec_execution: Any, executor: str | None, address: str | None) -> Any:
    """The spec's execution settings with the command line's on top."""
    if executor not in (None, "local", "ray"):
        raise UserError(f"--executor must be local or ray, got {executor!r}")
    if address is not None and executor == "local":
        raise UserError("--address names a Ray cluster: it goes with --executor ray")
    update: dict[str, Any] = {}
    if executor is not None or address is not None:
        update["executor"] = executor or "ray"
    if address is not None:
        update["address"] = address
    execution = spec_execution.model_copy(update=update)
    if execution.executor == "ray":
        from squeezebench.harness.ray_connection import import_ray

        import_ray()  # a one-line error with the install hint, before any work
    return execution


def _repeat_check(
    resolved: Any,
    registry: Any,
    output: Path | None,
    plugins: list,
    inline: bool,
    first: Any,
    execution: Any = None,
) -> None:
    """Run the spec again and compare the deterministic columns with the first run."""
    from squeezebench.cli.console import console
    from squeezebench.harness.reproducibility import compare_runs
    from squeezebench.harness.run import run_spec

    console().print("repeat check: running the spec a second time...")
    second = run_spec(
        resolved, registry, output, plugins=plugins, isolate=not inline, execution=execution
    )
    report = compare_runs(first.rows, second.rows)
    console().print(report.summary(), highlight=False, markup=False)
    console().print(f"second run: {second.directory}", highlight=False)
    if not report.reproducible:
        raise typer.Exit(ExitCode.NOT_REPRODUCIBLE)


@app.command()
def validate(
    specs: Annotated[list[Path], typer.Argument(help="Spec files to check.", show_default=False)],
    deep: Annotated[
        bool,
        typer.Option(
            "--deep",
            help="Also import python: model modules and load file: models (runs their code).",
        ),
    ] = False,
) -> None:
    """Check spec files and report every problem as file:line:col (nothing is run)."""
    from squeezebench.cli.console import console, error_console
    from squeezebench.plugins.manager import default_registry
    from squeezebench.spec.load import load_spec

    try:
        registry = default_registry()
    except UserError as error:
        fail(error)
    failed = False
    for spec in specs:
        try:
            resolved = load_spec(spec, registry, deep=deep)
        except UserError as error:
            failed = True
            error_console().print(str(error), highlight=False, markup=False, soft_wrap=True)
            continue
        jobs = len(resolved.variants) * len(resolved.targets)
        search = resolved.search
        trials = (
            f"; a search of up to {search.settings.budget.trials} trials on {search.target.label}"
            if search
            else ""
        )
        console().print(
            f"{spec}: ok ({len(resolved.variants)} variants x {len(resolved.targets)} targets"
            f" = {jobs} jobs{trials})",
            highlight=False,
        )
    if failed:
        raise typer.Exit(ExitCode.USAGE_ERROR)


@app.command()
def schema(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file instead of stdout.")
    ] = None,
) -> None:
    """Print the JSON Schema of spec files, including every installed plugin's params."""
    from squeezebench.plugins.manager import default_registry
    from squeezebench.spec.schema import render_json_schema

    try:
        text = render_json_schema(default_registry())
    except UserError as error:
        fail(error)
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")


@app.command()
def plugins() -> None:
    """List registered methods, backends, model sources and datasets, and where from."""
    from squeezebench.cli.console import console
    from squeezebench.cli.reporting import plugins_table
    from squeezebench.plugins.manager import autoload_enabled, default_registry

    try:
        registry = default_registry()
    except UserError as error:
        fail(error)
    console().print(plugins_table(registry))
    if not autoload_enabled():
        console().print("third-party plugins are disabled (SQUEEZEBENCH_DISABLE_PLUGIN_AUTOLOAD)")


report_commands.register(app)
builtin_model_commands.register(app)
inspect_command.register(app)


def main() -> None:
    """Console-script entry point."""
    from squeezebench.cli.console import show_plugin_warnings_plainly

    show_plugin_warnings_plainly()
    app()
