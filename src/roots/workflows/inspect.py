"""`roots inspect attention` and `roots inspect embeddings`: what a trained model attends to and knows."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch

from roots.common.errors import UserError


@dataclass
class InspectAttentionConfig:
    """Attention heatmaps (every layer and head) of a model on one prompt."""

    model: str = field(metadata={"help": "roots run or checkpoint folder"})
    prompt: str = field(metadata={"help": "text whose attention is drawn (first 48 tokens)"})
    output: str = field(default="", metadata={"help": "PNG path (default: MODEL/inspect/attention.png)"})
    max_tokens: int = 48
    device: str = "auto"


def draw_attention(loaded, prompt: str, path: Path, max_tokens: int = 48) -> Path:
    """Heatmaps for `prompt` under a loaded model (see roots.model.io.open_run)."""
    from roots.model.inspect import attention_maps
    from roots.workflows.figures import attention_grid

    ids = loaded.tokenizer.encode(prompt)[:max_tokens]
    if not ids:
        raise UserError("the prompt encodes to no tokens")
    idx = torch.tensor([[loaded.eos_id, *ids]], device=loaded.device)  # EOS = document start
    maps = attention_maps(loaded.model, idx).float().cpu().numpy()
    tokens = ["<s>", *(loaded.tokenizer.decode([i]) for i in ids)]
    return attention_grid(maps, [t.replace("\n", "⏎") for t in tokens], path)


def inspect_attention(config: InspectAttentionConfig) -> int:
    from roots.model.io import open_run

    loaded = open_run(config.model, device=config.device)
    path = Path(config.output) if config.output else Path(config.model) / "inspect" / "attention.png"
    draw_attention(loaded, config.prompt, path, config.max_tokens)
    c = loaded.model.config
    print(f"inspect attention: {c.n_layer} layers x {c.n_head} heads -> {path}")
    return 0


@dataclass
class InspectEmbeddingsConfig:
    """Nearest neighbours of a token (input embeddings) or of a sentence (mean final hidden state)."""

    model: str = field(metadata={"help": "roots run or checkpoint folder"})
    query: str = field(metadata={"help": "a token (when it encodes to one id) or a sentence"})
    candidates: str = field(default="", metadata={"help": "for sentences: a text file, one candidate per line"})
    k: int = 10
    device: str = "auto"


def nearest_sentences(loaded, query: str, candidates: list[str], k: int) -> list[tuple[str, float]]:
    from roots.model.inspect import sentence_embedding

    def embed(text: str) -> torch.Tensor:
        ids = [loaded.eos_id, *loaded.tokenizer.encode(text)][: loaded.context]
        return torch.nn.functional.normalize(
            sentence_embedding(loaded.model, torch.tensor([ids], device=loaded.device)), dim=0)

    q = embed(query)
    scored = [(c, float(embed(c) @ q)) for c in candidates if c.strip()]
    return sorted(scored, key=lambda x: -x[1])[:k]


def inspect_embeddings(config: InspectEmbeddingsConfig) -> int:
    from roots.model.inspect import nearest_tokens
    from roots.model.io import open_run

    loaded = open_run(config.model, device=config.device)
    ids = loaded.tokenizer.encode(config.query)
    if len(ids) == 1 and not config.candidates:
        print(f"nearest tokens to {config.query!r} (cosine of input embeddings):")
        for token_id, sim in nearest_tokens(loaded.model, ids[0], config.k):
            print(f"  {sim:6.3f}  {loaded.tokenizer.decode([token_id])!r}")
        return 0
    if not config.candidates:
        raise UserError(f"{config.query!r} is {len(ids)} tokens: pass --candidates FILE (one sentence per line) "
                        "to rank sentences, or query a single token")
    lines = Path(config.candidates).read_text(encoding="utf-8", errors="replace").splitlines()
    print(f"nearest of {len(lines)} candidates to {config.query!r} (cosine of mean final hidden states):")
    for text, sim in nearest_sentences(loaded, config.query, lines, config.k):
        print(f"  {sim:6.3f}  {text[:100]}")
    return 0
