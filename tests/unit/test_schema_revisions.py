"""The code's migration head as the worker's start-up check reads it (the files' revision
lines, without Alembic) is the head Alembic reads."""

from __future__ import annotations

import pytest
from alembic.script import ScriptDirectory

from app import schema
from app.queue.errors import SchemaMissing


def test_the_head_read_from_the_files_is_alembics():
    assert schema.head_revision() == ScriptDirectory.from_config(
        schema.alembic_config()).get_current_head()


def write(folder, name, revision, down):
    (folder / name).write_text(f'"""A migration."""\n\nrevision: str = "{revision}"\n'
                               f"down_revision: str | None = {down}\n")


def test_the_head_is_the_revision_no_other_one_follows(tmp_path, monkeypatch):
    monkeypatch.setattr(schema, "VERSIONS", tmp_path)
    assert schema.head_revision() is None
    write(tmp_path, "a.py", "a1", None)
    write(tmp_path, "b.py", "b2", '"a1"')
    write(tmp_path, "c.py", "c3", "'b2'")
    assert schema.head_revision() == "c3"
    write(tmp_path, "d.py", "d4", '"b2"')  # a branch: two heads, which `migrate` cannot pick
    with pytest.raises(SchemaMissing, match="several heads"):
        schema.head_revision()
