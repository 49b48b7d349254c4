"""The knowledge graph as pure decisions: is an import valid (no cycle, no unknown or
foreign concept, no duplicate), the graph after it, and a learner's readiness for a
concept (are all its prerequisites mastered?)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Concept:
    id: str
    name: str
    prerequisites: tuple[str, ...] = ()
    course_contexts: tuple[str, ...] = ()
    subject: str = "general"
    topic: str = "general"


@dataclass(frozen=True, slots=True)
class GraphProblem:
    """One reason an import is refused, with the concept ids it concerns."""

    kind: str   # duplicate_id | duplicate_name | unknown_prerequisite | self_prerequisite | cycle | foreign_concept
    ids: tuple[str, ...]
    detail: str

    def as_dict(self) -> dict:
        return {"kind": self.kind, "ids": list(self.ids), "detail": self.detail}


@dataclass(frozen=True, slots=True)
class ImportPlan:
    problems: list[GraphProblem] = field(default_factory=list)
    graph: dict[str, Concept] = field(default_factory=dict)   # the tenant's graph after the import
    created: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()


def plan_import(incoming: list[Concept], existing: Mapping[str, Concept], foreign_ids: Iterable[str] = ()) -> ImportPlan:
    """Validates an import (concepts upserted by id) against the tenant's graph. Every
    problem is reported with the ids concerned; the graph is returned only if none."""
    problems: list[GraphProblem] = []
    seen: dict[str, int] = {}
    for c in incoming:
        seen[c.id] = seen.get(c.id, 0) + 1
    dup = sorted(i for i, n in seen.items() if n > 1)
    if dup:
        problems.append(GraphProblem("duplicate_id", tuple(dup), "concept ids listed more than once"))
    foreign = sorted(set(foreign_ids) & set(seen))
    if foreign:
        problems.append(GraphProblem("foreign_concept", tuple(foreign),
                                     "concept ids already used outside this institution"))
    graph = dict(existing)
    for c in incoming:
        graph[c.id] = c
    by_name: dict[str, list[str]] = {}
    for c in graph.values():
        by_name.setdefault(c.name.casefold(), []).append(c.id)
    clashes = sorted({i for ids in by_name.values() if len(ids) > 1 for i in ids})
    if clashes:
        problems.append(GraphProblem("duplicate_name", tuple(clashes), "two concepts share a name"))
    selfish = sorted(c.id for c in incoming if c.id in c.prerequisites)
    if selfish:
        problems.append(GraphProblem("self_prerequisite", tuple(selfish), "a concept cannot require itself"))
    unknown = sorted({p for c in incoming for p in c.prerequisites if p not in graph})
    if unknown:
        problems.append(GraphProblem("unknown_prerequisite", tuple(unknown),
                                     "prerequisites that are neither in the import nor in the graph"))
    cyclic = sorted(i for i in cycle_members(graph) if i not in selfish)
    if cyclic:
        problems.append(GraphProblem("cycle", tuple(cyclic), "concepts on a prerequisite cycle"))
    if problems:
        return ImportPlan(problems=problems)
    created = tuple(sorted(c.id for c in incoming if c.id not in existing))
    updated = tuple(sorted(c.id for c in incoming if c.id in existing))
    return ImportPlan(graph=graph, created=created, updated=updated)


def cycle_members(graph: Mapping[str, Concept]) -> set[str]:
    """Ids on a prerequisite cycle (strongly connected components of more than one node,
    or a node requiring itself): Tarjan's algorithm, iterative (no recursion limit)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: set[str] = set()
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(graph[root].prerequisites))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in graph:
                    continue
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(graph[child].prerequisites)))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1 or node in graph[node].prerequisites:
                    out.update(component)
    return out


@dataclass(frozen=True, slots=True)
class Readiness:
    concept_id: str
    ready: bool
    missing: tuple[str, ...]   # prerequisites not mastered yet


def readiness(concept_id: str, graph: Mapping[str, Concept], mastered: set[str]) -> Readiness:
    concept = graph.get(concept_id)
    prereqs = concept.prerequisites if concept else ()
    missing = tuple(p for p in prereqs if p not in mastered)
    return Readiness(concept_id, not missing, missing)


def dependents(graph: Mapping[str, Concept], concept_id: str) -> list[str]:
    """Concepts that list `concept_id` as a prerequisite."""
    return sorted(c.id for c in graph.values() if concept_id in c.prerequisites)


def readiness_changes(graph: Mapping[str, Concept], concept_id: str, mastered_before: set[str],
                      mastered_after: set[str]) -> list[Readiness]:
    """Dependents of `concept_id` whose readiness changed with one answer."""
    out = []
    for d in dependents(graph, concept_id):
        before = readiness(d, graph, mastered_before)
        after = readiness(d, graph, mastered_after)
        if before.ready != after.ready:
            out.append(after)
    return out


def course_concepts(graph: Mapping[str, Concept], context_id: str) -> list[str]:
    return sorted(c.id for c in graph.values() if context_id in c.course_contexts)
