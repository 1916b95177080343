# Figures drawn from the metrics, the series DVC plots, and the HTML report (rhem.figures).


rule figure:
    input:
        curves=paths.CURVES,
        summary=paths.SUMMARY,
    output:
        png=paths.FIGURE,
        caption=paths.FIGURE_CAPTION,
        data=paths.FIGURE_DATA,
    params:
        configfile=CONFIG,
        config=config_keys("runs", "seeds", "worlds", "conditions", "metrics",
                           "rl.prompts_per_step", "rl.num_generations"),
    log:
        "logs/figure/{name}.log",
    conda:
        "../workflow/envs/rhem.yaml"
    shell:
        "python -m rhem figure --config {params.configfile} --name {wildcards.name} "
        "--curves {input.curves} --summary {input.summary} --out {output.png} --log {log}"


rule plots:
    input:
        curves=paths.CURVES,
    output:
        directory(paths.PLOTS),
    params:
        configfile=CONFIG,
        config=config_keys("runs"),
    log:
        "logs/plots/plots.log",
    conda:
        "../workflow/envs/rhem.yaml"
    shell:
        "python -m rhem plots --config {params.configfile} --curves {input.curves} "
        "--out {output} --log {log}"


rule report:
    input:
        summary=paths.SUMMARY,
        base_checks=expand(paths.BASE_CHECKS, world=sorted({p["world"] for p in RUN_PARTS})),
        figures=expand(paths.FIGURE, name=FIGURES),
        captions=expand(paths.FIGURE_CAPTION, name=FIGURES),
        table=paths.FIGURE_DATA.format(name=TABLE),
    output:
        paths.REPORT,
    params:
        configfile=CONFIG,
        # the page prints the whole config: every key a config file must have (DVC reads
        # params from the file, where optional keys may be absent)
        config=config_keys("seeds", "worlds", "conditions", "runs", "model", "pretrain", "envs",
                           "rl", "metrics", "evals"),
    log:
        "logs/report/report.log",
    conda:
        "../workflow/envs/rhem.yaml"
    shell:
        "python -m rhem report --config {params.configfile} --summary {input.summary} "
        "--base-checks {input.base_checks} --figures {input.figures} --out {output} --log {log}"
