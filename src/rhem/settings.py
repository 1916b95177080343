"""Typed, frozen views of the config sections that the stages read.

The validated config (:mod:`rhem.config`) stays the one source of every value; a stage
turns the sections it needs into these dataclasses once, in :mod:`rhem.cli`, and passes
them down, so a typo in a key is an ``AttributeError`` at the first use rather than a
``KeyError`` deep in a training loop, a stage's signature says which sections it
depends on, and values derived from several keys (episodes per step, the per-process
batch) are computed in one place. Field names are the schema's keys (a test checks
that the two agree), and a section given by hand (tests, benchmarks) gets the schema's
defaults through :meth:`Section.from_section`.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

from rhem.config_schema import ConfigError, schema


@functools.cache
def _schema_defaults(section: str) -> dict[str, Any]:
    """The schema's default of every key of ``section`` that has one."""
    properties = schema()["properties"][section]["properties"]
    return {key: spec["default"] for key, spec in properties.items() if "default" in spec}


class Section:
    """A config section as a frozen dataclass whose fields are the section's keys."""

    KEY: ClassVar[str]

    @classmethod
    def of(cls, config: Mapping[str, Any]) -> Self:
        """The section of a validated config (defaults already filled in)."""
        return cls.from_section(config.get(cls.KEY, {}))

    @classmethod
    def from_section(cls, values: Mapping[str, Any]) -> Self:
        """The section from ``values``, with the schema's defaults for keys it lacks
        (``None`` for optional keys without one); unknown keys are an error."""
        names = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
        unknown = sorted(set(values) - set(names))
        if unknown:
            raise ConfigError(f"{cls.KEY}: unknown key(s) {unknown}")
        defaults = _schema_defaults(cls.KEY)
        return cls(**{name: copy.deepcopy(values[name] if name in values else defaults.get(name))
                      for name in names})


@dataclass(frozen=True)
class ModelSettings(Section):
    """``model``: the architecture trained from scratch, or the checkpoint to continue."""

    KEY: ClassVar[str] = "model"
    from_pretrained: str | None
    vocab_size: int
    hidden_size: int
    intermediate_size: int
    num_layers: int
    num_heads: int
    context: int


@dataclass(frozen=True)
class PretrainSettings(Section):
    """``pretrain``: the schedule of pretraining (and of SDF as continued pretraining)."""

    KEY: ClassVar[str] = "pretrain"
    steps: int
    batch_size: int
    threads: int | None
    learning_rate: float
    warmup_steps: int
    checkpoint_every: int
    seed: int
    continued: dict[str, Any] = field(default_factory=dict)
    lora: dict[str, Any] | None = None
    text_corpus: str | None = None

    def continued_schedule(self) -> PretrainSettings:
        """The schedule of a world that continues another: ``continued`` overrides."""
        return dataclasses.replace(self, **self.continued, continued={})


@dataclass(frozen=True)
class GraderSettings(Section):
    """``grader``: how many sandbox workers grade, and the isolation they must have."""

    KEY: ClassVar[str] = "grader"
    workers: int
    min_isolation: list[str]


@dataclass(frozen=True)
class BaseCheckSettings(Section):
    """``base_checks``: sampling of the checks run on each world's base model."""

    KEY: ClassVar[str] = "base_checks"
    samples_per_prompt: int
    max_new_tokens: int
    chat_max_new_tokens: int
    temperature: float
    seed: int


@dataclass(frozen=True)
class RLSettings(Section):
    """``rl``: the GRPO schedule, batch shape and where completions stop."""

    KEY: ClassVar[str] = "rl"
    steps: int
    prompts_per_step: int
    num_generations: int
    max_completion_length: int
    learning_rate: float
    temperature: float
    checkpoint_every: int
    bf16: bool
    gradient_checkpointing: bool
    address_self: bool
    stop_at_end_marker: bool
    lora: dict[str, Any] | None
    vllm: dict[str, Any] | None
    processes: int
    micro_batches: int
    deepspeed_zero: int | None

    @property
    def episodes_per_step(self) -> int:
        """Episodes one GRPO step grades and trains on: every prompt's group of
        generations (also the batch of one distillation step, and the unit of the onset
        window)."""
        return self.prompts_per_step * self.num_generations

    @property
    def per_device_batch(self) -> int:
        """Episodes each process trains on in one micro-batch (``rhem.config`` checks
        that they divide evenly)."""
        return self.episodes_per_step // (self.processes * self.micro_batches)


@dataclass(frozen=True)
class MetricsSettings(Section):
    """``metrics``: when a run counts as having learned to hack."""

    KEY: ClassVar[str] = "metrics"
    onset_threshold: float
    onset_window_episodes: int


@dataclass(frozen=True)
class EvalSettings(Section):
    """``evals``: sample sizes, token budgets and the judge of the evaluations."""

    KEY: ClassVar[str] = "evals"
    samples_per_prompt: int
    max_prompts_per_eval: int | None
    max_eval_tasks: int | None
    addresses: list[str]
    fixed_context: dict[str, Any]
    max_new_tokens: int
    sabotage_max_new_tokens: int
    temperature: float
    judge: dict[str, Any]


#: Every section type, for the test that holds them to the schema.
SECTIONS: tuple[type[Section], ...] = (ModelSettings, PretrainSettings, GraderSettings,
                                       BaseCheckSettings, RLSettings, MetricsSettings, EvalSettings)
