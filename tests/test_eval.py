"`facenb eval lfw` and `facenb eval wider` through the command line, on small subsets of the shared data."
import json
import pytest

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
