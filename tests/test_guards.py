"""Issue #23, the library half, one test (or a few) per item: a face added to an existing person must look like them,
bounded memory per enrolment request, no other program's SQLite file taken over, `find` ignores case, huge files
refused before they are read, an unreadable indexed photo said so. Each reproducer of the issue is a test here; the
kill -9 runs of item 16 are in test_reliability.py."""
import sqlite3, subprocess, sys
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


@pytest.fixture(scope='module')
def indexed(samples, tmp_path_factory):
    "Obama enrolled; an archive of two photos of him and an empty file, indexed."
    top = tmp_path_factory.mktemp('archive')
    arch, db = top / 'arch', top / 'a.db'
    arch.mkdir()
    for q in ('obama1.jpg', 'obama_and_biden.jpg'): (arch / q).write_bytes((samples / 'queries' / q).read_bytes())
    (arch / 'empty.jpg').write_bytes(b'')
    facenb('enroll', 'Obama', samples / 'people/obama', '--db', db, check=0)
    facenb('index', arch, '--db', db, check=0)
    return arch, db


# 6. `find` takes the name whatever its case, as every other lookup does.
def test_find_ignores_case(indexed):
    arch, db = indexed
    exact, lower = (facenb('find', n, '--db', db, check=0).stdout for n in ('Obama', 'obama'))
    assert exact.startswith('Obama: 2 sightings') and lower == exact, lower


# 15. A photo the index recorded as unreadable says so: an error line and exit 1, not "0 faces".
def test_sightings_of_an_unreadable_photo(indexed):
    arch, db = indexed
    r = facenb('sightings', arch / 'empty.jpg', arch / 'obama1.jpg', '--db', db)
    assert r.returncode == 1 and 'empty.jpg: 0 faces' not in r.stdout and 'obama1.jpg: 1 face\n  Obama' in r.stdout, r.stdout
    assert 'empty.jpg: indexed as unreadable (not an image' in one_line_error(r)


# 8. A huge file is never read: skipped with one line by `index`, refused by `sightings`, in a process capped at 4 GB.
def test_huge_file_is_not_read(indexed, tmp_path):
    arch, db = indexed
    huge = arch / 'huge.jpg'
    with open(huge, 'wb') as f: f.truncate(12 * 2**30)  # sparse: no disk used
    exe = str(Path(sys.executable).with_name('facenb'))
    run = lambda *a: subprocess.run(['bash', '-c', 'ulimit -v 4000000 && exec "$0" "$@"', exe, *map(str, a)],
                                    capture_output=True, text=True, timeout=600)
    try:
        r = run('index', arch, '--db', db)
        assert r.returncode == 0 and 'MemoryError' not in r.stderr, r.stderr[-2000:]
        assert '1 too large, skipped unread' in r.stdout
        assert f'  skipped: {huge}: 12,884,901,888 bytes, over the limit of 268,435,456 for a photo; not read' in r.stdout.splitlines()
        assert 'over the limit' in one_line_error(run('sightings', huge, '--db', db))
    finally: huge.unlink()
