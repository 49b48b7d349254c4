-- Migration 0010: the insight pages (src/insights/).
--
-- analytics_snapshots (seed 002) holds what the nightly job computed per course: one
-- `course` row (class aggregates, concepts, flags, help, trend), one `activity` row per
-- activity, and the class's learner rows in `learners` pages of a fixed size, in the
-- order the overview lists them (needs attention first). Opening the overview reads the
-- newest `course` row and one page, whatever the class size.
--   snapshot_day  the UTC day the job ran for (YYYY-MM-DD); a rerun replaces that day's rows
--   kind          course | activity | learners
--   page          0 for course/activity rows; 1.. for learner pages
ALTER TABLE analytics_snapshots ADD COLUMN snapshot_day TEXT CHECK (snapshot_day IS NULL OR length(snapshot_day) = 10);
ALTER TABLE analytics_snapshots ADD COLUMN kind TEXT NOT NULL DEFAULT 'course' CHECK (kind IN ('course', 'activity', 'learners'));
ALTER TABLE analytics_snapshots ADD COLUMN page INTEGER NOT NULL DEFAULT 0 CHECK (page >= 0);
CREATE INDEX idx_snapshots_tenant_course_kind_day ON analytics_snapshots (tenant_id, course_context, kind, snapshot_day, page);

-- Names from the course roster (LTI NRPS), cached per course so the pages show people's
-- names without calling the platform on every view. Refreshed on an instructor's launch
-- (and when a page finds the copy older than ROSTER_TTL_HOURS); never a source of truth.
CREATE TABLE course_roster (
    tenant_id       TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    course_context  TEXT NOT NULL CHECK (length(course_context) BETWEEN 1 AND 255),
    lti_user_id     TEXT NOT NULL CHECK (length(lti_user_id) BETWEEN 1 AND 255),
    name            TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 300),
    fetched_at      TEXT NOT NULL,
    PRIMARY KEY (tenant_id, course_context, lti_user_id)
);
CREATE INDEX idx_course_roster_tenant_course_time ON course_roster (tenant_id, course_context, fetched_at);

-- The same-day delta reads what happened since the snapshot by time, across the tenant.
CREATE INDEX idx_struggle_tenant_time ON struggle_events (tenant_id, detected_at);
CREATE INDEX idx_interventions_tenant_time ON intervention_logs (tenant_id, delivered_at);
