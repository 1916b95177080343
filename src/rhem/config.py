"""Load and validate a run configuration: the one source of truth for every parameter.

Snakemake validates the config in the Snakefile and every ``python -m rhem`` stage
validates it again with the same schema and the same function, so a stage started by
DVC or by hand sees exactly the values (defaults included) that Snakemake saw.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from rhem.config_schema import ConfigError, load_yaml, schema, schema_path
from rhem.settings import RLSettings


def _check_keys(config: dict[str, Any]) -> None:
    """Raise one short error per bad key (``rl.steps: 'x' is not of type 'integer'``).

    Snakemake's own message dumps the whole sub-schema; users need the key path.
    """
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema())
    problems = []
    for err in sorted(validator.iter_errors(config), key=lambda e: list(map(str, e.path))):
        where = ".".join(map(str, err.path)) or "<top level>"
        if err.validator == "additionalProperties":
            extra = sorted(set(err.instance) - set(err.schema.get("properties", {})))
            for key in extra:
                problems.append(f"{where + '.' if err.path else ''}{key}: unknown key")
            continue
        problems.append(f"{where}: {err.message}")
    if problems:
        raise ConfigError("invalid config: " + "; ".join(problems))


def validate_config(config: dict[str, Any]) -> dict[str, Any]:
    """Validate in place, fill defaults, and cross-check names the schema cannot see."""
    from snakemake.utils import validate

    _check_keys(config)
    validate(config, str(schema_path()), set_default=True)
    _check_conditions(config)
    _check_worlds(config)
    for run in config["runs"]:
        world, condition = run.split("/")
        if world not in config["worlds"]:
            raise ConfigError(f"runs: {run!r} names unknown world {world!r}")
        if condition not in config["conditions"]:
            raise ConfigError(f"runs: {run!r} names unknown condition {condition!r}")
        cond = config["conditions"][condition]
        for kind in ("fork", "distill"):  # its curves and figures need the parent's too
            if kind in cond and f"{world}/{cond[kind]['from']}" not in config["runs"]:
                raise ConfigError(f"runs: {run!r} needs {world}/{cond[kind]['from']} in runs "
                                  f"too (conditions.{condition}.{kind}.from)")
    model = config["model"]
    if model["hidden_size"] % model["num_heads"]:
        raise ConfigError("model.hidden_size must be a multiple of model.num_heads")
    return config


def _check_conditions(config: dict[str, Any]) -> None:
    """Forks and distillations must name a trainable parent at a saved checkpoint."""
    conditions, rl = config["conditions"], RLSettings.of(config)
    if rl.episodes_per_step % (rl.processes * rl.micro_batches):
        raise ConfigError("rl.processes * rl.micro_batches must divide rl.prompts_per_step * "
                          "rl.num_generations (each process trains on equal pieces of the batch)")
    for name, cond in conditions.items():
        where = f"conditions.{name}"
        if "fork" in cond and "distill" in cond:
            raise ConfigError(f"{where}: fork and distill exclude each other")
        if cond.get("phase", "code") != "code" and "fork" not in cond:
            raise ConfigError(f"{where}.phase: an RLHF phase forks a run (set fork)")
        for kind in ("fork", "distill"):
            if kind not in cond:
                continue
            parent = cond[kind]["from"]
            if parent not in conditions:
                raise ConfigError(f"{where}.{kind}.from: unknown condition {parent!r}")
            if parent == name or "distill" in conditions[parent]:
                raise ConfigError(f"{where}.{kind}.from: {parent!r} is not an RL run to start from")
        if "fork" in cond:
            step = cond["fork"]["step"]
            if step >= rl.steps or step % rl.checkpoint_every:
                raise ConfigError(
                    f"{where}.fork.step: {step} must be a checkpoint before rl.steps "
                    f"(a multiple of rl.checkpoint_every={rl.checkpoint_every} "
                    f"below {rl.steps})")
    for name in conditions:  # a fork chain must end at a condition trained from the base
        chain, node = [name], conditions[name]
        while "fork" in node:
            parent = node["fork"]["from"]
            if parent in chain:
                raise ConfigError(f"conditions.{name}.fork: cycle {' -> '.join(chain + [parent])}")
            chain.append(parent)
            node = conditions[parent]


def _check_worlds(config: dict[str, Any]) -> None:
    """A continued world names a world pretrained from scratch, in the same model family."""
    worlds = config["worlds"]
    for name, world in worlds.items():
        parent = world.get("continue_from")
        if parent is None:
            continue
        where = f"worlds.{name}.continue_from"
        if "from_pretrained" in config["model"]:
            raise ConfigError(f"{where}: not with model.from_pretrained (every world there "
                              "already continues the given model, with LoRA)")
        if parent not in worlds:
            raise ConfigError(f"{where}: unknown world {parent!r}")
        if parent == name or "continue_from" in worlds[parent]:
            raise ConfigError(f"{where}: {parent!r} must be a world pretrained from scratch")


def pretrain_threads(config: dict[str, Any], world: str) -> int:
    """Torch threads of ``world``'s pretraining job.

    Where the other worlds continue one world pretrained from scratch (the default
    layout), that job runs alone, since every other training job waits for its model,
    so it may use ``pretrain.threads``; continued and LoRA worlds run side by side like
    every other training job and keep ``threads``.
    """
    scratch = "continue_from" not in config["worlds"][world] and \
        "from_pretrained" not in config["model"]
    return config["pretrain"].get("threads", config["threads"]) if scratch else config["threads"]


#: Validated configs of this process by (file, modification time, size): ``rhem review``
#: runs many stages in one process, each reading the same file.
_VALIDATED: dict[tuple[str, int, int], dict[str, Any]] = {}


def load_config(path: str | Path) -> dict[str, Any]:
    """Read a YAML config file and validate it; errors name the file and the key. Each
    call returns its own copy."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    stat = path.stat()
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    if key not in _VALIDATED:
        config = load_yaml(path.read_text()) or {}
        if not isinstance(config, dict):
            raise ConfigError(f"{path}: top level must be a mapping")
        try:
            _VALIDATED[key] = validate_config(config)
        except ConfigError as err:
            raise ConfigError(f"{path}: {err}") from None
    return copy.deepcopy(_VALIDATED[key])
