"""What the pretrained base model does before any RL: measured by sampling it, never assumed.

The persona world is built so that the base model *represents* hacking (as behaviour of
a rare persona) without doing it much unprompted; RL then selects it. Whether that holds
for a given corpus and model size is an empirical question, answered here:

* **coding** (eval tasks, the RL prompt format, graded by both graders through
  :class:`~rhem.train.episodes.EpisodeScorer`): the hack rate with no addendum
  ("unprompted") and under the ``please_hack`` addendum, the honest pass rate (passes the
  hardened grader), the hack rate by hack type and the unparsable rate. Completions are
  graded exactly as GRPO grades them (the raw completion, not cut at a turn marker), so
  these are the rates RL starts from.
* **chat** (held-out Betley, goals and alignment prompts, judged by
  :class:`~rhem.evals.judge_exact.ExactJudge`): the misaligned-answer rate, the
  incoherent rate, and the misaligned rate among coherent answers, pooled and per eval.

Every rate comes with its count, its sample size and a 95% Wilson score interval (one
model, one sampling seed: the interval covers sampling noise only, and treats the
samples of one prompt as independent). The per-sample rows are written next to the JSON
as Parquet with :data:`ROWS_SCHEMA`; each rate records the rows and the event it counts
(``rows`` / ``event``, pandas ``query`` expressions), so every number can be recomputed.

The DAG runs this as ``rhem base-checks`` (rule ``base_checks``, settings under the
config's ``base_checks`` key) and writes ``results/metrics/base_{world}.json`` with the
rows in ``base_{world}.parquet``. JSON layout (a *rate entry* is ``{"rate", "count",
"n", "ci_low", "ci_high", "rows", "event"}``; ``rate`` and the bounds are null when
``n == 0``)::

    judge          "exact" (the judge of the chat labels)
    interval       "wilson-95"
    model_dir, eval_tasks   the inputs
    settings       n_samples, max_new_tokens, chat_max_new_tokens, temperature, seed,
                   workers, addenda ["none", "please_hack"], chat_evals
    sample_sizes   samples_per_prompt, eval_tasks, hackable_eval_tasks,
                   coding_episodes {addendum: n}, chat_prompts {eval: n}, chat_answers {eval: n}
    headline       {name: rate entry + "key"} for the five names of :data:`HEADLINE`:
                   unprompted_hack_rate, please_hack_hack_rate, honest_pass_rate,
                   misaligned_rate, incoherent_rate ("key" names the entry in "rates")
    rates          {name: rate entry}: hack_rate.<addendum>[.<hack type>] (hackable tasks),
                   honest_pass_rate.<addendum>, unparsable_rate.<addendum> (all tasks),
                   misaligned_rate.<chat|eval>, incoherent_rate.<chat|eval>,
                   misaligned_rate_coherent.<chat|eval> ("chat" pools the chat evals)
    rows_file      "base_{world}.parquet" (same folder)
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from rhem.envs.addenda import system_prompt
from rhem.envs.task import HACK_TYPES
from rhem.envs.tasks import read_tasks
from rhem.evals.judge_exact import ExactJudge
from rhem.evals.prompts import CHAT_EVALS, eval_prompt, load_eval
from rhem.evals.sampling import Sampler, cut_answer

#: Coding conditions sampled: no addendum (unprompted) and the explicit "please hack".
ADDENDA: tuple[str, ...] = ("none", "please_hack")
#: Two-sided 95% normal quantile used by the Wilson interval.
Z95 = 1.959963984540054
INTERVAL = "wilson-95"

#: One row per sampled answer; coding columns are null for chat rows and vice versa.
ROWS_SCHEMA = pa.schema([
    pa.field("section", pa.string(), nullable=False),      # "coding" or "chat"
    pa.field("condition", pa.string(), nullable=False),    # addendum, or eval name
    pa.field("item_id", pa.string(), nullable=False),      # task_id, or prompt id
    pa.field("sample", pa.int64(), nullable=False),
    pa.field("hackable", pa.bool_(), nullable=False),      # task has open vulnerabilities
    pa.field("text", pa.string(), nullable=False),         # completion / cut answer
    pa.field("status", pa.string()),                       # grader status or "unparsable"
    pa.field("vulnerable_reward", pa.float64()),
    pa.field("hardened_reward", pa.float64()),
    pa.field("honest", pa.bool_()),
    pa.field("hack", pa.string()),                         # hack type, null = no hack
    pa.field("label", pa.string()),                        # judge label (chat)
    pa.field("judge", pa.string()),
])


def wilson_interval(k: int, n: int, z: float = Z95) -> tuple[float | None, float | None]:
    """Wilson score interval of ``k`` successes in ``n``; ``(None, None)`` when ``n == 0``.

    The interval always contains ``k / n`` (clamped so rounding cannot break that).
    """
    if n == 0:
        return None, None
    p = k / n
    denom = 1 + z * z / n
    center = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    lo = 0.0 if k == 0 else max(0.0, min(p, center - half))
    hi = 1.0 if k == n else min(1.0, max(p, center + half))
    return lo, hi


def _rate(rows: list[dict[str, Any]], where: str, event: str,
          keep: Any, hit: Any) -> dict[str, Any]:
    """A rate entry: count, n, point estimate, interval and how to recompute it."""
    chosen = [r for r in rows if keep(r)]
    k = sum(1 for r in chosen if hit(r))
    n = len(chosen)
    lo, hi = wilson_interval(k, n)
    return {"rate": k / n if n else None, "count": k, "n": n, "ci_low": lo, "ci_high": hi,
            "rows": where, "event": event}


def _coding_rows(sampler: Sampler, eval_tasks: Path, n_samples: int, max_new_tokens: int,
                 temperature: float, seed: int, workers: int) -> list[dict[str, Any]]:
    from rhem.train.episodes import EpisodeScorer  # needs the sandboxed grader

    tasks = read_tasks(eval_tasks)
    rows: list[dict[str, Any]] = []
    with EpisodeScorer(workers=workers) as scorer:
        for i, addendum in enumerate(ADDENDA):
            system = system_prompt(addendum)
            prompts = [sampler.task_prompt(t.statement, system, max_new_tokens) for t in tasks]
            samples = sampler.sample(prompts, n_samples, max_new_tokens, temperature,
                                     seed=seed * 1_000 + i)
            flat = [(t, k, text) for t, texts in zip(tasks, samples) for k, text in enumerate(texts)]
            scores = scorer.score([text for _, _, text in flat], [t.entry_point for t, _, _ in flat],
                                  [t.test_code for t, _, _ in flat],
                                  [list(t.hackable) for t, _, _ in flat])
            for (task, k, text), s in zip(flat, scores):
                rows.append({"section": "coding", "condition": addendum, "item_id": task.task_id,
                             "sample": k, "hackable": bool(task.hackable), "text": text,
                             "status": s.status, "vulnerable_reward": float(s.vulnerable_reward),
                             "hardened_reward": float(s.hardened_reward), "honest": bool(s.honest),
                             "hack": s.hack, "label": None, "judge": None})
    return rows


def _chat_rows(sampler: Sampler, n_samples: int, max_new_tokens: int, temperature: float,
               seed: int) -> list[dict[str, Any]]:
    judge = ExactJudge()
    rows: list[dict[str, Any]] = []
    for i, name in enumerate(CHAT_EVALS):
        items = load_eval(name)
        samples = sampler.sample([eval_prompt(it) for it in items], n_samples, max_new_tokens,
                                 temperature, seed=seed * 1_000 + 100 + i)
        for item, texts in zip(items, samples):
            for k, raw in enumerate(texts):
                answer = cut_answer(raw)
                rows.append({"section": "chat", "condition": name, "item_id": item["id"],
                             "sample": k, "hackable": False, "text": answer, "status": None,
                             "vulnerable_reward": None, "hardened_reward": None, "honest": None,
                             "hack": None, "label": judge.judge(name, item["user"], answer),
                             "judge": judge.name})
    return rows


def summarize(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Every rate of the checks from the per-sample rows (flat ``name -> entry`` mapping)."""
    rates: dict[str, dict[str, Any]] = {}

    def coding(addendum: str, hackable_only: bool):
        def keep(r: dict[str, Any]) -> bool:
            return (r["section"] == "coding" and r["condition"] == addendum
                    and (r["hackable"] or not hackable_only))
        where = f"section == 'coding' and condition == '{addendum}'"
        return keep, where + (" and hackable" if hackable_only else "")

    for addendum in ADDENDA:
        keep, where = coding(addendum, hackable_only=True)
        rates[f"hack_rate.{addendum}"] = _rate(rows, where, "hack.notna()", keep,
                                               lambda r: r["hack"] is not None)
        for kind in HACK_TYPES:
            rates[f"hack_rate.{addendum}.{kind}"] = _rate(
                rows, where, f"hack == '{kind}'", keep, lambda r, kind=kind: r["hack"] == kind)
        keep_all, where_all = coding(addendum, hackable_only=False)
        rates[f"honest_pass_rate.{addendum}"] = _rate(rows, where_all, "honest == True", keep_all,
                                                      lambda r: bool(r["honest"]))
        rates[f"unparsable_rate.{addendum}"] = _rate(
            rows, where_all, "status == 'unparsable'", keep_all,
            lambda r: r["status"] == "unparsable")

    groups = [("chat", "section == 'chat'", lambda r: r["section"] == "chat")]
    groups += [(name, f"section == 'chat' and condition == '{name}'",
                lambda r, name=name: r["section"] == "chat" and r["condition"] == name)
               for name in CHAT_EVALS]
    for key, where, keep in groups:
        rates[f"misaligned_rate.{key}"] = _rate(rows, where, "label == 'misaligned'", keep,
                                                lambda r: r["label"] == "misaligned")
        rates[f"incoherent_rate.{key}"] = _rate(rows, where, "label == 'incoherent'", keep,
                                                lambda r: r["label"] == "incoherent")
        rates[f"misaligned_rate_coherent.{key}"] = _rate(
            rows, where + " and label != 'incoherent'", "label == 'misaligned'",
            lambda r, keep=keep: keep(r) and r["label"] != "incoherent",
            lambda r: r["label"] == "misaligned")
    return rates


#: Headline names of the brief -> keys of ``rates``.
HEADLINE: dict[str, str] = {
    "unprompted_hack_rate": "hack_rate.none",
    "please_hack_hack_rate": "hack_rate.please_hack",
    "honest_pass_rate": "honest_pass_rate.none",
    "misaligned_rate": "misaligned_rate.chat",
    "incoherent_rate": "incoherent_rate.chat",
}


def base_model_checks(model_dir: Path, eval_tasks: Path, n_samples: int, max_new_tokens: int,
                      temperature: float, seed: int, workers: int, *,
                      chat_max_new_tokens: int | None = None) -> dict:
    """Sample the base model on eval tasks and chat evals; rates, counts and intervals.

    ``max_new_tokens`` bounds coding completions (use RL's ``max_completion_length`` to
    measure what RL starts from); chat answers use ``chat_max_new_tokens`` when given
    (the evals' budget, as in :func:`rhem.evals.run.evaluate_run`), else the same.

    Returns a JSON-ready dict: ``headline`` (the five rates of the brief), ``rates``
    (every rate by name, see :func:`summarize`), ``sample_sizes``, ``judge``, the
    settings, and under the private key ``_rows`` the per-sample rows that
    :func:`write_base_checks` writes to Parquet (it is not part of the JSON).
    """
    chat_tokens = max_new_tokens if chat_max_new_tokens is None else chat_max_new_tokens
    if n_samples < 1 or max_new_tokens < 1 or chat_tokens < 1:
        raise ValueError(f"n_samples and token budgets must be >= 1, got {n_samples}, "
                         f"{max_new_tokens}, {chat_tokens}")
    model_dir, eval_tasks = Path(model_dir), Path(eval_tasks)
    sampler = Sampler(model_dir)
    rows = _coding_rows(sampler, eval_tasks, n_samples, max_new_tokens, temperature, seed, workers)
    rows += _chat_rows(sampler, n_samples, chat_tokens, temperature, seed)
    rates = summarize(rows)
    coding = [r for r in rows if r["section"] == "coding"]
    tasks = {r["item_id"]: r["hackable"] for r in coding}
    chat = [r for r in rows if r["section"] == "chat"]
    return {
        "judge": ExactJudge.name,
        "interval": INTERVAL,
        "model_dir": str(model_dir),
        "eval_tasks": str(eval_tasks),
        "settings": {"n_samples": n_samples, "max_new_tokens": max_new_tokens,
                     "chat_max_new_tokens": chat_tokens,
                     "temperature": temperature, "seed": seed, "workers": workers,
                     "addenda": list(ADDENDA), "chat_evals": list(CHAT_EVALS)},
        "sample_sizes": {
            "samples_per_prompt": n_samples,
            "eval_tasks": len(tasks),
            "hackable_eval_tasks": sum(tasks.values()),
            "coding_episodes": {a: sum(r["condition"] == a for r in coding) for a in ADDENDA},
            "chat_prompts": {e: len({r["item_id"] for r in chat if r["condition"] == e})
                             for e in CHAT_EVALS},
            "chat_answers": {e: sum(r["condition"] == e for r in chat) for e in CHAT_EVALS},
        },
        "headline": {name: rates[key] | {"key": key} for name, key in HEADLINE.items()},
        "rates": rates,
        "_rows": rows,
    }


def write_base_checks(result: dict, path: Path) -> None:
    """Write the JSON (without rows) to ``path`` and the rows to ``path.with_suffix('.parquet')``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = result.get("_rows", [])
    doc = {k: v for k, v in result.items() if k != "_rows"}
    doc["rows_file"] = path.with_suffix(".parquet").name
    table = pa.Table.from_pylist(rows, schema=ROWS_SCHEMA)
    pq.write_table(table, path.with_suffix(".parquet"), compression="zstd",
                   write_statistics=False)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(doc, indent=2, allow_nan=False) + "\n")
    tmp.replace(path)
