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
from rhem.config import pretrain_threads, validate_config
from rhem.evals.decision import RUNS as PROTOCOL_RUNS, WORLD_C, WORLD_T
from rhem.figures.registry import FIGURES, TABLE

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
# The pre-registered experiment (docs/protocol.md) is analysed when the config runs it.
PROTOCOL_WORLDS = [WORLD_T, WORLD_C]
HAS_PROTOCOL = set(PROTOCOL_RUNS) <= set(config["runs"])


wildcard_constraints:
    world="[A-Za-z0-9_-]+",
    condition="[A-Za-z0-9_-]+",
    seed=r"\d+",
    split="train|eval",
    name="|".join(FIGURES),


include: "rules/common.smk"
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
        paths.PLOTS,
        expand(paths.BASE_CHECKS, world=sorted({p["world"] for p in RUN_PARTS})),
        [paths.DECISION] if HAS_PROTOCOL else [],
