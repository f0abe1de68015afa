"""Request and token rates of a run and what its limiters wait on, for the progress line.

The runner makes one per run and hands it to kinds through RunContext; the
llm kind records each request and each wait. Plain counters, no I/O.
"""

from __future__ import annotations

from collections import Counter, deque

__all__ = ["RequestMeter"]


class RequestMeter:
    """Recent requests and tokens, and the requests now waiting for a limiter."""

    def __init__(self, window_s: float = 5.0) -> None:
        self.window_s = window_s
        self._recent: deque[tuple[float, float]] = deque()  # (time, tokens) per request
        self.requests = 0
        self.tokens = 0.0
        self.waiting: Counter[str] = Counter()  # reason -> requests waiting on it
        self.cooldown_until = 0.0

    def count_request(self, now: float, tokens: float) -> None:
        """One request answered, with the tokens it used."""
        self.requests += 1
        self.tokens += tokens
        self._recent.append((now, tokens))
        self._trim(now)

    def begin_wait(self, reason: str) -> None:
        self.waiting[reason] += 1

    def end_wait(self, reason: str) -> None:
        self.waiting[reason] -= 1
        if self.waiting[reason] <= 0:
            del self.waiting[reason]

    def rates(self, now: float) -> tuple[float, float]:
        """(requests per second, tokens per second) over the last ``window_s``."""
        self._trim(now)
        if not self._recent:
            return 0.0, 0.0
        span = max(min(self.window_s, now - self._recent[0][0]), 1.0)
        return len(self._recent) / span, sum(t for _, t in self._recent) / span

    def describe(self, now: float) -> str | None:
        """``"12.0 req/s, 3400 tok/s, waiting: tpm"``; None before the first request."""
        if self.requests == 0 and not self.waiting:
            return None
        per_s, tokens_per_s = self.rates(now)
        text = f"{per_s:.1f} req/s, {tokens_per_s:.0f} tok/s"
        cooldown_s = self.cooldown_until - now
        if cooldown_s > 0:
            return f"{text}, cooldown {cooldown_s:.1f}s"
        if self.waiting:
            reason = self.waiting.most_common(1)[0][0]
            return f"{text}, waiting: {reason}"
        return text

    def _trim(self, now: float) -> None:
        horizon = now - self.window_s
        recent = self._recent
        while recent and recent[0][0] < horizon:
            recent.popleft()
