"""Token estimates made before a request, so a tokens-per-minute limit can reserve them.

An estimate only has to be close: the reservation is settled with the real
``usage`` when the answer comes. Prompt tokens are counted at ~4 characters
a token (OpenAI's rule of thumb for English; tokenizers differ by model, and
no tokenizer is a dependency), plus the few tokens of framing each chat
message costs. Completion tokens are ``max_tokens`` when given, else what
this (endpoint, model) typically returned so far.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

__all__ = ["CompletionEstimate", "estimate_prompt_tokens", "max_completion_tokens"]

CHARS_PER_TOKEN = 4.0
TOKENS_PER_MESSAGE = 4  # role and separators, per OpenAI's counting guide
TOKENS_PER_REPLY = 3  # every reply is primed with <|start|>assistant<|message|>
DEFAULT_COMPLETION_TOKENS = 256  # before anything was learned


# An image costs a fixed number of tokens whatever the size of its base64 text
# (OpenAI: 85 a low-detail image, 765 a typical high-detail one); counting its
# characters would make one photo look like 300,000 tokens.
TOKENS_PER_IMAGE = 765


def _text_tokens(value: Any) -> int:
    if isinstance(value, str):
        return math.ceil(len(value) / CHARS_PER_TOKEN)
    if value is None:
        return 0
    if isinstance(value, list):
        return sum(_part_tokens(item) for item in value)
    # Tool calls, schemas: their JSON text is a fair upper bound.
    return math.ceil(len(json.dumps(value)) / CHARS_PER_TOKEN)


def _part_tokens(part: Any) -> int:
    """One item of a list: a string, a content part, or anything else by its JSON."""
    if isinstance(part, str):
        return _text_tokens(part)
    if isinstance(part, dict):
        kind = part.get("type")
        if kind in ("text", "input_text"):
            return _text_tokens(part.get("text"))
        if kind in ("image_url", "input_image", "image"):
            return TOKENS_PER_IMAGE
    return math.ceil(len(json.dumps(part)) / CHARS_PER_TOKEN)


def estimate_prompt_tokens(body: Mapping[str, Any]) -> int:
    """Roughly how many prompt tokens ``body`` costs (chat, completions or embeddings)."""
    messages = body.get("messages")
    if isinstance(messages, list):
        total = TOKENS_PER_REPLY
        for message in messages:
            total += TOKENS_PER_MESSAGE
            if isinstance(message, Mapping):
                total += sum(_text_tokens(v) for k, v in message.items() if k != "role")
        if "tools" in body:
            total += _text_tokens(body["tools"])
        return total
    return _text_tokens(body.get("prompt", body.get("input")))


def max_completion_tokens(body: Mapping[str, Any]) -> int | None:
    """The completion cap the request sets, if any (embeddings: 0)."""
    if "input" in body and "messages" not in body and "prompt" not in body:
        return 0
    cap = body.get("max_completion_tokens", body.get("max_tokens"))
    return cap if isinstance(cap, int) and not isinstance(cap, bool) else None


class CompletionEstimate:
    """A running estimate of completion tokens per request, learned from answers.

    Leans high on purpose (an average plus half of the mean deviation): an
    estimate below the truth lets a tokens-per-minute limit be overrun until
    the settle catches up, one above it only wastes a little budget.
    """

    def __init__(self, initial: float = DEFAULT_COMPLETION_TOKENS, weight: float = 0.1) -> None:
        self.mean = initial
        self.deviation = 0.0
        self.weight = weight
        self.samples = 0

    def update(self, completion_tokens: float) -> None:
        if self.samples == 0:
            self.mean = completion_tokens
        else:
            error = completion_tokens - self.mean
            self.mean += self.weight * error
            self.deviation += self.weight * (abs(error) - self.deviation)
        self.samples += 1

    def value(self) -> float:
        return self.mean + self.deviation / 2


def estimate_tokens(body: Mapping[str, Any], learned: CompletionEstimate) -> float:
    """Prompt tokens plus the completion cap, or the learned typical completion."""
    cap = max_completion_tokens(body)
    completion = learned.value() if cap is None else cap
    return estimate_prompt_tokens(body) + completion
