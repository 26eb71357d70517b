"""Architecture mappings between roots models and Hugging Face `transformers` classes.

An `Architecture` knows one Hugging Face class: which roots configs it represents exactly (`problems`
names every config field it cannot represent, so nothing is ever exported approximately), how to write
its config.json, and how parameter names and layouts correspond, in both directions. Decoders map to
`GPT2LMHeadModel` (learned positions, LayerNorm, GELU, Conv1D weights stored transposed) or
`LlamaForCausalLM` (RoPE in rotate-half layout, RMSNorm, SwiGLU); encoders to `BertForPreTraining`,
encoder-decoders to `BartForConditionalGeneration` (both post-norm, learned positions).

The roots side is seen through `ModelShape`, read from a `ModelConfig` in one place (`ModelShape.of`),
so a renamed config field touches one function.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

import torch

from roots.common.errors import UserError
from roots.tokenizer.special import SpecialIds

Tensors = dict[str, torch.Tensor]


@dataclass(frozen=True)
class ModelShape:
    """The architecture facts of a roots model that a Hugging Face class must reproduce."""

    vocab_size: int
    n_layer: int
    n_head: int
    n_kv_head: int
    n_embd: int
    intermediate_size: int
    block_size: int
    positions: str  # "learned" | "sinusoidal" | "rope"
    norm: str  # "layernorm" | "rmsnorm"
    mlp: str  # "gelu" | "gelu_tanh" | "swiglu"
    bias: bool
    tie_embeddings: bool
    norm_eps: float
    rope_theta: float
    arch: str = "decoder"  # "decoder" | "encoder" | "encoder-decoder"
    norm_position: str = "pre"  # "pre" | "post"
    type_vocab_size: int = 2  # encoder: segment embeddings
    n_decoder_layer: int = 0  # encoder-decoder: decoder depth (0: n_layer)

    @property
    def head_dim(self) -> int:
        return self.n_embd // self.n_head

    @classmethod
    def of(cls, config: Any) -> ModelShape:
        """The shape of a roots `ModelConfig` (the one place that reads its fields)."""
        return cls(**{f.name: getattr(config, f.name) for f in fields(cls)})

    def model_config(self) -> Any:
        """The roots `ModelConfig` of this shape."""
        from roots.model.config import ModelConfig

        return ModelConfig(**{f.name: getattr(self, f.name) for f in fields(self)})


# ------------------------------------------------------------------------ roots parameter names
# nanoGPT-style names of a roots decoder; `{i}` is the layer index.
R_WTE = "transformer.wte.weight"
R_WPE = "transformer.wpe.weight"
R_LN_F = "transformer.ln_f"
R_HEAD = "lm_head.weight"
R_BLOCK = "transformer.h.{i}."  # + ln_1 / ln_2 (norms), attn.*, mlp.*
R_QKV = "attn.c_attn"  # fused [q; k; v] rows: n_head*hd, n_kv_head*hd, n_kv_head*hd
R_ATTN_OUT = "attn.c_proj"
R_FC = "mlp.c_fc"  # gelu: intermediate_size rows; swiglu: fused [gate; up], twice that
R_MLP_OUT = "mlp.c_proj"


@dataclass(frozen=True)
class Architecture:
    """One Hugging Face class a roots family converts to and from."""

    name: str
    hf_class: str
    auto_class: str
    family: str  # roots ModelConfig.arch: "decoder", "encoder" or "encoder-decoder"
    problems: Callable[[ModelShape], list[str]]
    hf_config: Callable[[ModelShape, SpecialIds], dict[str, Any]]
    shape_from_hf: Callable[[dict[str, Any]], ModelShape]
    to_hf: Callable[[Tensors, ModelShape], Tensors]
    from_hf: Callable[[Tensors, ModelShape], Tensors]
    # names a saved folder may hold or omit: tied aliases of other weights and constant buffers
    aliases: tuple[str, ...] = ("lm_head.weight",)


def _need(shape: ModelShape, field_name: str, wanted: Any, have: Any, cls: str) -> list[str]:
    return [] if have == wanted else [f"{cls} needs {field_name}={wanted!r} (the model has {have!r})"]


# ---------------------------------------------------------------------------------------- GPT-2
# GPT-2 stores linear weights as Conv1D, (in, out): transposed relative to nn.Linear's (out, in).
_GPT2_ACT = {"gelu": "gelu", "gelu_tanh": "gelu_pytorch_tanh"}  # the same kernels as roots' F.gelu calls
_GPT2_ACT_IN = {**{v: k for k, v in _GPT2_ACT.items()}, "gelu_new": "gelu_tanh"}  # gelu_new: same formula
_GPT2_LINEAR = ((R_QKV, "attn.c_attn"), (R_ATTN_OUT, "attn.c_proj"), (R_FC, "mlp.c_fc"),
                (R_MLP_OUT, "mlp.c_proj"))


def _gpt2_problems(s: ModelShape) -> list[str]:
    cls = "GPT2LMHeadModel"
    out = [] if s.positions in ("learned", "sinusoidal") else [
        f"{cls} needs positions='learned' or 'sinusoidal' (the model has {s.positions!r})"]
    out += _need(s, "norm", "layernorm", s.norm, cls) + _need(s, "n_kv_head", s.n_head, s.n_kv_head, cls)
    if s.mlp not in _GPT2_ACT:
        out.append(f"{cls} needs mlp='gelu' or 'gelu_tanh' (the model has {s.mlp!r})")
    return out


def _gpt2_config(s: ModelShape, ids: SpecialIds) -> dict[str, Any]:
    return {
        "architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "vocab_size": s.vocab_size,
        "n_positions": s.block_size, "n_ctx": s.block_size,  # llama.cpp's convert_hf_to_gguf reads n_ctx
        "n_embd": s.n_embd, "n_layer": s.n_layer, "n_head": s.n_head, "n_inner": s.intermediate_size,
        "activation_function": _GPT2_ACT[s.mlp], "layer_norm_epsilon": s.norm_eps,
        "resid_pdrop": 0.0, "embd_pdrop": 0.0, "attn_pdrop": 0.0, "scale_attn_weights": True,
        "tie_word_embeddings": s.tie_embeddings, "bos_token_id": ids.bos, "eos_token_id": ids.eos,
        "pad_token_id": ids.pad, "dtype": "float32",
    }


def _gpt2_shape(c: dict[str, Any]) -> ModelShape:
    act = c.get("activation_function", "gelu_new")
    if act not in _GPT2_ACT_IN:
        raise UserError(f"GPT-2 activation_function={act!r} has no roots equivalent (roots has "
                        f"{', '.join(sorted(_GPT2_ACT_IN))})")
    for flag in ("scale_attn_by_inverse_layer_idx", "reorder_and_upcast_attn", "add_cross_attention"):
        if c.get(flag):
            raise UserError(f"GPT-2 {flag}=true has no roots equivalent")
    if c.get("scale_attn_weights", True) is False:
        raise UserError("GPT-2 scale_attn_weights=false has no roots equivalent")
    return ModelShape(
        vocab_size=c["vocab_size"], n_layer=c["n_layer"], n_head=c["n_head"], n_kv_head=c["n_head"],
        n_embd=c["n_embd"], intermediate_size=c.get("n_inner") or 4 * c["n_embd"],
        block_size=c["n_positions"], positions="learned", norm="layernorm", mlp=_GPT2_ACT_IN[act], bias=True,
        tie_embeddings=c.get("tie_word_embeddings", True), norm_eps=c.get("layer_norm_epsilon", 1e-5),
        rope_theta=10000.0)


def _with_bias(sd: Tensors, key: str, size: int, like: torch.Tensor) -> torch.Tensor:
    """A bias-free roots layer is an HF layer whose bias is zero: exact, not approximate."""
    return sd[key] if key in sd else torch.zeros(size, dtype=like.dtype)


def _gpt2_norms(s: ModelShape) -> list[tuple[str, str]]:
    """(roots, GPT-2) name prefixes of every LayerNorm."""
    blocks = [(R_BLOCK.format(i=i) + n, f"transformer.h.{i}.{n}")
              for i in range(s.n_layer) for n in ("ln_1", "ln_2")]
    return [*blocks, (R_LN_F, "transformer.ln_f")]


def _gpt2_to_hf(sd: Tensors, s: ModelShape) -> Tensors:
    if s.positions == "sinusoidal":  # a fixed table added to the embeddings = a learned one with its values
        from roots.model.layers import sinusoidal_table

        wpe = sinusoidal_table(s.block_size, s.n_embd).to(sd[R_WTE].dtype)
    else:
        wpe = sd[R_WPE]
    out = {"transformer.wte.weight": sd[R_WTE], "transformer.wpe.weight": wpe}
    for rn, hn in _gpt2_norms(s):
        w = sd[rn + ".weight"]
        out[hn + ".weight"], out[hn + ".bias"] = w, _with_bias(sd, rn + ".bias", w.shape[0], w)
    for i in range(s.n_layer):
        r, h = R_BLOCK.format(i=i), f"transformer.h.{i}."
        for rn, hn in _GPT2_LINEAR:
            w = sd[r + rn + ".weight"]  # (out, in)
            out[h + hn + ".weight"] = w.t().contiguous()  # Conv1D: (in, out)
            out[h + hn + ".bias"] = _with_bias(sd, r + rn + ".bias", w.shape[0], w)
    if not s.tie_embeddings:
        out["lm_head.weight"] = sd[R_HEAD]
    return out


def _gpt2_from_hf(hf: Tensors, s: ModelShape) -> Tensors:
    out = {R_WTE: hf["transformer.wte.weight"], R_WPE: hf["transformer.wpe.weight"]}
    for rn, hn in _gpt2_norms(s):
        out[rn + ".weight"], out[rn + ".bias"] = hf[hn + ".weight"], hf[hn + ".bias"]
    for i in range(s.n_layer):
        r, h = R_BLOCK.format(i=i), f"transformer.h.{i}."
        for rn, hn in _GPT2_LINEAR:
            out[r + rn + ".weight"] = hf[h + hn + ".weight"].t().contiguous()
            out[r + rn + ".bias"] = hf[h + hn + ".bias"]
    out[R_HEAD] = hf["transformer.wte.weight"] if s.tie_embeddings else hf["lm_head.weight"]
    return out


# ---------------------------------------------------------------------------------------- Llama
# roots' RoPE rotates channel pairs (i, i + head_dim/2), the rotate-half layout of HF Llama, so q and k
# need no permutation; roots fuses [q; k; v] and [gate; up], which split into Llama's separate matrices.


def _llama_problems(s: ModelShape) -> list[str]:
    cls = "LlamaForCausalLM"
    out = _need(s, "positions", "rope", s.positions, cls) + _need(s, "norm", "rmsnorm", s.norm, cls)
    return out + _need(s, "mlp", "swiglu", s.mlp, cls)


def _llama_config(s: ModelShape, ids: SpecialIds) -> dict[str, Any]:
    return {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": s.vocab_size,
        "hidden_size": s.n_embd, "intermediate_size": s.intermediate_size, "num_hidden_layers": s.n_layer,
        "num_attention_heads": s.n_head, "num_key_value_heads": s.n_kv_head, "head_dim": s.head_dim,
        "max_position_embeddings": s.block_size, "hidden_act": "silu", "rms_norm_eps": s.norm_eps,
        # both spellings: transformers 5 reads rope_parameters, older readers (llama.cpp, vLLM) rope_theta
        "rope_parameters": {"rope_type": "default", "rope_theta": s.rope_theta}, "rope_theta": s.rope_theta,
        "attention_bias": s.bias, "mlp_bias": s.bias, "attention_dropout": 0.0,
        "tie_word_embeddings": s.tie_embeddings, "bos_token_id": ids.bos, "eos_token_id": ids.eos,
        "pad_token_id": ids.pad, "dtype": "float32",
    }


def _llama_shape(c: dict[str, Any]) -> ModelShape:
    if c.get("hidden_act", "silu") != "silu":
        raise UserError(f"Llama hidden_act={c['hidden_act']!r} has no roots equivalent (SwiGLU uses silu)")
    rope = c.get("rope_parameters") or c.get("rope_scaling") or {}
    rope_type = rope.get("rope_type", rope.get("type", "default"))
    if rope_type != "default":
        raise UserError(f"Llama rope_type={rope_type!r} (RoPE scaling) has no roots equivalent")
    if c.get("attention_bias", False) != c.get("mlp_bias", False):
        raise UserError("Llama attention_bias != mlp_bias: roots has one `bias` switch for both")
    n_head, hidden = c["num_attention_heads"], c["hidden_size"]
    if c.get("head_dim") not in (None, hidden // n_head):
        raise UserError(f"Llama head_dim={c['head_dim']} != hidden_size / num_attention_heads: roots derives "
                        "head_dim from n_embd / n_head")
    return ModelShape(
        vocab_size=c["vocab_size"], n_layer=c["num_hidden_layers"], n_head=n_head,
        n_kv_head=c.get("num_key_value_heads") or n_head, n_embd=hidden,
        intermediate_size=c["intermediate_size"], block_size=c.get("max_position_embeddings", 2048),
        positions="rope", norm="rmsnorm", mlp="swiglu", bias=bool(c.get("attention_bias", False)),
        tie_embeddings=c.get("tie_word_embeddings", False), norm_eps=c.get("rms_norm_eps", 1e-6),
        rope_theta=float(rope.get("rope_theta", c.get("rope_theta", 10000.0))))


_LLAMA_QKV = ("q_proj", "k_proj", "v_proj")


def _qkv_sizes(s: ModelShape) -> list[int]:
    return [s.n_head * s.head_dim, s.n_kv_head * s.head_dim, s.n_kv_head * s.head_dim]


def _llama_to_hf(sd: Tensors, s: ModelShape) -> Tensors:
    out = {"model.embed_tokens.weight": sd[R_WTE], "model.norm.weight": sd[R_LN_F + ".weight"]}
    for i in range(s.n_layer):
        r, h = R_BLOCK.format(i=i), f"model.layers.{i}."
        out[h + "input_layernorm.weight"] = sd[r + "ln_1.weight"]
        out[h + "post_attention_layernorm.weight"] = sd[r + "ln_2.weight"]
        for kind in ("weight", "bias") if s.bias else ("weight",):
            for name, part in zip(_LLAMA_QKV, sd[f"{r}{R_QKV}.{kind}"].split(_qkv_sizes(s))):
                out[f"{h}self_attn.{name}.{kind}"] = part.contiguous()
            out[f"{h}self_attn.o_proj.{kind}"] = sd[f"{r}{R_ATTN_OUT}.{kind}"]
            gate, up = sd[f"{r}{R_FC}.{kind}"].chunk(2, dim=0)
            out[f"{h}mlp.gate_proj.{kind}"] = gate.contiguous()
            out[f"{h}mlp.up_proj.{kind}"] = up.contiguous()
            out[f"{h}mlp.down_proj.{kind}"] = sd[f"{r}{R_MLP_OUT}.{kind}"]
    if not s.tie_embeddings:
        out["lm_head.weight"] = sd[R_HEAD]
    return out


def _llama_from_hf(hf: Tensors, s: ModelShape) -> Tensors:
    out = {R_WTE: hf["model.embed_tokens.weight"], R_LN_F + ".weight": hf["model.norm.weight"]}
    for i in range(s.n_layer):
        r, h = R_BLOCK.format(i=i), f"model.layers.{i}."
        out[r + "ln_1.weight"] = hf[h + "input_layernorm.weight"]
        out[r + "ln_2.weight"] = hf[h + "post_attention_layernorm.weight"]
        for kind in ("weight", "bias") if s.bias else ("weight",):
            out[f"{r}{R_QKV}.{kind}"] = torch.cat([hf[f"{h}self_attn.{n}.{kind}"] for n in _LLAMA_QKV])
            out[f"{r}{R_ATTN_OUT}.{kind}"] = hf[f"{h}self_attn.o_proj.{kind}"]
            gate, up = hf[f"{h}mlp.gate_proj.{kind}"], hf[f"{h}mlp.up_proj.{kind}"]
            out[f"{r}{R_FC}.{kind}"] = torch.cat([gate, up])
            out[f"{r}{R_MLP_OUT}.{kind}"] = hf[f"{h}mlp.down_proj.{kind}"]
    out[R_HEAD] = hf["model.embed_tokens.weight"] if s.tie_embeddings else hf["lm_head.weight"]
    return out


# ----------------------------------------------------------------------------- shared by BERT / BART


def _positions(sd: Tensors, key: str, s: ModelShape) -> torch.Tensor:
    """The learned position table, or the fixed sinusoidal one written as a learned table (exact)."""
    if s.positions == "sinusoidal":
        from roots.model.layers import sinusoidal_table

        return sinusoidal_table(s.block_size, s.n_embd).to(sd[R_WTE].dtype)
    return sd[key]


def _copy_to_hf(sd: Tensors, out: Tensors, pairs: list[tuple[str, str]]) -> None:
    """(roots, HF) prefixes of linears and LayerNorms; a missing roots bias is HF's zero bias."""
    for rn, hn in pairs:
        w = sd[rn + ".weight"]
        out[hn + ".weight"], out[hn + ".bias"] = w, _with_bias(sd, rn + ".bias", w.shape[0], w)


def _copy_from_hf(hf: Tensors, out: Tensors, pairs: list[tuple[str, str]]) -> None:
    for rn, hn in pairs:
        out[rn + ".weight"], out[rn + ".bias"] = hf[hn + ".weight"], hf[hn + ".bias"]


def _qkv_to_hf(sd: Tensors, out: Tensors, r: str, names: tuple[str, ...]) -> None:
    """roots' fused [q; k; v] projection as three HF linears (`names` are their prefixes)."""
    w = sd[r + ".weight"]
    bias = _with_bias(sd, r + ".bias", w.shape[0], w)
    for name, wp, bp in zip(names, w.chunk(len(names)), bias.chunk(len(names)), strict=True):
        out[name + ".weight"], out[name + ".bias"] = wp.contiguous(), bp.contiguous()


def _qkv_from_hf(hf: Tensors, out: Tensors, r: str, names: tuple[str, ...]) -> None:
    for kind in ("weight", "bias"):
        out[f"{r}.{kind}"] = torch.cat([hf[f"{n}.{kind}"] for n in names])


def _encoder_problems(s: ModelShape, cls: str, mlps: tuple[str, ...]) -> list[str]:
    out = [] if s.positions in ("learned", "sinusoidal") else [
        f"{cls} needs positions='learned' or 'sinusoidal' (the model has {s.positions!r})"]
    out += _need(s, "norm", "layernorm", s.norm, cls) + _need(s, "norm_position", "post", s.norm_position, cls)
    out += _need(s, "n_kv_head", s.n_head, s.n_kv_head, cls)
    if s.mlp not in mlps:
        out.append(f"{cls} needs mlp={' or '.join(map(repr, mlps))} (the model has {s.mlp!r})")
    return out


# ----------------------------------------------------------------------------------------- BERT
# roots' BertModel: transformer.{wte, emb.{wpe, wtt, ln_emb}, h.i}, pooler, mlm_dense, mlm_norm, lm_head
# (tied to wte, with its own bias), nsp_head. HF ties cls.predictions.decoder.bias to cls.predictions.bias.
_BERT_TOP = [("transformer.emb.ln_emb", "bert.embeddings.LayerNorm"), ("pooler", "bert.pooler.dense"),
             ("mlm_dense", "cls.predictions.transform.dense"),
             ("mlm_norm", "cls.predictions.transform.LayerNorm"), ("nsp_head", "cls.seq_relationship")]
_BERT_LAYER = [("attn.c_proj", "attention.output.dense"), ("ln_1", "attention.output.LayerNorm"),
               ("mlp.c_fc", "intermediate.dense"), ("mlp.c_proj", "output.dense"), ("ln_2", "output.LayerNorm")]
_BERT_QKV = ("attention.self.query", "attention.self.key", "attention.self.value")


def _bert_problems(s: ModelShape) -> list[str]:
    # the MLM head's transform runs HF's hidden_act too, while roots' is always exact GELU: mlp="gelu" only
    return _encoder_problems(s, "BertForPreTraining", ("gelu",))


def _bert_config(s: ModelShape, ids: SpecialIds) -> dict[str, Any]:
    return {
        "architectures": ["BertForPreTraining"], "model_type": "bert", "vocab_size": s.vocab_size,
        "hidden_size": s.n_embd, "num_hidden_layers": s.n_layer, "num_attention_heads": s.n_head,
        "intermediate_size": s.intermediate_size, "hidden_act": "gelu", "max_position_embeddings": s.block_size,
        # a model without segment embeddings is one with a single all-zero segment row
        "type_vocab_size": max(1, s.type_vocab_size), "layer_norm_eps": s.norm_eps,
        "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0, "position_embedding_type": "absolute",
        "tie_word_embeddings": s.tie_embeddings, "pad_token_id": ids.pad, "bos_token_id": ids.bos,
        "eos_token_id": ids.eos, "dtype": "float32",
    }


def _bert_shape(c: dict[str, Any]) -> ModelShape:
    act = c.get("hidden_act", "gelu")
    if act != "gelu":
        raise UserError(f"BERT hidden_act={act!r} has no roots equivalent (roots' BERT uses exact 'gelu')")
    if c.get("position_embedding_type", "absolute") != "absolute":
        raise UserError(f"BERT position_embedding_type={c['position_embedding_type']!r} has no roots "
                        "equivalent (roots has 'absolute')")
    for flag in ("is_decoder", "add_cross_attention"):
        if c.get(flag):
            raise UserError(f"BERT {flag}=true has no roots equivalent")
    return ModelShape(
        vocab_size=c["vocab_size"], n_layer=c["num_hidden_layers"], n_head=c["num_attention_heads"],
        n_kv_head=c["num_attention_heads"], n_embd=c["hidden_size"], intermediate_size=c["intermediate_size"],
        block_size=c.get("max_position_embeddings", 512), positions="learned", norm="layernorm", mlp="gelu",
        bias=True, tie_embeddings=c.get("tie_word_embeddings", True), norm_eps=c.get("layer_norm_eps", 1e-12),
        rope_theta=10000.0, arch="encoder", norm_position="post", type_vocab_size=c.get("type_vocab_size", 2),
        n_decoder_layer=c["num_hidden_layers"])


def _bert_to_hf(sd: Tensors, s: ModelShape) -> Tensors:
    wte = sd[R_WTE]
    types = sd["transformer.emb.wtt.weight"] if s.type_vocab_size else torch.zeros(1, s.n_embd, dtype=wte.dtype)
    out = {"bert.embeddings.word_embeddings.weight": wte,
           "bert.embeddings.position_embeddings.weight": _positions(sd, "transformer.emb.wpe.weight", s),
           "bert.embeddings.token_type_embeddings.weight": types, "cls.predictions.bias": sd["lm_head.bias"]}
    _copy_to_hf(sd, out, _BERT_TOP)
    for i in range(s.n_layer):
        r, h = R_BLOCK.format(i=i), f"bert.encoder.layer.{i}."
        _qkv_to_hf(sd, out, r + R_QKV, tuple(h + n for n in _BERT_QKV))
        _copy_to_hf(sd, out, [(r + rn, h + hn) for rn, hn in _BERT_LAYER])
    if not s.tie_embeddings:  # transformers ties the decoder bias only together with the weight
        out["cls.predictions.decoder.weight"] = sd[R_HEAD]
        out["cls.predictions.decoder.bias"] = sd["lm_head.bias"].clone()  # safetensors stores no aliases
    return out


def _bert_from_hf(hf: Tensors, s: ModelShape) -> Tensors:
    if not torch.equal(hf.get("cls.predictions.decoder.bias", hf["cls.predictions.bias"]),
                       hf["cls.predictions.bias"]):
        raise UserError("BERT cls.predictions.decoder.bias differs from cls.predictions.bias: roots' MLM "
                        "head has one output bias")
    wte = hf["bert.embeddings.word_embeddings.weight"]
    out = {R_WTE: wte, "transformer.emb.wpe.weight": hf["bert.embeddings.position_embeddings.weight"],
           "transformer.emb.wtt.weight": hf["bert.embeddings.token_type_embeddings.weight"],
           "lm_head.bias": hf["cls.predictions.bias"],
           R_HEAD: wte if s.tie_embeddings else hf["cls.predictions.decoder.weight"]}
    _copy_from_hf(hf, out, _BERT_TOP)
    for i in range(s.n_layer):
        r, h = R_BLOCK.format(i=i), f"bert.encoder.layer.{i}."
        _qkv_from_hf(hf, out, r + R_QKV, tuple(h + n for n in _BERT_QKV))
        _copy_from_hf(hf, out, [(r + rn, h + hn) for rn, hn in _BERT_LAYER])
    return out


# ----------------------------------------------------------------------------------------- BART
# roots' Seq2SeqModel: encoder transformer.{emb, h.i}, decoder decoder.{emb, h.i} (self-attention ln_1,
# cross-attention `cross` with fused [k; v] and ln_2, MLP ln_3), one token embedding transformer.wte shared
# by both sides and the lm_head. BART's learned positions start at row 2 (a fairseq legacy): rows 0 and 1
# are never read, so export writes zeros there and import drops them.
_BART_POS_OFFSET = 2
_BART_ACT = {"gelu": "gelu", "gelu_tanh": "gelu_pytorch_tanh"}
_BART_ACT_IN = {**{v: k for k, v in _BART_ACT.items()}, "gelu_new": "gelu_tanh"}
_BART_QKV = ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj")
_BART_KV = ("encoder_attn.k_proj", "encoder_attn.v_proj")
_BART_LN_EPS = 1e-5  # BART's LayerNorms use torch's default eps, whatever the config says


def _bart_sides(s: ModelShape) -> list[tuple[str, str, int]]:
    return [("transformer", "encoder", s.n_layer), ("decoder", "decoder", s.n_decoder_layer or s.n_layer)]


def _bart_layer(side: str) -> list[tuple[str, str]]:
    """(roots, HF) prefixes of one layer's linears and norms, besides the fused projections."""
    pairs = [("attn.c_proj", "self_attn.out_proj"), ("ln_1", "self_attn_layer_norm"), ("mlp.c_fc", "fc1"),
             ("mlp.c_proj", "fc2")]
    if side == "encoder":
        return [*pairs, ("ln_2", "final_layer_norm")]
    return [*pairs, ("cross.q_proj", "encoder_attn.q_proj"), ("cross.c_proj", "encoder_attn.out_proj"),
            ("ln_2", "encoder_attn_layer_norm"), ("ln_3", "final_layer_norm")]


def _bart_problems(s: ModelShape) -> list[str]:
    cls = "BartForConditionalGeneration"
    return _encoder_problems(s, cls, tuple(_BART_ACT)) + _need(s, "norm_eps", _BART_LN_EPS, s.norm_eps, cls)


def _bart_config(s: ModelShape, ids: SpecialIds) -> dict[str, Any]:
    return {
        "architectures": ["BartForConditionalGeneration"], "model_type": "bart", "vocab_size": s.vocab_size,
        "d_model": s.n_embd, "encoder_layers": s.n_layer, "decoder_layers": s.n_decoder_layer or s.n_layer,
        "encoder_attention_heads": s.n_head, "decoder_attention_heads": s.n_head,
        "encoder_ffn_dim": s.intermediate_size, "decoder_ffn_dim": s.intermediate_size,
        "max_position_embeddings": s.block_size, "activation_function": _BART_ACT[s.mlp],
        "dropout": 0.0, "attention_dropout": 0.0, "activation_dropout": 0.0, "classifier_dropout": 0.0,
        "encoder_layerdrop": 0.0, "decoder_layerdrop": 0.0, "scale_embedding": False,
        "is_encoder_decoder": True, "tie_word_embeddings": s.tie_embeddings,
        # roots' seq2seq fine-tuning starts the decoder with the pad id (EOS where there is no pad token)
        "pad_token_id": ids.pad, "bos_token_id": ids.bos, "eos_token_id": ids.eos,
        "decoder_start_token_id": ids.pad, "forced_bos_token_id": None, "forced_eos_token_id": None,
        "dtype": "float32",
    }


def _bart_shape(c: dict[str, Any]) -> ModelShape:
    act = c.get("activation_function", "gelu")
    if act not in _BART_ACT_IN:
        raise UserError(f"BART activation_function={act!r} has no roots equivalent (roots has "
                        f"{', '.join(sorted(_BART_ACT_IN))})")
    if c.get("scale_embedding"):
        raise UserError("BART scale_embedding=true has no roots equivalent")
    for enc, dec in (("encoder_attention_heads", "decoder_attention_heads"),
                     ("encoder_ffn_dim", "decoder_ffn_dim")):
        if c[enc] != c[dec]:
            raise UserError(f"BART {enc}={c[enc]} != {dec}={c[dec]}: roots has one value for both sides")
    return ModelShape(
        vocab_size=c["vocab_size"], n_layer=c["encoder_layers"], n_head=c["encoder_attention_heads"],
        n_kv_head=c["encoder_attention_heads"], n_embd=c["d_model"], intermediate_size=c["encoder_ffn_dim"],
        block_size=c.get("max_position_embeddings", 1024), positions="learned", norm="layernorm",
        mlp=_BART_ACT_IN[act], bias=True, tie_embeddings=c.get("tie_word_embeddings", True),
        norm_eps=_BART_LN_EPS, rope_theta=10000.0, arch="encoder-decoder", norm_position="post",
        n_decoder_layer=c["decoder_layers"])


def _bart_to_hf(sd: Tensors, s: ModelShape) -> Tensors:
    wte = sd[R_WTE]
    out = {"model.shared.weight": wte, "final_logits_bias": torch.zeros(1, s.vocab_size, dtype=wte.dtype)}
    for ours, side, n in _bart_sides(s):
        wpe = _positions(sd, f"{ours}.emb.wpe.weight", s)
        out[f"model.{side}.embed_positions.weight"] = torch.cat([wpe.new_zeros(_BART_POS_OFFSET, s.n_embd), wpe])
        _copy_to_hf(sd, out, [(f"{ours}.emb.ln_emb", f"model.{side}.layernorm_embedding")])
        for i in range(n):
            r, h = f"{ours}.h.{i}.", f"model.{side}.layers.{i}."
            _qkv_to_hf(sd, out, r + R_QKV, tuple(h + p for p in _BART_QKV))
            if side == "decoder":
                _qkv_to_hf(sd, out, r + "cross.c_kv", tuple(h + p for p in _BART_KV))
            _copy_to_hf(sd, out, [(r + rn, h + hn) for rn, hn in _bart_layer(side)])
    if not s.tie_embeddings:  # transformers ties the sides' embed_tokens to `shared` only together with lm_head
        out["lm_head.weight"] = sd[R_HEAD]
        for side in ("encoder", "decoder"):
            out[f"model.{side}.embed_tokens.weight"] = wte.clone()  # safetensors stores no aliases
    return out


def _bart_from_hf(hf: Tensors, s: ModelShape) -> Tensors:
    if "final_logits_bias" in hf and hf["final_logits_bias"].any():
        raise UserError("BART final_logits_bias is not zero: roots' lm_head has no bias")
    wte = hf["model.shared.weight"] if "model.shared.weight" in hf else hf["model.encoder.embed_tokens.weight"]
    for side in ("encoder", "decoder"):
        if not torch.equal(hf.get(f"model.{side}.embed_tokens.weight", wte), wte):
            raise UserError(f"BART model.{side}.embed_tokens differs from model.shared: roots shares one "
                            "token embedding between encoder, decoder and lm_head")
    out = {R_WTE: wte, R_HEAD: wte if s.tie_embeddings else hf["lm_head.weight"]}
    for ours, side, n in _bart_sides(s):
        out[f"{ours}.emb.wpe.weight"] = hf[f"model.{side}.embed_positions.weight"][_BART_POS_OFFSET:]
        _copy_from_hf(hf, out, [(f"{ours}.emb.ln_emb", f"model.{side}.layernorm_embedding")])
        for i in range(n):
            r, h = f"{ours}.h.{i}.", f"model.{side}.layers.{i}."
            _qkv_from_hf(hf, out, r + R_QKV, tuple(h + p for p in _BART_QKV))
            if side == "decoder":
                _qkv_from_hf(hf, out, r + "cross.c_kv", tuple(h + p for p in _BART_KV))
            _copy_from_hf(hf, out, [(r + rn, h + hn) for rn, hn in _bart_layer(side)])
    return out


ARCHITECTURES: dict[str, Architecture] = {
    "gpt2": Architecture("gpt2", "GPT2LMHeadModel", "AutoModelForCausalLM", "decoder", _gpt2_problems,
                         _gpt2_config, _gpt2_shape, _gpt2_to_hf, _gpt2_from_hf),
    "llama": Architecture("llama", "LlamaForCausalLM", "AutoModelForCausalLM", "decoder", _llama_problems,
                          _llama_config, _llama_shape, _llama_to_hf, _llama_from_hf),
    "bert": Architecture("bert", "BertForPreTraining", "AutoModelForPreTraining", "encoder", _bert_problems,
                         _bert_config, _bert_shape, _bert_to_hf, _bert_from_hf,
                         aliases=("cls.predictions.decoder.weight", "cls.predictions.decoder.bias",
                                  "bert.embeddings.position_ids", "bert.embeddings.token_type_ids")),
    "bart": Architecture("bart", "BartForConditionalGeneration", "AutoModelForSeq2SeqLM", "encoder-decoder",
                         _bart_problems, _bart_config, _bart_shape, _bart_to_hf, _bart_from_hf,
                         aliases=("lm_head.weight", "model.encoder.embed_tokens.weight",
                                  "model.decoder.embed_tokens.weight")),
}


def choose(shape: ModelShape, family: str = "decoder") -> Architecture:
    """The architecture that represents `shape` exactly, or a UserError naming every mismatched field."""
    candidates = [a for a in ARCHITECTURES.values() if a.family == family]
    if not candidates:
        raise UserError(f"no Hugging Face export for {family} models yet")
    reasons = []
    for arch in candidates:
        problems = arch.problems(shape)
        if not problems:
            return arch
        reasons.append("; ".join(problems))
    raise UserError("this model has no exact Hugging Face equivalent, refusing to export it approximately: "
                    + " | ".join(reasons))

