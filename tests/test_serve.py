"""The HTTP service on the shared sample photos: every endpoint through FastAPI's TestClient, every error code, API keys,
and a real uvicorn on 127.0.0.1 taking concurrent enrolments. The models load once for the module."""
import base64, io, os, shutil, socket, subprocess, sys, threading, time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image, ImageFilter

from conftest import snapshot
from facenb.keys import add_key
from facenb.recognize import Recognizer
from facenb.serve import Settings, create_app
from facenb.store import Gallery

EXPECTED = {'alex_lacamoire1.jpg': ['alex_lacamoire'], 'johnsnow_test1.jpg': ['kit_harington'],
            'kit_with_rose.jpg': ['kit_harington', 'rose_leslie'], 'obama1.jpg': ['obama'],
            'obama_and_biden.jpg': ['biden', 'obama']}
MATCH_FIELDS = {'box', 'probability', 'landmarks', 'name', 'similarity', 'candidates'}   # those of `facenb recognize --json`


@pytest.fixture(scope='module')
def models(tmp_path_factory, data):
    "One detector and embedder for the whole module."
    return Recognizer(tmp_path_factory.mktemp('models') / 'scratch.db')


def client_for(models, db, **settings) -> TestClient:
    "A TestClient over a service on gallery `db`, sharing the module's models."
    rec = Recognizer(Gallery(db), detector=models.detector, embedder=models.embedder)
    return TestClient(create_app(Settings(db=str(db), **settings), recognizer=rec), base_url='http://localhost')  # a name it answers to


def upload(path: Path, field: str = 'photo') -> dict: return {field: (path.name, path.read_bytes())}


def jpeg(a: np.ndarray) -> bytes:
    buf = io.BytesIO(); Image.fromarray(a).save(buf, 'JPEG', quality=92); return buf.getvalue()


@pytest.fixture(scope='module')
def enrolled(models, samples, tmp_path_factory):
    "The five sample people enrolled through the API: (gallery file, the enrolment answers)."
    db = tmp_path_factory.mktemp('serve') / 'samples.db'
    with client_for(models, db) as c:
        answers = {p.name: c.post(f'/v1/people/{p.name}/faces',
                                  files=[('photos', (f.name, f.read_bytes())) for f in sorted(p.iterdir())])
                   for p in sorted((samples / 'people').iterdir())}
    return db, answers


@pytest.fixture(scope='module')
def client(models, enrolled):
    with client_for(models, enrolled[0]) as c: yield c


def test_enrol_the_sample_people(enrolled, client):
    _, answers = enrolled
    assert {n: (r.status_code, r.json()['added']) for n, r in answers.items()} == {
        'alex_lacamoire': (200, 1), 'biden': (200, 2), 'kit_harington': (200, 2), 'obama': (200, 2), 'rose_leslie': (200, 2)}
    assert answers['biden'].json()['message'] == 'biden: 2 new faces enrolled from 2 photos (2 in all)'
    people = client.get('/v1/people').json()['people']
    assert {p['name']: p['faces'] for p in people} == {n: r.json()['added'] for n, r in answers.items()}
    assert set(people[0]) == {'name', 'faces', 'created'}   # those of `facenb people --json`


def test_recognize_every_query(client, samples):
    got = {}
    for q in sorted((samples / 'queries').iterdir()):
        r = client.post('/v1/recognize', files=upload(q))
        assert r.status_code == 200, r.text
        body = r.json()
        assert body['photo'] == q.name
        for f in body['faces']:
            assert set(f) == MATCH_FIELDS and len(f['landmarks']) == 5 and f['candidates'][0][1] == f['similarity']
        got[q.name] = sorted(f['name'] for f in body['faces'] if f['name'])
    assert got == EXPECTED


def test_base64_json_answers_like_multipart(client, samples):
    q = samples / 'queries/kit_with_rose.jpg'
    as_json = client.post('/v1/recognize', json={'photo': 'data:image/jpeg;base64,' + base64.b64encode(q.read_bytes()).decode()})
    assert as_json.status_code == 200
    assert as_json.json()['faces'] == client.post('/v1/recognize', files=upload(q)).json()['faces']


def test_stranger_is_unknown(client, samples):
    (face,) = client.post('/v1/recognize', files=upload(samples / 'misc/lin-manuel-miranda.png')).json()['faces']
    assert face['name'] is None and face['similarity'] < 0.48


def test_detect(client, samples):
    counts = {n: client.post('/v1/detect', files=upload(samples / 'misc' / n)).json()['faces'] for n in ('multiface.jpg', 'two_people.jpg')}
    assert {n: len(fs) for n, fs in counts.items()} == {'multiface.jpg': 6, 'two_people.jpg': 2}
    assert all(set(f) == {'box', 'probability', 'landmarks'} for fs in counts.values() for f in fs)


def test_verify(client, samples):
    kit, rose = sorted((samples / 'people/kit_harington').iterdir()), sorted((samples / 'people/rose_leslie').iterdir())
    same = client.post('/v1/verify', files={**upload(kit[0], 'photo_a'), **upload(kit[1], 'photo_b')}).json()
    other = client.post('/v1/verify', files={**upload(kit[0], 'photo_a'), **upload(rose[0], 'photo_b')}).json()
    assert same['same'] and not other['same'] and same['similarity'] > same['threshold'] > other['similarity']
    assert len(same['faces']) == 2


def test_health_and_info(client):
    assert client.get('/v1/health').json() == {'status': 'ok'}
    info = client.get('/v1/info').json()
    assert info['gallery'] == {'people': 5, 'faces': 9, 'model': info['model'], 'keys': False}
    assert info['detector'] == 'mtcnn' and 0 < info['threshold'] < 1 and info['limits']['max_upload_mb'] == 20


def test_openapi_docs(client):
    assert client.get('/docs').status_code == 200
    paths = client.get('/openapi.json').json()['paths']
    assert {'/v1/recognize', '/v1/detect', '/v1/verify', '/v1/people', '/v1/people/{name}', '/v1/people/{name}/faces',
            '/v1/health', '/v1/info'} <= set(paths)
    assert set(paths['/v1/recognize']['post']['requestBody']['content']) == {'multipart/form-data', 'application/json'}


def test_rename_and_forget(models, enrolled, tmp_path):
    db = tmp_path / 'copy.db'; shutil.copy(enrolled[0], db)
    with client_for(models, db) as c:
        r = c.patch('/v1/people/kit_harington', json={'name': 'Kit Harington'})
        assert (r.status_code, r.json()['message']) == (200, 'kit_harington is now Kit Harington')
        r = c.delete('/v1/people/Kit Harington')
        assert (r.status_code, r.json()['removed'], r.json()['message']) == (200, 2, 'Kit Harington: forgotten (2 faces removed)')
        assert 'Kit Harington' not in {p['name'] for p in c.get('/v1/people').json()['people']}


# Every error code: status, code, a one-line message and no trace; the gallery holds exactly what it held.
def _bad(case, samples, data):
    obama = samples / 'people/obama/obama.jpg'
    tiny = jpeg(np.asarray(Image.open(obama).convert('RGB').resize((60, 60))))
    smeared = jpeg(np.asarray(Image.open(obama).convert('RGB').filter(ImageFilter.GaussianBlur(20))))
    huge = io.BytesIO(); Image.new('L', (12_000, 12_000)).save(huge, 'PNG')
    scene = next((data / 'scenes').rglob('*.jpg'))
    enrol = lambda files: ('post', '/v1/people/x/faces', dict(files=files))
    return {
        'corrupt': enrol({'photos': ('corrupt.jpg', obama.read_bytes()[:3000])}),
        'no photo': ('post', '/v1/recognize', dict(files={'other': ('a.jpg', obama.read_bytes())})),
        'bad base64': ('post', '/v1/recognize', dict(json={'photo': 'not base64!'})),
        'bad name': ('post', '/v1/people/%01bad/faces', dict(files={'photos': ('a.jpg', obama.read_bytes())})),
        'forget unknown': ('delete', '/v1/people/nobody', {}),
        'no such endpoint': ('get', '/v1/nothing', {}),
        'wrong method': ('put', '/v1/people', {}),
        'rename onto taken': ('patch', '/v1/people/biden', dict(json={'name': 'obama'})),
        'rename without name': ('patch', '/v1/people/biden', dict(json={})),
        'photo of another person': enrol({'photos': ('obama.jpg', obama.read_bytes())}),
        'body over 20 MB': ('post', '/v1/recognize', dict(content=b'x' * (20 * 2**20 + 1), headers={'content-type': 'application/json'})),
        'chunked body over 20 MB': ('post', '/v1/recognize', dict(content=(b'x' * 2**20 for _ in range(21)), headers={'content-type': 'application/json'})),
        'too many pixels': enrol({'photos': ('huge.png', huge.getvalue())}),
        'text file': enrol({'photos': ('notes.jpg', b'this is a text file renamed .jpg')}),
        'text file, odd name': enrol({'photos': ('../x/notes\n\x1b[31m.jpg', b'this is a text file')}),
        'form as text': ('post', '/v1/recognize', dict(content=b'photo', headers={'content-type': 'text/plain'})),
        'no face': enrol({'photos': (scene.name, scene.read_bytes())}),
        'two faces': enrol({'photos': ('two_people.jpg', (samples / 'misc/two_people.jpg').read_bytes())}),
        'one bad among good': enrol([('photos', ('obama3.jpg', (samples / 'misc/obama3.jpg').read_bytes())),
                                     ('photos', ('two_people.jpg', (samples / 'misc/two_people.jpg').read_bytes()))]),
        'face too small': enrol({'photos': ('tiny.jpg', tiny)}),
        'poor quality': enrol({'photos': ('smeared.jpg', smeared)}),
        'verify two faces': ('post', '/v1/verify', dict(files={'photo_a': ('obama.jpg', obama.read_bytes()),
                                                              'photo_b': ('two.jpg', (samples / 'misc/two_people.jpg').read_bytes())})),
    }[case]


ERRORS = {'corrupt': (400, 'bad_image', 'corrupt.jpg: corrupt or truncated'), 'no photo': (400, 'bad_request', "'photo'"),
          'bad base64': (400, 'bad_request', 'not valid base64'), 'bad name': (400, 'bad_name', 'control characters'),
          'forget unknown': (404, 'unknown_person', "no person named 'nobody'"), 'no such endpoint': (404, 'not_found', '/v1/nothing'),
          'wrong method': (405, 'method_not_allowed', ''), 'rename onto taken': (409, 'name_taken', 'that name is taken'),
          'rename without name': (400, 'bad_request', 'name'),
          'photo of another person': (409, 'looks_like_another', "this face looks like 'obama'"),
          'body over 20 MB': (413, 'too_large', '20 MB'), 'chunked body over 20 MB': (413, 'too_large', '20 MB'),
          'too many pixels': (413, 'too_many_pixels', 'huge.png: image is 12000x12000'),
          'text file': (415, 'not_an_image', 'notes.jpg: not an image'),
          'text file, odd name': (415, 'not_an_image', 'm.jpg: not an image'), 'form as text': (415, 'unsupported_media_type', 'multipart'),
          'no face': (422, 'no_face', 'no face found'), 'two faces': (422, 'several_faces', 'two_people.jpg: 2 faces found'),
          'one bad among good': (422, 'several_faces', 'two_people.jpg: 2 faces found'),
          'face too small': (422, 'face_too_small', 'tiny.jpg: the face is'),
          'poor quality': (422, 'poor_quality', 'smeared.jpg: the face is too blurred'),
          'verify two faces': (422, 'several_faces', 'two.jpg: 2 faces found')}


@pytest.mark.parametrize('case', ERRORS)
def test_error_codes(case, client, enrolled, samples, data):
    method, url, kw = _bad(case, samples, data)
    before = snapshot(enrolled[0])
    r = getattr(client, 'request')(method.upper(), url, **kw)
    status, code, words = ERRORS[case]
    err = r.json()['error']
    assert (r.status_code, err['code']) == (status, code), err
    assert words in err['message'] and not {'\n', '\x1b'} & set(err['message']) and 'Traceback' not in r.text
    assert not err['message'].startswith('../')   # an upload's name is its last part, printable characters only
    assert snapshot(enrolled[0]) == before


def test_rate_limit(models, enrolled):
    with client_for(models, enrolled[0], rate_limit=2) as c:
        codes = [c.get('/v1/people').status_code for _ in range(3)]
        r = c.get('/v1/people')
    assert codes == [200, 200, 429]
    assert r.json()['error']['code'] == 'rate_limited' and int(r.headers['retry-after']) >= 1


def test_abandoned_enrolment_writes_nothing(models, samples, tmp_path):
    "A request over the timeout is answered 504, and its enrolment stops before writing."
    db = tmp_path / 'timeout.db'
    photos = [('photos', (f.name, f.read_bytes())) for f in sorted((samples / 'people/biden').iterdir())]
    with client_for(models, db, timeout_s=0.05) as c:
        r = c.post('/v1/people/biden/faces', files=photos)
        c.app.state.pool.shutdown(wait=True)   # let the abandoned work run to its end
    assert (r.status_code, r.json()['error']['code']) == (504, 'timeout')
    assert Gallery(db).people() == []


def test_cors_is_off_unless_configured(models, enrolled):
    origin = {'Origin': 'https://door.example'}
    with client_for(models, enrolled[0]) as c:
        assert 'access-control-allow-origin' not in c.get('/v1/health', headers=origin).headers
    with client_for(models, enrolled[0], cors_origins=('https://door.example',)) as c:
        assert c.get('/v1/health', headers=origin).headers['access-control-allow-origin'] == 'https://door.example'


def test_keys(models, enrolled, samples, tmp_path):
    db = tmp_path / 'keys.db'; shutil.copy(enrolled[0], db)
    admin, kiosk = add_key(db, 'admin'), add_key(db, 'kiosk', read_only=True)
    photo = upload(samples / 'misc/obama3.jpg', 'photos')
    with client_for(models, db) as c:
        refused = {'no key': c.post('/v1/recognize', files=upload(samples / 'queries/obama1.jpg')),
                   'no key, health': c.get('/v1/health'),
                   'wrong key': c.get('/v1/people', headers={'X-API-Key': admin[:-1] + ('A' if admin[-1] != 'A' else 'B')}),
                   'read-only enrols': c.post('/v1/people/obama/faces', files=photo, headers={'X-API-Key': kiosk}),
                   'read-only renames': c.patch('/v1/people/obama', json={'name': 'Barack'}, headers={'X-API-Key': kiosk}),
                   'read-only forgets': c.delete('/v1/people/obama', headers={'Authorization': f'Bearer {kiosk}'})}
        assert {k: (r.status_code, r.json()['error']['code']) for k, r in refused.items()} == {
            'no key': (401, 'missing_key'), 'no key, health': (401, 'missing_key'), 'wrong key': (401, 'invalid_key'),
            'read-only enrols': (403, 'read_only_key'), 'read-only renames': (403, 'read_only_key'),
            'read-only forgets': (403, 'read_only_key')}
        assert c.get('/v1/people', headers={'Authorization': f'Bearer {kiosk}'}).status_code == 200
        r = c.post('/v1/people/obama/faces', files=photo, headers={'X-API-Key': admin})
        assert (r.status_code, r.json()['added'], r.json()['faces']) == (200, 1, 3)
        assert c.get('/docs').status_code == 401 and c.get('/docs', headers={'X-API-Key': kiosk}).status_code == 200


def test_no_keys_beyond_localhost(models, enrolled):
    "A service that listens beyond localhost refuses every request while its gallery has no key."
    with client_for(models, enrolled[0], require_keys=True) as c:
        r = c.get('/v1/people')
    assert (r.status_code, r.json()['error']['code']) == (401, 'no_keys')


# A real uvicorn on 127.0.0.1 with two worker processes (so enrolments race across processes), started through
# `facenb serve` and stopped by its PID.
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0)); return s.getsockname()[1]


@pytest.fixture(scope='module')
def server(enrolled, tmp_path_factory):
    db = tmp_path_factory.mktemp('uvicorn') / 'served.db'; shutil.copy(enrolled[0], db)
    port, exe = _free_port(), Path(sys.executable).with_name('facenb')
    log = open(db.with_suffix('.log'), 'w')
    proc = subprocess.Popen([str(exe), 'serve', '--host', '127.0.0.1', '--port', str(port), '--db', str(db), '--workers', '2'],
                            stdout=log, stderr=subprocess.STDOUT, env={**os.environ, 'OMP_NUM_THREADS': '1'})
    url = f'http://127.0.0.1:{port}'
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, db.with_suffix('.log').read_text()
            try:
                if httpx.get(url + '/v1/health', timeout=2).status_code == 200: break
            except httpx.TransportError: pass
            assert time.monotonic() < deadline, 'the server did not answer within 120 s'
            time.sleep(0.5)
        yield url, db
    finally:
        proc.terminate()
        try: proc.wait(30)
        except subprocess.TimeoutExpired: proc.kill(); proc.wait()
        log.close()


def test_uvicorn_recognizes(server, samples):
    url, _ = server
    q = samples / 'queries/obama_and_biden.jpg'
    r = httpx.post(url + '/v1/recognize', files=upload(q), timeout=60)
    assert r.status_code == 200 and sorted(f['name'] for f in r.json()['faces'] if f['name']) == ['biden', 'obama']
    r = httpx.post(url + '/v1/recognize', files=upload(samples / 'misc/lin-manuel-miranda.png'), timeout=60)
    assert [f['name'] for f in r.json()['faces']] == [None]
    assert httpx.get(url + '/v1/people/nobody', timeout=10).json()['error']['code'] == 'method_not_allowed'


def test_uvicorn_concurrent_enrolments(server, samples):
    """Four clients enrol two photos each of one new person at the same time (all creating the person at once, in
    two worker processes): all eight faces are stored."""
    url, db = server
    base = np.asarray(Image.open(samples / 'misc/lin-manuel-miranda.png').convert('RGB'))   # nobody enrolled looks like him
    def enrol(i):
        photo = base.copy(); photo[:8, :8] = 10 + 30 * i   # a different photo (hash) each time
        with httpx.Client(base_url=url, timeout=120) as c:
            return c.post('/v1/people/Lin-Manuel Miranda/faces', files={'photos': (f'lmm{i}.jpg', jpeg(photo))}).status_code
    with ThreadPoolExecutor(4) as pool: codes = list(pool.map(enrol, range(8)))
    assert codes == [200] * 8
    assert {p.name: p.n_faces for p in Gallery(db).people()}['Lin-Manuel Miranda'] == 8


def test_uvicorn_key_added_while_running(server, samples):
    "A key added with the service running is required from the next request on."
    url, db = server
    key = add_key(db, 'late')
    assert httpx.get(url + '/v1/people', timeout=30).json()['error']['code'] == 'missing_key'
    r = httpx.post(url + '/v1/recognize', files=upload(samples / 'queries/obama1.jpg'), headers={'X-API-Key': key}, timeout=60)
    assert [f['name'] for f in r.json()['faces']] == ['obama']
