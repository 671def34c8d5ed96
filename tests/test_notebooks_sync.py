"The notebooks are the source: `facenb/` must be exactly what `nbdev_export` makes of them, and the test flags must be there."
import json, shutil, subprocess, sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NBS = sorted((ROOT / 'nbs').glob('*.ipynb'))


def _sources(nb: Path) -> list[str]:
    return [''.join(c['source']) for c in json.loads(nb.read_text())['cells'] if c['cell_type'] == 'code']


def test_export_reproduces_the_package(tmp_path):
    for name in ('settings.ini', 'nbs', 'facenb'):
        src = ROOT / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, tmp_path / name)
    exe = Path(sys.executable).with_name('nbdev_export')
    subprocess.run([str(exe)], cwd=tmp_path, check=True, capture_output=True, text=True)
    ours = {str(p.relative_to(ROOT / 'facenb')) for p in (ROOT / 'facenb').rglob('*.py')}
    made = {str(p.relative_to(tmp_path / 'facenb')) for p in (tmp_path / 'facenb').rglob('*.py')}
    stale = [n for n in sorted(ours) if (tmp_path / 'facenb' / n).read_text() != (ROOT / 'facenb' / n).read_text()]
    new = sorted(made - ours)
    assert not stale and not new, f'facenb/ is out of step with nbs/: run nbdev_export (differs: {stale}, missing: {new})'


@pytest.mark.parametrize('nb', [n for n in NBS if n.name != 'index.ipynb'], ids=lambda p: p.name)
def test_every_module_notebook_exports(nb):
    "A notebook that lost its `#| export` lines would export an empty module: each one names its module and exports code."
    srcs = _sources(nb)
    assert any(s.startswith('#| default_exp') for s in srcs), f'{nb.name}: no #| default_exp'
    assert sum(s.startswith('#| export') for s in srcs) >= 2, f'{nb.name}: fewer than two #| export cells'


# Cells that need a local camera, or run for minutes to hours, and the flag that keeps each out of `nbdev_test`.
FLAGGED = [('08_video.ipynb', 'read_frames(0', 'camera'), ('09_widgets.ipynb', 'demo.live.value = True', 'camera'),
           ('09a_camera_widget.ipynb', 'cam.running = True', 'camera'),
           ('04_train.ipynb', "out='runs/custom'", 'slow'), ('02_data.ipynb', 'celeba_boxes(celeba, limit=None', 'slow'),
           ('10_eval.ipynb', 'facenet_pytorch_embed_fn(show=True)', 'slow'), ('10_eval.ipynb', 'evaluate_wider(wider_root, wider_gt, show=True)', 'slow'),
           ('04a_train_multiface.ipynb', "'--out', 'runs/multiface'", 'slow')]


@pytest.mark.parametrize('nb,snippet,flag', FLAGGED, ids=[f'{n}:{f}' for n, _, f in FLAGGED])
def test_camera_and_slow_cells_are_flagged(nb, snippet, flag):
    cells = [s for s in _sources(ROOT / 'nbs' / nb) if snippet in s]
    assert cells, f'{nb}: no cell with {snippet!r}'
    for s in cells: assert f'#| {flag}' in s.splitlines(), f'{nb}: the cell with {snippet!r} lacks #| {flag}'
