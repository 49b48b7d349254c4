"""Course authority from LTI roles, decided in one place for the launch and the session.

Only context roles count (LIS v2 `membership` vocabulary, its sub-roles, and the simple
names LTI 1.3 still allows for context roles). Institution and system roles
(`.../institution/person#Instructor`, `.../system/person#Administrator`) say what a person
is elsewhere in the institution, not in this course, so they grant nothing here."""

from __future__ import annotations

from enum import StrEnum

MEMBERSHIP = "http://purl.imsglobal.org/vocab/lis/v2/membership"
# The principal context roles of LIS v2 (LTI 1.3 Core, appendix A.2.3).
PRINCIPAL_CONTEXT_ROLES = frozenset(
    {"Administrator", "ContentDeveloper", "Instructor", "Learner", "Mentor", "Manager", "Member", "Officer"})
# Context roles that may see and manage the course's learners in this tool.
STAFF = frozenset({"Administrator", "ContentDeveloper", "Instructor"})
MAX_ROLES = 100
MAX_ROLE_LENGTH = 255


class CourseRole(StrEnum):
    INSTRUCTOR = "instructor"
    LEARNER = "learner"
    OTHER = "other"  # a mentor, observer or member: neither teaches nor studies here


def context_role(role: str) -> tuple[str, str | None] | None:
    """(principal, sub-role) of a context role, or None for anything else.

    `...membership#Instructor` -> ("Instructor", None);
    `...membership/Instructor#TeachingAssistant` -> ("Instructor", "TeachingAssistant");
    the simple name `Instructor` -> ("Instructor", None)."""
    if not isinstance(role, str):
        return None
    if role in PRINCIPAL_CONTEXT_ROLES:
        return role, None
    if role.startswith(MEMBERSHIP + "#"):
        name = role[len(MEMBERSHIP) + 1:]
        return (name, None) if name in PRINCIPAL_CONTEXT_ROLES else None
    if role.startswith(MEMBERSHIP + "/"):
        principal, sep, sub = role[len(MEMBERSHIP) + 1:].partition("#")
        if sep and sub and principal in PRINCIPAL_CONTEXT_ROLES:
            return principal, sub
    return None


def context_roles(roles: list[str]) -> list[str]:
    """The roles that are context roles, de-duplicated in order (what a session keeps)."""
    out: list[str] = []
    for r in roles:
        if context_role(r) is not None and r not in out:
            out.append(r)
    return out


def course_role(roles: list[str]) -> CourseRole:
    """Instructor if any context role's principal is staff; else learner if any is
    Learner; else other. A learner sub-role (`membership/Learner#Instructor`, a learner
    who instructs other learners) is a learner here."""
    principals = {p for p, _ in filter(None, (context_role(r) for r in roles))}
    if principals & STAFF:
        return CourseRole.INSTRUCTOR
    if "Learner" in principals:
        return CourseRole.LEARNER
    return CourseRole.OTHER


def is_teaching_assistant(roles: list[str]) -> bool:
    return any(context_role(r) == ("Instructor", "TeachingAssistant") for r in roles)
