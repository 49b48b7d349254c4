"""Helpers for the insight page tests: a seeded class, names in the roster copy, and the
cells a page shows."""

from __future__ import annotations

import re
from html import unescape

from db.database import Database
from db.system import system_scope
from devhost import class_seed
from tests.conftest import INSTRUCTOR, TENANT_A, token


async def seeded(host, learners: int = 30, course: str = "course-1", tenant: str = TENANT_A, names: bool = True,
                 prefix: str = "student") -> class_seed.SeededClass:
    cls = await class_seed.seed(host.env, tenant, course, learners, prefix=prefix,
                                concept_prefix=None if tenant == TENANT_A else f"{prefix}-{course}")
    if names:
        await store_names(host, tenant, course, {l["user_id"]: l["name"] for l in cls.learners})
    return cls


async def store_names(host, tenant: str, course: str, names: dict[str, str],
                      fetched_at: str = "2999-01-01T00:00:00.000Z") -> None:
    """A roster copy as a refresh would leave it (fresh, so pages do not refresh it)."""
    scope = system_scope({"id": tenant, "d1_binding": "D1_PRIMARY"}, "test-roster")
    await Database(host.env).batch(scope.insert_exported(
        "course_roster", ["course_context", "lti_user_id", "name", "fetched_at"],
        [[course, u, n, fetched_at] for u, n in names.items()]), name="test.roster")


def teacher_token(host, course: str = "course-1", tenant: str = TENANT_A) -> str:
    return token(host, tenant=tenant, user="teacher-1", context=course, roles=[INSTRUCTOR])


def heatmap_cells(page: str) -> dict[tuple[str, str], str]:
    """(learner id, concept id) -> the value the heatmap's cell carries ('' not started)."""
    return {(r, c): v for r, c, v in re.findall(
        r'<g class="cell" data-row="([^"]+)" data-col="([^"]+)" data-value="([^"]*)"', page)}


def row_labels(page: str) -> list[str]:
    """The heatmap's learner labels, in order."""
    return [unescape(t) for t in re.findall(r'aria-label="([^"]+): learner detail"', page)]
