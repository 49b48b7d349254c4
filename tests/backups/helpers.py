"""Backup test helpers: a tenant with rows in every table (NULLs, unicode, JSON, blobs,
large text, integers past 2**53, integral and infinite REALs), written straight into the
D1 file with fixed values; exact snapshots of a tenant's rows; runs of the workflows."""

from __future__ import annotations

import sqlite3

from db.tables import DIRECTORY_TABLES, TABLES

BIG = 2**62 + 12345  # past 2**53: a double would round it
UNICODE = "Zoë 学习 🚀 ‏مرحبا"
LARGE_TEXT = "Lorem ipsum ✓ " * 20_000  # ~280 KB


def _ids(tenant: str, n: int) -> dict:
    p = tenant[:8]
    return {k: f"{p}-{k}-{n:04d}" for k in ("profile", "session", "concept", "struggle", "intervention", "conv",
                                             "msg", "ks", "question", "response", "cm", "rt", "el", "ac", "aconv",
                                             "amsg", "sp", "gc", "snap", "audit", "platform", "usage", "ap")}


def seed_every_table(db_path, tenant: str, learners: int = 2) -> None:
    """learners x one row per table (and the platform/deployment rows once)."""
    conn = sqlite3.connect(db_path)
    conn.execute("PRAGMA foreign_keys = ON")
    ts = "2026-01-02T03:04:05.678Z"
    first = _ids(tenant, 0)
    conn.execute("INSERT INTO lti_platforms (id, tenant_id, issuer, client_id, auth_login_url, auth_token_url, key_set_url,"
                 " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                 (first["platform"], tenant, f"https://canvas.{tenant[:4]}.example", "10000000001", "https://a/login",
                  "https://a/token", "https://a/jwks", ts))
    for dep in ("1:abc", "2:déf"):
        conn.execute("INSERT INTO lti_deployments (tenant_id, platform_id, deployment_id, created_at) VALUES (?, ?, ?, ?)",
                     (tenant, first["platform"], dep, ts))
    conn.execute("INSERT INTO knowledge_graph (concept_id, tenant_id, concept_name, dependencies, course_contexts, created_at,"
                 " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                 (first["concept"], tenant, f"Quadratics {UNICODE}", '["x", "ü"]', '["course-1"]', ts, ts))
    conn.execute("INSERT INTO concept_parameters (tenant_id, concept_id, p_init, p_transit, p_slip, p_guess, p_forget,"
                 " difficulty, difficulty_count, fitted, fit, fitted_at, updated_at)"
                 " VALUES (?, ?, 0.3, 0.1, 0.1, 0.2, 0.05, -0.25, 7, 1, '{\"auc\": 0.83}', ?, ?)",
                 (tenant, first["concept"], ts, ts))
    conn.execute("INSERT INTO learner_models (tenant_id, name, params, fit, source, loaded_at)"
                 " VALUES (?, 'tenant', '{\"bkt\": {\"p_init\": 0.3}}', '{}', '{\"file\": \"params.json\"}', ?)",
                 (tenant, ts))
    conn.execute("INSERT INTO course_mastery_settings (tenant_id, course_context, mastery_threshold, concept_columns,"
                 " updated_at) VALUES (?, 'course-1', 75.5, 1, ?)", (tenant, ts))
    for course in ("course-1", "course-2"):
        conn.execute("INSERT INTO concept_line_items (tenant_id, course_context, concept_id, line_item_url, created_at)"
                     " VALUES (?, ?, ?, NULL, ?)", (tenant, course, first["concept"], ts))
    conn.execute("INSERT INTO questions (id, tenant_id, question_text, question_type, subject, topic, concept,"
                 " difficulty_level, hints, times_asked, average_understanding_score, created_by, created_at, updated_at)"
                 " VALUES (?, ?, ?, 'clarifying', 'math', 'algebra', 'roots', 5, ?, ?, NULL, ?, ?, ?)",
                 (first["question"], tenant, LARGE_TEXT, '[{"hint": "ünïcode"}]', BIG, bytes(range(256)), ts, ts))
    conn.execute("INSERT INTO assessment_configs (id, tenant_id, resource_link_id, assessment_type, mastery_threshold,"
                 " ai_config, line_item_url, created_by, created_at, updated_at) VALUES (?, ?, 'rl-1', 'chat', 80.0, ?,"
                 " NULL, 'teacher', ?, ?)", (first["ac"], tenant, '{"model": "x", "t": 0.5}', ts, ts))
    conn.execute("INSERT INTO generated_content (id, tenant_id, assessment_config_id, content_hash, content_type, content,"
                 " approved, created_at) VALUES (?, ?, ?, 'h1', NULL, ?, 1, ?)",
                 (first["gc"], tenant, first["ac"], '{"cards": [1, 2.5, null, "€"]}', ts))
    conn.execute("INSERT INTO ai_model_settings (tenant_id, feature, provider, model, updated_at)"
                 " VALUES (?, 'drafting', 'workers-ai', '@cf/meta/llama-3.1-8b-instruct', ?)", (tenant, ts))
    conn.execute("INSERT INTO analytics_snapshots (id, tenant_id, course_context, assignment_id, snapshot_data, created_at)"
                 " VALUES (?, ?, 'course-1', NULL, '{}', ?)", (first["snap"], tenant, ts))
    conn.execute("INSERT INTO audit_log (id, tenant_id, action, detail, recorded_at) VALUES (?, ?, 'export', '{\"n\": 1}', ?)",
                 (first["audit"], tenant, ts))
    conn.execute("INSERT INTO course_roster (tenant_id, course_context, lti_user_id, name, fetched_at)"
                 " VALUES (?, 'course-1', ?, ?, ?)", (tenant, f"user-0-{UNICODE}", f"Zoë {UNICODE}", ts))
    for n in range(learners):
        i = _ids(tenant, n)
        conn.execute("INSERT INTO learner_profiles (id, tenant_id, lti_user_id, cognitive_profile, privacy_settings, version,"
                     " created_at, updated_at) VALUES (?, ?, ?, ?, '{}', 3, ?, ?)",
                     (i["profile"], tenant, f"user-{n}-{UNICODE}", '{"learning_velocity": 2.5, "name": "Zoë"}', ts, ts))
        conn.execute("INSERT INTO learning_sessions (id, tenant_id, learner_id, course_context, session_start, session_end,"
                     " average_response_time, mastery_gain, concepts_covered, created_at, updated_at)"
                     " VALUES (?, ?, ?, 'course-1', ?, NULL, 3.0, -0.125, '[\"a\"]', ?, ?)",
                     (i["session"], tenant, i["profile"], ts, ts, ts))
        conn.execute("INSERT INTO struggle_events (id, tenant_id, learner_id, session_id, concept_id, event_type, severity,"
                     " signals, detected_at) VALUES (?, ?, ?, ?, ?, 'idle', 0.1, '{}', ?)",
                     (i["struggle"], tenant, i["profile"], i["session"], first["concept"], ts))
        conn.execute("INSERT INTO intervention_logs (id, tenant_id, learner_id, session_id, struggle_event_id,"
                     " intervention_type, content, outcome, delivered_at) VALUES (?, ?, ?, ?, ?, 'hint', ?, NULL, ?)",
                     (i["intervention"], tenant, i["profile"], i["session"], i["struggle"], '{"text": "☃"}', ts))
        conn.execute("INSERT INTO chat_conversations (id, tenant_id, learner_id, course_context, metadata, started_at)"
                     " VALUES (?, ?, ?, 'course-1', '{}', ?)", (i["conv"], tenant, i["profile"], ts))
        conn.execute("INSERT INTO chat_messages (id, tenant_id, conversation_id, learner_id, role, content, metadata, created_at)"
                     " VALUES (?, ?, ?, ?, 'user', ?, '{}', ?)",
                     (i["msg"], tenant, i["conv"], i["profile"], f"Line1\nLine2 \"quoted\" \\ {UNICODE}", ts))
        conn.execute("INSERT INTO chat_usage (id, tenant_id, conversation_id, learner_id, course_context, day, provider,"
                     " model, prompt_tokens, completion_tokens, total_tokens, cost_units, outcome, created_at)"
                     " VALUES (?, ?, ?, ?, 'course-1', '2026-01-02', 'workers-ai', '@cf/meta/llama-3.1-8b-instruct',"
                     " 1200, 80, 1280, 1.28, 'complete', ?)", (i["usage"], tenant, i["conv"], i["profile"], ts))
        conn.execute("INSERT INTO chat_settings (id, tenant_id, learner_id, settings, updated_by, updated_at)"
                     " VALUES (?, ?, ?, '{\"learner_daily_tokens\": 5000}', 'admin-1', ?)",
                     (f"learner:{i['profile']}", tenant, i["profile"], ts))
        conn.execute("INSERT INTO knowledge_state (id, tenant_id, learner_id, subject, topic, concept, mastery_level,"
                     " ability_estimate, next_review_date, created_at, updated_at) VALUES (?, ?, ?, 'math', 'algebra', ?,"
                     " 1.0, 0.1, NULL, ?, ?)", (i["ks"], tenant, i["profile"], f"c{n}", ts, ts))
        conn.execute("INSERT INTO question_responses (id, tenant_id, learner_id, session_id, question_id, response_text,"
                     " response_time_seconds, understanding_score, concepts_identified, is_correct, responded_at)"
                     " VALUES (?, ?, ?, ?, ?, ?, 12.0, 99.99, '[]', NULL, ?)",
                     (i["response"], tenant, i["profile"], i["session"], first["question"], UNICODE, ts))
        conn.execute("INSERT INTO cognitive_metrics (id, tenant_id, learner_id, session_id, measured_at, intrinsic_load,"
                     " average_response_time, response_time_variance, pause_frequency, attention_lapses)"
                     " VALUES (?, ?, ?, ?, ?, NULL, ?, 0.1, ?, ?)",
                     (i["cm"], tenant, i["profile"], i["session"], ts, float("inf") if n == 0 else float("-inf"),
                      BIG, -(2**63)))
        conn.execute("INSERT INTO retention_tracking (id, tenant_id, learner_id, concept, initial_learning_date, test_date,"
                     " days_since_learning, decay_rate, created_at) VALUES (?, ?, ?, 'c', ?, ?, 7, 1e-300, ?)",
                     (i["rt"], tenant, i["profile"], ts, ts, ts))
        conn.execute("INSERT INTO engagement_logs (id, tenant_id, learner_id, session_id, event_type, event_timestamp,"
                     " event_context, engagement_score) VALUES (?, ?, ?, NULL, 'hint_request', ?, ?, 0.5)",
                     (i["el"], tenant, i["profile"], ts, '{"deep": {"nested": [true, false, null]}}'))
        conn.execute("INSERT INTO assessment_conversations (id, tenant_id, assessment_config_id, learner_id, course_context,"
                     " started_at, mastery_score, metadata) VALUES (?, ?, ?, ?, 'course-1', ?, 100.0, '{}')",
                     (i["aconv"], tenant, first["ac"], i["profile"], ts))
        conn.execute("INSERT INTO assessment_messages (id, tenant_id, conversation_id, learner_id, role, content, metadata,"
                     " created_at) VALUES (?, ?, ?, ?, 'assistant', ?, '{}', ?)",
                     (i["amsg"], tenant, i["aconv"], i["profile"], "", ts))
        conn.execute("INSERT INTO activity_progress (id, tenant_id, activity_id, learner_id, course_context, lti_user_id,"
                     " recent_items, score, score_version, sync_status, sent_score, sync_error) VALUES (?, ?, ?, ?,"
                     " 'course-1', ?, '[\"q\"]', 62.5, 3, 'retrying', NULL, ?)",
                     (i["ap"], tenant, first["ac"], i["profile"], f"user-{n}-{UNICODE}", f"HTTP 429 {UNICODE}"))
        conn.execute("INSERT INTO student_progress (id, tenant_id, learner_id, course_context, average_mastery,"
                     " struggle_patterns, last_activity) VALUES (?, ?, ?, 'course-1', 50.5, '{}', ?)",
                     (i["sp"], tenant, i["profile"], ts))
    conn.commit()
    conn.close()


def tenant_rows(host, tenant: str) -> dict[str, list]:
    """Every row of the tenant in every table, read where the data layer keeps it
    (directory tables in D1_PRIMARY, the rest in the tenant's d1_binding), with exact
    Python types (int, float, str, bytes, None) as SQLite stored them."""
    conn = sqlite3.connect(host.d1["D1_PRIMARY"].path)
    binding = conn.execute("SELECT d1_binding FROM tenants WHERE id = ?", (tenant,)).fetchone()[0]
    conn.close()
    out = {}
    for name in TABLES:
        path = host.d1["D1_PRIMARY" if name in DIRECTORY_TABLES else binding].path
        conn = sqlite3.connect(path)
        cols = sorted(TABLES[name].columns)
        rows = conn.execute(f"SELECT {', '.join(cols)} FROM {name} WHERE tenant_id = ?", (tenant,)).fetchall()
        out[name] = sorted(rows, key=repr)
        conn.close()
    return out


def rows_in(path, tenant: str) -> list:
    """Every row of a tenant in one database file, every table (for 'untouched' checks)."""
    conn = sqlite3.connect(path)
    out = []
    for name in TABLES:
        out += [(name, r) for r in conn.execute(f"SELECT * FROM {name} WHERE tenant_id = ? ORDER BY rowid", (tenant,))]
    out += [("tenants", r) for r in conn.execute("SELECT * FROM tenants WHERE id = ?", (tenant,))]
    conn.close()
    return out


def wipe(host, tenant: str) -> None:
    for binding in ("D1_PRIMARY", "D1_DEDICATED_A"):
        conn = sqlite3.connect(host.d1[binding].path)
        conn.execute("PRAGMA foreign_keys = ON")
        for name in reversed(list(TABLES)):
            conn.execute(f"DELETE FROM {name} WHERE tenant_id = ?", (tenant,))
        conn.commit()
        conn.close()


async def instant(seconds: float) -> None:
    """A sleeper for the workflow engine: tests never wait for a retry delay or sleep."""
    return None


async def run_workflow(host, binding: str, instance_id: str, params: dict) -> dict:
    wf = host.workflows[binding]
    wf.sleeper = instant
    instance = await wf.create(id=instance_id, params=params)
    await host.workflows_idle()
    return await instance.status()


async def export(host, tenant: str, day: str = "2026-01-05") -> dict:
    from backups.format import export_instance_id

    return await run_workflow(host, "EXPORT_WORKFLOW", export_instance_id(tenant, day), {"tenant_id": tenant, "day": day})


async def restore(host, tenant: str, day: str = "2026-01-05", instance_id: str = "restore-1", **params) -> dict:
    return await run_workflow(host, "RESTORE_WORKFLOW", instance_id, {"tenant_id": tenant, "day": day, **params})
