"""The versioned Arrow schema of result rows.

One row per job and batch size. The version travels in every file (a ``schema_version``
column and the ``squeezebench.schema_version`` file metadata). Later versions only ever add
nullable columns, so older files can be read by padding the new columns with nulls.
"""

from __future__ import annotations

import pyarrow as pa

SCHEMA_VERSION = 3
METADATA_KEY = b"squeezebench.schema_version"

_COLUMNS: list[tuple[str, pa.DataType, str]] = [
    # identity
    ("schema_version", pa.int32(), "version of this schema"),
    ("run_id", pa.string(), "one invocation of `squeezebench run`"),
    ("spec_name", pa.string(), "the spec's `name`"),
    ("spec_hash", pa.string(), "hash of the validated spec"),
    ("job_id", pa.string(), "hash of model, dataset, pipeline, target and seed"),
    ("model", pa.string(), "model source reference"),
    ("dataset", pa.string(), "dataset name, null without one"),
    ("variant", pa.string(), "variant name ('baseline' for the unmodified model)"),
    ("steps", pa.string(), "the pipeline as JSON: [{method, params}]"),
    ("target", pa.string(), "target label, e.g. torch:cpu"),
    ("backend", pa.string(), "backend name"),
    ("device", pa.string(), "device name"),
    ("target_options", pa.string(), "backend options as JSON (defaults filled in)"),
    ("batch_size", pa.int32(), "batch size of the latency measurement"),
    ("seed", pa.int64(), "seed of the run"),
    ("started_at", pa.timestamp("us", tz="UTC"), "when the job started"),
    # search (null outside a search's trials)
    ("search_id", pa.string(), "hash of the spec's search section, null outside a search"),
    ("trial", pa.int32(), "trial number in the search's study, null outside a search"),
    ("trial_params", pa.string(), "the trial's pipeline and searched params, as JSON"),
    ("trial_feasible", pa.bool_(), "the trial met every constraint of the search"),
    # status
    ("status", pa.string(), "ok, skipped or error"),
    ("reason", pa.string(), "why the job was skipped or failed"),
    ("simulated", pa.bool_(), "true if a method only simulates compression"),
    # size
    ("params", pa.int64(), "parameter count (weights of quantized layers included)"),
    ("nonzero_params", pa.int64(), "parameters that are not zero"),
    ("artifact_bytes", pa.int64(), "bytes of the deployable artifact on this target"),
    ("encoded_bytes", pa.int64(), "artifact bytes after the encode.* steps (null without)"),
    ("sparse_bytes", pa.int64(), "tensor bytes as bitmask + nonzero values (an estimate)"),
    ("compression_ratio", pa.float64(), "baseline artifact_bytes / artifact_bytes"),
    # quality
    ("metric", pa.string(), "accuracy metric, e.g. top1"),
    ("accuracy", pa.float64(), "accuracy on the test split, on this target"),
    ("accuracy_delta", pa.float64(), "accuracy minus the baseline's on this target"),
    ("fidelity", pa.float64(), "share of test predictions equal to the baseline's"),
    ("embedding_cosine", pa.float64(), "mean cosine similarity to the baseline's embeddings"),
    (
        "retrieval_agreement",
        pa.float64(),
        "share of nearest-neighbour lookups equal to the baseline's",
    ),
    # work
    ("flops_per_sample", pa.int64(), "FLOPs of one sample's forward pass"),
    ("nonzero_flops_per_sample", pa.int64(), "FLOPs that multiply nonzero weights"),
    ("theoretical_speedup", pa.float64(), "baseline flops_per_sample / nonzero_flops_per_sample"),
    # latency
    ("latency_p50_ms", pa.float64(), "median latency of one batch, ms"),
    ("latency_p90_ms", pa.float64(), "90th percentile, ms"),
    ("latency_p99_ms", pa.float64(), "99th percentile, ms"),
    ("latency_mean_ms", pa.float64(), "mean, ms"),
    ("latency_std_ms", pa.float64(), "standard deviation, ms"),
    ("latency_iqr_ms", pa.float64(), "interquartile range, ms"),
    ("latency_spread", pa.float64(), "IQR / median"),
    ("noisy", pa.bool_(), "latency_spread above the spec's noise_threshold"),
    ("repeats", pa.int64(), "timed repetitions"),
    ("latency_samples_ms", pa.list_(pa.float64()), "every timed repetition, ms"),
    ("rounds", pa.int32(), "independent timing rounds (fresh worker processes) measured"),
    ("latency_round_p50_ms", pa.list_(pa.float64()), "median latency of each round, ms"),
    (
        "latency_round_repeats",
        pa.list_(pa.int32()),
        "samples each round contributed to latency_samples_ms, in order",
    ),
    ("latency_p50_low_ms", pa.float64(), "lowest per-round median, ms"),
    ("latency_p50_high_ms", pa.float64(), "highest per-round median, ms"),
    ("throughput_per_s", pa.float64(), "samples per second at the median latency"),
    ("speedup", pa.float64(), "baseline latency_p50_ms / latency_p50_ms"),
    ("peak_memory_bytes", pa.int64(), "peak resident-memory growth while running"),
    # measurement conditions
    ("contended", pa.bool_(), "a timing window saw other processes busy on our cores or GPU"),
    ("other_cpu_cores", pa.float64(), "most CPU used by other processes on our cores, in cores"),
    (
        "steal_cores",
        pa.float64(),
        "most CPU time stolen by the hypervisor from our cores, in cores",
    ),
    (
        "cpu_cores_available",
        pa.int32(),
        "cores this process may use (affinity mask, capped by a cgroup CPU quota)",
    ),
    ("contention_retries", pa.int32(), "timing windows measured again because of contention"),
    ("gpu_other_processes", pa.int32(), "most other processes seen on the GPU while timing"),
    ("gpu_throttle", pa.string(), "GPU clock throttle reasons seen while timing"),
    ("drift", pa.float64(), "change of the target's baseline latency from start to end of the run"),
    ("drifted", pa.bool_(), "abs(drift) above the spec's noise_threshold"),
    ("conditions", pa.string(), "measurement conditions that did not hold, '; '-separated"),
    # energy
    ("energy_source", pa.string(), "counter read for energy (rapl:..., nvml:...), null without"),
    ("energy_reason", pa.string(), "why no energy was measured"),
    ("energy_j_per_batch", pa.float64(), "joules per call of one batch, over the timed windows"),
    ("energy_j_per_sample", pa.float64(), "energy_j_per_batch / batch_size"),
    ("compress_seconds", pa.float64(), "wall time of the pipeline's methods"),
    ("artifact_format", pa.string(), "format the target ran (torch.module, onnx...)"),
    ("conversions", pa.string(), "converters the harness inserted, e.g. torch-to-onnx"),
    ("convert_seconds", pa.float64(), "wall time of the inserted conversions"),
    ("prepare_seconds", pa.float64(), "backend preparation: session, compile or engine build"),
    ("method_log", pa.string(), "JSON list of what each method reported changing"),
    ("runtime_notes", pa.string(), "JSON list of what the runtime chose at this batch size"),
    # environment
    ("threads", pa.int32(), "intra-op threads used"),
    ("hostname", pa.string(), "host that measured the row"),
    ("cpu_model", pa.string(), "CPU model of that host"),
    ("gpu_name", pa.string(), "GPU of that host used by the target, null on CPU targets"),
    ("torch_version", pa.string(), "torch.__version__"),
    ("squeezebench_version", pa.string(), "squeezebench version"),
    ("git_sha", pa.string(), "commit of the working directory, if a git repository"),
]

COLUMN_DOCS: dict[str, str] = {name: doc for name, _, doc in _COLUMNS}


def arrow_schema() -> pa.Schema:
    """The Arrow schema of the current version, with the version in its metadata."""
    fields = [pa.field(name, kind, nullable=True) for name, kind, _ in _COLUMNS]
    return pa.schema(fields, metadata={METADATA_KEY: str(SCHEMA_VERSION).encode()})


def column_names() -> list[str]:
    """Column names in schema order."""
    return [name for name, _, _ in _COLUMNS]
