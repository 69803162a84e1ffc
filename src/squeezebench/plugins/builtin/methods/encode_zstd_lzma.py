"""``encode.zstd`` and ``encode.lzma``: lossless byte encodings of the shipped artifact.

These steps leave the model untouched; each appends an :class:`Encoder` to the context.
The harness serializes the final artifact (after every step of the pipeline, wherever the
``encode.*`` step stands in it) exactly as the backend ships it, passes those bytes through
the encoders in pipeline order (``[encode.zstd, encode.lzma]`` gives
``lzma(zstd(artifact))``) and records the length as ``encoded_bytes``, next to the
unencoded ``artifact_bytes``. Put ``encode.*`` last, as the last stage of Deep Compression
(prune, cluster or quantize, encode), to read the pipeline as it runs; a step placed after
it still changes what is encoded, because encoding always applies to the final bytes.

Both encodings are standard containers: a zstd frame (content size recorded, readable by
``zstd -d``) and an ``.xz`` stream (``xz -d``). Decoding gives back the artifact bytes exactly.
"""

from __future__ import annotations

import functools
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from squeezebench.plugins.contracts import Encoder, Method, MethodContext
from squeezebench.plugins.markers import hookimpl


class ZstdParams(BaseModel):
    """Parameters of ``encode.zstd``."""

    model_config = ConfigDict(extra="forbid")

    level: int = Field(19, ge=1, le=22, description="zstd compression level (1 fast .. 22 best).")


class LzmaParams(BaseModel):
    """Parameters of ``encode.lzma``."""

    model_config = ConfigDict(extra="forbid")

    preset: int = Field(6, ge=0, le=9, description="xz/lzma preset (0 fast .. 9 best).")
    extreme: bool = Field(
        False, description="Add lzma.PRESET_EXTREME: slower, sometimes a little smaller."
    )


def zstd_encode(payload: bytes, level: int) -> bytes:
    """``payload`` as one zstd frame (with its content size) at ``level``."""
    import zstandard

    return zstandard.ZstdCompressor(level=level, write_content_size=True).compress(payload)


def zstd_decode(encoded: bytes) -> bytes:
    """The bytes of a frame made by :func:`zstd_encode`."""
    import zstandard

    return zstandard.ZstdDecompressor().decompress(encoded)


def lzma_encode(payload: bytes, preset: int) -> bytes:
    """``payload`` as an ``.xz`` stream with ``preset`` (flags included)."""
    import lzma

    return lzma.compress(payload, format=lzma.FORMAT_XZ, preset=preset)


def lzma_decode(encoded: bytes) -> bytes:
    """The bytes of a stream made by :func:`lzma_encode`."""
    import lzma

    return lzma.decompress(encoded, format=lzma.FORMAT_XZ)


class ZstdEncoding(Method):
    """Encode the final artifact bytes with zstd (recorded as encoded_bytes)."""

    name = "encode.zstd"
    Params = ZstdParams

    def apply(self, artifact: Any, params: ZstdParams, ctx: MethodContext) -> Any:
        # a partial of a module-level function: picklable, so cached artifacts keep it
        encode = functools.partial(zstd_encode, level=params.level)
        ctx.encoders.append(Encoder(f"zstd-{params.level}", encode))
        ctx.note(_added_message(f"zstd level {params.level}", ctx))
        return artifact


class LzmaEncoding(Method):
    """Encode the final artifact bytes with xz/lzma (recorded as encoded_bytes)."""

    name = "encode.lzma"
    Params = LzmaParams

    def apply(self, artifact: Any, params: LzmaParams, ctx: MethodContext) -> Any:
        import lzma

        preset = params.preset | (lzma.PRESET_EXTREME if params.extreme else 0)
        label = f"xz-{params.preset}{'e' if params.extreme else ''}"
        ctx.encoders.append(Encoder(label, functools.partial(lzma_encode, preset=preset)))
        ctx.note(
            _added_message(f"xz preset {params.preset}{' extreme' if params.extreme else ''}", ctx)
        )
        return artifact


def _added_message(what: str, ctx: MethodContext) -> str:
    chain = " -> ".join(encoder.name for encoder in ctx.encoders)
    return (
        f"the final artifact bytes will be encoded with {what} after the last step "
        f"(encoders in order: {chain})"
    )


@hookimpl
def squeezebench_register(registry: Any) -> None:
    """Register ``encode.zstd`` and ``encode.lzma``."""
    registry.add_method(ZstdEncoding)
    registry.add_method(LzmaEncoding)
