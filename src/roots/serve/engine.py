"""The generation engine: continuous batching over one KV cache, in one background thread.

Requests arrive through a thread-safe queue. Between decode steps the engine admits waiting requests
(prefilled together, left-padded), appends them to the running batch, and drops rows that finished or
whose client went away. Every row of the cache is right-aligned: its valid tokens end at the last column,
so one decode step feeds one token per row with an attention mask over the padding and per-row positions.
The cache holds at most `max_batch_size` rows of at most `max_seq_len` columns; that is its memory bound.

Outputs go back through each request's `on_output` callback, called on the engine thread (the server
forwards them to asyncio with `loop.call_soon_threadsafe`).

Failures are isolated per row: a request whose own parameters cannot be served (`InvalidRequest`), or
whose sampling or prefill raises, ends alone with finish_reason "error"; the rest of the batch goes on.
Only a failing decode forward pass, which no single row can be blamed for, fails the whole batch.
"""

from __future__ import annotations

import itertools
import logging
import os
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import torch

from roots.serve.backend import KV, LoadedModel
from roots.serve.sampling import SamplingParams, TokenLogprobs, apply_penalties, draw, token_logprobs
from roots.serve.textstream import TextStream

log = logging.getLogger(__name__)
_ids = itertools.count()


class InvalidRequest(ValueError):
    """The request itself cannot be served (the client's fault: a 400 over HTTP, not a 500)."""


@dataclass
class Output:
    """What one step produced for one request. The last one has a `finish_reason`."""

    text: str
    token_ids: list[int]
    logprobs: list[TokenLogprobs] | None = None
    prompt_logprobs: list[TokenLogprobs | None] | None = None  # first output only, when asked
    finish_reason: str | None = None  # "stop" | "length" | "cancelled" | "error"
    prompt_tokens: int = 0
    completion_tokens: int = 0
    error: str | None = None  # with finish_reason "error": what went wrong
    client_error: bool = False  # the request itself was at fault (a 400), not the server (a 500)


class Constraint(Protocol):
    """Which tokens may come next (a grammar: `roots.serve.structured`); one per request, engine thread only."""

    def allowed(self, vocab_size: int) -> torch.Tensor:
        """(vocab_size,) bool on the CPU: the tokens the grammar allows next."""
        ...

    def accept(self, token: int) -> None:
        """Advance past `token` (one that `allowed` allowed)."""
        ...

    @property
    def done(self) -> bool:
        """The grammar is complete and allows nothing more."""
        ...


@dataclass
class Request:
    prompt_ids: list[int]
    params: SamplingParams
    on_output: Callable[[Output], None]
    constraint: Constraint | None = None
    id: int = field(default_factory=lambda: next(_ids))
    arrived: float = field(default_factory=time.perf_counter)
    cancelled: bool = False  # set from any thread (client went away); the engine frees the slot

    def cancel(self) -> None:
        self.cancelled = True


class Sequence:
    """A request in the running batch: its output so far, sampler state and text stream."""

    def __init__(self, request: Request, engine: Engine):
        self.request = request
        self.params = request.params
        self.output: list[int] = []
        self.finished = False
        check_request(request, engine.vocab_size)
        seed = self.params.seed if self.params.seed is not None else int.from_bytes(os.urandom(8), "little") >> 1
        self.generator = torch.Generator(engine.device).manual_seed(seed)
        codec = engine.model.codec
        self.stream = TextStream(codec.decode, self.params.stop)
        self.stop_ids = set(self.params.stop_token_ids) | (set() if self.params.ignore_eos
                                                           else set(codec.eos_token_ids))
        self.max_len = min(engine.max_seq_len, len(request.prompt_ids) + self.params.max_tokens)
        vocab = engine.vocab_size
        if self.params.penalized:
            self.prompt_seen = torch.zeros(vocab, dtype=torch.bool, device=engine.device)
            self.prompt_seen[torch.tensor(request.prompt_ids, device=engine.device)] = True
            self.counts = torch.zeros(vocab, dtype=torch.int32, device=engine.device)

    @property
    def length(self) -> int:
        return len(self.request.prompt_ids) + len(self.output)


def check_request(request: Request, vocab_size: int) -> None:
    """What the HTTP layer validates, checked again here for every caller of the engine."""
    params = request.params
    if max(request.prompt_ids) >= vocab_size or min(request.prompt_ids) < 0:
        raise InvalidRequest(f"prompt token ids must be in [0, {vocab_size})")
    if params.top_k > vocab_size:
        raise InvalidRequest(f"top_k is {params.top_k}; it must be <= the vocabulary size {vocab_size}")
    if any(not 0 <= t < vocab_size for t in params.stop_token_ids):
        raise InvalidRequest(f"stop_token_ids must be in [0, {vocab_size})")
    if params.seed is not None and not -(2**63) <= params.seed < 2**64:
        raise InvalidRequest("seed must fit in 64 bits")


class Engine:
    def __init__(self, model: LoadedModel, max_batch_size: int = 16, max_seq_len: int | None = None,
                 max_prefill_tokens: int = 4096):
        self.model = model
        self.backend = model.backend
        self.device = getattr(self.backend, "device", torch.device("cpu"))
        self.vocab_size = self.backend.vocab_size
        self.max_batch_size = max_batch_size
        self.max_seq_len = min(max_seq_len or self.backend.max_seq_len, self.backend.max_seq_len)
        self.max_prefill_tokens = max_prefill_tokens
        self._inbox: queue.Queue[Request] = queue.Queue()
        self._waiting: deque[Request] = deque()
        self.rows: list[Sequence] = []
        self._kv: KV | None = None
        self._mask: torch.Tensor | None = None  # (B, L) 1 = real token
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self.accepting = True
        self.stats = {"requests_total": 0, "requests_finished": 0, "requests_cancelled": 0,
                      "prompt_tokens_total": 0, "generation_tokens_total": 0, "steps_total": 0,
                      "step_seconds_total": 0.0, "errors_total": 0,
                      "requests_failed": 0}

    # ---- public, any thread ----
    def start(self) -> Engine:
        self._thread = threading.Thread(target=self._run, name="roots-engine", daemon=True)
        self._thread.start()
        return self

    def submit(self, request: Request) -> None:
        if not self.accepting:
            raise RuntimeError("the engine is shutting down")
        if not request.prompt_ids:
            raise ValueError("the prompt is empty")
        if len(request.prompt_ids) >= self.max_seq_len and request.params.max_tokens > 0:
            raise ValueError(f"the prompt has {len(request.prompt_ids)} tokens; this model's context is "
                             f"{self.max_seq_len} tokens and needs room for at least one more")
        if len(request.prompt_ids) > self.max_seq_len:
            raise ValueError(f"the prompt has {len(request.prompt_ids)} tokens; the limit is {self.max_seq_len}")
        self.stats["requests_total"] += 1
        self._inbox.put(request)

    @property
    def num_running(self) -> int:
        return len(self.rows)

    @property
    def num_waiting(self) -> int:
        return len(self._waiting) + self._inbox.qsize()

    @property
    def cache_tokens(self) -> int:
        return 0 if self._mask is None else self._mask.numel()

    def shutdown(self, drain_seconds: float = 10.0) -> None:
        """Stop accepting; let in-flight requests finish for up to `drain_seconds`, then cancel the rest."""
        self.accepting = False
        deadline = time.monotonic() + drain_seconds
        while (self.rows or self.num_waiting) and time.monotonic() < deadline:
            time.sleep(0.02)
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    # ---- engine thread ----
    def _run(self) -> None:
        torch.set_grad_enabled(False)
        while True:
            self._collect(block=not self.rows)
            if self._stopping.is_set():
                self._cancel_all()
                return
            try:
                started = time.perf_counter()
                admitted = self._admit()
                self._evict()  # scoring-only requests finish at prefill
                decoded = bool(self.rows)
                if decoded:
                    self._decode()
                self._evict()
                if admitted or decoded:
                    self.stats["steps_total"] += 1
                    self.stats["step_seconds_total"] += time.perf_counter() - started
            except Exception:  # one bad step must not take the server down: fail the batch's requests
                log.exception("engine step failed")
                self.stats["errors_total"] += 1
                for seq in self.rows:
                    if not seq.finished:
                        self._emit(seq, Output("", [], finish_reason="error"))
                self.rows, self._kv, self._mask = [], None, None

    def _collect(self, block: bool) -> None:
        try:
            if block:
                self._waiting.append(self._inbox.get(timeout=0.05))
            while True:
                self._waiting.append(self._inbox.get_nowait())
        except queue.Empty:
            pass

    def _admit(self) -> bool:
        """Prefill waiting requests that fit: free rows, and a budget of padded prefill tokens."""
        batch: list[Request] = []
        while self._waiting and len(self.rows) + len(batch) < self.max_batch_size:
            request = self._waiting[0]
            if request.cancelled:
                self._waiting.popleft()
                self.stats["requests_cancelled"] += 1
                self.stats["requests_finished"] += 1
                continue
            longest = max([len(r.prompt_ids) for r in batch] + [len(request.prompt_ids)])
            if batch and longest * (len(batch) + 1) > self.max_prefill_tokens:
                break
            batch.append(self._waiting.popleft())
        if not batch:
            return False
        seqs: list[Sequence] = []
        for request in batch:
            try:
                seqs.append(Sequence(request, self))
            except Exception as e:  # this request's own fault (or its sampler state): it fails alone
                self._fail(request, e)
        if not seqs:
            return True
        try:
            self._prefill(seqs)
        except Exception as e:
            # nothing joined the running batch (see _prefill); retry the newcomers one by one so that the
            # one that breaks the forward pass fails alone
            self.stats["errors_total"] += 1
            if len(seqs) == 1:
                self._fail(seqs[0].request, e, seqs[0])
                return True
            for seq in seqs:
                try:
                    self._prefill([seq])
                except Exception as e1:
                    self._fail(seq.request, e1, seq)
        return True

    def _fail(self, request: Request, error: BaseException | None, seq: Sequence | None = None) -> None:
        """End one request with finish_reason "error"; the batch goes on without it."""
        client = isinstance(error, InvalidRequest)
        if client:
            log.info("request %s refused: %s", request.id, error)
        else:
            log.error("request %s failed", request.id, exc_info=error)
        self.stats["requests_failed"] += 1
        out = Output("", [], finish_reason="error", error=str(error) if client else None, client_error=client)
        if seq is not None:
            seq.finished = True
            self._emit(seq, out)
            return
        out.prompt_tokens = len(request.prompt_ids)
        self.stats["requests_finished"] += 1
        try:
            request.on_output(out)
        except Exception:
            log.exception("on_output callback failed for request %s", request.id)

    def _prefill(self, seqs: list[Sequence]) -> None:
        width = max(len(s.request.prompt_ids) for s in seqs)
        ids = torch.zeros(len(seqs), width, dtype=torch.long, device=self.device)
        mask = torch.zeros_like(ids)
        for i, s in enumerate(seqs):  # left-pad: every row ends at the last column
            prompt = s.request.prompt_ids
            ids[i, width - len(prompt):] = torch.tensor(prompt, device=self.device)
            mask[i, width - len(prompt):] = 1
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        echo = any(s.params.prompt_logprobs for s in seqs)
        logits, kv = self.backend.forward(ids, mask, positions, None, all_logits=echo)
        prompt_lps = [self._prompt_logprobs(s, logits[i], width) if s.params.prompt_logprobs else None
                      for i, s in enumerate(seqs)]
        # everything that can fail for these rows has run: from here on they are in the batch
        for s in seqs:
            self.stats["prompt_tokens_total"] += len(s.request.prompt_ids)
        self._append_rows(seqs, kv, mask)
        live = [i for i, s in enumerate(seqs) if s.params.max_tokens > 0]
        for i, s in enumerate(seqs):
            if s.params.max_tokens == 0:  # scoring only (echo): no token is generated
                s.finished = True
                self._emit(s, Output("", [], prompt_logprobs=prompt_lps[i], finish_reason="length"))
        if live:
            self._step([seqs[i] for i in live], logits[live, -1], [prompt_lps[i] for i in live])

    def _prompt_logprobs(self, seq: Sequence, logits: torch.Tensor, width: int) -> list[TokenLogprobs | None]:
        prompt = seq.request.prompt_ids
        start = width - len(prompt)
        # the logits at position t predict token t + 1; the first prompt token has no logprob
        scored = token_logprobs(logits[start:width - 1], torch.tensor(prompt[1:], device=logits.device),
                                seq.params.logprobs or 0)
        return [None, *scored]

    def _decode(self) -> None:
        ids = torch.tensor([[s.output[-1]] for s in self.rows], device=self.device)  # (B, 1)
        positions = self._mask.sum(-1, keepdim=True)  # each row's next position = its number of tokens
        mask = torch.cat([self._mask, torch.ones_like(positions)], dim=-1)
        logits, self._kv = self.backend.forward(ids, mask, positions, self._kv, all_logits=False)
        self._mask = mask
        self._step(self.rows, logits[:, -1], None)

    def _step(self, seqs: list[Sequence], logits: torch.Tensor, prompt_lps: list | None) -> None:
        """Sample one token for each of `seqs` from `logits` (B, V) and hand out the results."""
        try:
            results = self._sample(seqs, logits)
        except Exception:  # some row's parameters break the batched sampler: sample row by row
            results = []
            for i, seq in enumerate(seqs):
                try:
                    results.extend(self._sample([seq], logits[i:i + 1]))
                except Exception as e:
                    self._fail(seq.request, e, seq)
                    results.append(None)
        for i, (seq, result) in enumerate(zip(seqs, results)):
            if result is None:
                continue
            try:
                self._accept(seq, *result, prompt_lps[i] if prompt_lps else None)
            except Exception as e:
                self._fail(seq.request, e, seq)

    def _sample(self, seqs: list[Sequence], logits: torch.Tensor) -> list[tuple[int, TokenLogprobs | None]]:
        """(token, its logprobs if asked) for each of `seqs`, from `logits` (B, V)."""
        params = [s.params for s in seqs]
        processed = logits
        constrained = [i for i, s in enumerate(seqs) if s.request.constraint is not None]
        if constrained:  # tokens the request's grammar forbids get -inf (logprobs stay the model's own)
            processed = logits.clone()
            for i in constrained:
                allowed = seqs[i].request.constraint.allowed(logits.shape[-1]).to(logits.device)
                processed[i].masked_fill_(~allowed, float("-inf"))
        if any(p.penalized for p in params):
            processed = self._penalize(seqs, processed)
        tokens = draw(processed, params, [s.generator for s in seqs])
        lp_rows = [i for i, p in enumerate(params) if p.logprobs is not None]
        lps: dict[int, TokenLogprobs] = {}
        if lp_rows:
            top_n = max(params[i].logprobs for i in lp_rows)
            for i, lp in zip(lp_rows, token_logprobs(logits[lp_rows], tokens[lp_rows], top_n)):
                lp.top = lp.top[:params[i].logprobs]
                lps[i] = lp
        return [(token, lps.get(i)) for i, token in enumerate(tokens.tolist())]

    def _penalize(self, seqs: list[Sequence], logits: torch.Tensor) -> torch.Tensor:
        vocab = logits.shape[-1]
        none_seen = torch.zeros(vocab, dtype=torch.bool, device=self.device)
        no_counts = torch.zeros(vocab, dtype=torch.int32, device=self.device)
        seen = torch.stack([s.prompt_seen if s.params.penalized else none_seen for s in seqs])
        counts = torch.stack([s.counts if s.params.penalized else no_counts for s in seqs])
        tensor = lambda values: torch.tensor(values, device=self.device, dtype=logits.dtype)  # noqa: E731
        return apply_penalties(logits, seen, counts, tensor([s.params.repetition_penalty for s in seqs]),
                               tensor([s.params.frequency_penalty for s in seqs]),
                               tensor([s.params.presence_penalty for s in seqs]))

    def _accept(self, seq: Sequence, token: int, lp: TokenLogprobs | None,
                prompt_lps: list[TokenLogprobs | None] | None) -> None:
        seq.output.append(token)
        self.stats["generation_tokens_total"] += 1
        if seq.params.penalized:
            seq.counts[token] += 1
        hit_stop = False
        constraint = seq.request.constraint
        if constraint is not None:
            constraint.accept(token)
        if token in seq.stop_ids:  # a stop token ends the text without appearing in it
            text, finish = "", "stop"
        else:
            text, hit_stop = seq.stream.push(token)
            finish = "stop" if hit_stop or (constraint is not None and constraint.done) else None
        if finish is None and seq.length >= seq.max_len:
            finish = "length"
        if finish is not None and not hit_stop:
            text += seq.stream.flush()  # release text held back as a possible stop-string prefix
        seq.finished = finish is not None
        self._emit(seq, Output(text, [token], [lp] if lp else None, prompt_lps, finish))

    def _emit(self, seq: Sequence, out: Output) -> None:
        out.prompt_tokens = len(seq.request.prompt_ids)
        out.completion_tokens = len(seq.output)
        if out.finish_reason is not None:
            self.stats["requests_finished"] += 1
        try:
            seq.request.on_output(out)
        except Exception:  # a consumer that went away must not stop the batch
            log.exception("on_output callback failed; cancelling request %s", seq.request.id)
            seq.request.cancel()

    def _append_rows(self, seqs: list[Sequence], kv: KV, mask: torch.Tensor) -> None:
        """Join prefilled rows to the running batch, left-padding whichever side is shorter."""
        self.rows.extend(seqs)
        if self._kv is None:
            self._kv, self._mask = kv, mask
            return
        width = max(mask.shape[1], self._mask.shape[1])

        def pad(t: torch.Tensor, dim: int) -> torch.Tensor:
            missing = width - t.shape[dim]
            if missing == 0:
                return t
            shape = list(t.shape)
            shape[dim] = missing
            return torch.cat([t.new_zeros(shape), t], dim=dim)

        self._kv = [(torch.cat([pad(k0, 2), pad(k1, 2)]), torch.cat([pad(v0, 2), pad(v1, 2)]))
                    for (k0, v0), (k1, v1) in zip(self._kv, kv)]
        self._mask = torch.cat([pad(self._mask, 1), pad(mask, 1)])

    def _evict(self) -> None:
        """Drop finished and cancelled rows, then the padding columns no remaining row needs."""
        keep = []
        for i, seq in enumerate(self.rows):
            if seq.request.cancelled and not seq.finished:
                self.stats["requests_cancelled"] += 1
                seq.finished = True
                self._emit(seq, Output("", [], finish_reason="cancelled"))
            if not seq.finished:
                keep.append(i)
        if len(keep) == len(self.rows):
            return
        if not keep:
            # free the cache before emptying `rows`: readers on other threads see rows == [] => no cache
            self._kv, self._mask = None, None
            self.rows = []
            return
        index = torch.tensor(keep, device=self.device)
        self.rows = [self.rows[i] for i in keep]
        mask = self._mask[index]
        first = int(mask.any(0).nonzero()[0])
        self._mask = mask[:, first:]
        self._kv = [(k[index, :, first:], v[index, :, first:]) for k, v in self._kv]

    def _cancel_all(self) -> None:
        for seq in self.rows:
            if not seq.finished:
                self._emit(seq, Output("", [], finish_reason="cancelled"))
        self._kv, self._mask = None, None
        self.rows = []
        while self._waiting:
            request = self._waiting.popleft()
            request.on_output(Output("", [], finish_reason="cancelled",
                                     prompt_tokens=len(request.prompt_ids)))
