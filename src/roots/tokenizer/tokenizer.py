"""`Tokenizer`: roots' one tokenizer type, a thin wrapper over an HF `tokenizers.Tokenizer`.

Saved as a folder: `tokenizer.json` (plain HF format, loadable by `tokenizers.Tokenizer.from_file` and
`transformers.PreTrainedTokenizerFast`), `tokenizer_config.json` (so `AutoTokenizer` knows the special
tokens) and `meta.json` (format "roots.tokenizer": kind, vocab size, special token ids, sha256 of
tokenizer.json, the training corpus and its run record).

Text is always text: a document that happens to contain "<|endoftext|>" is encoded as those characters,
never as the EOS id, so only roots itself places separators in token streams.
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from roots.common.errors import UserError, missing_extra
from roots.common.io import atomic_write, read_json, write_json
from roots.common.records import artifact_meta
from roots.tokenizer.kinds import BUILDERS, KINDS, ROLES, TrainOptions, sentinel_token
from roots.tokenizer.sources import iter_texts, source_record

FORMAT = "roots.tokenizer"
FORMAT_VERSION = 1


def _hf():
    try:
        import tokenizers
    except ImportError as e:
        raise missing_extra("tokenizers", "tokenize") from e
    return tokenizers


class Tokenizer:
    """Encode/decode text with a trained HF tokenizer and know its special token ids."""

    def __init__(self, hf_tokenizer: Any, kind: str, meta: dict[str, Any] | None = None):
        self.hf = hf_tokenizer
        self.hf.encode_special_tokens = True  # see module docstring: text never yields special ids
        self.kind = kind
        self.meta = meta or {}
        roles = ROLES.get(kind) or _guess_roles(hf_tokenizer)
        self.special_tokens = {role: tok for role, tok in roles.items() if hf_tokenizer.token_to_id(tok)
                               is not None}
        self.sentinel_ids = _sentinel_ids(hf_tokenizer)

    # ------------------------------------------------------------------------------------ training

    @classmethod
    def train(cls, source: str | os.PathLike | Iterable[str | os.PathLike] | Iterable[str],
              kind: str = "bpe", vocab_size: int = 8192, *, min_frequency: int = 2, pattern: str = "gpt2",
              lowercase: bool = False, sentinels: int = 100, max_bytes: int = 0,
              show_progress: bool = False) -> Tokenizer:
        """Train a tokenizer of `kind` on a corpus folder/file(s) or on an iterable of texts.

        `max_bytes` caps the training text (0 = all of it); skipped input (empty documents, invalid
        UTF-8) is counted in `meta["training"]["skipped"]`.
        """
        if kind not in KINDS:
            raise UserError(f"unknown tokenizer kind {kind!r}; choose one of {', '.join(KINDS)}")
        if pattern not in ("gpt2", "llama3"):
            raise UserError(f"unknown pre-tokenization pattern {pattern!r}; choose gpt2 or llama3")
        if vocab_size < 2:
            raise UserError(f"vocab size must be at least 2, got {vocab_size}")
        _hf()
        options = TrainOptions(vocab_size=vocab_size, min_frequency=min_frequency, pattern=pattern,
                               lowercase=lowercase, sentinels=sentinels if kind == "unigram" else 0,
                               show_progress=show_progress)
        skipped: Counter = Counter()
        stats: Counter = Counter()
        if isinstance(source, (str, os.PathLike)) or _is_path_list(source):
            texts = iter_texts(source, skipped, max_bytes=max_bytes, stats=stats)
            training: dict[str, Any] = {"source": source_record(source)}
        else:
            texts = _counted(source, stats, max_bytes)
            training = {"source": "python iterable"}
        try:
            hf = BUILDERS[kind](texts, options)
        except Exception as e:  # HF raises plain Exceptions for impossible settings
            if "not large enough" not in str(e):
                raise
            raise UserError(f"vocab size {vocab_size} is too small for this corpus ({e}); the {kind} "
                            "tokenizer needs every distinct character: raise --vocab-size") from e
        if stats["documents"] == 0:
            raise UserError("no training text: every input document was empty or unreadable "
                            f"(skipped: {dict(skipped) or 'nothing'})")
        training.update(documents=stats["documents"], bytes=stats["bytes"], skipped=dict(skipped),
                        options={k: v for k, v in vars(options).items() if k != "show_progress"})
        return cls(hf, kind, {"training": training})

    # ---------------------------------------------------------------------------------- save / load

    def save(self, directory: str | os.PathLike) -> Path:
        """Write tokenizer.json, tokenizer_config.json and meta.json (each atomically) into `directory`."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        text = self.hf.to_str(pretty=True)
        with atomic_write(directory / "tokenizer.json") as f:
            f.write(text)
        write_json(directory / "tokenizer_config.json", self._transformers_config())
        self.meta = artifact_meta(
            FORMAT, FORMAT_VERSION, kind=self.kind, vocab_size=self.vocab_size,
            special_tokens={role: {"token": tok, "id": self.hf.token_to_id(tok)}
                            for role, tok in self.special_tokens.items()},
            sentinel_ids=self.sentinel_ids,
            tokenizer_sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
            training=self.meta.get("training"),
        )
        write_json(directory / "meta.json", self.meta)
        return directory

    @classmethod
    def load(cls, directory: str | os.PathLike) -> Tokenizer:
        """Load a roots tokenizer folder, or any folder/file holding an HF tokenizer.json."""
        path = Path(directory)
        file = path if path.is_file() else path / "tokenizer.json"
        if not file.is_file():
            raise UserError(f"no tokenizer.json in {path}; train one with `roots tokenizer train`")
        try:
            hf = _hf().Tokenizer.from_file(str(file))
        except Exception as e:  # the Rust side raises a plain Exception on malformed JSON
            raise UserError(f"{file} is not a valid HF tokenizer.json: {e}") from e
        meta_path = file.parent / "meta.json"
        meta = read_json(meta_path) if meta_path.is_file() else {}
        kind = meta.get("kind", "external") if meta.get("format") == FORMAT else "external"
        return cls(hf, kind, meta)

    # --------------------------------------------------------------------------------- encode/decode

    def encode(self, text: str) -> list[int]:
        """Token ids of `text`, without BOS/EOS/[CLS] (roots adds separators itself)."""
        return self.hf.encode(text, add_special_tokens=False).ids

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        """Token ids of many texts, encoded in parallel by HF's Rust threads."""
        return [e.ids for e in self.hf.encode_batch_fast(texts, add_special_tokens=False)]

    def decode(self, ids: Iterable[int], skip_special_tokens: bool = True) -> str:
        return self.hf.decode(list(ids), skip_special_tokens=skip_special_tokens)

    def decode_batch(self, batch: list[list[int]], skip_special_tokens: bool = True) -> list[str]:
        return self.hf.decode_batch(batch, skip_special_tokens=skip_special_tokens)

    def token_to_id(self, token: str) -> int | None:
        return self.hf.token_to_id(token)

    def id_to_token(self, i: int) -> str | None:
        return self.hf.id_to_token(i)

    # --------------------------------------------------------------------------------- special ids

    @property
    def vocab_size(self) -> int:
        """Size of the id space, added tokens included (the model's embedding rows)."""
        return self.hf.get_vocab_size(with_added_tokens=True)

    def _role_id(self, role: str) -> int | None:
        tok = self.special_tokens.get(role)
        return None if tok is None else self.hf.token_to_id(tok)

    @property
    def eos_id(self) -> int | None:
        return self._role_id("eos")

    @property
    def bos_id(self) -> int | None:
        return self._role_id("bos")

    @property
    def pad_id(self) -> int | None:
        return self._role_id("pad")

    @property
    def unk_id(self) -> int | None:
        return self._role_id("unk")

    @property
    def mask_id(self) -> int | None:
        return self._role_id("mask")

    @property
    def cls_id(self) -> int | None:
        return self._role_id("cls")

    @property
    def sep_id(self) -> int | None:
        return self._role_id("sep")

    def __repr__(self) -> str:
        return f"Tokenizer(kind={self.kind!r}, vocab_size={self.vocab_size}, eos_id={self.eos_id})"

    def _transformers_config(self) -> dict[str, Any]:
        """tokenizer_config.json: lets `transformers.AutoTokenizer.from_pretrained(dir)` set its specials."""
        config: dict[str, Any] = {"tokenizer_class": "PreTrainedTokenizerFast", "clean_up_tokenization_spaces": False}
        for role in ("bos", "eos", "pad", "unk", "mask", "cls", "sep"):
            if role in self.special_tokens:
                config[f"{role}_token"] = self.special_tokens[role]
        if self.sentinel_ids:
            config["additional_special_tokens"] = [self.hf.id_to_token(i) for i in self.sentinel_ids]
        return config


def _guess_roles(hf_tokenizer: Any) -> dict[str, str]:
    """Special-token roles of a tokenizer.json that roots did not train, from the usual spellings."""
    candidates = {
        "eos": ["<|endoftext|>", "</s>", "<|end_of_text|>", "[SEP]", "<eos>"],
        "bos": ["<s>", "<|begin_of_text|>", "<bos>"],
        "pad": ["<pad>", "[PAD]", "<|pad|>"],
        "unk": ["<unk>", "[UNK]"],
        "mask": ["[MASK]", "<mask>"],
        "cls": ["[CLS]"],
        "sep": ["[SEP]"],
    }
    roles = {}
    for role, names in candidates.items():
        for name in names:
            if hf_tokenizer.token_to_id(name) is not None:
                roles[role] = name
                break
    return roles


def _sentinel_ids(hf_tokenizer: Any) -> list[int]:
    """Ids of <extra_id_0>, <extra_id_1>, ... (T5's span-corruption sentinels), in sentinel order."""
    ids = []
    while (i := hf_tokenizer.token_to_id(sentinel_token(len(ids)))) is not None:
        ids.append(i)
    return ids


def _is_path_list(source: Any) -> bool:
    return isinstance(source, (list, tuple)) and bool(source) and all(
        isinstance(s, os.PathLike) or (isinstance(s, str) and os.path.exists(s)) for s in source)


def _counted(texts: Iterable[str], stats: Counter, max_bytes: int):
    for text in texts:
        stats["documents"] += 1
        stats["bytes"] += len(text.encode("utf-8"))
        yield text
        if max_bytes and stats["bytes"] >= max_bytes:
            return


def tokenizer_sha256(directory: str | os.PathLike) -> str:
    """sha256 of a tokenizer folder's tokenizer.json bytes (what token shards record)."""
    return hashlib.sha256((Path(directory) / "tokenizer.json").read_bytes()).hexdigest()

