"""Any OpenAI-compatible chat-completions server as alignment and coherence judge.

Standard library only (``urllib``): a hosted API, a vLLM or llama.cpp server all speak
``POST {base_url}/chat/completions``. The key is read from the environment variable the
config names, never from the config itself. Rate limits (429), server errors (5xx) and
connection failures are retried with exponential backoff; other HTTP errors (a wrong
key, a wrong model name) fail at once with the server's message. When the server
returns top log-probabilities the score is their expected value over number tokens
(Betley et al.), else the first number of the reply; a reply with neither is no score.
"""

from __future__ import annotations

import json
import math
import os
import time
import urllib.error
import urllib.request
from typing import Any

from rhem.evals.judge_prompts import (
    ASPECTS,
    TEMPLATE_VERSION,
    expected_score,
    judge_prompt,
    number_value,
    parse_score,
)
from rhem.judgment import Judgment, label_from_scores

#: HTTP statuses worth retrying: rate limited, or the server failed.
RETRY_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})


class EndpointError(RuntimeError):
    """The judge endpoint refused or kept failing; the evaluation cannot go on."""


class EndpointJudge:
    """Judge that asks a chat-completions endpoint, temperature 0, one short reply."""

    def __init__(self, base_url: str, model: str, *, api_key_env: str = "OPENAI_API_KEY",
                 retries: int = 5, backoff: float = 1.0, timeout: float = 60.0,
                 logprobs: bool = True) -> None:
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.api_key_env = api_key_env
        self.retries, self.backoff, self.timeout = retries, backoff, timeout
        self.logprobs = logprobs
        self.requests = 0  # HTTP requests sent, retries included
        self.name = f"endpoint:{model}"
        self.identity = json.dumps(["endpoint", base_url.rstrip("/"), model, TEMPLATE_VERSION,
                                    logprobs])

    def _body(self, text: str) -> bytes:
        body: dict[str, Any] = {"model": self.model, "temperature": 0, "max_tokens": 8,
                                "messages": [{"role": "user", "content": text}]}
        if self.logprobs:
            body.update(logprobs=True, top_logprobs=20)
        return json.dumps(body).encode()

    def _post(self, text: str) -> dict[str, Any]:
        """The decoded JSON reply, retrying transient failures; raises :class:`EndpointError`."""
        headers = {"Content-Type": "application/json"}
        key = os.environ.get(self.api_key_env)
        if key:
            headers["Authorization"] = f"Bearer {key}"
        last = ""
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            self.requests += 1
            request = urllib.request.Request(self.url, data=self._body(text), headers=headers,
                                             method="POST")
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as resp:
                    return json.loads(resp.read().decode("utf-8", "replace"))
            except urllib.error.HTTPError as err:
                detail = err.read().decode("utf-8", "replace")[:500]
                if err.code not in RETRY_STATUS:
                    hint = f" (is ${self.api_key_env} set?)" if err.code in (401, 403) else ""
                    raise EndpointError(f"{self.url}: HTTP {err.code}{hint}: {detail}") from err
                last = f"HTTP {err.code}: {detail}"
            except (urllib.error.URLError, TimeoutError, ConnectionError) as err:
                last = f"{type(err).__name__}: {err}"
            except ValueError as err:  # a body that is not JSON: a proxy's error page
                last = f"reply is not JSON: {err}"
        raise EndpointError(f"{self.url}: gave up after {self.retries + 1} attempts; last: {last}")

    @staticmethod
    def read_score(reply: dict[str, Any]) -> tuple[float | None, str]:
        """(score or ``None``, the reply's text) from one chat-completions reply."""
        try:
            choice = reply["choices"][0]
            said = choice["message"].get("content") or ""
        except (KeyError, IndexError, TypeError, AttributeError):
            return None, json.dumps(reply)[:500]
        first = ((choice.get("logprobs") or {}).get("content") or [None])[0]
        if first and first.get("top_logprobs"):
            by_value: dict[int, float] = {}
            for entry in first["top_logprobs"]:
                value = number_value(str(entry.get("token", "")))
                if value is not None:
                    by_value[value] = by_value.get(value, 0.0) + math.exp(float(entry["logprob"]))
            score = expected_score(by_value)
            if score is not None:
                return score, said
        return parse_score(said), said

    def assess(self, eval_name: str, user: str, answer: str) -> Judgment:
        """Alignment and coherence scores, and the label they give."""
        del eval_name  # one rubric for every eval, as in Betley et al.
        scores, outputs = {}, []
        for aspect in ASPECTS:
            scores[aspect], said = self.read_score(self._post(judge_prompt(aspect, user, answer)))
            outputs.append(f"{aspect}: {said}")
        return Judgment(label_from_scores(scores["alignment"], scores["coherence"]),
                        scores["alignment"], scores["coherence"], " | ".join(outputs))

    def judge(self, eval_name: str, user: str, answer: str) -> str:
        """The label alone."""
        return self.assess(eval_name, user, answer).label
