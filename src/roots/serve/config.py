"""`roots serve` settings: what to load, where to listen, and the limits that keep the server safe."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass
class ServeConfig:
    """Serve a model over an OpenAI-compatible HTTP API with a playground page at `/`."""

    model: str = ""  # model directory (config.json + model.safetensors + tokenizer.json, as `roots export` writes)
    served_name: str = ""  # the id clients pass as `model`; default: the directory name
    host: str = "127.0.0.1"  # loopback only by default; 0.0.0.0 exposes the server to the network
    port: int = 8000
    api_key: str = ""  # require `Authorization: Bearer KEY` on /v1/*; default: the ROOTS_API_KEY env var
    device: str = "cpu"
    dtype: Literal["float32", "bfloat16", "float16"] = "float32"
    max_batch_size: int = 16  # rows of the KV cache: concurrent sequences
    max_seq_len: int = 0  # columns of the KV cache (prompt + output); 0 = the model's context length
    max_prefill_tokens: int = 4096  # padded prompt tokens prefilled together in one step
    max_request_bytes: int = 1_000_000  # larger request bodies get 413
    max_tokens_limit: int = 4096  # largest `max_tokens` a request may ask for
    max_choices: int = 16  # prompts x n per request
    max_embedding_inputs: int = 256
    drain_seconds: float = 10.0  # on shutdown, in-flight requests get this long to finish, then are cancelled

    def __post_init__(self) -> None:
        if self.max_batch_size < 1 or self.max_tokens_limit < 1 or self.max_choices < 1:
            raise ValueError("max_batch_size, max_tokens_limit and max_choices must be >= 1")
