"""Issue #23, the library half, one test (or a few) per item: a face added to an existing person must look like them,
bounded memory per enrolment request, no other program's SQLite file taken over, `find` ignores case, huge files
refused before they are read, an unreadable indexed photo said so. Each reproducer of the issue is a test here; the
kill -9 runs of item 16 are in test_reliability.py."""
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from conftest import facenb
from facenb.store import APPLICATION_ID, Gallery


def one_line_error(r):
    "A refusal: exit 1, exactly one line on stderr, no traceback."
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    assert len(r.stderr.strip().splitlines()) == 1 and 'Traceback' not in r.stderr, r.stderr
    return r.stderr.strip()


def app_id(db: Path) -> int:
    with sqlite3.connect(db) as c: return c.execute('PRAGMA application_id').fetchone()[0]


# 5. Another program's SQLite file is not taken over; a gallery made before application ids still opens.
def test_other_programs_sqlite_file_is_left_alone(samples, tmp_path):
    db = tmp_path / 'other.db'
    with sqlite3.connect(db) as c:
        c.executescript("CREATE TABLE meta (key, value); INSERT INTO meta VALUES ('owner', 'app');"
                        "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO users (name) VALUES ('alice');")
    before = db.read_bytes()
    msg = one_line_error(facenb('enroll', 'Biden', samples / 'people/biden/biden.jpg', '--db', db))
    assert 'not a facenb gallery (tables: meta, users)' in msg
    assert db.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ['other.db']


def test_gallery_made_before_application_ids_is_stamped(tmp_path):
    db = tmp_path / 'old.db'
    g = Gallery(db)
    g.enroll('Ann', np.eye(1, 8, dtype=np.float32), 'test-model', ['a1'])
    with sqlite3.connect(db) as c: c.execute('PRAGMA application_id = 0')  # as every facenb before issue 23 left it
    assert app_id(db) == 0
    assert 'Ann' in facenb('people', '--db', db, check=0).stdout
    assert app_id(db) == APPLICATION_ID
