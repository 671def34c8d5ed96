"""The app in a real browser: headless Chromium (Playwright) against `streamlit run app.py` on a temporary gallery.

Add a person from a photo, recognise another photo of them, see a stranger come back "not recognised",
forget the person. Screenshots go to test-artifacts/; with FACENB_APP_SCREENSHOTS=1 the three of the
README are written to docs/ as well (app_recognised.png, app_not_recognised.png, app_people.png).
"""
import io, os, re, socket, subprocess, sys, time, urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from facenb.store import Gallery

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = Path('/usr/bin/chromium')
ARTIFACTS = REPO / 'test-artifacts'
DOCS = REPO / 'docs'
MAX_DOC_BYTES = 300_000
WAIT_MS = 180_000  # model loading and recognition on shared CPUs: generous, and only ever waits on page text

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=f'{CHROMIUM} not found: install Debian chromium to run the browser test')
sync_api = pytest.importorskip('playwright.sync_api', reason='the playwright Python package is not installed')
expect = sync_api.expect
expect.set_options(timeout=WAIT_MS)


def free_port() -> int:
    "A free port on 127.0.0.1: one of FACENB_TEST_PORTS (e.g. 18300-18399) when that is set, else any."
    lo, _, hi = os.environ.get('FACENB_TEST_PORTS', '0-0').partition('-')
    for port in range(int(lo), int(hi or lo) + 1):
        with socket.socket() as s:
            try: s.bind(('127.0.0.1', port))
            except OSError: continue
            return s.getsockname()[1]
    raise RuntimeError(f'no free port in FACENB_TEST_PORTS={os.environ["FACENB_TEST_PORTS"]}')


def start_server(tmp: Path, **env) -> tuple[subprocess.Popen, str, Path]:
    "`streamlit run app.py` from the repository (so `.streamlit/config.toml` applies) on a free port: (process, url, log)."
    port, log_path = free_port(), tmp / 'streamlit.log'
    log = open(log_path, 'w')
    proc = subprocess.Popen([sys.executable, '-m', 'streamlit', 'run', str(REPO / 'app.py'), '--server.port', str(port),
                             '--server.headless', 'true', '--server.fileWatcherType', 'none', '--client.toolbarMode', 'viewer'],
                            cwd=REPO, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT)
    url = f'http://127.0.0.1:{port}'
    deadline = time.monotonic() + 120
    while True:
        try:
            if urllib.request.urlopen(f'{url}/_stcore/health', timeout=5).read() == b'ok': break
        except OSError: pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f'streamlit did not start: {log_path.read_text()[-2000:]}')
        time.sleep(0.5)
    return proc, url, log_path


def stop_server(proc: subprocess.Popen):
    proc.terminate()
    try: proc.wait(20)
    except subprocess.TimeoutExpired: proc.kill()


@pytest.fixture(scope='module')
def server(tmp_path_factory):
    "One app for the module, on an empty temporary gallery, with the repository's settings: (url, db path, log)."
    tmp = tmp_path_factory.mktemp('browser')
    db = tmp / 'gallery.db'
    proc, url, log = start_server(tmp, FACENB_DB=str(db))
    yield url, db, log
    stop_server(proc)


CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
                 '--disable-sync', '--no-first-run']


@pytest.fixture(scope='module')
def playwright():
    with sync_api.sync_playwright() as p: yield p


@pytest.fixture(scope='module')
def page(playwright, server):
    "A headless Chromium page on the app, after the models have loaded."
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    pg = browser.new_page(viewport={'width': 1280, 'height': 860})
    pg.set_default_timeout(WAIT_MS)
    pg.goto(server[0])
    expect(pg.get_by_text(re.compile(r'^Gallery: .*\(people: 0\)'))).to_be_visible()  # shown once the models are loaded
    yield pg
    browser.close()


@pytest.fixture(scope='module')
def library(server):
    "A Recognizer in this process on the server's gallery file: changes made outside the app."
    from facenb.recognize import Recognizer
    return Recognizer(server[1])


def settle(page):
    "Wait (a little, at most) for the app to finish its rerun, so that screenshots show the result."
    try: expect(page.get_by_test_id('stStatusWidget').get_by_text('Stop')).to_have_count(0, timeout=30_000)
    except AssertionError: pass


def shot(page, name: str, doc: bool = False) -> Path:
    "Save a screenshot to test-artifacts/ (and, with FACENB_APP_SCREENSHOTS=1 and `doc`, to docs/ under 300 KB)."
    ARTIFACTS.mkdir(exist_ok=True)
    settle(page)
    png = page.screenshot(animations='disabled')
    out = ARTIFACTS / f'{name}.png'
    out.write_bytes(png)
    if doc and os.environ.get('FACENB_APP_SCREENSHOTS') == '1':
        img = Image.open(io.BytesIO(png)).convert('RGB')
        buf = io.BytesIO()
        img.save(buf, 'PNG', optimize=True)
        for colors in (256, 128, 64):  # photos make big PNGs: a palette keeps the page readable at a fraction
            if buf.tell() < MAX_DOC_BYTES * 0.9: break
            buf = io.BytesIO()
            img.quantize(colors, method=Image.Quantize.MEDIANCUT).save(buf, 'PNG', optimize=True)
        assert buf.tell() < MAX_DOC_BYTES, f'{name}: {buf.tell():,} bytes'
        DOCS.mkdir(exist_ok=True)
        (DOCS / f'{name}.png').write_bytes(buf.getvalue())
    return out


def upload(page, label: str, path: Path):
    "Give the uploader labelled `label` the file `path`, again if a rerun swallowed it, until the app lists it."
    box = page.locator('[data-testid="stFileUploader"]').filter(has_text=label)
    for attempt in range(3):
        settle(page)
        box.locator('input[type=file]').set_input_files(path)
        try:
            expect(box.get_by_role('button', name=f'Remove {path.name}')).to_be_visible(timeout=30_000)
            return
        except AssertionError:
            if attempt == 2: raise


def no_exception(page):
    assert page.locator('[data-testid="stException"]').count() == 0, page.locator('[data-testid="stException"]').first.inner_text()


def test_enrol_recognise_forget(page, server, library, samples):
    url, db, _ = server
    page.get_by_role('tab', name='Add person').click()
    upload(page, 'Photos of this person', samples / 'people/obama/obama.jpg')
    expect(page.get_by_role('img', name='The face found in obama.jpg')).to_be_visible()  # shown before saving
    page.get_by_label("Person's name").fill('obama')
    page.get_by_label("Person's name").press('Enter')
    save = page.get_by_role('button', name='Save')
    expect(save).to_be_enabled()
    save.click()
    expect(page.get_by_text('Added 1 face(s) of obama.')).to_be_visible()
    shot(page, 'app_added')
    assert [(p.name, p.n_faces) for p in Gallery(db).people()] == [('obama', 1)]

    page.get_by_role('tab', name='Recognise').click()
    upload(page, 'Upload a photo', samples / 'queries/obama1.jpg')
    expect(page.get_by_text(re.compile(r'^1\. obama: similarity 0\.\d\d$'))).to_be_visible()
    expect(page.get_by_role('img', name='The photo with every face boxed and named')).to_be_visible()
    no_exception(page)
    shot(page, 'app_recognised', doc=True)

    upload(page, 'Upload a photo', samples / 'misc/lin-manuel-miranda.png')
    expect(page.get_by_text(re.compile(r'^1\. Not recognised: nobody in the gallery is close enough'))).to_be_visible()
    expect(page.get_by_text(re.compile(r'^1\. obama: similarity'))).to_have_count(0)
    no_exception(page)
    shot(page, 'app_not_recognised', doc=True)

    assert library.enroll('biden', sorted((samples / 'people/biden').iterdir())) == 2  # outside the app
    page.get_by_role('tab', name='People', exact=True).click()
    page.get_by_role('button', name='Refresh').click()
    expect(page.get_by_text('biden', exact=True)).to_be_visible()  # the app does not cache the people list
    expect(page.get_by_text('2 face(s), added', exact=False)).to_be_visible()
    expect(page.get_by_text('1 face(s), added', exact=False)).to_be_visible()
    # the rerun draws the rows one by one, reusing the old elements: wait until both rows have their buttons
    expect(page.get_by_role('button', name='Forget', exact=True)).to_have_count(2)
    expect(page.get_by_role('button', name='Rename', exact=True)).to_have_count(2)
    shot(page, 'app_people', doc=True)
    page.get_by_role('button', name='Forget', exact=True).last.click()  # people are sorted: biden, obama
    expect(page.get_by_text(re.compile(r'^Forget obama\?'))).to_be_visible()
    assert 'obama' in Gallery(db)  # nothing deleted before the confirmation
    page.get_by_role('button', name='Yes, forget obama').click()
    expect(page.get_by_text('obama forgotten (1 face(s) deleted).')).to_be_visible()
    expect(page.get_by_text('obama', exact=True)).to_have_count(0)
    no_exception(page)
    shot(page, 'app_forgotten')
    assert [p.name for p in Gallery(db).people()] == ['biden']


GREEN_PIXELS = """v => { const c = document.createElement('canvas'); c.width = v.videoWidth; c.height = v.videoHeight;
  if (!c.width) return 0;
  const g = c.getContext('2d'); g.drawImage(v, 0, 0); const d = g.getImageData(0, 0, c.width, c.height).data;
  let n = 0;
  for (let i = 0; i < d.length; i += 4) if (Math.abs(d[i] - 40) < 40 && Math.abs(d[i+1] - 200) < 45 && Math.abs(d[i+2] - 80) < 40) n++;
  return n; }"""  # pixels near facenb.core.KNOWN_COLOR (40, 200, 80): the box and label of a recognised face


def test_live_camera(playwright, server, library, samples, tmp_path):
    "The Live camera tab (streamlit-webrtc) on Chromium's fake camera playing a photo of an enrolled person."
    pytest.importorskip('streamlit_webrtc', reason='streamlit-webrtc is not installed: the app has no live tab')
    from facenb.video import write_y4m
    library.enroll('biden', [samples / 'people/biden/biden.jpg'])
    img = Image.open(samples / 'people/biden/biden2.jpg').convert('RGB')
    img.thumbnail((480, 480))
    img = img.crop((0, 0, img.width - img.width % 2, img.height - img.height % 2))
    write_y4m([img] * 10, tmp_path / 'camera.y4m', fps=10)
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=[
        *CHROMIUM_ARGS, '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
        f'--use-file-for-fake-video-capture={tmp_path / "camera.y4m"}'])
    try:
        page = browser.new_page(viewport={'width': 1280, 'height': 860})
        page.set_default_timeout(WAIT_MS)
        page.goto(server[0])
        page.get_by_role('tab', name='Live camera').click()
        frame = page.frame_locator('iframe[title*="streamlit_webrtc"]')
        frame.get_by_role('button', name=re.compile('start', re.I)).click()
        video = frame.locator('video')
        deadline, green = time.monotonic() + WAIT_MS / 1000, 0
        while green < 200 and time.monotonic() < deadline:  # polls the picture itself: no page text to wait on
            time.sleep(1)
            if video.count(): green = video.first.evaluate(GREEN_PIXELS)
        status = page.get_by_text(re.compile(r'frames/s \(\d+ ms per frame\); faces: .*biden'))
        try: expect(status).to_be_visible(timeout=60_000)  # the page shows the rate and the name while it plays
        except AssertionError: pass
        status_text = status.first.inner_text() if status.count() else page.inner_text('body')[-500:]
        shot(page, 'app_live', doc=True)
        frame.get_by_role('button', name=re.compile('stop', re.I)).click()
    finally: browser.close()
    assert green >= 200, 'no recognised (green) face drawn on the live stream'
    rate = re.search(r'([\d.]+) frames/s', status_text)
    assert rate and float(rate.group(1)) > 0 and 'biden' in status_text, status_text


def test_people_names_are_plain_text(page, server, library):
    "A name holding a URL and markdown is shown as typed, never as a link or formatting."
    name = 'Eve https://evil.example/x [click](https://evil.example/y) **bold**'
    dim = library.gallery.matrix(library.model)[1].shape[1] or 512  # the embedder's size, once someone is enrolled
    Gallery(server[1]).enroll(name, np.eye(1, dim, dtype=np.float32), library.model, ['url-name'])
    page.get_by_role('tab', name='People', exact=True).click()
    page.get_by_role('button', name='Refresh').click()
    expect(page.get_by_text(name, exact=True)).to_be_visible()
    settle(page)
    # Eve's own Forget button (the first after her name): the confirmation repeats the name in markdown
    page.get_by_text(name, exact=True).locator('xpath=following::button[normalize-space(.)="Forget"][1]').click()
    expect(page.get_by_text(re.compile(r'^Forget Eve'))).to_be_visible()
    links = page.locator('a[href*="evil.example"]')
    assert links.count() == 0, [links.nth(i).evaluate('a => a.closest("[data-testid]").outerHTML.slice(0, 600)') for i in range(links.count())]
    assert page.locator('strong', has_text='bold').count() == 0
    no_exception(page)
    page.get_by_role('button', name='Cancel').click()
    Gallery(server[1]).forget(name)


def other_addresses() -> list[str]:
    "This machine's addresses that are not loopback (where a server bound to every interface would answer)."
    try: out = subprocess.run(['hostname', '-I'], capture_output=True, text=True, timeout=10).stdout.split()
    except OSError: out = []
    return [a for a in out if ':' not in a and not a.startswith('127.')]


def test_listens_on_localhost_only_and_sends_no_statistics(server):
    url, _, log = server
    port = int(url.rsplit(':', 1)[1])
    addresses = other_addresses()
    if not addresses: pytest.skip('this machine has no address but loopback: nothing to check the binding against')
    for a in addresses:
        with socket.socket() as s:
            s.settimeout(3)
            assert s.connect_ex((a, port)) != 0, f'the app answers on {a}:{port}'
    text = log.read_text()
    assert 'Collecting usage statistics' not in text and 'Network URL' not in text, text


def test_password_when_exposed(playwright, tmp_path):
    "With the password required (as when listening beyond localhost), nothing shows before the right password."
    from facenb.access import hash_password
    proc, url, _ = start_server(tmp_path, FACENB_DB=str(tmp_path / 'g.db'), FACENB_APP_REQUIRE_PASSWORD='1',
                                FACENB_APP_PASSWORD_HASH=hash_password('correct horse battery'))
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    try:
        pg = browser.new_page(viewport={'width': 1280, 'height': 860})
        pg.set_default_timeout(WAIT_MS)
        pg.goto(url)
        box = pg.get_by_label('Password', exact=True)
        expect(box).to_be_visible()
        assert pg.get_by_role('tab').count() == 0 and pg.get_by_text(re.compile('^Gallery:')).count() == 0
        box.fill('wrong password'); pg.get_by_role('button', name='Log in').click()
        expect(pg.get_by_text('Wrong password.')).to_be_visible()
        assert pg.get_by_role('tab').count() == 0
        pg.get_by_label('Password', exact=True).fill('correct horse battery'); pg.get_by_role('button', name='Log in').click()
        expect(pg.get_by_role('tab', name='Recognise')).to_be_visible()
        shot(pg, 'app_logged_in')
    finally:
        browser.close()
        stop_server(proc)


def test_not_this_person(playwright, samples, tmp_path):
    "The button beside a named face remembers that it is not that person; the no holds when the gallery moves to FaceNet."
    from facenb.recognize import Recognizer, reembed
    from facenb.reject import rejections
    db = tmp_path / 'reject.db'
    Recognizer(db).enroll('kit_harington', sorted((samples / 'people/kit_harington').iterdir()))
    proc, url, _ = start_server(tmp_path, FACENB_DB=str(db))
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    try:
        page = browser.new_page(viewport={'width': 1280, 'height': 860})
        page.set_default_timeout(WAIT_MS)
        page.goto(url)
        expect(page.get_by_text(re.compile(r'^Gallery: .*\(people: 1\)'))).to_be_visible()
        page.get_by_role('tab', name='Recognise').click()
        upload(page, 'Upload a photo', samples / 'queries/johnsnow_test1.jpg')
        expect(page.get_by_text(re.compile(r'^1\. kit_harington: similarity'))).to_be_visible()
        page.get_by_role('button', name='Not kit_harington').click()
        expect(page.get_by_text('Remembered: that face is not kit_harington', exact=False)).to_be_visible()
        expect(page.get_by_text(re.compile(r'^1\. Not recognised'))).to_be_visible()
        no_exception(page)
        shot(page, 'app_not_this_person')
        assert [r.name for r in rejections(Gallery(db))] == ['kit_harington']
        assert reembed(db, 'facenet').faces == 2  # outside the app: the gallery, and its "no", move to another model
        page.reload()
        expect(page.get_by_text(re.compile(r'^Gallery: .*\(people: 1\)'))).to_be_visible()
        page.get_by_role('tab', name='Recognise').click()
        upload(page, 'Upload a photo', samples / 'queries/johnsnow_test1.jpg')
        expect(page.get_by_text(re.compile(r'^1\. Not recognised'))).to_be_visible()
        expect(page.get_by_text(re.compile(r'^1\. kit_harington'))).to_have_count(0)
        upload(page, 'Upload a photo', samples / 'queries/kit_with_rose.jpg')
        expect(page.get_by_text(re.compile(r'^\d\. kit_harington: similarity'))).to_be_visible()  # still named in his other photos
        no_exception(page)
    finally:
        browser.close()
        stop_server(proc)
