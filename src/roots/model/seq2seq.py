"""An encoder-decoder Transformer (BART / T5 shape): a bidirectional encoder, a causal decoder with
cross-attention, one token embedding shared by both and by the (tied) lm_head.

`ModelConfig(arch="encoder-decoder")`; the encoder stack is BERT's (roots.model.bert), the decoder adds
cross-attention between self-attention and MLP. Generation: greedy, sampling and beam search, with a
per-layer KV cache for the decoder's self-attention and encoder keys/values computed once.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from roots.model.bert import Embeddings, EncoderBlock, init_weights, pad_mask
from roots.model.config import ModelConfig
from roots.model.kv_cache import KVCache, causal_mask, new_caches
from roots.model.layers import MLP, CausalSelfAttention, CrossAttention, make_norm
from roots.model.sampling import next_tokens


class DecoderBlock(nn.Module):
    """Causal self-attention, cross-attention to the encoder output, MLP; post-norm or pre-norm."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.post_norm = config.norm_position == "post"
        self.attn = CausalSelfAttention(config, causal=True)
        self.ln_1 = make_norm(config)
        self.cross = CrossAttention(config)
        self.ln_2 = make_norm(config)
        self.mlp = MLP(config)
        self.ln_3 = make_norm(config)

    def forward(self, x: torch.Tensor, memory: tuple[torch.Tensor, torch.Tensor], enc_mask: torch.Tensor | None,
                kv_cache: KVCache | None = None, input_pos: torch.Tensor | None = None,
                mask: torch.Tensor | None = None) -> torch.Tensor:
        if self.post_norm:
            x = self.ln_1(x + self.attn(x, kv_cache=kv_cache, input_pos=input_pos, mask=mask))
            x = self.ln_2(x + self.cross(x, memory, enc_mask))
            return self.ln_3(x + self.mlp(x))
        x = x + self.attn(self.ln_1(x), kv_cache=kv_cache, input_pos=input_pos, mask=mask)
        x = x + self.cross(self.ln_2(x), memory, enc_mask)
        return x + self.mlp(self.ln_3(x))


class Seq2SeqModel(nn.Module):
    """Encoder (`transformer.*`) + decoder (`decoder.*`) + lm_head tied to the shared token embedding."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        if config.arch != "encoder-decoder":
            raise ValueError(f"Seq2SeqModel needs arch 'encoder-decoder', got {config.arch!r}")
        if config.vocab_size <= 0:
            raise ValueError("ModelConfig.vocab_size must be set (the trainer takes it from the token shards)")
        self.config = config
        final_norm = (lambda: make_norm(config)) if config.norm_position == "pre" else nn.Identity
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(config.vocab_size, config.n_embd),
            emb=Embeddings(config),
            h=nn.ModuleList([EncoderBlock(config) for _ in range(config.n_layer)]),
            ln_f=final_norm(),
        ))
        self.decoder = nn.ModuleDict(dict(
            emb=Embeddings(config),
            h=nn.ModuleList([DecoderBlock(config) for _ in range(config.n_decoder_layer)]),
            ln_f=final_norm(),
        ))
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        init_weights(self, config)
        if config.tie_embeddings:
            self.lm_head.weight = self.transformer.wte.weight

    def encode(self, idx: torch.Tensor, key_mask: torch.Tensor | None = None,
               input_pos: torch.Tensor | None = None) -> torch.Tensor:
        """Encoder output (B, S', C) for source ids idx (B, S); S' = S + soft-prompt length (if any, and only
        without input_pos: per-row positions (B, S) of left-padded sources)."""
        x, n_prompt = self.transformer.emb(self.transformer.wte(idx), input_pos=input_pos)
        key_mask = pad_mask(key_mask, n_prompt)
        for block in self.transformer.h:
            x = block(x, key_mask)
        return self.transformer.ln_f(x)

    def memories(self, enc: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Each decoder layer's cross-attention keys/values of the encoder output."""
        return [block.cross.memory(enc) for block in self.decoder.h]

    def decode(self, dec_idx: torch.Tensor, memories: list[tuple[torch.Tensor, torch.Tensor]],
               enc_mask: torch.Tensor | None = None, kv_cache: list[KVCache] | None = None,
               input_pos: torch.Tensor | None = None, logits_to_keep: int = 0,
               attn_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Logits (B, T, vocab) of the decoder inputs dec_idx (B, T). With a cache (`new_kv_cache`), dec_idx
        holds the new tokens only, at input_pos ((T,) or (B, T) per row), as in TransformerModel.forward;
        attn_mask (bool, broadcast to (B, 1, T, S)) replaces the causal mask over the cache."""
        if kv_cache is not None and input_pos is None:
            raise ValueError("a KV cache needs input_pos: the positions of the new tokens")
        x, _ = self.decoder.emb(self.transformer.wte(dec_idx), input_pos=input_pos)
        mask = attn_mask
        if mask is None and kv_cache is not None:
            mask = causal_mask(input_pos, kv_cache[0].max_len)
        for i, block in enumerate(self.decoder.h):
            x = block(x, memories[i], enc_mask, kv_cache[i] if kv_cache is not None else None, input_pos, mask)
        x = self.decoder.ln_f(x)
        return self.lm_head(x[:, -logits_to_keep:] if logits_to_keep else x)

    def forward(self, idx: torch.Tensor, dec_idx: torch.Tensor, key_mask: torch.Tensor | None = None,
                targets: torch.Tensor | None = None) -> Any:
        """Teacher-forced logits (B, T, vocab) of dec_idx given source idx; with targets (B, T), -100
        ignored, also the mean cross-entropy."""
        enc = self.encode(idx, key_mask)
        enc_mask = pad_mask(key_mask, enc.size(1) - idx.size(1))
        logits = self.decode(dec_idx, self.memories(enc), enc_mask)
        if targets is None:
            return logits
        loss = F.cross_entropy(logits.float().flatten(0, 1), targets.flatten(), ignore_index=-100)
        return logits, loss

    def new_kv_cache(self, batch: int, max_len: int | None = None) -> list[KVCache]:
        """Static caches of the decoder's self-attention (see roots.model.kv_cache)."""
        p, c = self.lm_head.weight, self.config
        return new_caches(c.n_decoder_layer, batch, c.n_kv_head, max_len or c.block_size, c.head_dim, p.device,
                          p.dtype)

    def num_params(self, non_embedding: bool = True) -> int:
        n = sum(p.numel() for p in self.parameters())
        if non_embedding and self.config.positions == "learned":
            n -= 2 * self.transformer.emb.wpe.weight.numel()
        return n

    def flops_per_token(self, seq_len: int | None = None) -> float:
        c = self.config
        layers = c.n_layer + 2 * c.n_decoder_layer  # cross-attention about doubles a decoder layer's attention
        return 6 * self.num_params() + 12 * layers * c.n_head * c.head_dim * (seq_len or c.block_size)

    # ----------------------------------------------------------------------------------- generation

    @torch.no_grad()
    def generate(self, idx: torch.Tensor, start_id: int, eos_id: int, max_new_tokens: int = 64,
                 key_mask: torch.Tensor | None = None, num_beams: int = 1, temperature: float = 0.0,
                 top_k: int = 0, top_p: float = 1.0, length_penalty: float = 1.0,
                 generator: torch.Generator | None = None) -> list[list[int]]:
        """Output ids for each source row of idx (B, S), without the start token, up to and excluding EOS.

        num_beams > 1: beam search (scores = log-prob / length ** length_penalty); otherwise greedy
        (temperature 0) or sampling with temperature / top-k / top-p.
        """
        self.eval()
        max_new_tokens = min(max_new_tokens, self.config.block_size)
        enc = self.encode(idx, key_mask)
        enc_mask = pad_mask(key_mask, enc.size(1) - idx.size(1))
        if num_beams > 1:
            return [self._beam_search(enc[b : b + 1], None if enc_mask is None else enc_mask[b : b + 1],
                                      start_id, eos_id, max_new_tokens, num_beams, length_penalty)
                    for b in range(idx.size(0))]
        B = idx.size(0)
        memories = self.memories(enc)
        cache = self.new_kv_cache(B, max_new_tokens)
        tokens = torch.full((B, 1), start_id, dtype=torch.long, device=idx.device)
        out: list[list[int]] = [[] for _ in range(B)]
        done = torch.zeros(B, dtype=torch.bool, device=idx.device)
        positions = torch.arange(max_new_tokens, device=idx.device)
        for step in range(max_new_tokens):
            logits = self.decode(tokens, memories, enc_mask, cache, positions[step : step + 1])[:, -1].float()
            next_id = next_tokens(logits, temperature, top_k, top_p, generator)
            for b in (~done).nonzero().flatten().tolist():
                if int(next_id[b]) != eos_id:
                    out[b].append(int(next_id[b]))
            done |= next_id == eos_id
            if bool(done.all()):
                break
            tokens = next_id[:, None]
        return out

    def _beam_search(self, enc: torch.Tensor, enc_mask: torch.Tensor | None, start_id: int, eos_id: int,
                     max_new_tokens: int, num_beams: int, length_penalty: float) -> list[int]:
        """Beam search for one source (enc is (1, S, C)): keeps num_beams live hypotheses per step."""
        enc = enc.expand(num_beams, -1, -1)
        enc_mask = None if enc_mask is None else enc_mask.expand(num_beams, -1)
        memories = self.memories(enc)
        cache = self.new_kv_cache(num_beams, max_new_tokens)
        seqs = torch.full((num_beams, 1), start_id, dtype=torch.long, device=enc.device)
        # only the first beam is live at the start, so the first step does not pick the same token k times
        scores = torch.full((num_beams,), float("-inf"), device=enc.device)
        scores[0] = 0.0
        finished: list[tuple[float, list[int]]] = []
        V = self.config.vocab_size
        positions = torch.arange(max_new_tokens, device=enc.device)
        for step in range(max_new_tokens):
            logprobs = self.decode(seqs[:, -1:], memories, enc_mask, cache, positions[step : step + 1])
            logprobs = logprobs[:, -1].float().log_softmax(-1)
            total = (scores[:, None] + logprobs).flatten()  # (beams * V,)
            top, flat = total.topk(2 * num_beams)
            beam_idx, token = flat // V, flat % V
            keep_beams, keep_tokens, keep_scores = [], [], []
            for s, b, t in zip(top.tolist(), beam_idx.tolist(), token.tolist(), strict=True):
                if s == float("-inf"):
                    break
                if t == eos_id:  # a finished hypothesis, scored with the length penalty
                    finished.append((s / (step + 1) ** length_penalty, seqs[b, 1:].tolist()))
                else:
                    keep_beams.append(b)
                    keep_tokens.append(t)
                    keep_scores.append(s)
                if len(keep_beams) == num_beams:
                    break
            best_live = max(keep_scores, default=float("-inf")) / (step + 1) ** length_penalty
            if len(finished) >= num_beams and max(f[0] for f in finished) >= best_live:
                break  # no live beam can beat the best finished one (log-probs only fall)
            if not keep_beams:
                break
            n = len(keep_beams)
            order = torch.tensor(keep_beams + [keep_beams[0]] * (num_beams - n), device=enc.device)
            seqs = torch.cat([seqs[order], torch.tensor(keep_tokens + [keep_tokens[0]] * (num_beams - n),
                                                        device=enc.device)[:, None]], dim=1)
            scores = torch.tensor(keep_scores + [float("-inf")] * (num_beams - n), device=enc.device)
            for c in cache:  # the caches follow their beams
                c.reorder(order)
        if not finished:  # ran out of length: the best live hypothesis
            finished = [(float(scores.max()) / seqs.size(1) ** length_penalty, seqs[int(scores.argmax()), 1:].tolist())]
        return max(finished, key=lambda f: f[0])[1]
