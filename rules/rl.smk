# GRPO against the sandboxed grader, one job per world, condition and seed (rhem.train).
# A forked condition starts from its parent run's checkpoint; a distill condition
# fine-tunes the base model on its parent run's non-hacking episodes. rl.processes > 1
# starts the stage under `accelerate launch` (rhem.train.launch).

rule rl:
    input:
        unpack(rl_inputs),
    output:
        model=directory(paths.RUN_MODEL),
        steps=paths.RL_STEPS,
        completions=paths.RL_COMPLETIONS,
    params:
        configfile=CONFIG,
        config=rl_config,
        sources=rl_flags,
        launch=rl_launcher,
    threads: config["threads"]
    log:
        "logs/rl/{world}/{condition}/seed{seed}.log",
    conda:
        "../workflow/envs/rhem.yaml"
    shell:
        "{params.launch} rhem rl --config {params.configfile} --condition {wildcards.condition} "
        "--seed {wildcards.seed} --base {input.base} --tasks {input.tasks} "
        "--out {output.model} --steps {output.steps} --completions {output.completions} "
        "{params.sources} --log {log}"
