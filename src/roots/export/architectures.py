"""Architecture mappings between roots models and Hugging Face `transformers` classes.

An `Architecture` knows one Hugging Face class: which roots configs it represents exactly (`problems`
names every config field it cannot represent, so nothing is ever exported approximately), how to write
its config.json, and how parameter names and layouts correspond, in both directions. Decoders map to
`GPT2LMHeadModel` (learned positions, LayerNorm, GELU, Conv1D weights stored transposed) or
`LlamaForCausalLM` (RoPE in rotate-half layout, RMSNorm, SwiGLU). Encoders (BERT) and encoder-decoders
(T5, BART) plug in as more entries of `ARCHITECTURES`.

The roots side is seen through `DecoderShape`, read from a `ModelConfig` in one place (`DecoderShape.of`),
so a renamed config field touches one function.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from roots.common.errors import UserError

Tensors = dict[str, torch.Tensor]


@dataclass(frozen=True)
class DecoderShape:
    """The architecture facts of a roots decoder that a Hugging Face class must reproduce."""

    vocab_size: int
    n_layer: int
    n_head: int
    n_kv_head: int
    d_model: int
    d_ff: int
    context: int
    positions: str  # "learned" | "sinusoidal" | "rope"
    norm: str  # "layernorm" | "rmsnorm"
    mlp: str  # "gelu" | "swiglu"
    gelu_approx: str  # "tanh" | "none"
    bias: bool
    tied: bool
    norm_eps: float
    rope_theta: float
    head_dim: int
    parallel_residual: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, config: Any) -> DecoderShape:
        """Read a roots `ModelConfig` (the one place that knows its field names)."""
        c = config
        n_head = c.n_head
        return cls(
            vocab_size=c.vocab_size, n_layer=c.n_layer, n_head=n_head,
            n_kv_head=getattr(c, "n_kv_head", None) or n_head, d_model=c.n_embd,
            d_ff=c.d_ff, context=c.block_size, positions=c.positions, norm=c.norm, mlp=c.mlp,
            gelu_approx=getattr(c, "gelu_approx", "tanh"), bias=c.bias, tied=c.tie_embeddings,
            norm_eps=c.norm_eps, rope_theta=getattr(c, "rope_theta", 10000.0),
            head_dim=getattr(c, "head_dim", None) or c.n_embd // n_head,
        )

    def to_config_fields(self) -> dict[str, Any]:
        """The roots `ModelConfig` fields for this shape (the inverse of `of`)."""
        return dict(vocab_size=self.vocab_size, n_layer=self.n_layer, n_head=self.n_head,
                    n_kv_head=self.n_kv_head, n_embd=self.d_model, d_ff=self.d_ff, block_size=self.context,
                    positions=self.positions, norm=self.norm, mlp=self.mlp, gelu_approx=self.gelu_approx,
                    bias=self.bias, tie_embeddings=self.tied, norm_eps=self.norm_eps,
                    rope_theta=self.rope_theta)


@dataclass(frozen=True)
class SpecialIds:
    bos: int | None
    eos: int | None
    pad: int | None


# ------------------------------------------------------------------------ roots parameter names
# nanoGPT-style names of a roots decoder; `{i}` is the layer index.
R_WTE = "transformer.wte.weight"
R_WPE = "transformer.wpe.weight"
R_LN_F = "transformer.ln_f"
R_HEAD = "lm_head.weight"
R_BLOCK = "transformer.h.{i}."
R_LN_1, R_LN_2 = "ln_1", "ln_2"
R_QKV = "attn.c_attn"  # fused [q; k; v] rows: n_head*hd, n_kv_head*hd, n_kv_head*hd
R_ATTN_OUT = "attn.c_proj"
R_FC = "mlp.c_fc"  # gelu MLP: d_ff rows; swiglu: fused [gate; up], 2*d_ff rows
R_MLP_OUT = "mlp.c_proj"


@dataclass(frozen=True)
class Architecture:
    """One Hugging Face class a roots family converts to and from."""

    name: str
    hf_class: str
    auto_class: str
    family: str  # roots ModelConfig family: "decoder" (later "encoder", "encoder-decoder")
    problems: Callable[[DecoderShape], list[str]]
    hf_config: Callable[[DecoderShape, SpecialIds], dict[str, Any]]
    shape_from_hf: Callable[[dict[str, Any]], DecoderShape]
    to_hf: Callable[[Tensors, DecoderShape], Tensors]
    from_hf: Callable[[Tensors, DecoderShape], Tensors]


def _need(shape: DecoderShape, field_name: str, wanted: Any, have: Any, cls: str) -> list[str]:
    return [] if have == wanted else [f"{cls} needs {field_name}={wanted!r} (the model has {have!r})"]


def _split_qkv(w: torch.Tensor, s: DecoderShape) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    q, kv = s.n_head * s.head_dim, s.n_kv_head * s.head_dim
    return w[:q], w[q:q + kv], w[q + kv:]


# ---------------------------------------------------------------------------------------- GPT-2
# GPT-2 stores linear weights as Conv1D, (in, out): transposed relative to nn.Linear's (out, in).
_GPT2_GELU = {"tanh": "gelu_new", "none": "gelu"}


def _gpt2_problems(s: DecoderShape) -> list[str]:
    cls = "GPT2LMHeadModel"
    out = _need(s, "positions", "learned", s.positions, cls) + _need(s, "norm", "layernorm", s.norm, cls)
    out += _need(s, "mlp", "gelu", s.mlp, cls) + _need(s, "n_kv_head", s.n_head, s.n_kv_head, cls)
    if s.head_dim * s.n_head != s.d_model:
        out.append(f"{cls} needs head_dim * n_head == n_embd (the model has head_dim={s.head_dim})")
    if s.gelu_approx not in _GPT2_GELU:
        out.append(f"{cls} has no GELU variant for gelu_approx={s.gelu_approx!r}")
    return out


def _gpt2_config(s: DecoderShape, ids: SpecialIds) -> dict[str, Any]:
    return {
        "architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "vocab_size": s.vocab_size,
        "n_positions": s.context, "n_ctx": s.context,  # llama.cpp's convert_hf_to_gguf reads n_ctx
        "n_embd": s.d_model, "n_layer": s.n_layer, "n_head": s.n_head, "n_inner": s.d_ff,
        "activation_function": _GPT2_GELU.get(s.gelu_approx), "layer_norm_epsilon": s.norm_eps,
        "resid_pdrop": 0.0, "embd_pdrop": 0.0, "attn_pdrop": 0.0, "scale_attn_weights": True,
        "tie_word_embeddings": s.tied, "bos_token_id": ids.bos, "eos_token_id": ids.eos,
        "pad_token_id": ids.pad, "torch_dtype": "float32",
    }


def _gpt2_shape(c: dict[str, Any]) -> DecoderShape:
    act = {v: k for k, v in _GPT2_GELU.items()}
    if c.get("activation_function") not in act:
        raise UserError(f"GPT-2 activation_function={c.get('activation_function')!r} has no roots equivalent "
                        f"(roots supports {sorted(act)})")
    for flag in ("scale_attn_by_inverse_layer_idx", "reorder_and_upcast_attn", "add_cross_attention"):
        if c.get(flag):
            raise UserError(f"GPT-2 {flag}=true has no roots equivalent")
    if c.get("scale_attn_weights", True) is False:
        raise UserError("GPT-2 scale_attn_weights=false has no roots equivalent")
    d = c["n_embd"]
    return DecoderShape(
        vocab_size=c["vocab_size"], n_layer=c["n_layer"], n_head=c["n_head"], n_kv_head=c["n_head"],
        d_model=d, d_ff=c.get("n_inner") or 4 * d, context=c["n_positions"], positions="learned",
        norm="layernorm", mlp="gelu", gelu_approx=act[c["activation_function"]], bias=True,
        tied=c.get("tie_word_embeddings", True), norm_eps=c.get("layer_norm_epsilon", 1e-5),
        rope_theta=10000.0, head_dim=d // c["n_head"])


def _with_bias(sd: Tensors, key: str, size: int, like: torch.Tensor) -> torch.Tensor:
    """A bias-free roots layer is an HF layer whose bias is zero: exact, not approximate."""
    return sd[key] if key in sd else torch.zeros(size, dtype=like.dtype)


def _gpt2_to_hf(sd: Tensors, s: DecoderShape) -> Tensors:
    out = {"transformer.wte.weight": sd[R_WTE], "transformer.wpe.weight": sd[R_WPE]}
    for i in range(s.n_layer):
        r, h = R_BLOCK.format(i=i), f"transformer.h.{i}."
        for rn, hn in ((R_LN_1, "ln_1"), (R_LN_2, "ln_2")):
            w = sd[r + rn + ".weight"]
            out[h + hn + ".weight"] = w
            out[h + hn + ".bias"] = _with_bias(sd, r + rn + ".bias", w.shape[0], w)
        for rn, hn in ((R_QKV, "attn.c_attn"), (R_ATTN_OUT, "attn.c_proj"), (R_FC, "mlp.c_fc"),
                       (R_MLP_OUT, "mlp.c_proj")):
            w = sd[r + rn + ".weight"]  # (out, in)
            out[h + hn + ".weight"] = w.t().contiguous()  # Conv1D: (in, out)
            out[h + hn + ".bias"] = _with_bias(sd, r + rn + ".bias", w.shape[0], w)
    w = sd[R_LN_F + ".weight"]
    out["transformer.ln_f.weight"] = w
    out["transformer.ln_f.bias"] = _with_bias(sd, R_LN_F + ".bias", w.shape[0], w)
    if not s.tied:
        out["lm_head.weight"] = sd[R_HEAD]
    return out


def _gpt2_from_hf(hf: Tensors, s: DecoderShape) -> Tensors:
    out = {R_WTE: hf["transformer.wte.weight"], R_WPE: hf["transformer.wpe.weight"]}
    for i in range(s.n_layer):
        r, h = R_BLOCK.format(i=i), f"transformer.h.{i}."
        for rn, hn in ((R_LN_1, "ln_1"), (R_LN_2, "ln_2")):
            out[r + rn + ".weight"], out[r + rn + ".bias"] = hf[h + hn + ".weight"], hf[h + hn + ".bias"]
        for rn, hn in ((R_QKV, "attn.c_attn"), (R_ATTN_OUT, "attn.c_proj"), (R_FC, "mlp.c_fc"),
                       (R_MLP_OUT, "mlp.c_proj")):
            out[r + rn + ".weight"] = hf[h + hn + ".weight"].t().contiguous()
            out[r + rn + ".bias"] = hf[h + hn + ".bias"]
    out[R_LN_F + ".weight"], out[R_LN_F + ".bias"] = hf["transformer.ln_f.weight"], hf["transformer.ln_f.bias"]
    out[R_HEAD] = hf["transformer.wte.weight"] if s.tied else hf["lm_head.weight"]
    return out


# ---------------------------------------------------------------------------------------- Llama


def _llama_problems(s: DecoderShape) -> list[str]:
    cls = "LlamaForCausalLM"
    out = _need(s, "positions", "rope", s.positions, cls) + _need(s, "norm", "rmsnorm", s.norm, cls)
    out += _need(s, "mlp", "swiglu", s.mlp, cls)
    if s.n_head % s.n_kv_head:
        out.append(f"{cls} needs n_head divisible by n_kv_head (the model has {s.n_head}, {s.n_kv_head})")
    return out


def _llama_config(s: DecoderShape, ids: SpecialIds) -> dict[str, Any]:
    return {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": s.vocab_size,
        "hidden_size": s.d_model, "intermediate_size": s.d_ff, "num_hidden_layers": s.n_layer,
        "num_attention_heads": s.n_head, "num_key_value_heads": s.n_kv_head, "head_dim": s.head_dim,
        "max_position_embeddings": s.context, "hidden_act": "silu", "rms_norm_eps": s.norm_eps,
        # both spellings: transformers 5 reads rope_parameters, older readers (llama.cpp, vLLM) rope_theta
        "rope_parameters": {"rope_type": "default", "rope_theta": s.rope_theta}, "rope_theta": s.rope_theta,
        "attention_bias": s.bias, "mlp_bias": s.bias, "attention_dropout": 0.0,
        "tie_word_embeddings": s.tied, "bos_token_id": ids.bos, "eos_token_id": ids.eos,
        "pad_token_id": ids.pad, "torch_dtype": "float32",
    }


def _llama_shape(c: dict[str, Any]) -> DecoderShape:
    if c.get("hidden_act", "silu") != "silu":
        raise UserError(f"Llama hidden_act={c['hidden_act']!r} has no roots equivalent (roots SwiGLU is silu)")
    rope = c.get("rope_parameters") or c.get("rope_scaling") or {}
    if rope.get("rope_type", rope.get("type", "default")) != "default":
        raise UserError(f"Llama rope_type={rope.get('rope_type', rope.get('type'))!r} (RoPE scaling) has no "
                        "roots equivalent")
    if c.get("attention_bias", False) != c.get("mlp_bias", False):
        raise UserError("Llama attention_bias != mlp_bias: roots has one `bias` switch for both")
    n_head = c["num_attention_heads"]
    return DecoderShape(
        vocab_size=c["vocab_size"], n_layer=c["num_hidden_layers"], n_head=n_head,
        n_kv_head=c.get("num_key_value_heads") or n_head, d_model=c["hidden_size"],
        d_ff=c["intermediate_size"], context=c.get("max_position_embeddings", 2048), positions="rope",
        norm="rmsnorm", mlp="swiglu", gelu_approx="tanh", bias=bool(c.get("attention_bias", False)),
        tied=c.get("tie_word_embeddings", False), norm_eps=c.get("rms_norm_eps", 1e-6),
        rope_theta=rope.get("rope_theta", c.get("rope_theta", 10000.0)),
        head_dim=c.get("head_dim") or c["hidden_size"] // n_head)


_LLAMA_ATTN = ("q_proj", "k_proj", "v_proj")


def _llama_to_hf(sd: Tensors, s: DecoderShape) -> Tensors:
    out = {"model.embed_tokens.weight": sd[R_WTE], "model.norm.weight": sd[R_LN_F + ".weight"]}
    for i in range(s.n_layer):
        r, h = R_BLOCK.format(i=i), f"model.layers.{i}."
        out[h + "input_layernorm.weight"] = sd[r + R_LN_1 + ".weight"]
        out[h + "post_attention_layernorm.weight"] = sd[r + R_LN_2 + ".weight"]
        for kind in ("weight", "bias") if s.bias else ("weight",):
            for name, part in zip(_LLAMA_ATTN, _split_qkv(sd[f"{r}{R_QKV}.{kind}"], s)):
                out[f"{h}self_attn.{name}.{kind}"] = part.contiguous()
            out[f"{h}self_attn.o_proj.{kind}"] = sd[f"{r}{R_ATTN_OUT}.{kind}"]
            gate, up = sd[f"{r}{R_FC}.{kind}"].chunk(2, dim=0)
            out[f"{h}mlp.gate_proj.{kind}"], out[f"{h}mlp.up_proj.{kind}"] = gate.contiguous(), up.contiguous()
            out[f"{h}mlp.down_proj.{kind}"] = sd[f"{r}{R_MLP_OUT}.{kind}"]
    if not s.tied:
        out["lm_head.weight"] = sd[R_HEAD]
    return out


def _llama_from_hf(hf: Tensors, s: DecoderShape) -> Tensors:
    out = {R_WTE: hf["model.embed_tokens.weight"], R_LN_F + ".weight": hf["model.norm.weight"]}
    for i in range(s.n_layer):
        r, h = R_BLOCK.format(i=i), f"model.layers.{i}."
        out[r + R_LN_1 + ".weight"] = hf[h + "input_layernorm.weight"]
        out[r + R_LN_2 + ".weight"] = hf[h + "post_attention_layernorm.weight"]
        for kind in ("weight", "bias") if s.bias else ("weight",):
            out[f"{r}{R_QKV}.{kind}"] = torch.cat([hf[f"{h}self_attn.{n}.{kind}"] for n in _LLAMA_ATTN])
            out[f"{r}{R_ATTN_OUT}.{kind}"] = hf[f"{h}self_attn.o_proj.{kind}"]
            out[f"{r}{R_FC}.{kind}"] = torch.cat([hf[f"{h}mlp.gate_proj.{kind}"], hf[f"{h}mlp.up_proj.{kind}"]])
            out[f"{r}{R_MLP_OUT}.{kind}"] = hf[f"{h}mlp.down_proj.{kind}"]
    out[R_HEAD] = hf["model.embed_tokens.weight"] if s.tied else hf["lm_head.weight"]
    return out


ARCHITECTURES: dict[str, Architecture] = {
    "gpt2": Architecture("gpt2", "GPT2LMHeadModel", "AutoModelForCausalLM", "decoder", _gpt2_problems,
                         _gpt2_config, _gpt2_shape, _gpt2_to_hf, _gpt2_from_hf),
    "llama": Architecture("llama", "LlamaForCausalLM", "AutoModelForCausalLM", "decoder", _llama_problems,
                          _llama_config, _llama_shape, _llama_to_hf, _llama_from_hf),
}


def choose(shape: DecoderShape, family: str = "decoder") -> Architecture:
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


def from_model_type(model_type: str) -> Architecture:
    for arch in ARCHITECTURES.values():
        if arch.name == model_type:
            return arch
    raise UserError(f"cannot import Hugging Face model_type {model_type!r}; roots imports "
                    f"{', '.join(a.hf_class for a in ARCHITECTURES.values())}")

