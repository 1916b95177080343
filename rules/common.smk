# Helpers shared by the rules.


def config_keys(*keys):
    """A ``params`` entry holding the config values a rule reads, keyed by dotted path.

    Snakemake's params trigger reruns a job when one of the values changes; the DVC
    generator (rhem.dvcgen) reads the keys to declare the same DVC params.
    """

    def values(wildcards):
        found = {}
        for key in keys:
            key = key.format(**wildcards)
            node = config
            for part in key.split("."):
                node = node[part]
            found[key] = node
        return found

    return values


def per_run(pattern):
    """One path per configured run and seed."""
    return [pattern.format(seed=s, **p) for p in RUN_PARTS for s in config["seeds"]]
