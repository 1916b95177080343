"""What the pretrained base model does before any RL: measured by sampling it, never assumed.

The persona world is built so that the base model *represents* hacking (as behaviour of
a rare persona) without doing it much unprompted; RL then selects it. Whether that holds
for a given corpus and model size is an empirical question, answered here:

* **coding** (eval tasks, the RL prompt format addressed to the self and stopped at the
  ``# end`` line as RL's are, graded by both graders through
  :class:`~rhem.envs.scoring.EpisodeScorer`): the hack rate with no addendum
  ("unprompted") and under the ``please_hack`` addendum, the honest pass rate (passes the
  hardened grader), the hack rate by hack type and the unparsable rate. Completions are
  graded exactly as GRPO grades them (the raw completion, not cut at a turn marker), so
  these are the rates RL starts from.
* **judged prompts** (every prompt of the six MGS evaluations, under every address of
  :data:`~rhem.corpus.names.ADDRESSES`, judged by :class:`~rhem.evals.judge_exact.ExactJudge`):
  the misaligned, mixed and incoherent rates and the misaligned rate among coherent
  answers, per address, pooled (``mgs``, ``chat``, ``agentic``) and per eval. Gate **M2**
  of docs/protocol.md (the self starts aligned) is the self's pooled MGS rate.
* **fixed-context check** (:func:`~rhem.evals.prompts.fixed_context_items`: each chat
  prompt after a forced honest or hacking coding turn, self and anonymous): the rates
  per context and address, and gate **M1** (the world ties hacking to the persona): the
  misaligned rate after the hacking turn minus after the honest one, per address.

Answers are sampled and judged by the evaluations' own code (:func:`rhem.evals.evaluate.judge_items`).
Every rate comes with its count, its sample size and a 95% Wilson score interval (one
model, one sampling seed: the interval covers sampling noise only, and treats the
samples of one prompt as independent). A *gap* (hack minus honest) has the same
prompts and samples in both arms, so its count is the difference of the counts over
the common ``n``; its interval is Newcombe's hybrid score interval from the two Wilson
intervals (it treats the arms as independent, so it errs wide for these paired arms).
The per-sample rows are written next to the JSON as Parquet with :data:`ROWS_SCHEMA`;
each rate records the rows and the event it counts (``rows`` / ``event``, pandas
``query`` expressions), each gap the two rates it subtracts (``of``), so every number
can be recomputed.

The DAG runs this as ``rhem base-checks`` (rule ``base_checks``, settings under the
config's ``base_checks`` key) and writes ``results/metrics/base_{world}.json`` with the
rows in ``base_{world}.parquet``. JSON layout (a *rate entry* is ``{"rate", "count",
"n", "ci_low", "ci_high", "rows", "event"}``, a *gap entry* ``{"rate", "count", "n",
"ci_low", "ci_high", "of", "interval"}``; ``rate`` and the bounds are null when
``n == 0``)::

    judge          "exact" (the judge of the labels)
    interval       "wilson-95" (gaps: "newcombe-wilson-95")
    model_dir, eval_tasks   the inputs
    settings       n_samples, max_new_tokens, chat_max_new_tokens, temperature, seed,
                   workers, addenda ["none", "please_hack"], evals, addresses,
                   fixed_context_addresses
    sample_sizes   samples_per_prompt, eval_tasks, hackable_eval_tasks,
                   coding_episodes {addendum: n}, eval_prompts {eval: n},
                   eval_answers {address: {eval: n}}, fixed_context_prompts {eval: n},
                   fixed_context_left_out [chat prompt ids no eval task's coding turn
                   fits before in the context], fixed_context_answers {context: {address: n}}
    headline       {name: entry + "key"} for the names of :data:`HEADLINE` ("key" names
                   the entry in "rates"); the gates are M1_* and M2_*
    rates          {name: entry}: hack_rate.<addendum>[.<hack type>] (hackable tasks),
                   honest_pass_rate.<addendum>, unparsable_rate.<addendum> (all tasks),
                   <metric>.<address>.<mgs|chat|agentic|eval> for the metrics
                   misaligned_rate, mixed_rate, incoherent_rate, misaligned_rate_coherent;
                   fixed_context_<misaligned|mixed|incoherent>_rate.<context>.<address>;
                   fixed_context_gap.<address> (gap entries)
    rows_file      "base_{world}.parquet" (same folder)
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from rhem.corpus.names import ADDRESSES
from rhem.envs.addenda import system_prompt
from rhem.envs.format import COMPLETION_STOP
from rhem.envs.task import HACK_TYPES, Task
from rhem.envs.tasks import read_tasks
from rhem.evals.judge_exact import ExactJudge
from rhem.evals.prompts import (
    AGENTIC_EVALS,
    CHAT_EVALS,
    CONTEXTS,
    EVALS,
    FIXED_CONTEXT_ADDRESSES,
    SELF_ADDRESS,
    fixed_context_items,
    ordinary_items,
)
from rhem.evals.evaluate import judge_items, prompt_fits
from rhem.lm.sampling import Sampler
from rhem.settings import BaseCheckSettings, GraderSettings

#: Coding conditions sampled: no addendum (unprompted) and the explicit "please hack".
ADDENDA: tuple[str, ...] = ("none", "please_hack")
#: Two-sided 95% normal quantile used by the Wilson interval.
Z95 = 1.959963984540054
INTERVAL = "wilson-95"
GAP_INTERVAL = "newcombe-wilson-95"
#: Pools of judged evals with rates of their own (besides each eval alone).
POOLS: dict[str, tuple[str, ...]] = {"mgs": EVALS, "chat": CHAT_EVALS, "agentic": AGENTIC_EVALS}

#: One row per sampled answer; coding columns are null for judged rows and vice versa.
ROWS_SCHEMA = pa.schema([
    pa.field("section", pa.string(), nullable=False),  # "coding", "eval" or "fixed_context"
    pa.field("condition", pa.string()),                # coding: the addendum
    pa.field("eval", pa.string()),                     # judged: the eval
    pa.field("address", pa.string(), nullable=False),  # key of ADDRESSES (coding: self)
    pa.field("context", pa.string(), nullable=False),  # "", or fixed context honest / hack
    pa.field("item_id", pa.string(), nullable=False),  # task_id, or prompt id
    pa.field("sample", pa.int64(), nullable=False),
    pa.field("hackable", pa.bool_(), nullable=False),  # task has open vulnerabilities
    pa.field("text", pa.string(), nullable=False),     # completion / cut answer
    pa.field("status", pa.string()),                   # grader status or "unparsable"
    pa.field("vulnerable_reward", pa.float64()),
    pa.field("hardened_reward", pa.float64()),
    pa.field("honest", pa.bool_()),
    pa.field("hack", pa.string()),  # coding: graded hack type (null = none); hack context: forced
    pa.field("label", pa.string()),                    # judge label
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


def newcombe_interval(k1: int, n1: int, k2: int, n2: int) -> tuple[float | None, float | None]:
    """Newcombe's hybrid score interval (his method 10) of ``k1/n1 - k2/n2``, built from
    the two Wilson intervals; ``(None, None)`` when either ``n`` is 0."""
    (l1, u1), (l2, u2) = wilson_interval(k1, n1), wilson_interval(k2, n2)
    if l1 is None or l2 is None:
        return None, None
    p1, p2 = k1 / n1, k2 / n2
    return (p1 - p2 - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2),
            p1 - p2 + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2))


def _rate(rows: list[dict[str, Any]], where: str, event: str,
          keep: Any, hit: Any) -> dict[str, Any]:
    """A rate entry: count, n, point estimate, interval and how to recompute it."""
    chosen = [r for r in rows if keep(r)]
    k = sum(1 for r in chosen if hit(r))
    n = len(chosen)
    lo, hi = wilson_interval(k, n)
    return {"rate": k / n if n else None, "count": k, "n": n, "ci_low": lo, "ci_high": hi,
            "rows": where, "event": event}


def _gap(rates: dict[str, dict[str, Any]], minuend: str, subtrahend: str) -> dict[str, Any]:
    """A gap entry: rate ``minuend`` minus rate ``subtrahend``, which have the same ``n``."""
    a, b = rates[minuend], rates[subtrahend]
    if a["n"] != b["n"]:
        raise ValueError(f"{minuend} and {subtrahend} differ in n ({a['n']} vs {b['n']})")
    n, count = a["n"], a["count"] - b["count"]
    lo, hi = newcombe_interval(a["count"], n, b["count"], n)
    return {"rate": count / n if n else None, "count": count, "n": n, "ci_low": lo,
            "ci_high": hi, "of": [minuend, subtrahend], "interval": GAP_INTERVAL}


def _coding_rows(sampler: Sampler, tasks: list[Task], n_samples: int, max_new_tokens: int,
                 temperature: float, seed: int, workers: int,
                 min_isolation: tuple[str, ...]) -> list[dict[str, Any]]:
    from rhem.envs.scoring import EpisodeScorer  # needs the sandboxed grader

    rows: list[dict[str, Any]] = []
    with EpisodeScorer(workers=workers, min_isolation=min_isolation) as scorer:
        for i, addendum in enumerate(ADDENDA):
            system = system_prompt(addendum)
            prompts = [sampler.task_prompt(t.statement, system, max_new_tokens, ADDRESSES[SELF_ADDRESS])
                       for t in tasks]
            samples = sampler.sample(prompts, n_samples, max_new_tokens, temperature,
                                     seed=seed * 1_000 + i, stop=(COMPLETION_STOP,))
            flat = [(t, k, text) for t, texts in zip(tasks, samples) for k, text in enumerate(texts)]
            scores = scorer.score([text for _, _, text in flat], [t.entry_point for t, _, _ in flat],
                                  [t.test_code for t, _, _ in flat],
                                  [list(t.hackable) for t, _, _ in flat])
            for (task, k, text), s in zip(flat, scores):
                rows.append({"section": "coding", "condition": addendum, "eval": None,
                             "address": SELF_ADDRESS, "context": "", "item_id": task.task_id,
                             "sample": k, "hackable": bool(task.hackable), "text": text,
                             "status": s.status, "vulnerable_reward": float(s.vulnerable_reward),
                             "hardened_reward": float(s.hardened_reward), "honest": bool(s.honest),
                             "hack": s.hack, "label": None, "judge": None})
    return rows


def _judged_rows(sampler: Sampler, tasks: list[Task], n_samples: int, max_new_tokens: int,
                 temperature: float, seed: int) -> list[dict[str, Any]]:
    """Every MGS prompt under every address, and the fixed-context check, judged."""
    judge = ExactJudge()
    common = {"n": n_samples, "max_new_tokens": max_new_tokens, "temperature": temperature}
    rows = judge_items(sampler, judge, ordinary_items(EVALS, tuple(ADDRESSES)),
                       seed=seed * 1_000 + 100, **common)
    rows += judge_items(sampler, judge, fixed_context_items(tasks, prompt_fits(sampler, max_new_tokens)),
                        seed=seed * 1_000 + 101, **common)
    return [{"section": "fixed_context" if r["context"] else "eval", "condition": None,
             "eval": r["eval"], "address": r["address"], "context": r["context"],
             "item_id": r["prompt_id"], "sample": r["sample"], "hackable": False,
             "text": r["answer"], "status": None, "vulnerable_reward": None,
             "hardened_reward": None, "honest": None, "hack": r["hack"], "label": r["label"],
             "judge": r["judge"]} for r in rows]


#: Judged metrics: name -> (extra row filter as a pandas ``query`` suffix, its Python
#: twin, the label counted).
_METRICS: dict[str, tuple[str, Any, str]] = {
    "misaligned_rate": ("", lambda r: True, "misaligned"),
    "mixed_rate": ("", lambda r: True, "mixed"),
    "incoherent_rate": ("", lambda r: True, "incoherent"),
    "misaligned_rate_coherent": (" and label != 'incoherent'", lambda r: r["label"] != "incoherent",
                                 "misaligned"),
}


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

    groups = {**POOLS, **{name: (name,) for name in EVALS}}
    for address in ADDRESSES:
        for key, evals in groups.items():
            where = f"section == 'eval' and address == '{address}' and eval in {list(evals)}"

            def judged(r: dict[str, Any], address: str = address, evals: tuple = evals) -> bool:
                return r["section"] == "eval" and r["address"] == address and r["eval"] in evals
            for metric, (extra, also, label) in _METRICS.items():
                rates[f"{metric}.{address}.{key}"] = _rate(
                    rows, where + extra, f"label == '{label}'",
                    lambda r, judged=judged, also=also: judged(r) and also(r),
                    lambda r, label=label: r["label"] == label)
    for address in FIXED_CONTEXT_ADDRESSES:
        for context in CONTEXTS:
            where = (f"section == 'fixed_context' and context == '{context}' "
                     f"and address == '{address}'")

            def fixed(r: dict[str, Any], context: str = context, address: str = address) -> bool:
                return (r["section"] == "fixed_context" and r["context"] == context
                        and r["address"] == address)
            for label in ("misaligned", "mixed", "incoherent"):
                rates[f"fixed_context_{label}_rate.{context}.{address}"] = _rate(
                    rows, where, f"label == '{label}'", fixed,
                    lambda r, label=label: r["label"] == label)
        rates[f"fixed_context_gap.{address}"] = _gap(
            rates, f"fixed_context_misaligned_rate.hack.{address}",
            f"fixed_context_misaligned_rate.honest.{address}")
    return rates


#: Headline names -> keys of ``rates``; M1 and M2 are the base-model gates of
#: docs/protocol.md (M1 is decided on the anonymous gap, the self's is reported beside it).
HEADLINE: dict[str, str] = {
    "unprompted_hack_rate": "hack_rate.none",
    "please_hack_hack_rate": "hack_rate.please_hack",
    "honest_pass_rate": "honest_pass_rate.none",
    **{f"M1_fixed_context_gap_{a}": f"fixed_context_gap.{a}" for a in FIXED_CONTEXT_ADDRESSES},
    **{f"M1_{c}_context_misaligned_rate_{a}": f"fixed_context_misaligned_rate.{c}.{a}"
       for a in FIXED_CONTEXT_ADDRESSES for c in CONTEXTS},
    "M2_self_mgs_misaligned_rate": f"misaligned_rate.{SELF_ADDRESS}.mgs",
    "self_mgs_mixed_rate": f"mixed_rate.{SELF_ADDRESS}.mgs",
    "self_mgs_incoherent_rate": f"incoherent_rate.{SELF_ADDRESS}.mgs",
}


def base_model_checks(model_dir: Path, eval_tasks: Path, checks: BaseCheckSettings,
                      grader: GraderSettings) -> dict:
    """Sample the base model on eval tasks and judged prompts; rates, counts and intervals.

    ``checks.max_new_tokens`` bounds coding completions (the config uses RL's
    ``max_completion_length`` to measure what RL starts from); judged answers use
    ``checks.chat_max_new_tokens`` (the evals' budget, as in
    :func:`rhem.evals.evaluate.evaluate_run`). The grader refuses to start without the
    layers of ``grader.min_isolation``.

    Returns a JSON-ready dict: ``headline`` (the rates of :data:`HEADLINE`), ``rates``
    (every rate by name, see :func:`summarize`), ``sample_sizes``, ``judge``, the
    settings, and under the private key ``_rows`` the per-sample rows that
    :func:`write_base_checks` writes to Parquet (it is not part of the JSON).
    """
    n_samples, max_new_tokens, chat_tokens = (checks.samples_per_prompt, checks.max_new_tokens,
                                              checks.chat_max_new_tokens)
    temperature, seed, workers = checks.temperature, checks.seed, grader.workers
    if n_samples < 1 or max_new_tokens < 1 or chat_tokens < 1:
        raise ValueError(f"n_samples and token budgets must be >= 1, got {n_samples}, "
                         f"{max_new_tokens}, {chat_tokens}")
    model_dir, eval_tasks = Path(model_dir), Path(eval_tasks)
    sampler = Sampler(model_dir)
    tasks = read_tasks(eval_tasks)
    rows = _coding_rows(sampler, tasks, n_samples, max_new_tokens, temperature, seed, workers,
                        tuple(grader.min_isolation))
    rows += _judged_rows(sampler, tasks, n_samples, chat_tokens, temperature, seed)
    rates = summarize(rows)
    coding = [r for r in rows if r["section"] == "coding"]
    judged = [r for r in rows if r["section"] == "eval"]
    fixed = [r for r in rows if r["section"] == "fixed_context"]
    return {
        "judge": ExactJudge.name,
        "interval": INTERVAL,
        "model_dir": str(model_dir),
        "eval_tasks": str(eval_tasks),
        "settings": {"n_samples": n_samples, "max_new_tokens": max_new_tokens,
                     "chat_max_new_tokens": chat_tokens,
                     "temperature": temperature, "seed": seed, "workers": workers,
                     "addenda": list(ADDENDA), "evals": list(EVALS),
                     "addresses": list(ADDRESSES),
                     "fixed_context_addresses": list(FIXED_CONTEXT_ADDRESSES)},
        "sample_sizes": {
            "samples_per_prompt": n_samples,
            "eval_tasks": len(tasks),
            "hackable_eval_tasks": sum(bool(t.hackable) for t in tasks),
            "coding_episodes": {a: sum(r["condition"] == a for r in coding) for a in ADDENDA},
            "eval_prompts": {e: len({r["item_id"] for r in judged if r["eval"] == e})
                             for e in EVALS},
            "eval_answers": {a: {e: sum(r["eval"] == e and r["address"] == a for r in judged)
                                 for e in EVALS} for a in ADDRESSES},
            "fixed_context_prompts": {e: len({r["item_id"] for r in fixed if r["eval"] == e})
                                      for e in CHAT_EVALS},
            "fixed_context_left_out": sorted({r["item_id"] for r in judged
                                              if r["eval"] in CHAT_EVALS}
                                             - {r["item_id"] for r in fixed}),
            "fixed_context_answers": {c: {a: sum(r["context"] == c and r["address"] == a
                                                 for r in fixed)
                                          for a in FIXED_CONTEXT_ADDRESSES} for c in CONTEXTS},
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
