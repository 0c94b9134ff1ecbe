"""Initial schema: boxes, events and turns, acks, catalogues, procedure fields, users,
ingestion counters.

Revision ID: 0001
Revises:
Create Date: 2026-11-23 17:13:36.772443
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# Frozen here, not imported from the models: a migration must keep meaning what it meant.
UTC_TIME = sa.DateTime(timezone=True)  # SQLite keeps it as UTC text; the models convert
JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # SQLite numbers INTEGER keys

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "catalogue_versions",
        sa.Column("scope", sa.String(length=20), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("issued_at", UTC_TIME, nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=True),
        sa.Column("content", JSON_DOC, nullable=False),
        sa.Column("manifest", JSON_DOC, nullable=True),
        sa.Column("stored_at", UTC_TIME, nullable=False),
        sa.Column("published_at", UTC_TIME, nullable=True),
        sa.PrimaryKeyConstraint("scope", "version", name=op.f("pk_catalogue_versions")),
    )
    op.create_table(
        "devices",
        sa.Column("device_id", sa.String(length=63), nullable=False),
        sa.Column("province", sa.String(length=2), nullable=False),
        sa.Column("commune", sa.String(length=5), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=True),
        sa.Column("first_seen_at", UTC_TIME, nullable=True),
        sa.Column("enrolled_at", UTC_TIME, nullable=True),
        sa.Column("retired_at", UTC_TIME, nullable=True),
        sa.Column("last_seen_at", UTC_TIME, nullable=True),
        sa.Column("online", sa.Boolean(), nullable=False),
        sa.Column("last_status_at", UTC_TIME, nullable=True),
        sa.Column("status_sent_at", UTC_TIME, nullable=True),
        sa.Column("software_version", sa.String(length=100), nullable=True),
        sa.Column("catalogue_version", sa.Integer(), nullable=True),
        sa.Column("health", JSON_DOC, nullable=True),
        sa.Column("queue_depth", sa.Integer(), nullable=True),
        sa.Column("dropped_events", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("device_id", name=op.f("pk_devices")),
    )
    op.create_index(op.f("ix_devices_commune"), "devices", ["commune"])
    op.create_index(op.f("ix_devices_province"), "devices", ["province"])
    op.create_table(
        "ingest_counters",
        sa.Column("kind", sa.String(length=80), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint("kind", name=op.f("pk_ingest_counters")),
    )
    op.create_table(
        "procedure_fields",
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("field", sa.String(length=200), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("scope", sa.String(length=20), nullable=False),
        sa.Column("catalogue_version", sa.Integer(), nullable=False),
        sa.Column("updated_at", UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_procedure_fields")),
    )
    op.create_index(op.f("ix_procedure_fields_field"), "procedure_fields", ["field"])
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("username", sa.String(length=100), nullable=False),
        sa.Column("password_hash", sa.String(length=300), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("province", sa.String(length=2), nullable=True),
        sa.Column("commune", sa.String(length=5), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.CheckConstraint(
            "(role = 'central') OR (role = 'province' AND province IS NOT NULL) "
            "OR (role = 'commune' AND province IS NOT NULL AND commune IS NOT NULL)",
            name=op.f("ck_users_place_for_role"),
        ),
        sa.CheckConstraint(
            "role IN ('central', 'province', 'commune')", name=op.f("ck_users_role")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    op.create_table(
        "acks",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("device_id", sa.String(length=63), nullable=False),
        sa.Column("scope", sa.String(length=20), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("result", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("catalogue_version", sa.Integer(), nullable=False),
        sa.Column("at", UTC_TIME, nullable=False),
        sa.Column("received_at", UTC_TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"], ["devices.device_id"], name=op.f("fk_acks_device_id_devices")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_acks")),
        sa.UniqueConstraint(
            "device_id",
            "scope",
            "version",
            "kind",
            "result",
            "at",
            name=op.f("uq_acks_device_id_scope_version_kind_result_at"),
        ),
    )
    op.create_index(op.f("ix_acks_scope_version"), "acks", ["scope", "version"])
    op.create_table(
        "events",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("device_id", sa.String(length=63), nullable=False),
        sa.Column("province", sa.String(length=2), nullable=False),
        sa.Column("commune", sa.String(length=5), nullable=False),
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("started_at", UTC_TIME, nullable=False),
        sa.Column("ended_at", UTC_TIME, nullable=False),
        sa.Column("local_date", sa.Date(), nullable=False),
        sa.Column("software_version", sa.String(length=100), nullable=True),
        sa.Column("catalogue_version", sa.Integer(), nullable=False),
        sa.Column("termination", sa.String(length=20), nullable=False),
        sa.Column("satisfaction", sa.String(length=20), nullable=True),
        sa.Column("satisfaction_by", sa.String(length=20), nullable=True),
        sa.Column("dropped_before", sa.Integer(), nullable=False),
        sa.Column("turn_count", sa.SmallInteger(), nullable=False),
        sa.Column("received_at", UTC_TIME, nullable=False),
        sa.Column("raw", JSON_DOC, nullable=True),
        sa.ForeignKeyConstraint(
            ["device_id"], ["devices.device_id"], name=op.f("fk_events_device_id_devices")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
        sa.UniqueConstraint("event_id", name=op.f("uq_events_event_id")),
    )
    op.create_index(op.f("ix_events_commune_local_date"), "events", ["commune", "local_date"])
    op.create_index(op.f("ix_events_device_id_started_at"), "events", ["device_id", "started_at"])
    op.create_index(op.f("ix_events_local_date"), "events", ["local_date"])
    op.create_index(op.f("ix_events_province_local_date"), "events", ["province", "local_date"])
    op.create_index(op.f("ix_events_started_at"), "events", ["started_at"])
    op.create_table(
        "turns",
        sa.Column("event_pk", BIG_ID, nullable=False),
        sa.Column("turn_index", sa.SmallInteger(), nullable=False),
        sa.Column("local_date", sa.Date(), nullable=False),
        sa.Column("province", sa.String(length=2), nullable=False),
        sa.Column("commune", sa.String(length=5), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("procedure_code", sa.String(length=64), nullable=True),
        sa.Column("category", sa.String(length=20), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("asr_confidence", sa.Float(), nullable=True),
        sa.Column("heard", sa.String(length=500), nullable=True),
        sa.Column("heard_key", sa.String(length=500), nullable=True),
        sa.Column("audio_problem", sa.String(length=40), nullable=True),
        sa.Column("latency_asr_final_ms", sa.Float(), nullable=True),
        sa.Column("latency_match_ms", sa.Float(), nullable=True),
        sa.Column("latency_first_audio_ms", sa.Float(), nullable=True),
        sa.Column("latency_total_ms", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["event_pk"], ["events.id"], name=op.f("fk_turns_event_pk_events"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("event_pk", "turn_index", name=op.f("pk_turns")),
    )
    op.create_index(op.f("ix_turns_commune_local_date"), "turns", ["commune", "local_date"])
    op.create_index(op.f("ix_turns_local_date_action"), "turns", ["local_date", "action"])
    op.create_index(
        op.f("ix_turns_procedure_code_local_date"), "turns", ["procedure_code", "local_date"]
    )
    op.create_index(op.f("ix_turns_province_local_date"), "turns", ["province", "local_date"])


def downgrade() -> None:
    op.drop_index(op.f("ix_turns_province_local_date"), table_name="turns")
    op.drop_index(op.f("ix_turns_procedure_code_local_date"), table_name="turns")
    op.drop_index(op.f("ix_turns_local_date_action"), table_name="turns")
    op.drop_index(op.f("ix_turns_commune_local_date"), table_name="turns")
    op.drop_table("turns")
    op.drop_index(op.f("ix_events_started_at"), table_name="events")
    op.drop_index(op.f("ix_events_province_local_date"), table_name="events")
    op.drop_index(op.f("ix_events_local_date"), table_name="events")
    op.drop_index(op.f("ix_events_device_id_started_at"), table_name="events")
    op.drop_index(op.f("ix_events_commune_local_date"), table_name="events")
    op.drop_table("events")
    op.drop_index(op.f("ix_acks_scope_version"), table_name="acks")
    op.drop_table("acks")
    op.drop_table("users")
    op.drop_index(op.f("ix_procedure_fields_field"), table_name="procedure_fields")
    op.drop_table("procedure_fields")
    op.drop_table("ingest_counters")
    op.drop_index(op.f("ix_devices_province"), table_name="devices")
    op.drop_index(op.f("ix_devices_commune"), table_name="devices")
    op.drop_table("devices")
    op.drop_table("catalogue_versions")
