"""`roots serve` settings: what to load, where to listen, and the limits that keep the server safe."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from roots.common.config import ConfigError

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")


def _help(default, text: str):
    return field(default=default, metadata={"help": text})


@dataclass
class ServeConfig:
    """Serve a model over an OpenAI-compatible HTTP API with a playground page at `/`."""

    model: str = _help("", "a roots run or checkpoint folder, or a Hugging Face directory (`roots export`)")
    served_name: str = _help("", "the id clients pass as `model`; default: the folder name")
    host: str = _help("127.0.0.1", "loopback only by default; 0.0.0.0 exposes the server to the network")
    port: int = 8000
    api_key: str = _help("", "require `Authorization: Bearer KEY` on /v1/*; default: $ROOTS_API_KEY")
    device: str = "cpu"
    dtype: Literal["float32", "bfloat16", "float16"] = "float32"
    max_batch_size: int = _help(16, "rows of the KV cache: sequences decoded together")
    max_seq_len: int = _help(0, "columns of the KV cache (prompt + output); 0 = the model's context")
    max_prefill_tokens: int = _help(4096, "padded prompt tokens prefilled together in one step")
    max_request_bytes: int = _help(1_000_000, "larger request bodies get 413")
    max_tokens_limit: int = _help(4096, "the largest `max_tokens` a request may ask for")
    max_choices: int = _help(16, "prompts x n per request")
    max_embedding_inputs: int = _help(256, "inputs per /v1/embeddings request")
    drain_seconds: float = _help(10.0, "on shutdown, in-flight requests get this long, then are cancelled")
    allowed_hosts: list[str] = field(default_factory=list, metadata={"help": (
        "Host header names accepted ('*' = any); default: localhost, 127.0.0.1 and ::1 when bound to "
        "loopback (no DNS rebinding from a web page), any otherwise")})
    max_connections: int = _help(1024, "open connections over this get 503 (uvicorn limit_concurrency)")
    keep_alive_seconds: float = _help(5.0, "an idle keep-alive connection is closed after this long")
    header_seconds: float = _help(10.0, "a connection that has not sent its request headers in this long is "
                                        "closed (slow or idle clients cannot hold connections)")

    @property
    def loopback(self) -> bool:
        return self.host in LOOPBACK_NAMES

    def hosts(self) -> list[str]:
        """The Host header names to accept; [] accepts any."""
        if self.allowed_hosts:
            return [] if "*" in self.allowed_hosts else list(self.allowed_hosts)
        return list(LOOPBACK_NAMES) if self.loopback else []

    def __post_init__(self) -> None:
        if self.max_batch_size < 1 or self.max_tokens_limit < 1 or self.max_choices < 1:
            raise ConfigError("max_batch_size, max_tokens_limit and max_choices must be >= 1")
        if self.max_connections < 1 or self.keep_alive_seconds <= 0 or self.header_seconds <= 0:
            raise ConfigError("max_connections, keep_alive_seconds and header_seconds must be > 0")
