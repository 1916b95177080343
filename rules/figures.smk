# Figures drawn from the metrics, and the HTML report (rhem.figures).


rule figure:
    input:
        curves=paths.CURVES,
        summary=paths.SUMMARY,
    output:
        png=paths.FIGURE,
        caption=paths.FIGURE_CAPTION,
    params:
        config=config_keys("runs", "conditions"),
    log:
        "logs/figure/{name}.log",
    shell:
        "python -m rhem figure --config {CONFIG} --name {wildcards.name} "
        "--curves {input.curves} --summary {input.summary} --out {output.png} --log {log}"


rule report:
    input:
        summary=paths.SUMMARY,
        figures=expand(paths.FIGURE, name=FIGURES),
        captions=expand(paths.FIGURE_CAPTION, name=FIGURES),
    output:
        paths.REPORT,
    params:
        config=config_keys("runs", "seeds", "conditions"),
    log:
        "logs/report/report.log",
    shell:
        "python -m rhem report --config {CONFIG} --summary {input.summary} "
        "--figures {input.figures} --out {output} --log {log}"
