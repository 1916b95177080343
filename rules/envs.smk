# Coding tasks of the hackable environments (rhem.envs).


rule tasks:
    output:
        paths.TASKS,
    params:
        configfile=CONFIG,
        config=config_keys("envs"),
    log:
        "logs/tasks/{split}.log",
    conda:
        "../workflow/envs/rhem.yaml"
    shell:
        "python -m rhem tasks --config {params.configfile} --split {wildcards.split} "
        "--out {output} --log {log}"
