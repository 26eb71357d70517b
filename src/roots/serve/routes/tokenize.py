"""vLLM's tokenizer endpoints: POST /tokenize, POST /detokenize, GET /tokenizer_info.

lm-evaluation-harness probes /tokenizer_info and, when it answers, tokenizes through the server
(`tokenizer_backend=remote`) instead of loading a tokenizer named after the served model from the hub.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from roots.serve.errors import APIError
from roots.serve.routes.chat import render_chat
from roots.serve.schemas import DetokenizeRequest, DetokenizeResponse, TokenizeRequest, TokenizeResponse
from roots.serve.state import AppState
from roots.serve.validation import check_model
from roots.tokenizer.chat import DEFAULT_CHAT_TEMPLATE

router = APIRouter()


@router.post("/tokenize", response_model=TokenizeResponse)
async def tokenize(body: TokenizeRequest, state: AppState) -> TokenizeResponse:
    check_model(state, body.model)
    codec = state.model.codec
    if body.messages is not None:
        if body.prompt is not None:
            raise APIError(400, "give either prompt or messages, not both", param="prompt")
        ids = codec.encode(render_chat(state, body.messages, body.add_generation_prompt), special=False)
    elif body.prompt is not None:
        ids = codec.encode(body.prompt, special=body.add_special_tokens)
    else:
        raise APIError(400, "give prompt (text) or messages (a chat)", param="prompt")
    strs = [codec.token_text(t) for t in ids] if body.return_token_strs else None
    return TokenizeResponse(count=len(ids), max_model_len=state.engine.max_seq_len, tokens=ids, token_strs=strs)


@router.post("/detokenize", response_model=DetokenizeResponse)
async def detokenize(body: DetokenizeRequest, state: AppState) -> DetokenizeResponse:
    check_model(state, body.model)
    vocab = state.engine.vocab_size
    if any(t >= vocab for t in body.tokens):
        raise APIError(400, f"token ids must be < the vocabulary size {vocab}", param="tokens")
    return DetokenizeResponse(prompt=state.model.codec.decode(body.tokens))


@router.get("/tokenizer_info")
async def tokenizer_info(state: AppState) -> dict[str, Any]:
    codec = state.model.codec
    return {"tokenizer_class": "PreTrainedTokenizerFast", "eos_token": codec.eos_token or None,
            "bos_token": codec.bos_token or None, "pad_token": None, "chat_template": codec.chat_template or DEFAULT_CHAT_TEMPLATE,
            "model_max_length": state.engine.max_seq_len, "vocab_size": codec.vocab_size,
            "eos_token_ids": list(codec.eos_token_ids)}
