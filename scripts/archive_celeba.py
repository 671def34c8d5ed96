"""Photo archives on the shared CelebA photos: indexing speed with 1 and 2 workers, `find` precision and recall with
20 people enrolled from one photo each, and clusters of the unnamed faces (purity, share clustered).

Rerun (from the repository root, shared data in ../shared/data; the full index takes about 45 min on 2 busy cores):

    FACENB_DATA=../shared/data .venv/bin/facenb index ../shared/data/celeba/img_celeba --db celeba.db --workers 2
    FACENB_DATA=../shared/data .venv/bin/python scripts/archive_celeba.py --db celeba.db               # find + clusters
    FACENB_DATA=../shared/data .venv/bin/python scripts/archive_celeba.py --speed 300 --workers 1 2   # photos/s

The truth is `identity_CelebA.txt`: a photo's identity is the person of its largest face, so a face found in the
background of someone else's photo counts as a wrong answer when `find` returns it (precision is a lower bound).
"""
from __future__ import annotations
import argparse, json, os, shutil, sqlite3, sys, tempfile, time
from pathlib import Path

import numpy as np

from facenb.core import data_dir
from facenb.data import find_celeba
from facenb.archive import archive_threshold, index_photos, find, sightings, refresh_names, _read
from facenb.cluster import cluster_sightings, cluster_quality
from facenb.recognize import Recognizer


def people_of(celeba) -> dict:
    by_person = {}
    for name, who in sorted(celeba.identities.items()): by_person.setdefault(who, []).append(name)
    return by_person


def speed(a, celeba) -> dict:
    "photos/s of `index_photos` on the first N photos with each worker count; and whether the sightings agree."
    photos = sorted(celeba.identities)[:a.speed]
    tmp = Path(tempfile.mkdtemp()); folder = tmp / 'photos'; folder.mkdir()
    for n in photos: os.symlink(celeba.images / n, folder / n)
    out, faces = {}, {}
    for w in a.workers:
        rec = Recognizer(tmp / f'w{w}.db')
        r = index_photos(rec, [folder], workers=w, engine=a.engine if w > 1 else 'local', progress=True)
        out[f'{w} worker{"s" * (w > 1)}'] = {'photos': r.analysed, 'seconds': round(r.seconds, 1), 'photos_per_s': round(r.photos_per_s, 2),
                                              'faces': r.faces, 'load_average': [round(x, 1) for x in os.getloadavg()]}
        with sqlite3.connect(rec.gallery.path) as con:
            rows = con.execute('SELECT ph.path, s.box, s.embedding FROM sightings s JOIN photos ph ON ph.id = s.photo_id ORDER BY 1, 2').fetchall()
        faces[w] = rows
        print(json.dumps({w: out[f'{w} worker{"s" * (w > 1)}']}), flush=True)
    first, *rest = a.workers
    for w in rest:
        same = [(p, b) for p, b, _ in faces[w]] == [(p, b) for p, b, _ in faces[first]]
        diff = max((np.abs(np.frombuffer(x[2], '<f4') - np.frombuffer(y[2], '<f4')).max() for x, y in zip(faces[w], faces[first])), default=0) if same else None
        out[f'same sightings, {first} vs {w} workers'] = {'same photos and boxes': same, 'max embedding difference': None if diff is None else float(diff)}
    return out


def find_quality(db: Path, celeba, n_people: int, thresholds) -> dict:
    "Enrol the first `n_people` identities from one photo each (the largest face among their one-face photos); `find` each."
    by_person = dict(list(people_of(celeba).items())[:n_people])
    base = Path(tempfile.mkdtemp()) / 'enrolled.db'; shutil.copy(db, base)
    rec = Recognizer(base)
    folder = Path(_read(rec.gallery, 'LIMIT 1')[0].path).parent
    enrolled = {}
    for who, names in by_person.items():
        best = None
        for n in names:
            ss = sightings(rec.gallery, folder / n)
            if len(ss) == 1 and ss[0].face.size >= 40 and (best is None or ss[0].face.size > best[1]): best = (n, ss[0].face.size)
        enrolled[who] = best[0]
        rec.enroll(f'person {who}', [folder / best[0]])
    out = {}
    for t in thresholds:  # None: find's default, `archive_threshold`
        hits = returned = relevant = 0
        for who, names in by_person.items():
            got = {Path(s.path).name for s in find(rec.gallery, f'person {who}', threshold=t)} - {enrolled[who]}
            hits += sum(celeba.identities[g] == who for g in got); returned += len(got); relevant += len(names) - 1
        key = f'threshold {t}' if t is not None else f'default threshold ({archive_threshold(rec.gallery)} for {len(rec.gallery)} people)'
        out[key] = {'precision': round(hits / max(returned, 1), 4), 'recall': round(hits / relevant, 4),
                                 'true': hits, 'returned': returned, 'relevant': relevant}
        print(key, json.dumps(out[key]), flush=True)
    return out, base


def export_embeddings(db: Path, celeba, out: Path) -> int:
    "The embedding of each photo's largest face with the photo's identity, as the .npz `bench_gallery.py --real` reads."
    best = {}
    with sqlite3.connect(db) as con:
        for path, box, emb in con.execute('SELECT ph.path, s.box, s.embedding FROM sightings s JOIN photos ph ON ph.id = s.photo_id'):
            b, n = json.loads(box), Path(path).name
            size = min(b[2] - b[0], b[3] - b[1])
            if n in celeba.identities and (n not in best or size > best[n][0]): best[n] = (size, np.frombuffer(emb, '<f4'))
    names = sorted(best)
    np.savez(out, embeddings=np.stack([best[n][1] for n in names]), people=np.array([str(celeba.identities[n]) for n in names]))
    return len(names)


def cluster_table(db: Path, celeba, min_sizes) -> dict:
    "Purity and share clustered of the unnamed sightings, for each smallest group size."
    rec = Recognizer(db)
    g, threshold = rec.gallery, rec.threshold  # the default (or the gallery's calibrated) threshold of its model
    refresh_names(g, threshold, force=True)  # names at that threshold, whatever `find` was last asked with
    ss = _read(g, 'WHERE s.person_id IS NULL ORDER BY s.id')
    best = {}
    for s in ss:
        n = Path(s.path).name
        if n in celeba.identities and (n not in best or s.face.size > best[n][1]): best[n] = (s.id, s.face.size)
    labels = {sid: celeba.identities[n] for n, (sid, _) in best.items()}
    out = {}
    for k in min_sizes:
        t = time.perf_counter()
        q = cluster_quality(cluster_sightings(g, threshold=threshold, min_size=k), labels)
        q['threshold'] = threshold
        q['seconds'] = round(time.perf_counter() - t, 1)
        out[f'min size {k}'] = q
        print(json.dumps({k: q}), flush=True)
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--db', default=None, help='an archive of the CelebA photos made by `facenb index`')
    ap.add_argument('--people', type=int, default=20)
    ap.add_argument('--thresholds', type=lambda v: None if v == 'default' else float(v), nargs='+', default=[None, 0.471, 0.55, 0.6], help="for find; 'default': find's own (archive_threshold)")
    ap.add_argument('--min-sizes', type=int, nargs='+', default=[2, 3, 5])
    ap.add_argument('--speed', type=int, default=0, help='time indexing the first N photos (0: skip)')
    ap.add_argument('--workers', type=int, nargs='+', default=[1, 2])
    ap.add_argument('--engine', default='pool', help="engine for more than one worker: 'pool' or 'ray'")
    ap.add_argument('--export-embeddings', default=None, metavar='NPZ', help='write the largest face of each photo (with --db)')
    ap.add_argument('--json', default=None)
    a = ap.parse_args(argv)
    celeba = find_celeba(data_dir() / 'celeba')
    out = {'command': 'python scripts/archive_celeba.py ' + ' '.join(argv if argv is not None else sys.argv[1:]),
           'cores': os.cpu_count(), 'load_average_start': [round(x, 1) for x in os.getloadavg()]}
    if a.speed: out['speed'] = speed(a, celeba)
    if a.db and a.export_embeddings: out['exported'] = export_embeddings(Path(a.db), celeba, Path(a.export_embeddings))
    if a.db:
        out['find'], enrolled_db = find_quality(Path(a.db), celeba, a.people, a.thresholds)
        out['clusters_after_enrolling'] = cluster_table(enrolled_db, celeba, a.min_sizes)
    out['load_average_end'] = [round(x, 1) for x in os.getloadavg()]
    print(json.dumps(out, indent=1))
    if a.json: Path(a.json).write_text(json.dumps(out, indent=1))


if __name__ == '__main__':
    main()
