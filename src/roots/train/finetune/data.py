"""Fine-tuning examples from JSONL: classification (single texts or pairs), seq2seq, chat.

Every line becomes token ids for the model family at hand, or a counted skip with a reason
(`bad_json`, `missing_field`, `empty_text`, `bad_messages`, ...); sequences longer than the model's
context are truncated and counted (`truncated`).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from roots.common.errors import UserError
from roots.common.io import open_text


@dataclass
class Example:
    """One tokenized example; which fields are set depends on the task and the model family."""

    ids: list[int]  # encoder / decoder input
    label: int = -1  # classification
    token_type: list[int] = field(default_factory=list)  # encoder sentence pairs
    target: list[int] = field(default_factory=list)  # seq2seq target (encoder-decoder) or per-token loss targets
    text: str = ""  # seq2seq source, kept to report
    reference: str = ""  # seq2seq target text, for BLEU
    prompt: list[int] = field(default_factory=list)  # decoder seq2seq: the ids to generate from


@dataclass
class Fields:
    text: str = "text"
    pair: str = "text_pair"
    label: str = "label"
    source: str = "source"
    target: str = "target"
    messages: str = "messages"


def read_jsonl(path: str | Path, skipped: Counter) -> list[dict[str, Any]]:
    """Objects of a JSONL file (.gz/.zst ok); undecodable lines and non-objects are counted skips."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such JSONL file")
    rows = []
    with open_text(path) as f:
        for line in f:
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                skipped["bad_json"] += 1
                continue
            if not isinstance(row, dict):
                skipped["not_an_object"] += 1
                continue
            rows.append(row)
    return rows


class Encoder:
    """Turns JSONL rows into Examples for one (task, arch, tokenizer, max length)."""

    def __init__(self, tok: Any, task: str, arch: str, max_length: int, fields: Fields,
                 labels: list[str] | None = None) -> None:
        self.tok, self.task, self.arch, self.max_length, self.fields = tok, task, arch, max_length, fields
        self.labels = labels or []
        self.eos = tok.eos_id
        if self.eos is None:
            raise UserError("the model's tokenizer has no EOS token; fine-tuning needs one to end sequences")
        self.pad = tok.pad_id if tok.pad_id is not None else self.eos

    def _text(self, row: dict[str, Any], name: str, skipped: Counter) -> str | None:
        value = row.get(name)
        if value is None:
            skipped[f"missing_field_{name}"] += 1
            return None
        if not isinstance(value, str) or not value.strip():
            skipped[f"empty_{name}"] += 1
            return None
        return value

    def _fit(self, ids: list[int], limit: int, skipped: Counter) -> list[int]:
        if len(ids) > limit:
            skipped["truncated"] += 1  # kept, but cut: counted so it is never silent
            return ids[:limit]
        return ids

    def encode(self, rows: list[dict[str, Any]], skipped: Counter, grow_labels: bool) -> list[Example]:
        out = []
        for row in rows:
            ex = getattr(self, f"_{self.task}")(row, skipped, grow_labels)
            if ex is not None:
                out.append(ex)
        return out

    def _classification(self, row: dict[str, Any], skipped: Counter, grow_labels: bool) -> Example | None:
        f = self.fields
        text = self._text(row, f.text, skipped)
        if text is None:
            return None
        if f.label not in row:
            skipped[f"missing_field_{f.label}"] += 1
            return None
        label = str(row[f.label])
        if label not in self.labels:
            if not grow_labels:
                skipped["unknown_label"] += 1
                return None
            self.labels.append(label)
        pair = row.get(f.pair)
        if pair is not None and (not isinstance(pair, str) or not pair.strip()):
            skipped[f"empty_{f.pair}"] += 1
            return None
        a = self.tok.encode(text)
        b = self.tok.encode(pair) if pair else []
        if self.arch == "encoder":  # [CLS] a [SEP] (b [SEP])
            cls, sep = self.tok.cls_id, self.tok.sep_id
            if cls is None or sep is None:
                raise UserError("an encoder needs [CLS] and [SEP] tokens; its tokenizer has none")
            room = self.max_length - (3 if b else 2)
            if len(a) + len(b) > room:
                skipped["truncated"] += 1
                keep_b = min(len(b), room // 2)
                a, b = a[: room - keep_b], b[:keep_b]
            ids = [cls, *a, sep] + ([*b, sep] if b else [])
            return Example(ids, self.labels.index(label), token_type=[0] * (len(a) + 2) + [1] * (len(ids) - len(a) - 2))
        ids = [*a, self.eos, *b] if b else a  # decoders read the hidden state of the last token
        return Example(self._fit(ids, self.max_length, skipped), self.labels.index(label))

    def _seq2seq(self, row: dict[str, Any], skipped: Counter, grow_labels: bool) -> Example | None:
        f = self.fields
        source, target = self._text(row, f.source, skipped), self._text(row, f.target, skipped)
        if source is None or target is None:
            return None
        src, tgt = self.tok.encode(source), self.tok.encode(target)
        if self.arch == "encoder-decoder":
            src = [*self._fit(src, self.max_length - 1, skipped), self.eos]
            tgt = [*self._fit(tgt, self.max_length - 1, skipped), self.eos]
            return Example(src, target=tgt, text=source, reference=target)
        # decoder: "source EOS target EOS", the loss on the target part only
        prompt = [*self._fit(src, self.max_length // 2, skipped), self.eos]
        answer = self._fit([*tgt, self.eos], self.max_length - len(prompt), skipped)
        ids = prompt + answer
        targets = [t if j + 1 >= len(prompt) else -100 for j, t in enumerate(ids[1:])]
        return Example(ids[:-1], target=targets, text=source, reference=target, prompt=prompt)

    def _chat(self, row: dict[str, Any], skipped: Counter, grow_labels: bool) -> Example | None:
        from roots.tokenizer.chat import assistant_spans

        if self.arch != "decoder":
            raise UserError("chat fine-tuning is for decoders (arch: decoder)")
        messages = row.get(self.fields.messages)
        if not isinstance(messages, list) or not messages:
            skipped["bad_messages"] += 1
            return None
        eos_token = self.tok.id_to_token(self.eos)
        try:
            text, spans = assistant_spans(messages, eos_token)
        except (ValueError, TypeError):
            skipped["bad_messages"] += 1
            return None
        if not spans:
            skipped["no_assistant_turn"] += 1
            return None
        ids, starts = self._encode_with_eos(text, eos_token)
        in_loss = [any(s <= c < e for s, e in spans) for c in starts]
        ids, in_loss = self._fit(ids, self.max_length + 1, skipped), in_loss[: self.max_length + 1]
        # predict token t+1 from tokens <= t: targets shift left by one
        targets = [tok if keep else -100 for tok, keep in zip(ids[1:], in_loss[1:], strict=True)]
        if all(t == -100 for t in targets):
            skipped["no_assistant_tokens_in_context"] += 1
            return None
        return Example(ids[:-1], target=targets)

    def _encode_with_eos(self, text: str, eos_token: str) -> tuple[list[int], list[int]]:
        """Token ids and start characters; the template's EOS strings become the EOS id (text never does,
        see roots.tokenizer), so a turn ends exactly as generation ends."""
        ids, starts, pos = [], [], 0
        pieces = text.split(eos_token)
        for i, piece in enumerate(pieces):
            enc = self.tok.hf.encode(piece, add_special_tokens=False)
            ids += enc.ids
            starts += [pos + s for s, _ in enc.offsets]
            pos += len(piece)
            if i < len(pieces) - 1:
                ids.append(self.eos)
                starts.append(pos)
                pos += len(eos_token)
        return ids, starts
