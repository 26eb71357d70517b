"""`roots export hf` and `roots import hf`: roots checkpoints <-> Hugging Face model folders.

Export writes a folder `transformers` loads offline (decoders: `AutoModelForCausalLM`, encoders:
`AutoModelForPreTraining`, encoder-decoders: `AutoModelForSeq2SeqLM`): config.json, model.safetensors,
tokenizer.json + tokenizer_config.json (with the chat template), generation_config.json (not for
encoders), a README.md model card (training data recipe and metrics from the run record) and roots' meta.json. The
folder is assembled next to OUT and renamed into place (a remote OUT, `s3://...`, is uploaded file by file
with run.json last), and by default reloaded with `transformers` to
check that its logits equal roots' before the command reports success.

Import reads a local Hugging Face folder of a supported architecture (no hub access) into a roots
checkpoint folder for fine-tuning, evaluation and serving.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from roots.common.errors import UserError, missing_extra
from roots.common.io import (
    apply_umask,
    atomic_write,
    exists,
    is_remote,
    join,
    list_files,
    read_json,
    redact,
    remove,
    upload,
    write_json,
)
from roots.common.records import artifact_meta, write_run_record
from roots.export.architectures import ARCHITECTURES, Architecture, ModelShape, choose
from roots.tokenizer.special import SpecialIds

FORMAT = "roots.hf_export"
FORMAT_VERSION = 1


@dataclass
class ExportConfig:
    """`roots export hf`: a roots checkpoint as a Hugging Face `transformers` model folder."""

    model: str = field(metadata={"help": "roots checkpoint folder or training run folder"})
    output: str = field(metadata={"help": "folder (or s3://, gs://... URL) to create; must not exist unless --overwrite"})
    tokenizer: str | None = field(default=None, metadata={"help": "tokenizer folder (default: the run's)"})
    chat_template: str | None = field(default=None, metadata={"help": "Jinja file (default: roots' own)"})
    verify: bool = field(default=True, metadata={"help": "reload with transformers and compare logits"})
    overwrite: bool = False


@dataclass
class ImportConfig:
    """`roots import hf`: a local Hugging Face model folder as a roots checkpoint."""

    input: str = field(metadata={"help": "Hugging Face model folder (config.json + safetensors)"})
    output: str = field(metadata={"help": "roots checkpoint folder to create"})
    overwrite: bool = False


# ------------------------------------------------------------------------------------------ export


def hf_state_dict(model: torch.nn.Module) -> tuple[Architecture, ModelShape, dict[str, torch.Tensor]]:
    """The Hugging Face architecture and weights of a roots model (refusing inexact conversions)."""
    shape = ModelShape.of(model.config)
    arch = choose(shape, model.config.arch)
    state = {k: v.detach().to("cpu", torch.float32) for k, v in model.state_dict().items()}
    return arch, shape, arch.to_hf(state, shape)


def to_transformers(model: torch.nn.Module, ids: SpecialIds | None = None) -> Any:
    """The `transformers` model equal to a roots model, built in memory through the export mapping."""
    transformers = _transformers()
    arch, shape, tensors = hf_state_dict(model)
    config = transformers.AutoConfig.for_model(**arch.hf_config(shape, ids or SpecialIds(eos=None)))
    hf = getattr(transformers, arch.hf_class)(config).eval()
    missing, unexpected = hf.load_state_dict(tensors, strict=False)
    if unexpected or set(missing) - set(arch.aliases):
        raise RuntimeError(f"{arch.hf_class} mapping is stale: missing {missing}, unexpected {unexpected}")
    return hf


def export_hf(model: torch.nn.Module, tokenizer_dir: str | os.PathLike, out: str | os.PathLike,
              chat_template: str | None = None, card: str = "",
              meta: dict[str, Any] | None = None) -> Architecture:
    """Write the Hugging Face folder of `model` + tokenizer into `out` (created; parents too)."""
    from safetensors.torch import save

    from roots.export.tokenizer import export_tokenizer

    arch, shape, tensors = hf_state_dict(model)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    from roots.tokenizer.tokenizer import Tokenizer

    tokenizer = Tokenizer.load(tokenizer_dir)
    if tokenizer.eos_id is None and arch.family != "encoder":
        raise UserError(f"tokenizer {tokenizer_dir} has no EOS token; roots models need one")
    if tokenizer.vocab_size > shape.vocab_size:
        raise UserError(f"tokenizer {tokenizer_dir} has {tokenizer.vocab_size} tokens but the model only "
                        f"{shape.vocab_size}: they do not belong together")
    ids = export_tokenizer(tokenizer_dir, out, shape.block_size, chat_template)
    with atomic_write(out / "model.safetensors", "wb") as f:
        f.write(save({k: v.contiguous() for k, v in tensors.items()}, metadata={"format": "pt"}))
    write_json(out / "config.json", arch.hf_config(shape, ids))
    if arch.family != "encoder":  # an encoder does not generate
        write_json(out / "generation_config.json", _generation_config(ids, shape.block_size, arch.family))
    with atomic_write(out / "README.md") as f:
        f.write(card or model_card(arch, shape, {}))
    write_json(out / "meta.json", artifact_meta(FORMAT, FORMAT_VERSION, architecture=arch.hf_class,
                                                **(meta or {})))
    return arch


def _generation_config(ids: SpecialIds, context: int, family: str) -> dict[str, Any]:
    config = {"bos_token_id": ids.bos, "eos_token_id": ids.eos, "pad_token_id": ids.pad,
              "max_length": context, "do_sample": False}
    if family == "encoder-decoder":  # greedy decoding as roots' Seq2SeqModel.generate does it
        config.update(decoder_start_token_id=ids.pad, forced_bos_token_id=None, forced_eos_token_id=None)
    return config


def verify_export(model: torch.nn.Module, out: str | os.PathLike, n_tokens: int = 16) -> float:
    """Max |logit difference| between roots and the exported folder loaded by `transformers`."""
    transformers = _transformers()
    family = model.config.arch
    auto_class = choose(ModelShape.of(model.config), family).auto_class
    hf = getattr(transformers, auto_class).from_pretrained(str(out), dtype=torch.float32).eval()
    cfg = model.config
    x = torch.randint(0, cfg.vocab_size, (2, min(n_tokens, cfg.block_size)),
                      generator=torch.Generator().manual_seed(0))
    device = next(model.parameters()).device
    with torch.no_grad():
        if family == "encoder":
            mlm, nsp = model(x.to(device))
            ref = hf(input_ids=x)
            pairs = [(mlm, ref.prediction_logits), (nsp, ref.seq_relationship_logits)]
        elif family == "encoder-decoder":
            y = x.flip(1)
            pairs = [(model(x.to(device), y.to(device)), hf(input_ids=x, decoder_input_ids=y).logits)]
        else:
            pairs = [(model(x.to(device)), hf(x).logits)]
    return max((ours.float().cpu() - theirs.float()).abs().max().item() for ours, theirs in pairs)


def run_export(config: ExportConfig) -> int:
    from roots.model.io import open_run

    remote = is_remote(config.output)
    out = Path(config.output) if not remote else None
    if remote:
        if exists(join(config.output, "config.json")) and not config.overwrite:
            raise UserError(f"{redact(config.output)} already holds an export; pass --overwrite to replace it")
    elif out.exists() and any(out.iterdir()) and not config.overwrite:
        raise UserError(f"{out} exists and is not empty; pass --overwrite to replace it")
    run = open_run(config.model, config.tokenizer, device="cpu")
    model, checkpoint, run_dir, tok_dir = run.model, run.checkpoint, run.run_dir, run.tokenizer_path
    template = Path(config.chat_template).read_text(encoding="utf-8") if config.chat_template else None
    arch = choose(ModelShape.of(model.config), model.config.arch)
    card = model_card(arch, ModelShape.of(model.config), run_summary(checkpoint, run_dir))
    # assemble beside OUT and rename, so OUT is either the old folder or a complete export; a remote OUT is
    # assembled in a local temp folder and uploaded file by file, run.json last (docs/remote.md)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent if out is not None else None,
                                prefix=f".{out.name}." if out is not None else "roots-export-"))
    try:
        export_hf(model, tok_dir, tmp, template, card,
                  meta={"source_checkpoint": str(checkpoint), "tokenizer_dir": str(tok_dir)})
        write_run_record(tmp, "export_hf", config)
        diff = verify_export(model, tmp) if config.verify else None
        if diff is not None and diff > 1e-3:
            raise UserError(f"exported logits differ from roots' by {diff:.2e}; export not written")
        if remote:
            publish_remote(tmp, config.output)
        else:
            if out.exists():
                shutil.rmtree(out)
            apply_umask(tmp)  # mkdtemp and safetensors make 0700/0600
            os.replace(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    checked = f", logits match (max |diff| {diff:.1e})" if diff is not None else ""
    print(f"exported {checkpoint} as {arch.hf_class}{checked} -> {redact(str(config.output))}")
    return 0


def publish_remote(folder: Path, url: str) -> None:
    """Upload a complete export folder to `url`: every object appears whole (one PUT each), and run.json goes
    last, so a reader that finds run.json finds a complete export; files of an older export that the new one
    lacks are removed first."""
    stale = set(list_files(url)) if exists(url) else set()
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    targets = {p: join(url, *p.relative_to(folder).parts) for p in files}
    remove(join(url, "run.json"))
    for target in stale - set(targets.values()):
        remove(target)
    for p in sorted(files, key=lambda p: p.name == "run.json"):
        upload(p, targets[p])


# -------------------------------------------------------------------------------------- model card


def run_summary(checkpoint: Path, run_dir: Path | None) -> dict[str, Any]:
    """What the run recorded: run.json, the token shards' meta (and through it the curation run), the last
    evaluated metrics and the checkpoint's state."""
    summary: dict[str, Any] = {}
    if run_dir is None:
        return summary
    for name, key in (("run.json", "run"), ("data_meta.json", "data")):
        if (run_dir / name).is_file():
            summary[key] = read_json(run_dir / name)
    if (run_dir / "metrics.jsonl").is_file():
        text = (run_dir / "metrics.jsonl").read_text()
        rows = [json.loads(line) for line in text.splitlines() if line.strip()]
        evaluated = [r for r in rows if any(k.startswith("val") for k in r)]
        summary["metrics"] = (evaluated or rows or [{}])[-1]
    if (checkpoint / "state.json").is_file():
        state = read_json(checkpoint / "state.json")
        summary["state"] = {k: v for k, v in state.items()
                            if isinstance(v, (int, float)) and k not in ("format_version", "world_size")}
    return summary


def model_card(arch: Architecture, shape: ModelShape, summary: dict[str, Any]) -> str:
    """README.md: Hugging Face front matter, architecture, training data recipe, metrics, usage."""
    run, data = summary.get("run", {}), summary.get("data", {})
    pipeline, kind, usage = _FAMILY_CARD[arch.family]
    if arch.family == "encoder-decoder":
        kind = f"{kind} ({shape.n_decoder_layer} decoder layers)"
    lines = ["---", "library_name: transformers", f"pipeline_tag: {pipeline}",
             f"tags: [roots, {arch.name}]", "---", "", "# roots model", "",
             f"A {shape.n_layer}-layer, {shape.n_embd}-wide {kind} trained with roots, exported as "
             f"`{arch.hf_class}` (context {shape.block_size} tokens, vocabulary {shape.vocab_size}, "
             f"{shape.positions} positions, {shape.norm}, {shape.mlp}).", "", "## Training data", ""]
    if data:
        source = data.get("source") or {}
        lines.append(f"- token shards: `{data.get('path')}` ({data.get('dtype')}, tokenizer sha256 "
                     f"`{str(data.get('tokenizer_sha256'))[:12]}`)")
        for split, info in (data.get("splits") or {}).items():
            lines.append(f"- {split}: {info.get('tokens'):,} tokens in {info.get('documents'):,} documents")
        if source.get("path"):
            lines.append(f"- source corpus: `{source['path']}`")
        recipe = (source.get("run") or {}).get("config")
        if recipe:
            lines += ["", "Curation recipe (from the corpus run record):", "", "```yaml",
                      *_yaml_lines(recipe), "```"]
    else:
        lines.append("No training run record was found next to the checkpoint; the data recipe is unknown.")
    lines += ["", "## Metrics", ""]
    metrics = {**summary.get("state", {}), **summary.get("metrics", {})}
    if metrics:
        lines += ["| metric | value |", "|---|---|"] + [f"| {k} | {v} |" for k, v in metrics.items()]
        lines.append("\nLosses are mean cross-entropy in nats/token.")
    else:
        lines.append("No metrics were recorded.")
    if run:
        lines += ["", "## Training run", "",
                  f"- roots {run.get('roots_version')} (git {run.get('git_sha')}), {run.get('created')}",
                  f"- command: `{' '.join(run.get('command') or [])}`",
                  "", "```yaml", *_yaml_lines(run.get("config") or {}), "```"]
    lines += ["", "## Usage", "", "```python", *usage, "```", ""]
    return "\n".join(lines)


_FAMILY_CARD: dict[str, tuple[str, str, list[str]]] = {  # pipeline tag, description, usage lines
    "decoder": ("text-generation", "decoder", [
        "from transformers import AutoModelForCausalLM, AutoTokenizer",
        "tok = AutoTokenizer.from_pretrained(PATH)",
        "model = AutoModelForCausalLM.from_pretrained(PATH)",
        "# roots models see EOS at every document start",
        "ids = tok(tok.eos_token + 'Once upon a time', return_tensors='pt').input_ids",
        "print(tok.decode(model.generate(ids, max_new_tokens=32)[0]))"]),
    "encoder": ("fill-mask", "BERT-style encoder", [
        "from transformers import AutoModelForPreTraining, AutoTokenizer",
        "tok = AutoTokenizer.from_pretrained(PATH)",
        "model = AutoModelForPreTraining.from_pretrained(PATH)",
        "out = model(**tok('Once upon a time', return_tensors='pt'))",
        "print(out.prediction_logits.shape)  # masked-LM logits; out.seq_relationship_logits: NSP"]),
    "encoder-decoder": ("text2text-generation", "BART-style encoder-decoder", [
        "from transformers import AutoModelForSeq2SeqLM, AutoTokenizer",
        "tok = AutoTokenizer.from_pretrained(PATH)",
        "model = AutoModelForSeq2SeqLM.from_pretrained(PATH)",
        "ids = tok('Once upon a time', return_tensors='pt').input_ids",
        "print(tok.decode(model.generate(ids, max_new_tokens=32)[0], skip_special_tokens=True))"]),
}


def _yaml_lines(data: dict[str, Any]) -> list[str]:
    import yaml

    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True).splitlines()


# ------------------------------------------------------------------------------------------ import


def _transformers() -> Any:
    try:
        import transformers
    except ImportError as e:
        raise missing_extra("transformers", "hf") from e
    return transformers


def read_hf_weights(folder: Path) -> dict[str, torch.Tensor]:
    """All tensors of a Hugging Face folder: model.safetensors, sharded safetensors, or pytorch_model.bin."""
    from safetensors.torch import load_file

    if (folder / "model.safetensors").is_file():
        return load_file(str(folder / "model.safetensors"))
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        tensors: dict[str, torch.Tensor] = {}
        for shard in sorted(set(read_json(index)["weight_map"].values())):
            tensors.update(load_file(str(folder / shard)))
        return tensors
    if (folder / "pytorch_model.bin").is_file():
        return torch.load(folder / "pytorch_model.bin", map_location="cpu", weights_only=True)
    raise UserError(f"{folder}: no model.safetensors, sharded safetensors or pytorch_model.bin")


# buffers some transformers versions saved alongside the weights; they carry no learned values
_IGNORED_SUFFIXES = (".attn.bias", ".attn.masked_bias", "rotary_emb.inv_freq")


def import_hf(folder: str | os.PathLike) -> torch.nn.Module:
    """The roots model (decoder, BERT encoder or BART encoder-decoder) of a local Hugging Face folder."""
    from roots.model.build import build_model

    folder = Path(folder)
    if not (folder / "config.json").is_file():
        raise UserError(f"{folder}: no config.json; expected a Hugging Face model folder")
    hf_config = read_json(folder / "config.json")
    model_type = hf_config.get("model_type")
    arch = ARCHITECTURES.get(model_type or "")
    if arch is None:
        raise UserError(f"{folder}: cannot import model_type {model_type!r}; roots imports "
                        f"{', '.join(sorted(ARCHITECTURES))}")
    shape = arch.shape_from_hf(hf_config)
    hf = {k: v.to(torch.float32) for k, v in read_hf_weights(folder).items()
          if not k.endswith(_IGNORED_SUFFIXES)}
    try:
        state = arch.from_hf(hf, shape)
    except KeyError as e:
        raise UserError(f"{folder}: weight {e.args[0]} is missing for {arch.hf_class}") from e
    used = set(arch.to_hf(state, shape))
    unused = sorted(set(hf) - used - set(arch.aliases))
    if unused:
        raise UserError(f"{folder}: weights roots has no place for: {unused[:5]}")
    model = build_model(shape.model_config())
    if shape.tie_embeddings:
        state.pop("lm_head.weight", None)
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not (shape.tie_embeddings and k == "lm_head.weight")]
    if missing or unexpected:
        raise UserError(f"{folder}: weights do not fit the roots model (missing {missing}, "
                        f"unexpected {unexpected})")
    return model.eval()


def run_import(config: ImportConfig) -> int:
    from roots.model.io import save_model
    from roots.tokenizer.tokenizer import Tokenizer

    src, out = Path(config.input), Path(config.output)
    if out.exists() and any(out.iterdir()) and not config.overwrite:
        raise UserError(f"{out} exists and is not empty; pass --overwrite to replace it")
    model = import_hf(src)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}."))
    try:
        save_model(model, tmp)
        if (src / "tokenizer.json").is_file():  # evaluation and serving find it at CHECKPOINT/tokenizer
            Tokenizer.load(src).save(tmp / "tokenizer")
        write_run_record(tmp, "import_hf", config, source_config=read_json(src / "config.json"))
        if out.exists():
            shutil.rmtree(out)
        apply_umask(tmp)  # mkdtemp and safetensors make 0700/0600
        os.replace(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    n = sum(p.numel() for p in model.parameters())
    print(f"imported {src} ({n / 1e6:.2f}M parameters) -> {out}")
    return 0
