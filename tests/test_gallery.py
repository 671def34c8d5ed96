"Galleries made with another model: stored face crops, `facenb reembed` (round trip, all or nothing, schema 1 galleries) and `facenb calibrate`, on the shared photos."
import gc, json, shutil, sqlite3
from contextlib import closing
from pathlib import Path
import numpy as np
import pytest

from conftest import facenb, json_lines, snapshot
from facenb.recognize import Recognizer, EnrollmentError, embedder_for, default_model, crop_embedder, DEFAULT_THRESHOLD
from facenb.store import Gallery, GalleryError, MissingCrops, SCHEMA_VERSION

EXPECTED = {'alex_lacamoire1.jpg': ['alex_lacamoire'], 'johnsnow_test1.jpg': ['kit_harington'],
            'kit_with_rose.jpg': ['kit_harington', 'rose_leslie'], 'obama1.jpg': ['obama'],
            'obama_and_biden.jpg': ['biden', 'obama']}
PEOPLE = ['alex_lacamoire', 'biden', 'kit_harington', 'obama', 'rose_leslie']


def old_model() -> str:
    "A model other than the library default: FaceNet once the default is MobileFaceNet, else FaceNet with a wider margin."
    facenet = embedder_for('facenet').model_name
    return 'facenet' if facenet != default_model() else 'facenet-casia-webface/margin-m44'


def recognise_all(db, samples) -> tuple[dict, dict, str]:
    "Names found in every sample query and in the stranger's photo, through the command line; and its stderr."
    photos = [*sorted((samples / 'queries').iterdir()), samples / 'misc/lin-manuel-miranda.png']
    r = facenb('recognize', *photos, '--db', db, '--json', check=0)
    got = {Path(l['photo']).name: l['faces'] for l in json_lines(r.stdout)}
    return {k: sorted(f['name'] for f in v if f['name']) for k, v in got.items()}, got, r.stderr


def file_bytes(db: Path) -> dict:
    "The gallery file and any WAL/SHM beside it, byte for byte."
    return {p.name: p.read_bytes() for p in sorted(db.parent.glob(db.name + '*'))}


@pytest.fixture(scope='module')
def old_db(samples, tmp_path_factory) -> Path:
    "The sample people enrolled with a model other than the default (through the library, one model load)."
    db = tmp_path_factory.mktemp('old') / 'old.db'
    rec = Recognizer(db, embedder=embedder_for(old_model()))
    for person in sorted((samples / 'people').iterdir()): rec.enroll(person.name, sorted(person.iterdir()))
    return db


def test_enrolment_keeps_a_crop_that_embeds_like_the_photo(samples, tmp_path):
    rec = Recognizer(tmp_path / 'g.db')
    photo = samples / 'people/obama/obama.jpg'
    rec.enroll('obama', [photo])
    (crop,) = rec.gallery.crops('obama')
    image, face = rec.check_photo(photo)
    assert max(crop.image().shape[:2]) <= 256 and round(max(crop.face.width, crop.face.height)) == 128 and len(crop.face.landmarks) == 5
    emb = rec.embedder
    assert float(emb.embed(image, [face])[0] @ crop_embedder(emb)([crop])[0]) > 0.98
    with closing(sqlite3.connect(rec.gallery.path)) as c:
        assert c.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0] == str(SCHEMA_VERSION) == '2'


def test_reembed_round_trip(old_db, samples, tmp_path):
    db = tmp_path / 'g.db'; shutil.copy(old_db, db)
    before, faces_before, err = recognise_all(db, samples)
    assert {k: v for k, v in before.items() if k in EXPECTED} == EXPECTED and before['lin-manuel-miranda.png'] == []
    notes = [l for l in err.splitlines() if 'note:' in l]
    assert len(notes) == 1 and 'facenb reembed --db' in notes[0]   # the old gallery keeps working, and says how to migrate

    old = Gallery(db).model
    r = facenb('reembed', '--db', db, check=0)
    assert f'9 faces of 5 people re-embedded, {old} -> {default_model()}' in r.stdout
    assert 'reembed [' in r.stderr
    assert Gallery(db).model == default_model()

    after, faces_after, err = recognise_all(db, samples)
    assert after == before                               # every query, both faces of the two-person photos, the stranger unknown
    assert len(faces_after['obama_and_biden.jpg']) == 3 and 'note:' not in err
    assert facenb('reembed', '--db', db, check=0).stdout.endswith('nothing to do\n')


def test_failed_reembed_leaves_the_file_byte_identical(old_db, tmp_path):
    db = tmp_path / 'g.db'; shutil.copy(old_db, db)
    g = Gallery(db)
    # a model that fails halfway through the faces
    embed, calls = crop_embedder(embedder_for(None)), []
    def failing(crops):
        calls.append(len(crops))
        if len(calls) == 3: raise RuntimeError('the model crashed')
        return embed(crops)
    before = file_bytes(db)
    with pytest.raises(RuntimeError, match='crashed'): g.reembed('new-model', failing, batch_size=2)
    assert calls == [2, 2, 2] and file_bytes(db) == before

    # a failure inside the write transaction, after some faces were updated: a trigger refuses the last update
    with closing(sqlite3.connect(db)) as c:
        c.execute("CREATE TRIGGER injected BEFORE UPDATE OF embedding ON faces WHEN OLD.id = (SELECT max(id) FROM faces) "
                  "BEGIN SELECT RAISE(ABORT, 'injected failure'); END"); c.commit()
    rows = snapshot(db)
    gc.collect()   # snapshot's connection closed, so no WAL file is left open beside the gallery
    before = file_bytes(db)
    assert list(before) == ['g.db']
    r = facenb('reembed', '--db', db, check=1)
    last = r.stderr.rstrip('\n').split('\n')[-1]   # after the progress bar, one line
    assert last.startswith('facenb: error: ') and last.endswith('injected failure')
    assert file_bytes(db) == before
    assert snapshot(db) == rows


def v1_gallery(src: Path, dst: Path) -> Path:
    "`src` as schema 1 wrote it: no crop columns, only 96-pixel thumbnails."
    shutil.copy(src, dst)
    with closing(sqlite3.connect(dst)) as c:
        c.execute('ALTER TABLE faces DROP COLUMN crop'); c.execute('ALTER TABLE faces DROP COLUMN crop_face')
        c.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'"); c.commit()
    return dst


def test_schema_1_gallery_names_the_people_who_need_new_photos(old_db, samples, tmp_path):
    db = v1_gallery(old_db, tmp_path / 'v1.db')
    rows = snapshot(db)
    r = facenb('reembed', '--db', db, check=1)
    assert r.stderr.count('\n') == 1 and '5 of 5 people have no face crop to re-embed from' in r.stderr
    assert ', '.join(PEOPLE) + '.' in r.stderr and 'nothing was changed' in r.stderr
    assert snapshot(db) == rows and Gallery(db).schema == 2     # upgraded on open, no row touched
    # it keeps working with its model; one new photo of obama (kept with a crop) takes him off the list
    rec = Recognizer(db)
    assert rec.model == Gallery(db).model
    assert rec.enroll('obama', [samples / 'misc/obama3.jpg']) == 1
    with pytest.raises(MissingCrops) as e: Recognizer(db).reembed()
    assert e.value.people == [p for p in PEOPLE if p != 'obama'] and snapshot(db)[1][:9] == rows[1]
    # forgetting the others lets obama through, re-embedded from his new photo; his two old faces are removed
    for p in PEOPLE:
        if p != 'obama': rec.forget(p)
    done = rec.reembed()
    assert (done.faces, done.dropped, rec.model) == (1, (('obama', 2),), default_model())
    assert [m.name for m in rec.recognize(samples / 'queries/obama1.jpg')] == ['obama']


def test_calibrate_on_the_sample_gallery(sample_db, tmp_path):
    db = tmp_path / 'g.db'; shutil.copy(sample_db, db)
    r = facenb('calibrate', '--db', db, check=1)      # 32 impostor pairs cannot speak for one in a thousand
    assert '32 impostor pairs' in r.stderr and 'needs at least 1,000' in r.stderr and '--far 0.05' in r.stderr
    c = json.loads(facenb('calibrate', '--db', db, '--far', '0.05', '--apply', '--json', check=0).stdout)
    assert (c['genuine_pairs'], c['impostor_pairs'], c['people'], c['faces']) == (4, 32, 5, 9)
    assert c['far'] == 1 / 32 and c['tar'] == 1.0 and c['rough'] and c['applied']
    g = Gallery(db)
    names, m = g.matrix(g.model)
    sims = m @ m.T
    impostor = sorted(sims[i, j] for i in range(9) for j in range(i + 1, 9) if names[i] != names[j])
    assert impostor[-2] < c['threshold'] <= impostor[-1]   # one impostor pair accepted, the next one not
    assert f'threshold {c["threshold"]:.4f} calibrated on this gallery' in facenb('people', '--db', db, check=0).stdout
    assert Recognizer(db).threshold == c['threshold'] and Recognizer(db, threshold=0.6).threshold == 0.6
    assert Recognizer(sample_db).threshold == DEFAULT_THRESHOLD


def test_calibrate_on_a_celeba_gallery(data, tmp_path):
    from facenb.data import find_celeba
    celeba = find_celeba(data / 'celeba')
    by_person = {}
    for photo, ident in sorted(celeba.identities.items()): by_person.setdefault(ident, []).append(celeba.images / photo)
    rec = Recognizer(tmp_path / 'celeba.db')
    for ident in sorted(by_person)[10:20]:
        for photo in by_person[ident][:6]:
            try: rec.enroll(f'celeb_{ident}', [photo])
            except EnrollmentError: pass
    c = json.loads(facenb('calibrate', '--db', rec.gallery.path, '--far', '0.01', '--json', check=0).stdout)
    assert c['people'] == 10 and c['genuine_pairs'] >= 50 and c['impostor_pairs'] >= 1000 and not c['rough']
    assert c['far'] <= 0.01 and c['tar'] > 0.6 and 0.2 < c['threshold'] < 0.7 and not c['applied']
    assert rec.gallery.calibration() is None
    r = facenb('calibrate', '--db', rec.gallery.path, '--far', '1e-5', check=1)
    assert 'cannot measure a false-accept rate of 1e-05' in r.stderr
