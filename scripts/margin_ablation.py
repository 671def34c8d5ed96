"""How much context around MTCNN's box the FaceNet crop should keep: `Embedder(margin=m)` for each margin given,
measured on every pair of the shared CelebA photos (all 299 identities; TAR at FAR 1e-3 and AUC) and on the
LFW-format sample (the LFW protocol). The library's default is `facenb.embed.MARGIN`.

    FACENB_DATA=../shared/data python scripts/margin_ablation.py 16 32 44     # one line per margin, JSON last
"""
import sys, json
import numpy as np
from facenb.core import data_dir
from facenb.data import find_celeba
from facenb.embed import Embedder
from facenb.eval import (central_faces, permissive_detector, face_embeddings, identity_pairs, calibrate, roc_auc,
                         read_pairs, evaluate_lfw, facenb_embed_fn)

root = data_dir()
lfw_root = root / 'lfw_format_sample'; pairs = read_pairs(lfw_root / 'pairs.txt')
celeba = find_celeba(root / 'celeba')
photos = [celeba.images / f for f in sorted(celeba.identities)]
chosen = central_faces(photos, *permissive_detector('mtcnn'))
ok = [i for i, c in enumerate(chosen) if c is not None]
labels = np.array([celeba.identities[photos[i].name] for i in ok])
out = {}
for m in [int(a) for a in sys.argv[1:]]:
    emb = Embedder(margin=m)
    sims, same = identity_pairs(labels, face_embeddings([photos[i] for i in ok], [chosen[i] for i in ok], emb))
    d = evaluate_lfw(lfw_root, pairs, facenb_embed_fn(embedder=emb)).to_dict()
    out[m] = {'celeba_tar_at_far_1e-3': round(calibrate(sims, same, 1e-3)['tar'], 4),
              'celeba_auc': round(float(roc_auc(sims, same)), 4),
              **{k: d[k] for k in ('accuracy', 'accuracy_std', 'auc', 'tar_at_far_1e-3', 'fallbacks')}}
    print(m, out[m], flush=True)
print(json.dumps(out))
