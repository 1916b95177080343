# GRPO against the sandboxed grader, one job per world, condition and seed (rhem.train).


rule rl:
    input:
        base=paths.BASE_MODEL,
        tasks=paths.TASKS.format(split="train"),
    output:
        model=directory(paths.RUN_MODEL),
        steps=paths.RL_STEPS,
        completions=paths.RL_COMPLETIONS,
    params:
        configfile=CONFIG,
        config=config_keys("conditions.{condition}", "rl", "grader", "threads"),
    threads: config["threads"]
    log:
        "logs/rl/{world}/{condition}/seed{seed}.log",
    conda:
        "../workflow/envs/rhem.yaml"
    shell:
        "python -m rhem rl --config {params.configfile} --condition {wildcards.condition} "
        "--seed {wildcards.seed} --base {input.base} --tasks {input.tasks} "
        "--out {output.model} --steps {output.steps} --completions {output.completions} "
        " --log {log}"
