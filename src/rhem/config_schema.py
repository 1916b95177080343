"""Where the config schema lives, and the error every config check raises.

Its own module so that :mod:`rhem.settings` (which reads the schema's defaults) and
:mod:`rhem.config` (which validates against it and builds settings) import it without
importing each other.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import yaml

#: libyaml's loader where PyYAML was built with it (parses a config in a tenth of the time).
SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

#: Package data, so that an installed rhem validates configs from any directory.
SCHEMA = Path(__file__).with_name("config.schema.yaml")


class ConfigError(ValueError):
    """A configuration file is missing, unreadable or violates the schema."""


def schema_path() -> Path:
    """The schema file (shipped inside the package)."""
    if not SCHEMA.is_file():
        raise ConfigError(f"{SCHEMA} not found: the rhem installation is incomplete")
    return SCHEMA


def load_yaml(text: str) -> Any:
    """Parse YAML as ``yaml.safe_load`` does, with libyaml where available."""
    return yaml.load(text, Loader=SafeLoader)


@functools.cache
def schema() -> dict[str, Any]:
    """The parsed schema (read once per process; do not modify it)."""
    return load_yaml(schema_path().read_text())
