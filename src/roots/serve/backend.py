"""What the engine needs from a model and its tokenizer, and the loaders that provide it.

The engine owns the batch's KV cache as plain tensors, one `(K, V)` pair per layer, each
`(B, n_kv_head, L, head_dim)`, left-padded so that every row ends at column L. A backend runs one forward
pass over new tokens given that cache, an attention mask over all L + T columns and per-row positions,
and returns the logits and the grown cache. Anything that attends over a KV cache fits: Hugging Face
causal LMs (what `roots export` writes) and roots checkpoints, decoders and encoder-decoders (the encoder
output kept per row next to the cache, see `RootsSeq2SeqLM`). The roots backends run the model's own
forward pass: no model code here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import torch

from roots.common.errors import UserError

KV = list[tuple[torch.Tensor, torch.Tensor]]


class DecoderBackend(Protocol):
    vocab_size: int
    max_seq_len: int

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, position_ids: torch.Tensor,
                past: KV | None, all_logits: bool) -> tuple[torch.Tensor, KV]:
        """input_ids (B, T), attention_mask (B, L + T), position_ids (B, T) -> logits (B, T or 1, V), cache."""
        ...

    def embed(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Mean-pooled final hidden states (B, d_model) over the unmasked tokens."""
        ...


class HFCausalLM:
    """A `transformers` causal LM (GPT-2, Llama, ...) driven with an explicit KV cache."""

    def __init__(self, model: torch.nn.Module):
        self.model = model.eval()
        config = model.config
        self.vocab_size = config.vocab_size
        self.max_seq_len = int(getattr(config, "n_positions", None) or config.max_position_embeddings)
        self.device = next(model.parameters()).device

    @torch.inference_mode()
    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, position_ids: torch.Tensor,
                past: KV | None, all_logits: bool) -> tuple[torch.Tensor, KV]:
        from transformers import DynamicCache

        cache = DynamicCache(ddp_cache_data=past) if past else DynamicCache()
        out = self.model(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids,
                         past_key_values=cache, use_cache=True, logits_to_keep=0 if all_logits else 1)
        kv = [(layer.keys, layer.values) for layer in out.past_key_values.layers]
        return out.logits.float(), kv

    @torch.inference_mode()
    def embed(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        position_ids = (attention_mask.cumsum(-1) - 1).clamp(min=0)
        out = self.model(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids,
                         output_hidden_states=True, use_cache=False, logits_to_keep=1)
        hidden = out.hidden_states[-1].float()  # (B, T, d_model), after the final norm
        weights = attention_mask[..., None].to(hidden.dtype)
        return (hidden * weights).sum(1) / weights.sum(1).clamp(min=1)


class RootsCausalLM:
    """A roots `TransformerModel` behind the engine's interface: its own forward pass with per-row positions,
    an explicit mask over the engine's left-padded columns, and the engine's cache (`GrowingKVCache`)."""

    def __init__(self, model: torch.nn.Module):
        self.model = model.eval()
        self.config = model.config
        self.vocab_size = self.config.vocab_size
        self.max_seq_len = self.config.block_size
        self.device = model.transformer.wte.weight.device

    @staticmethod
    def _mask(attention_mask: torch.Tensor, T: int) -> torch.Tensor:
        """(B, 1, T, L + T) bool: causal over the columns, minus padding; padded queries see themselves."""
        width = attention_mask.shape[1]
        if T == 1:  # decode: the one query sees every real column
            return attention_mask[:, None, None, :].bool()
        L = width - T
        causal = torch.ones(T, width, dtype=torch.bool, device=attention_mask.device).tril(diagonal=L)
        mask = causal[None] & attention_mask[:, None, :].bool()  # (B, T, L + T)
        diagonal = torch.arange(T, device=mask.device)
        mask[:, diagonal, L + diagonal] = True  # a padded query attending nowhere would give NaN
        return mask[:, None]

    @torch.inference_mode()
    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, position_ids: torch.Tensor,
                past: KV | None, all_logits: bool) -> tuple[torch.Tensor, KV]:
        from roots.model.kv_cache import GrowingKVCache

        caches = [GrowingKVCache(*(past[i] if past else (None, None))) for i in range(self.config.n_layer)]
        logits = self.model(input_ids, position_ids, caches, self._mask(attention_mask, input_ids.shape[1]),
                            logits_to_keep=0 if all_logits else 1)
        return logits.float(), [(c.k, c.v) for c in caches]

    @torch.inference_mode()
    def embed(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        position_ids = (attention_mask.cumsum(-1) - 1).clamp(min=0)
        hidden = self.model.features(input_ids, position_ids, attn_mask=self._mask(attention_mask,
                                                                                   input_ids.shape[1]))
        weights = attention_mask[..., None].to(hidden.dtype)
        return ((hidden * weights).sum(1) / weights.sum(1).clamp(min=1)).float()


class RootsSeq2SeqLM:
    """A roots encoder-decoder behind the same interface: the prompt is the source; the output is decoded
    after the decoder start token through the model's own `encode` / `decode` and the engine's cache.

    The engine's columns hold, per row, the source and then the generated tokens. Its cache list holds, per
    decoder layer, the self-attention keys/values (at the generated tokens' columns), then per layer the
    cross-attention keys/values of the encoder output (at the source columns), then one marker pair
    (B, 1, L, 1): 1 at source columns, 2 at the last one (which also holds the start token's self-attention
    keys/values), 0 elsewhere. Padding and eviction act on every pair alike, so rows stay consistent.
    """

    def __init__(self, model: torch.nn.Module, start_id: int):
        self.model = model.eval()
        self.config = model.config
        self.vocab_size = self.config.vocab_size
        self.max_seq_len = self.config.block_size
        self.device = model.lm_head.weight.device
        self.start_id = start_id

    @torch.inference_mode()
    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, position_ids: torch.Tensor,
                past: KV | None, all_logits: bool) -> tuple[torch.Tensor, KV]:
        from roots.model.kv_cache import GrowingKVCache

        m, n = self.model, self.config.n_decoder_layer
        B = input_ids.shape[0]
        if past is None:  # prefill: encode the (left-padded) sources, then feed the decoder start token
            enc = m.encode(input_ids, attention_mask, input_pos=(attention_mask.cumsum(-1) - 1).clamp(min=0))
            memories = m.memories(enc)  # [(B, nh, W, hd)] per layer
            marker = attention_mask.to(enc.dtype).clone()
            marker[:, -1] = 2.0
            caches = [GrowingKVCache() for _ in range(n)]
            dec_ids = torch.full((B, 1), self.start_id, dtype=torch.long, device=input_ids.device)
            logits = m.decode(dec_ids, memories, attention_mask, caches,
                              torch.zeros_like(dec_ids), attn_mask=dec_ids.new_ones(B, 1, 1, 1, dtype=torch.bool))
            W = input_ids.shape[1]
            selfs = []
            for c in caches:  # the start token's keys/values sit at the last source column
                k, v = c.k.new_zeros(*c.k.shape[:2], W, c.k.shape[3]), c.v.new_zeros(*c.v.shape[:2], W, c.v.shape[3])
                k[:, :, -1:], v[:, :, -1:] = c.k, c.v
                selfs.append((k, v))
            kv = [*selfs, *memories, (marker[:, None, :, None], marker[:, None, :, None])]
            return logits.float(), kv
        L = past[0][0].shape[2]
        marker = past[-1][0][:, 0, :, 0]  # (B, L)
        source = marker >= 1
        own = (marker == 2) | ((marker == 0) & attention_mask[:, :L].bool())  # the decoder's own columns
        dec_pos = position_ids - source.sum(-1, keepdim=True) + 1  # (B, 1)
        caches = [GrowingKVCache(*past[i]) for i in range(n)]
        mask = torch.cat([own, own.new_ones(B, 1)], dim=-1)[:, None, None, :]  # (B, 1, 1, L + 1)
        memories = [(k, v) for k, v in past[n : 2 * n]]
        logits = m.decode(input_ids, memories, source, caches, dec_pos, attn_mask=mask)
        grow = lambda t: torch.cat([t, t.new_zeros(*t.shape[:2], 1, t.shape[3])], dim=2)  # noqa: E731
        kv = [(c.k, c.v) for c in caches] + [(grow(k), grow(v)) for k, v in memories]
        kv.append((grow(past[-1][0]), grow(past[-1][1])))
        return logits.float(), kv

    @torch.inference_mode()
    def embed(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """The mean-pooled encoder output."""
        hidden = self.model.encode(input_ids, attention_mask, (attention_mask.cumsum(-1) - 1).clamp(min=0))
        weights = attention_mask[..., None].to(hidden.dtype)
        return ((hidden * weights).sum(1) / weights.sum(1).clamp(min=1)).float()


@dataclass
class TextCodec:
    """Text <-> token ids, the special tokens that end generation, and the chat template."""

    tokenizer: object  # tokenizers.Tokenizer
    eos_token_ids: tuple[int, ...]
    eos_token: str
    bos_token: str
    chat_template: str | None

    def encode(self, text: str, special: bool = False) -> list[int]:
        """`special` adds the tokenizer's BOS/EOS post-processing (completions; chat templates add their own)."""
        return self.tokenizer.encode(text, add_special_tokens=special).ids

    def decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=True)

    def token_text(self, token_id: int) -> str:
        """How one token reads on its own (what `logprobs` shows)."""
        return self.tokenizer.decode([token_id], skip_special_tokens=False)

    @property
    def vocab_size(self) -> int:
        return self.tokenizer.get_vocab_size()


@dataclass
class LoadedModel:
    name: str
    backend: DecoderBackend
    codec: TextCodec


def _token_str(value: object) -> str:
    # tokenizer_config.json stores special tokens as strings or as AddedToken dicts
    if isinstance(value, dict):
        return str(value.get("content", ""))
    return str(value or "")


def load_hf_dir(path: str | Path, device: str = "cpu", dtype: str = "float32") -> LoadedModel:
    """A Hugging Face model directory (config.json, model.safetensors, tokenizer.json)."""
    from tokenizers import Tokenizer
    from transformers import AutoConfig, AutoModelForCausalLM

    path = Path(path)
    if not (path / "tokenizer.json").exists():
        raise UserError(f"{path} has no tokenizer.json; serve a directory written by `roots export`")
    if not list(path.glob("*.safetensors")):
        raise UserError(f"{path} has no *.safetensors weights (only safetensors weights are loaded)")
    config = AutoConfig.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, use_safetensors=True, dtype=getattr(torch, dtype))
    model.to(device)
    tok_config = json.loads((path / "tokenizer_config.json").read_text()) \
        if (path / "tokenizer_config.json").exists() else {}
    tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
    eos_token = _token_str(tok_config.get("eos_token"))
    eos_ids = config.eos_token_id if isinstance(config.eos_token_id, list) else [config.eos_token_id]
    eos_ids = [i for i in eos_ids if i is not None and 0 <= i < config.vocab_size]
    if eos_token and tokenizer.token_to_id(eos_token) is not None:
        eos_ids = sorted({*eos_ids, tokenizer.token_to_id(eos_token)})
    elif eos_ids and not eos_token:
        eos_token = tokenizer.id_to_token(eos_ids[0]) or ""
    codec = TextCodec(tokenizer, tuple(eos_ids), eos_token, _token_str(tok_config.get("bos_token")),
                      tok_config.get("chat_template"))
    return LoadedModel(path.name, HFCausalLM(model), codec)


def load_roots_checkpoint(path: str | Path, device: str = "cpu", dtype: str = "float32") -> LoadedModel:
    """A roots run folder (its best/last checkpoint) or checkpoint folder, with the run's tokenizer."""
    from tokenizers import Tokenizer

    from roots.model.io import open_run

    run = open_run(path, device=device, dtype=getattr(torch, dtype))
    tokenizer = Tokenizer.from_file(str(run.tokenizer_path))  # special tokens in chat text stay special
    eos_id = run.eos_id
    eos_token = tokenizer.id_to_token(eos_id) if eos_id is not None else ""
    codec = TextCodec(tokenizer, () if eos_id is None else (eos_id,), eos_token or "", "", None)
    if run.config.arch == "encoder":
        raise UserError(f"{path} is an encoder (arch encoder): it does not generate text; serve a decoder or an "
                        f"encoder-decoder")
    if run.config.arch == "encoder-decoder":
        backend = RootsSeq2SeqLM(run.model, run.special.pad)  # the decoder start token, as export announces it
    else:
        backend = RootsCausalLM(run.model)
    return LoadedModel(Path(path).resolve().name, backend, codec)


def load_served_model(path: str | Path, device: str = "cpu", dtype: str = "float32") -> LoadedModel:
    """Load what `path` holds: a Hugging Face model directory or a roots run / checkpoint folder."""
    path = Path(path)
    if not path.is_dir():
        raise UserError(f"model directory not found: {path}")
    if (path / "config.json").exists():
        return load_hf_dir(path, device, dtype)
    if (path / "config.yaml").exists() or (path / "checkpoints").is_dir():
        return load_roots_checkpoint(path, device, dtype)
    raise UserError(f"{path} is not a model this server can load: expected a roots run or checkpoint folder "
                    f"(model.safetensors + config.yaml) or a Hugging Face directory (config.json + "
                    f"model.safetensors + tokenizer.json, as `roots export` writes)")
