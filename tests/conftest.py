"Shared fixtures: the shared photo data (skipped with a reason when absent) and the `facenb` command."
import json, os, sqlite3, subprocess, sys
from pathlib import Path
import pytest

from facenb.core import data_dir

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope='session')
def data() -> Path:
    d = data_dir()
    if d is None: pytest.skip('shared data not found: set FACENB_DATA to the shared data folder (../shared/data)')
    return d


@pytest.fixture(scope='session')
def samples(data) -> Path: return data / 'samples'


def facenb(*args, check=None, env=None, timeout=600):
    "Run the installed `facenb` command; returns the CompletedProcess."
    exe = Path(sys.executable).with_name('facenb')
    r = subprocess.run([str(exe), *map(str, args)], capture_output=True, text=True,
                       env={**os.environ, **(env or {})}, timeout=timeout)
    if check is not None: assert r.returncode == check, (r.returncode, r.stdout, r.stderr)
    return r


def json_lines(out: str) -> list[dict]: return [json.loads(l) for l in out.splitlines() if l.strip()]


def snapshot(db: Path):
    "Everything the gallery holds that a failed command must leave alone."
    with sqlite3.connect(db) as c:
        return (c.execute('select id, name from people order by id').fetchall(),
                c.execute('select id, person_id, embedding, model, photo_hash, thumbnail from faces order by id').fetchall())


@pytest.fixture(scope='session')
def sample_db(samples, tmp_path_factory) -> Path:
    "A gallery with the five shared sample people enrolled through the command line."
    db = tmp_path_factory.mktemp('gallery') / 'samples.db'
    for person in sorted((samples / 'people').iterdir()):
        facenb('enroll', person.name, person, '--db', db, check=0)
    return db
