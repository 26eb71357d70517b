"""What every route shares: the model, the engine, the settings and the metrics."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request

from roots.serve.backend import LoadedModel
from roots.serve.config import ServeConfig
from roots.serve.engine import Engine
from roots.serve.metrics import Metrics
from roots.serve.structured import Grammars


@dataclass
class State:
    model: LoadedModel
    engine: Engine
    config: ServeConfig
    metrics: Metrics = field(default_factory=Metrics)
    embed_lock: threading.Lock = field(default_factory=threading.Lock)
    grammars: Grammars = field(init=False)

    def __post_init__(self) -> None:
        codec = self.model.codec
        self.grammars = Grammars(codec.tokenizer.to_str(), self.engine.vocab_size, tuple(codec.eos_token_ids))

    @property
    def name(self) -> str:
        return self.config.served_name or self.model.name


def get_state(request: Request) -> State:
    """FastAPI dependency: the app's State."""
    return request.app.state.roots


AppState = Annotated[State, Depends(get_state)]  # a route parameter `state: AppState` receives it
