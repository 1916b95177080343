# Misalignment evaluations: the base model before RL (base_checks), every checkpoint of every
# run (evaluate), their aggregation (metrics) and the pre-registered analysis (decide).


rule evaluate:
    input:
        base=paths.BASE_MODEL,
        run=paths.RUN_MODEL,
        tasks=paths.TASKS.format(split="eval"),
    output:
        paths.ANSWERS,
    params:
        configfile=CONFIG,
        config=config_keys("evals", "rl.max_completion_length", "grader.workers",
                           "conditions.{condition}"),
    threads: config["threads"]
    log:
        "logs/evaluate/{world}/{condition}/seed{seed}.log",
    conda:
        "../workflow/envs/rhem.yaml"
    shell:
        "python -m rhem evaluate --config {params.configfile} --base {input.base} --run-dir {input.run} "
        "--tasks {input.tasks} --condition {wildcards.condition} --seed {wildcards.seed} "
        "--out {output} --log {log}"


rule metrics:
    input:
        steps=per_run(paths.RL_STEPS),
        answers=per_run(paths.ANSWERS),
    output:
        curves=paths.CURVES,
        summary=paths.SUMMARY,
    params:
        configfile=CONFIG,
        # onsets: metrics.*, and the window's episodes per step from rl
        config=config_keys("runs", "seeds", "metrics", "rl.prompts_per_step", "rl.num_generations"),
    log:
        "logs/metrics/metrics.log",
    conda:
        "../workflow/envs/rhem.yaml"
    shell:
        "python -m rhem metrics --config {params.configfile} --steps {input.steps} "
        "--answers {input.answers} --curves {output.curves} --summary {output.summary} --log {log}"


rule decide:
    input:
        answers=protocol_inputs(paths.ANSWERS),
        completions=protocol_inputs(paths.RL_COMPLETIONS),
        base_checks=expand(paths.BASE_CHECKS_ROWS, world=PROTOCOL_WORLDS),
    output:
        paths.DECISION,
    params:
        configfile=CONFIG,
        config=config_keys("seeds"),
    log:
        "logs/decide/decide.log",
    conda:
        "../workflow/envs/rhem.yaml"
    shell:
        "python -m rhem decide --config {params.configfile} --answers {input.answers} "
        "--completions {input.completions} --base-checks {input.base_checks} --out {output} "
        "--log {log}"


rule base_checks:
    input:
        base=paths.BASE_MODEL,
        tasks=paths.TASKS.format(split="eval"),
    output:
        checks=paths.BASE_CHECKS,
        rows=paths.BASE_CHECKS_ROWS,
    params:
        configfile=CONFIG,
        config=config_keys("base_checks", "grader.workers", "threads"),
    threads: config["threads"]
    log:
        "logs/base_checks/{world}.log",
    conda:
        "../workflow/envs/rhem.yaml"
    shell:
        "python -m rhem base-checks --config {params.configfile} --base {input.base} "
        "--tasks {input.tasks} --out {output.checks} --log {log}"
