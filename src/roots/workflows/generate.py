"""`roots generate`: continue a prompt with a trained model (decoder or encoder-decoder)."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from roots.common.errors import UserError


@dataclass
class GenerateConfig:
    """`roots generate`: continue a prompt with a trained model."""

    model: str = field(default="", metadata={"help": "run folder (its best checkpoint) or checkpoint folder"})
    prompt: str = field(default="\n", metadata={"help": "text to continue (encoder-decoder: the source)"})
    max_new_tokens: int = 200
    temperature: float = field(default=0.8, metadata={"help": "0 is greedy"})
    top_k: int = field(default=0, metadata={"help": "keep the k most likely tokens; 0 keeps all"})
    top_p: float = field(default=1.0, metadata={"help": "nucleus sampling mass; 1 keeps all"})
    seed: int = 1337
    num_samples: int = 1
    device: str = "auto"
    tokenizer: str | None = field(default=None, metadata={"help": "tokenizer folder (default: the run's)"})


def generate_ids(run, ids: list[int], config: GenerateConfig) -> list[list[int]]:
    """num_samples continuations (token ids, without the prompt) of the prompt ids under the opened run."""
    from roots.model.sampling import sample

    generator = torch.Generator(run.device).manual_seed(config.seed)
    idx = torch.tensor([ids] * config.num_samples, device=run.device)
    if run.config.arch == "encoder-decoder":
        start = run.special.pad  # the decoder start token (what export announces as decoder_start_token_id)
        return run.model.generate(idx, start_id=start, eos_id=run.eos_id, max_new_tokens=config.max_new_tokens,
                                  temperature=config.temperature, top_k=config.top_k, top_p=config.top_p,
                                  generator=generator)
    steps = list(sample(run.model, idx, config.max_new_tokens, config.temperature, config.top_k, config.top_p,
                        run.eos_id, generator))
    return torch.stack(steps, dim=1).tolist() if steps else [[] for _ in ids]


def generate(config: GenerateConfig) -> int:
    """`roots generate`: print num_samples continuations of the prompt."""
    from roots.model.io import open_run

    if not config.model:
        raise UserError("--model is required: a run folder or a checkpoint folder")
    if config.temperature < 0 or not 0 < config.top_p <= 1 or config.top_k < 0:
        raise UserError("need temperature >= 0, 0 < top_p <= 1 and top_k >= 0")
    run = open_run(config.model, config.tokenizer, config.device)
    if run.config.arch == "encoder":
        raise UserError(f"{run.checkpoint} is an encoder (arch encoder): it does not generate text")
    ids = run.tokenizer.encode(config.prompt)
    if not ids:
        raise UserError(f"the prompt {config.prompt!r} encodes to no tokens; give a non-empty prompt")
    if max(ids) >= run.config.vocab_size:
        raise UserError("the tokenizer's ids exceed the model's vocabulary: tokenizer and checkpoint do not match")
    rows = generate_ids(run, ids, config)
    seq2seq = run.config.arch == "encoder-decoder"
    for i, row in enumerate(rows):
        if config.num_samples > 1:
            print(f"--- sample {i + 1}")
        text = run.tokenizer.decode(row, skip_special_tokens=False)
        print(text if seq2seq else config.prompt + text)
    print(f"roots generate: {config.num_samples} x {max(map(len, rows), default=0)} new tokens from "
          f"{run.checkpoint}")
    return 0
