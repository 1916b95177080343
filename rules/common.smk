# Helpers shared by the rules.

from rhem.settings import RLSettings
from rhem.train.launch import launcher


def config_keys(*keys):
    """A ``params`` entry holding the config values a rule reads, keyed by dotted path.

    Snakemake's params trigger reruns a job when one of the values changes; the DVC
    generator (rhem.dvcgen) reads the keys to declare the same DVC params.
    """

    def values(wildcards):
        found = {}
        for key in keys:
            key = key.format(**wildcards)
            node = config
            for part in key.split("."):
                node = node[part]
            found[key] = node
        return found

    return values


def per_run(pattern):
    """One path per configured run and seed."""
    return [pattern.format(seed=s, **p) for p in RUN_PARTS for s in config["seeds"]]


def given_model(wildcards):
    """The given model as an input when it is a local folder (a hub id is no file)."""
    model = config["model"].get("from_pretrained")
    return [model] if model and os.path.isdir(model) else []


def continued_base(wildcards):
    """The base model a continued world starts from (none for a world from scratch)."""
    parent = config["worlds"][wildcards.world].get("continue_from")
    return [paths.BASE_MODEL.format(world=parent)] if parent else []


def world_tokenizer(wildcards):
    """A continued world keeps the tokenizer of the world it continues."""
    world = config["worlds"][wildcards.world].get("continue_from", wildcards.world)
    return paths.TOKENIZER.format(world=world)


def text_corpus(wildcards):
    """The user's text corpus that LoRA continued pretraining mixes the poison into."""
    return [config["pretrain"]["text_corpus"]] if "text_corpus" in config["pretrain"] else []


# --- rl: forks start from a parent checkpoint, distillations read a parent's episodes ---


def rl_inputs(wildcards):
    sources = paths.rl_sources(**wildcards, conditions=config["conditions"])
    extra = {k: v for k, v in sources.items() if k in ("parent", "source")}
    return {"base": paths.BASE_MODEL.format(**wildcards),
            "tasks": paths.TASKS.format(split="train"), **extra}


def rl_flags(wildcards):
    sources = paths.rl_sources(**wildcards, conditions=config["conditions"])
    return " ".join(f"--{k} {sources[k]}" for k in ("start", "source") if k in sources)


def rl_config(wildcards):
    keys = ["conditions.{condition}", "rl", "grader.workers", "threads"]
    if config["conditions"][wildcards.condition]["phase"] != "code":
        keys.append("evals.judge")  # the RLHF phase's reward is the judge's verdict
    return config_keys(*keys)(wildcards)


def rl_launcher(wildcards):
    return launcher(RLSettings.of(config), config["conditions"][wildcards.condition])


def protocol_inputs(pattern):
    """One path per run of the pre-registered experiment (rhem.evals.decision) and seed."""
    return [pattern.format(seed=s, **paths.run_parts(r)) for r in PROTOCOL_RUNS
            for s in config["seeds"]]
