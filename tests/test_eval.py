"`facenb eval lfw` and `facenb eval wider` through the command line, and the evaluation caches, on small subsets of the shared data."
import json, os, pickle, signal
import numpy as np
import pytest

from facenb.core import Face, load_image
from facenb.detect import Detector, get_detector
from facenb.eval import ResultCache, central_faces, default_embedder, facenb_embed_fn

from conftest import facenb

LFW_KEYS = {'accuracy', 'accuracy_std', 'auc', 'tar_at_far_1e-3', 'threshold', 'fallbacks'}
WIDER_KEYS = {'ap_easy', 'ap_medium', 'ap_hard', 'ap_all', 'ms_per_image'}


def last_json(out: str) -> dict: return json.loads(out.strip().splitlines()[-1])


@pytest.fixture(scope='module')
def lfw(data):
    root = data / 'lfw_format_sample'
    if not (root / 'pairs.txt').is_file(): pytest.skip(f'no LFW-format sample in {data}')
    return root


@pytest.fixture(scope='module')
def wider(data):
    root = data / 'wider_face_dev'
    gt = root / 'wider_face_split/wider_face_val_bbx_gt.txt'
    if not gt.is_file(): pytest.skip(f'no WIDER FACE sample in {data}')
    return root, gt


def test_eval_lfw_subset(lfw):
    r = facenb('eval', 'lfw', lfw, lfw / 'pairs.txt', '--pairs-per-fold', '3', '--json', '--quiet', check=0)
    d = last_json(r.stdout)
    assert LFW_KEYS <= set(d)
    assert d['pairs'] == 60 and d['folds'] == 10
    assert d['accuracy'] > 0.8 and d['auc'] > 0.85 and 0 <= d['accuracy_std'] < 0.2
    assert 0 <= d['tar_at_far_1e-3'] <= 1 and -1 < d['threshold'] < 1
    assert 0 <= d['fallbacks'] < 10
    assert 'accuracy' in r.stdout.splitlines()[1]   # the line a person reads comes first


def test_eval_wider_subset(wider, tmp_path):
    root, gt = wider
    png = tmp_path / 'pr.png'
    r = facenb('eval', 'wider', root, gt, '--limit', '6', '--json', '--quiet', '--plot', png, check=0)
    d = last_json(r.stdout)
    assert WIDER_KEYS <= set(d)
    assert d['ap_easy'] is None and d['ap_medium'] is None and d['ap_hard'] is None   # no .mat files given
    assert 0.2 < d['ap_all'] <= 1 and d['ms_per_image'] > 0 and d['photos'] == 6
    assert png.stat().st_size > 1000


@pytest.mark.parametrize('case', ['missing root', 'bad pairs'])
def test_eval_lfw_bad_input(case, lfw, tmp_path):
    bad = tmp_path / 'pairs.txt'; bad.write_text('10 300\nAnn 1 2\n')
    args = {'missing root': (tmp_path / 'nowhere', lfw / 'pairs.txt'), 'bad pairs': (lfw, bad)}[case]
    r = facenb('eval', 'lfw', *args, '--quiet')
    assert r.returncode == 1 and r.stderr.startswith('facenb: error:') and len(r.stderr.strip().splitlines()) == 1, r


class MovedPoints(Detector):
    "MTCNN's boxes with the five landmarks moved `dx` pixels right: another landmark stage behind the same boxes."
    name, gives_landmarks, threshold = 'mtcnn-moved-points', True, 0.95
    def __init__(self, dx: float): self.dx, self.base = dx, get_detector('mtcnn', threshold=0.0)
    def detect(self, image):
        return [Face(f.box, f.probability, None if f.landmarks is None else tuple((x + self.dx, y) for x, y in f.landmarks))
                for f in self.base.detect(image)]


def test_embedding_cache_keys_landmarks(lfw, tmp_path, monkeypatch):
    "Two detectors with equal boxes and other landmarks get their own embeddings; a second run of one is answered by the cache."
    monkeypatch.setenv('FACENB_CACHE', str(tmp_path))   # a cold cache of this test's own
    photos = sorted(lfw.rglob('*.jpg'))[:4]
    emb = default_embedder()
    assert emb.align_mode == 'similarity'   # the default model aligns on the landmarks
    embedded = []
    real_embed_crops = emb.embed_crops
    def counting(crops): embedded.append(len(crops)); return real_embed_crops(crops)
    monkeypatch.setattr(emb, 'embed_crops', counting)
    plain, moved = MovedPoints(0), MovedPoints(4)
    faces = {d.dx: central_faces(photos, d, 0.95) for d in (plain, moved)}
    assert all(a is not None for a in faces[0])
    assert [f.box for f in faces[0]] == [f.box for f in faces[4]]   # equal boxes
    assert [f.landmarks for f in faces[0]] != [f.landmarks for f in faces[4]]   # other landmarks
    truth = {dx: np.concatenate([real_embed_crops(np.stack([emb.align(load_image(p), f)])) for p, f in zip(photos, fs)])
             for dx, fs in faces.items()}
    assert np.abs(truth[0] - truth[4]).max() > 1e-2   # the moved points do change the embeddings
    e_plain, fell = facenb_embed_fn(plain, emb)(photos)
    assert not fell.any() and sum(embedded) == len(photos)
    e_moved, _ = facenb_embed_fn(moved, emb)(photos)
    np.testing.assert_allclose(e_plain, truth[0], atol=1e-4)
    np.testing.assert_allclose(e_moved, truth[4], atol=1e-4)   # not the plain detector's embeddings
    assert sum(embedded) == 2 * len(photos)   # the moved points were embedded, not taken from the cache
    again, _ = facenb_embed_fn(moved, emb)(photos)
    assert sum(embedded) == 2 * len(photos)   # the second run of the same detector: every embedding from the cache
    np.testing.assert_array_equal(again, e_moved)


@pytest.mark.skipif(not hasattr(os, 'fork'), reason='needs os.fork')
def test_cache_killed_mid_write(tmp_path, monkeypatch):
    "Runs killed (SIGKILL) in the middle of writing a record leave a cache whose entries read back are exactly those saved whole."
    import facenb.eval
    value = lambda i: np.full(1000, i, np.int32)
    class Torn:
        "A file that writes the first `cut` bytes of a record, then kills its process."
        def __init__(self, f, cut): self.f, self.cut = f, cut
        def __enter__(self): return self
        def __exit__(self, *a): self.f.close()
        def __getattr__(self, k): return getattr(self.f, k)
        def write(self, b): self.f.write(b[:self.cut]); self.f.flush(); os.kill(os.getpid(), signal.SIGKILL)
    frame = 8 + len(pickle.dumps({'torn': value(-1)}, protocol=pickle.HIGHEST_PROTOCOL))
    cuts = [0, 3, 8, 9, 100, frame // 2, frame - 1]   # before it, inside the length and checksum, inside the pickle, one byte short
    for run, cut in enumerate(cuts):
        pid = os.fork()
        if pid == 0:   # a run that saves two entries, then is killed while it writes the third
            try:
                c = ResultCache('killed', {'test': 1}, folder=tmp_path)
                for i in range(len(c), len(c) + 2): c[f'k{i}'] = value(i); c.save()
                real_open = open
                monkeypatch.setattr(facenb.eval, 'open', lambda *a: Torn(real_open(*a), cut), raising=False)
                c['torn'] = value(-1); c.save()
            finally: os._exit(0)
        _, status = os.waitpid(pid, 0)
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
        c = ResultCache('killed', {'test': 1}, folder=tmp_path)
        assert c.path.stat().st_size == c.end + cut   # the torn record is on disk ...
        assert set(c.data) == {f'k{i}' for i in range(2 * run + 2)}   # ... not read, and each run's first save cut the one before off
        assert all(np.array_equal(c[f'k{i}'], value(i)) for i in range(len(c)))
