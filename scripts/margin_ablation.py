"""How much context around MTCNN's box the FaceNet crop should keep: the margin crop with each margin given, measured
on every pair of the shared CelebA photos (all 299 identities; TAR at FAR 1e-3 and AUC) and on the LFW-format sample
(the LFW protocol). The library's default is `facenb.embed.MARGIN`.

    FACENB_DATA=../shared/data python scripts/margin_ablation.py 16 32 44     # one line per margin, JSON last
"""
import sys, json
import numpy as np
from pathlib import Path
from facenb.eval import *
from facenb.eval import _shape
from facenb.embed import Embedder, margin_transform, _warp, ALIGN_SIZE
from facenb.core import load_image, data_dir

class MarginEmbedder(Embedder):
    def __init__(self, margin, **kw):
        super().__init__(**kw); self.margin = margin
    def align(self, image, face):
        return _warp(load_image(image), margin_transform(face.box, ALIGN_SIZE, self.margin), ALIGN_SIZE)

root = data_dir()
lfw_root = root / 'lfw_format_sample'; pairs = read_pairs(lfw_root / 'pairs.txt')
celeba = root / 'celeba'; ids = read_celeba_identities(celeba)
photos = [celeba / 'img_celeba' / f for f in sorted(ids)]
det, p_min = permissive_detector('mtcnn')
found, _ = detections(photos, det, show=False)
chosen = [central_face(f, _shape(p), p_min) for f, p in zip(found, photos)]
ok = [i for i, c in enumerate(chosen) if c is not None]
labels = np.array([ids[photos[i].name] for i in ok])
out = {}
for m in [int(a) for a in sys.argv[1:]]:
    emb = MarginEmbedder(m)
    e = face_embeddings([photos[i] for i in ok], [chosen[i] for i in ok], emb, show=False)
    sims, same = identity_pairs(labels, e)
    r = evaluate_lfw(lfw_root, pairs, facenb_embed_fn(embedder=emb))
    d = r.to_dict()
    out[m] = {'celeba_tar_at_far_1e-3': round(calibrate(sims, same, 1e-3)['tar'], 4),
              'celeba_auc': round(float(roc_auc(sims, same)), 4),
              **{k: d[k] for k in ('accuracy', 'accuracy_std', 'auc', 'tar_at_far_1e-3', 'fallbacks')}}
    print(m, out[m], flush=True)
print(json.dumps(out))
