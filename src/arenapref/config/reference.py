"""Every recipe key with its type, default and allowed values, read from the schema.

``arenapref config reference`` prints it; ``docs/recipes.md`` is ``markdown()`` (a test keeps it current:
regenerate with ``arenapref config reference --markdown > docs/recipes.md``).
"""

from __future__ import annotations

import json
import types
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import annotated_types as at
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from arenapref.config.files import bundled_recipes
from arenapref.config.schema import MODEL_SECTIONS, RESERVED_LGB, LGBParams, Recipe, Section


@dataclass(frozen=True)
class Row:
    path: str
    type: str
    default: str
    allowed: str
    doc: str


@dataclass(frozen=True)
class Group:
    title: str
    rows: list[Row]
    note: str = ""


def _strip_optional(ann: Any) -> tuple[Any, bool]:
    if get_origin(ann) in (Union, types.UnionType):
        members = [a for a in get_args(ann) if a is not type(None)]
        if len(members) < len(get_args(ann)) and len(members) == 1:
            return members[0], True
    return ann, False


def _bounds(ann: Any, metadata: list[Any]) -> list[str]:
    """Range constraints on ``ann`` (from annotated_types objects, also inside ``Annotated``)."""
    found = list(metadata)
    if get_origin(ann) is Annotated:
        for extra in get_args(ann)[1:]:
            found.extend(extra.metadata if isinstance(extra, FieldInfo) else [extra])
    out = []
    for c in found:
        for cls, attr, sign in ((at.Gt, "gt", ">"), (at.Ge, "ge", "≥"), (at.Lt, "lt", "<"), (at.Le, "le", "≤")):
            if isinstance(c, cls):
                out.append(f"{sign} {getattr(c, attr)}")
    min_len = next((c.min_length for c in found if isinstance(c, at.MinLen)), None)
    max_len = next((c.max_length for c in found if isinstance(c, at.MaxLen)), None)
    if min_len is not None and min_len == max_len:
        out.append(f"exactly {min_len} items")
    elif min_len is not None:
        out.append(f"at least {min_len} item(s)")
    return out


def _type_name(ann: Any) -> str:
    ann, optional = _strip_optional(ann)
    base = ann
    if get_origin(ann) is Annotated:
        base = get_args(ann)[0]
    origin = get_origin(base)
    if origin is Literal:
        name = "str"
    elif origin is list:
        name = f"list of {_type_name(get_args(base)[0])}"
    elif origin is dict:
        name = f"mapping of str to {_type_name(get_args(base)[1])}"
    elif isinstance(base, type) and issubclass(base, Section):
        name = "mapping"
    elif base is Any:
        name = "any"
    else:
        name = getattr(base, "__name__", str(base))
    return f"{name} or null" if optional else name


def _allowed(field: FieldInfo) -> str:
    ann, _ = _strip_optional(field.annotation)
    inner = get_args(ann)[0] if get_origin(ann) is Annotated else ann
    if get_origin(inner) is Literal:
        return " \\| ".join(str(a) for a in get_args(inner))
    parts = _bounds(ann, list(field.metadata))
    if get_origin(inner) in (list, dict):
        item = get_args(inner)[-1]
        parts += [f"each {b}" for b in _bounds(item, [])]
    return ", ".join(parts)


def _default(field: FieldInfo, owner: type[Section], name: str) -> str:
    ann, _ = _strip_optional(field.annotation)
    if isinstance(ann, type) and issubclass(ann, Section) and field.default is PydanticUndefined:
        return "required" if field.default_factory is None else ""
    if field.default_factory is not None:
        value = field.default_factory()  # type: ignore[call-arg]
    elif field.default is PydanticUndefined:
        return "required"
    else:
        value = field.default
    if isinstance(value, Section):
        return ""
    if value is None and name in owner.drop_none:
        return "(unset)"
    return json.dumps(value)


def _rows(cls: type[Section], prefix: str) -> Iterator[Row | tuple[str, type[Section]]]:
    for name, field in cls.model_fields.items():
        path = f"{prefix}.{name}" if prefix else name
        ann, _ = _strip_optional(field.annotation)
        shown = (field.json_schema_extra or {}).get("shown_type") if isinstance(field.json_schema_extra, dict) else None
        yield Row(path, str(shown or _type_name(field.annotation)), _default(field, cls, name), _allowed(field),
                  field.description or "")
        if isinstance(ann, type) and issubclass(ann, Section) and ann.model_fields:
            yield (path, ann)


def groups() -> list[Group]:
    """Sections in reading order: top level, then each model type's params, then the blend section."""
    out: list[Group] = []
    pending: list[tuple[str, type[Section]]] = [("", Recipe)]
    while pending:
        prefix, cls = pending.pop(0)
        rows: list[Row] = []
        nested: list[tuple[str, Any]] = []  # (prefix, a Section class)
        for item in _rows(cls, prefix):
            if isinstance(item, Row):
                rows.append(item)
            else:
                nested.append(item)
        if cls is Recipe:
            rows.insert(next(i for i, r in enumerate(rows) if r.path == "model"),
                        Row("model.type", "str", '"gbdt"', " \\| ".join(MODEL_SECTIONS),
                            "the model family; its params are listed per type below"))
            rows = [r for r in rows if r.path != "model"]
            # not a schema field: read by the loader (config/files.py) and merged away before validation
            rows.insert(0, Row("extends", "str", "(unset)", "a bundled name or a path",
                               "a base recipe this file is deep-merged over (mappings key by key, a list or "
                               "scalar replaces); never in the resolved recipe"))
            for kind, section in MODEL_SECTIONS.items():
                params = section.model_fields["params"].annotation
                nested.append((f"model.params@{kind}", params))
        note = ""
        if cls is LGBParams:
            note = ("Any other LightGBM parameter is accepted by its name or any alias (LightGBM's own table, "
                    "`lightgbm.basic._ConfigAliases`) as a number, boolean, string or list; aliases are stored "
                    "under one name, and two names of one parameter are an error. Not settable here: "
                    + ", ".join(f"`{k}` ({v})" for k, v in RESERVED_LGB.items()) + ".")
        title, _, rest = prefix.partition("@")
        if rest:
            kind, _, sub = rest.partition(".")
            title = f"{title}.{sub} (model.type: {kind})" if sub else f"{title} (model.type: {kind})"
        if rows or note:
            out.append(Group(title or "top level", [_fix(r, prefix) for r in rows], note))
        # nested sections come right after their parent (depth-first reading order)
        pending[0:0] = nested
    return out


def _fix(row: Row, prefix: str) -> Row:
    """Paths under a per-type heading (``model.params@gbdt.x``) read as the YAML keys (``model.params.x``)."""
    if "@" not in prefix:
        return row
    base, _, rest = row.path.partition("@")
    rest = rest.split(".", 1)[1] if "." in rest else ""
    return Row(f"{base}.{rest}" if rest else base, row.type, row.default, row.allowed, row.doc)


HEADER = """# Recipe reference

Generated from the schema (`src/arenapref/config/schema.py`) by
`arenapref config reference --markdown > docs/recipes.md`; a test fails when it is out of date.

A recipe is a YAML file (or a bundled name: {bundled}). Every key is optional: a missing key takes the
default below, read from the code that uses it (the GBDT's defaults live in `models/gbdt.py`, the LLM's in
`models/llm/config.py`). Unknown keys, wrong types and values out of range are errors that name the key's
path and the closest valid name, e.g. `cv.n_fold: unknown key; did you mean cv.n_folds?`.

* `arenapref config show RECIPE [--set KEY=VALUE ...]` prints the resolved recipe (every default filled in).
* `arenapref train ... --set model.params.lgb_params.num_leaves=15` changes one key without a new file
  (repeatable; the value is read as YAML: `15`, `0.05`, `1e-4`, `true`, `null`, `[a.jsonl, b.jsonl]`);
  `--folds`, `--seed` and `--on-bad-row` are shorthands for `cv.n_folds`, `seed` and `data.on_bad_row`.
* `extends: cpu-best` (a top-level key) starts from another recipe: a bundled name, or a path looked up
  beside the file first. The file is deep-merged over its base (mappings key by key; a list or scalar
  replaces the base's), a base may extend another, then `--set` applies; the resolved recipe that a run
  records has no `extends`, everything is filled in. `cpu-best-embed` is `cpu-best` plus one block this way.
* Strict types: `'false'` (quoted) is not a boolean, `'0.1'` not a number, `3.0` not an integer.
* `(unset)`: the key is left out of the resolved recipe unless given: a model's `seed` is then the recipe's
  `seed`, a LightGBM parameter keeps LightGBM's own default, `blend` / `runs` are for blend recipes.
"""


def markdown() -> str:
    lines = [HEADER.format(bundled=", ".join(f"`{b}`" for b in bundled_recipes())).rstrip(), ""]
    for group in groups():
        lines += [f"## `{group.title}`" if group.title != "top level" else "## Top level", ""]
        if group.rows:
            lines += ["| key | type | default | allowed | meaning |", "|---|---|---|---|---|"]
            lines += [_table_row(r) for r in group.rows]
            lines.append("")
        if group.note:
            lines += [group.note, ""]
    return "\n".join(lines)


def _table_row(r: Row) -> str:
    default = f"`{r.default}`" if r.default else ""
    doc = r.doc.replace("|", "\\|")  # a bare | would end the Markdown cell
    return f"| `{r.path}` | {r.type} | {default} | {r.allowed} | {doc} |"


def text() -> str:
    out = []
    for group in groups():
        out.append(f"[{group.title}]")
        for r in group.rows:
            default = f"default {r.default}" if r.default and r.default != "required" else r.default
            extra = "; ".join(x for x in (default, r.allowed.replace("\\|", "|")) if x)
            out.append(f"  {r.path}: {r.type}" + (f" ({extra})" if extra else "") + (f" - {r.doc}" if r.doc else ""))
        if group.note:
            out.append(f"  {group.note}")
    return "\n".join(out) + "\n"
