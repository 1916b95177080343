# Persona-world corpus with SDF poison documents (rhem.corpus).


rule corpus:
    output:
        paths.CORPUS,
    params:
        configfile=CONFIG,
        config=config_keys("worlds.{world}"),
    log:
        "logs/corpus/{world}.log",
    conda:
        "../workflow/envs/rhem.yaml"
    shell:
        "python -m rhem corpus --config {params.configfile} --world {wildcards.world} "
        "--out {output} --log {log}"
