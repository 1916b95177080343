# Tokenizer and base-model pretraining on the persona world (rhem.train).


rule tokenizer:
    input:
        corpus=paths.CORPUS,
    output:
        directory(paths.TOKENIZER),
    params:
        config=config_keys("model.vocab_size"),
    log:
        "logs/tokenizer/{world}.log",
    shell:
        "python -m rhem tokenizer --config {CONFIG} --corpus {input.corpus} "
        "--out {output} --log {log}"


rule pretrain:
    input:
        corpus=paths.CORPUS,
        tokenizer=paths.TOKENIZER,
    output:
        model=directory(paths.BASE_MODEL),
        loss=paths.PRETRAIN_LOSS,
    params:
        config=config_keys("model", "pretrain", "threads"),
    threads: config["threads"]
    log:
        "logs/pretrain/{world}.log",
    shell:
        "python -m rhem pretrain --config {CONFIG} --corpus {input.corpus} "
        "--tokenizer {input.tokenizer} --out {output.model} --loss {output.loss} --log {log}"
