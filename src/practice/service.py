"""Practice activities over D1: activities (assessment_configs), the question bank
(questions), drafts (generated_content), the learner's way through an activity
(activity_progress) and answers through the learner model (learner.service.record_answer).
Reads what a decision needs, calls the pure functions of practice/ and learner/, writes
the outcome; no decisions of its own."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass

import privacy
from db import profiles
from db.database import ConstraintViolation, Database
from db.profiles import new_id, now_iso
from db.scope import TenantScope
from db.system import concepts_of_other_tenants
from learner import graph as kg
from learner import memory as mem
from learner import model as lm
from learner import service as learner
from practice import answers, grading, items, selection
from practice.providers import DraftingError, provider_for

TYPES = ("flashcards", "fill_blank", "chat")
ITEM_FORMAT = {"flashcards": "flashcard", "fill_blank": "fill_blank"}
MAX_ACTIVITY_CONCEPTS = 50
PENDING = "pending:"
STATEMENTS_PER_BATCH = 250
# An item shown and not answered is shown again when the learner comes back within this
# time (where they left off); later, the choice is made afresh, so reviews that fell due
# meanwhile come first.
RESUME_WITHIN_S = 6 * 3600


class PracticeError(learner.LearnerError):
    """A request practice cannot serve; `status` and `kind` say how to answer it (the
    learner model's error, under practice's name: routes answer both the same way)."""


_loads = learner.loads_json  # None -> default, JSON text decoded, decoded values as they are


def _dumps(value) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _not_found(what: str = "activity") -> PracticeError:
    return PracticeError(404, "not-found", f"No such {what}.")


# -- activities ------------------------------------------------------------------------------

def activity_view(row: dict) -> dict:
    """An activity as the API shows it (to its course)."""
    return {
        "id": row["id"], "title": row["title"], "type": row["assessment_type"],
        "course_context": row["course_context"], "concepts": _loads(row["concepts"], []),
        "mastery_threshold": float(row["mastery_threshold"]), "grading_schema": row["grading_schema"],
        "graded": bool(row["graded"]), "typo_tolerance": int(row["typo_tolerance"]),
        "engagement_target": int(row["engagement_target"]), "status": row["status"], "closes_at": row["closes_at"],
        "bound": not str(row["resource_link_id"]).startswith(PENDING), "line_item_url": row["line_item_url"],
        "created_at": row["created_at"], "updated_at": row["updated_at"],
    }


def is_open(row: dict, now_iso_text: str) -> bool:
    return row["status"] == "open" and (not row["closes_at"] or now_iso_text < row["closes_at"])


async def get_activity(db: Database, scope: TenantScope, activity_id: str) -> dict | None:
    return await db.first(scope.select("assessment_configs", {"id": activity_id}, name="activities.get"))


async def activity_in_course(db: Database, scope: TenantScope, activity_id: str, context_id: str) -> dict:
    """The activity if it belongs to this course; anything else answers like a missing one."""
    row = await get_activity(db, scope, activity_id)
    if row is None or row["course_context"] != context_id:
        raise _not_found()
    return row


async def activity_for_link(db: Database, scope: TenantScope, resource_link_id: str | None) -> dict | None:
    if not resource_link_id:
        return None
    return await db.first(scope.select("assessment_configs", {"resource_link_id": resource_link_id},
                                       name="activities.by_link"))


async def course_activities(db: Database, scope: TenantScope, context_id: str) -> list[dict]:
    return await db.all(scope.select("assessment_configs", {"course_context": context_id}, order_by="created_at",
                                     name="activities.of_course"))


async def check_concepts(db: Database, scope: TenantScope, concept_ids: list[str]) -> list[str]:
    """The ids that are not concepts of this tenant (another tenant's answer like missing ones)."""
    graph = await learner.load_graph(db, scope)
    return sorted({c for c in concept_ids if c not in graph})


@dataclass(frozen=True)
class ActivitySettings:
    title: str
    type: str
    concepts: tuple[str, ...]
    mastery_threshold: float = 80.0
    grading_schema: str = "mastery"
    graded: bool = True
    typo_tolerance: int = 1
    engagement_target: int = 20

    def problems(self) -> list[str]:
        out = []
        if not 1 <= len(self.title.strip()) <= 200:
            out.append("title: 1 to 200 characters")
        if self.type not in TYPES:
            out.append(f"type: one of {', '.join(TYPES)}")
        if not self.concepts:
            out.append("concepts: choose at least one concept")
        if len(self.concepts) > MAX_ACTIVITY_CONCEPTS:
            out.append(f"concepts: at most {MAX_ACTIVITY_CONCEPTS}")
        if not 0 <= self.mastery_threshold <= 100:
            out.append("mastery_threshold: 0 to 100")
        if self.grading_schema not in grading.SCHEMAS:
            out.append(f"grading_schema: one of {', '.join(grading.SCHEMAS)}")
        if not 0 <= self.typo_tolerance <= answers.MAX_TYPO_TOLERANCE:
            out.append("typo_tolerance: 0 to 3")
        if not 1 <= self.engagement_target <= 1000:
            out.append("engagement_target: 1 to 1000")
        return out


async def _guide_config(db: Database, scope: TenantScope, context_id: str, title: str, concept_ids: list[str],
                        graded: bool, earlier: dict | None = None) -> str:
    """A Guide conversation's ai_config (what chat/service.py reads): the concepts by
    name, as the Guide speaks of them and finds them in what the learner writes."""
    graph = await learner.load_graph(db, scope)
    names = [graph[c].name for c in concept_ids if c in graph]
    ai = {**(earlier or {}), "title": title, "concepts": names, "course_context": context_id, "graded": graded}
    ai.setdefault("guide_enabled", True)
    ai["target_explanations"] = 3 * max(1, len(names))
    return _dumps(ai)


async def create_activity(db: Database, scope: TenantScope, context_id: str, created_by: str,
                          settings: ActivitySettings) -> dict:
    """A new activity of the course, not yet bound to a resource link (see migration 0009)."""
    problems = settings.problems()
    if problems:
        raise PracticeError(422, "validation", "The activity settings are not valid.", {"problems": problems})
    unknown = await check_concepts(db, scope, list(settings.concepts))
    if unknown:
        raise PracticeError(422, "unknown-concepts", "Some concepts are not in your institution's knowledge graph.",
                            {"ids": unknown})
    activity_id = new_id()
    now = now_iso()
    ids = list(dict.fromkeys(settings.concepts))
    extra = {}
    if settings.type == "chat":
        extra["ai_config"] = await _guide_config(db, scope, context_id, settings.title.strip(), ids,
                                                 bool(settings.graded))
    await db.run(scope.insert("assessment_configs", {**extra,
        "id": activity_id, "resource_link_id": PENDING + activity_id, "assessment_type": settings.type,
        "mastery_threshold": settings.mastery_threshold, "grading_schema": settings.grading_schema,
        "created_by": created_by, "course_context": context_id, "title": settings.title.strip(),
        "concepts": _dumps(ids), "graded": 1 if settings.graded else 0,
        "typo_tolerance": settings.typo_tolerance, "engagement_target": settings.engagement_target,
        "created_at": now, "updated_at": now}, name="activities.insert"))
    row = await get_activity(db, scope, activity_id)
    assert row is not None
    return row


async def update_activity(db: Database, scope: TenantScope, row: dict, changes: dict) -> dict:
    """Instructor edits: title, concepts, threshold, schema, tolerance, target, status, closes_at.
    A grade that depends on the settings is recomputed at the learner's next answer."""
    values = dict(changes)
    if "concepts" in values:
        ids = list(dict.fromkeys(values["concepts"]))
        if not ids or len(ids) > MAX_ACTIVITY_CONCEPTS:
            raise PracticeError(422, "validation", f"An activity covers 1 to {MAX_ACTIVITY_CONCEPTS} concepts.")
        unknown = await check_concepts(db, scope, ids)
        if unknown:
            raise PracticeError(422, "unknown-concepts",
                                "Some concepts are not in your institution's knowledge graph.", {"ids": unknown})
        values["concepts"] = _dumps(ids)
    if "graded" in values:
        values["graded"] = 1 if values["graded"] else 0
    if not values:
        return row
    if row["assessment_type"] == "chat" and {"title", "concepts", "graded"} & set(values):
        earlier = row.get("ai_config")
        earlier = _loads(earlier, {}) if isinstance(earlier, str) else (earlier or {})
        values["ai_config"] = await _guide_config(
            db, scope, row["course_context"], values.get("title", row["title"]),
            _loads(values.get("concepts", row["concepts"]), []), bool(values.get("graded", row["graded"])), earlier)
    values["updated_at"] = now_iso()
    await db.run(scope.update("assessment_configs", values, {"id": row["id"]}, name="activities.update"))
    fresh = await get_activity(db, scope, row["id"])
    assert fresh is not None
    return fresh


def _concept_slug(name: str, tenant_id: str) -> str:
    """A concept id for a concept the instructor names while creating an activity: readable,
    and suffixed with the tenant's hash so it never collides with another institution's."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.casefold()).strip("-")[:60] or "concept"
    return f"{slug}-{hashlib.sha256(f'{tenant_id}:{slug}'.encode()).hexdigest()[:6]}"


async def ensure_concepts(db: Database, scope: TenantScope, context_id: str, names: list[str]) -> list[str]:
    """Concept ids for names typed by an instructor: an existing concept of the tenant with
    that name (any case) is reused and attached to the course; others are created in it."""
    names = [n.strip() for n in names if n.strip()]
    if not names:
        return []
    if any(len(n) > 300 for n in names) or len(names) > MAX_ACTIVITY_CONCEPTS:
        raise PracticeError(422, "validation", "Concept names are up to 300 characters, at most 50 at once.")
    graph = await learner.load_graph(db, scope)
    by_name = {c.name.casefold(): c for c in graph.values()}
    incoming: list[kg.Concept] = []
    ids: list[str] = []
    for name in dict.fromkeys(names):
        found = by_name.get(name.casefold())
        if found is not None:
            ids.append(found.id)
            if context_id not in found.course_contexts:
                incoming.append(kg.Concept(found.id, found.name, found.prerequisites,
                                           tuple(sorted({*found.course_contexts, context_id})), found.subject,
                                           found.topic))
            continue
        cid = _concept_slug(name, scope.tenant_id)
        ids.append(cid)
        incoming.append(kg.Concept(cid, name, (), (context_id,)))
    if incoming:
        plan = await learner.import_graph(db, scope, incoming)
        if plan.problems:
            raise PracticeError(422, "graph-invalid", "Those concepts cannot be added to the knowledge graph.",
                                {"problems": [p.as_dict() for p in plan.problems]})
    return list(dict.fromkeys(ids))


# -- the question bank ---------------------------------------------------------------------

def item_view(row: dict) -> dict:
    """A bank item as the instructor sees it (with its key). Learners see presentation()."""
    spec = items.from_row(row)
    return {"id": row["id"], **spec.as_document(), "status": "retired" if not row["is_active"] else
            ("approved" if row["is_validated"] else "awaiting_approval"),
            "source": row.get("source"), "times_asked": row.get("times_asked", 0),
            "created_at": row.get("created_at"), "updated_at": row.get("updated_at")}


async def course_concept_ids(db: Database, scope: TenantScope, context_id: str) -> tuple[dict, set[str]]:
    graph = await learner.load_graph(db, scope)
    return graph, set(kg.course_concepts(graph, context_id))


def _concept_problems(spec: items.ItemSpec, course_ids: set[str]) -> list[tuple[str, str]]:
    out = []
    for name, ids in (("concept", [spec.concept]), ("also_concepts", list(spec.also_concepts))):
        missing = [c for c in ids if c not in course_ids]
        if missing:
            out.append((name, f"not a concept of this course's knowledge graph: {', '.join(missing)}"))
    return out


async def import_items(db: Database, scope: TenantScope, context_id: str, user: str, text: str,
                       kind: str) -> dict:
    """Stores every item of a file, or none: any bad row refuses the whole file (422 with
    each problem and its line). Items with a `ref` already in the course's bank are updated."""
    parsed = items.parse(text, kind)
    problems = list(parsed.problems) + items.duplicates(parsed)
    _graph, course_ids = await course_concept_ids(db, scope, context_id)
    for line, number, spec in parsed.items:
        problems += [items.Problem(line, number, f, p) for f, p in _concept_problems(spec, course_ids)]
    if problems:
        problems.sort(key=lambda p: (p.line or 0, p.item or 0))
        raise PracticeError(422, "import-invalid", f"The file was not imported: {len(problems)} problem(s); "
                            "nothing was stored.", {"rows": [p.as_dict() for p in problems[:200]],
                                                    "problem_count": len(problems)})
    refs = sorted({spec.ref for _l, _n, spec in parsed.items if spec.ref})
    existing: dict[str, dict] = {}
    for i in range(0, len(refs), 90):
        rows = await db.all(scope.select("questions", {"course_context": context_id, "ref__in": refs[i:i + 90]},
                                         columns=["id", "ref"], name="questions.by_refs"))
        existing.update({r["ref"]: r for r in rows})
    graph = _graph
    now = now_iso()
    statements = []
    created = updated = 0
    for _line, _number, spec in parsed.items:
        values = items.row_values(spec)
        concept = graph[spec.concept]
        values.update(subject=concept.subject, topic=concept.topic, updated_at=now)
        if spec.ref and spec.ref in existing:
            statements.append(scope.update("questions", {**values, "is_active": 1},
                                           {"id": existing[spec.ref]["id"]}, name="questions.reimport"))
            updated += 1
        else:
            statements.append(scope.insert("questions", {
                "id": new_id(), **values, "course_context": context_id, "source": "import", "created_by": user,
                "created_at": now}, name="questions.import"))
            created += 1
    if len(statements) > STATEMENTS_PER_BATCH * 2:
        raise PracticeError(413, "import-too-large", f"At most {items.MAX_ITEMS} items per import.")
    try:
        await db.batch(statements, name="questions.import_batch")
    except ConstraintViolation as exc:
        raise PracticeError(409, "concurrent-import", "The bank changed while importing (a ref was added at the "
                            "same time); send the file again.", {"constraint": exc.kind}) from None
    return {"created": created, "updated": updated, "items": len(parsed.items)}


async def get_item(db: Database, scope: TenantScope, context_id: str, item_id: str) -> dict:
    """A bank item whose concept belongs to the course; anything else answers like a missing one."""
    row = await db.first(scope.select("questions", {"id": item_id}, name="questions.get"))
    if row is None or row["item_format"] is None:
        raise _not_found("item")
    _graph, course_ids = await course_concept_ids(db, scope, context_id)
    if row["concept"] not in course_ids:
        raise _not_found("item")
    return row


MAX_PAGE = 200


async def list_items(db: Database, scope: TenantScope, context_id: str, status: str | None = None,
                     item_format: str | None = None, concept: str | None = None, limit: int = 100) -> dict:
    """The course's items (by the course's concepts), newest first, at most `limit`."""
    graph, course_ids = await course_concept_ids(db, scope, context_id)
    ids = sorted(course_ids if concept is None else course_ids & {concept})
    out: list[dict] = []
    formats = [item_format] if item_format else list(items.FORMATS)
    for fmt in formats:
        for i in range(0, len(ids), 80):
            where: dict = {"item_format": fmt, "concept__in": ids[i:i + 80]}
            if status == "retired":
                where["is_active"] = 0
            elif status in ("approved", "awaiting_approval"):
                where.update(is_active=1, is_validated=1 if status == "approved" else 0)
            out += await db.all(scope.select("questions", where, name="questions.of_course"))
    out.sort(key=lambda r: (r["created_at"], r["id"]), reverse=True)
    total = len(out)
    return {"course_context": context_id, "total": total,
            "items": [item_view(r) | {"concept_name": graph[r["concept"]].name if r["concept"] in graph else None}
                      for r in out[:max(1, min(MAX_PAGE, limit))]]}


async def update_item(db: Database, scope: TenantScope, context_id: str, item_id: str, changes: dict) -> dict:
    """An instructor's edit: fields of the item (validated as an import row), `approved`,
    and `status` (retired / active). Retiring keeps the row (answers point at it)."""
    row = await get_item(db, scope, context_id, item_id)
    status = changes.pop("status", None)
    doc = items.from_row(row).as_document()
    doc.update(changes)
    spec, problems = items.validate(doc)
    _graph, course_ids = await course_concept_ids(db, scope, context_id)
    if spec is not None:
        problems = _concept_problems(spec, course_ids)
    if problems or spec is None:
        raise PracticeError(422, "item-invalid", "The item was not changed.",
                            {"rows": [{"line": None, "item": 1, "field": f, "problem": p} for f, p in problems]})
    if spec.format != row["item_format"]:
        raise PracticeError(422, "item-invalid", "An item's format cannot change; retire it and add a new one.")
    values = items.row_values(spec)
    graph = _graph
    values.update(subject=graph[spec.concept].subject, topic=graph[spec.concept].topic, updated_at=now_iso())
    if status is not None:
        values["is_active"] = 0 if status == "retired" else 1
    try:
        await db.run(scope.update("questions", values, {"id": item_id}, name="questions.edit"))
    except ConstraintViolation as exc:
        raise PracticeError(409, "ref-taken", "Another item of this course has that ref.",
                            {"constraint": exc.kind}) from None
    return item_view(await get_item(db, scope, context_id, item_id))


# -- drafts from course text -----------------------------------------------------------------

async def drafting_setting(db: Database, scope: TenantScope) -> dict | None:
    return await db.first(scope.select("ai_model_settings", {"feature": "drafting"}, name="ai_settings.get"))


async def save_drafting_setting(db: Database, scope: TenantScope, provider: str, model: str) -> dict:
    now = now_iso()
    await db.batch([scope.delete("ai_model_settings", {"feature": "drafting"}, name="ai_settings.clear"),
                    scope.insert("ai_model_settings", {"feature": "drafting", "provider": provider, "model": model,
                                                       "updated_at": now}, name="ai_settings.insert")],
                   name="ai_settings.save")
    return {"feature": "drafting", "provider": provider, "model": model, "updated_at": now}


def draft_view(row: dict) -> dict:
    content = _loads(row["content"], {})
    return {"id": row["id"], "activity_id": row["assessment_config_id"], "status": row["status"],
            "approved": bool(row["approved"]), "kind": content.get("kind"), "provider": content.get("provider"),
            "model": content.get("model"), "items": content.get("items", []),
            "source_chars": content.get("source_chars"), "created_at": row["created_at"],
            "updated_at": row["updated_at"]}


def content_hash(text: str, kind: str, concepts: list[str], provider: str, model: str) -> str:
    norm = re.sub(r"\s+", " ", text).strip()
    return hashlib.sha256(_dumps([provider, model, kind, sorted(concepts), norm]).encode()).hexdigest()


async def create_draft(db: Database, scope: TenantScope, env, activity: dict, text: str) -> tuple[dict, bool]:
    """Drafts items from course text for the activity (its type decides the kind) through
    the tenant's provider; the same text again returns the cached draft. (draft, cached)."""
    kind = ITEM_FORMAT.get(activity["assessment_type"])
    if kind is None:
        raise PracticeError(409, "no-items", "A Guide conversation has no items to draft.")
    concept_ids = _loads(activity["concepts"], [])
    graph = await learner.load_graph(db, scope)
    concepts = [(c, graph[c].name) for c in concept_ids if c in graph]
    setting = await drafting_setting(db, scope)
    try:
        provider = provider_for(env, setting["provider"] if setting else None, setting["model"] if setting else None)
    except DraftingError as exc:
        raise PracticeError(503, "drafting-unavailable", str(exc)) from None
    digest = content_hash(text, kind, concept_ids, provider.name, provider.model)
    cached = await db.first(scope.select("generated_content", {"assessment_config_id": activity["id"],
                                                               "content_hash": digest}, name="drafts.by_hash"))
    if cached is not None:
        return draft_view(cached), True
    try:
        drafted = await provider.draft(text, kind, concepts)
    except DraftingError as exc:
        raise PracticeError(502, "drafting-failed", str(exc)) from None
    now = now_iso()
    draft_id = new_id()
    content = {"kind": kind, "provider": provider.name, "model": provider.model, "items": drafted,
               "source_chars": len(text)}
    try:
        await db.run(scope.insert("generated_content", {
            "id": draft_id, "assessment_config_id": activity["id"], "content_hash": digest, "content_type": kind,
            "content": _dumps(content), "approved": 0, "status": "draft", "created_at": now, "updated_at": now},
            name="drafts.insert"))
    except ConstraintViolation as exc:
        if exc.kind != "unique":
            raise
    row = await db.first(scope.select("generated_content", {"assessment_config_id": activity["id"],
                                                            "content_hash": digest}, name="drafts.by_hash"))
    assert row is not None
    return draft_view(row), False


async def drafts_of(db: Database, scope: TenantScope, activity_id: str) -> list[dict]:
    rows = await db.all(scope.select("generated_content", {"assessment_config_id": activity_id},
                                     order_by="created_at", name="drafts.of_activity"))
    return [draft_view(r) for r in reversed(rows)]


async def _draft(db: Database, scope: TenantScope, activity_id: str, draft_id: str) -> dict:
    row = await db.first(scope.select("generated_content", {"id": draft_id, "assessment_config_id": activity_id},
                                      name="drafts.get"))
    if row is None:
        raise _not_found("draft")
    return row


async def update_draft(db: Database, scope: TenantScope, context_id: str, activity_id: str, draft_id: str,
                       new_items: list[dict]) -> dict:
    """The instructor's edits of a draft before approval (its items replaced, each validated)."""
    row = await _draft(db, scope, activity_id, draft_id)
    if row["status"] != "draft":
        raise PracticeError(409, "draft-closed", "This draft was already approved or discarded.")
    content = _loads(row["content"], {})
    _graph, course_ids = await course_concept_ids(db, scope, context_id)
    problems = []
    clean = []
    for n, raw in enumerate(new_items, 1):
        spec, p = items.validate({k: v for k, v in raw.items() if k not in ("ref", "approved")}
                                 if isinstance(raw, dict) else raw)
        if spec is not None:
            p = _concept_problems(spec, course_ids)
            if spec.format != content.get("kind"):
                p.append(("format", f"a draft of this activity holds {content.get('kind')} items"))
        problems += [{"line": None, "item": n, "field": f, "problem": m} for f, m in p]
        if spec is not None and not p:
            clean.append({k: v for k, v in spec.as_document().items() if k not in ("ref", "approved")})
    if problems:
        raise PracticeError(422, "item-invalid", "The draft was not changed.", {"rows": problems})
    content["items"] = clean
    await db.run(scope.update("generated_content", {"content": _dumps(content), "updated_at": now_iso()},
                              {"id": draft_id, "status": "draft"}, name="drafts.edit"))
    return draft_view(await _draft(db, scope, activity_id, draft_id))


async def approve_draft(db: Database, scope: TenantScope, context_id: str, user: str, activity_id: str,
                        draft_id: str, chosen: list[int] | None) -> dict:
    """The instructor approves the draft: the chosen items (all by default) join the bank
    approved for learners, in one batch with the draft marked approved."""
    row = await _draft(db, scope, activity_id, draft_id)
    if row["status"] != "draft":
        raise PracticeError(409, "draft-closed", "This draft was already approved or discarded.")
    content = _loads(row["content"], {})
    drafted = content.get("items", [])
    picked = list(range(len(drafted))) if chosen is None else sorted(set(chosen))
    if any(not 0 <= i < len(drafted) for i in picked):
        raise PracticeError(422, "validation", f"Item numbers run from 0 to {len(drafted) - 1}.")
    graph, course_ids = await course_concept_ids(db, scope, context_id)
    now = now_iso()
    statements = [scope.update("generated_content", {"approved": 1, "status": "approved", "updated_at": now},
                               {"id": draft_id, "status": "draft"}, name="drafts.approve")]
    for i in picked:
        spec, problems = items.validate(drafted[i])
        if spec is None or _concept_problems(spec, course_ids):
            raise PracticeError(422, "item-invalid", f"Draft item {i} is not valid any more; edit it first.")
        values = items.row_values(spec)
        values.update(subject=graph[spec.concept].subject, topic=graph[spec.concept].topic, is_validated=1)
        statements.append(scope.insert("questions", {
            "id": new_id(), **values, "course_context": context_id, "source": "draft", "generated_content_id": draft_id,
            "created_by": user, "created_at": now, "updated_at": now}, name="questions.from_draft"))
    results = await db.batch(statements, name="drafts.approve_batch")
    if results[0]["meta"]["changes"] != 1:  # pragma: no cover - a concurrent approval won; its batch stands
        raise PracticeError(409, "draft-closed", "This draft was already approved or discarded.")
    return {"draft": draft_view(await _draft(db, scope, activity_id, draft_id)), "approved_items": len(picked)}


async def discard_draft(db: Database, scope: TenantScope, activity_id: str, draft_id: str) -> dict:
    row = await _draft(db, scope, activity_id, draft_id)
    if row["status"] != "draft":
        raise PracticeError(409, "draft-closed", "This draft was already approved or discarded.")
    await db.run(scope.update("generated_content", {"status": "discarded", "updated_at": now_iso()},
                              {"id": draft_id, "status": "draft"}, name="drafts.discard"))
    return draft_view(await _draft(db, scope, activity_id, draft_id))


# -- the learner's way through an activity -------------------------------------------------------

async def progress_row(db: Database, scope: TenantScope, activity: dict, learner_id: str,
                       lti_user_id: str) -> dict:
    where = {"activity_id": activity["id"], "learner_id": learner_id}
    row = await db.first(scope.select("activity_progress", where, name="activity_progress.get"))
    if row is not None:
        return row
    try:
        await db.run(scope.insert("activity_progress", {
            "id": new_id(), "activity_id": activity["id"], "learner_id": learner_id,
            "course_context": activity["course_context"], "lti_user_id": lti_user_id,
            "sync_status": "idle" if activity["graded"] else "not_graded"}, name="activity_progress.insert"))
    except ConstraintViolation as exc:
        if exc.kind != "unique":
            raise
    row = await db.first(scope.select("activity_progress", where, name="activity_progress.get"))
    assert row is not None
    return row


async def record_guide_score(db: Database, scope: TenantScope, activity: dict, learner_id: str, lti_user_id: str,
                             score: float, mastered: bool, now_ms: int) -> dict:
    """A Guide conversation's score (the Guide's judge, chat/judge.py) kept like a
    practice score: the learner's activity_progress row, marked for the gradebook when
    it changed, so GradeSync sends it with the same retries as every activity's."""
    progress = await progress_row(db, scope, activity, learner_id, lti_user_id)
    now_text = mem.to_iso(mem.from_epoch_ms(now_ms))
    score = round(min(max(float(score), 0.0), 100.0), 2)
    values = {"mastered": 1 if mastered else 0, "updated_at": now_text}
    if mastered and not progress["mastered"]:
        values["mastered_at"] = now_text
    changed = {"score": score, "sync_status": "pending" if activity["graded"] else "not_graded"}
    await db.batch([
        scope.update("activity_progress", values, {"id": progress["id"]}, name="activity_progress.guide"),
        scope.update("activity_progress", changed, {"id": progress["id"], "score__ne": score},
                     increments={"score_version": 1}, name="activity_progress.guide_score"),
    ], name="activity_progress.guide_batch")
    row = await db.first(scope.select("activity_progress", {"id": progress["id"]}, name="activity_progress.by_id"))
    assert row is not None
    return row


def _item_fits(row: dict | None, activity: dict) -> bool:
    return (row is not None and row["item_format"] == ITEM_FORMAT.get(activity["assessment_type"])
            and bool(row["is_active"]) and bool(row["is_validated"])
            and row["concept"] in _loads(activity["concepts"], []))


async def activity_item(db: Database, scope: TenantScope, activity: dict, item_id: str) -> dict:
    """An approved, active item of the activity; anything else (another activity's, a
    retired or unapproved one, another tenant's) answers like a missing one."""
    row = await db.first(scope.select("questions", {"id": item_id}, name="questions.get"))
    if not _item_fits(row, activity):
        raise PracticeError(404, "not-in-activity", "No such item in this activity.")
    return row


def presentation(row: dict, progress: dict, graph: dict, reason: str | None, resumed: bool) -> dict:
    """What a learner sees of an item: the prompt (or the card's front), the hints shown so
    far, the back once revealed. Never the answer key or the misconceptions."""
    spec = items.from_row(row)
    shown = int(progress["current_hints"]) if progress["current_item_id"] == row["id"] else 0
    revealed = bool(progress["current_revealed"]) and progress["current_item_id"] == row["id"]
    concept = graph.get(row["concept"])
    out = {"item_id": row["id"], "presentation_id": progress["current_presentation"], "format": spec.format,
           "concept": {"id": row["concept"], "name": concept.name if concept else row["concept"]},
           "difficulty": spec.difficulty, "hints_available": len(spec.hints), "hints": list(spec.hints[:shown]),
           "reason": reason, "resumed": resumed}
    if spec.format == "fill_blank":
        out["prompt"] = spec.prompt
    else:
        out["front"] = spec.front
        out["back"] = spec.back if revealed else None
    return out


async def _statuses(db: Database, scope: TenantScope, activity: dict, learner_id: str,
                    now: object) -> tuple[dict, dict, dict]:
    """(graph, learner state rows, ConceptStatus per activity concept in the graph)."""
    graph = await learner.load_graph(db, scope)
    params, _fit = await learner.load_model(db, scope)
    rows = await learner.learner_states(db, scope, learner_id)
    concept_ids = [c for c in _loads(activity["concepts"], []) if c in graph]
    cparams = await learner.concept_parameters(db, scope, concept_ids) if concept_ids else {}
    states = {c: learner.state_from_row(r) for c, r in rows.items()}
    ability = lm.learner_ability(s for s, _m in states.values())
    mastered_all = {c for c, (s, _m) in states.items() if s.mastered}
    out = {}
    for cid in concept_ids:
        bkt = learner.bkt_from_row(cparams.get(cid), params.default_bkt)
        state, memory = states.get(cid) or (lm.new_state(bkt), mem.Memory())
        difficulty = float(cparams[cid]["difficulty"]) if cid in cparams else 0.0
        p = lm.predict(state, ability, difficulty, bkt, params.weights).p_correct
        out[cid] = selection.ConceptStatus(
            cid, p, state.mastered, mem.is_due(memory, state.mastered, now), mem.recall_probability(memory, now),
            kg.readiness(cid, graph, mastered_all).missing, state.attempts, state.p_known)
    return graph, rows, out


async def _choose(db: Database, scope: TenantScope, activity: dict, fmt: str, statuses: dict, recent: list[str],
                  salt: int) -> selection.Choice | None:
    """selection.choose, concept by concept: the concepts ranked first, then only the items
    of the concept tried are read (a bank of thousands is not read for one choice)."""
    for reason, status in selection.rank(statuses):
        found = await db.raw(scope.select(
            "questions", {"item_format": fmt, "concept": status.concept, "is_active": 1, "is_validated": 1},
            columns=["id", "concept", "difficulty_level"], name="questions.of_concept"))
        picked = selection.pick([selection.Candidate(r[0], r[1], int(r[2])) for r in found], status, recent, salt)
        if picked is not None:
            return selection.Choice(picked[0].item_id, status.concept, reason, picked[1])
    if recent:  # only the item just answered is left
        row = await db.first(scope.select("questions", {"id": recent[-1]}, name="questions.get"))
        if _item_fits(row, activity) and row["concept"] in statuses:
            return selection.Choice(row["id"], row["concept"], "repeat", statuses[row["concept"]].p_correct)
    return None


async def next_item(db: Database, scope: TenantScope, activity: dict, learner_id: str, lti_user_id: str,
                    now_ms: int) -> dict:
    """The item to practise now: the one shown and not answered yet (coming back within
    RESUME_WITHIN_S continues where the learner left off), else the selection's choice,
    remembered as shown."""
    fmt = ITEM_FORMAT.get(activity["assessment_type"])
    if fmt is None:
        raise PracticeError(409, "no-items", "A Guide conversation has no items; open it from its own page.")
    now = mem.from_epoch_ms(now_ms)
    for _attempt in range(3):
        progress = await progress_row(db, scope, activity, learner_id, lti_user_id)
        graph = None
        shown_at = mem.from_iso(progress["presented_at"])
        if progress["current_item_id"] and shown_at and (now - shown_at).total_seconds() < RESUME_WITHIN_S:
            row = await db.first(scope.select("questions", {"id": progress["current_item_id"]},
                                              name="questions.get"))
            if _item_fits(row, activity):
                graph = await learner.load_graph(db, scope)
                return {"item": presentation(row, progress, graph, None, True)}
        graph, _rows, statuses = await _statuses(db, scope, activity, learner_id, now)
        choice = await _choose(db, scope, activity, fmt, statuses, _loads(progress["recent_items"], []),
                               int(progress["attempts"]))
        if choice is None:
            return {"item": None}
        presentation_id = new_id()
        meta = await db.run(scope.update("activity_progress", {
            "current_item_id": choice.item_id, "current_presentation": presentation_id,
            "presented_at": mem.to_iso(now), "current_hints": 0, "current_revealed": 0,
            "version": int(progress["version"]) + 1, "updated_at": mem.to_iso(now)},
            {"id": progress["id"], "version": progress["version"]}, name="activity_progress.present"))
        if meta["changes"] != 1:
            continue  # another tab chose at the same moment: show what it chose
        row = await db.first(scope.select("questions", {"id": choice.item_id}, name="questions.get"))
        progress = {**progress, "current_item_id": choice.item_id, "current_presentation": presentation_id,
                    "current_hints": 0, "current_revealed": 0}
        return {"item": presentation(row, progress, graph, choice.reason, False)}
    raise PracticeError(409, "contention", "The activity changed while choosing an item; try again.")


async def _current(db, scope, activity, learner_id, lti_user_id, item_id) -> tuple[dict, dict]:
    row = await activity_item(db, scope, activity, item_id)
    progress = await progress_row(db, scope, activity, learner_id, lti_user_id)
    if progress["current_item_id"] != item_id:
        raise PracticeError(409, "not-current", "This item is not the one shown to you now; ask for the next item.")
    return row, progress


async def hint(db: Database, scope: TenantScope, activity: dict, learner_id: str, lti_user_id: str,
               item_id: str) -> dict:
    """The next hint level of the item shown (each hint counts against the answer's evidence)."""
    row, progress = await _current(db, scope, activity, learner_id, lti_user_id, item_id)
    hints_all = items.from_row(row).hints
    shown = int(progress["current_hints"])
    if shown < len(hints_all):
        await db.run(scope.update("activity_progress", {"updated_at": now_iso()},
                                  {"id": progress["id"], "current_item_id": item_id, "current_hints": shown},
                                  increments={"current_hints": 1}, name="activity_progress.hint"))
        progress = await progress_row(db, scope, activity, learner_id, lti_user_id)
        shown = int(progress["current_hints"])
    graph = await learner.load_graph(db, scope)
    return {"item": presentation(row, progress, graph, None, True), "hints_remaining": len(hints_all) - shown}


async def reveal(db: Database, scope: TenantScope, activity: dict, learner_id: str, lti_user_id: str,
                 item_id: str) -> dict:
    """Turns the flashcard shown: its back, then the learner grades their recall."""
    row, progress = await _current(db, scope, activity, learner_id, lti_user_id, item_id)
    if row["item_format"] != "flashcard":
        raise PracticeError(409, "not-a-flashcard", "Only flashcards are turned over.")
    if not progress["current_revealed"]:
        await db.run(scope.update("activity_progress", {"current_revealed": 1, "updated_at": now_iso()},
                                  {"id": progress["id"], "current_item_id": item_id},
                                  name="activity_progress.reveal"))
        progress = {**progress, "current_revealed": 1}
    graph = await learner.load_graph(db, scope)
    return {"item": presentation(row, progress, graph, None, True)}


@dataclass(frozen=True)
class AnswerIn:
    item_id: str
    response: str | None = None   # fill_blank: what the learner wrote
    grade: str | None = None      # flashcard: again / hard / good / easy
    response_time_ms: int = 0


def _verdict(row: dict, activity: dict, given: AnswerIn) -> tuple[answers.Verdict, int | None, str]:
    """(verdict, FSRS grade or None, the expected answer to show afterwards)."""
    spec = items.from_row(row)
    if spec.format == "flashcard":
        if given.grade is None:
            raise PracticeError(422, "validation", "A flashcard is answered with a grade: again, hard, good or easy.")
        try:
            g = answers.flashcard_grade(given.grade)
        except ValueError as exc:
            raise PracticeError(422, "validation", str(exc)) from None
        verdict = answers.Verdict(g.credit >= 0.5, g.credit, g.name,
                                  {"again": "Marked to see again soon.", "hard": "Recalled with effort.",
                                   "good": "Recalled.", "easy": "Recalled easily."}[g.name])
        return verdict, g.rating, spec.back
    if given.response is None:
        raise PracticeError(422, "validation", "A fill-in-the-blank item is answered with a response.")
    if not answers.normalise(given.response):
        raise PracticeError(422, "blank-answer", "Type an answer first (or ask for a hint).")
    verdict = answers.check_fill_blank(given.response, list(spec.answers),
                                       [answers.Misconception(a, f) for a, f in spec.misconceptions],
                                       int(activity["typo_tolerance"]), spec.numeric_tolerance)
    return verdict, None, spec.answers[0] if spec.answers else ""


async def answer(db: Database, scope: TenantScope, env, activity: dict, learner_row: dict, context_id: str,
                 session_id: str | None, key: str, given: AnswerIn, now_ms: int) -> dict:
    """Checks the answer on the server, records it through the learner model (one batch,
    idempotent by `key`), then brings the learner's activity progress up to date."""
    now = mem.from_epoch_ms(now_ms)
    if not is_open(activity, mem.to_iso(now)):
        raise PracticeError(409, "activity-closed", "This activity is closed; answers are no longer accepted.")
    row = await activity_item(db, scope, activity, given.item_id)
    verdict, rating, expected = _verdict(row, activity, given)
    learner_id = learner_row["id"]
    progress = await progress_row(db, scope, activity, learner_id, learner_row["lti_user_id"])
    stored = await db.first(scope.select("question_responses", {"id": learner.response_id(
        scope.tenant_id, learner_id, key)}, columns=["hints_used", "response_time_seconds"],
        name="responses.by_id"))
    if stored is not None:  # a retry: what the server measured the first time
        hints_used, seconds = int(stored["hints_used"]), float(stored["response_time_seconds"])
    elif progress["current_item_id"] == given.item_id:
        hints_used = int(progress["current_hints"])
        shown_at = mem.from_iso(progress["presented_at"])
        seconds = max(0.0, (now - shown_at).total_seconds()) if shown_at else given.response_time_ms / 1000.0
        seconds = min(seconds, 86_400.0)
    else:
        hints_used, seconds = 0, given.response_time_ms / 1000.0
    text = given.response if given.response is not None else (given.grade or "")
    extra = {"activity_id": activity["id"], "feedback_text": verdict.feedback[:2000],
             "feedback_type": "encouraging" if verdict.correct else "corrective",
             "misconceptions_detected": _dumps([verdict.misconception] if verdict.misconception else [])}
    try:
        result, replayed = await learner.record_answer(
            db, scope, learner_id=learner_id, context_id=context_id, session_id=session_id, key=key,
            answer=learner.Answer(row["id"], verdict.credit, round(seconds, 3), hints_used, text[:20_000], rating),
            now_ms=now_ms, response_extra=extra)
    except learner.LearnerError as exc:
        raise PracticeError(exc.status, exc.kind, exc.detail, exc.extra) from None
    state = await refresh_progress(db, scope, activity, learner_id, learner_row["lti_user_id"], now_ms,
                                   answered=row["id"], progress=progress)
    return {
        "response_id": result["response_id"], "item_id": row["id"], "replayed": replayed,
        "correct": verdict.correct, "credit": verdict.credit, "outcome": verdict.outcome, "feedback": verdict.feedback,
        "misconception": verdict.misconception, "expected": expected, "hints_used": hints_used,
        "response_time_ms": int(round(seconds * 1000)),
        "rapid_guess": result.get("rapid_guess", False), "concept": result["mastery"],
        "progress": state, "recorded_at": result["recorded_at"],
        "learner_result": result,  # for struggle detection; the route takes it out of the answer
    }


async def refresh_progress(db: Database, scope: TenantScope, activity: dict, learner_id: str, lti_user_id: str,
                           now_ms: int, answered: str | None = None, progress: dict | None = None) -> dict:
    """The learner's grade in the activity, from what is stored (answers given in it, the
    learner model's mastery), written to activity_progress; a changed score is marked to be
    sent to the gradebook. Idempotent: a retry recomputes the same values. `progress` is
    the row as read before the answer, when the caller has it."""
    now_text = mem.to_iso(mem.from_epoch_ms(now_ms))
    progress = progress or await progress_row(db, scope, activity, learner_id, lti_user_id)
    rows = await learner.learner_states(db, scope, learner_id)
    graph = await learner.load_graph(db, scope)
    concept_ids = _loads(activity["concepts"], [])
    mastered = {c for c in concept_ids if c in rows and learner.state_from_row(rows[c])[0].mastered}
    where = {"activity_id": activity["id"], "learner_id": learner_id}
    attempts = (await db.first(scope.count("question_responses", where, name="responses.count_in_activity")))["n"]
    correct = (await db.first(scope.count("question_responses", {**where, "is_correct": 1},
                                          name="responses.count_right_in_activity")))["n"]
    g = grading.grade(activity["grading_schema"], concept_ids, mastered, attempts, correct,
                      float(activity["mastery_threshold"]), int(activity["engagement_target"]))
    values = {"attempts": attempts, "correct": correct, "concepts_mastered": g.concepts_mastered,
              "mastered": 1 if g.mastered else 0, "updated_at": now_text}
    if g.mastered and not progress["mastered"]:
        values["mastered_at"] = now_text
    if answered is not None and progress["current_item_id"] == answered:
        values.update(current_item_id=None, current_presentation=None, current_hints=0, current_revealed=0,
                      recent_items=_dumps(selection.remember(_loads(progress["recent_items"], []), answered)))
    graded = bool(activity["graded"])
    changed = {"score": g.score, "sync_status": "pending" if graded else "not_graded"}
    statements = [
        scope.update("activity_progress", values, {"id": progress["id"], "attempts__le": attempts},
                     name="activity_progress.refresh"),
        scope.update("activity_progress", changed, {"id": progress["id"], "attempts": attempts,
                                                    "score__ne": g.score},
                     increments={"score_version": 1}, name="activity_progress.score"),
    ]
    if int(progress["attempts"]) == 0:
        # The learner's first answer here: one more activity in the course (student_progress).
        count = await db.first(scope.count("activity_progress", {"learner_id": learner_id,
                                                                 "course_context": activity["course_context"]},
                                           name="activity_progress.count_in_course"))
        statements.append(scope.update("student_progress", {"total_assessments": count["n"]},
                                       {"learner_id": learner_id, "course_context": activity["course_context"]},
                                       name="progress.assessments"))
    results = await db.batch(statements, name="activity_progress.refresh_batch")
    row = {**progress, **values}
    if results[1]["meta"]["changes"]:
        row.update(changed, score_version=int(progress["score_version"]) + 1)
    elif results[0]["meta"]["changes"] == 0:  # a later answer wrote first: show what is stored
        row = await db.first(scope.select("activity_progress", {"id": progress["id"]},
                                          name="activity_progress.by_id"))
    return progress_view(activity, row, rows, graph)


def grade_view(row: dict) -> dict:
    return {"status": row["sync_status"], "score": float(row["score"]), "sent_score": row["sent_score"],
            "sent_at": row["sent_at"], "attempts": int(row["sync_attempts"]), "error": row["sync_error"],
            "next_attempt_at": row["next_sync_at"],
            "up_to_date": int(row["sent_version"]) >= int(row["score_version"])}


def progress_view(activity: dict, row: dict, state_rows: dict, graph: dict | None = None) -> dict:
    concept_ids = _loads(activity["concepts"], [])
    concepts = []
    for cid in concept_ids:
        r = state_rows.get(cid)
        if r is None:
            concepts.append({"id": cid, "name": graph[cid].name if graph and cid in graph else cid, "mastery": 0.0,
                             "mastered": False, "attempts": 0})
            continue
        state, _memory = learner.state_from_row(r)
        concepts.append({"id": cid, "name": graph[cid].name if graph and cid in graph else cid,
                         "mastery": round(state.p_known, 4), "mastered": state.mastered, "attempts": state.attempts})
    return {"activity_id": activity["id"], "grading_schema": activity["grading_schema"],
            "threshold": float(activity["mastery_threshold"]), "score": float(row["score"]),
            "attempts": int(row["attempts"]), "correct": int(row["correct"]),
            "concepts_mastered": int(row["concepts_mastered"]), "concept_count": len(concept_ids),
            "mastered": bool(row["mastered"]), "mastered_at": row["mastered_at"], "graded": bool(activity["graded"]),
            "grade": grade_view(row), "concepts": concepts}


async def my_progress(db: Database, scope: TenantScope, activity: dict, learner_id: str, lti_user_id: str) -> dict:
    row = await progress_row(db, scope, activity, learner_id, lti_user_id)
    rows = await learner.learner_states(db, scope, learner_id)
    graph = await learner.load_graph(db, scope)
    return progress_view(activity, row, rows, graph)


# -- the instructor's view ---------------------------------------------------------------------

async def activity_report(db: Database, scope: TenantScope, activity: dict) -> dict:
    """Per activity: how many learners reached mastery, and per learner (those who let
    instructors see them) the score and what went to the gradebook, when, or why not yet."""
    rows = await db.all(scope.select("activity_progress", {"activity_id": activity["id"]},
                                     name="activity_progress.of_activity"))
    by_learner = {r["learner_id"]: r for r in rows}
    visible: list[dict] = []
    for i in range(0, len(by_learner), 90):
        ids = sorted(by_learner)[i:i + 90]
        for p in await db.all(scope.select("learner_profiles", {"id__in": ids}, name="profile.list_by_ids")):
            if privacy.visible_to_instructors({"privacy_settings": _loads(p["privacy_settings"], {})}):
                visible.append(p)
    learners = []
    for p in sorted(visible, key=lambda p: p["lti_user_id"]):
        r = by_learner[p["id"]]
        learners.append({"learner_id": p["id"], "lti_user_id": p["lti_user_id"], "score": float(r["score"]),
                         "attempts": int(r["attempts"]), "correct": int(r["correct"]),
                         "concepts_mastered": int(r["concepts_mastered"]), "mastered": bool(r["mastered"]),
                         "mastered_at": r["mastered_at"], "last_activity": r["updated_at"], "grade": grade_view(r)})
    statuses: dict[str, int] = {}
    for r in rows:
        statuses[r["sync_status"]] = statuses.get(r["sync_status"], 0) + 1
    return {"activity": activity_view(activity), "learners_started": len(rows),
            "learners_mastered": sum(1 for r in rows if r["mastered"]), "hidden_learners": len(rows) - len(visible),
            "grade_sync": statuses, "learners": learners}


async def retry_failed_grades(db: Database, scope: TenantScope, activity: dict) -> int:
    """Failed sends go back to pending (the instructor's "retry now")."""
    meta = await db.run(scope.update("activity_progress", {"sync_status": "pending", "sync_attempts": 0,
                                                           "next_sync_at": None},
                                     {"activity_id": activity["id"], "sync_status__in": ["failed", "retrying"]},
                                     name="activity_progress.retry"))
    return int(meta["changes"])


async def learner_profile(db: Database, scope: TenantScope, lti_user_id: str) -> dict:
    row = await profiles.get_by_user(db, scope, lti_user_id)
    if row is None:
        raise PracticeError(404, "no-profile", "No learner profile yet; open the activity from your course first.")
    return row
