"""Embedding models side by side on every CelebA photo of the shared data, and on the LFW-format sample.

The LFW protocol on a larger set: 10 folds split by identity (no person in two folds), in each fold every genuine
pair of its people and as many impostor pairs drawn at random (seed 0); the threshold chosen on 9 folds, accuracy on
the 10th. Also ROC AUC and TAR at FAR 1e-3 over every pair of photos. Same photos and the same MTCNN faces for every
model; a photo where no face is found is embedded from its centre (counted as fallbacks). Embeddings are cached, as
for `facenb eval`.

With `--lfw`, each embedder is also run through `facenb eval lfw`'s code on the LFW-format sample (10-fold accuracy,
AUC, TAR at FAR 1e-3). With `--calibrate`, each embedder's threshold at FAR 1e-3 is calibrated as in nbs/10_eval.ipynb
("Calibration"): on every pair of the CelebA people who are not in the LFW-format sample (faces found only), then
checked on the held-out CelebA people and on the LFW-format sample.

    FACENB_DATA=../shared/data python scripts/celeba_verification.py     # facenb's default model and facenet-pytorch
    FACENB_DATA=../shared/data OMP_NUM_THREADS=1 nice python scripts/celeba_verification.py \\
        --embedders facenet mobilefacenet mobilefacenet+flip --no-facenet-pytorch --lfw --calibrate   # BENCHMARKS.md

Each embedder is `NAME` or `NAME+flip` (flip test-time augmentation). With `--detectors`, every embedder is run on the
faces (boxes and landmarks) of each detector in turn, `NAME` or `NAME:OPTION=VALUE,...` as in scripts/wider_compare.py,
e.g. `mtcnn yunet yunet:landmarks=onet` (issue #20: which landmarks to align on). Until the embedding cache's key holds
the landmarks (#24), give each detector its own empty FACENB_CACHE (or run one detector per call). The script prints one
line per detector and embedder and one JSON object last.
"""
import argparse, json, zlib
import numpy as np
from facenb.core import data_dir
from facenb.data import find_celeba
from facenb.eval import (calibrate, threshold_at_far, central_faces, evaluate_lfw, face_embeddings, facenb_embed_fn,
                         facenet_pytorch_embed_fn, identity_pairs, kfold_accuracy, permissive_detector, rates, roc_auc,
                         tar_at_far)

ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
ap.add_argument('--embedders', nargs='+', default=[None], metavar='NAME[+flip]', help="default: the library's default Embedder()")
ap.add_argument('--facenet-pytorch', action=argparse.BooleanOptionalAction, default=True, help='also the plain facenet-pytorch pipeline')
ap.add_argument('--lfw', action='store_true', help='also the LFW-format sample, through `facenb eval lfw` code')
ap.add_argument('--detectors', nargs='+', default=['mtcnn'], metavar='NAME[:OPT=V,...]', help='face detectors whose faces are embedded (default: mtcnn)')
ap.add_argument('--calibrate', action='store_true', help="also each embedder's threshold at FAR 1e-3 (identity-disjoint CelebA)")
args = ap.parse_args()

celeba = find_celeba(data_dir() / 'celeba')
photos = [celeba.images / f for f in sorted(celeba.identities)]
labels = np.array([celeba.identities[p.name] for p in photos])
lfw_root = data_dir() / 'lfw_format_sample'
rng = np.random.default_rng(0)
fold_of = np.array([zlib.crc32(str(l).encode()) % 10 for l in labels])  # folds by identity: no person in two folds

def far_curve(pairs, fars=(1e-3, 5e-4, 2e-4, 1e-4, 5e-5, 2e-5, 1e-5)):
    "The lowest threshold accepting at most each false-accept rate of the impostor pairs."
    sims, same = pairs
    return [(far, round(float(threshold_at_far(np.asarray(sims)[~np.asarray(same, bool)], far)), 4)) for far in fars]


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

def detector_spec(spec):
    "A backend name and its options from `name` or `name:option=value,...`."
    name, _, opts = spec.partition(':')
    def value(v):
        if v == 'None': return None
        for t in (int, float):
            try: return t(v)
            except ValueError: pass
        return v
    return name, {k: value(v) for k, v in (o.split('=') for o in opts.split(',') if o)}

def embedder(spec):
    from facenb.embed import Embedder
    if spec is None: return Embedder()
    name, _, opt = spec.partition('+')
    return Embedder(name, flip=opt == 'flip')

I, J, F = balanced_pairs(labels, fold_of)
same = labels[I] == labels[J]
out = {'photos': len(photos), 'identities': len(set(labels)), 'pairs': int(len(I)), 'genuine': int(same.sum())}
pipelines = [(spec or 'facenb', embedder(spec), det) for det in args.detectors for spec in args.embedders]
if args.facenet_pytorch: pipelines.append(('facenet-pytorch', None, None))
for name, emb, det in pipelines:
    det_name, det_kw = detector_spec(det) if det else (None, {})
    if det and args.detectors != ['mtcnn']: name = f'{det}/{name}'
    fn = facenb_embed_fn(det_name, embedder=emb, show=True, **det_kw) if emb is not None else facenet_pytorch_embed_fn(show=True)
    e, fb = fn(photos)
    sims = np.sum(e[I] * e[J], 1)
    accs, _ = kfold_accuracy(sims, same, F)
    all_s, all_same = identity_pairs(labels, e)
    r = {'accuracy': round(float(accs.mean()), 4), 'accuracy_std': round(float(accs.std()), 4),
         'auc_all_pairs': round(roc_auc(all_s, all_same), 4), 'tar_at_far_1e-3_all_pairs': round(tar_at_far(all_s, all_same, 1e-3)[0], 4),
         'fallbacks': int(np.sum(fb))}
    if emb is not None: r['model'] = emb.model_name
    if args.lfw or args.calibrate:
        lfw = evaluate_lfw(lfw_root, lfw_root / 'pairs.txt', fn)
        if args.lfw: r['lfw_format_sample'] = {k: v for k, v in lfw.to_dict().items() if k in ('accuracy', 'accuracy_std', 'auc', 'tar_at_far_1e-3', 'threshold', 'fallbacks')}
    if args.calibrate and emb is not None:   # as nbs/10_eval.ipynb, "Calibration"
        chosen = central_faces(photos, *permissive_detector(det_name, **det_kw), show=True)
        ok = [i for i, c in enumerate(chosen) if c is not None]
        ce = face_embeddings([photos[i] for i in ok], [chosen[i] for i in ok], emb, show=True)
        cl = labels[ok]
        lfw_people = {int(d.name.split('_')[1]) for d in lfw_root.iterdir() if d.is_dir()}  # Celeb_7399 -> 7399
        held_out = np.isin(cl, list(lfw_people))
        cal = calibrate(*identity_pairs(cl[~held_out], ce[~held_out]), far=1e-3)
        t = round(cal['threshold'], 2)
        r['calibration'] = {'no face found': len(photos) - len(ok), 'calibration (exact)': cal,
                            'calibration (rounded)': {'threshold': t, **rates(*identity_pairs(cl[~held_out], ce[~held_out]), t)},
                            'held-out CelebA': {'threshold': t, **rates(*identity_pairs(cl[held_out], ce[held_out]), t)},
                            'LFW-format sample': {'threshold': t, **rates(lfw.sims, lfw.same, t)},
                            # stricter operating points (archives: facenb.archive.archive_threshold), on the calibration pairs
                            'far curve': far_curve(identity_pairs(cl[~held_out], ce[~held_out]))}
    out[name] = r
    print(name, json.dumps(r, default=float), flush=True)
print(json.dumps(out, default=float))
