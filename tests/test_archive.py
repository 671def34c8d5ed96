"Photo archives through the command line on CelebA photos: index, resume, find, forget, and a run killed midway."
import json, os, shutil, signal, sqlite3, subprocess, sys, time
from pathlib import Path

import pytest

from conftest import facenb, json_lines
from facenb.archive import archive_threshold, sightings, find
from facenb.recognize import Recognizer
from facenb.data import find_celeba

N_PEOPLE = 20


@pytest.fixture(scope='session')
def celeba(data):
    c = find_celeba(data / 'celeba')
    by_person = {}
    for name, who in sorted(c.identities.items()): by_person.setdefault(who, []).append(c.images / name)
    return by_person


@pytest.fixture(scope='session')
def archive(celeba, tmp_path_factory):
    """Every CelebA photo (3,707 of 299 people) in one folder, indexed once with 2 workers; (folder, db, people):
    `people` are the first 20, whose photos are copies, the others' are links (an archive is mostly strangers)."""
    people = dict(list(celeba.items())[:N_PEOPLE])
    root = tmp_path_factory.mktemp('archive')
    folder, db = root / 'photos', root / 'archive.db'
    folder.mkdir()
    for who, ps in celeba.items():
        for p in ps:
            if who in people: shutil.copy(p, folder / p.name)
            else: os.symlink(p, folder / p.name)
    n = sum(map(len, celeba.values()))
    r = facenb('index', folder, '--db', db, '--workers', '2', '--engine', 'pool', check=0, timeout=1800)  # about 4 min on 2 free cores
    assert f'{n} photos: ' in r.stdout and '0 unreadable' in r.stdout, r.stdout
    return folder, db, people


def test_rerun_does_no_detection_work(archive, celeba):
    folder, db, people = archive
    out = facenb('index', folder, '--db', db, check=0).stdout
    n = sum(map(len, celeba.values()))
    assert f'{n} photos: 0 analysed' in out and f'{n} unchanged' in out and '0 faces found' in out


def _enrol_photo(db, folder, photos):
    "The photo a user would enrol from: the largest face among the photos where the archive found only one."
    best = None
    for p in photos:
        ss = sightings(db, folder / p.name)
        if len(ss) == 1 and ss[0].face.size >= 40 and (best is None or ss[0].face.size > best[1]): best = (p.name, ss[0].face.size)
    return best[0]


def test_find_precision_and_recall(archive, celeba, tmp_path):
    """20 people enrolled from one photo each: `find` returns their other photos among all 3,707 (CelebA identities
    are the truth: a photo's identity is its largest face's person, so a right face in the background of someone else's
    photo counts as wrong). The library calls the `facenb enroll` and `facenb find` commands make (one process instead
    of 40 model loads)."""
    folder, db0, people = archive
    db = tmp_path / 'enrolled.db'; shutil.copy(db0, db)
    truth = {p.name: who for who, ps in celeba.items() for p in ps}
    rec = Recognizer(db)
    enrolled = {}
    for who, ps in people.items():
        enrolled[who] = _enrol_photo(db, folder, ps)
        rec.enroll(f'person {who}', [folder / enrolled[who]])
    hits = returned = relevant = 0
    for who, ps in people.items():
        found = [s.to_dict() for s in find(db, f'person {who}')]
        assert found == sorted(found, key=lambda s: -s['similarity'])
        photos = {Path(s['photo']).name for s in found} - {enrolled[who]}
        hits += sum(truth[p] == who for p in photos)
        returned += len(photos)
        relevant += len(ps) - 1
    precision, recall = hits / returned, hits / relevant
    print(f'find on {N_PEOPLE} CelebA people among all photos: precision {precision:.3f} recall {recall:.3f} '
          f'({hits}/{returned}, {hits}/{relevant}) at {archive_threshold(db)}')
    assert precision >= 0.95 and recall >= 0.8, (precision, recall)


def test_archive_threshold_grows_with_the_gallery(archive, tmp_path):
    """One person enrolled: recognition's own threshold; 20: stricter (a stranger's face meets every one of them);
    `find --threshold` names at the threshold given, and the next plain `find` at the default again."""
    folder, db0, people = archive
    db = tmp_path / 'grow.db'; shutil.copy(db0, db)
    rec = Recognizer(db)
    seen = []
    for who, ps in people.items():
        rec.enroll(f'person {who}', [folder / _enrol_photo(db, folder, ps)])
        seen.append(archive_threshold(db))
    assert seen[0] == rec.threshold and seen == sorted(seen) and seen[-1] > seen[0] + 0.03, seen
    who = next(iter(people))
    loose = facenb('find', f'person {who}', '--db', db, '--threshold', str(rec.threshold), '--json', check=0).stdout
    strict = facenb('find', f'person {who}', '--db', db, '--json', check=0).stdout
    loose, strict = json.loads(loose), json.loads(strict)
    assert min(s['similarity'] for s in strict) >= seen[-1] and len(loose) >= len(strict)
    assert {s['id'] for s in strict} <= {s['id'] for s in loose}


def test_forget_unnames_every_sighting(archive, tmp_path):
    folder, db0, people = archive
    db = tmp_path / 'forget.db'; shutil.copy(db0, db)
    who, ps = next(iter(people.items()))
    photo = _enrol_photo(db, folder, ps)
    facenb('enroll', 'someone', folder / photo, '--db', db, check=0)
    (line,) = [json.loads(l) for l in facenb('sightings', folder / photo, '--db', db, '--json', check=0).stdout.splitlines()]
    assert [f['name'] for f in line['faces']] == ['someone']
    assert len(json.loads(facenb('find', 'someone', '--db', db, '--json', check=0).stdout)) >= 1
    facenb('forget', 'someone', '--db', db, check=0)
    with sqlite3.connect(db) as con:
        assert con.execute('SELECT count(*) FROM sightings WHERE person_id IS NOT NULL').fetchone()[0] == 0
        assert con.execute('SELECT count(*) FROM faces').fetchone()[0] == 0
    r = facenb('find', 'someone', '--db', db, check=1)
    assert 'no person named' in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_bad_photos_listed_and_skipped_and_pruned(celeba, tmp_path):
    folder = tmp_path / 'photos'; folder.mkdir()
    good = next(iter(celeba.values()))[:2]
    for p in good: shutil.copy(p, folder / p.name)
    (folder / 'broken.jpg').write_bytes(good[0].read_bytes()[:400])
    (folder / 'notes.png').write_text('not a photo')
    out = facenb('index', folder, '--db', tmp_path / 'a.db', check=0).stdout
    assert '4 photos: 4 analysed' in out and '2 unreadable' in out
    assert 'broken.jpg' in out and 'notes.png' in out
    assert '0 analysed' in facenb('index', folder, '--db', tmp_path / 'a.db', check=0).stdout
    (folder / good[0].name).unlink()
    out = facenb('index', folder, '--db', tmp_path / 'a.db', '--prune', check=0).stdout
    assert '3 photos: 0 analysed' in out and '1 pruned' in out
    with sqlite3.connect(tmp_path / 'a.db') as con:
        assert con.execute('SELECT count(*) FROM photos WHERE path LIKE ?', (f'%{good[0].name}',)).fetchone()[0] == 0
        assert con.execute('SELECT count(*) FROM sightings s LEFT JOIN photos p ON p.id = s.photo_id WHERE p.id IS NULL').fetchone()[0] == 0


def test_killed_midway_then_resumed(celeba, tmp_path):
    "Kill `facenb index` once some batches are committed; the rerun completes with every photo once and no duplicates."
    folder, db = tmp_path / 'photos', tmp_path / 'k.db'
    folder.mkdir()
    photos = [p for ps in list(celeba.values())[30:33] for p in ps][:30]
    for p in photos: shutil.copy(p, folder / p.name)
    exe = Path(sys.executable).with_name('facenb')
    proc = subprocess.Popen([str(exe), 'index', str(folder), '--db', str(db)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    committed, deadline = 0, time.time() + 400
    while time.time() < deadline and proc.poll() is None:
        time.sleep(0.5)
        try:
            with sqlite3.connect(db) as con: committed = con.execute('SELECT count(*) FROM photos').fetchone()[0]
        except sqlite3.Error: committed = 0
        if committed: break
    assert proc.poll() is None, 'the run finished before it could be killed'
    proc.send_signal(signal.SIGKILL); proc.wait()
    with sqlite3.connect(db) as con: committed = con.execute('SELECT count(*) FROM photos').fetchone()[0]
    assert 0 < committed < len(photos)
    out = facenb('index', folder, '--db', db, check=0).stdout
    assert f'{len(photos)} photos: {len(photos) - committed} analysed' in out and f'{committed} unchanged' in out
    with sqlite3.connect(db) as con:
        assert con.execute('SELECT count(*), count(DISTINCT path) FROM photos').fetchone() == (len(photos), len(photos))
        dup = con.execute('SELECT count(*) FROM (SELECT photo_id, box FROM sightings GROUP BY photo_id, box HAVING count(*) > 1)').fetchone()[0]
        assert dup == 0
        n_faces = con.execute('SELECT sum(n_faces) FROM photos').fetchone()[0]
        assert con.execute('SELECT count(*) FROM sightings').fetchone()[0] == n_faces


def test_app_people_in_my_photos(celeba, tmp_path, monkeypatch):
    "The app's People in my photos tab: index a folder, group the unnamed faces, name a group, see their photos."
    from streamlit.testing.v1 import AppTest
    folder, db = tmp_path / 'photos', tmp_path / 'app.db'
    folder.mkdir()
    for ps in list(celeba.values())[40:42]:
        for p in ps: shutil.copy(p, folder / p.name)
    monkeypatch.setenv('FACENB_DB', str(db))
    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / 'app.py'), default_timeout=600)
    at.run()
    assert not at.exception, at.exception
    at.text_input(key='archive_folder').input(str(folder)).run()
    at.button(key='index_btn').click().run()
    assert any(f'{len(list(folder.iterdir()))} analysed' in s.value for s in at.success), [s.value for s in at.success]
    at.button(key='cluster_btn').click().run()
    groups = [m.value for m in at.markdown if m.value.startswith('Group ')]
    assert groups and groups[0].startswith('Group 1:'), groups
    at.text_input(key='group_name_1').input('Anna').run()
    at.button(key='group_btn_1').click().run()
    assert not at.exception, at.exception
    assert any(s.value.startswith('Anna:') and 'faces enrolled from the group' in s.value for s in at.success)
    assert at.selectbox(key='find_person').value == 'Anna'
    faces = [e for e in at.get('image') if e.proto.imgs and e.proto.imgs[0].caption.endswith(')')]  # 'photo.jpg (0.83)'
    assert len(faces) >= 3, [e.proto.imgs[0].caption for e in at.get('image') if e.proto.imgs]
    noes = [b for b in at.button if (b.key or '').startswith('reject_sighting_')]  # "Not Anna" under each face
    assert len(noes) == len(faces) and noes[-1].label == 'Not Anna'
    rejected = int(noes[-1].key.rsplit('_', 1)[1])
    noes[-1].click().run()
    assert not at.exception, at.exception
    assert any(s.value.startswith('Remembered: that face is not Anna') for s in at.success), [s.value for s in at.success]
    left = [b for b in at.button if (b.key or '').startswith('reject_sighting_')]
    assert rejected not in {int(b.key.rsplit('_', 1)[1]) for b in left} and len(left) < len(noes)
    assert rejected not in {s.id for s in find(db, 'Anna')}


def test_videos_sampled_resumed_and_pruned(data, celeba, tmp_path):
    """`index --videos 3` samples a frame every 3 seconds from each video and indexes it as a photo of its own
    (`VIDEO#t=SECONDS`); a second run skips the video; a broken video is listed, not fatal; `--prune` drops the frames."""
    folder, db = tmp_path / 'clips', tmp_path / 'videos.db'
    folder.mkdir()
    shutil.copy(data / 'samples/video/short_hamilton_clip.mp4', folder / 'clip.mp4')
    photo = next(iter(celeba.values()))[0]
    shutil.copy(photo, folder / photo.name)
    (folder / 'broken.mp4').write_bytes(b'not a video at all')
    out = facenb('index', folder, '--db', db, check=0).stdout
    assert out.startswith('1 photos: 1 analysed'), out  # without --videos, only the photo
    out = facenb('index', folder, '--db', db, '--videos', '3', check=0).stdout
    assert out.startswith('3 photos: 2 analysed') and '1 unchanged' in out and '1 unreadable' in out and 'broken.mp4: not a readable video' in out, out
    with sqlite3.connect(db) as con:
        frames = con.execute("SELECT path, n_faces FROM photos WHERE path LIKE '%clip.mp4#t=%' ORDER BY path").fetchall()
    assert [float(p.rsplit('#t=', 1)[1]) for p, _ in frames] == pytest.approx([0, 3, 6, 9], abs=0.05), frames
    assert sum(n for _, n in frames) >= 3  # the clip's faces (a person on stage in every sampled frame)
    (line,) = json_lines(facenb('sightings', frames[1][0], '--db', db, '--json', check=0).stdout)
    assert len(line['faces']) == frames[1][1] and all(len(f['box']) == 4 for f in line['faces'])
    again = facenb('index', folder, '--db', db, '--videos', '3', check=0).stdout
    assert again.startswith('3 photos: 0 analysed') and '0 faces found' in again, again
    (folder / 'clip.mp4').unlink()
    pruned = facenb('index', folder, '--db', db, '--videos', '3', '--prune', check=0).stdout
    assert '1 pruned' in pruned, pruned
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT count(*) FROM photos WHERE path LIKE '%clip.mp4%'").fetchone()[0] == 0
        assert con.execute('SELECT count(*) FROM photos WHERE path = ?', (str((folder / photo.name).resolve()),)).fetchone()[0] == 1


@pytest.mark.parametrize('engine', ['pool', 'ray'])
def test_nothing_to_analyse_starts_no_workers(engine, monkeypatch):
    "A re-index with nothing to analyse (every photo unchanged) starts no process pool and no Ray runtime (#20: 16.1 s -> the 1-worker time)."
    import facenb.archive as archive
    def never(*a, **kw): raise AssertionError(f'{engine} workers started with nothing to analyse')
    monkeypatch.setattr(archive, 'ProcessPoolExecutor', never)
    monkeypatch.setattr(archive, '_ray_available', lambda: True)
    monkeypatch.setattr(archive, '_ray_batches', never)
    assert list(archive.run_batches(None, iter([]), workers=2, engine=engine)) == []
    with pytest.raises(AssertionError, match='workers started'): list(archive.run_batches(None, iter([[('p', b'', 0, 0)]]), workers=2, engine=engine))
