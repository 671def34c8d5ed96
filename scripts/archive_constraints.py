"""Clusters with and without cannot-links, and thresholds from same-photo pairs, on archives of the shared data.

Three archives are written with facenb's own indexing code (`facenb.archive._write_results`, the writer of `facenb
index`) from cached MTCNN detections (every face, as `facenb index` finds them) and MobileFaceNet embeddings:

- `celeba`: every CelebA photo (3,707), like `facenb index ../shared/data/celeba/img_celeba`, with 20 people enrolled
  from one photo each as in `scripts/archive_celeba.py`;
- `groups`: 1,000 CelebA group pictures of 2-6 different people (the pictures of `scripts/group_photos.py`, each
  face embedded from its own photo), nobody enrolled;
- `wider`: the 305 WIDER FACE photos of the shared sample (real group photos, no identities).

Clusters (`facenb.cluster.cluster_sightings`, average linkage at the recognition threshold) with `constraints=False`
(scikit-learn, as before) and `constraints=True` (two faces of one photo never grouped): groups, purity and share
clustered against the identity of each face (CelebA: each photo's largest face; groups: every face), and how many
groups held two faces of one photo. Calibration (`facenb.eval.calibrate_archive`): the threshold for FAR 1e-3 from
the pairs of faces of one photo (WIDER also for faces of at least 20, 40 and 60 px only; where 1e-3 is refused, the FAR
of 0.471 and the threshold at 1e-2 from the same pairs), with the pair count and the FAR
of the threshold in use, beside the labelled one
(CelebA: every pair of faces of two different identities in the archive; the shipped threshold comes from
identity-disjoint CelebA pairs).

    FACENB_DATA=../shared/data OMP_NUM_THREADS=1 python scripts/archive_constraints.py
"""
from __future__ import annotations
import argparse, json, sys, tempfile, time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from facenb.core import data_dir
from facenb.data import find_celeba
from facenb.detect import get_detector
from facenb.embed import Embedder
from facenb.eval import detections, face_embeddings, threshold_at_far, calibrate_archive, identity_pairs, same_photo_pairs
from facenb.archive import PhotoResult, _write, _write_results, _person_ids, matcher, _read, sightings, refresh_names
from facenb.store import Gallery, _connect
from facenb.recognize import Recognizer
from facenb.cluster import cluster_sightings, cluster_quality
import group_photos


def every_face(paths, emb):
    "Cached detections of `paths` and the embedding of every face: (faces per photo, embeddings per photo)."
    found, _ = detections(paths, get_detector('mtcnn'), show=True)
    flat_p = [p for p, fs in zip(paths, found) for _ in fs]
    flat_f = [f for fs in found for f in fs]
    e = face_embeddings(flat_p, flat_f, emb, show=True)
    out, k = [], 0
    for fs in found: out.append(e[k:k + len(fs)]); k += len(fs)
    return found, out


def _moved(face, dx: float):
    "`face` moved `dx` pixels right: the faces of a group picture side by side, as in a tiled picture (boxes apart)."
    from facenb.core import Face
    x1, y1, x2, y2 = face.box
    return Face((x1 + dx, y1, x2 + dx, y2), face.probability, None if face.landmarks is None else tuple((x + dx, y) for x, y in face.landmarks))


def write_archive(db: Path, items, model: str):
    "Write (path, faces, embeddings) items as indexed photos of `db`, named by the gallery's people."
    g = Gallery(db)
    namer = matcher(g, model)
    with _connect(g.path) as con: ids = _person_ids(con)
    for start in range(0, len(items), 200):
        results = [PhotoResult(str(p), f'hash-{p}', 0, 0, list(fs), e if len(fs) else None) for p, fs, e in items[start:start + 200]]
        with _write(g.path) as con: _write_results(con, results, model, namer, ids)
    refresh_names(g, force=True)
    return g


def clusters(g: Gallery, labels: dict, min_sizes=(2, 3, 5)) -> dict:
    out = {}
    for k in min_sizes:
        for constraints in (False, True):
            t = time.perf_counter()
            q = cluster_quality(cluster_sightings(g, min_size=k, constraints=constraints), labels)
            q['seconds'] = round(time.perf_counter() - t, 1)
            out[f'min size {k}, {"with" if constraints else "without"} cannot-links'] = q
            print(json.dumps({f'{k} {constraints}': q}), flush=True)
    return out


def calibration(g: Gallery, labelled: float | None = None, min_face: float = 0) -> dict:
    c = calibrate_archive(g, 1e-3, min_face=min_face)
    return {'pairs': c['pairs'], 'photos with 2+ faces': c['photos'], 'threshold at FAR 1e-3 (same-photo pairs)': round(c['threshold'], 4),
            'threshold in use': round(c['current_threshold'], 4), 'its FAR on same-photo pairs': round(c['current_far'], 5),
            'false accepts at it': c['current_false_accepts'],
            **({} if labelled is None else {'threshold at FAR 1e-3 (labelled impostor pairs)': round(labelled, 4)})}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--people', type=int, default=20, help='CelebA people enrolled in the celeba archive')
    a = ap.parse_args()
    torch.set_num_threads(1)
    emb = Embedder()
    model, tmp, out = emb.model_name, Path(tempfile.mkdtemp()), {}
    celeba = find_celeba(data_dir() / 'celeba')
    paths = [celeba.images / n for n in sorted(celeba.identities)]
    found, embs = every_face(paths, emb)

    # groups: the pictures of group_photos.py, every face labelled
    gp_paths, gp_faces, who, gp_emb = group_photos.celeba_faces()
    rng = np.random.default_rng(0)
    enrolled, _, queries = group_photos.split(who, rng)
    pics = group_photos.pictures(1000, rng, enrolled, queries, group_photos.lookalikes(gp_emb, who, enrolled, queries))
    items, labels_by_key = [], {}
    for k, pic in enumerate(pics):
        rows = [r for _, r in pic]
        items.append((f'/groups/picture-{k:04d}.jpg', [_moved(gp_faces[r], 1000 * j) for j, r in enumerate(rows)], gp_emb[rows]))
        for j, (p, _) in enumerate(pic): labels_by_key[(f'/groups/picture-{k:04d}.jpg', j)] = p
    g = write_archive(tmp / 'groups.db', items, model)
    ss = _read(g, 'ORDER BY s.id')
    order = {}
    labels = {}
    for s in ss:
        j = order.get(s.path, 0); order[s.path] = j + 1
        labels[s.id] = labels_by_key[(s.path, j)]
    out['groups: clusters'] = clusters(g, labels)
    e = np.stack([gp_emb[r] for pic in pics for _, r in pic]); l = np.array([p for pic in pics for p, _ in pic])
    sims, same = identity_pairs(l, e)
    out['groups: calibration'] = calibration(g, threshold_at_far(sims[~same], 1e-3))
    for half, sel in (('random people only', pics[1::2]), ('with a look-alike pair', pics[0::2])):
        s = np.concatenate([(lambda m: (m @ m.T)[np.triu_indices(len(m), 1)])(gp_emb[[r for _, r in pic]]) for pic in sel])
        out[f'groups: calibration, pictures {half}'] = {'pairs': len(s), 'threshold at FAR 1e-3': round(threshold_at_far(s, 1e-3), 4),
                                                         'FAR at 0.471': round(float((s >= 0.471).mean()), 5)}
    print(json.dumps(out['groups: calibration']), flush=True)

    # celeba: every photo, 20 people enrolled from their largest lone face
    items = [(p, fs, e) for p, fs, e in zip(paths, found, embs)]
    g = write_archive(tmp / 'celeba.db', items, model)
    by_person = {}
    for n, w in sorted(celeba.identities.items()): by_person.setdefault(w, []).append(n)
    for w, names in list(by_person.items())[:a.people]:
        best = None
        for n in names:
            s1 = sightings(g, celeba.images / n)
            if len(s1) == 1 and s1[0].face.size >= 40 and (best is None or s1[0].face.size > best[1]): best = (n, s1[0].face.size)
        i = [k for k, p in enumerate(paths) if p.name == best[0]][0]
        g.enroll(f'person {w}', embs[i][:1], model, [f'hash-{paths[i]}'])
    rec = Recognizer(g, embedder=emb)
    refresh_names(g, rec.threshold, force=True)
    best = {}
    for s in _read(g, 'WHERE s.person_id IS NULL ORDER BY s.id'):
        n = Path(s.path).name
        if n not in best or s.face.size > best[n][1]: best[n] = (s.id, s.face.size)
    out['celeba: clusters'] = clusters(g, {sid: celeba.identities[n] for n, (sid, _) in best.items()})
    lab = np.array([celeba.identities[p.name] for p, fs in zip(paths, found) for _ in fs])
    try: out['celeba: calibration'] = calibration(g)
    except Exception as ex: out['celeba: calibration'] = {'refused': str(ex)}
    print(json.dumps(out['celeba: calibration']), flush=True)

    # wider: real group photos, no identities
    wider = sorted((data_dir() / 'wider_face_dev/WIDER_val/images').rglob('*.jpg'))
    wf, we = every_face(wider, emb)
    g = write_archive(tmp / 'wider.db', [(p, fs, e) for p, fs, e in zip(wider, wf, we)], model)
    out['wider: calibration'] = calibration(g)
    for px in (20, 40, 60):  # the faces large enough to be named well (40: the enrolment minimum)
        try: out[f'wider: calibration, faces >= {px} px'] = calibration(g, min_face=px)
        except Exception as ex:
            s, photos, _ = same_photo_pairs(g, min_face=px)
            out[f'wider: calibration, faces >= {px} px'] = {'refused': str(ex), 'pairs': len(s), 'FAR of 0.471': round(float((s >= 0.471).mean()), 4),
                                                             'accepted at 0.471': int((s >= 0.471).sum()), 'threshold at FAR 1e-2': round(threshold_at_far(s, 1e-2), 4)}
    out['wider: faces by size'] = {f'>= {px} px': int(sum(min(f.box[2] - f.box[0], f.box[3] - f.box[1]) >= px for fs in wf for f in fs)) for px in (0, 20, 40, 60)}
    print(json.dumps(out, indent=1))


if __name__ == '__main__': main()
