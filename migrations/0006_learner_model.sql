-- Migration 0006: the learner model (knowledge tracing, ability, spaced repetition).
-- Concept identity is knowledge_graph.concept_id; knowledge_state.concept and
-- question_responses.concept hold it, questions.concept names it. subject/topic of a
-- knowledge_state row are labels copied from the concept in the graph (one row per
-- learner and concept, enforced by a unique index below).

-- Labels for concepts (knowledge_state.subject/topic are copied from here).
ALTER TABLE knowledge_graph ADD COLUMN subject TEXT NOT NULL DEFAULT 'general' CHECK (length(subject) BETWEEN 1 AND 100);
ALTER TABLE knowledge_graph ADD COLUMN topic TEXT NOT NULL DEFAULT 'general' CHECK (length(topic) BETWEEN 1 AND 100);

-- knowledge_state: the model's state per learner and concept.
--   version             optimistic concurrency: every update checks and bumps it
--   ability_estimate    the learner's concept-specific ability (logit), ability_std_error its SE
--   ability_evidence    this concept's share of the learner's overall ability (the sum over rows)
--   ability_information Fisher information gathered on the concept (SE = 1/sqrt(1 + information))
--   recent_accuracy     exponentially weighted share of right answers on the concept
--   streak              right answers in a row; rapid_guess_count answers not counted as evidence
--   memory_*            FSRS memory state (stability in days, difficulty 1..10, state 1 learning /
--                       2 review / 3 relearning, learning step); last_reviewed and next_review_date
--                       are FSRS's last review and due date; SM-2 columns are derived from them.
ALTER TABLE knowledge_state ADD COLUMN version INTEGER NOT NULL DEFAULT 1 CHECK (version >= 1);
ALTER TABLE knowledge_state ADD COLUMN ability_evidence REAL NOT NULL DEFAULT 0;
ALTER TABLE knowledge_state ADD COLUMN ability_information REAL NOT NULL DEFAULT 0 CHECK (ability_information >= 0);
ALTER TABLE knowledge_state ADD COLUMN recent_accuracy REAL NOT NULL DEFAULT 0.5 CHECK (recent_accuracy BETWEEN 0 AND 1);
ALTER TABLE knowledge_state ADD COLUMN streak INTEGER NOT NULL DEFAULT 0 CHECK (streak >= 0);
ALTER TABLE knowledge_state ADD COLUMN rapid_guess_count INTEGER NOT NULL DEFAULT 0 CHECK (rapid_guess_count >= 0);
ALTER TABLE knowledge_state ADD COLUMN memory_stability REAL CHECK (memory_stability IS NULL OR memory_stability > 0);
ALTER TABLE knowledge_state ADD COLUMN memory_difficulty REAL CHECK (memory_difficulty IS NULL OR memory_difficulty BETWEEN 1 AND 10);
ALTER TABLE knowledge_state ADD COLUMN memory_state INTEGER CHECK (memory_state IS NULL OR memory_state IN (1, 2, 3));
ALTER TABLE knowledge_state ADD COLUMN memory_step INTEGER CHECK (memory_step IS NULL OR memory_step >= 0);
CREATE UNIQUE INDEX idx_knowledge_tenant_learner_concept ON knowledge_state (tenant_id, learner_id, concept);

-- question_responses: what was answered (for replays of the same idempotency key) and how
-- it counted. The row id is derived from (tenant, learner, idempotency key).
ALTER TABLE question_responses ADD COLUMN idempotency_key TEXT CHECK (idempotency_key IS NULL OR length(idempotency_key) BETWEEN 1 AND 200);
ALTER TABLE question_responses ADD COLUMN concept TEXT;
ALTER TABLE question_responses ADD COLUMN rapid_guess INTEGER NOT NULL DEFAULT 0 CHECK (rapid_guess IN (0, 1));
ALTER TABLE question_responses ADD COLUMN request_hash TEXT;
ALTER TABLE question_responses ADD COLUMN result TEXT CHECK (result IS NULL OR (json_valid(result) AND json_type(result) = 'object'));
CREATE UNIQUE INDEX idx_responses_tenant_learner_key ON question_responses (tenant_id, learner_id, idempotency_key);

-- questions: the running total of response time (with times_asked: the item's typical time
-- for the rapid-guess rule when estimated_time_seconds is not set).
ALTER TABLE questions ADD COLUMN response_time_total_seconds REAL NOT NULL DEFAULT 0 CHECK (response_time_total_seconds >= 0);
CREATE INDEX idx_questions_tenant_concept_id ON questions (tenant_id, concept);

-- Per-concept model parameters: BKT (fitted or default), the concept's difficulty (Elo,
-- updated online by increments) and the fit's own figures (held-out AUC, calibration).
CREATE TABLE concept_parameters (
    tenant_id           TEXT NOT NULL,
    concept_id          TEXT NOT NULL,
    p_init              REAL NOT NULL CHECK (p_init BETWEEN 0 AND 1),
    p_transit           REAL NOT NULL CHECK (p_transit BETWEEN 0 AND 1),
    p_slip              REAL NOT NULL CHECK (p_slip BETWEEN 0 AND 1),
    p_guess             REAL NOT NULL CHECK (p_guess BETWEEN 0 AND 1),
    p_forget            REAL NOT NULL DEFAULT 0 CHECK (p_forget BETWEEN 0 AND 1),
    difficulty          REAL NOT NULL DEFAULT 0,
    difficulty_count    INTEGER NOT NULL DEFAULT 0 CHECK (difficulty_count >= 0),
    fitted              INTEGER NOT NULL DEFAULT 0 CHECK (fitted IN (0, 1)),
    fit                 TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(fit) AND json_type(fit) = 'object'),
    fitted_at           TEXT,
    updated_at          TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    CHECK (p_guess + p_slip < 1 AND p_transit + p_forget < 1),
    PRIMARY KEY (tenant_id, concept_id),
    FOREIGN KEY (tenant_id, concept_id) REFERENCES knowledge_graph (tenant_id, concept_id) ON DELETE CASCADE
);

-- A tenant's fitted model (default BKT, Elo step sizes, predictor weights) and its figures.
CREATE TABLE learner_models (
    tenant_id           TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    -- 'tenant' for the tenant-wide model; room for per-course models fitted from a course's logs.
    name                TEXT NOT NULL DEFAULT 'tenant' CHECK (length(name) BETWEEN 1 AND 255),
    params              TEXT NOT NULL CHECK (json_valid(params) AND json_type(params) = 'object'),
    fit                 TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(fit) AND json_type(fit) = 'object'),
    source              TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(source) AND json_type(source) = 'object'),
    loaded_at           TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (tenant_id, name)
);

-- Per course: the mastery threshold for gradebook passback (seed 002's mastery_threshold,
-- until activities carry their own) and whether each concept gets its own gradebook column.
CREATE TABLE course_mastery_settings (
    tenant_id           TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    course_context      TEXT NOT NULL CHECK (length(course_context) BETWEEN 1 AND 255),
    mastery_threshold   REAL NOT NULL DEFAULT 80 CHECK (mastery_threshold BETWEEN 0 AND 100),
    concept_columns     INTEGER NOT NULL DEFAULT 0 CHECK (concept_columns IN (0, 1)),
    updated_at          TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (tenant_id, course_context)
);

-- Per-concept gradebook columns (AGS line items) per course: claimed before creation so
-- two syncs never create the same column twice.
CREATE TABLE concept_line_items (
    tenant_id           TEXT NOT NULL,
    course_context      TEXT NOT NULL,
    concept_id          TEXT NOT NULL,
    line_item_url       TEXT,
    created_at          TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (tenant_id, course_context, concept_id),
    FOREIGN KEY (tenant_id, concept_id) REFERENCES knowledge_graph (tenant_id, concept_id) ON DELETE CASCADE
);

-- student_progress: what was last passed back to the gradebook.
ALTER TABLE student_progress ADD COLUMN passed_back_score REAL CHECK (passed_back_score IS NULL OR passed_back_score BETWEEN 0 AND 100);
ALTER TABLE student_progress ADD COLUMN passed_back_at TEXT;
