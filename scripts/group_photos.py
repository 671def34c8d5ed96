"""Group photos: faces named wrong with independent vs joint naming (each person at most once per photo).

Pictures of 2-6 different CelebA people from the shared data: half of the 299 identities are enrolled (two photos
each, the first two with a face); every picture draws its people (all different) and one photo of each that was not
used for enrolment. Half of the pictures put an enrolled person beside their *look-alike*: the identity left out of the
gallery whose faces resemble that person most (mean embedding), the case where independent naming calls both faces
by one name. Each face is embedded from its own CelebA photo (its central face found by MTCNN, cached like
`facenb eval`), and named by `Recognizer.identify` at the default threshold, once face by face and once jointly
(and again at the archive's stricter threshold for this many people, `facenb.archive.archive_threshold`).

A face is *named wrong* when it gets a name that is not its own (a stranger named at all, or an enrolled person named as
someone else); *missed* when an enrolled person's face is left unknown. "Named twice" counts the pictures where one
name was given to two faces.

Also: `--composites N` pictures made for real (the photos tiled side by side at 240 px high) through
`Recognizer.recognize` with the detector and embedder (each tile's largest face is scored; faces in the background of a
CelebA photo are not, nobody knows who they are), and the shared sample photos (the five sample people enrolled,
the five query photos named).

    FACENB_DATA=../shared/data OMP_NUM_THREADS=1 python scripts/group_photos.py --pictures 1000 --composites 100
"""
from __future__ import annotations
import argparse, json, tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from facenb.core import data_dir, load_image
from facenb.data import find_celeba
from facenb.detect import get_detector
from facenb.eval import central_faces, face_embeddings
from facenb.embed import Embedder
from facenb.store import Gallery
from facenb.archive import matcher, archive_threshold
from facenb.recognize import Recognizer, DEFAULT_THRESHOLD


def celeba_faces():
    "Paths, identities and default-model embeddings of every CelebA photo with a face found."
    celeba = find_celeba(data_dir() / 'celeba')
    paths = [celeba.images / n for n in sorted(celeba.identities)]
    faces = central_faces(paths, get_detector('mtcnn'), 0.0, show=True)
    keep = [i for i, f in enumerate(faces) if f is not None]
    paths, faces = [paths[i] for i in keep], [faces[i] for i in keep]
    emb = face_embeddings(paths, faces, Embedder(), show=True)
    return paths, faces, np.array([celeba.identities[p.name] for p in paths]), emb


def split(who, rng, enrol_photos=2):
    "Enrolled identities (half, at random) with their enrolment rows; the query rows of every identity."
    ids = sorted(set(who.tolist()))
    enrolled = set(rng.choice(ids, len(ids) // 2, replace=False).tolist())
    rows = {i: np.flatnonzero(who == i) for i in ids}
    gallery_rows = {i: rows[i][:enrol_photos] for i in enrolled}
    queries = {i: rows[i][enrol_photos:] if i in enrolled else rows[i] for i in ids}
    return enrolled, gallery_rows, {i: q for i, q in queries.items() if len(q)}


def lookalikes(emb, who, enrolled, queries):
    "For each enrolled identity, the identity left out whose mean face is most similar to theirs."
    mean = lambda rows: (lambda m: m / np.linalg.norm(m))(emb[rows].mean(0))
    e_ids = sorted(i for i in enrolled if i in queries); o_ids = sorted(i for i in queries if i not in enrolled)
    E = np.stack([mean(np.flatnonzero(who == i)) for i in e_ids]); O = np.stack([mean(queries[i]) for i in o_ids])
    sims = E @ O.T
    return {e: o_ids[j] for e, j in zip(e_ids, sims.argmax(1))}


def pictures(n, rng, enrolled, queries, look):
    "`n` pictures: lists of (identity, row), 2-6 different people each; half of them an enrolled person and their look-alike."
    ids = sorted(queries)
    out = []
    for k in range(n):
        size = int(rng.integers(2, 7))
        people = []
        if k % 2 == 0:
            e = int(rng.choice(sorted(look)))
            people = [e, look[e]]
        while len(people) < size:
            p = int(rng.choice(ids))
            if p not in people: people.append(p)
        out.append([(p, int(rng.choice(queries[p]))) for p in people])
    return out


def score(named, truth, enrolled) -> dict:
    "Counts over the faces of a set of pictures: `named` and `truth` are lists (per picture) of names / identities."
    faces = wrong = missed = right = twice = 0
    for names, people in zip(named, truth):
        given = [n for n in names if n is not None]
        twice += len(given) != len(set(given))
        for n, p in zip(names, people):
            if p is None: continue  # a background face of a CelebA photo: nobody knows who it is
            faces += 1
            own = str(p) if p in enrolled else None
            if n is None: missed += own is not None
            elif n == own: right += 1
            else: wrong += 1
    per = lambda x: round(1000 * x / faces, 1)
    return {'pictures': len(named), 'faces': faces, 'named_wrong_per_1000': per(wrong), 'missed_per_1000': per(missed),
            'named_right_per_1000': per(right), 'pictures_one_name_twice': twice}


def tiled(paths, height=240):
    "The photos side by side, each scaled to `height` pixels high."
    ims = [Image.fromarray(load_image(p)) for p in paths]
    ims = [im.resize((max(1, round(im.width * height / im.height)), height)) for im in ims]
    canvas = Image.new('RGB', (sum(im.width for im in ims), height))
    x = 0
    for im in ims: canvas.paste(im, (x, 0)); x += im.width
    return np.asarray(canvas), [x0 for x0 in np.cumsum([0] + [im.width for im in ims])]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--pictures', type=int, default=1000, help='pictures of embedded faces')
    ap.add_argument('--composites', type=int, default=100, help='pictures made for real and recognised end to end (0: none)')
    ap.add_argument('--seed', type=int, default=0)
    a = ap.parse_args()
    torch.set_num_threads(1)
    rng = np.random.default_rng(a.seed)
    paths, faces, who, emb = celeba_faces()
    enrolled, gallery_rows, queries = split(who, rng)
    look = lookalikes(emb, who, enrolled, queries)
    tmp = Path(tempfile.mkdtemp())
    g = Gallery(tmp / 'group.db')
    model = Embedder().model_name
    for i, rows in sorted(gallery_rows.items()): g.enroll(str(i), emb[rows], model, [paths[r].name for r in rows])
    rec = matcher(g, model)
    out = {'threshold': rec.threshold, 'enrolled': len(enrolled), 'identities': len(queries)}
    pics = pictures(a.pictures, rng, enrolled, queries, look)
    truth = [[p for p, _ in pic] for pic in pics]
    for mode, key in (('independent', lambda n: None), ('joint', lambda n: [0] * n)):
        named = [[x[0] for x in rec.identify(emb[[r for _, r in pic]], key(len(pic)))] for pic in pics]
        out[f'celeba pictures, {mode}'] = score(named, truth, enrolled)
        print(json.dumps({mode: out[f'celeba pictures, {mode}']}), flush=True)
    strict = matcher(g, model, archive_threshold(g, model))  # the archive's threshold for this many people (ARCHIVE_FPIR)
    out['archive threshold'] = strict.threshold
    for mode, key in (('independent', lambda n: None), ('joint', lambda n: [0] * n)):
        named = [[x[0] for x in strict.identify(emb[[r for _, r in pic]], key(len(pic)))] for pic in pics]
        out[f'celeba pictures at the archive threshold, {mode}'] = score(named, truth, enrolled)
        print(json.dumps({f'archive {mode}': out[f'celeba pictures at the archive threshold, {mode}']}), flush=True)
    twins = []  # two photos of one enrolled person in one picture (a twin, a poster, a mirror), among 0-3 others
    for _ in range(200):
        e = int(rng.choice(sorted(i for i in enrolled if i in queries and len(queries[i]) >= 2)))
        pic = [(e, int(r)) for r in rng.choice(queries[e], 2, replace=False)]
        while len(pic) < int(rng.integers(2, 6)):
            p = int(rng.choice(sorted(queries)))
            if p not in {q for q, _ in pic}: pic.append((p, int(rng.choice(queries[p]))))
        twins.append(pic)
    for mode, key in (('independent', lambda n: None), ('joint', lambda n: [0] * n)):
        named = [[x[0] for x in rec.identify(emb[[r for _, r in pic]], key(len(pic)))] for pic in twins]
        out[f'one enrolled person twice, {mode}'] = {'pictures': len(twins),
            'pictures_one_name_twice': sum(len([n for n in ns if n]) != len({n for n in ns if n}) for ns in named),
            'pictures_both_photos_named_them': sum(ns[0] == ns[1] == str(pic[0][0]) for ns, pic in zip(named, twins))}
    if a.composites:
        real = Recognizer(g, embedder=Embedder())
        comp = pictures(a.composites, rng, enrolled, queries, look)
        results = {'independent': [], 'joint': []}
        ctruth = []
        for pic in comp:
            image, starts = tiled([paths[r] for _, r in pic])
            for mode in results:
                real.joint = mode == 'joint'
                ms = real.recognize(image)
                results[mode].append([m.name for m in ms])
            tile = [min(int(np.searchsorted(starts, (m.face.box[0] + m.face.box[2]) / 2, 'right')) - 1, len(pic) - 1) for m in ms]
            largest = {}  # the tile a face's centre lies in says whose photo it is; its largest face is that person
            for j, (t, m) in enumerate(zip(tile, ms)):
                if t not in largest or m.face.size > ms[largest[t]].face.size: largest[t] = j
            ctruth.append([pic[t][0] if largest[t] == j else None for j, t in enumerate(tile)])  # None: a face in the background
        for mode, named in results.items():
            out[f'composite pictures (detected), {mode}'] = score(named, ctruth, enrolled)
            print(json.dumps({f'composite {mode}': out[f'composite pictures (detected), {mode}']}), flush=True)
    samples = data_dir() / 'samples'
    srec = Recognizer(tmp / 'samples.db')
    for d in sorted((samples / 'people').iterdir()): srec.enroll(d.name, sorted(d.iterdir()))
    expected = {'alex_lacamoire1.jpg': ['alex_lacamoire'], 'johnsnow_test1.jpg': ['kit_harington'],
                'kit_with_rose.jpg': ['kit_harington', 'rose_leslie'], 'obama1.jpg': ['obama'], 'obama_and_biden.jpg': ['biden', 'obama']}
    for mode in ('independent', 'joint'):
        srec.joint = mode == 'joint'
        faces_n = wrong = twice = 0
        for p in sorted((samples / 'queries').iterdir()):
            names = [m.name for m in srec.recognize(p)]
            faces_n += len(names); given = [n for n in names if n]
            wrong += sum(n not in expected[p.name] for n in given) + len(given) - len(set(given))
            twice += len(given) != len(set(given))
        out[f'sample queries, {mode}'] = {'photos': len(expected), 'faces': faces_n, 'named_wrong': wrong, 'photos_one_name_twice': twice}
    print(json.dumps(out, indent=1))


if __name__ == '__main__': main()
