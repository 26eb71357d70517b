"""Pretraining objectives beyond causal LM, as resumable batch loaders over the same token shards.

- MLM + NSP (BERT, Devlin et al. 2019): `[CLS] A [SEP] B [SEP]` pairs cut from documents, B the true
  continuation half the time; 15% of the tokens are predicted, of which 80% become [MASK], 10% a random
  token, 10% stay.
- Span corruption (T5, Raffel et al. 2020): 15% of a window's tokens, in spans of mean length 3, are
  replaced by one sentinel each in the encoder input; the decoder predicts `<s0> span0 <s1> span1 ... </s>`.

Each loader mirrors `RandomWindowLoader`: a seeded torch generator is all its state, and each step draws
the whole global batch and keeps this process's share. Batches are dicts of the model's keyword inputs.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from roots.common.errors import UserError
from roots.tokenizer.special import SpecialIds
from roots.train.loader import TokenShards


def mask_tokens(ids: np.ndarray, maskable: np.ndarray, mask_id: int, vocab_size: int, rng: np.random.Generator,
                prob: float = 0.15) -> tuple[np.ndarray, np.ndarray]:
    """BERT masking of ids (B, T): inputs and targets (-100 where not predicted).

    Each maskable position is predicted with probability `prob`; a predicted token becomes [MASK] 80% of
    the time, a uniformly random token 10%, and stays itself 10%.
    """
    predict = (rng.random(ids.shape) < prob) & maskable
    targets = np.where(predict, ids, -100)
    roll = rng.random(ids.shape)
    inputs = ids.copy()
    inputs[predict & (roll < 0.8)] = mask_id
    random_pos = predict & (roll >= 0.8) & (roll < 0.9)
    inputs[random_pos] = rng.integers(0, vocab_size, int(random_pos.sum()))
    return inputs, targets


def random_spans_noise_mask(length: int, noise_density: float, mean_span: float,
                            rng: np.random.Generator) -> np.ndarray:
    """T5's noise mask (bool, length): round(length * density) noise tokens in round(noise / mean_span)
    spans, span and gap lengths drawn as random partitions, noise spans never first."""
    num_noise = int(np.clip(round(length * noise_density), 1, length - 1))
    num_spans = max(1, round(num_noise / mean_span))
    num_spans = min(num_spans, num_noise, length - num_noise)

    def partition(total: int, parts: int) -> np.ndarray:  # `parts` positive ints summing to total
        cuts = np.sort(rng.choice(np.arange(1, total), parts - 1, replace=False)) if parts > 1 else []
        return np.diff(np.concatenate([[0], cuts, [total]])).astype(int)

    noise_lens, keep_lens = partition(num_noise, num_spans), partition(length - num_noise, num_spans)
    mask = np.zeros(length, dtype=bool)
    pos = 0
    for keep, noise in zip(keep_lens, noise_lens, strict=True):
        pos += keep
        mask[pos : pos + noise] = True
        pos += noise
    return mask


def span_corrupt(tokens: np.ndarray, mask: np.ndarray, sentinels: tuple[int, ...],
                 eos: int) -> tuple[list[int], list[int]]:
    """Encoder input (kept tokens, one sentinel per noise span, EOS) and target (sentinel + span each, EOS)."""
    inputs, targets = [], []
    span = -1
    for i, (tok, noisy) in enumerate(zip(tokens.tolist(), mask.tolist(), strict=True)):
        if noisy:
            if i == 0 or not mask[i - 1]:
                span += 1
                if span >= len(sentinels):
                    raise UserError(f"span corruption needs more than {len(sentinels)} sentinel tokens; train "
                                    f"the tokenizer with more (--sentinels) or use a smaller block size")
                inputs.append(sentinels[span])
                targets.append(sentinels[span])
            targets.append(tok)
        else:
            inputs.append(tok)
    return [*inputs, eos], [*targets, eos]


class _SeededLoader:
    """A seeded torch generator (the only state) and the global-batch split shared by the loaders."""

    def __init__(self, shards: TokenShards, batch_size: int, grad_accum: int, seed: int, rank: int,
                 world_size: int) -> None:
        self.shards, self.batch_size, self.grad_accum = shards, batch_size, grad_accum
        self.rank, self.world_size = rank, world_size
        self.generator = torch.Generator().manual_seed(seed)

    def next_step(self) -> list[dict[str, torch.Tensor]]:
        """This process's grad_accum micro-batches, each a dict of (batch_size, ...) tensors."""
        n = self.world_size * self.grad_accum * self.batch_size
        # one numpy generator per step, seeded from the torch one: the torch state is the checkpoint
        rng = np.random.default_rng(int(torch.randint(2**62, (1,), generator=self.generator)))
        examples = [self.example(rng) for _ in range(n)]
        mine = self.rank * self.grad_accum * self.batch_size
        return [self.collate(examples[mine + k * self.batch_size : mine + (k + 1) * self.batch_size], rng)
                for k in range(self.grad_accum)]

    def example(self, rng: np.random.Generator) -> Any:
        raise NotImplementedError

    def collate(self, examples: list[Any], rng: np.random.Generator) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.generator.get_state().tolist()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.set_state(torch.tensor(state["generator"], dtype=torch.uint8))


class MLMNSPLoader(_SeededLoader):
    """Sentence pairs from documents, masked for MLM, labelled for next-sentence prediction."""

    def __init__(self, shards: TokenShards, ids: SpecialIds, vocab_size: int, batch_size: int, block_size: int,
                 grad_accum: int = 1, seed: int = 0, rank: int = 0, world_size: int = 1,
                 mask_prob: float = 0.15, nsp_prob: float = 0.5) -> None:
        super().__init__(shards, batch_size, grad_accum, seed, rank, world_size)
        if None in (ids.cls, ids.sep, ids.mask):
            raise UserError("MLM + NSP needs [CLS], [SEP] and [MASK] tokens: tokenize with a wordpiece tokenizer")
        self.ids, self.vocab_size, self.block_size = ids, vocab_size, block_size
        self.mask_prob, self.nsp_prob = mask_prob, nsp_prob
        self.docs = _documents(shards, ids.eos, min_len=2)
        self.specials = np.array(sorted({ids.pad, ids.eos, ids.cls, ids.sep, ids.mask}))

    def _span(self, rng: np.random.Generator, length: int, exclude: int = -1) -> tuple[np.ndarray, int]:
        d = int(rng.integers(len(self.docs)))
        if d == exclude and len(self.docs) > 1:
            d = (d + 1 + int(rng.integers(len(self.docs) - 1))) % len(self.docs)
        start, end = self.docs[d]
        if end - start > length:
            start = start + int(rng.integers(end - start - length + 1))
        return self.shards.window(start, min(length, end - start)), d

    def example(self, rng: np.random.Generator) -> tuple[np.ndarray, int, int]:
        budget = self.block_size - 3  # [CLS] A [SEP] B [SEP]
        chunk, doc = self._span(rng, budget)
        # split after a sentence end when the chunk has one, else anywhere
        ends = np.flatnonzero(np.isin(chunk[:-1], self.ids.sentence_ends)) + 1
        cut = int(rng.choice(ends)) if len(ends) else int(rng.integers(1, max(2, len(chunk))))
        a, b = chunk[:cut], chunk[cut:]
        is_random = rng.random() < self.nsp_prob or len(b) == 0
        if is_random:
            b, _ = self._span(rng, max(1, budget - len(a)), exclude=doc)
        return np.concatenate([[self.ids.cls], a, [self.ids.sep], b, [self.ids.sep]]), len(a) + 2, int(is_random)

    def collate(self, examples: list[tuple[np.ndarray, int, int]], rng: np.random.Generator) -> dict[str, torch.Tensor]:
        B, T = len(examples), self.block_size
        ids = np.full((B, T), self.ids.pad, dtype=np.int64)
        token_type = np.zeros((B, T), dtype=np.int64)
        key_mask = np.zeros((B, T), dtype=np.int64)
        for i, (seq, len_a, _) in enumerate(examples):
            ids[i, : len(seq)] = seq
            token_type[i, len_a : len(seq)] = 1
            key_mask[i, : len(seq)] = 1
        inputs, targets = mask_tokens(ids, ~np.isin(ids, self.specials), self.ids.mask, self.vocab_size, rng,
                                      self.mask_prob)
        return {"idx": torch.from_numpy(inputs), "token_type": torch.from_numpy(token_type),
                "key_mask": torch.from_numpy(key_mask), "mlm_targets": torch.from_numpy(targets),
                "nsp_targets": torch.tensor([e[2] for e in examples])}


class SpanCorruptionLoader(_SeededLoader):
    """Random windows of the token stream, span-corrupted into (encoder input, decoder target) pairs."""

    def __init__(self, shards: TokenShards, ids: SpecialIds, batch_size: int, block_size: int,
                 grad_accum: int = 1, seed: int = 0, rank: int = 0, world_size: int = 1,
                 noise_density: float = 0.15, mean_span: float = 3.0) -> None:
        super().__init__(shards, batch_size, grad_accum, seed, rank, world_size)
        if not ids.sentinels:
            raise UserError("span corruption needs <extra_id_N> sentinel tokens: tokenize with a unigram tokenizer")
        if shards.num_tokens < block_size:
            raise UserError(f"{shards.directory}: split has {shards.num_tokens} tokens, fewer than one window "
                            f"of {block_size}")
        self.ids, self.block_size = ids, block_size
        self.noise_density, self.mean_span = noise_density, mean_span

    def example(self, rng: np.random.Generator) -> tuple[list[int], list[int]]:
        # block_size - 1 raw tokens: each noise span shrinks to one sentinel, so input + EOS always fits
        length = self.block_size - 1
        tokens = self.shards.window(int(rng.integers(self.shards.num_tokens - length + 1)), length)
        mask = random_spans_noise_mask(length, self.noise_density, self.mean_span, rng)
        return span_corrupt(tokens, mask, self.ids.sentinels, self.ids.eos)

    def collate(self, examples: list[tuple[list[int], list[int]]], rng: np.random.Generator) -> dict[str, torch.Tensor]:
        return seq2seq_batch(examples, self.ids.pad)


def seq2seq_batch(pairs: list[tuple[list[int], list[int]]], pad: int) -> dict[str, torch.Tensor]:
    """Padded encoder inputs + mask, teacher-forced decoder inputs (pad as the start token, as in T5) and
    targets (-100 on padding)."""
    S = max(len(src) for src, _ in pairs)
    T = max(len(tgt) for _, tgt in pairs)
    idx = torch.full((len(pairs), S), pad, dtype=torch.long)
    key_mask = torch.zeros(len(pairs), S, dtype=torch.long)
    dec = torch.full((len(pairs), T), pad, dtype=torch.long)
    targets = torch.full((len(pairs), T), -100, dtype=torch.long)
    for i, (src, tgt) in enumerate(pairs):
        idx[i, : len(src)] = torch.tensor(src)
        key_mask[i, : len(src)] = 1
        targets[i, : len(tgt)] = torch.tensor(tgt)
        dec[i, 1 : len(tgt)] = torch.tensor(tgt[:-1])
    return {"idx": idx, "key_mask": key_mask, "dec_idx": dec, "targets": targets}


def _documents(shards: TokenShards, eos: int, min_len: int) -> list[tuple[int, int]]:
    """(start, end) stream offsets of the documents (EOS-separated) with at least min_len tokens."""
    docs = []
    for array, offset in zip(shards.arrays, shards.offsets[:-1], strict=True):
        bounds = np.concatenate([[-1], np.flatnonzero(np.asarray(array) == eos), [len(array)]])
        for s, e in zip(bounds[:-1] + 1, bounds[1:], strict=True):
            if e - s >= min_len:
                docs.append((int(offset + s), int(offset + e)))
    if not docs:
        raise UserError(f"{shards.directory}: no document with at least {min_len} tokens for sentence pairs")
    return docs


def make_loader(arch: str, shards: TokenShards, ids: SpecialIds | None, vocab_size: int, batch_size: int,
                block_size: int, grad_accum: int, seed: int, rank: int = 0, world_size: int = 1):
    """The pretraining loader of a model family: MLM + NSP for encoders, span corruption for seq2seq."""
    if ids is None:
        raise UserError(f"arch {arch!r} needs the tokenizer's special tokens, but the token shards name no "
                        f"tokenizer folder (meta.json tokenizer_dir)")
    world = dict(seed=seed, rank=rank, world_size=world_size)
    if arch == "encoder":
        return MLMNSPLoader(shards, ids, vocab_size, batch_size, block_size, grad_accum, **world)
    return SpanCorruptionLoader(shards, ids, batch_size, block_size, grad_accum, **world)
