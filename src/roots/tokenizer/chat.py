"""Chat templates: messages -> prompt text, rendered exactly as transformers' `apply_chat_template` does.

Templates are Jinja2 in the Hugging Face convention (variables `messages`, `add_generation_prompt`,
`bos_token`, `eos_token`), so the template roots trains and serves with is the one it exports, and vLLM /
TGI / llama.cpp format conversations identically. The default marks roles with plain text and ends each
turn with the tokenizer's EOS token, so it works with any vocabulary, special role tokens or not.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

DEFAULT_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|' + message['role'] + '|>\\n' + message['content'] + eos_token + '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% endif %}"
)

ROLES = ("system", "user", "assistant")


@lru_cache(maxsize=16)
def _compile(template: str):
    from jinja2.exceptions import TemplateError
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def raise_exception(message: str):
        raise TemplateError(message)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    env.globals["raise_exception"] = raise_exception
    return env.from_string(template)


def apply_chat_template(messages: list[dict[str, Any]], eos_token: str, bos_token: str = "",
                        template: str | None = None, add_generation_prompt: bool = True) -> str:
    """Render `messages` ([{"role", "content"}, ...]) into the prompt text the model sees."""
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or "role" not in m or "content" not in m:
            raise ValueError(f"message {i} needs 'role' and 'content'")
    return _compile(template or DEFAULT_CHAT_TEMPLATE).render(
        messages=messages, add_generation_prompt=add_generation_prompt, eos_token=eos_token,
        bos_token=bos_token,
    )


def assistant_spans(messages: list[dict[str, Any]], eos_token: str, bos_token: str = "",
                    template: str | None = None) -> tuple[str, list[tuple[int, int]]]:
    """The rendered conversation and the character spans of each assistant turn's content + EOS.

    Fine-tuning on chat data puts the loss on these spans only. Found by rendering the prefix before
    and after each assistant message, so any template that renders turns in order works.
    """
    text = apply_chat_template(messages, eos_token, bos_token, template, add_generation_prompt=False)
    spans = []
    for i, m in enumerate(messages):
        if m["role"] != "assistant":
            continue
        before = apply_chat_template(messages[:i], eos_token, bos_token, template, add_generation_prompt=True)
        after = apply_chat_template(messages[: i + 1], eos_token, bos_token, template,
                                    add_generation_prompt=False)
        if not text.startswith(after) or not after.startswith(before):
            raise ValueError("chat template does not render turns as prefixes; cannot locate assistant spans")
        spans.append((len(before), len(after.rstrip("\n"))))
    return text, spans
