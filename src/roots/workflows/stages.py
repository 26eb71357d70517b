"""The stage calls that quickstart and ablations share: each takes paths and plain settings, runs one
stage through its public API, and returns what the next stage needs."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def curate(recipe: str, inputs: list[str], out: Path, workers: int,
           overrides: list[str] | None = None) -> dict[str, Any]:
    """Run `recipe` (with `STEP.PARAM=VALUE` overrides) over `inputs` into `out` (resumes)."""
    from roots.data.pipeline import CurateConfig, run_curation

    return run_curation(CurateConfig(recipe=recipe, input=inputs, output=out, workers=workers,
                                     set=list(overrides or [])))


def train_tokenizer(corpus: Path | list[Path], out: Path, vocab_size: int):
    """Byte-level BPE on a curated corpus, or several together (reused when OUT already holds one)."""
    from roots.tokenizer.tokenizer import Tokenizer

    if not (out / "tokenizer.json").is_file():
        Tokenizer.train(corpus, kind="bpe", vocab_size=vocab_size).save(out)
    return Tokenizer.load(out)


def tokenize(tokenizer: Path, corpus: Path, out: Path, val_fraction: float = 0.1,
             val_split: str = "documents") -> dict[str, Any]:
    from roots.tokenizer.shards import TokenizeConfig
    from roots.tokenizer.shards import tokenize as run_tokenize

    return run_tokenize(TokenizeConfig(tokenizer=str(tokenizer), input=str(corpus), output=str(out),
                                       val_fraction=val_fraction, val_split=val_split))


def train(shards: Path, out: Path, preset: str, block_size: int, batch_size: int, steps: int, lr: float,
          eval_every: int, seed: int = 1337) -> tuple[dict[str, Any], int]:
    """Train (or resume) a small GPT; returns the trainer's result and the parameter count."""
    from roots.model.config import ModelConfig
    from roots.train.config import OptimConfig, ScheduleConfig, TrainConfig
    from roots.train.trainer import Trainer

    config = TrainConfig(
        data=str(shards), out_dir=str(out), batch_size=batch_size, max_steps=steps, seed=seed,
        model=ModelConfig.from_preset(preset, vocab_size=0, block_size=block_size),
        eval_every=min(eval_every, steps), eval_batches=20, log_every=max(1, min(10, steps // 10)),
        optim=OptimConfig(lr=lr), schedule=ScheduleConfig(warmup_steps=max(1, steps // 20)), tensorboard=False,
    )
    trainer = Trainer(config)
    return trainer.fit(), trainer.model.num_params()


def perplexity_on_texts(loaded, texts: list[str], stride: int | None = None):
    """Summed sliding-window perplexity over several texts (each scored as its own sequence)."""
    from roots.eval.perplexity import texts_perplexity

    return texts_perplexity(loaded.logits, texts, loaded.tokenizer.encode, loaded.eos_id, loaded.context,
                            stride, device=loaded.device)


def samples(loaded, prompts: list[str], max_tokens: int, seed: int = 1337) -> list[tuple[str, str]]:
    """(prompt, continuation) pairs sampled at temperature 0.8, top-k 50, seeded."""
    import torch

    from roots.model.sampling import sample

    tok, eos = loaded.tokenizer, loaded.eos_id
    generator = torch.Generator().manual_seed(seed)
    out = []
    for prompt in prompts:
        idx = torch.tensor([[eos, *tok.encode(prompt)]], device=loaded.device)
        new = [int(t) for t in sample(loaded.model, idx, max_tokens, temperature=0.8, top_k=50, eos_id=eos,
                                     generator=generator)]
        out.append((prompt, tok.decode([t for t in new if t != eos])))
    return out
