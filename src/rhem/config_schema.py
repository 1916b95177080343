"""Where the config schema lives, and the error every config check raises.

Its own module so that :mod:`rhem.settings` (which reads the schema's defaults) and
:mod:`rhem.config` (which validates against it and builds settings) import it without
importing each other.
"""

from __future__ import annotations

from pathlib import Path

#: Package data, so that an installed rhem validates configs from any directory.
SCHEMA = Path(__file__).with_name("config.schema.yaml")


class ConfigError(ValueError):
    """A configuration file is missing, unreadable or violates the schema."""


def schema_path() -> Path:
    """The schema file (shipped inside the package)."""
    if not SCHEMA.is_file():
        raise ConfigError(f"{SCHEMA} not found: the rhem installation is incomplete")
    return SCHEMA
