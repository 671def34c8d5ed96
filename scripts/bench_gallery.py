"""Gallery search at scale: exact (one matrix product) against the ANN index (facenb.ann.FaceIndex), both through
`Recognizer.identify`, on synthetic galleries of up to 1M faces / 100k people (plus real embeddings where given).

Rerun (from the repository root; the 1M row needs about 8 GB of memory and, on 2 busy cores, about half an hour,
most of it building the index once):

    OMP_NUM_THREADS=1 nice .venv/bin/python scripts/bench_gallery.py --sizes 10000 50000 100000 1000000 --json bench_gallery.json
    ... --sizes 10000 50000 --queries 100          # a few minutes
    ... --real celeba.npz      # real faces mixed in: scripts/archive_celeba.py --db celeba.db --export-embeddings celeba.npz

What is measured, per gallery size n (10 faces per person; each face a noisy copy of its person's direction, about
as similar to its siblings as two photos of one person are, 0.66 cosine on average):
  * p50 / p99 ms of one query through `Recognizer.identify`: exact (`ann_min_faces=None`) and ANN (`ann_min_faces=0`);
    queries are new noisy copies of random people (and, with --real, held-out real faces);
  * recall@1: the share of queries whose best person through the index is the exact search's best person;
  * build time: the first `FaceIndex.sync` (snapshot of the gallery, fingerprints, graph built with all cores);
    reload time: a fresh `FaceIndex` loading the saved file;
  * memory: the float32 matrix both searches keep, the index in memory (usearch's own count) and its file size.
The synthetic gallery is written straight into the gallery's tables in one transaction (a fixture shortcut: enrolling
100k people one transaction each would take longer than the benchmark itself).
"""
from __future__ import annotations
import argparse, json, os, platform, sqlite3, statistics, sys, tempfile, time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from facenb.store import Gallery
from facenb.ann import FaceIndex
from facenb.recognize import Recognizer


def noisy_copies(centres: np.ndarray, n_each: int, rng, noise: float = 0.73) -> np.ndarray:
    "`n_each` unit vectors around each centre, about as similar to each other as two photos of one person."
    x = np.repeat(centres, n_each, 0)
    x += rng.standard_normal(x.shape, dtype=np.float32) * (noise / np.sqrt(x.shape[1]))
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def write_gallery(path: Path, n: int, per_person: int, dim: int, real, rng) -> np.ndarray:
    "A gallery of `n` faces (real ones first, then synthetic people); returns the synthetic people's centres."
    Gallery(path)
    n_real = 0 if real is None else len(real[0])
    n_syn = (n - n_real) // per_person
    centres = rng.standard_normal((n_syn, dim), dtype=np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    con = sqlite3.connect(path, isolation_level=None)
    con.execute('BEGIN')
    now = '2026-01-01T00:00:00+00:00'
    if real is not None:
        emb, who = real
        people = sorted(set(who))
        con.executemany('INSERT INTO people (id, name, created) VALUES (?, ?, ?)', [(i + 1, f'real {p}', now) for i, p in enumerate(people)])
        pid = {p: i + 1 for i, p in enumerate(people)}
        con.executemany('INSERT INTO faces (person_id, embedding, dim, model, photo_hash, created) VALUES (?, ?, ?, ?, ?, ?)',
                        [(pid[w], e.astype('<f4').tobytes(), dim, 'bench', f'r{i}', now) for i, (e, w) in enumerate(zip(emb, who))])
    base = 1_000_000_000
    for s in range(0, n_syn, 10_000):
        c = centres[s:s + 10_000]
        x = noisy_copies(c, per_person, rng)
        con.executemany('INSERT INTO people (id, name, created) VALUES (?, ?, ?)', [(base + s + i, f'p{s + i:07d}', now) for i in range(len(c))])
        con.executemany('INSERT INTO faces (person_id, embedding, dim, model, photo_hash, created) VALUES (?, ?, ?, ?, ?, ?)',
                        [(base + s + i // per_person, v.tobytes(), dim, 'bench', f's{s * per_person + i}', now) for i, v in enumerate(x)])
    con.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'")
    con.execute('COMMIT'); con.close()
    return centres


def pct(xs, q): return float(np.percentile(xs, q))


def run_size(n: int, a, real, held_out, tmp: Path) -> dict:
    rng = np.random.default_rng(n)
    path = tmp / f'g{n}.db'
    t = time.perf_counter()
    centres = write_gallery(path, n, a.per_person, a.dim, real, rng)
    row = {'dtype': a.dtype or FaceIndex.__init__.__defaults__[0], 'faces': n, 'people': len(centres) + (0 if real is None else len(set(real[1]))), 'write_s': round(time.perf_counter() - t, 1)}
    queries = noisy_copies(centres[rng.choice(len(centres), a.queries, replace=False)], 1, rng)
    if held_out is not None: queries = np.concatenate([held_out, queries])
    stub = SimpleNamespace(model_name='bench')
    exact = Recognizer(path, embedder=stub); exact.ann_min_faces = None
    ann = Recognizer(path, embedder=stub); ann.ann_min_faces = 0
    if a.dtype: ann.face_index().dtype = a.dtype
    t = time.perf_counter(); exact.gallery.matrix('bench'); row['load_matrix_s'] = round(time.perf_counter() - t, 1)
    t = time.perf_counter(); ann.face_index().sync('bench'); row['build_s'] = round(time.perf_counter() - t, 1)
    t = time.perf_counter(); FaceIndex(Gallery(path), dtype=ann.face_index().dtype).sync('bench'); row['reload_s'] = round(time.perf_counter() - t, 2)
    fi = ann.face_index()
    row['matrix_mb'] = round(fi.matrix.nbytes / 2**20)
    row['index_mb'] = round(fi.index.memory_usage / 2**20)
    row['index_file_mb'] = round(fi.path.stat().st_size / 2**20)
    want = [o[2][0][0] for s in range(0, len(queries), 16) for o in exact.identify(queries[s:s + 16])]
    exact.identify(queries[:1]); ann.identify(queries[:1])  # warm-up: the person grouping is built on first use
    times = {'exact': [], 'ann': []}
    n_exact = min(len(queries), a.exact_queries)
    for q in queries[:n_exact]:
        t = time.perf_counter(); exact.identify(q[None]); times['exact'].append(1000 * (time.perf_counter() - t))
    row['exact_p50_ms'], row['exact_p99_ms'] = round(pct(times['exact'], 50), 2), round(pct(times['exact'], 99), 2)
    for es in a.expansion_search:
        fi.index.expansion_search = es
        got, ts = [], []
        for q in queries:
            t = time.perf_counter(); out = ann.identify(q[None]); ts.append(1000 * (time.perf_counter() - t))
            got.append(out[0][2][0][0])
        tag = '' if es == a.expansion_search[0] else f'_ef{es}'
        row[f'recall_at_1{tag}'] = round(float(np.mean([g == w for g, w in zip(got, want)])), 4)
        if held_out is not None: row[f'recall_at_1_real{tag}'] = round(float(np.mean([g == w for g, w in zip(got[:len(held_out)], want)])), 4)
        row[f'ann_p50_ms{tag}'], row[f'ann_p99_ms{tag}'] = round(pct(ts, 50), 2), round(pct(ts, 99), 2)
    row['speedup_p50'] = round(row['exact_p50_ms'] / row['ann_p50_ms'], 1)
    row['queries'] = len(queries)
    for p in tmp.glob(f'g{n}.db*'): p.unlink()
    return row


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--sizes', type=int, nargs='+', default=[10_000, 50_000, 100_000])
    ap.add_argument('--per-person', type=int, default=10)
    ap.add_argument('--queries', type=int, default=200, help='synthetic queries per size (all timed through the index)')
    ap.add_argument('--exact-queries', type=int, default=50, help='of which also timed exactly (exact answers are computed for all)')
    ap.add_argument('--dim', type=int, default=512, help='embedding size of the synthetic faces (the real ones decide when given)')
    ap.add_argument('--dtype', default=None, help="FaceIndex precision: 'f32', 'f16', 'bf16' or 'i8' (default: the library's)")
    ap.add_argument('--real', default=None, help='an .npz with `embeddings` (n, d) and `people` (n,): all but one face per person '
                                                 'go into every gallery, the held-out ones are queries')
    ap.add_argument('--expansion-search', type=int, nargs='+', default=[64, 128, 256],
                    help='search widths to measure on the same index (the first is the library default)')
    ap.add_argument('--json', default=None)
    a = ap.parse_args(argv)
    real = held_out = None
    if a.real:
        z = np.load(a.real, allow_pickle=False)
        emb, who = z['embeddings'].astype(np.float32), z['people'].astype(str)
        first = {}
        for i, w in enumerate(who): first.setdefault(w, i)
        keep = np.ones(len(who), bool); keep[list(first.values())] = False
        groups = {w: (who == w).sum() for w in first}
        hold = [i for w, i in first.items() if groups[w] > 1]
        keep = np.ones(len(who), bool); keep[hold] = False
        real, held_out, a.dim = (emb[keep], who[keep]), emb[hold], emb.shape[1]
    cpu = next((l.split(':', 1)[1].strip() for l in open('/proc/cpuinfo') if l.startswith('model name')), platform.processor())
    out = {'machine': {'cpu': cpu, 'cores': os.cpu_count(), 'load_average_start': [round(x, 1) for x in os.getloadavg()]},
           'command': 'python scripts/bench_gallery.py ' + ' '.join(argv if argv is not None else sys.argv[1:]), 'rows': []}
    tmp = Path(tempfile.mkdtemp(prefix='facenb-bench-'))
    for n in a.sizes:
        row = run_size(n, a, real, held_out, tmp)
        out['rows'].append(row)
        print(json.dumps(row), flush=True)
        if a.json: Path(a.json).write_text(json.dumps(out, indent=1))
    out['machine']['load_average_end'] = [round(x, 1) for x in os.getloadavg()]
    keys = list(out['rows'][0])
    print(f"\nmachine: {out['machine']}\ncommand: {out['command']}\n")
    print('| ' + ' | '.join(keys) + ' |\n|' + '---|' * len(keys))
    for r in out['rows']: print('| ' + ' | '.join(str(r.get(k, '')) for k in keys) + ' |')
    if a.json: Path(a.json).write_text(json.dumps(out, indent=1))


if __name__ == '__main__':
    main()
