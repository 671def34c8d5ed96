"""A bounded load test of `facenb serve` on 127.0.0.1: throughput and latency of /v1/recognize, and concurrent enrolment.

Rerun (from the repository root, shared data in ../shared/data; about 11 minutes on 2 busy cores, less on quiet ones):

    FACENB_DATA=../shared/data .venv/bin/python scripts/load_test.py                  # 4 clients x 200 requests
    FACENB_DATA=../shared/data .venv/bin/python scripts/load_test.py --clients 2 --requests 50 --workers 2

What it does, in one run:
  1. loads a `Recognizer` in this process too (one torch thread: the server's setting with one recognition thread
     per core) with the same five people, to time the library alone beside the service;
  2. starts `facenb serve` on a free port of 127.0.0.1 with a fresh gallery (rate limit off: the limiter is not what is
     measured), enrols the five sample people, and checks the photo shows one face;
  3. one client, `--sequential` requests one after another: GET /v1/health (the service's own cost: HTTP, key check,
     JSON), then POST /v1/recognize alternating with `Recognizer.recognize` of the same photo in this process (so
     that a busy machine slows both alike): the latency with nobody else asking, and what HTTP adds, as a ratio;
  4. `--clients` clients x `--requests` requests of POST /v1/recognize (a 640x480 JPEG with one face, obama1.jpg cut to
     4:3), all at once: requests/s, p50/p99 latency, errors (any answer but 200 with obama named);
  5. `--clients` clients x `--enrolments` enrolments at once, each of a distinct photo of one new person (a stranger
     to the gallery: copies of lin-manuel-miranda.png with a different corner each), every client racing to create
     him: every face must be stored;
  6. stops the server by its PID. Every phase has a fixed number of requests, and the whole run gives up after
     `--max-seconds` (or at Ctrl-C or `kill PID`: clients finish the request they are in, then the server is stopped).
"""
from __future__ import annotations
import argparse, io, json, os, shutil, signal, socket, statistics, subprocess, sys, tempfile, threading, time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchmark import photo_640x480  # the 640x480 photo the speed benchmark uses

from facenb.core import data_dir
from facenb.store import Gallery


def jpeg(a: np.ndarray) -> bytes:
    buf = io.BytesIO(); Image.fromarray(a).save(buf, 'JPEG', quality=90); return buf.getvalue()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0)); return s.getsockname()[1]


def percentile(xs: list[float], q: float) -> float: return float(np.percentile(np.asarray(xs), q)) if xs else float('nan')


def library_recognizer(db: Path):
    "A `Recognizer` in this process on a gallery of the five sample people, one torch thread."
    import torch
    from facenb.recognize import Recognizer
    torch.set_num_threads(1)
    rec = Recognizer(db)
    for d in sorted((data_dir() / 'samples/people').iterdir()): rec.enroll(d.name, sorted(d.iterdir()))
    return rec


def interrupt(signum, frame): raise KeyboardInterrupt(f'signal {signum}')


def main():
    signal.signal(signal.SIGTERM, interrupt)   # `kill PID` stops the clients and the server like Ctrl-C
    signal.signal(signal.SIGINT, interrupt)    # also when started in the background, where SIGINT is ignored
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--clients', type=int, default=4)
    p.add_argument('--requests', type=int, default=200, help='recognitions per client')
    p.add_argument('--enrolments', type=int, default=10, help='new people per client in the enrolment phase')
    p.add_argument('--sequential', type=int, default=30, help='requests of the one-client phase')
    p.add_argument('--workers', type=int, default=1, help='server worker processes')
    p.add_argument('--max-seconds', type=float, default=900, help='give up after this long')
    p.add_argument('--json', type=Path, help='also write the figures here')
    a = p.parse_args()
    if data_dir() is None: sys.exit('set FACENB_DATA to the shared data folder (../shared/data)')
    samples = data_dir() / 'samples'
    deadline, stop = time.monotonic() + a.max_seconds, threading.Event()
    def going() -> bool: return not stop.is_set() and time.monotonic() < deadline
    def fan_out(fn, args: list) -> list:
        "`fn` on each of `args`, one client thread each; at Ctrl-C the clients stop after their current request."
        pool = ThreadPoolExecutor(len(args))
        try: return list(pool.map(fn, args))
        except BaseException: stop.set(); raise
        finally: pool.shutdown(wait=True)
    photo = photo_640x480(samples / 'queries/obama1.jpg')
    body = jpeg(photo)
    tmp = Path(tempfile.mkdtemp(prefix='facenb-load-'))
    figures = {'photo': '640x480 JPEG, 1 face', 'clients': a.clients, 'requests_per_client': a.requests,
               'workers': a.workers, 'cores': len(os.sched_getaffinity(0))}
    rec = library_recognizer(tmp / 'library.db')
    rec.recognize(photo)

    port, exe = free_port(), Path(sys.executable).with_name('facenb')
    url = f'http://127.0.0.1:{port}'
    log = open(tmp / 'server.log', 'w')
    Gallery(tmp / 'load.db')  # an empty gallery: `facenb serve` serves one, never makes one
    server = subprocess.Popen([str(exe), 'serve', '--port', str(port), '--db', str(tmp / 'load.db'), '--rate-limit', '0',
                               '--workers', str(a.workers)], stdout=log, stderr=subprocess.STDOUT)
    try:
        while True:
            if server.poll() is not None: sys.exit('the server stopped:\n' + (tmp / 'server.log').read_text())
            try:
                if httpx.get(url + '/v1/health', timeout=2).status_code == 200: break
            except httpx.TransportError: pass
            if time.monotonic() > deadline: sys.exit('the server did not start in time')
            time.sleep(0.5)
        with httpx.Client(base_url=url, timeout=120) as c:
            for d in sorted((samples / 'people').iterdir()):
                r = c.post(f'/v1/people/{d.name}/faces', files=[('photos', (f.name, f.read_bytes())) for f in sorted(d.iterdir())])
                assert r.status_code == 200, r.text
            assert len(c.post('/v1/detect', files={'photo': ('photo.jpg', body)}).json()['faces']) == 1

        def recognise(c: httpx.Client) -> tuple[float, bool]:
            t = time.perf_counter()
            try:
                r = c.post('/v1/recognize', files={'photo': ('photo.jpg', body)})
                ok = r.status_code == 200 and [f['name'] for f in r.json()['faces']] == ['obama']
            except httpx.HTTPError: ok = False
            return 1000 * (time.perf_counter() - t), ok

        def client(n: int) -> list[tuple[float, bool]]:
            out = []
            with httpx.Client(base_url=url, timeout=120) as c:
                for _ in range(n):
                    if not going(): break
                    out.append(recognise(c))
            return out

        with httpx.Client(base_url=url, timeout=60) as c:
            health = []
            for _ in range(a.sequential):
                t = time.perf_counter(); assert c.get('/v1/health').status_code == 200; health.append(1000 * (time.perf_counter() - t))
        figures['health_ms_p50'] = round(percentile(health, 50), 2)
        print(f'one client, {len(health)} GET /v1/health: p50 {figures["health_ms_p50"]} ms', flush=True)
        seq, library = [], []
        with httpx.Client(base_url=url, timeout=120) as c:
            for _ in range(a.sequential):
                if not going(): break
                t = time.perf_counter(); rec.recognize(photo); library.append(1000 * (time.perf_counter() - t))
                seq.append(recognise(c))
        figures['library_ms_p50'] = round(percentile(library, 50), 1)
        figures['sequential_ms_p50'] = round(percentile([t for t, _ in seq], 50), 1)
        figures['http_over_library'] = round(figures['sequential_ms_p50'] / figures['library_ms_p50'], 3)
        print(f'one client, {len(seq)} requests: p50 {figures["sequential_ms_p50"]} ms; the library alone, alternating: '
              f'{figures["library_ms_p50"]} ms (ratio {figures["http_over_library"]})', flush=True)

        t0 = time.perf_counter()
        results = [r for rs in fan_out(client, [a.requests] * a.clients) for r in rs]
        wall = time.perf_counter() - t0
        lat = [t for t, _ in results]
        figures.update(requests=len(results), errors=sum(not ok for _, ok in results) + a.clients * a.requests - len(results),
                       requests_per_s=round(len(results) / wall, 2), p50_ms=round(percentile(lat, 50), 1),
                       p99_ms=round(percentile(lat, 99), 1), wall_s=round(wall, 1))
        print(f'{a.clients} clients x {a.requests}: {figures["requests_per_s"]} requests/s, p50 {figures["p50_ms"]} ms, '
              f'p99 {figures["p99_ms"]} ms, {figures["errors"]} errors, {wall:.0f} s', flush=True)

        base = np.asarray(Image.open(samples / 'misc/lin-manuel-miranda.png').convert('RGB'))
        def enrol(k: int) -> list[int]:
            codes = []
            with httpx.Client(base_url=url, timeout=120) as c:
                for j in range(a.enrolments):
                    if not going(): break
                    i = k * a.enrolments + j
                    img = base.copy(); img[:4, :4] = i % 256; img[4:8, :4] = i // 256   # a distinct photo each time
                    codes.append(c.post('/v1/people/Lin-Manuel Miranda/faces', files={'photos': (f'{i}.jpg', jpeg(img))}).status_code)
            return codes
        codes = [c for cs in fan_out(enrol, list(range(a.clients))) for c in cs]
        people = httpx.get(url + '/v1/people', timeout=60).json()['people']
        stored = {p['name']: p['faces'] for p in people}.get('Lin-Manuel Miranda', 0)
        sent = a.clients * a.enrolments
        figures.update(enrolments_sent=sent, enrolments_ok=codes.count(200), faces_stored=stored, lost_enrolments=sent - stored)
        print(f'{a.clients} clients x {a.enrolments} enrolments: {codes.count(200)} answered 200, '
              f'{stored} faces stored, {sent - stored} lost', flush=True)
    finally:
        stop.set()
        server.terminate()
        try: server.wait(30)
        except subprocess.TimeoutExpired: server.kill(); server.wait()
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(figures))
    if a.json: a.json.write_text(json.dumps(figures, indent=1))
    bad = figures['errors'] or figures['lost_enrolments']
    sys.exit(1 if bad else 0)


if __name__ == '__main__': main()
