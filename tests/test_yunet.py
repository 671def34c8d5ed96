"YuNet backends on the shared sample photos: our decoding against OpenCV's, the faces the issue names, landmarks to align on."
import shutil
import numpy as np
import pytest

from facenb.core import iou, load_image
from facenb.detect import get_detector
from facenb.models.yunet import WeightsNotFound, YuNetDetector, yunet_file
from conftest import facenb


def photos(samples):
    return sorted(p for d in ('people', 'queries', 'misc') for p in (samples / d).rglob('*') if p.suffix.lower() in ('.jpg', '.jpeg', '.png'))


@pytest.mark.parametrize('name', ['yunet'])
def test_agrees_with_opencv(samples, name):
    "ONNX Runtime + facenb's decoding and cv2.FaceDetectorYN on the same file: the same faces on every sample photo, to 0.01 px."
    ours = get_detector(name, threshold=0.3, max_side=None, landmarks='yunet')
    theirs = get_detector(name, threshold=0.3, max_side=None, landmarks='yunet', runtime='opencv')
    compared = 0
    for p in photos(samples):
        image = load_image(p)
        a, b = ours.detect(image), theirs.detect(image)
        assert len(a) == len(b), (p.name, len(a), len(b))
        for x, y in zip(a, b):
            assert np.abs(np.subtract(x.box, y.box)).max() < 0.01, (p.name, x.box, y.box)
            assert np.abs(np.subtract(x.landmarks, y.landmarks)).max() < 0.01, p.name
            assert abs(x.probability - y.probability) < 1e-4, p.name
        compared += len(a)
    assert compared >= 20, compared


def test_sample_faces(samples):
    "Every face of multiface.jpg, both of two_people.jpg, the three in obama_and_biden.jpg; each where MTCNN puts it."
    expected = {'misc/multiface.jpg': 6, 'misc/two_people.jpg': 2, 'queries/obama_and_biden.jpg': 3}
    yunet, mtcnn = get_detector('yunet'), get_detector('mtcnn')
    for name, n in expected.items():
        image = load_image(samples / name)
        found = yunet.detect(image)
        assert len(found) == n, (name, [(f.box, f.probability) for f in found])
        clear = [m for m in mtcnn.detect(image) if m.probability > 0.95]
        assert len(clear) == n and all(max(iou(m.box, f.box) for f in found) > 0.6 for m in clear), name


def test_no_false_faces_on_sample_photos(samples):
    "On every sample photo, no YuNet face away from all of MTCNN's faces (MTCNN's own threshold lowered to 0.5)."
    yunet, mtcnn = get_detector('yunet'), get_detector('mtcnn', threshold=0.5)
    extra = []
    for p in photos(samples):
        image = load_image(p)
        ref = mtcnn.detect(image)
        extra += [(p.name, f.box, f.probability) for f in yunet.detect(image) if max((iou(f.box, m.box) for m in ref), default=0) < 0.3]
    assert not extra, extra


def test_landmarks_in_mtcnn_order_and_onet_closer(samples):
    "Landmarks in MTCNN's order (left-of-picture eye and mouth corner first); ONet's points nearer MTCNN's than YuNet's own."
    plain, refined, mtcnn = get_detector('yunet', landmarks='yunet'), get_detector('yunet'), get_detector('mtcnn')  # ONet: the default
    gaps = {'yunet': [], 'onet': []}
    for p in photos(samples):
        image = load_image(p)
        for m in mtcnn.detect(image):
            pairs = [(k, max(d.detect(image), key=lambda f: iou(f.box, m.box), default=None)) for k, d in (('yunet', plain), ('onet', refined))]
            if any(f is None or iou(f.box, m.box) < 0.5 for _, f in pairs): continue
            for k, f in pairs:
                (rx, _), (lx, _), _, (mrx, _), (mlx, _) = f.landmarks
                assert rx < lx and mrx < mlx, (p.name, k, f.landmarks)
                gaps[k].append(np.abs(np.subtract(f.landmarks, m.landmarks)).mean() / m.size)
    assert len(gaps['yunet']) >= 20
    assert np.mean(gaps['onet']) < 0.6 * np.mean(gaps['yunet']) and np.mean(gaps['onet']) < 0.03, {k: np.mean(v) for k, v in gaps.items()}


def test_never_enlarged_and_shrunk_above_max_side(samples):
    "A photo under max_side is searched at its own size; one above it is shrunk, and its faces come back in its own pixels."
    image = load_image(samples / 'misc/two_people.jpg')  # 1126 x 661
    own = YuNetDetector(max_side=None).detect(image)
    test = YuNetDetector(max_side=2000).detect(image)
    assert [f.box for f in own] == [f.box for f in test]   # 2000 > 1126: not enlarged
    half = YuNetDetector(max_side=563).detect(image)
    assert len(half) == len(own) and all(iou(a.box, b.box) > 0.8 for a, b in zip(own, half))


def test_missing_or_altered_weights_say_what(tmp_path):
    "The loader names the missing file and says nothing is downloaded; a changed file is refused by its SHA-256."
    with pytest.raises(WeightsNotFound, match=r'yunet_n_dynamic\.onnx not found .*never downloads'): yunet_file('n', folder=tmp_path)
    bad = tmp_path / 'yunet_n_dynamic.onnx'
    shutil.copy(yunet_file('n'), bad); bad.write_bytes(bad.read_bytes()[:-1] + b'\0')
    with pytest.raises(WeightsNotFound, match='sha256'): yunet_file('n', folder=tmp_path)


def test_eval_wider_yunet(data):
    "`facenb eval wider --detector yunet` on 6 photos of the WIDER sample: at least MTCNN's AP there."
    root = data / 'wider_face_dev'; gt = root / 'wider_face_split/wider_face_val_bbx_gt.txt'
    if not gt.is_file(): pytest.skip(f'no WIDER FACE sample in {data}')
    import json
    ap = {d: json.loads(facenb('eval', 'wider', root, gt, '--limit', '6', '--detector', d, '--json', '--quiet', check=0).stdout.strip().splitlines()[-1])['ap_all']
          for d in ('yunet', 'mtcnn')}
    assert ap['yunet'] >= ap['mtcnn'] and ap['yunet'] > 0.3, ap
