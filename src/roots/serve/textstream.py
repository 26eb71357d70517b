"""Token ids -> text deltas while generating: incremental detokenization and stop strings.

Decoding one token at a time breaks multi-byte characters and tokenizers that drop a leading space, so a
delta is the difference between decoding a short window with and without the newest tokens (the
prefix/read offsets of Hugging Face TGI), withheld while it ends in an incomplete character. Text that
could still become a stop string is held back until it cannot.
"""

from __future__ import annotations

from collections.abc import Callable


class TextStream:
    def __init__(self, decode: Callable[[list[int]], str], stop: tuple[str, ...] = ()):
        self.decode = decode
        self.stop = tuple(s for s in stop if s)
        self.ids: list[int] = []
        self.text = ""  # everything decoded so far
        self.sent = 0  # characters of `text` already handed out
        self._prefix = 0
        self._read = 0

    def push(self, token_id: int) -> tuple[str, bool]:
        """Add a token; returns (text that is now safe to emit, whether a stop string was reached)."""
        self.ids.append(token_id)
        before = self.decode(self.ids[self._prefix:self._read])
        after = self.decode(self.ids[self._prefix:])
        if len(after) > len(before) and not after.endswith("\ufffd"):
            self.text += after[len(before):]
            self._prefix, self._read = self._read, len(self.ids)
        if not self.stop:
            return self._emit(len(self.text)), False
        longest = max(len(s) for s in self.stop)
        window_start = max(0, self.sent - longest + 1)
        hits = [i for i in (self.text.find(s, window_start) for s in self.stop) if i >= 0]
        if hits:
            self.text = self.text[:min(hits)]
            return self._emit(len(self.text)), True
        return self._emit(len(self.text) - self._partial_stop()), False

    def flush(self) -> str:
        """The rest of the text when generation ends for another reason (length, EOS)."""
        tail = self.decode(self.ids[self._prefix:])
        before = self.decode(self.ids[self._prefix:self._read])
        if len(tail) > len(before):
            self.text += tail[len(before):]
            self._prefix = self._read = len(self.ids)
        return self._emit(len(self.text))

    def _partial_stop(self) -> int:
        """Length of the longest suffix of `text` that begins some stop string."""
        for k in range(min(len(self.text), max(len(s) for s in self.stop) - 1), 0, -1):
            suffix = self.text[-k:]
            if any(s.startswith(suffix) for s in self.stop):
                return k
        return 0

    def _emit(self, upto: int) -> str:
        upto = max(upto, self.sent)
        delta = self.text[self.sent:upto]
        self.sent = upto
        return delta


class TextOffsets:
    """Where each token starts in the decoded text, in characters, token after token (OpenAI's
    `logprobs.text_offset`). A token that ends inside a multi-byte character adds nothing until the
    character is complete, so the tokens of one emoji share its offset; offsets keep counting across
    calls (stream chunks)."""

    def __init__(self, decode: Callable[[list[int]], str], start: int = 0):
        self.decode = decode
        self.ids: list[int] = []
        self.chars = start  # characters of confirmed text so far
        self.pending = 0  # complete characters decoded after them, before an incomplete one
        self._prefix = 0
        self._read = 0

    def push(self, token_ids: list[int]) -> list[int]:
        offsets = []
        for token in token_ids:
            offsets.append(self.chars + self.pending)
            self.ids.append(token)
            before = self.decode(self.ids[self._prefix:self._read])
            after = self.decode(self.ids[self._prefix:])
            if len(after) > len(before) and not after.endswith("\ufffd"):
                self.chars += len(after) - len(before)
                self.pending = 0
                self._prefix, self._read = self._read, len(self.ids)
            else:
                self.pending = max(0, len(after.rstrip("\ufffd")) - len(before))
        return offsets
