"""tiny-shakespeare, char-level: val loss and wall-clock of roots' training loop.

Anchor: nanoGPT's CPU "baby GPT" (configs/shakespeare_char_baby.yaml) is reported to reach val loss ~1.88
nats/char in ~3 minutes (nanoGPT README). We train that exact config with roots, then our own config
(configs/shakespeare_char.yaml) under the same wall-clock budget, and score both on the whole val split.

    python benchmarks/shakespeare_char.py [--quick] [--data ../shared/data]

Data preparation is nanoGPT's data/shakespeare_char/prepare.py: sorted characters as the vocabulary,
the first 90% of the text for training and the last 10% for validation, uint16 ids.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))
os.environ.setdefault("OMP_NUM_THREADS", "1")  # see the configs: one thread on a shared machine

import numpy as np  # noqa: E402
import torch  # noqa: E402

from roots.common.config import from_dict, load_yaml  # noqa: E402
from roots.common.io import open_text  # noqa: E402
from roots.train.config import TrainConfig  # noqa: E402
from roots.train.loader import TokenShards, write_token_shards  # noqa: E402
from roots.train.trainer import Trainer  # noqa: E402

NANOGPT_BABY = {"val_loss": 1.88, "minutes": 3.0}  # nanoGPT README (CPU, MacBook); not re-run here


def prepare(text_path: Path, out: Path) -> Path:
    """Char-level shards + an HF tokenizer.json for the character vocabulary, as nanoGPT prepares them."""
    from tokenizers import Regex, Tokenizer, decoders, pre_tokenizers
    from tokenizers.models import WordLevel

    if (out / "meta.json").exists():
        return out
    with open_text(text_path) as f:
        text = f.read()
    chars = sorted(set(text))
    stoi = {c: i for i, c in enumerate(chars)}
    ids = np.array([stoi[c] for c in text], dtype=np.uint16)
    n = len(ids)
    tok_dir = out / "tokenizer"
    tok_dir.mkdir(parents=True, exist_ok=True)
    tokenizer = Tokenizer(WordLevel(stoi, unk_token=None))
    tokenizer.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")  # one token per char
    tokenizer.decoder = decoders.Fuse()
    tokenizer.save(str(tok_dir / "tokenizer.json"))
    return write_token_shards(out, {"train": ids[: int(n * 0.9)], "val": ids[int(n * 0.9) :]},
                              vocab_size=len(chars), tokenizer_dir="tokenizer")


@torch.no_grad()
def full_val_loss(trainer: Trainer) -> float:
    """Mean loss over every non-overlapping block of the whole val split (no sampling noise)."""
    model, T = trainer.model.eval(), trainer.config.block_size
    val = TokenShards(trainer.config.data, "val")
    tokens = torch.from_numpy(val.window(0, val.num_tokens))
    n = (len(tokens) - 1) // T
    x, y = tokens[: n * T].view(n, T), tokens[1 : n * T + 1].view(n, T)
    total = 0.0
    for i in range(0, n, 256):
        _, loss = model(x[i : i + 256], y[i : i + 256])
        total += loss.item() * len(x[i : i + 256])
    return total / n


def train(config_path: Path, shards: Path, out_dir: Path, max_steps: int | None,
          time_budget: float | None = None) -> tuple[float, float, int]:
    data = load_yaml(config_path)
    data.update(data=str(shards), out_dir=str(out_dir), resume="no", tensorboard=False)
    if max_steps:
        data["max_steps"] = max_steps
        data["schedule"] = {**data.get("schedule", {}), "decay_steps": max_steps}
    cfg = from_dict(TrainConfig, data)
    import shutil

    shutil.rmtree(out_dir, ignore_errors=True)
    t0 = time.perf_counter()
    trainer = Trainer(cfg)
    trainer.fit()
    seconds = time.perf_counter() - t0
    return full_val_loss(trainer), seconds, trainer.step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--quick", action="store_true", help="200 steps each (< 1 minute)")
    args = parser.parse_args()
    shards = prepare(args.data / "lm" / "tinyshakespeare_input.txt.gz", REPO / "runs/shakespeare_char/shards")
    steps = 200 if args.quick else None
    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
    print(f"threads: {torch.get_num_threads()} (machine shared with other jobs: timings are under contention)")
    baby_loss, baby_s, baby_steps = train(REPO / "configs/shakespeare_char_baby.yaml", shards,
                                          REPO / "runs/shakespeare_char/bench_baby", steps)
    print(f"anchor  nanoGPT baby GPT (reported): val {NANOGPT_BABY['val_loss']:.2f} in "
          f"{NANOGPT_BABY['minutes']:.0f} min")
    print(f"roots   baby GPT config:  val {baby_loss:.4f} nats/char after {baby_steps} steps, {baby_s:.0f} s")
    ours_loss, ours_s, ours_steps = train(REPO / "configs/shakespeare_char.yaml", shards,
                                          REPO / "runs/shakespeare_char/bench_roots", steps)
    print(f"roots   roots config:     val {ours_loss:.4f} nats/char after {ours_steps} steps, {ours_s:.0f} s "
          f"(budget: the baby run's {baby_s:.0f} s)")
    print(f"RESULT shakespeare_char_val_loss {ours_loss:.4f} goal 1.75")


if __name__ == "__main__":
    main()
