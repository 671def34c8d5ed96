"""`kill -9` during `Gallery.forget`, many times in a row (BENCHMARKS.md "Reliability", issue #23 item 16).

A forked child process forgets people (`Gallery.forget`, the library's own code) and is killed with SIGKILL at a random moment; after every
kill this process checks, with a fresh connection as any later facenb would open the gallery:

- `PRAGMA integrity_check` is ok, no face is without its person, every person is whole (all 4 faces or none);
- a forget that returned is final, and one killed after its commit is final too;
- after `Gallery.purge()` (what the next forget does first), not one byte of any person forgotten so far is in the
  `.db` or its `-wal`: their name, photo hashes, thumbnails and embeddings (13 needles each);
- and, to show what a program that ignores the `-wal` would see, whether the `.db` alone (a copy without its `-wal`,
  as after deleting the `-wal` by hand) passes `integrity_check`: it need not, since the committed pages may still
  be in the log (`inconsistent_without_wal`). That is never a failure of facenb's.

New people are enrolled (by this process) whenever fewer than 60 are left, so enrolments and forgets
mix over the file's pages. Bounded by `--kills` and `--minutes`, whichever comes first; exit 1 at the first failure.

    PYTHONPATH=. OMP_NUM_THREADS=1 python scripts/kill9_forget.py --kills 500 --minutes 25
"""
from __future__ import annotations
import argparse, json, os, random, re, shutil, signal, sqlite3, sys, tempfile, time
from pathlib import Path

FACES = 4  # faces per person: all or nothing

def enrol(db: Path, tag: str, n: int):
    "Enrol `n` new people of 4 faces each (random embeddings, photo hashes and thumbnails that contain the name)."
    import numpy as np
    from facenb.store import Gallery
    g, rng = Gallery(db), np.random.default_rng(abs(hash(tag)) % 2**32)
    for i in range(n):
        name = f'{tag}-{i:04d}'
        g.enroll(name, rng.normal(size=(FACES, 512)).astype(np.float32), 'test-model', [f'{name}-photo{j}' for j in range(FACES)],
                 [f'thumb:{name}:{j}'.encode() * 20 for j in range(FACES)])


def forget_killed(db: Path, names: list[str], delay: float) -> list[str]:
    """A forked child forgets `names` (`Gallery.forget`, one by one) and is killed with SIGKILL `delay` seconds after it
    has opened the gallery; the names it reported forgotten. Forked, so that it starts at once, the library already imported."""
    from facenb.store import Gallery
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        try:
            os.close(r)
            g = Gallery(db, create=False)
            os.write(w, b'ready\n')
            for n in names:
                g.forget(n, wait=0.5)
                os.write(w, (n + '\n').encode())
        finally: os._exit(0)
    os.close(w)
    with os.fdopen(r) as out:
        assert out.readline().strip() == 'ready', 'the child did not open the gallery'
        time.sleep(delay)
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        return out.read().split()


def integrity(path: Path) -> str:
    con = sqlite3.connect(path)
    try: return '; '.join(r[0] for r in con.execute('PRAGMA integrity_check'))
    except sqlite3.DatabaseError as e: return f'unreadable: {e}'
    finally: con.close()


def people(db: Path) -> dict[str, int]:
    "Every person and their number of faces, after the structural checks; raises AssertionError on any problem."
    con = sqlite3.connect(db)
    try:
        assert con.execute('PRAGMA foreign_key_check').fetchall() == [], 'foreign key check'
        orphans = con.execute('SELECT count(*) FROM faces WHERE person_id NOT IN (SELECT id FROM people)').fetchone()[0]
        assert orphans == 0, f'{orphans} faces without their person'
        found = dict(con.execute('SELECT p.name, count(f.id) FROM people p LEFT JOIN faces f ON f.person_id = p.id GROUP BY p.id'))
    finally: con.close()
    half = {k: v for k, v in found.items() if v != FACES}
    assert not half, f'half-stored people: {half}'
    return found


def needles(db: Path, names: list[str]) -> dict[str, list[bytes]]:
    "What identifies each of `names` in the file: the name, their photo hashes, thumbnails and embeddings."
    con = sqlite3.connect(db)
    try:
        out = {}
        for n in names:
            rows = con.execute('SELECT f.embedding, f.photo_hash, f.thumbnail FROM faces f JOIN people p ON p.id = f.person_id '
                               'WHERE p.name = ?', (n,)).fetchall()
            out[n] = [n.encode(), *(r[1].encode() for r in rows), *(r[2] for r in rows), *(r[0][:64] for r in rows)]
        return out
    finally: con.close()


NAME = re.compile(rb'b\d{3}-\d{4}')  # every name, and so every photo hash and thumbnail (they contain the name)


def left_in_files(db: Path, forgotten: set[str], marks: dict[str, list[bytes]]) -> dict[str, int]:
    "The forgotten people still in the .db or its -wal, with how many needles: any forgotten name (which photo hashes and thumbnails contain), and every needle of those in `marks`."
    blobs = [p.read_bytes() for p in (db, db.with_name(db.name + '-wal')) if p.exists()]
    named = {m.decode() for b in blobs for m in NAME.findall(b)} & forgotten
    hits = {n: sum(any(x in b for b in blobs) for x in xs) for n, xs in marks.items()}
    return {n: max(hits.get(n, 0), 1) for n in named} | {n: k for n, k in hits.items() if k}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--kills', type=int, default=500)
    p.add_argument('--minutes', type=float, default=25.0, help='stop after this long, whatever the count')
    p.add_argument('--seed', type=int, default=1)
    p.add_argument('--max-delay', type=float, default=0.4, help='seconds after the child is ready, at most, before the kill')
    p.add_argument('--folder', default=None, help='where the gallery goes (default: a temporary folder, removed after)')
    p.add_argument('--keep-going', action='store_true', help='count the kills that leave bytes of the forgotten behind, and go on')
    args = p.parse_args(argv)
    from facenb.store import Gallery
    top = Path(args.folder or tempfile.mkdtemp(prefix='facenb-kill9-'))
    top.mkdir(parents=True, exist_ok=True)
    db, rng, t0 = top / 'g.db', random.Random(args.seed), time.monotonic()
    marks, forgotten, batches, fig = {}, set(), 0, dict(kills=0, integrity_failures=0, inconsistent_without_wal=0,
                                                           forgotten=0, people_with_bytes_left=0, bytes_checks=0, without_wal_says=[])
    failures = []

    def top_up():
        nonlocal batches
        enrol(db, f'b{batches:03d}', 120)
        batches += 1
        marks.update(needles(db, [n for n in people(db) if n not in marks]))

    top_up()
    try:
        while fig['kills'] < args.kills and time.monotonic() - t0 < args.minutes * 60:
            alive = sorted(set(people(db)) - forgotten)
            if len(alive) < 60: top_up(); alive = sorted(set(people(db)) - forgotten)
            todo = alive[:6]
            done = set(forget_killed(db, todo, rng.uniform(0, args.max_delay)))
            fig['kills'] += 1
            copy = top / 'without-wal.db'
            shutil.copyfile(db, copy)  # the .db alone, before anything opens the gallery again
            alone = integrity(copy)
            fig['inconsistent_without_wal'] += alone != 'ok'
            if alone != 'ok' and len(fig['without_wal_says']) < 3: fig['without_wal_says'].append(alone[:160])
            copy.unlink()
            verdict = integrity(db)
            if verdict != 'ok':
                fig['integrity_failures'] += 1
                failures.append(f'kill {fig["kills"]}: integrity_check: {verdict[:300]}')
                break
            now = people(db)
            assert not (done & set(now)), f'a forget that returned came back: {sorted(done & set(now))}'
            gone = (done | set(todo)) - set(now)  # killed after the commit, before it said so: gone all the same
            forgotten |= gone
            if not Gallery(db).purge(): failures.append(f'kill {fig["kills"]}: purge found a reader'); break
            left = left_in_files(db, forgotten, {n: marks[n] for n in gone})
            fig['bytes_checks'] += 1
            if left:
                fig['people_with_bytes_left'] += len(left)
                failures.append(f'kill {fig["kills"]}: after purge, bytes of forgotten people are in the files: {left}')
                if not args.keep_going: break
                for n in left: marks.pop(n, None)  # counted once
                forgotten -= set(left)
            if fig['kills'] % 50 == 0: print(json.dumps({**{k: v for k, v in fig.items() if k != 'without_wal_says'}, 'forgotten': len(forgotten), 'seconds': round(time.monotonic() - t0)}), flush=True)
        fig['kept'] = len(people(db))
    except AssertionError as e:
        failures.append(f'kill {fig["kills"]}: {e}')
    fig.update(forgotten=len(forgotten),
               seconds=round(time.monotonic() - t0, 1), db_bytes=db.stat().st_size, sqlite=sqlite3.sqlite_version,
               ok=not failures, failures=failures)
    print('KILL9', json.dumps(fig), flush=True)
    if not args.folder: shutil.rmtree(top, ignore_errors=True)
    return 0 if not failures else 1


if __name__ == '__main__':
    sys.exit(main())
