"The app's door: on an address beyond localhost (or with FACENB_APP_REQUIRE_PASSWORD=1) nothing shows before the password."
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from facenb.access import hash_password, password_required

APP = Path(__file__).resolve().parents[1] / 'app.py'


@pytest.fixture
def exposed(tmp_path, monkeypatch):
    "The app as if it listened beyond localhost, on an empty gallery, with no password file."
    monkeypatch.setenv('FACENB_DB', str(tmp_path / 'g.db'))
    monkeypatch.setenv('FACENB_APP_PASSWORD_FILE', str(tmp_path / 'app_password'))
    monkeypatch.setenv('FACENB_APP_REQUIRE_PASSWORD', '1')
    monkeypatch.delenv('FACENB_APP_PASSWORD_HASH', raising=False)
    return tmp_path


def run_app() -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=300)
    at.run()
    assert not at.exception, at.exception
    return at


def test_exposed_means_password():
    assert password_required('0.0.0.0') and password_required(None) and password_required('192.168.1.20')
    assert not password_required('127.0.0.1') and not password_required('localhost')


def test_no_password_set_shows_nothing(exposed):
    at = run_app()
    assert len(at.tabs) == 0 and not at.text_input
    assert 'facenb app-password' in at.error[0].value


def test_password_form(exposed, monkeypatch):
    monkeypatch.setenv('FACENB_APP_PASSWORD_HASH', hash_password('correct horse battery'))
    at = run_app()
    assert len(at.tabs) == 0 and [t.label for t in at.text_input] == ['Password']
    at.text_input[0].input('wrong password'); at.button[0].click(); at.run()
    assert [e.value for e in at.error] == ['Wrong password.'] and len(at.tabs) == 0
    at.text_input[0].input('correct horse battery'); at.button[0].click(); at.run()
    assert not at.exception and 'Recognise' in [t.label for t in at.tabs]
    assert any(c.value.startswith('Gallery:') for c in at.sidebar.caption)


def test_password_file_from_the_command_line(exposed):
    import subprocess, sys, os
    exe = Path(sys.executable).with_name('facenb')
    r = subprocess.run([str(exe), 'app-password'], input='correct horse battery\n', capture_output=True, text=True,
                       env={**os.environ})
    assert r.returncode == 0, r.stderr
    from facenb.access import check_password, stored_hash
    assert (exposed / 'app_password').stat().st_mode & 0o777 == 0o600
    assert check_password('correct horse battery', stored_hash()) and 'correct horse' not in (exposed / 'app_password').read_text()
    r = subprocess.run([str(exe), 'app-password', '--print'], input='short\n', capture_output=True, text=True)
    assert r.returncode == 1 and 'at least 8' in r.stderr
