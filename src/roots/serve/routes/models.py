"""GET /v1/models: the one model this server serves."""

from __future__ import annotations

from fastapi import APIRouter

from roots.serve.schemas import ModelCard, ModelList
from roots.serve.state import AppState, State
from roots.serve.validation import check_model

router = APIRouter()


def model_card(state: State) -> ModelCard:
    return ModelCard(id=state.name, max_model_len=state.engine.max_seq_len)


@router.get("/v1/models", response_model=ModelList)
async def list_models(state: AppState) -> ModelList:
    return ModelList(data=[model_card(state)])


@router.get("/v1/models/{model_id:path}", response_model=ModelCard)
async def retrieve_model(model_id: str, state: AppState) -> ModelCard:
    check_model(state, model_id)
    return model_card(state)
