"BlazeFace backends on the shared sample photos: the faces MTCNN finds, at the same place."
import numpy as np
import pytest

from facenb.core import iou, load_image
from facenb.detect import get_detector

pytest.importorskip('ai_edge_litert', reason='ai-edge-litert (the TFLite runtime) is not installed')


def photos(samples):
    return sorted(p for d in ('people', 'queries', 'misc') for p in (samples / d).rglob('*') if p.suffix.lower() in ('.jpg', '.jpeg', '.png'))


@pytest.mark.parametrize('name', ['blazeface', 'blazeface-full'])
def test_boxes_agree_with_mtcnn(samples, name):
    "Every face MTCNN finds that spans at least a tenth of the photo is found by BlazeFace at IoU >= 0.5 (mean >= 0.8); no extra such face scoring 0.75 or more."
    # (the short-range model scores the White House seal behind Obama in queries/obama1.jpg 0.71)
    mtcnn, det = get_detector('mtcnn'), get_detector(name)
    ious, extra = [], []
    for p in photos(samples):
        image = load_image(p)
        ref, found = mtcnn.detect(image), det.detect(image)
        for m in ref:
            if m.size < 0.1 * max(image.shape[:2]): continue  # short range misses faces small in the frame by design
            ious.append(max((iou(m.box, f.box) for f in found), default=0.0))
        extra += [(p.name, f.box) for f in found if f.size >= 0.1 * max(image.shape[:2]) and f.probability >= 0.75 and max((iou(f.box, m.box) for m in ref), default=0) < 0.3]
    assert len(ious) >= 20 and min(ious) >= 0.5 and np.mean(ious) >= 0.8, (len(ious), min(ious), np.mean(ious))
    assert not extra, extra


def test_full_range_finds_small_faces(samples):
    "The group photo's six faces (about 80 px in a 1200 px photo): the full-range model finds them all, the short range none."
    image = load_image(samples / 'misc/multiface.jpg')
    ref = get_detector('mtcnn').detect(image)
    full = get_detector('blazeface-full').detect(image)
    assert len(ref) == 6 and all(max(iou(m.box, f.box) for f in full) > 0.5 for m in ref)
    assert get_detector('blazeface').detect(image) == []


def test_landmarks_near_mtcnn(samples):
    "The five landmarks derived from BlazeFace's keypoints lie within 20% of the eye distance of MTCNN's, the eyes within 15%."
    image = load_image(samples / 'people/obama/obama.jpg')
    (m,), (b,) = get_detector('mtcnn').detect(image), get_detector('blazeface').detect(image)
    ml, bl = np.array(m.landmarks), np.array(b.landmarks)
    err = np.linalg.norm(ml - bl, axis=1) / np.linalg.norm(ml[1] - ml[0])
    assert err[:2].max() < 0.15 and err.max() < 0.2, err.round(3)


@pytest.mark.parametrize('name', ['blazeface', 'blazeface-full'])
def test_pytorch_port_equals_the_interpreter(samples, name):
    "The PyTorch port (facenb.formats reader + TFLiteGraph) gives the interpreter's outputs on real photos, and the same faces."
    from facenb.models.blazeface import letterbox
    interp, port = get_detector(name), get_detector(name, runtime='torch')
    for p in ['queries/kit_with_rose.jpg', 'misc/multiface.jpg', 'people/obama/obama2.jpg', 'misc/32bit.png']:
        image = load_image(samples / p)
        square = letterbox(image, interp.spec.size)[0]
        (r1, l1), (r2, l2) = interp.raw(square), port.raw(square)
        assert np.abs(r1 - r2).max() < 1e-3 * np.abs(r1).max() and np.abs(l1 - l2).max() < 1e-2, p
        a, b = interp.detect(image), port.detect(image)
        assert len(a) == len(b) and all(np.allclose(x.box, y.box, atol=0.5) for x, y in zip(a, b)), p
