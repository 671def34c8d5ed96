"The Streamlit app's tabs, driven by Streamlit's AppTest (uploads and camera shots included) on real photos."
import html, importlib.util, re, shutil, string
import os
os.environ.setdefault('STREAMLIT_SERVER_ADDRESS', '127.0.0.1')  # as .streamlit/config.toml sets it, wherever pytest runs from
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from facenb.store import Gallery

REPO = Path(__file__).resolve().parents[1]
APP = REPO / 'app.py'
TIMEOUT = 300  # seconds for one script run: the first loads the models, on shared CPUs


def load_app_module():
    "app.py imported as a module (its `main()` does not run), for calling the tab functions directly."
    spec = importlib.util.spec_from_file_location('facenb_app', APP)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope='session')
def app():
    "app.py as a module, imported once for the session."
    return load_app_module()


def photo(path: Path) -> tuple[str, bytes, str]:
    "An upload as AppTest takes it: (file name, bytes, MIME type)."
    mime = {'.png': 'image/png'}.get(path.suffix.lower(), 'image/jpeg')
    return path.name, path.read_bytes(), mime


def shown(markdown: str) -> str:
    "What a reader sees of the app's markdown: escapes resolved, the invisible word joiners that keep names from becoming links dropped."
    return re.sub(r'\\(.)', r'\1', markdown.replace('\u2060', ''))


def texts(elements) -> list[str]: return [shown(e.value) for e in elements]


def people_shown(at) -> list[str]:
    "The names heading each person's row in the People tab (plain HTML text)."
    return [html.unescape(re.sub('<[^>]+>', '', e.proto.body)) for e in at.get('html')]


@pytest.fixture
def db(tmp_path, monkeypatch) -> Path:
    "An empty gallery file that the app uses as its default (FACENB_DB)."
    path = tmp_path / 'gallery.db'
    monkeypatch.setenv('FACENB_DB', str(path))
    return path


@pytest.fixture(scope='session')
def enrolled_db(app, samples, tmp_path_factory) -> Path:
    "A gallery with obama (two photos) and biden (two photos), enrolled through the library."
    path = tmp_path_factory.mktemp('app_gallery') / 'enrolled.db'
    rec = app.make_recognizer(db=path)
    for name in ('obama', 'biden'): rec.enroll(name, sorted((samples / 'people' / name).iterdir()))
    return path


@pytest.fixture
def db_with_people(enrolled_db, db) -> Path:
    "A copy of `enrolled_db` as the app's default gallery."
    shutil.copy(enrolled_db, db)
    return db


def start(**state) -> AppTest:
    "The app after its first run, with `state` put in its session state first."
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    for k, v in state.items(): at.session_state[k] = v
    at.run()
    assert not at.exception, at.exception
    return at


def test_strings_translated(app):
    "Every UI string has a Russian translation with the same placeholders."
    fields = lambda s: sorted(f for _, f, _, _ in string.Formatter().parse(s) if f)
    assert set(app.STRINGS['ru']) == set(app.STRINGS['en'])
    for k, en in app.STRINGS['en'].items(): assert fields(app.STRINGS['ru'][k]) == fields(en), k
    assert app.md_escape('Ann *B* [x](y)') == r'Ann \*B\* \[x\]\(y\)'  # names are shown as typed, not as markdown


def test_starts_on_an_empty_gallery(db):
    at = start()
    labels = [t.label for t in at.tabs]
    assert labels[0] == 'Recognise' and labels[-1] == 'Settings'
    assert {'Add person', 'People', 'Video'} <= set(labels)
    assert ('Live camera' in labels) == (importlib.util.find_spec('streamlit_webrtc') is not None)
    assert 'The gallery is empty.' in texts(at.info)
    assert str(db) in texts(at.code)  # Settings shows the database, the command line's default file
    assert any(str(db) in c for c in texts(at.caption))
    assert 'mtcnn' in at.selectbox(key='detector').options
    assert db.exists() and len(Gallery(db)) == 0


def test_russian(db):
    at = start()
    at.selectbox(key='lang').set_value('ru').run()
    assert not at.exception
    labels = [t.label for t in at.tabs]
    assert labels[0] == 'Распознать' and labels[-1] == 'Настройки' and 'Люди' in labels
    assert 'Галерея пуста.' in texts(at.info)


def test_add_person_previews_then_saves(db, samples, app):
    at = start()
    people = samples / 'people'
    at.text_input(key='add_name_0').set_value('Barack Obama')
    at.file_uploader(key='add_files_0').set_value([photo(people / 'obama/obama.jpg'), photo(samples / 'misc/two_people.jpg')])
    at.run()
    assert 'two_people.jpg: 2 faces found; an enrolment photo must show one person' in texts(at.error)
    assert at.button(key='add_save').disabled  # one refused photo: nothing can be saved
    at.file_uploader(key='add_files_0').set_value([photo(people / 'obama/obama.jpg'), photo(people / 'obama/obama2.jpg')])
    at.run()
    assert not at.error and not at.button(key='add_save').disabled
    captions = (app.md_escape('obama.jpg'), app.md_escape('obama2.jpg'))  # a caption is markdown: the name escaped
    previews = [e for e in at.get('image') if e.proto.imgs and e.proto.imgs[0].caption in captions]
    assert len(previews) == 2  # the aligned face of each photo, before saving
    at.button(key='add_save').click().run()
    assert 'Added 2 face(s) of Barack Obama.' in texts(at.success)
    assert [(p.name, p.n_faces) for p in Gallery(db).people()] == [('Barack Obama', 2)]
    assert at.text_input(key='add_name_1').value == ''  # fresh, empty widgets for the next person
    at.text_input(key='add_name_1').set_value('Barack Obama')
    at.file_uploader(key='add_files_1').set_value(photo(people / 'obama/obama.jpg'))
    at.run()
    assert any('already in the gallery' in t for t in texts(at.info))
    at.button(key='add_save').click().run()
    assert 'These photos of Barack Obama were already stored: nothing new was added.' in texts(at.success)


def test_add_person_refusals(db_with_people, samples):
    at = start()
    at.text_input(key='add_name_0').set_value('Someone')
    at.file_uploader(key='add_files_0').set_value([('notes.jpg', b'not an image at all', 'image/jpeg'),
                                                  photo(samples / 'misc/lin-manuel-miranda.png')])
    at.run()
    (err,) = texts(at.error)
    assert err.startswith('notes.jpg:') and 'not an image' in err
    assert at.button(key='add_save').disabled
    at.file_uploader(key='add_files_0').set_value(photo(samples / 'people/obama/obama.jpg'))
    at.run()
    at.button(key='add_save').click().run()  # the face is obama's: the app asks before saving it under another name
    assert any("this face looks like 'obama' (similarity" in t for t in texts(at.error))
    assert 'Someone' not in Gallery(db_with_people)
    at.button(key='add_force').click().run()  # the user insists; the library still refuses: this photo is obama's already
    assert any("already enrolled as 'obama'" in t for t in texts(at.error))
    assert 'Someone' not in Gallery(db_with_people)


def test_add_person_lookalike_confirmed(db_with_people, samples):
    "A face that looks like an enrolled person is saved under a new name only after the user confirms."
    at = start()
    at.text_input(key='add_name_0').set_value('Not Obama')
    at.file_uploader(key='add_files_0').set_value(photo(samples / 'misc/obama3.jpg'))
    at.run()
    at.button(key='add_save').click().run()
    assert any("this face looks like 'obama'" in t for t in texts(at.error)) and 'Not Obama' not in Gallery(db_with_people)
    at.button(key='add_force').click().run()
    assert 'Added 1 face(s) of Not Obama.' in texts(at.success) and 'Not Obama' in Gallery(db_with_people)


def test_add_to_existing_person_needs_their_likeness(db_with_people, samples):
    "Faces added to an enrolled person must look like theirs (issue 23, item 3); the user may confirm that it is them."
    at = start()
    at.text_input(key='add_name_0').set_value('obama')
    at.file_uploader(key='add_files_0').set_value(photo(samples / 'misc/lin-manuel-miranda.png'))  # nobody enrolled looks like him
    at.run()
    at.button(key='add_save').click().run()
    assert any("this face does not look like 'obama' (similarity" in t for t in texts(at.error))
    assert [p.n_faces for p in Gallery(db_with_people).people() if p.name == 'obama'] == [2]
    assert at.button(key='add_force').label == 'This is obama: save anyway'
    at.button(key='add_force').click().run()
    assert 'Added 1 face(s) of obama.' in texts(at.success)
    assert [p.n_faces for p in Gallery(db_with_people).people() if p.name == 'obama'] == [3]


def test_recognise_upload(db_with_people, samples):
    at = start()
    at.file_uploader(key='rec_upload').set_value(photo(samples / 'queries/obama_and_biden.jpg')).run()
    assert not at.exception
    known = texts(at.success)
    assert any('. biden**: similarity' in t for t in known) and any('. obama**: similarity' in t for t in known)
    assert sum('Not recognised' in t for t in texts(at.error)) == 1  # the girl in the corner
    assert any(e.proto.imgs[0].caption.startswith('Green: recognised') for e in at.get('image'))
    at.file_uploader(key='rec_upload').set_value(photo(samples / 'misc/lin-manuel-miranda.png')).run()
    assert not texts(at.success)
    (err,) = texts(at.error)
    assert 'Not recognised' in err
    at.file_uploader(key='rec_upload').set_value(('noise.png', b'\x89PNG broken', 'image/png')).run()
    assert any(t.startswith('Cannot use this photo') for t in texts(at.error))


def test_recognise_camera_snapshot(db_with_people, samples):
    at = start()
    at.radio(key='rec_source').set_value('camera').run()
    at.camera_input(key='rec_camera').set_value(('shot.jpg', (samples / 'queries/obama1.jpg').read_bytes(), 'image/jpeg'))
    at.run()
    assert not at.exception
    assert any('1. obama**: similarity' in t for t in texts(at.success))


def test_threshold_setting(db_with_people, samples):
    at = start()
    at.slider(key='threshold').set_value(0.99).run()
    at.file_uploader(key='rec_upload').set_value(photo(samples / 'queries/obama1.jpg')).run()
    assert not texts(at.success)
    assert any('Not recognised' in t for t in texts(at.error))
    assert any('obama' in c for c in texts(at.caption))  # still the closest candidate


def test_people_rename_and_forget(db_with_people):
    at = start()
    g = Gallery(db_with_people)
    ids = {p.name: p.id for p in g.people()}
    assert people_shown(at)[:2] == ['biden', 'obama']
    at.text_input(key=f'rename_{ids["obama"]}').set_value('Barack Obama')
    at.button(key=f'rename_btn_{ids["obama"]}').click().run()
    assert 'Renamed obama to Barack Obama.' in texts(at.success)
    assert [p.name for p in g.people()] == ['Barack Obama', 'biden']
    at.button(key=f'forget_{ids["biden"]}').click().run()
    assert any(t.startswith('Forget biden?') for t in texts(at.warning))
    assert 'biden' in g  # nothing is deleted before the confirmation
    at.button(key=f'forget_no_{ids["biden"]}').click().run()
    assert not texts(at.warning) and 'biden' in g
    at.button(key=f'forget_{ids["biden"]}').click().run()
    at.button(key=f'forget_yes_{ids["biden"]}').click().run()
    assert 'biden forgotten (2 face(s) deleted).' in texts(at.success)
    assert [p.name for p in g.people()] == ['Barack Obama']


def test_changes_made_elsewhere_show_up(db_with_people):
    at = start()
    Gallery(db_with_people).rename('biden', 'Joe Biden')  # as the command line or another browser would
    at.run()
    names = people_shown(at)
    assert 'Joe Biden' in names and 'biden' not in names


def test_two_sessions_share_the_gallery(db, samples):
    "Two browser sessions on one gallery file: what one adds or forgets, the other sees on its next rerun."
    a, b = start(), start()
    a.text_input(key='add_name_0').set_value('biden')
    a.file_uploader(key='add_files_0').set_value(photo(samples / 'people/biden/biden.jpg'))
    a.run()
    a.button(key='add_save').click().run()
    assert 'Added 1 face(s) of biden.' in texts(a.success)
    b.file_uploader(key='rec_upload').set_value(photo(samples / 'people/biden/biden2.jpg')).run()
    assert any('1. biden**: similarity' in t for t in texts(b.success))
    (pid,) = [p.id for p in Gallery(db).people()]
    b.button(key=f'forget_{pid}').click().run()
    b.button(key=f'forget_yes_{pid}').click().run()
    a.run()
    assert 'The gallery is empty.' in texts(a.info)
    b.run()
    assert any('Not recognised' in t for t in texts(b.error))  # the cached answer is dropped with the person


def test_detector_backends(db, monkeypatch):
    from facenb import detect
    monkeypatch.setitem(detect.BACKENDS, 'absent', 'facenb_no_such_module:Detector')
    monkeypatch.setitem(detect.BACKENDS, 'failing', 'facenb.core:Face')  # constructing it fails
    at = start()
    sel = at.selectbox(key='detector')
    assert 'absent' not in sel.options and 'failing' in sel.options
    assert any('absent (module facenb_no_such_module is not installed)' in c for c in texts(at.caption))
    sel.set_value('failing').run()
    assert not at.exception
    assert any('"failing" detector could not be loaded' in w for w in texts(at.warning))


def test_tab_functions_without_streamlit(app, tmp_path, samples):
    "The tabs' logic is plain functions of bytes and names."
    rec = app.make_recognizer(db=tmp_path / 'direct.db')
    files = [('biden.jpg', (samples / 'people/biden/biden.jpg').read_bytes())]
    checks = app.check_photos(rec, files + [('group.jpg', (samples / 'misc/two_people.jpg').read_bytes())])
    assert [c['error'] is None for c in checks] == [True, False]
    size = rec.embedder.size  # the aligned crop of the embedding model (112 for MobileFaceNet, 160 for FaceNet)
    assert checks[0]['crop'].shape == (size, size, 3) and 'faces found' in checks[1]['error']
    assert app.add_person(rec, 'biden', files) == 1
    annotated, matches = app.recognise_photo(rec, (samples / 'queries/obama_and_biden.jpg').read_bytes())
    assert sorted(m.name for m in matches if m.known) == ['biden'] and annotated.size[0] > 0


@pytest.fixture
def video_module():
    return pytest.importorskip('facenb.video', reason='facenb.video (nbs/08_video.ipynb) is not exported yet')


def test_video_tab(db_with_people, samples, video_module):
    at = start()
    clip = samples / 'video/short_hamilton_clip.mp4'
    at.file_uploader(key='video_upload').set_value((clip.name, clip.read_bytes(), 'video/mp4'))
    at.number_input(key='video_max').set_value(3)
    at.run()
    at.button(key='video_go').click().run()
    assert not at.exception and not texts(at.error)
    result = at.session_state['video_result']
    assert result['name'] == 'short_hamilton_clip_annotated.mp4' and result['data'][4:8] == b'ftyp'
    assert result['frames'] == 3 and any(t.startswith('3 frame(s) processed') for t in texts(at.markdown))
    assert at.download_button(key='video_download')


def test_live_annotator_follows_and_names(app, enrolled_db, samples, video_module):
    "The Live camera tab's frame callback on real frames: the face is '?' until its embedding is back, then named; a rate is kept."
    import time
    import numpy as np
    from facenb.core import load_image
    rec = app.make_recognizer(db=enrolled_db)
    live = app.LiveAnnotator(rec)
    image = load_image(samples / 'people/biden/biden2.jpg')[:960, :1200]
    labels, deadline, i = [], time.monotonic() + 60, 0  # the first embedding waits for the worker thread: a busy CPU is slow
    while time.monotonic() < deadline:
        out = live(np.roll(image, 3 * (i % 10), axis=1)); i += 1
        labels.append(live.labels)
        if live.labels and live.labels[0].startswith('biden'): break
        time.sleep(0.05)
    live.video.close()
    assert out.shape == image.shape and labels[-1][0].startswith('biden'), labels
    assert all(ls[0] == '?' or ls[0].startswith('biden') for ls in labels if ls)
    assert live.fps > 0 and len({t.id for t in live.video.tracks if t.votes}) == 1  # one named track
