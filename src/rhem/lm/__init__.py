"""The language model as every stage uses it: tokenizer, device, decoding and sampling.

Pretraining, RL, distillation, the base checks and the evaluations all load, prompt and
sample models the same way; this package sits between the environments (``envs``) and
the stages that train (``train``) and measure (``evals``), so neither imports the other.
"""
