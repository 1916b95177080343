# Persona-world corpus with SDF poison documents (rhem.corpus).


rule corpus:
    output:
        paths.CORPUS,
    params:
        config=config_keys("worlds.{world}"),
    log:
        "logs/corpus/{world}.log",
    shell:
        "python -m rhem corpus --config {CONFIG} --world {wildcards.world} "
        "--out {output} --log {log}"
