"""The course database: students, sessions, submissions with their events, decisions, similar groups.

Revision ID: 0001
Revises:
"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "students",
        sa.Column("student", sa.String(200), primary_key=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("added_at", sa.Float, nullable=False),
    )
    op.create_table(
        "sessions",
        sa.Column("key_hash", sa.String(64), primary_key=True),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("student", sa.String(200), sa.ForeignKey("students.student"), nullable=True),
        sa.Column("csrf", sa.String(64), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
    )
    op.create_table(
        "submissions",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(32), nullable=False, unique=True),
        sa.Column("student", sa.String(200), sa.ForeignKey("students.student"), nullable=False),
        sa.Column("exercise", sa.String(200), nullable=False),
        sa.Column("filename", sa.String(200), nullable=False),
        sa.Column("notebook", sa.LargeBinary, nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("submitted_at", sa.Float, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("started_at", sa.Float, nullable=True),
        sa.Column("graded_at", sa.Float, nullable=True),
        sa.Column("score", sa.Float, nullable=True),
        sa.Column("max_score", sa.Float, nullable=True),
        sa.Column("result", sa.Text, nullable=True),
        sa.Column("report", sa.Text, nullable=True),
        sa.Column("reason", sa.Text, nullable=True),
    )
    op.create_index("ix_submissions_status", "submissions", ["status"])
    op.create_index("ix_submissions_student_exercise", "submissions", ["student", "exercise", "submitted_at"])
    op.create_table(
        "events",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("submission", sa.String(32), sa.ForeignKey("submissions.id"), nullable=False),
        sa.Column("event", sa.String(20), nullable=False),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("detail", sa.Text, nullable=True),
    )
    op.create_index("ix_events_submission", "events", ["submission"])
    op.create_table(
        "decisions",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("student", sa.String(200), sa.ForeignKey("students.student"), nullable=False),
        sa.Column("exercise", sa.String(200), nullable=True),
        sa.Column("submission", sa.String(32), sa.ForeignKey("submissions.id"), nullable=True),
        sa.Column("score", sa.Float, nullable=True),
        sa.Column("until", sa.Float, nullable=True),
        sa.Column("text", sa.Text, nullable=True),
        sa.Column("by", sa.String(200), nullable=False),
        sa.Column("at", sa.Float, nullable=False),
    )
    op.create_index("ix_decisions_student", "decisions", ["student", "exercise"])
    op.create_table(
        "similar",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("exercise", sa.String(200), nullable=False),
        sa.Column("submissions", sa.Text, nullable=False),
        sa.Column("students", sa.Text, nullable=False),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("evidence", sa.Text, nullable=False),
        sa.Column("found_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    for table in ("similar", "decisions", "events", "submissions", "sessions", "students"):
        op.drop_table(table)
