# Coding tasks of the hackable environments (rhem.envs).


rule tasks:
    output:
        paths.TASKS,
    params:
        config=config_keys("envs"),
    log:
        "logs/tasks/{split}.log",
    shell:
        "python -m rhem tasks --config {CONFIG} --split {wildcards.split} "
        "--out {output} --log {log}"
