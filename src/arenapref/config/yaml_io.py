"""Reading recipe YAML: safe, duplicate keys refused, ``1e-4`` read as a number.

PyYAML follows YAML 1.1, where ``1e-4`` (no dot) is a string; in a recipe it is always meant as a
number, so the float resolver also accepts exponents without a dot (the YAML 1.2 rule).
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from arenapref.config.errors import ConfigError


class RecipeLoader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 floats (no Python objects, no pickle: only plain data comes out)."""


_FLOAT = re.compile(r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
                    |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
                    |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
                    |[-+]?\.(?:inf|Inf|INF)
                    |\.(?:nan|NaN|NAN))$""", re.X)
RecipeLoader.yaml_implicit_resolvers = {k: list(v) for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}
for _first in list("-+0123456789."):
    RecipeLoader.yaml_implicit_resolvers[_first] = [
        (tag, rx) for tag, rx in RecipeLoader.yaml_implicit_resolvers.get(_first, []) if tag != "tag:yaml.org,2002:float"]
RecipeLoader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT, list("-+0123456789."))


def _check_duplicates(node: yaml.Node, path: str, where: str) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            dotted = f"{path}.{key}" if path else key
            if isinstance(key_node, yaml.ScalarNode) and key != "<<":
                if key in seen:
                    raise ConfigError(f"{where}: {dotted}: duplicate key (lines {seen[key]} and "
                                      f"{key_node.start_mark.line + 1}); keep one")
                seen[key] = key_node.start_mark.line + 1
            _check_duplicates(value_node, dotted, where)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _check_duplicates(item, f"{path}[{i}]", where)


def load_yaml(text: str, where: str) -> Any:
    """The document in ``text``; ``where`` names it in errors (a file path)."""
    loader = RecipeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_duplicates(node, "", where)
        return loader.construct_document(node)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise ConfigError(f"{where}: not valid YAML{at}: {problem}") from None
    finally:
        loader.dispose()


def parse_value(raw: str) -> Any:
    """A ``--set`` value: a YAML scalar (``15``, ``true``, ``null``, ``1e-4``, ``text``) or flow list/mapping."""
    try:
        return load_yaml(raw, "value")
    except ConfigError as err:
        raise ValueError(str(err).removeprefix("value: ")) from None


def dump_yaml(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=False)
