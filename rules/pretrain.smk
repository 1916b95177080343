# Tokenizer and base-model pretraining on the persona world (rhem.train).


rule tokenizer:
    input:
        corpus=paths.CORPUS,
    output:
        directory(paths.TOKENIZER),
    params:
        configfile=CONFIG,
        config=config_keys("model.vocab_size"),
    log:
        "logs/tokenizer/{world}.log",
    conda:
        "../workflow/envs/rhem.yaml"
    shell:
        "python -m rhem tokenizer --config {params.configfile} --corpus {input.corpus} "
        "--out {output} --log {log}"


rule pretrain:
    input:
        corpus=paths.CORPUS,
        tokenizer=paths.TOKENIZER,
    output:
        model=directory(paths.BASE_MODEL),
        loss=paths.PRETRAIN_LOSS,
    params:
        configfile=CONFIG,
        config=config_keys("model", "pretrain", "threads"),
    threads: config["threads"]
    log:
        "logs/pretrain/{world}.log",
    conda:
        "../workflow/envs/rhem.yaml"
    shell:
        "python -m rhem pretrain --config {params.configfile} --corpus {input.corpus} "
        "--tokenizer {input.tokenizer} --out {output.model} --loss {output.loss} --log {log}"
