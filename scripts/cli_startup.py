"""How long `facenb` takes from process start to exit, and its peak memory, for commands that need no model
(`--help`, `people`, `rename`, `forget`) and for bad input (a text file given as a photo), which must be refused
before any model loads. Compares this tree with another checkout (say main before issue #10) in one interleaved
run, so the ratio holds on a busy machine.

    git worktree add /tmp/facenb-before <commit>      # the code to compare with
    PYTHONPATH=. python scripts/cli_startup.py --before /tmp/facenb-before --runs 7
"""
import argparse, os, shutil, statistics, subprocess, sys, tempfile, time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
MAIN = 'import sys; from facenb.cli import main; sys.exit(main())'


def run_once(tree: Path, args: list[str]) -> tuple[float, int, int]:
    "(seconds from start to exit, peak RSS in MB, exit code) of `facenb ARGS` with `tree` on PYTHONPATH."
    env = {**os.environ, 'PYTHONPATH': str(tree), 'OMP_NUM_THREADS': '1'}
    t0 = time.perf_counter()
    p = subprocess.Popen([sys.executable, '-c', MAIN, *args], env=env, cwd=tree, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(p.pid, 0)
    return time.perf_counter() - t0, usage.ru_maxrss // 1024, os.waitstatus_to_exitcode(status)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--before', type=Path, default=None, help='another checkout to compare with')
    ap.add_argument('--runs', type=int, default=7, help='runs per command and tree (the median is reported)')
    a = ap.parse_args()
    sys.path.insert(0, str(REPO))
    from facenb.store import Gallery
    tmp = Path(tempfile.mkdtemp(prefix='facenb-startup-'))
    template = tmp / 'template.db'
    g = Gallery(template)
    for i in range(20):
        v = np.random.default_rng(i).normal(size=(2, 512)).astype(np.float32)
        g.enroll(f'Person {i:02d}', v, 'test-model', [f'p{i}a', f'p{i}b'])
    text = tmp / 'notes.jpg'; text.write_text('a text file, not a photo')
    db = tmp / 'g.db'
    commands = {'--help': ['--help'], 'people': ['people', '--db', db], 'rename': ['rename', 'Person 00', 'Person 99', '--db', db],
                'forget': ['forget', 'Person 01', '--db', db], 'enroll a text file': ['enroll', 'X', text, '--db', db],
                'recognize a text file': ['recognize', text, '--db', db]}
    trees = {'this tree': REPO, **({'before': a.before.resolve()} if a.before else {})}
    results = {(c, t): [] for c in commands for t in trees}
    for _ in range(a.runs):
        for c, args in commands.items():
            for t, tree in trees.items():  # interleaved: both trees see the same load
                shutil.copy(template, db)
                for s in ('-wal', '-shm'): Path(str(db) + s).unlink(missing_ok=True)
                results[c, t].append(run_once(tree, list(map(str, args))))
    print(f'facenb start to exit, median of {a.runs} runs (peak RSS), on {os.cpu_count()} CPUs')
    head = f'{"command":<24}' + ''.join(f'{t:>24}' for t in trees) + ('   ratio' if len(trees) > 1 else '')
    print(head); print('-' * len(head))
    for c in commands:
        cells, med = '', {}
        for t in trees:
            rs = results[c, t]
            med[t] = statistics.median(r[0] for r in rs)
            cells += f'{med[t]:>9.2f} s {max(r[1] for r in rs):>5} MB  exit {rs[0][2]}'
        ratio = f'  {med["before"] / med["this tree"]:5.1f}x' if 'before' in med else ''
        print(f'{c:<24}{cells}{ratio}')
    shutil.rmtree(tmp)


if __name__ == '__main__': main()
