"""Daily rollups for the dashboard: per box and day, per province, procedure and day;
filled from the events and turns already stored.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 18:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# Frozen copies of the turn actions (hoixa.server.db) as they were for this revision.
QUESTIONS = "('answer', 'menu', 'clarify', 'not_found')"
ANSWERS = "('answer', 'menu')"


def upgrade() -> None:
    op.create_table(
        "daily_devices",
        sa.Column("local_date", sa.Date(), nullable=False),
        sa.Column("province", sa.String(length=2), nullable=False),
        sa.Column("commune", sa.String(length=5), nullable=False),
        sa.Column("device_id", sa.String(length=63), nullable=False),
        sa.Column("conversations", sa.Integer(), nullable=False),
        sa.Column("questions", sa.Integer(), nullable=False),
        sa.Column("not_understood", sa.Integer(), nullable=False),
        sa.Column("satisfied", sa.Integer(), nullable=False),
        sa.Column("unsatisfied", sa.Integer(), nullable=False),
        sa.Column("no_answer", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "local_date", "province", "commune", "device_id", name=op.f("pk_daily_devices")
        ),
    )
    op.create_index(
        op.f("ix_daily_devices_commune_local_date"), "daily_devices", ["commune", "local_date"]
    )
    op.create_index(
        op.f("ix_daily_devices_province_local_date"), "daily_devices", ["province", "local_date"]
    )
    op.create_table(
        "daily_procedures",
        sa.Column("local_date", sa.Date(), nullable=False),
        sa.Column("province", sa.String(length=2), nullable=False),
        sa.Column("procedure_code", sa.String(length=64), nullable=False),
        sa.Column("questions", sa.Integer(), nullable=False),
        sa.Column("conversations", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "local_date", "province", "procedure_code", name=op.f("pk_daily_procedures")
        ),
    )
    op.create_index(
        op.f("ix_daily_procedures_province_local_date"),
        "daily_procedures",
        ["province", "local_date"],
    )
    op.execute(
        f"""
        INSERT INTO daily_devices (local_date, province, commune, device_id, conversations,
                                   questions, not_understood, satisfied, unsatisfied, no_answer)
        SELECT e.local_date, e.province, e.commune, e.device_id, count(*),
               coalesce(sum(q.questions), 0), coalesce(sum(q.not_understood), 0),
               sum(CASE WHEN e.satisfaction = 'satisfied' THEN 1 ELSE 0 END),
               sum(CASE WHEN e.satisfaction = 'unsatisfied' THEN 1 ELSE 0 END),
               sum(CASE WHEN e.satisfaction IS NULL THEN 1 ELSE 0 END)
        FROM events AS e
        LEFT JOIN (
            SELECT event_pk, count(*) AS questions,
                   sum(CASE WHEN action = 'not_found' THEN 1 ELSE 0 END) AS not_understood
            FROM turns WHERE action IN {QUESTIONS} GROUP BY event_pk
        ) AS q ON q.event_pk = e.id
        GROUP BY e.local_date, e.province, e.commune, e.device_id
        """
    )
    op.execute(
        f"""
        INSERT INTO daily_procedures (local_date, province, procedure_code, questions,
                                      conversations)
        SELECT local_date, province, procedure_code, count(*), count(DISTINCT event_pk)
        FROM turns
        WHERE action IN {ANSWERS} AND procedure_code IS NOT NULL
        GROUP BY local_date, province, procedure_code
        """
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_daily_procedures_province_local_date"), table_name="daily_procedures")
    op.drop_table("daily_procedures")
    op.drop_index(op.f("ix_daily_devices_province_local_date"), table_name="daily_devices")
    op.drop_index(op.f("ix_daily_devices_commune_local_date"), table_name="daily_devices")
    op.drop_table("daily_devices")
