"""Web pages next door (issue 23) in a real headless Chromium whose resolver maps evil.example to 127.0.0.1, as DNS
rebinding would: a page on another site cannot enrol through `facenb serve`, nor read it through its own name; the
app reached through that name asks for its password and opens no tab; file names show as typed, never as markdown;
and a session opened from another site's page (spoken over the app's WebSocket) is refused."""
import base64, http.server, os, re, shutil, subprocess, sys, threading, time
from pathlib import Path

import httpx
import pytest

from conftest import facenb
from facenb.store import Gallery

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = Path('/usr/bin/chromium')
WAIT_MS = 180_000
PORTS = {'api': 18101, 'evil page': 18102, 'app': 18103, 'photos app': 18104}  # fixed: this project's test range
REBINDING = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
             '--disable-sync', '--no-first-run', '--host-resolver-rules=MAP evil.example 127.0.0.1']

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=f'{CHROMIUM} not found: install Debian chromium to run the browser tests')
sync_api = pytest.importorskip('playwright.sync_api', reason='the playwright Python package is not installed')
expect = sync_api.expect
expect.set_options(timeout=WAIT_MS)


def wait_for(url: str, proc: subprocess.Popen, log: Path, ok=lambda r: r.status_code < 500):
    deadline = time.monotonic() + 180
    while True:
        assert proc.poll() is None, log.read_text()[-3000:]
        try:
            if ok(httpx.get(url, timeout=3)): return
        except httpx.TransportError: pass
        assert time.monotonic() < deadline, f'{url} did not answer within 180 s: {log.read_text()[-2000:]}'
        time.sleep(0.5)


def stop(proc: subprocess.Popen):
    proc.terminate()
    try: proc.wait(20)
    except subprocess.TimeoutExpired: proc.kill(); proc.wait()


def start_app(tmp: Path, port: int, **env) -> subprocess.Popen:
    "`streamlit run app.py` from the repository (its `.streamlit/config.toml`: 127.0.0.1) on `port`."
    log = tmp / f'app{port}.log'
    proc = subprocess.Popen([sys.executable, '-m', 'streamlit', 'run', str(REPO / 'app.py'), '--server.port', str(port),
                             '--server.headless', 'true', '--server.fileWatcherType', 'none'],
                            cwd=REPO, env={**os.environ, **env}, stdout=open(log, 'w'), stderr=subprocess.STDOUT)
    wait_for(f'http://127.0.0.1:{port}/_stcore/health', proc, log, ok=lambda r: r.text == 'ok')
    return proc


@pytest.fixture(scope='module')
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=REBINDING)
        yield b
        b.close()


@pytest.fixture(scope='module')
def api(samples, tmp_path_factory):
    "`facenb serve` on 127.0.0.1 with Barack Obama enrolled: (url, gallery file)."
    tmp = tmp_path_factory.mktemp('api')
    db = tmp / 'g.db'
    facenb('enroll', 'Barack Obama', samples / 'people/obama/obama.jpg', '--db', db, check=0)
    log = tmp / 'serve.log'
    proc = subprocess.Popen([str(Path(sys.executable).with_name('facenb')), 'serve', '--port', str(PORTS['api']), '--db', str(db)],
                            stdout=open(log, 'w'), stderr=subprocess.STDOUT, env={**os.environ, 'OMP_NUM_THREADS': '1'})
    url = f'http://127.0.0.1:{PORTS["api"]}'
    try:
        wait_for(url + '/v1/health', proc, log)
        yield url, db
    finally: stop(proc)


ATTACK = """<!doctype html><title>cute cats</title><p id=state>sending</p><script>
const bytes = Uint8Array.from(atob('%s'), c => c.charCodeAt(0));
const form = new FormData(); form.append('photos', new Blob([bytes], {type: 'image/jpeg'}), 'biden.jpg');
fetch('%s/v1/people/Mallory/faces', {method: 'POST', mode: 'no-cors', body: form})
  .then(() => document.getElementById('state').textContent = 'sent', e => document.getElementById('state').textContent = 'failed ' + e);
</script>"""


@pytest.fixture(scope='module')
def evil_site(api, samples):
    "A page on http://evil.example:18102 (resolved to 127.0.0.1 by Chromium) that enrols Mallory through the API."
    page = (ATTACK % (base64.b64encode((samples / 'people/biden/biden.jpg').read_bytes()).decode(), api[0])).encode()
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200); self.send_header('Content-Type', 'text/html'); self.end_headers(); self.wfile.write(page)
        def log_message(self, *a): pass
    server = http.server.ThreadingHTTPServer(('127.0.0.1', PORTS['evil page']), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f'http://evil.example:{PORTS["evil page"]}/'
    server.shutdown(); server.server_close()


def test_page_on_another_site_cannot_enrol(browser, api, evil_site):
    "Item 1: a `fetch` with mode 'no-cors' and a FormData body (no preflight) reaches the API, which refuses it."
    url, db = api
    page = browser.new_page()
    try:
        page.goto(evil_site)
        expect(page.locator('#state')).to_have_text(re.compile('^(sent|failed)'))
    finally: page.close()
    assert [p.name for p in Gallery(db).people()] == ['Barack Obama']
    assert httpx.post(url + '/v1/people/Mallory/faces', headers={'Origin': 'http://evil.example', 'Sec-Fetch-Site': 'cross-site'},
                      files={'photos': ('b.jpg', b'x')}).json()['error']['code'] == 'cross_site'


def test_rebinding_reads_nothing_from_the_api(browser, api):
    "Item 2: the browser, sent to evil.example:18101 (now 127.0.0.1), gets a refusal, not the names."
    page = browser.new_page()
    try:
        answer = page.goto(f'http://evil.example:{PORTS["api"]}/v1/people')
        status, text = answer.status, page.inner_text('body')
        own = page.goto(f'http://127.0.0.1:{PORTS["api"]}/v1/people')
        own_status, own_text = own.status, page.inner_text('body')
    finally: page.close()
    assert (status, 'unknown_host' in text, 'Barack Obama' in text) == (421, True, False), (status, text)
    assert own_status == 200 and 'Barack Obama' in own_text


def test_app_through_a_foreign_name_asks_for_the_password(browser, tmp_path):
    "Item 2: the app on 127.0.0.1 (no password asked there) reached as evil.example asks for it and opens no tab."
    from facenb.access import hash_password
    proc = start_app(tmp_path, PORTS['app'], FACENB_DB=str(tmp_path / 'g.db'),
                     FACENB_APP_PASSWORD_HASH=hash_password('correct horse battery'))
    page = browser.new_page(viewport={'width': 1280, 'height': 860})
    page.set_default_timeout(WAIT_MS)
    try:
        page.goto(f'http://evil.example:{PORTS["app"]}')
        expect(page.get_by_label('Password', exact=True)).to_be_visible()
        # the name as typed, with a word joiner (U+2060) before its dot so that it is no autolink
        expect(page.get_by_text(re.compile('opened through the name evil.{1,2}example'))).to_be_visible()
        assert page.get_by_role('tab').count() == 0 and page.get_by_text(re.compile('^Gallery:')).count() == 0
        page.get_by_label('Password', exact=True).fill('wrong password'); page.get_by_role('button', name='Log in').click()
        expect(page.get_by_text('Wrong password.')).to_be_visible()
        assert page.get_by_role('tab').count() == 0
        page.goto(f'http://127.0.0.1:{PORTS["app"]}')  # its own address: no password on this machine
        expect(page.get_by_role('tab', name='Recognise')).to_be_visible()
        assert page.get_by_label('Password', exact=True).count() == 0
    finally:
        page.close()
        stop(proc)


def test_app_shows_file_names_as_typed(browser, samples, tmp_path):
    "Item 9: photo names holding markdown show as typed in 'People in my photos', photo deleted or not."
    from facenb.archive import index_photos
    from facenb.recognize import Recognizer
    db, arch = tmp_path / 'g.db', tmp_path / 'arch'
    arch.mkdir()
    gone, kept = '**Session expired** [Log in again](https:evil.example).jpg', '*kept* [here](https:evil.example) x.jpg'
    obama = sorted((samples / 'people/obama').iterdir())
    shutil.copy(obama[0], arch / gone); shutil.copy(obama[1], arch / kept)
    rec = Recognizer(db)
    rec.enroll('obama', [samples / 'misc/obama3.jpg'])
    index_photos(rec, [arch])
    (arch / gone).unlink()
    proc = start_app(tmp_path, PORTS['photos app'], FACENB_DB=str(db))
    page = browser.new_page(viewport={'width': 1280, 'height': 1400})
    page.set_default_timeout(WAIT_MS)
    try:
        page.goto(f'http://127.0.0.1:{PORTS["photos app"]}')
        page.get_by_role('tab', name='People in my photos').click()
        expect(page.get_by_text('Photos of', exact=True)).to_be_visible()
        expect(page.locator('[data-testid="stImageCaption"]').filter(has_text='kept')).to_have_count(1)
        expect(page.locator('[data-testid="stCaptionContainer"]').filter(has_text='Session expired')).to_have_count(1)
        texts = page.inner_text('body').replace('\u2060', '')
        assert '**Session expired** [Log in again](https:evil.example).jpg' in texts  # the deleted photo: its path
        assert '*kept* [here](https:evil.example) x.jpg' in texts  # the kept photo: its crop's caption
        links = page.locator('a[href*="evil.example"]')
        assert links.count() == 0, [links.nth(i).evaluate('a => a.outerHTML') for i in range(links.count())]
        assert page.locator('strong, em', has_text=re.compile('Session expired|kept')).count() == 0
    finally:
        page.close()
        stop(proc)


def app_session(port: int, origin: str) -> bytes:
    "Everything the app sends one session opened with `origin`, from the first run to its end (Streamlit's protocol)."
    websocket = pytest.importorskip('websocket', reason='websocket-client is not installed')
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ClientState_pb2 import ClientState
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
    ws = websocket.create_connection(f'ws://127.0.0.1:{port}/_stcore/stream', origin=origin, subprotocols=['streamlit'],
                                     timeout=WAIT_MS / 1000)
    try:
        ws.send_binary(BackMsg(rerun_script=ClientState(query_string='', page_script_hash='')).SerializeToString())
        seen = b''
        while True:
            raw = ws.recv()
            if isinstance(raw, str): continue
            seen += raw
            msg = ForwardMsg(); msg.ParseFromString(raw)
            if msg.WhichOneof('type') == 'script_finished': return seen
    finally: ws.close()


def test_app_session_from_another_site_is_refused(tmp_path):
    """Item 1 for the app: a session opened by a page on http://localhost:18102 (an origin Streamlit's own WebSocket
    check lets through, its host being 'localhost') is refused by the app; one from the app's own origin opens the tabs."""
    port = PORTS['app']
    proc = start_app(tmp_path, port, FACENB_DB=str(tmp_path / 'g.db'))
    try:
        foreign, own = app_session(port, f'http://localhost:{PORTS["evil page"]}'), app_session(port, f'http://127.0.0.1:{port}')
    finally: stop(proc)
    assert b'Refused: this session was opened from a page on' in foreign and b'Recognise' not in foreign
    assert b'Refused' not in own and b'Recognise' in own
