"""Models on disk, and the one way every command opens a run.

A checkpoint folder holds `model.safetensors` + `config.yaml` (whose `model:` section is a ModelConfig); a
run folder holds `checkpoints/{best,last}/`, the tokenizer it was trained with (or the shards' meta naming
it) and its records. `open_run(path)` gives the model, tokenizer, special ids, config and folders of either.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from roots.common.config import from_dict, load_yaml, save_yaml
from roots.common.errors import UserError, reading
from roots.common.io import apply_umask, read_json
from roots.model.config import ModelConfig
from roots.tokenizer.special import SpecialIds

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


def load_model(directory: str | Path, device: str | torch.device = "cpu") -> torch.nn.Module:
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


def resolve_device(name: str | torch.device = "auto") -> torch.device:
    """`auto`: CUDA when there is one, else the CPU; anything else as torch names it."""
    if str(name) != "auto":
        return torch.device(name)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def run_dir_of(checkpoint: Path) -> Path | None:
    """The run folder a checkpoint folder belongs to (RUN/checkpoints/NAME), else None."""
    return checkpoint.parent.parent if checkpoint.parent.name == "checkpoints" else None


def find_tokenizer(checkpoint: Path, run_dir: Path | None) -> Path | None:
    """The tokenizer.json a model was trained with: CHECKPOINT/tokenizer/ (imported models), the run's copy
    RUN/tokenizer.json, else the one its token shards' meta (RUN/data_meta.json) names; None if none."""
    if (checkpoint / "tokenizer" / "tokenizer.json").is_file():
        return checkpoint / "tokenizer" / "tokenizer.json"
    if run_dir is None:
        return None
    if (run_dir / "tokenizer.json").is_file():
        return run_dir / "tokenizer.json"
    meta_path = run_dir / "data_meta.json"
    if meta_path.is_file():
        meta = read_json(meta_path)
        tok_dir = meta.get("tokenizer_dir")
        for base in (Path(meta.get("path", ".")), Path(".")):
            if tok_dir and (base / tok_dir / "tokenizer.json").is_file():
                return base / tok_dir / "tokenizer.json"
    return None


@dataclass
class Run:
    """An opened run or checkpoint: the model (eval mode, on `device`), its tokenizer and special ids."""

    model: torch.nn.Module
    tokenizer: Any  # roots.tokenizer.tokenizer.Tokenizer
    special: SpecialIds
    config: ModelConfig
    checkpoint: Path
    run_dir: Path | None
    device: torch.device
    tokenizer_path: Path  # its tokenizer.json

    @property
    def context(self) -> int:
        return self.config.block_size

    @property
    def eos_id(self) -> int | None:
        return self.special.eos

    @property
    def info(self) -> dict[str, str]:
        return {"tokenizer_dir": str(self.tokenizer_path)}

    @torch.no_grad()
    def logits(self, idx: torch.Tensor, last: int | None = None) -> torch.Tensor:
        """Logits (B, T, V) of idx (B, T); with `last`, of the last `last` positions only (B, last, V),
        skipping the output projection of positions nobody scores."""
        return self.model(idx, logits_to_keep=last or 0)


def open_run(path: str | Path, tokenizer: str | Path | None = None, device: str | torch.device = "auto",
             dtype: torch.dtype | None = None) -> Run:
    """Open a run folder (its best, else last checkpoint) or a checkpoint folder, with the tokenizer it was
    trained with (or `tokenizer`, a folder or tokenizer.json)."""
    from roots.tokenizer.tokenizer import Tokenizer

    checkpoint = find_checkpoint(path)
    run_dir = run_dir_of(checkpoint)
    tok_dir = Path(tokenizer) if tokenizer else find_tokenizer(checkpoint, run_dir)
    if tok_dir is None:
        raise UserError(f"{path}: no tokenizer recorded for this model (looked in {checkpoint}/tokenizer, the run "
                        f"folder and its data_meta.json); pass --tokenizer TOK")
    tok = Tokenizer.load(tok_dir)
    device = resolve_device(device)
    model = load_model(checkpoint, device).eval()
    if dtype is not None:
        model = model.to(dtype)
    return Run(model, tok, SpecialIds.from_tokenizer(tok), model.config, checkpoint, run_dir, device, tok_dir)
