"""Issue #10, one test (or a few) per item: bad input is one clear line, names people can tell apart, no silent
galleries, forget is final. The store tests use precomputed embeddings through the Gallery API; only the tests of
the face check at enrolment load the models."""
import io, json, os, random, sqlite3, subprocess, sys, threading, time, warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage import data as skdata

from conftest import REPO, facenb, json_lines
from facenb.core import ImageError, load_image
from facenb.store import Gallery, GalleryError, GalleryWarning, UnknownPerson

FACENB = Path(sys.executable).with_name('facenb')


def unit(n, d=512, seed=0):
    v = np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def small_gallery(path: Path, names=('Ann', 'Bob')) -> Gallery:
    g = Gallery(path)
    for i, n in enumerate(names): g.enroll(n, unit(2, seed=i), 'test-model', [f'{n}-1', f'{n}-2'])
    return g


def one_line_error(r):
    "A refusal: exit 1, exactly one line on stderr, no traceback."
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    assert len(r.stderr.strip().splitlines()) == 1 and 'Traceback' not in r.stderr, r.stderr
    return r.stderr.strip()


def save(img: np.ndarray, path: Path) -> Path:
    Image.fromarray(img).save(path)
    return path


# 1. Small or thin images are searched (and have no face) instead of crashing MTCNN or its downscale.
SHAPES = [(1, 1), (11, 11), (19, 400), (2000, 20), (100, 7000), (5, 50_000), (50_000, 5)]

def test_tiny_and_thin_images_are_searched():
    from facenb.detect import detect
    for h, w in SHAPES: assert detect(np.full((h, w, 3), 127, np.uint8)) == [], (h, w)


def test_tiny_image_on_the_command_line(tmp_path):
    tiny = save(np.full((1, 1, 3), 127, np.uint8), tmp_path / 'tiny.png')
    thin = save(np.full((5, 50_000, 3), 127, np.uint8), tmp_path / 'thin.png')
    r = facenb('detect', tiny, thin, '--json', check=0)
    assert [l['faces'] for l in json_lines(r.stdout)] == [[], []]


# 2. One bad photo in a batch: its own "error" line, the others processed, exit code 1.
def test_batch_goes_on_past_a_bad_photo(tmp_path):
    good = save(skdata.astronaut(), tmp_path / 'good.jpg')
    text = tmp_path / 'notes.jpg'; text.write_text('not a photo')
    r = facenb('detect', good, text, tmp_path / 'missing.jpg', good, '--json')
    lines = json_lines(r.stdout)
    assert r.returncode == 1 and len(lines) == 4
    assert [len(l['faces']) if 'faces' in l else l['error'].split(': ')[-1][:12] for l in lines] == [1, 'not an image', 'no such file', 1]
    assert [l['photo'] for l in lines] == [str(good), str(text), str(tmp_path / 'missing.jpg'), str(good)]
    assert [l.split(': ')[-1] for l in r.stderr.splitlines() if l.startswith('facenb:')] == ['not an image PIL can read (UnidentifiedImageError)', 'no such file']


# 3. load_image is the one gate: every failure to read is an ImageError naming the input.
def _mutants(seed: int = 0, per_format: int = 60):
    "Seeded random mutations (byte changes, truncations) of small valid JPEG/PNG/WebP/AVIF/TIFF/GIF files."
    base = Image.fromarray(skdata.astronaut()).resize((64, 64))
    rng = random.Random(seed)
    for fmt in ('JPEG', 'PNG', 'WEBP', 'AVIF', 'TIFF', 'GIF'):
        buf = io.BytesIO(); (base.convert('P') if fmt == 'GIF' else base).save(buf, fmt); good = buf.getvalue()
        for i in range(per_format):
            b = bytearray(good)
            for _ in range(rng.randint(1, 8)): b[rng.randrange(len(b))] = rng.randrange(256)
            if rng.random() < 0.3: b = b[:rng.randrange(len(b))]
            yield fmt, i, bytes(b)


def test_fuzzed_images_raise_only_image_error():
    escaped, n = [], 0
    for fmt, i, b in _mutants():
        n += 1
        try: load_image(b)
        except ImageError as e: assert str(e).startswith(f'{len(b)} bytes: '), e
        except Exception as e: escaped.append((fmt, i, f'{type(e).__name__}: {e}'))
    assert n == 360 and escaped == []


def test_avif_decoder_error_is_an_image_error(tmp_path):
    buf = io.BytesIO(); Image.fromarray(skdata.astronaut()).save(buf, 'AVIF')
    bad = bytearray(buf.getvalue()); bad[81] = 0  # libavif: "Missing or empty image item" (a RuntimeError)
    path = tmp_path / 'bad.avif'; path.write_bytes(bytes(bad))
    with pytest.raises(ImageError, match=f'{path}: cannot decode'): load_image(path)


def test_unreadable_file_is_an_image_error(tmp_path, monkeypatch):
    import facenb.core
    path = save(skdata.astronaut(), tmp_path / 'locked.jpg')
    def denied(*a, **k): raise PermissionError(13, 'Permission denied')
    monkeypatch.setattr(facenb.core, 'open', denied, raising=False)  # what open() does for a file without read permission
    with pytest.raises(ImageError, match='locked.jpg: cannot read the file \\(Permission denied\\)'): load_image(path)


# 4. Names people can tell apart.
BOBS = {'case': 'bob', 'upper': 'BOB', 'spaces': '  Bob  ', 'zero-width space': 'Bob\u200b',
        'right-to-left override': 'Bob\u202e', 'Cyrillic o': 'B\u043eb'}

def test_names_people_cannot_tell_apart(tmp_path):
    g = small_gallery(tmp_path / 'g.db', names=('Bob',))
    outcome = {}
    for why, name in BOBS.items():
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('always')
            try: g.enroll(name, unit(1, seed=9), 'test-model', [f'new-{why}'])
            except GalleryError as e: outcome[why] = 'refused: ' + str(e).split(' (U+')[0].split(', so')[0][-30:]
            else: outcome[why] = 'warned' if any(w.category is GalleryWarning for w in caught) else 'accepted'
    assert outcome['case'].startswith('refused') and outcome['upper'].startswith('refused')
    assert outcome['spaces'] == 'accepted'  # trimmed: the same person, Bob
    assert outcome['zero-width space'].startswith('refused') and outcome['right-to-left override'].startswith('refused')
    assert outcome['Cyrillic o'] == 'warned'
    assert sorted(p.name for p in g.people()) == ['Bob', 'B\u043eb']
    assert g.faces('BOB') == g.faces('Bob')  # a lookup that differs only in case finds the person


@pytest.mark.parametrize('name', ['\u200b', '\u202e', '\u2028', 'Ann\u2028Lee', '\u3164', '\u200d\u200c', 'Ann\u00adLee'])
def test_invisible_names_are_refused(name, tmp_path):
    g = Gallery(tmp_path / 'g.db')
    with pytest.raises(GalleryError): g.enroll(name, unit(1), 'test-model', ['x'])
    assert len(g) == 0


def test_names_are_normalised(tmp_path):
    g = Gallery(tmp_path / 'g.db')
    g.enroll('  Ann \u3000  Lee ', unit(1), 'test-model', ['x'])
    g.enroll('Jose\u0301', unit(1, seed=1), 'test-model', ['y'])
    assert [p.name for p in g.people()] == ['Ann Lee', 'José']


def test_rename_onto_a_case_variant(tmp_path):
    g = small_gallery(tmp_path / 'g.db')
    with pytest.raises(GalleryError, match='taken'): g.rename('Ann', 'BOB')
    g.rename('Ann', 'ANN')  # changing the case of one's own name is fine
    assert [p.name for p in g.people()] == ['ANN', 'Bob']


def test_people_prints_names_apart(tmp_path):
    "Whatever spellings of Bob the gallery accepts, `facenb people` prints them so that a reader can tell them apart."
    db = tmp_path / 'g.db'
    small_gallery(db, names=('Bob',))
    for i, name in enumerate(BOBS.values()):
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            try: Gallery(db).enroll(name, unit(1, seed=10 + i), 'test-model', [f'c{i}'])
            except GalleryError: pass
    lines = facenb('people', '--db', db, check=0).stdout.splitlines()[1:]
    shown = [''.join(c for c in l if c.isprintable() and c not in '\u200b\u202e').split()[0] for l in lines]
    assert len(shown) == len(set(shown)) == 2, lines  # Bob, and Bob with a Cyrillic o (which warned)


# 5. The same face under another name (one changed pixel defeats the photo hash).
@pytest.fixture(scope='module')
def astronaut_db(tmp_path_factory):
    d = tmp_path_factory.mktemp('face')
    save(skdata.astronaut(), d / 'eileen.jpg')
    img = skdata.astronaut().copy(); img[0, 0] = 255 - img[0, 0]
    save(img, d / 'one_pixel.png')
    facenb('enroll', 'Eileen Collins', d / 'eileen.jpg', '--db', d / 'g.db', check=0)
    return d


def test_same_face_under_another_name_is_refused(astronaut_db, tmp_path):
    import shutil
    db = tmp_path / 'g.db'; shutil.copy(astronaut_db / 'g.db', db)
    msg = one_line_error(facenb('enroll', 'Someone Else', astronaut_db / 'one_pixel.png', '--db', db))
    assert "this face looks like 'Eileen Collins' (similarity" in msg
    assert [p.name for p in Gallery(db).people()] == ['Eileen Collins']
    facenb('enroll', 'Someone Else', astronaut_db / 'one_pixel.png', '--db', db, '--force', check=0)
    assert [p.name for p in Gallery(db).people()] == ['Eileen Collins', 'Someone Else']


# 6. Names in bytes that are not UTF-8 from the shell.
@pytest.mark.parametrize('cmd', ['enroll', 'forget', 'rename-old', 'rename-new'])
def test_non_utf8_name_is_one_line(cmd, tmp_path):
    db = tmp_path / 'g.db'
    small_gallery(db)
    photo = save(skdata.astronaut(), tmp_path / 'p.jpg')
    bad = b'Jos\xe9'
    args = {'enroll': [b'enroll', bad, bytes(photo)], 'forget': [b'forget', bad], 'rename-old': [b'rename', bad, b'X'],
            'rename-new': [b'rename', b'Ann', bad]}[cmd]
    r = subprocess.run([bytes(FACENB), *args, b'--db', bytes(db)], capture_output=True, env={**os.environ, 'LC_ALL': 'C.UTF-8'})
    r = subprocess.CompletedProcess(r.args, r.returncode, r.stdout.decode(), r.stderr.decode())
    assert "'Jos\\\\xe9' is not UTF-8 text" in one_line_error(r)
    assert sorted(p.name for p in Gallery(db).people()) == ['Ann', 'Bob']


# 7. Only `enroll` creates a gallery; a failed command leaves no file.
@pytest.mark.parametrize('cmd', [('people',), ('forget', 'Ann'), ('rename', 'Ann', 'Anne'), ('purge',), ('recognize', 'PHOTO'),
                                 ('keys', 'list'), ('find', 'Ann'), ('sightings', 'PHOTO'), ('cluster',), ('name-cluster', '1', 'Ann')])
def test_missing_gallery_is_refused(cmd, tmp_path):
    typo = tmp_path / 'typo' / 'dir' / 'gallery.db'
    photo = save(skdata.astronaut(), tmp_path / 'p.jpg')
    msg = one_line_error(facenb(*[photo if a == 'PHOTO' else a for a in cmd], '--db', typo))
    assert str(typo) in msg and 'no gallery' in msg
    assert list(tmp_path.iterdir()) == [photo]


def test_failed_enrol_into_new_path_leaves_nothing(tmp_path):
    text = tmp_path / 'notes.jpg'; text.write_text('not a photo')
    coffee = save(skdata.coffee(), tmp_path / 'coffee.jpg')
    for photo in (text, coffee):  # refused before the gallery opens; refused after (no face found)
        one_line_error(facenb('enroll', 'X', photo, '--db', tmp_path / 'new' / 'sub' / 'g.db'))
        assert sorted(p.name for p in tmp_path.iterdir()) == ['coffee.jpg', 'notes.jpg']


def test_folder_that_cannot_be_made_is_one_line(tmp_path):
    (tmp_path / 'a_file').write_text('x')
    photo = save(skdata.astronaut(), tmp_path / 'p.jpg')
    assert 'cannot create the folder' in one_line_error(facenb('enroll', 'X', photo, '--db', tmp_path / 'a_file' / 'g.db'))


# 8. A read-only gallery can be read.
def _as_other_user(cmd: list[str]) -> list[str]:
    "`cmd` run as an unprivileged user when we are root (root may write anything)."
    return ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', *cmd] if os.geteuid() == 0 else cmd


def test_read_only_gallery_is_readable():
    import shutil, tempfile
    top = Path(tempfile.mkdtemp(prefix='facenb-ro-')); top.chmod(0o755)  # reachable by the unprivileged user
    folder = top / 'ro'; folder.mkdir()
    small_gallery(folder / 'g.db')
    folder.chmod(0o555); (folder / 'g.db').chmod(0o444)
    env = {**os.environ, 'PYTHONPATH': str(REPO), 'HOME': str(top)}
    try:
        r = subprocess.run(_as_other_user([str(FACENB), 'people', '--db', str(folder / 'g.db'), '--json']),
                           capture_output=True, text=True, env=env)
        assert r.returncode == 0, r.stderr
        assert [p['name'] for p in json.loads(r.stdout)] == ['Ann', 'Bob']
        code = ("from facenb.store import Gallery; g = Gallery(r'%s', create=False); names, m = g.matrix('test-model');"
                "print(len(names), m.shape)" % (folder / 'g.db'))
        r = subprocess.run(_as_other_user([sys.executable, '-c', code]), capture_output=True, text=True, env=env)
        assert (r.returncode, r.stdout.strip()) == (0, '4 (4, 512)'), r.stderr
        r = subprocess.run(_as_other_user([str(FACENB), 'forget', 'Ann', '--db', str(folder / 'g.db')]),
                           capture_output=True, text=True, env=env)
        assert 'read-only' in one_line_error(r)
        assert list(folder.iterdir()) == [folder / 'g.db']
    finally:
        folder.chmod(0o755)
        shutil.rmtree(top)


# 9. A schema version that is not a number.
@pytest.mark.parametrize('version', ['2.0', 'two', ''])
def test_non_numeric_schema_version(version, tmp_path):
    db = tmp_path / 'g.db'
    small_gallery(db)
    with sqlite3.connect(db) as c: c.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (version,))
    assert f'schema {version!r} is not one this facenb reads' in one_line_error(facenb('people', '--db', db))


# 11. Forget is final even while another process reads the gallery.
def _in_files(db: Path, blob: bytes) -> list[str]:
    return [p.name for p in db.parent.glob(db.name + '*') if p.is_file() and blob in p.read_bytes()]


def test_forget_waits_for_a_reader_and_leaves_no_bytes(tmp_path):
    db = tmp_path / 'g.db'
    g = small_gallery(db)
    ann = unit(2, seed=0)[0].astype('<f4').tobytes()
    reader = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    reader.execute('BEGIN'); reader.execute('SELECT count(*) FROM people').fetchone()  # a snapshot from before
    threading.Timer(2.0, lambda: (reader.execute('COMMIT'), reader.close())).start()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        assert g.forget('Ann') == 2
    assert caught == [] and _in_files(db, ann) == [] and _in_files(db, b'Ann-1') == []


def test_forget_under_a_long_reader_says_how_to_finish(tmp_path):
    db = tmp_path / 'g.db'
    small_gallery(db)
    reader = sqlite3.connect(db, isolation_level=None)
    reader.execute('BEGIN'); reader.execute('SELECT count(*) FROM people').fetchone()
    old = os.environ.get('FACENB_FORGET_WAIT_S')
    r = subprocess.run([sys.executable, '-c', 'from facenb.cli import main; import sys;'
                        f'import facenb.store as s; s.Gallery.forget.__defaults__ = (0.5,); sys.exit(main(["forget", "Ann", "--db", r"{db}"]))'],
                       capture_output=True, text=True, env={**os.environ, 'PYTHONPATH': str(REPO)})
    assert r.returncode == 0 and f'facenb purge --db {db}' in r.stderr, r.stderr
    assert _in_files(db, b'Ann-1')  # the reader's snapshot keeps the old pages...
    reader.execute('COMMIT'); reader.close()
    facenb('purge', '--db', db, check=0)  # ...until purge, once it has gone
    assert _in_files(db, b'Ann-1') == []


# 12. The app shows user text as plain text (the browser test checks the rendered page).
def test_app_escapes_every_markdown_character():
    import importlib.util, string
    spec = importlib.util.spec_from_file_location('facenb_app', REPO / 'app.py')
    app = importlib.util.module_from_spec(spec); spec.loader.exec_module(app)
    name = 'Eve https://evil.example/x [a](http://b) <b>x</b> :red[y] $x$ www.evil.example a@b.example'
    out = app.md_escape(name)
    unescaped, i = [], 0
    while i < len(out):
        if out[i] == '\\': i += 2; continue
        if out[i] in string.punctuation: unescaped.append(out[i])
        i += 1
    assert unescaped == []
    assert '://' not in out and 'www.' not in out and '](' not in out and '<b>' not in out
    assert app.md_escape('line one\nline two') == 'line one line two'


def test_streamlit_config():
    import tomllib
    conf = tomllib.loads((REPO / '.streamlit/config.toml').read_text())
    assert conf['server']['address'] == '127.0.0.1' and conf['server']['maxUploadSize'] == 50
    assert conf['browser']['gatherUsageStats'] is False


# 13. Commands that need no model import none, and bad input is refused before any model loads.
@pytest.mark.parametrize('argv', [['--help'], ['people', '--db', 'DB'], ['rename', 'Ann', 'Anne', '--db', 'DB'],
                                  ['forget', 'Bob', '--db', 'DB'], ['enroll', 'X', 'TEXT', '--db', 'DB'],
                                  ['recognize', 'TEXT', '--db', 'DB'], ['detect', 'TEXT']])
def test_no_models_loaded(argv, tmp_path):
    db = tmp_path / 'g.db'; small_gallery(db)
    text = tmp_path / 'notes.jpg'; text.write_text('not a photo')
    argv = [{'DB': str(db), 'TEXT': str(text)}.get(a, a) for a in argv]
    code = ('import sys\nfrom facenb.cli import main\ntry: main(%r)\nexcept SystemExit: pass\n'
            'heavy = sorted(m for m in ("torch", "facenet_pytorch", "cv2", "facenb.embed", "facenb.eval", "facenb.recognize") if m in sys.modules)\n'
            'print("HEAVY", heavy)' % argv)
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, env={**os.environ, 'PYTHONPATH': str(REPO)})
    assert r.stdout.strip().splitlines()[-1] == 'HEAVY []', (r.stdout[-500:], r.stderr[-500:])
