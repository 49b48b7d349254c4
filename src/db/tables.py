"""The tenant-owned tables the data layer may touch, and their columns. A statement can
only name a table and columns listed here, which is what keeps identifiers out of
user input and `tenant_id` in every statement."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Table:
    name: str
    key: str  # primary key column
    columns: frozenset[str]
    json_columns: frozenset[str] = frozenset()
    # Column naming the learner a row is about (data-subject export/erasure), if any.
    learner_column: str | None = None


def _t(name, key, columns, json_columns=(), learner_column=None) -> Table:
    cols = frozenset(columns.split()) | {"tenant_id", key}
    return Table(name, key, cols, frozenset(json_columns), learner_column)


TABLES: dict[str, Table] = {
    t.name: t
    for t in [
        _t("lti_platforms", "id", "issuer client_id auth_login_url auth_token_url key_set_url frame_origins created_at",
           ["frame_origins"]),
        _t("lti_deployments", "deployment_id", "platform_id created_at"),
        _t("learner_profiles", "id", "lti_user_id cognitive_profile privacy_settings version created_at updated_at",
           ["cognitive_profile", "privacy_settings"], learner_column="id"),
        _t("learning_sessions", "id",
           "learner_id course_context session_type session_start session_end behavioral_signals "
           "interventions_delivered device_type questions_asked questions_answered questions_correct "
           "average_response_time initial_difficulty final_difficulty average_cognitive_load "
           "cognitive_overload_events mastery_gain concepts_covered learner_difficulty_rating "
           "learner_engagement_rating completed course_role created_at updated_at",
           ["behavioral_signals", "interventions_delivered", "concepts_covered"], learner_column="learner_id"),
        _t("knowledge_graph", "concept_id", "concept_name dependencies course_contexts subject topic created_at updated_at",
           ["dependencies", "course_contexts"]),
        _t("struggle_events", "id", "learner_id session_id concept_id event_type severity signals detected_at",
           ["signals"], learner_column="learner_id"),
        _t("intervention_logs", "id",
           "learner_id session_id struggle_event_id intervention_type content outcome delivered_at responded_at",
           ["content"], learner_column="learner_id"),
        _t("chat_conversations", "id",
           "learner_id course_context status metadata started_at last_message_at title message_count "
           "instructor_visible", ["metadata"], learner_column="learner_id"),
        _t("chat_messages", "id", "conversation_id learner_id role content metadata created_at seq",
           ["metadata"], learner_column="learner_id"),
        _t("knowledge_state", "id",
           "learner_id subject topic concept mastery_level confidence_level ability_estimate ability_std_error "
           "p_learned p_transit p_slip p_guess first_exposure last_reviewed review_count correct_count "
           "incorrect_count next_review_date repetition_interval_days easiness_factor created_at updated_at "
           "version ability_evidence ability_information recent_accuracy streak rapid_guess_count memory_stability "
           "memory_difficulty memory_state memory_step",
           learner_column="learner_id"),
        _t("questions", "id",
           "question_text question_type subject topic concept difficulty_level cognitive_complexity "
           "expected_reasoning_path expected_concepts common_misconceptions hints estimated_time_seconds "
           "prerequisites learning_objectives times_asked average_understanding_score is_active is_validated "
           "created_by created_at updated_at response_time_total_seconds item_format answer_key concepts ref "
           "course_context source generated_content_id",
           ["expected_reasoning_path", "expected_concepts", "common_misconceptions", "hints", "prerequisites",
            "learning_objectives", "answer_key", "concepts"]),
        _t("question_responses", "id",
           "learner_id session_id question_id response_text response_time_seconds understanding_score "
           "reasoning_quality concepts_identified misconceptions_detected cognitive_load_at_response "
           "confidence_self_reported hints_used is_correct partial_credit feedback_text feedback_type responded_at "
           "idempotency_key concept rapid_guess request_hash result activity_id",
           ["concepts_identified", "misconceptions_detected", "result"], learner_column="learner_id"),
        _t("cognitive_metrics", "id",
           "learner_id session_id measured_at intrinsic_load extraneous_load germane_load total_load "
           "average_response_time response_time_variance error_rate pause_frequency self_reported_difficulty "
           "working_memory_usage attention_lapses focus_score load_classification",
           learner_column="learner_id"),
        _t("retention_tracking", "id",
           "learner_id concept initial_learning_date initial_mastery_level test_date days_since_learning "
           "retention_score half_life_days decay_rate test_type test_difficulty review_count_before_test "
           "last_review_date created_at",
           learner_column="learner_id"),
        _t("engagement_logs", "id",
           "learner_id session_id event_type event_timestamp event_context engagement_score",
           ["event_context"], learner_column="learner_id"),
        _t("assessment_configs", "id",
           "resource_link_id assessment_type mastery_threshold grading_schema ai_config line_item_url "
           "created_by created_at updated_at course_context title concepts graded typo_tolerance engagement_target "
           "status closes_at origin_id bound_at platform_issuer platform_client_id ags_lineitems ags_scope",
           ["ai_config", "concepts", "ags_scope"]),
        _t("assessment_conversations", "id",
           "assessment_config_id learner_id course_context status started_at completed_at mastery_score metadata",
           ["metadata"], learner_column="learner_id"),
        _t("assessment_messages", "id", "conversation_id learner_id role content metadata created_at",
           ["metadata"], learner_column="learner_id"),
        _t("student_progress", "id",
           "learner_id course_context total_assessments average_mastery struggle_patterns last_activity "
           "passed_back_score passed_back_at",
           ["struggle_patterns"], learner_column="learner_id"),
        _t("generated_content", "id",
           "assessment_config_id content_hash content_type content approved created_at status updated_at",
           ["content"]),
        _t("analytics_snapshots", "id", "course_context assignment_id snapshot_data created_at snapshot_day kind page",
           ["snapshot_data"]),
        _t("audit_log", "id", "action detail recorded_at", ["detail"]),
        _t("concept_parameters", "concept_id",
           "p_init p_transit p_slip p_guess p_forget difficulty difficulty_count fitted fit fitted_at updated_at",
           ["fit"]),
        _t("learner_models", "name", "params fit source loaded_at", ["params", "fit", "source"]),
        _t("course_mastery_settings", "course_context", "mastery_threshold concept_columns updated_at"),
        _t("concept_line_items", "concept_id", "course_context line_item_url created_at"),
        _t("course_roster", "lti_user_id", "course_context name fetched_at"),
        _t("chat_usage", "id",
           "conversation_id learner_id course_context day provider model prompt_tokens completion_tokens "
           "total_tokens cost_units outcome created_at", learner_column="learner_id"),
        _t("chat_settings", "id", "learner_id settings updated_by updated_at", ["settings"],
           learner_column="learner_id"),
        _t("activity_progress", "id",
           "activity_id learner_id course_context lti_user_id current_item_id current_presentation presented_at "
           "current_hints current_revealed recent_items attempts correct concepts_mastered score mastered "
           "mastered_at score_version sync_status sent_score sent_version sent_at sync_attempts sync_error "
           "next_sync_at version created_at updated_at", ["recent_items"], learner_column="learner_id"),
        _t("ai_model_settings", "feature", "provider model updated_at"),
    ]
}

# Children before parents: the order erasure deletes in and export reads in reverse.
LEARNER_TABLES_CHILD_FIRST: tuple[str, ...] = (
    "chat_messages", "assessment_messages", "intervention_logs", "struggle_events", "question_responses",
    "activity_progress",
    "cognitive_metrics", "engagement_logs", "retention_tracking", "knowledge_state", "student_progress",
    "assessment_conversations", "chat_conversations", "chat_settings", "learning_sessions", "learner_profiles",
)

# Learner tables whose rows outlive an erasure without naming the learner: these columns
# are cleared instead of the row deleted (the usage ledger keeps what the tenant paid).
LEARNER_COLUMNS_CLEARED_ON_ERASURE: dict[str, tuple[str, ...]] = {"chat_usage": ("learner_id", "conversation_id")}


# Tables whose `key` is not unique within a tenant page through a composite key (their
# primary key after tenant_id); a test checks every keyset against the schema's indexes.
_KEYSETS: dict[str, tuple[str, ...]] = {"lti_deployments": ("platform_id", "deployment_id"),
                                        "concept_line_items": ("course_context", "concept_id"),
                                        "course_roster": ("course_context", "lti_user_id")}
# Tables that stay in D1_PRIMARY whatever the tenant's d1_binding (the launch looks the
# registration up there before it knows the tenant).
DIRECTORY_TABLES: tuple[str, ...] = ("lti_platforms", "lti_deployments")


def keyset(name: str) -> tuple[str, ...]:
    """The columns that order a tenant's rows of a table uniquely (keyset pagination)."""
    return _KEYSETS.get(name, (table(name).key,))


def table(name: str) -> Table:
    try:
        return TABLES[name]
    except KeyError:
        raise UnscopedQueryError(f"{name!r} is not a tenant-owned table known to the data layer") from None


class UnscopedQueryError(Exception):
    """A statement that would not be scoped to exactly one tenant was attempted."""
