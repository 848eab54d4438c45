"""Configuration: ``tidewatch.yml`` and the native files it names (prometheus.yml,
file_sd files), loaded into the typed dataclasses of :mod:`tidewatch.config.model`
with errors that name the file, the line and the field."""

from tidewatch.config.check import check_config_files, check_referenced_files
from tidewatch.config.errors import ConfigError, ReloadRefused
from tidewatch.config.file_sd import file_sd_paths, load_file_sd, load_file_sd_text
from tidewatch.config.loader import (
    FLAG_NAMES,
    apply_flag_overrides,
    apply_retention_flag,
    default_config,
    load_config,
    load_config_text,
)
from tidewatch.config.model import Config
from tidewatch.config.render import config_to_yaml
from tidewatch.config.size import SizeError, format_size, parse_size

__all__ = [
    "FLAG_NAMES",
    "Config",
    "ConfigError",
    "ReloadRefused",
    "SizeError",
    "apply_flag_overrides",
    "apply_retention_flag",
    "check_config_files",
    "check_referenced_files",
    "config_to_yaml",
    "default_config",
    "file_sd_paths",
    "format_size",
    "load_config",
    "load_config_text",
    "load_file_sd",
    "load_file_sd_text",
    "parse_size",
]
