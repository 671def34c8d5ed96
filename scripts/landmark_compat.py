"""Is an embedding made through one detector's face the same as through another's? (issue #20: gallery compatibility)

For every CelebA photo of the shared data where both detectors find the central face, the photo is embedded twice by
each model: once aligned on detector A's face (box and landmarks), once on B's; the cosine similarity of the two
embeddings of the same photo is what an old gallery entry (A) scores against a new query of the same photo (B). Set
against the model's threshold and against genuine pairs (different photos of one person, both through A) it says
whether a gallery enrolled through A keeps working when queries go through B. Also the cost per face of each.

    FACENB_DATA=../shared/data OMP_NUM_THREADS=1 python scripts/landmark_compat.py --a mtcnn --b yunet:landmarks=onet yunet:landmarks=yunet
"""
import argparse, json, time
import numpy as np
from facenb.core import data_dir, load_image
from facenb.data import find_celeba
from facenb.detect import get_detector
from facenb.embed import Embedder
from facenb.eval import central_face, identity_pairs

def spec(s):
    name, _, opts = s.partition(':')
    return name, {k: v for k, v in (o.split('=') for o in opts.split(',') if o)}

ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
ap.add_argument('--a', default='mtcnn'); ap.add_argument('--b', nargs='+', default=['yunet:landmarks=onet', 'yunet:landmarks=yunet'])
ap.add_argument('--models', nargs='+', default=['mobilefacenet', 'facenet']); ap.add_argument('--limit', type=int, default=800)
a = ap.parse_args()
celeba = find_celeba(data_dir() / 'celeba')
photos = [celeba.images / f for f in sorted(celeba.identities)][:a.limit]
labels = np.array([celeba.identities[p.name] for p in photos])
dets = {s: get_detector(n, **kw) for s, (n, kw) in ((s, spec(s)) for s in [a.a, *a.b])}
faces = {s: [] for s in dets}; secs = {s: [] for s in dets}
for p in photos:
    im = load_image(p)
    for s, d in dets.items():
        t = time.perf_counter(); found = d.detect(im); secs[s].append(time.perf_counter() - t)
        faces[s].append(central_face(found, im.shape))
ok = [i for i in range(len(photos)) if all(faces[s][i] is not None for s in dets)]
out = {'photos': len(photos), 'both found': len(ok), 'ms per photo (median)': {s: round(1e3 * float(np.median(v)), 2) for s, v in secs.items()}}
for m in a.models:
    emb = Embedder(m)
    e = {s: np.concatenate([emb.embed(load_image(photos[i]), [faces[s][i]]) for i in ok]) for s in dets}
    sims, same = identity_pairs(labels[ok], e[a.a])
    gen = sims[same]
    r = {'threshold': emb.threshold, 'genuine pairs through A: median': round(float(np.median(gen)), 4),
         'genuine pairs through A: share >= threshold': round(float(np.mean(gen >= emb.threshold)), 4)}
    for s in a.b:
        self_sim = np.sum(e[a.a] * e[s], 1)
        # genuine pairs with one side through A (the gallery) and the other through B (the query)
        n = len(ok); i, j = np.triu_indices(n, 1); g = labels[ok][i] == labels[ok][j]
        mixed = np.sum(e[a.a][i[g]] * e[s][j[g]], 1)
        r[s] = {'same photo A vs B: median': round(float(np.median(self_sim)), 4), 'p1': round(float(np.percentile(self_sim, 1)), 4),
                'p5': round(float(np.percentile(self_sim, 5)), 4), 'min': round(float(self_sim.min()), 4),
                'genuine pairs A vs B: median': round(float(np.median(mixed)), 4),
                'genuine pairs A vs B: share >= threshold': round(float(np.mean(mixed >= emb.threshold)), 4)}
    out[m] = r
    print(m, json.dumps(r), flush=True)
print(json.dumps(out))
