"""facenb's defaults against the plain facenet-pytorch pipeline on every CelebA photo of the shared data.

The LFW protocol on a larger set: 10 folds split by identity (no person in two folds), in each fold every genuine
pair of its people and as many impostor pairs drawn at random (seed 0); the threshold chosen on 9 folds, accuracy on
the 10th. Also ROC AUC and TAR at FAR 1e-3 over every pair of photos. Same photos, same CASIA-WebFace weights; a photo
where a pipeline finds no face is embedded from its centre (counted as fallbacks). Embeddings are cached, as for
`facenb eval`.

    FACENB_DATA=../shared/data python scripts/celeba_verification.py     # prints one JSON object last
"""
import json, zlib
import numpy as np
from facenb.core import data_dir
from facenb.data import find_celeba
from facenb.eval import facenb_embed_fn, facenet_pytorch_embed_fn, kfold_accuracy, identity_pairs, roc_auc, tar_at_far

celeba = find_celeba(data_dir() / 'celeba')
photos = [celeba.images / f for f in sorted(celeba.identities)]
labels = np.array([celeba.identities[p.name] for p in photos])
rng = np.random.default_rng(0)
fold_of = np.array([zlib.crc32(str(l).encode()) % 10 for l in labels])  # folds by identity: no person in two folds

def balanced_pairs(labels, folds):
    "Per fold: every genuine pair of its people, and as many impostor pairs drawn at random inside the fold."
    I, J, F = [], [], []
    for k in range(10):
        idx = np.flatnonzero(folds == k)
        i, j = np.triu_indices(len(idx), 1); i, j = idx[i], idx[j]
        g = labels[i] == labels[j]
        imp = rng.choice(np.flatnonzero(~g), g.sum(), replace=False)
        sel = np.concatenate([np.flatnonzero(g), imp])
        I += [i[sel]]; J += [j[sel]]; F += [np.full(len(sel), k)]
    return np.concatenate(I), np.concatenate(J), np.concatenate(F)

I, J, F = balanced_pairs(labels, fold_of)
same = labels[I] == labels[J]
out = {'photos': len(photos), 'identities': len(set(labels)), 'pairs': int(len(I)), 'genuine': int(same.sum())}
for name, fn in [('facenb', facenb_embed_fn(show=True)), ('facenet-pytorch', facenet_pytorch_embed_fn(show=True))]:
    emb, fb = fn(photos)
    sims = np.sum(emb[I] * emb[J], 1)
    accs, _ = kfold_accuracy(sims, same, F)
    all_s, all_same = identity_pairs(labels, emb)
    out[name] = {'accuracy': round(float(accs.mean()), 4), 'accuracy_std': round(float(accs.std()), 4),
                 'auc_all_pairs': round(roc_auc(all_s, all_same), 4), 'tar_at_far_1e-3_all_pairs': round(tar_at_far(all_s, all_same, 1e-3)[0], 4),
                 'fallbacks': int(np.sum(fb))}
    print(name, out[name], flush=True)
print(json.dumps(out))
