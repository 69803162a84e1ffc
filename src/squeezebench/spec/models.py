"""The pydantic models of a spec file.

Method steps and targets are validated in two stages: here only their outer shape, then by
:mod:`squeezebench.spec.resolve` against the plugin registry, so that a third-party
method's params get exactly the checks (and error messages) of a built-in one.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from squeezebench.spec.search_models import SearchSpec

_SHORT_TARGET = re.compile(r"^(?P<backend>[A-Za-z0-9_.-]+):(?P<device>[A-Za-z0-9_:.-]+)$")
MODEL_REFERENCE = r"^[A-Za-z][A-Za-z0-9_+.-]*:.+$"
MAX_SEED = 2**63 - 1
"""Seeds are stored as int64 in results and must not be negative (numpy's generators)."""
MAX_INT32 = 2**31 - 1
"""Batch sizes are stored as int32 in results."""

# Placeholders: squeezebench.spec.schema swaps them for registry-built definitions.
STEP_PLACEHOLDER = {"$comment": "squeezebench:Step"}
TARGET_PLACEHOLDER = {"$comment": "squeezebench:Target"}
StepInput = Annotated[Any, WithJsonSchema(STEP_PLACEHOLDER)]
TargetInput = Annotated[Any, WithJsonSchema(TARGET_PLACEHOLDER)]


class StrictModel(BaseModel):
    """Base of every spec model: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid")


class ContentionSpec(StrictModel):
    """What counts as contention while timing, and what to do about it."""

    threshold: float = Field(
        0.25,
        ge=0,
        allow_inf_nan=False,
        description="A timing window is contended when other processes (or the hypervisor) "
        "used more than this many cores' worth of CPU on the cores we run on, or when another "
        "process runs on the GPU being timed.",
    )
    on_contention: Literal["retry", "warn", "fail"] = Field(
        "retry",
        description="retry: wait and time the window again, up to `retries` times, then keep "
        "the row marked contended; warn: keep the first measurement, marked contended; fail: "
        "record the job as an error.",
    )
    retries: int = Field(
        3,
        ge=0,
        description="Contended windows re-measured at most, per timing round (retry): a "
        "machine that stays busy costs a bounded time, then its rows are marked.",
    )
    wait_seconds: float = Field(
        1.0,
        ge=0,
        le=3600,
        allow_inf_nan=False,
        description="Pause before re-measuring a contended window.",
    )


class BenchmarkSpec(StrictModel):
    """How latency is measured."""

    batch_sizes: list[Annotated[int, Field(ge=1, le=MAX_INT32)]] = Field(
        default=[1], min_length=1, description="Batch sizes to time, each a separate row."
    )
    warmup_seconds: float = Field(
        0.2, ge=0, allow_inf_nan=False, description="Untimed runs for at least this long."
    )
    min_repeats: int = Field(20, ge=1, description="Timed runs: at least this many ...")
    min_seconds: float = Field(
        0.5, ge=0, allow_inf_nan=False, description="... and for at least this long."
    )
    rounds: int = Field(
        3,
        ge=1,
        le=100,
        description="Independent timing rounds per job and batch size, each in a fresh worker "
        "process (re-warmed in this process with --inline), interleaved across jobs. The "
        "reported p50 is the median of the rounds' medians; spread and compare rest on them.",
    )
    noise_threshold: float = Field(
        0.1,
        gt=0,
        allow_inf_nan=False,
        description="Rows whose spread (range of the rounds' medians / p50; IQR/median with "
        "one round) exceeds this are flagged noisy; drift above it marks a target's rows.",
    )
    contention: ContentionSpec = Field(default_factory=ContentionSpec)
    drift_check: bool = Field(
        True,
        description="Time each target's baseline again at the end of the run and record how "
        "much the machine's speed changed.",
    )
    timeout_seconds: float | None = Field(
        1800,
        gt=0,
        allow_inf_nan=False,
        description="A job (compression and measurement) taking longer is stopped "
        "and recorded as an error; null for no limit. Needs worker isolation (not --inline).",
    )
    memory_limit_mb: int | None = Field(
        None,
        ge=256,
        le=(2**63 - 1) >> 20,  # RLIMIT_AS takes bytes in a signed 64-bit value
        description="Cap each job's worker address space (RLIMIT_AS), in MiB; "
        "a job exceeding it fails alone. torch alone reserves about 1.2 GiB.",
    )


class CompareSpec(StrictModel):
    """Defaults of `squeezebench compare` for runs of this spec (command-line flags win)."""

    threshold: float = Field(
        0.10,
        ge=0,
        allow_inf_nan=False,
        description="Relative change of latency judged a regression (0.1 = 10%).",
    )
    alpha: float = Field(
        0.05, gt=0, lt=1, description="Significance level of the test on per-round medians."
    )
    thresholds: dict[str, float] = Field(
        default_factory=dict,
        description="Per-metric thresholds, e.g. {artifact_bytes: 0.02, accuracy: 0.005}.",
    )


class OutputSpec(StrictModel):
    """Where results are written."""

    dir: str = Field("results", description="Results folder, relative to the working directory.")


TIMING_RESOURCE = "squeezebench_timing"
"""The custom Ray resource a node declares (``ray start --resources='{"squeezebench_timing":
1}'``) to take timed work: one at a time per node (see docs/distributed.md)."""


class TargetResources(BaseModel):
    """What a node needs to run a target's jobs on a cluster (``--executor ray``).

    Any other key is a custom resource a node declares when it joins (``{jetson-orin: 1}``).
    Ignored by the local executor: a machine runs what it can and skips the rest.
    """

    model_config = ConfigDict(extra="allow")

    accelerator_type: str | None = Field(
        None,
        description="Ray accelerator type a node must have, e.g. 'H100' or 'A10G' (Ray "
        "detects it on GPU nodes; `ray start --resources` can declare others).",
    )
    num_gpus: float | None = Field(
        None,
        gt=0,
        allow_inf_nan=False,
        description="GPUs each job holds; defaults to 1 for cuda targets, 0 otherwise.",
    )
    num_cpus: float | None = Field(
        None,
        gt=0,
        allow_inf_nan=False,
        description="CPUs an untimed task (compression, accuracy) holds; default 1. A timed "
        "task holds all of its node's CPUs.",
    )

    @model_validator(mode="after")
    def _custom_resources_are_amounts(self) -> TargetResources:
        for name, amount in (self.model_extra or {}).items():
            if name == TIMING_RESOURCE:
                raise ValueError(
                    f"{TIMING_RESOURCE} is squeezebench's own timing slot, not a resource a "
                    "target asks for: every timed job holds it"
                )
            known = ("accelerator_type", "num_gpus", "num_cpus")
            if isinstance(amount, bool) or not isinstance(amount, int | float) or amount <= 0:
                from squeezebench.suggest import closest

                hint = closest(name, known)
                what = f"; did you mean {hint!r}?" if hint else ""
                raise ValueError(
                    f"custom resource {name!r} must be a positive amount, got {amount!r}{what}"
                )
        return self

    @property
    def custom(self) -> dict[str, float]:
        """The custom resources (every key but the named ones)."""
        return {name: float(amount) for name, amount in (self.model_extra or {}).items()}


class TargetSpec(StrictModel):
    """A backend, a device and the backend's options. Short form: ``"torch:cpu"``."""

    backend: str = Field(description="Registered backend name, e.g. 'torch'.")
    device: str = Field("cpu", description="Device of the backend, e.g. 'cpu' or 'cuda:0'.")
    options: dict[str, Any] = Field(default_factory=dict, description="Backend options.")
    name: str | None = Field(None, description="Label in results; defaults to backend:device.")
    if_unavailable: Literal["skip", "fail"] = Field(
        "skip",
        description="When the target cannot run on this machine (a missing package, no such "
        "device or execution provider): 'skip' records its jobs as skipped with the reason, "
        "'fail' records them as errors, so the run exits with the job-error code.",
    )
    resources: TargetResources | None = Field(
        None,
        description="On a cluster (--executor ray): what a node needs to run this target, "
        "e.g. {accelerator_type: H100} or {jetson-orin: 1}; see docs/distributed.md.",
    )

    @model_validator(mode="before")
    @classmethod
    def _expand_short_form(cls, value: Any) -> Any:
        if isinstance(value, str):
            match = _SHORT_TARGET.match(value)
            if match is None:
                raise ValueError(f"expected 'backend:device' such as 'torch:cpu', got {value!r}")
            return match.groupdict()
        return value

    @property
    def label(self) -> str:
        """The target's name in tables and results."""
        return self.name or f"{self.backend}:{self.device}"


class ExecutionSpec(StrictModel):
    """Where the jobs run: this machine, or a Ray cluster (`squeezebench run` flags win)."""

    executor: Literal["local", "ray"] = Field(
        "local",
        description="local: one job at a time on this machine; ray: jobs run on the nodes of "
        "a Ray cluster that have each target's resources (pip install 'squeezebench[ray]').",
    )
    address: str | None = Field(
        None,
        description="Ray cluster to join: 'auto' (the one `ray start` runs here) or "
        "'ray://host:10001'; null starts a local Ray instance for the run.",
    )
    artifact_dir: str | None = Field(
        None,
        description="A folder every node sees (NFS...) that holds compressed artifacts; "
        "without it they travel through Ray's object store.",
    )
    share_artifacts: bool = Field(
        True,
        description="Compress each variant once and hand the artifact to every node; false: "
        "every task compresses for itself (a method whose result depends on the host).",
    )
    max_task_retries: int = Field(
        2,
        ge=0,
        le=10,
        description="How often a task lost to an infrastructure failure (a node or worker "
        "died) runs again; a job that fails by itself is an error row at once.",
    )


class Spec(StrictModel):
    """A squeezebench spec: one model, the pipelines to try and where to run them."""

    name: str = Field(description="Name of this benchmark; stored with every result row.")
    seed: int | list[int] = Field(
        0,
        description="Seed of every stochastic step (methods, sampling). A list runs each "
        "stochastic pipeline once per seed (deterministic ones once, with the first seed).",
    )

    @field_validator("seed", mode="before")
    @classmethod
    def _one_message_for_bad_seeds(cls, value: Any) -> Any:
        # one clear error instead of one per member of the int | list[int] union
        is_int = isinstance(value, int) and not isinstance(value, bool)
        is_list = isinstance(value, list) and all(
            isinstance(v, int) and not isinstance(v, bool) for v in value
        )
        if not (is_int or (is_list and value)):
            raise ValueError(
                f"seed must be an integer or a non-empty list of integers, got {value!r}"
            )
        for seed in value if is_list else [value]:
            if not 0 <= seed <= MAX_SEED:
                raise ValueError(
                    f"seed {seed} is out of range: seeds go from 0 to 2**63 - 1 ({MAX_SEED}), "
                    "the range results store and every random generator accepts"
                )
        return value

    @property
    def seeds(self) -> list[int]:
        """The seeds as a non-empty list, in spec order, without repeats."""
        values = self.seed if isinstance(self.seed, list) else [self.seed]
        return list(dict.fromkeys(values)) or [0]

    model: str = Field(
        # checked by spec.resolve, which can say what is missing and suggest the reference
        json_schema_extra={"pattern": MODEL_REFERENCE},
        description="Model source: builtin:<name>, python:<module>:<factory> or file:<path>.",
    )
    dataset: str | None = Field(
        None, description="Registered dataset (e.g. builtin:digits); needed for accuracy."
    )
    variants: dict[str, list[StepInput]] = Field(
        default_factory=dict,
        description="Named pipelines: ordered lists of method steps. 'baseline' is implicit.",
    )
    sweep: dict[str, dict[str, list[Any]]] = Field(
        default_factory=dict,
        description=(
            "Grid per variant: {variant: {'<method>.<param>': [values]}}; one variant is run "
            "per combination, named variant[param=value,...]."
        ),
    )
    targets: list[TargetInput] = Field(
        default_factory=lambda: ["torch:cpu"], min_length=1, description="Where to run."
    )
    search: SearchSpec | None = Field(
        None,
        description="Search a space of pipelines for the best variants under constraints "
        "(besides the listed variants); see docs/search.md.",
    )
    benchmark: BenchmarkSpec = Field(default_factory=BenchmarkSpec)
    compare: CompareSpec = Field(default_factory=CompareSpec)
    output: OutputSpec = Field(default_factory=OutputSpec)
    execution: ExecutionSpec = Field(default_factory=ExecutionSpec)
    trust_model_files: bool = Field(
        False,
        description="Allow file: models to unpickle Python objects (which can run code). "
        "Leave false unless you trust the file.",
    )
