"""Web pages next door (issue 23), through FastAPI's TestClient: cross-site writes and foreign Host names refused,
names with '/', bad keys rate-limited per client, nested JSON, case and look-alike names, the documentation behind
the keys without a CDN, and `facenb serve` refusing a gallery that does not exist."""
import logging, sqlite3
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import facenb.serve as fserve
from conftest import facenb, snapshot
from facenb.keys import add_key
from facenb.recognize import Recognizer
from facenb.serve import Settings, create_app
from facenb.store import Gallery

EVIL = {'Origin': 'http://evil.example', 'Sec-Fetch-Site': 'cross-site'}


@pytest.fixture(scope='module')
def models(tmp_path_factory, data):
    return Recognizer(tmp_path_factory.mktemp('models') / 'scratch.db')


def client_for(models, db, base_url='http://127.0.0.1:18001', client=('testclient', 50000), **settings) -> TestClient:
    rec = Recognizer(Gallery(db), detector=models.detector, embedder=models.embedder)
    return TestClient(create_app(Settings(db=str(db), **settings), recognizer=rec), base_url=base_url, client=client)


def photo(path: Path, field='photos') -> dict: return {field: (path.name, path.read_bytes())}


@pytest.fixture(scope='module')
def obama_db(models, samples, tmp_path_factory) -> Path:
    "A gallery holding Barack Obama (one photo)."
    db = tmp_path_factory.mktemp('web') / 'obama.db'
    with client_for(models, db) as c:
        assert c.post('/v1/people/Barack Obama/faces', files=photo(samples / 'people/obama/obama.jpg')).status_code == 200
    return db


@pytest.fixture
def gallery(obama_db, tmp_path) -> Path:
    db = tmp_path / 'g.db'
    with sqlite3.connect(obama_db) as src, sqlite3.connect(db) as dst: src.backup(dst)  # the WAL's pages too
    return db


def test_cross_site_enrolment_is_refused(models, gallery, samples):
    "Item 1: the issue's curl; a program (no Origin) and a trusted origin still get through."
    before = snapshot(gallery)
    with client_for(models, gallery) as c:
        r = c.post('/v1/people/Barack Obama/faces', headers=EVIL, files=photo(samples / 'people/biden/biden.jpg'))
        old_browser = c.delete('/v1/people/Barack Obama', headers={'Origin': 'http://evil.example'})
        assert snapshot(gallery) == before
        same_origin = c.post('/v1/recognize', files=photo(samples / 'queries/obama1.jpg', 'photo'),
                             headers={'Origin': 'http://127.0.0.1:18001', 'Sec-Fetch-Site': 'same-origin'})
        program = c.post('/v1/people/biden/faces', files=photo(samples / 'people/biden/biden.jpg'))
    assert (r.status_code, r.json()['error']['code']) == (403, 'cross_site'), r.text
    assert 'http://evil.example' in r.json()['error']['message']
    assert (old_browser.status_code, old_browser.json()['error']['code']) == (403, 'cross_site')
    assert same_origin.status_code == 200 and program.status_code == 200
    with client_for(models, gallery, cors_origins=('https://door.example',)) as c:
        door = c.post('/v1/recognize', files=photo(samples / 'queries/obama1.jpg', 'photo'),
                      headers={'Origin': 'https://door.example', 'Sec-Fetch-Site': 'cross-site'})
    assert door.status_code == 200 and door.headers['access-control-allow-origin'] == 'https://door.example'


def test_foreign_host_is_refused(models, gallery):
    "Item 2: a Host name that is not this machine's (DNS rebinding) gets nothing, reads and writes alike."
    with client_for(models, gallery) as c:
        listed = c.get('/v1/people', headers={'Host': 'evil.example:18001'})
        deleted = c.delete('/v1/people/Barack Obama', headers={'Host': 'evil.example:18001'})
        ours = {h: c.get('/v1/health', headers={'Host': h}).status_code for h in ('localhost:18001', '127.0.0.1:18001', '[::1]:18001')}
    assert [(r.status_code, r.json()['error']['code']) for r in (listed, deleted)] == [(421, 'unknown_host')] * 2
    assert 'Barack Obama' not in listed.text and 'Barack Obama' in Gallery(gallery)
    assert ours == {'localhost:18001': 200, '127.0.0.1:18001': 200, '[::1]:18001': 200}
    with client_for(models, gallery, host='0.0.0.0', allowed_hosts=('door.lan',)) as c:
        got = {h: c.get('/v1/health', headers={'Host': h}).status_code for h in ('door.lan:18001', '192.168.1.20:18001', 'evil.example')}
    assert got == {'door.lan:18001': 200, '192.168.1.20:18001': 200, 'evil.example': 421}


def test_names_with_a_slash(models, gallery, samples):
    "Item 7: AC/DC can be enrolled, renamed and forgotten over HTTP, with the slash encoded or not."
    with client_for(models, gallery) as c:
        enrolled = c.post('/v1/people/AC%2FDC/faces', files=photo(samples / 'people/biden/biden.jpg'))
        renamed = c.patch('/v1/people/AC%2FDC', json={'name': 'M/x'})
        back = c.patch('/v1/people/M/x', json={'name': 'AC/DC'})
        forgotten = c.delete('/v1/people/AC%2FDC')
    assert [r.status_code for r in (enrolled, renamed, back, forgotten)] == [200] * 4, [r.text for r in (enrolled, renamed, back, forgotten)]
    assert (enrolled.json()['name'], renamed.json()['name'], back.json()['old'], forgotten.json()['removed']) == ('AC/DC', 'M/x', 'M/x', 1)
    assert [p.name for p in Gallery(gallery).people()] == ['Barack Obama']


def test_bad_keys_are_rate_limited_per_client(models, gallery, monkeypatch):
    "Item 10: 40 bad keys from one address: 10 x 401, then 429 without opening the gallery; another address is not held up."
    add_key(gallery, 'admin')
    opened = []
    real = fserve.has_keys
    monkeypatch.setattr(fserve, 'has_keys', lambda g: opened.append(1) or real(g))
    with client_for(models, gallery) as c:
        codes = [c.get('/v1/people', headers={'X-API-Key': f'fnb_bad{i}'}).status_code for i in range(40)]
        last = c.get('/v1/people')
    assert codes == [401] * 10 + [429] * 30 and len(opened) == 10
    assert last.json()['error']['code'] == 'rate_limited' and int(last.headers['retry-after']) >= 1
    with client_for(models, gallery, client=('10.0.0.2', 50000)) as c:
        assert c.get('/v1/people', headers={'X-API-Key': 'fnb_bad'}).json()['error']['code'] == 'invalid_key'


def test_deeply_nested_json(models, gallery, caplog):
    "Item 11: a JSON 400, no traceback in the answer or the log."
    nested = '[' * 100_000 + ']' * 100_000
    with caplog.at_level(logging.INFO), client_for(models, gallery) as c:
        answers = [c.post('/v1/recognize', content=nested, headers={'content-type': 'application/json'}),
                   c.patch('/v1/people/Barack Obama', content='{"name": ' + nested + '}', headers={'content-type': 'application/json'})]
    assert [(r.status_code, r.json()['error']['code']) for r in answers] == [(400, 'bad_request')] * 2
    assert not [r for r in caplog.records if r.exc_info] and 'Traceback' not in caplog.text


def test_case_and_lookalike_names(models, gallery, samples, caplog):
    "Item 12: a name differing only in case is a 409 with its code; a mixed-script look-alike is a warning in the answer and the log."
    with caplog.at_level(logging.WARNING, logger='facenb.serve'), client_for(models, gallery) as c:
        case = c.post('/v1/people/barack%20obama/faces', files=photo(samples / 'misc/obama3.jpg'))
        mixed = c.post('/v1/people/Barack Ob%D0%B0ma/faces', files=photo(sorted((samples / 'people/kit_harington').iterdir())[0]))
        renamed = c.patch('/v1/people/Barack Ob%D0%B0ma', json={'name': 'B\u0430rack Obama'})
    assert (case.status_code, case.json()['error']['code']) == (409, 'differs_in_case'), case.text
    assert mixed.status_code == 200 and renamed.status_code == 200
    for r in (mixed, renamed):
        (note,) = r.json()['warnings']
        assert "looks like 'Barack Obama'" in note and 'cyrillic and latin' in note
        assert note in caplog.text


def test_docs_behind_keys_and_no_cdn(models, gallery):
    "Item 13: the documentation needs a key once the gallery has keys, and no page loads a script."
    with client_for(models, gallery) as c:
        docs, redoc = c.get('/docs'), c.get('/redoc')
        assert c.get('/openapi.json').status_code == 200
    assert docs.status_code == 200 and 'POST /v1/recognize' in docs.text and '/openapi.json' in docs.text
    assert '<script' not in docs.text and 'cdn' not in docs.text and "default-src 'none'" in docs.headers['content-security-policy']
    assert redoc.status_code == 404
    key = add_key(gallery, 'kiosk', read_only=True)
    with client_for(models, gallery) as c:
        refused = {p: c.get(p).status_code for p in ('/docs', '/redoc', '/openapi.json')}
        shown = {p: c.get(p, headers={'X-API-Key': key}).status_code for p in ('/docs', '/openapi.json')}
    assert refused == {'/docs': 401, '/redoc': 404, '/openapi.json': 401} and shown == {'/docs': 200, '/openapi.json': 200}


def test_serve_makes_no_gallery(tmp_path):
    "Item 14: `facenb serve --db new.db` says in one line that there is no gallery, and creates none."
    r = facenb('serve', '--db', tmp_path / 'new.db', '--port', '18110', timeout=120)
    assert r.returncode == 1 and r.stderr.count('\n') == 1, (r.returncode, r.stdout, r.stderr)
    assert 'no gallery here' in r.stderr and 'facenb enroll' in r.stderr and 'Traceback' not in r.stderr
    assert list(tmp_path.iterdir()) == []
