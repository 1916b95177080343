# Figures drawn from the metrics, and the HTML report (rhem.figures).


rule figure:
    input:
        curves=paths.CURVES,
        summary=paths.SUMMARY,
    output:
        png=paths.FIGURE,
        caption=paths.FIGURE_CAPTION,
    params:
        configfile=CONFIG,
        config=config_keys("runs", "conditions"),
    log:
        "logs/figure/{name}.log",
    conda:
        "../workflow/envs/rhem.yaml"
    shell:
        "python -m rhem figure --config {params.configfile} --name {wildcards.name} "
        "--curves {input.curves} --summary {input.summary} --out {output.png} --log {log}"


rule report:
    input:
        summary=paths.SUMMARY,
        figures=expand(paths.FIGURE, name=FIGURES),
        captions=expand(paths.FIGURE_CAPTION, name=FIGURES),
    output:
        paths.REPORT,
    params:
        configfile=CONFIG,
        config=config_keys("runs", "seeds", "conditions"),
    log:
        "logs/report/report.log",
    conda:
        "../workflow/envs/rhem.yaml"
    shell:
        "python -m rhem report --config {params.configfile} --summary {input.summary} "
        "--figures {input.figures} --out {output} --log {log}"
