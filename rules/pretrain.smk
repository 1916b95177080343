# Tokenizer and base-model pretraining on the persona world (rhem.train), continued
# pretraining of another world's model (worlds.<w>.continue_from), or LoRA continued
# pretraining of a given model (model.from_pretrained).


# a given model's tokenizer is copied (vocab_size unused); otherwise one is trained
TOKENIZER_KEYS = (
    "model.from_pretrained" if "from_pretrained" in config["model"] else "model.vocab_size"
)


rule tokenizer:
    input:
        corpus=paths.CORPUS,
        model=given_model,
    output:
        directory(paths.TOKENIZER),
    params:
        configfile=CONFIG,
        config=config_keys(TOKENIZER_KEYS),
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
        tokenizer=world_tokenizer,
        model=given_model,
        text=text_corpus,
        start=continued_base,
    output:
        model=directory(paths.BASE_MODEL),
        loss=paths.PRETRAIN_LOSS,
    params:
        configfile=CONFIG,
        config=config_keys("model", "pretrain", "worlds.{world}", "threads"),
        start=lambda wildcards, input: f"--start {input.start}" if input.start else "",
    threads: lambda wildcards: pretrain_threads(config, wildcards.world)
    log:
        "logs/pretrain/{world}.log",
    conda:
        "../workflow/envs/rhem.yaml"
    shell:
        "python -m rhem pretrain --config {params.configfile} --world {wildcards.world} "
        "--corpus {input.corpus} --tokenizer {input.tokenizer} --out {output.model} "
        "--loss {output.loss} {params.start} --log {log}"
