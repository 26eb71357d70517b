"""POST /v1/embeddings: mean-pooled final hidden states."""

from __future__ import annotations

import asyncio
import base64

import torch
from fastapi import APIRouter

from roots.serve.errors import APIError
from roots.serve.schemas import EmbeddingData, EmbeddingRequest, EmbeddingResponse, EmbeddingUsage
from roots.serve.state import AppState, State
from roots.serve.validation import check_model, completion_prompts

router = APIRouter()


@router.post("/v1/embeddings", response_model=EmbeddingResponse)
async def embeddings(body: EmbeddingRequest, state: AppState) -> EmbeddingResponse:
    check_model(state, body.model)
    engine, limit = state.engine, state.config.max_embedding_inputs
    inputs = completion_prompts(state, body.input)
    if len(inputs) > limit:
        raise APIError(400, f"{len(inputs)} inputs; the limit is {limit}", param="input")
    for ids in inputs:
        if not ids or len(ids) > engine.max_seq_len or max(ids) >= engine.vocab_size:
            raise APIError(400, f"every input needs 1 to {engine.max_seq_len} tokens from the vocabulary",
                           param="input")
    vectors = await asyncio.to_thread(embed, state, inputs)
    if body.dimensions is not None:
        if body.dimensions > vectors.shape[1]:
            raise APIError(400, f"dimensions must be <= {vectors.shape[1]}", param="dimensions")
        vectors = torch.nn.functional.normalize(vectors[:, :body.dimensions], dim=-1)
    data = []
    for i, v in enumerate(vectors):
        value = (base64.b64encode(v.numpy().astype("<f4").tobytes()).decode()
                 if body.encoding_format == "base64" else v.tolist())
        data.append(EmbeddingData(index=i, embedding=value))
    n_tokens = sum(len(ids) for ids in inputs)
    return EmbeddingResponse(data=data, model=state.name,
                             usage=EmbeddingUsage(prompt_tokens=n_tokens, total_tokens=n_tokens))


def embed(state: State, inputs: list[list[int]], batch_size: int = 16) -> torch.Tensor:
    """Mean-pooled final hidden states, left-padded batches; one embedding batch at a time."""
    out = []
    with state.embed_lock:
        for start in range(0, len(inputs), batch_size):
            chunk = inputs[start:start + batch_size]
            width = max(len(ids) for ids in chunk)
            ids = torch.zeros(len(chunk), width, dtype=torch.long)
            mask = torch.zeros_like(ids)
            for i, seq in enumerate(chunk):
                ids[i, width - len(seq):] = torch.tensor(seq)
                mask[i, width - len(seq):] = 1
            device = state.engine.device
            out.append(state.model.backend.embed(ids.to(device), mask.to(device)).cpu())
    return torch.cat(out)
