"""Recipes: a YAML file validated by one typed schema; the resolved recipe is saved with every run.

``load_config(name_or_path, overrides, sets=[...])`` → the resolved recipe as a plain dict (every
section present, every default filled in, a file's ``extends:`` chain merged in); ``load_recipe`` → the
typed ``Recipe``. Problems raise ``ConfigError`` (a ValueError): one line with the file, the key's path and
the closest valid name.
"""

from arenapref.config.errors import ConfigError
from arenapref.config.files import CONFIG_DIR, bundled_recipes, resolve_config_path
from arenapref.config.load import load_config, load_recipe, recipe_dict
from arenapref.config.overrides import Override, deep_merge, flag, parse_set
from arenapref.config.schema import Recipe

__all__ = ["CONFIG_DIR", "ConfigError", "Override", "Recipe", "bundled_recipes", "deep_merge", "flag",
           "load_config", "load_recipe", "parse_set", "recipe_dict", "resolve_config_path"]
