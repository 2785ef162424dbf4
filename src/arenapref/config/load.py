"""Loading a recipe: YAML file (over the recipes it ``extends``) → overrides → schema validation → the
resolved recipe.

Every problem becomes one ``ConfigError`` line naming where it came from (the file, ``--set ...`` or
a flag), the key's path and what is wrong, with the closest valid name for a typo.
"""

from __future__ import annotations

import difflib
import re
import types
from collections.abc import Iterable, Iterator, Sized
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import ValidationError
from pydantic.fields import FieldInfo

from arenapref.config.errors import ConfigError
from arenapref.config.files import Layer, merged, read_chain, resolve_config_path
from arenapref.config.overrides import Override, apply_overrides, deep_merge, parse_set
from arenapref.config.schema import MODEL_SECTIONS, Recipe, Section, show

MAX_ERRORS = 3


def load_recipe(name_or_path: str | Path | None = None, overrides: dict[str, Any] | None = None, *,
                sets: Iterable[str | Override] = ()) -> Recipe:
    """The validated recipe: the file (a path or a bundled name; None: defaults only), then ``overrides``
    merged over it, then each ``--set`` string or ``Override`` put in place."""
    chain: list[Layer] = []
    raw: dict[str, Any] = {}
    if name_or_path is not None:
        chain = read_chain(resolve_config_path(name_or_path))
        raw = merged(chain)
    attributed: list[Override] = []
    if overrides:
        raw = deep_merge(raw, overrides)
        attributed += [Override(p, None, "overrides") for p in _leaf_paths(overrides)]
    parsed = [parse_set(s) if isinstance(s, str) else s for s in sets]
    raw = apply_overrides(raw, parsed)
    attributed += parsed
    if "extends" in raw:  # only a file's own extends is followed: one put here would be silently ignored
        raise ConfigError(f"{_source('extends', attributed, chain)}: extends: only a recipe file can extend another")
    try:
        return Recipe.model_validate(raw)
    except ValidationError as err:
        raise ConfigError(format_errors(err, chain, attributed, raw)) from None


def recipe_dict(recipe: Recipe) -> dict[str, Any]:
    """The resolved recipe as plain data (what run directories record and the code reads)."""
    return recipe.model_dump(mode="json")


def load_config(name_or_path: str | Path | None = None, overrides: dict[str, Any] | None = None, *,
                sets: Iterable[str | Override] = ()) -> dict[str, Any]:
    """``load_recipe`` as a plain dict: every section present, every default filled in."""
    return recipe_dict(load_recipe(name_or_path, overrides, sets=sets))


# --------------------------------------------------------------------------- error messages
def _leaf_paths(data: dict[str, Any], prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    for key, value in data.items():
        if isinstance(value, dict) and value:
            yield from _leaf_paths(value, (*prefix, str(key)))
        else:
            yield (*prefix, str(key))


def _node(annotation: Any) -> tuple[str, Any]:
    """What a field holds: ("section", cls) | ("union", {tag: cls}) | ("list", item) | ("dict", value) | ("leaf", ann)."""
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        return _node(args[0])
    if origin is Union or origin is types.UnionType:
        members = [a for a in args if a is not type(None)]
        sections = [m for m in members if isinstance(m, type) and issubclass(m, Section)]
        if len(sections) > 1:
            return "union", {get_args(m.model_fields["type"].annotation)[0]: m for m in sections}
        return _node(members[0]) if len(members) == 1 else ("leaf", annotation)
    if isinstance(annotation, type) and issubclass(annotation, Section):
        return "section", annotation
    if origin is list:
        return "list", args[0] if args else Any
    if origin is dict:
        return "dict", args[1] if len(args) > 1 else Any
    return "leaf", annotation


class _Place:
    """Where a pydantic ``loc`` points: the dotted path, the section holding the last key, its field."""

    def __init__(self, loc: tuple[Any, ...]) -> None:
        self.parts: list[str] = []
        self.section: type[Section] | None = Recipe  # the section the last key was looked up in
        self.field: FieldInfo | None = None
        node: tuple[str, Any] = ("section", Recipe)
        for item in loc:
            kind, info = node
            if kind == "union" and item in info:  # the discriminator's tag: not a key of the file
                node = ("section", info[item])
                continue
            if kind == "list" and isinstance(item, int) and self.parts:
                self.parts[-1] += f"[{item}]"
                node = _node(info)
                continue
            self.parts.append(str(item))
            if kind == "section" and item in info.model_fields:
                self.section, self.field = info, info.model_fields[item]
                node = _node(self.field.annotation)
            elif kind == "section":
                self.section, self.field, node = info, None, ("leaf", None)
            else:
                self.section, self.field = None, None
                node = _node(info) if kind == "dict" else ("leaf", None)

    @property
    def path(self) -> str:
        return ".".join(self.parts)

    @property
    def parent(self) -> str:
        return ".".join(self.parts[:-1])


def schema_paths(cls: type[Section], prefix: str = "", model_type: str | None = None) -> Iterator[tuple[str, str]]:
    """(dotted path, key) of every key in the schema; the model section follows ``model_type``."""
    for name, field in cls.model_fields.items():
        path = f"{prefix}.{name}" if prefix else name
        yield path, name
        kind, info = _node(field.annotation)
        if kind == "section":
            yield from schema_paths(info, path, model_type)
        elif kind == "union":
            members = [info[model_type]] if model_type in info else list(info.values())
            for member in members:
                yield from schema_paths(member, prefix=path, model_type=model_type)


def _did_you_mean(key: str, place: _Place, model_type: str | None) -> str:
    section = place.section
    if section is not None:
        by_case = [k for k in section.model_fields if k.lower() == key.lower()]
        close = by_case or difflib.get_close_matches(key, list(section.model_fields), n=1, cutoff=0.6)
        if close:
            return f"; did you mean {_join(place.parent, close[0])}?"
    everywhere = list(dict.fromkeys(schema_paths(Recipe, model_type=model_type)))
    same = [p for p, k in everywhere if k == key]  # the right key in the wrong section
    if not same:
        names = {k for _, k in everywhere}
        close = difflib.get_close_matches(key, sorted(names), n=1, cutoff=0.75)
        same = [p for p, k in everywhere if close and k == close[0]]
    if same:
        same.sort(key=lambda p: (not p.startswith(place.parent), len(p)))
        return f"; did you mean {same[0]}?"
    if section is not None:
        return f" (valid: {', '.join(section.model_fields)})"
    return ""


def _join(parent: str, key: str) -> str:
    return f"{parent}.{key}" if parent else key


def _choices(field: FieldInfo | None) -> list[str]:
    if field is None:
        return []
    found: list[str] = []

    def walk(ann: Any) -> None:
        if get_origin(ann) is Literal:
            found.extend(str(a) for a in get_args(ann))
        for arg in get_args(ann):
            walk(arg)

    walk(field.annotation)
    return found


def _kind_name(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return f"{show(value)} (text)"
    return show(value)


def _message(err: dict[str, Any], place: _Place, model_type: str | None) -> tuple[str, str]:
    """(path, what is wrong) for one pydantic error."""
    kind, ctx, value = err["type"], err.get("ctx") or {}, err.get("input")
    path = place.path
    if kind == "key_error":
        path = _join(path, ctx["key"])
        hint = f"; did you mean {_join(place.path, ctx['suggest'])}?" if ctx.get("suggest") else ""
        return path, ctx["message"] + hint
    if kind == "extra_forbidden":
        return path, "unknown key" + _did_you_mean(place.parts[-1], place, model_type)
    if kind == "missing":
        return path, "required key missing"
    if kind == "union_tag_invalid":
        tags = list(MODEL_SECTIONS)
        close = difflib.get_close_matches(str(ctx.get("tag")), tags, n=1)
        hint = f"; did you mean {close[0]}?" if close else ""
        return _join(path, "type"), f"must be one of {'|'.join(tags)}, got {show(ctx.get('tag'))}{hint}"
    if kind == "literal_error":
        options = _choices(place.field)
        close = difflib.get_close_matches(value, options, n=1) if isinstance(value, str) else []
        hint = f"; did you mean {close[0]}?" if close else ""
        return path, f"must be one of {'|'.join(options) or ctx.get('expected')}, got {show(value)}{hint}"
    if kind == "bool_type":
        quoted = " (a quoted string: write true or false without quotes)" if isinstance(value, str) else ""
        return path, f"must be true or false, got {show(value)}{quoted}"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return path, f"must be an integer, got {_kind_name(value)}"
    if kind in ("float_type", "float_parsing"):
        return path, f"must be a number, got {_kind_name(value)}"
    if kind == "string_type":
        return path, f"must be a string, got {_kind_name(value)}"
    if kind == "list_type":
        return path, f"must be a list, got {_kind_name(value)}"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return path, f"must be a mapping of keys, got {_kind_name(value)}"
    bounds = {"greater_than_equal": ("≥", "ge"), "greater_than": (">", "gt"),
              "less_than_equal": ("≤", "le"), "less_than": ("<", "lt")}
    if kind in bounds:
        sign, key = bounds[kind]
        return path, f"must be {sign} {show(ctx.get(key))}, got {show(value)}"
    if kind in ("too_short", "too_long"):
        n = len(value) if isinstance(value, Sized) else "?"
        want = ctx.get("min_length") if kind == "too_short" else ctx.get("max_length")
        limit = "at least" if kind == "too_short" else "at most"
        if ctx.get("min_length") == ctx.get("max_length") or want == 3 and place.parts[-1] == "shares":
            limit = "exactly"
        return path, f"must have {limit} {want} item(s), got {n}"
    return path, err.get("msg", kind)


def format_errors(error: ValidationError, chain: list[Layer], overrides: list[Override], raw: dict[str, Any]) -> str:
    """One line: ``SOURCE: PATH: problem`` for up to three problems (and how many more there are)."""
    model = raw.get("model")
    model_type = model.get("type", "gbdt") if isinstance(model, dict) else None
    lines: list[str] = []
    for err in error.errors():
        path, text = _message(dict(err), _Place(tuple(err["loc"])), model_type if isinstance(model_type, str) else None)
        line = f"{_source(path, overrides, chain)}: {path}: {text}"
        if line not in lines:
            lines.append(line)
    more = f" (and {len(lines) - MAX_ERRORS} more)" if len(lines) > MAX_ERRORS else ""
    return "; ".join(lines[:MAX_ERRORS]) + more


def _source(path: str, overrides: list[Override], chain: list[Layer]) -> str:
    """The override that put the value at ``path`` (the last one wins), else the file (``chain[0]``), with
    the base it extends when the key is not the file's own."""
    segments = tuple(re.sub(r"\[\d+\]$", "", s) for s in path.split(".")) if path else ()
    for over in reversed(overrides):
        # the override replaced the subtree the problem is in, or put a value under the key at fault
        n = min(len(over.path), len(segments))
        if n and over.path[:n] == segments[:n]:
            return over.source
    if not chain:
        return overrides[-1].source if overrides else "defaults"  # no file: what was given is all there is
    child = chain[0]
    owner = next((layer for layer in chain if _holds(layer.own, segments)), None)
    if owner is child or len(chain) == 1:
        return str(child.path)
    if owner is not None:
        return f"{child.path} (the key is from its base {owner.path})"
    # in no file (a missing key, a whole section's rule): the merged recipe is at fault, say what it merged
    return f"{child.path} (merged over its base {chain[1].path})"


def _holds(data: dict[str, Any], segments: tuple[str, ...]) -> bool:
    """Whether a file's own mapping writes the key at ``segments``."""
    node: Any = data
    for key in segments:
        if not isinstance(node, dict) or key not in node:
            return False
        node = node[key]
    return bool(segments)
