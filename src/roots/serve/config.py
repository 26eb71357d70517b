"""`roots serve` settings: what to load, where to listen, and the limits that keep the server safe."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from roots.common.config import ConfigError


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

    def __post_init__(self) -> None:
        if self.max_batch_size < 1 or self.max_tokens_limit < 1 or self.max_choices < 1:
            raise ConfigError("max_batch_size, max_tokens_limit and max_choices must be >= 1")
