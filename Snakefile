# rhem: natural emergent misalignment from reward hacking, rebuilt end to end.
#   snakemake --cores all                                  # default config
#   snakemake --cores all --configfile workflow/config/smoke.yaml
# Rules are thin: they name inputs, outputs and params and call `python -m rhem`.
# Paths come from rhem.paths; parameters from the one config file, which every
# stage re-reads and re-validates (so DVC and a shell run the same commands).

import os

from snakemake.utils import min_version

min_version("9.0")

from rhem import paths
from rhem.config import validate_config
from rhem.figures.registry import FIGURES

DEFAULT_CONFIG = "workflow/config/default.yaml"
if not config:

    configfile: DEFAULT_CONFIG


if workflow.config_settings.config or len(workflow.config_settings.configfiles) > 1:
    raise WorkflowError(
        "rhem stages read their parameters from one config file: put changes in a copy "
        "of workflow/config/*.yaml and pass it with a single --configfile (no --config)."
    )
CONFIG = os.path.relpath((workflow.config_settings.configfiles or [DEFAULT_CONFIG])[0])
validate_config(config)
RUN_PARTS = [paths.run_parts(run) for run in config["runs"]]


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



wildcard_constraints:
    world="[A-Za-z0-9_-]+",
    condition="[A-Za-z0-9_-]+",
    seed=r"\d+",
    split="train|eval",
    name="|".join(FIGURES),


include: "rules/corpus.smk"
include: "rules/envs.smk"
include: "rules/pretrain.smk"
include: "rules/rl.smk"
include: "rules/evals.smk"
include: "rules/figures.smk"


rule all:
    default_target: True
    input:
        paths.REPORT,
        expand(paths.FIGURE, name=FIGURES),
