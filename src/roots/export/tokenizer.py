"""Export a roots tokenizer so `transformers.AutoTokenizer.from_pretrained(DIR)` loads it unchanged.

The tokenizer.json is copied byte for byte (same merges, normalizer and pre-tokenizer, so ids are
identical); tokenizer_config.json names the special tokens and carries the chat template roots trains
and serves with. One difference is by design: roots encodes a literal "<|endoftext|>" inside a document
as characters, while `transformers` turns it into the special id (which is what chat templates need).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from roots.common.io import write_json
from roots.tokenizer.chat import DEFAULT_CHAT_TEMPLATE
from roots.tokenizer.special import SpecialIds
from roots.tokenizer.tokenizer import Tokenizer


def tokenizer_config(tokenizer: Tokenizer, context: int, chat_template: str | None = None) -> dict[str, Any]:
    """tokenizer_config.json for `PreTrainedTokenizerFast`: special tokens, length limit, chat template."""
    ids = SpecialIds.from_tokenizer(tokenizer)
    config: dict[str, Any] = {"tokenizer_class": "PreTrainedTokenizerFast", "clean_up_tokenization_spaces": False}
    for role in ("bos", "eos", "pad", "unk", "mask", "cls", "sep"):
        if role in tokenizer.special_tokens:
            config[f"{role}_token"] = tokenizer.special_tokens[role]
    for role, i in (("bos", ids.bos), ("pad", ids.pad)):  # EOS standing in for a missing BOS / pad
        if i is not None:
            config.setdefault(f"{role}_token", tokenizer.id_to_token(i))
    if tokenizer.sentinel_ids:
        config["additional_special_tokens"] = [tokenizer.id_to_token(i) for i in tokenizer.sentinel_ids]
    config.update(model_max_length=context, chat_template=chat_template or DEFAULT_CHAT_TEMPLATE,
                  padding_side="left")  # left padding keeps batched generation's prompts flush right
    return config


def export_tokenizer(tokenizer_dir: str | os.PathLike, out: str | os.PathLike, context: int,
                     chat_template: str | None = None) -> SpecialIds:
    """Write OUT/tokenizer.json and OUT/tokenizer_config.json; return the special ids the model announces."""
    tokenizer = Tokenizer.load(tokenizer_dir)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    source = Path(tokenizer_dir)
    source = source if source.is_file() else source / "tokenizer.json"
    tmp = out / ".tokenizer.json.tmp"
    shutil.copyfile(source, tmp)
    os.replace(tmp, out / "tokenizer.json")
    write_json(out / "tokenizer_config.json", tokenizer_config(tokenizer, context, chat_template))
    return SpecialIds.from_tokenizer(tokenizer)
