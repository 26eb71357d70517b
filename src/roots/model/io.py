"""Model weights on disk: `model.safetensors` + `config.yaml` (whose `model:` section is a ModelConfig)."""

from __future__ import annotations

from pathlib import Path

import torch

from roots.common.config import from_dict, load_yaml, save_yaml
from roots.common.errors import UserError, reading
from roots.common.io import apply_umask
from roots.model.config import ModelConfig

WEIGHTS = "model.safetensors"
CONFIG = "config.yaml"


def export_state_dict(state_dict: dict[str, torch.Tensor], config: ModelConfig) -> dict[str, torch.Tensor]:
    """Contiguous CPU tensors, with the tied lm_head dropped (safetensors stores no aliases)."""
    out = {k: v.detach().to("cpu").contiguous() for k, v in state_dict.items()}
    if config.tie_embeddings:
        out.pop("lm_head.weight", None)
    return out


def save_weights(state_dict: dict[str, torch.Tensor], config: ModelConfig, path: str | Path) -> None:
    from safetensors.torch import save_file

    save_file(export_state_dict(state_dict, config), str(path), metadata={"format": "roots.model", "version": "1"})
    apply_umask(path)  # safetensors writes 0600


def save_model(model: torch.nn.Module, directory: str | Path) -> None:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    save_weights(model.state_dict(), model.config, directory / WEIGHTS)
    save_yaml({"model": model.config}, directory / CONFIG)


def find_checkpoint(path: str | Path) -> Path:
    """A checkpoint folder from a run folder (its best, else last checkpoint) or a checkpoint folder."""
    path = Path(path)
    if (path / WEIGHTS).exists():
        return path
    for name in ("best", "last"):
        candidate = path / "checkpoints" / name
        if (candidate / WEIGHTS).exists():
            return candidate.resolve()
    raise UserError(f"{path}: neither a checkpoint folder (with {WEIGHTS}) nor a run folder with checkpoints/")


def read_model_config(directory: str | Path) -> ModelConfig:
    path = Path(directory) / CONFIG
    if not path.exists():
        raise UserError(f"{directory}: no {CONFIG} here; expected a roots checkpoint folder")
    data = load_yaml(path)
    return from_dict(ModelConfig, data.get("model", data), where=f"{path}:model")


def load_model(directory: str | Path, device: str | torch.device = "cpu"):
    """The model (any arch) of a checkpoint folder (model.safetensors + config.yaml)."""
    from safetensors.torch import load_file

    from roots.model.build import build_model

    directory = Path(directory)
    if not (directory / WEIGHTS).exists():
        raise UserError(f"{directory}: no {WEIGHTS} here; expected a roots checkpoint folder")
    model = build_model(read_model_config(directory))
    with reading(directory / WEIGHTS, "copy it again or point --model at another checkpoint"):
        state = load_file(str(directory / WEIGHTS), device=str(device))
    if model.config.tie_embeddings:
        state["lm_head.weight"] = state["transformer.wte.weight"]
    model.load_state_dict(state)
    return model.to(device)
