"The command line on the shared sample photos: enrol five people, recognise every query, refuse bad input."
import json, shutil
import numpy as np
import pytest
from PIL import Image

from conftest import facenb, json_lines, snapshot

EXPECTED = {'alex_lacamoire1.jpg': ['alex_lacamoire'], 'johnsnow_test1.jpg': ['kit_harington'],
            'kit_with_rose.jpg': ['kit_harington', 'rose_leslie'], 'obama1.jpg': ['obama'],
            'obama_and_biden.jpg': ['biden', 'obama']}


def test_people_lists_the_enrolled(sample_db):
    people = json.loads(facenb('people', '--db', sample_db, '--json', check=0).stdout)
    assert {p['name']: p['faces'] for p in people} == {'alex_lacamoire': 1, 'biden': 2, 'kit_harington': 2,
                                                       'obama': 2, 'rose_leslie': 2}


def test_recognize_every_query(sample_db, samples):
    queries = sorted((samples / 'queries').iterdir())
    r = facenb('recognize', *queries, '--db', sample_db, '--json', check=0)
    got = {}
    for line in json_lines(r.stdout):
        faces = line['faces']
        for f in faces:
            assert set(f) == {'box', 'probability', 'landmarks', 'name', 'similarity', 'candidates'}
            assert len(f['landmarks']) == 5 and f['probability'] >= 0.95
            assert f['candidates'][0][1] == f['similarity']
        got[line['photo'].split('/')[-1]] = sorted(f['name'] for f in faces if f['name'])
    assert got == EXPECTED


def test_child_in_background_is_unknown(sample_db, samples):
    (line,) = json_lines(facenb('recognize', samples / 'queries/obama_and_biden.jpg', '--db', sample_db, '--json', check=0).stdout)
    unknown = [f for f in line['faces'] if f['name'] is None]
    assert len(line['faces']) == 3 and len(unknown) == 1   # a girl in the corner, enrolled nowhere


def test_stranger_is_unknown(sample_db, samples):
    (line,) = json_lines(facenb('recognize', samples / 'misc/lin-manuel-miranda.png', '--db', sample_db, '--json', check=0).stdout)
    (face,) = line['faces']
    assert face['name'] is None and face['similarity'] < 0.5


def test_detect_json(samples):
    r = facenb('detect', samples / 'misc/multiface.jpg', samples / 'misc/two_people.jpg', '--json', check=0)
    counts = {l['photo'].split('/')[-1]: len(l['faces']) for l in json_lines(r.stdout)}
    assert counts == {'multiface.jpg': 6, 'two_people.jpg': 2}
    assert all('name' not in f for l in json_lines(r.stdout) for f in l['faces'])


def test_rename_and_forget(sample_db, tmp_path):
    db = tmp_path / 'copy.db'; shutil.copy(sample_db, db)
    facenb('rename', 'kit_harington', 'Kit Harington', '--db', db, check=0)
    assert 'Kit Harington' in facenb('people', '--db', db, check=0).stdout
    out = facenb('forget', 'Kit Harington', '--db', db, check=0).stdout
    assert '2 faces removed' in out
    assert 'Kit Harington' not in facenb('people', '--db', db, check=0).stdout


# Bad input: each fails with exit code 1 and one line on stderr, and the gallery holds exactly what it held.
def _bad_files(tmp_path, samples):
    corrupt = tmp_path / 'corrupt.jpg'
    corrupt.write_bytes((samples / 'people/obama/obama.jpg').read_bytes()[:3000])
    text = tmp_path / 'notes.jpg'; text.write_text('this is a text file renamed .jpg')
    huge = tmp_path / 'huge.png'; Image.new('L', (12_000, 12_000)).save(huge)
    return corrupt, text, huge


@pytest.mark.parametrize('case', ['corrupt', 'text', 'huge', 'no face', 'two faces', 'one bad among good',
                                  'forget unknown', 'rename unknown', 'rename onto taken'])
def test_bad_input_changes_nothing(case, sample_db, samples, data, tmp_path):
    db = tmp_path / 'g.db'; shutil.copy(sample_db, db)
    corrupt, text, huge = _bad_files(tmp_path, samples)
    scene = next((data / 'scenes').rglob('*.jpg'))
    args = {'corrupt': ('enroll', 'x', corrupt), 'text': ('enroll', 'x', text), 'huge': ('enroll', 'x', huge),
            'no face': ('enroll', 'x', scene), 'two faces': ('enroll', 'x', samples / 'misc/two_people.jpg'),
            'one bad among good': ('enroll', 'obama', samples / 'misc/obama3.jpg', samples / 'misc/two_people.jpg'),
            'forget unknown': ('forget', 'nobody'), 'rename unknown': ('rename', 'nobody', 'somebody'),
            'rename onto taken': ('rename', 'obama', 'biden')}[case]
    before = snapshot(db)
    r = facenb(*args, '--db', db)
    assert r.returncode == 1, r
    assert len(r.stderr.strip().splitlines()) == 1 and r.stderr.startswith('facenb: error:'), r.stderr
    assert snapshot(db) == before


@pytest.mark.parametrize('case,expect', [('corrupt', 'corrupt'), ('text', 'not an image'), ('huge', 'over the limit')])
def test_recognize_reports_bad_photos_and_goes_on(case, expect, sample_db, samples, tmp_path):
    bad = dict(zip(['corrupt', 'text', 'huge'], _bad_files(tmp_path, samples)))[case]
    r = facenb('recognize', bad, samples / 'queries/obama1.jpg', '--db', sample_db, '--json')
    assert r.returncode == 1 and expect in r.stderr
    error, line = json_lines(r.stdout)
    assert error['photo'] == str(bad) and expect in error['error'] and 'faces' not in error
    assert [f['name'] for f in line['faces']] == ['obama']


def test_enrolling_same_photo_twice_adds_nothing(sample_db, samples, tmp_path):
    db = tmp_path / 'g.db'; shutil.copy(sample_db, db)
    before = snapshot(db)
    out = facenb('enroll', 'obama', samples / 'people/obama', '--db', db, check=0).stdout
    assert '0 new faces' in out and snapshot(db) == before


def test_enrol_photo_of_another_person_is_refused(sample_db, samples, tmp_path):
    db = tmp_path / 'g.db'; shutil.copy(sample_db, db)
    before = snapshot(db)
    r = facenb('enroll', 'not_obama', samples / 'people/obama/obama.jpg', '--db', db)
    assert r.returncode == 1 and 'obama' in r.stderr and snapshot(db) == before
