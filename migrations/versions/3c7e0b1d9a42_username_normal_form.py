"""username normal form: users.normal_username (NFKC case folding), unique

Revision ID: 3c7e0b1d9a42
Revises: f91d69db6090
Create Date: 2026-12-02 10:00:00.000000

Existing usernames are never merged, renamed or dropped: if two rows have the same normal form
(``Alice`` and ``alice``), or a normal form is longer than 150 characters, the upgrade stops before
changing anything and names the rows; the operator renames (or deletes) one of each pair, e.g.
``UPDATE users SET username = 'alice-2' WHERE id = '…'``, and runs the upgrade again.
"""
import unicodedata

from alembic import op
import sqlalchemy as sa

# A migration is frozen: the rule as it was when this revision was written (authserver.usernames),
# so a later change of the rule needs a revision of its own and cannot rewrite this one.
MAX_LENGTH = 150


def normal_form(username: str) -> str:
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", username).casefold()).strip()


# revision identifiers, used by Alembic.
revision = '3c7e0b1d9a42'
down_revision = 'f91d69db6090'
branch_labels = None
depends_on = None

users = sa.table('users', sa.column('id', sa.String), sa.column('username', sa.String),
                 sa.column('normal_username', sa.String))


class UsernameCollision(RuntimeError):
    """Existing rows that the normal form would make one username: the upgrade refuses to run."""


def _normal_forms(conn) -> dict[str, str]:
    rows = conn.execute(sa.select(users.c.id, users.c.username).order_by(users.c.username, users.c.id)).all()
    by_form: dict[str, list[tuple[str, str]]] = {}
    for user_id, username in rows:
        by_form.setdefault(normal_form(username), []).append((user_id, username))
    problems = [f"{form!r}: " + ", ".join(f"{name!r} (id {uid})" for uid, name in group)
                for form, group in by_form.items() if len(group) > 1]
    problems += [f"{group[0][1]!r} (id {group[0][0]}): its normal form is longer than {MAX_LENGTH} characters"
                 for form, group in by_form.items() if len(form) > MAX_LENGTH or not form]
    if problems:
        raise UsernameCollision(
            "usernames are now compared in their normal form (NFKC, case-folded); these existing rows would "
            "become one username (or cannot have one), so nothing was changed. Rename or delete them (e.g. "
            "UPDATE users SET username = 'new-name' WHERE id = '...'), then run the upgrade again:\n  "
            + "\n  ".join(problems))
    return {uid: form for form, group in by_form.items() for uid, _name in group}


def upgrade():
    conn = op.get_bind()
    forms = _normal_forms(conn)  # before any change: a refusal leaves the schema and the rows as they were
    with op.batch_alter_table('users') as batch_op:
        batch_op.add_column(sa.Column('normal_username', sa.String(length=150), nullable=True))
    for user_id, form in forms.items():
        conn.execute(users.update().where(users.c.id == user_id).values(normal_username=form))
    with op.batch_alter_table('users') as batch_op:
        batch_op.alter_column('normal_username', existing_type=sa.String(length=150), nullable=False)
        batch_op.create_unique_constraint('uq_users_normal_username', ['normal_username'])


def downgrade():
    with op.batch_alter_table('users') as batch_op:
        batch_op.drop_constraint('uq_users_normal_username', type_='unique')
        batch_op.drop_column('normal_username')
