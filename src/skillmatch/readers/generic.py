"""Read a taxonomy in the generic one-table format (see docs/data-formats.md).

Columns: ``id,label,alt_labels,description,type,parent,isco_group,essential_skills,optional_skills``; only
``id`` and ``label`` are required. ``type`` is ``skill`` (default), ``knowledge``, ``group`` or
``occupation``. Skills and knowledge become concepts, groups become the group hierarchy, occupations become
occupations plus their essential/optional relations.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from pydantic import Field, field_validator

from skillmatch.readers.tables import (
    RowModel,
    StrList,
    log_ignored_columns,
    normalise_key,
    read_table,
    require_columns,
    sort_rejects,
    validate_records,
)
from skillmatch.schema import (
    CONCEPT_COLUMNS,
    GROUP_COLUMNS,
    OCCUPATION_COLUMNS,
    RELATION_COLUMNS,
    RELATION_WEIGHTS,
    Reject,
    Taxonomy,
)

GENERIC_COLUMNS = [
    "id",
    "label",
    "alt_labels",
    "description",
    "type",
    "parent",
    "isco_group",
    "essential_skills",
    "optional_skills",
]

CONCEPT_TYPES = ("skill", "knowledge")
TYPE_ALIASES = {
    "skill": "skill",
    "skills": "skill",
    "competence": "skill",
    "skill/competence": "skill",
    "skill competence": "skill",
    "knowledge": "knowledge",
    "group": "group",
    "skill group": "group",
    "skillgroup": "group",
    "category": "group",
    "occupation": "occupation",
    "role": "occupation",
    "job": "occupation",
}

#: Separator of group labels in ``group_path``.
PATH_SEPARATOR = " > "


class TaxonomyRow(RowModel):
    """One row of a generic taxonomy file."""

    id: str = Field(min_length=1)
    label: str = Field(min_length=1)
    alt_labels: StrList = Field(default_factory=list)
    description: str | None = None
    type: str = "skill"
    parent: str | None = None
    isco_group: str | None = None
    essential_skills: StrList = Field(default_factory=list)
    optional_skills: StrList = Field(default_factory=list)

    @field_validator("type", mode="before")
    @classmethod
    def _type(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        kind = TYPE_ALIASES.get(normalise_key(value)) or TYPE_ALIASES.get(value.strip().lower())
        if kind is None:
            raise ValueError(f"unknown type {value!r}; expected skill, knowledge, group or occupation")
        return kind


@dataclass
class _Node:
    row: int
    item: TaxonomyRow


def _misplaced_fields(node: _Node, file: str) -> list[Reject]:
    """Fields filled in on a row type they do not apply to (the row is rejected rather than losing them)."""
    item = node.item
    if item.type == "occupation":
        if item.parent:
            return [Reject(file, node.row, "parent", "occupations have no parent; leave it empty")]
        return []
    out = []
    if item.isco_group:
        out.append(
            Reject(file, node.row, "isco_group", f"isco_group applies to occupations, not to a {item.type}")
        )
    for name in ("essential_skills", "optional_skills"):
        if getattr(item, name):
            out.append(Reject(file, node.row, name, f"{name} applies to occupations, not to a {item.type}"))
    return out


def _check_parents(nodes: dict[str, _Node], file: str) -> list[Reject]:
    """Reject rows whose parent is unknown, of the wrong kind, or part of a cycle, until none is left.

    Removes the rejected rows from ``nodes``; a row whose parent was rejected is rejected in turn.
    """
    rejects: list[Reject] = []
    while True:
        bad: dict[str, Reject] = {}
        for node_id, node in nodes.items():
            parent = node.item.parent
            if not parent or node.item.type == "occupation":
                continue
            target = nodes.get(parent)
            if target is None:
                bad[node_id] = Reject(
                    file,
                    node.row,
                    "parent",
                    f"unknown parent id {parent!r} (not in the file, or its row was rejected)",
                )
            elif target.item.type == "occupation":
                bad[node_id] = Reject(file, node.row, "parent", f"parent {parent!r} is an occupation")
            elif node.item.type == "group" and target.item.type != "group":
                bad[node_id] = Reject(
                    file,
                    node.row,
                    "parent",
                    f"the parent of a group must be a group; {parent!r} is a {target.item.type}",
                )
        if not bad:
            for cycle in _cycles(nodes):
                names = PATH_SEPARATOR.join([*cycle, cycle[0]])
                for node_id in cycle:
                    bad[node_id] = Reject(
                        file, nodes[node_id].row, "parent", f"parents form a cycle: {names}"
                    )
        if not bad:
            return rejects
        rejects.extend(bad.values())
        for node_id in bad:
            del nodes[node_id]


def _cycles(nodes: dict[str, _Node]) -> list[list[str]]:
    """Cycles in the parent links (each as the list of ids on it)."""
    state: dict[str, int] = {}  # 1 = on the current walk, 2 = done
    cycles = []
    for start in nodes:
        walk: list[str] = []
        current: str | None = start
        while current is not None and current in nodes and state.get(current) is None:
            state[current] = 1
            walk.append(current)
            current = nodes[current].item.parent or None
        if current is not None and state.get(current) == 1:
            cycles.append(walk[walk.index(current) :])
        for node_id in walk:
            state[node_id] = 2
    return cycles


def ancestor_paths(
    parents: Mapping[str, str], labels: Mapping[str, str], nodes: Iterable[str]
) -> dict[str, str]:
    """The " > "-joined labels of the ancestors of each node, root first ("" for a top node).

    Args:
        parents: the parent of each node that has one (a node missing here, or whose parent has no label,
            is a top node).
        labels: the label of every node.
        nodes: the nodes to compute paths for.

    Returns:
        node id -> path. A label repeated right after itself is shown once. A cycle in ``parents`` is cut
        where the walk first meets a node again.
    """
    memo: dict[str, tuple[str, ...]] = {}
    for start in nodes:
        chain: list[str] = []
        on_chain: set[str] = set()
        current = start
        while current not in memo:
            parent = parents.get(current)
            chain.append(current)
            on_chain.add(current)
            if parent is None or parent not in labels or parent in on_chain:
                memo[current] = ()
                chain.pop()
                break
            current = parent
        for child in reversed(chain):
            parent = parents[child]
            memo[child] = (*memo[parent], labels[parent])
    return {node: PATH_SEPARATOR.join(_collapse(memo[node])) for node in nodes}


def _collapse(labels: tuple[str, ...]) -> list[str]:
    """Drop a label equal to the one before it (ESCO names some broad and narrow fields alike)."""
    return [label for i, label in enumerate(labels) if i == 0 or label != labels[i - 1]]


def _relations(nodes: dict[str, _Node], file: str) -> tuple[list[dict[str, str]], list[Reject]]:
    relations: list[dict[str, str]] = []
    rejects: list[Reject] = []
    for node_id, node in nodes.items():
        if node.item.type != "occupation":
            continue
        essential: set[str] = set()
        for relation in ("essential", "optional"):
            field = f"{relation}_skills"
            for skill_id in getattr(node.item, field):
                target = nodes.get(skill_id)
                if target is None or target.item.type not in CONCEPT_TYPES:
                    what = (
                        "unknown skill id"
                        if target is None
                        else f"{target.item.type} id (not a skill/knowledge)"
                    )
                    rejects.append(Reject(file, node.row, field, f"{what} {skill_id!r}; relation dropped"))
                elif relation == "optional" and skill_id in essential:
                    rejects.append(
                        Reject(
                            file,
                            node.row,
                            field,
                            f"{skill_id!r} is already an essential skill; relation dropped",
                        )
                    )
                else:
                    if relation == "essential":
                        essential.add(skill_id)
                    relations.append({"occupation_id": node_id, "skill_id": skill_id, "relation": relation})
    return relations, rejects


def _text_frame(
    records: Sequence[Mapping[str, object]], columns: list[str], lists: Iterable[str] = ()
) -> pd.DataFrame:
    """A table whose non-list columns are text (``str`` dtype, NaN where absent)."""
    frame = pd.DataFrame(records, columns=columns)
    for column in columns:
        if column not in lists:
            frame[column] = frame[column].astype("str")
    return frame


def read_generic_taxonomy(
    path: str | Path, name: str | None = None, version: str = "unknown"
) -> tuple[Taxonomy, list[Reject]]:
    """Read a taxonomy in the generic one-table format.

    Any format :func:`~skillmatch.readers.tables.read_table` reads works; lists are ``|``-separated (or JSON
    arrays / native lists). Concepts get ``broader = [parent]`` and a ``group_path`` of the labels of their
    ancestors (groups and concepts), root first. Unknown or wrong-kind parents, parent cycles, fields that do
    not apply to a row's type and duplicate ids reject the row; unknown relation targets reject that relation.

    Args:
        path: the taxonomy file.
        name: the taxonomy name (default: the file name without extension).
        version: the taxonomy version.

    Returns:
        The taxonomy and the rejects (ordered by row).

    Raises:
        InputError: the file cannot be used as a whole or lacks the ``id``/``label`` columns.
    """
    file = str(path)
    rejects: list[Reject] = []
    frame = read_table(path, rejects)
    require_columns(frame, file, ["id", "label"])
    log_ignored_columns(frame, GENERIC_COLUMNS, file)
    good, bad = validate_records(frame, TaxonomyRow, file)
    rejects.extend(bad)

    nodes: dict[str, _Node] = {}
    for row, item in good:
        node = _Node(row, item)
        misplaced = _misplaced_fields(node, file)
        if misplaced:
            rejects.extend(misplaced)
        else:
            nodes[item.id] = node
    rejects.extend(_check_parents(nodes, file))
    relations, relation_rejects = _relations(nodes, file)
    rejects.extend(relation_rejects)
    paths = ancestor_paths(
        {i: n.item.parent for i, n in nodes.items() if n.item.parent},
        {i: n.item.label for i, n in nodes.items()},
        list(nodes),
    )

    concepts, occupations, groups = [], [], []
    for node_id, node in nodes.items():
        item = node.item
        if item.type in CONCEPT_TYPES:
            concepts.append(
                {
                    "id": node_id,
                    "label": item.label,
                    "alt_labels": [a for a in item.alt_labels if a != item.label],
                    "description": item.description,
                    "type": item.type,
                    "reuse_level": None,
                    "broader": [item.parent] if item.parent else [],
                    "group_path": paths[node_id],
                }
            )
        elif item.type == "group":
            groups.append({"id": node_id, "label": item.label})
        else:
            occupations.append(
                {
                    "id": node_id,
                    "label": item.label,
                    "alt_labels": [a for a in item.alt_labels if a != item.label],
                    "description": item.description,
                    "isco_group": item.isco_group,
                }
            )
    taxonomy = Taxonomy(
        name=name or Path(path).stem,
        version=version,
        concepts=_text_frame(concepts, CONCEPT_COLUMNS, lists=("alt_labels", "broader")),
        occupations=_text_frame(occupations, OCCUPATION_COLUMNS, lists=("alt_labels",)),
        relations=_text_frame(relations, RELATION_COLUMNS[:-1]).assign(
            weight=lambda f: f["relation"].map(RELATION_WEIGHTS).astype(float)
        ),
        groups=_text_frame(groups, GROUP_COLUMNS),
    )
    return taxonomy, sort_rejects(rejects)
