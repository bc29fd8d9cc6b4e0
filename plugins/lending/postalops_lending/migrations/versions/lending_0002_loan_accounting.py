"""lending loan accounting: accruals, penalty, provisions, write-offs, reversals, fees

Revision ID: lending_0002
Revises: lending_0001
Create Date: 2026-12-07 18:10:00

Issue 19 §2: the loan's accounting figures (new columns default to zero, so loans disbursed
before keep their meaning), the product's accounting settings, the penalty part of a
repayment, the loan's accounting events and the write-off requests.
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel
import postalops.db


revision = 'lending_0002'
down_revision = 'lending_0001'
branch_labels = None
depends_on = None

MONEY_COLUMNS = ("fee", "interest_accrued", "penalty_accrued", "penalty_paid", "provision",
                 "written_off", "recovered")


def upgrade() -> None:
    with op.batch_alter_table('lending_product', schema=None) as batch_op:
        batch_op.add_column(sa.Column('accounting', sa.JSON(), nullable=False, server_default='{}'))
    with op.batch_alter_table('lending_loan', schema=None) as batch_op:
        for name in MONEY_COLUMNS:
            batch_op.add_column(
                sa.Column(name, postalops.db.Money(), nullable=False, server_default='0')
            )
        batch_op.add_column(sa.Column('accrued_through', sa.Date(), nullable=True))
    with op.batch_alter_table('lending_repayment', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('penalty', postalops.db.Money(), nullable=False, server_default='0')
        )

    op.create_table('lending_loan_event',
    sa.Column('tenant_code', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('loan_id', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
    sa.Column('event_date', sa.Date(), nullable=False),
    sa.Column('amount', postalops.db.Money(), nullable=False),
    sa.Column('principal', postalops.db.Money(), nullable=False),
    sa.Column('interest', postalops.db.Money(), nullable=False),
    sa.Column('penalty', postalops.db.Money(), nullable=False),
    sa.Column('fee', postalops.db.Money(), nullable=False),
    sa.Column('category', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('reference', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
    sa.Column('memo', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('recorded_by', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('recorded_at', postalops.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['loan_id'], ['lending_loan.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('loan_id', 'reference')
    )
    with op.batch_alter_table('lending_loan_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lending_loan_event_tenant_code'), ['tenant_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_lending_loan_event_loan_id'), ['loan_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_lending_loan_event_kind'), ['kind'], unique=False)
        batch_op.create_index(batch_op.f('ix_lending_loan_event_event_date'), ['event_date'], unique=False)

    op.create_table('lending_write_off',
    sa.Column('tenant_code', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('loan_id', sa.Integer(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('principal', postalops.db.Money(), nullable=True),
    sa.Column('interest', postalops.db.Money(), nullable=True),
    sa.Column('requested_by', sa.Integer(), nullable=True),
    sa.Column('requested_by_name', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('requested_at', postalops.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('decided_by', sa.Integer(), nullable=True),
    sa.Column('decided_by_name', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('decided_at', postalops.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('decision_note', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.ForeignKeyConstraint(['loan_id'], ['lending_loan.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('lending_write_off', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lending_write_off_tenant_code'), ['tenant_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_lending_write_off_loan_id'), ['loan_id'], unique=False)


def downgrade() -> None:
    op.drop_table('lending_write_off')
    op.drop_table('lending_loan_event')
    with op.batch_alter_table('lending_repayment', schema=None) as batch_op:
        batch_op.drop_column('penalty')
    with op.batch_alter_table('lending_loan', schema=None) as batch_op:
        batch_op.drop_column('accrued_through')
        for name in MONEY_COLUMNS:
            batch_op.drop_column(name)
    with op.batch_alter_table('lending_product', schema=None) as batch_op:
        batch_op.drop_column('accounting')
