"""The run time of a full `facenb eval lfw` on the shared LFW-format sample, this tree against an older commit
(issue #24: the evaluation caches append instead of rewriting their pickle), cold (`FACENB_CACHE` a fresh temp dir)
and warm (the same command again on that cache). Runs alternate between the trees (ABBA), so the ratios hold on a
busy machine; both trees are taken from git (`git archive`), so commit first. Then the caches' own cost on a run of
LFW's size: a detection cache of 13,233 photos filled with the real records of the run (each photo's candidates
repeated up to `--record-bytes`, the issue's permissive detector: 190 MB over LFW), saved every 200 photos as
`detections` does, and read back.

    FACENB_DATA=../shared/data python scripts/eval_cache_bench.py --before a49d4bf --after HEAD --rounds 2
"""
import argparse, json, os, resource, shutil, statistics, subprocess, sys, tempfile, time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MAIN = 'import sys; from facenb.cli import main; sys.exit(main())'
WRITES = r'''
import pickle, sys, time
from pathlib import Path
from facenb.eval import ResultCache
print(sys.modules['facenb.eval'].__file__, file=sys.stderr)
values, n, folder = pickle.loads(Path(sys.argv[1]).read_bytes()), int(sys.argv[2]), Path(sys.argv[3])
spent = [0.0, 0.0]  # wall and CPU seconds inside save()
def save(c):
    t, p = time.perf_counter(), time.process_time(); c.save()
    spent[0] += time.perf_counter() - t; spent[1] += time.process_time() - p
c = ResultCache('detections', {'bench': 1}, folder=folder)
for i in range(n):
    c[f'photo{i}'] = pickle.loads(values[i % len(values)])  # a record of its own, as a real run makes
    if i % 200 == 199: save(c)
save(c)
t, p = time.perf_counter(), time.process_time()
assert len(ResultCache('detections', {'bench': 1}, folder=folder)) == n
print(*spent, time.perf_counter() - t, time.process_time() - p, sum(f.stat().st_size for f in folder.iterdir()))
'''


def export(rev: str, into: Path) -> Path:
    "The package as it was at `rev`, from `git archive` (no worktree needed)."
    into.mkdir(parents=True)
    tar = subprocess.run(['git', 'archive', rev, 'facenb'], cwd=REPO, capture_output=True, check=True).stdout
    subprocess.run(['tar', '-x', '-C', str(into)], input=tar, check=True)
    return into


def timed(tree: Path, args: list[str], cache: Path) -> tuple[float, float, dict]:
    "(wall seconds, CPU seconds, the JSON figures) of one `facenb ARGS` with `tree` on PYTHONPATH and `cache` as FACENB_CACHE."
    env = {**os.environ, 'PYTHONPATH': str(tree), 'OMP_NUM_THREADS': '1', 'FACENB_CACHE': str(cache)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, '-c', MAIN, *args], env=env, cwd=tree, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode: sys.exit(f'{tree}: exit {r.returncode}\n{r.stderr[-2000:]}')
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return wall, cpu, json.loads(r.stdout.strip().splitlines()[-1])


def cache_bytes(cache: Path) -> int: return sum(f.stat().st_size for f in (cache / 'eval').iterdir())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--before', required=True, help='the commit to compare with, e.g. the parent of the first #24 commit')
    ap.add_argument('--after', default='HEAD', help='the commit measured against it')
    ap.add_argument('--rounds', type=int, default=2, help='cold + warm runs per tree (the median is reported); 0: only the cache writes')
    ap.add_argument('--photos', type=int, default=13233, help='photos in the cache-write run (LFW has 13,233)')
    ap.add_argument('--record-bytes', type=int, default=14_400, help="bytes per photo in the cache-write run (0: MTCNN's own records)")
    ap.add_argument('--pairs-per-fold', type=int, default=None, help='a quick check of this script: only N pairs of each kind per fold')
    a = ap.parse_args()
    data = Path(os.environ.get('FACENB_DATA', REPO.parent / 'shared/data')) / 'lfw_format_sample'
    args = ['eval', 'lfw', str(data), str(data / 'pairs.txt'), '--json', '--quiet']
    if a.pairs_per_fold: args += ['--pairs-per-fold', str(a.pairs_per_fold)]
    tmp = Path(tempfile.mkdtemp(prefix='facenb-evalbench-'))
    trees = {'before': export(a.before, tmp / 'before'), 'after': export(a.after, tmp / 'after')}
    times = {(t, k): [] for t in trees for k in ('cold', 'warm')}
    figures, sizes, caches = {}, {}, {}
    for r in range(a.rounds):
        for name in (('before', 'after') if r % 2 == 0 else ('after', 'before')):
            cache = caches[name] = tmp / f'cache-{name}-{r}'
            for kind in ('cold', 'warm'):
                wall, cpu, d = timed(trees[name], args, cache)
                times[name, kind].append((wall, cpu))
                figures.setdefault(name, d)
                print(f'round {r} {name:6} {kind}: {wall:6.1f} s wall, {cpu:6.1f} s CPU', file=sys.stderr, flush=True)
            sizes[name] = cache_bytes(cache)
    if not a.rounds:  # only the cache-write part: real records from a small run
        caches['after'] = tmp / 'cache-records'
        timed(trees['after'], args[:4] + ['--json', '--quiet', '--pairs-per-fold', '3'], caches['after'])
    else: write_table(times, sizes, figures)
    write_costs(a, tmp, trees, caches)
    shutil.rmtree(tmp)


def write_table(times, sizes, figures):
    keys = ('accuracy', 'auc', 'tar_at_far_1e-3', 'fallbacks')
    print(f'load average at the end: {os.getloadavg()[0]:.1f}')
    print('| `facenb eval lfw`, full sample | before: wall s | after: wall s | after / before | before: CPU s | after: CPU s | after / before |')
    print('|---|---|---|---|---|---|---|')
    for kind in ('cold', 'warm'):
        (bw, bc), (aw, ac) = [tuple(statistics.median(x[i] for x in times[t, kind]) for i in (0, 1)) for t in ('before', 'after')]
        print(f'| {kind} cache | {bw:.1f} | {aw:.1f} | {aw / bw:.2f} | {bc:.1f} | {ac:.1f} | {ac / bc:.2f} |')
    print(f'cache files: before {sizes["before"] / 1e6:.2f} MB, after {sizes["after"] / 1e6:.2f} MB')
    print('figures before:', {k: figures['before'][k] for k in keys}, 'after:', {k: figures['after'][k] for k in keys})


def write_costs(a, tmp, trees, caches):
    "The caches' own cost at LFW's size: the real detection records of a run, cycled over `--photos` entries."
    print(f'load average now: {os.getloadavg()[0]:.1f}')
    sys.path.insert(0, str(REPO))
    from facenb.eval import ResultCache
    log = next((caches['after'] / 'eval').glob('detections-*'))
    real = ResultCache.__new__(ResultCache); real.data = {}; real._read(log.read_bytes())
    values = tmp / 'values.pkl'
    import pickle
    records = [(faces, t) for faces, t in real.data.values()]
    size = sum(len(pickle.dumps(r)) for r in records) / len(records)
    k = max(1, round(a.record_bytes / size)) if a.record_bytes else 1
    records = [([f for _ in range(k) for f in pickle.loads(pickle.dumps(faces))], t) for faces, t in records]  # copies, not references
    size = sum(len(pickle.dumps(r)) for r in records) / len(records)
    values.write_bytes(pickle.dumps([pickle.dumps(r) for r in records]))
    print(f'| detection cache, {a.photos:,} photos of {size / 1e3:.1f} kB, saved every 200 | before | after | after / before |')
    print('|---|---|---|---|')
    res = {}
    for name, tree in trees.items():
        folder = tmp / f'writes-{name}'; folder.mkdir()
        out = subprocess.run([sys.executable, '-c', WRITES, str(values), str(a.photos), str(folder)], env={**os.environ, 'PYTHONPATH': str(tree)}, cwd=tree,
                             capture_output=True, text=True, check=True)
        res[name] = [float(x) for x in out.stdout.split()]
        print(f'{name}: {out.stderr.strip()}', file=sys.stderr)
    for i, label in enumerate(('seconds in save(), wall', 'seconds in save(), CPU', 'seconds reading it back, wall',
                               'seconds reading it back, CPU', 'MB on disk')):
        b, af = res['before'][i], res['after'][i]
        if i == 4: b, af = b / 1e6, af / 1e6
        print(f'| {label} | {b:.2f} | {af:.2f} | {af / b:.2f} |')


if __name__ == '__main__':
    main()
