"""Speed of facenb's recognition beside the plain facenet-pytorch pipeline and (where installed) face_recognition.

Rerun (from the repository root, shared data in ../shared/data):

    FACENB_DATA=../shared/data .venv/bin/python scripts/benchmark.py                 # ~10 min on 2 busy cores
    FACENB_DATA=../shared/data .venv/bin/python scripts/benchmark.py --quick         # fewer repeats, 1 thread only
    FACENB_DATA=../shared/data OMP_NUM_THREADS=1 .venv/bin/python scripts/benchmark.py --models facenet mobilefacenet --threads 1
        # only the embedding models side by side (BENCHMARKS.md, "MobileFaceNet vs FaceNet")
    ... --threads 1 2 --repeats 15 --json bench.json --skip-gallery

face_recognition is optional (it is measured only when it imports):

    pip install dlib-bin face-recognition-models "setuptools<81"   # face_recognition_models needs pkg_resources
    pip install --no-deps face_recognition

What is timed, all in one process on the same photos (640x480, decoded once, as RGB arrays):
  * latency of a full recognition (detect, align, embed, match against a 5-person gallery) of a photo with 1 face and
    one with 6 faces: facenb `Recognizer.recognize`; facenet-pytorch as its README shows it (`MTCNN(image_size=160,
    keep_all=True)(img)` -> crops -> `InceptionResnetV1(crops)` loaded with facenb's weights -> matrix product);
    face_recognition (`face_locations` HOG -> `face_encodings` -> `face_distance`). Pipelines alternate within each
    repeat so that a busy machine slows them alike; the median is reported;
  * embedding throughput of facenb's `Embedder.embed_crops` by batch size;
  * gallery search: one query against 10k / 100k / 1M random unit vectors (the matrix product `Recognizer.identify`
    uses) and `facenb.recognize.PersonIndex.scores` (best face per person, 10 faces per person);
  * enrolment: photos per second of `Recognizer.enroll` on the shared sample people.

With `--models A B ...` only the embedding models are compared, alternating within each repeat, with the threads
given first: ms per face of `Embedder.embed_crops` at batch 1 and 16 (aligned crops of the 1-face photo), and a full
`Recognizer.recognize` of the 1-face and 6-face photos against the 5 sample people enrolled with that model.
"""
from __future__ import annotations
import argparse, json, os, platform, statistics, sys, tempfile, time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from facenb.core import data_dir, load_image
from facenb.detect import get_detector
from facenb.embed import Embedder, find_weights, load_facenet
from facenb.recognize import Recognizer, PersonIndex


def photo_640x480(path: Path, pad: bool = False) -> np.ndarray:
    "The photo cut to 4:3 around its centre (or, with `pad`, shrunk whole onto a black 4:3 canvas), at 640x480."
    im = Image.open(path).convert('RGB')
    w, h = im.size
    if pad:
        s = min(640 / w, 480 / h)
        canvas = Image.new('RGB', (640, 480))
        small = im.resize((round(w * s), round(h * s)), Image.LANCZOS)
        canvas.paste(small, ((640 - small.width) // 2, (480 - small.height) // 2))
        return np.asarray(canvas)
    cw, ch = (round(h * 4 / 3), h) if w / h > 4 / 3 else (w, round(w * 3 / 4))
    x, y = (w - cw) // 2, (h - ch) // 2
    return np.asarray(im.crop((x, y, x + cw, y + ch)).resize((640, 480), Image.LANCZOS))


def timed(fn) -> float:
    t = time.perf_counter(); fn(); return 1000 * (time.perf_counter() - t)


class FacenetPytorch:
    "facenet-pytorch as its README shows it, with the weights facenb uses (pretrained='vggface2' would download)."
    def __init__(self, gallery: np.ndarray):
        from facenet_pytorch import MTCNN, InceptionResnetV1
        self.mtcnn = MTCNN(image_size=160, keep_all=True)
        self.resnet = InceptionResnetV1().eval()
        self.resnet.load_state_dict(load_facenet(str(find_weights()[1])).state_dict())
        self.gallery = torch.from_numpy(gallery)

    @torch.inference_mode()
    def __call__(self, img: np.ndarray) -> int:
        crops = self.mtcnn(img)
        if crops is None: return 0
        emb = self.resnet(crops)
        (emb @ self.gallery.T).argmax(1)
        return len(emb)


class FaceRecognition:
    "face_recognition's pipeline: HOG detector, dlib ResNet encodings, distances to the gallery."
    def __init__(self, people: dict[str, list[Path]]):
        import face_recognition as fr
        self.fr = fr
        self.known = [fr.face_encodings(fr.load_image_file(p))[0] for ps in people.values() for p in ps[:1]]

    def __call__(self, img: np.ndarray) -> int:
        locs = self.fr.face_locations(img)
        encs = self.fr.face_encodings(img, locs)
        for e in encs: self.fr.face_distance(self.known, e)
        return len(encs)


def machine() -> dict:
    cpu = next((l.split(':', 1)[1].strip() for l in open('/proc/cpuinfo') if l.startswith('model name')), platform.processor())
    return {'cpu': cpu, 'cores': os.cpu_count(), 'load_average': [round(x, 1) for x in os.getloadavg()],
            'python': platform.python_version(), 'torch': torch.__version__, 'numpy': np.__version__,
            'torch_interop_threads': torch.get_num_interop_threads()}


def compare_models(names: list[str], photos: dict, people: dict, threads: int, repeats: int) -> dict:
    "Embedding cost per face (batch 1 and 16) and full recognition latency of each named model, alternating."
    os.environ['OMP_NUM_THREADS'] = str(threads)  # read by the TFLite interpreter when it is made
    torch.set_num_threads(threads)
    tmp = Path(tempfile.mkdtemp())
    recs = {}
    for n in names:
        rec = Recognizer(tmp / f'{n}.db', embedder=Embedder(n))
        for name, ps in people.items(): rec.enroll(name, ps)
        recs[n] = rec
    one = photos['1 face']
    face = recs[names[0]].detector.detect(one)[0]
    crops = {n: np.stack([r.embedder.align(one, face)] * 16) for n, r in recs.items()}
    out = {}
    for bs in (1, 16):
        times = {n: [] for n in recs}
        for n, r in recs.items(): r.embedder.embed_crops(crops[n][:bs])
        for _ in range(repeats):
            for n, r in recs.items(): times[n].append(timed(lambda: r.embedder.embed_crops(crops[n][:bs])) / bs)
        for n, ts in times.items(): out[f'embed ms per face | batch {bs} | {n}'] = round(statistics.median(ts), 2)
        print(f'batch {bs}: ' + ', '.join(f'{n} {statistics.median(ts):.2f} ms/face' for n, ts in times.items()), flush=True)
    for label, im in photos.items():
        times = {n: [] for n in recs}
        for n, r in recs.items():
            found = [m.name for m in r.recognize(im)]
            out[f'recognize names | {label} | {n}'] = found
        for _ in range(repeats):
            for n, r in recs.items(): times[n].append(timed(lambda: r.recognize(im)))
        for n, ts in times.items(): out[f'recognize ms | {label} | {n}'] = round(statistics.median(ts), 1)
        print(f'recognize {label}: ' + ', '.join(f'{n} {statistics.median(ts):.0f} ms' for n, ts in times.items()), flush=True)
    base = names[0]
    for k in list(out):
        if k.endswith(f'| {base}') and not k.startswith('recognize names'):
            for n in names[1:]: out[f'ratio {base} / {n} | ' + k.rsplit(' | ', 1)[0]] = round(out[k] / out[k.replace(f'| {base}', f'| {n}')], 2)
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--threads', type=int, nargs='+', default=[1, 2], help='torch.set_num_threads values to compare')
    ap.add_argument('--repeats', type=int, default=11, help='timed runs per pipeline and photo (after one warm-up)')
    ap.add_argument('--quick', action='store_true', help='5 repeats, 1 thread, small gallery sizes only')
    ap.add_argument('--skip-gallery', action='store_true', help='no gallery search timing (needs 2 GB for 1M)')
    ap.add_argument('--json', default=None, help='also write every figure to this file')
    ap.add_argument('--models', nargs='+', default=None, metavar='NAME', help='only compare these embedding models (e.g. facenet mobilefacenet)')
    a = ap.parse_args(argv)
    if a.quick: a.repeats, a.threads = 5, a.threads[:1]
    data = data_dir()
    if data is None: sys.exit('set FACENB_DATA to the shared data folder')
    samples = data / 'samples'
    out = {'machine': machine(), 'command': 'python scripts/benchmark.py ' + ' '.join(argv if argv is not None else sys.argv[1:])}

    one = photo_640x480(samples / 'queries/obama1.jpg')
    six = photo_640x480(samples / 'misc/multiface.jpg')
    if len(get_detector().detect(six)) != 6: six = photo_640x480(samples / 'misc/multiface.jpg', pad=True)
    photos = {'1 face': one, '6 faces': six}
    counts = {k: len(get_detector().detect(v)) for k, v in photos.items()}
    assert counts == {'1 face': 1, '6 faces': 6}, counts
    print(f'photos 640x480: {counts}', flush=True)

    people = {d.name: sorted(d.iterdir()) for d in sorted((samples / 'people').iterdir())}
    if a.models:
        out['models'] = compare_models(a.models, photos, people, a.threads[0], a.repeats)
        print('\n## Results\n')
        print(f'machine: {out["machine"]}')
        print(f'command: {out["command"]}\n')
        print('| figure | value |\n|---|---|')
        for k, v in out['models'].items(): print(f'| {k} | {v} |')
        print(f'load average at the end: {[round(x, 1) for x in os.getloadavg()]} (other people share this CPU)')
        if a.json: Path(a.json).write_text(json.dumps(out, indent=1))
        return
    tmp = Path(tempfile.mkdtemp())
    rec = Recognizer(tmp / 'bench.db')
    rec.embedder.embed(one, rec.detector.detect(one))  # load the models before timing anything
    t = time.perf_counter()
    n_photos = sum(len(ps) for ps in people.values())
    for name, ps in people.items(): rec.enroll(name, ps)
    out['enrol_photos_per_s'] = round(n_photos / (time.perf_counter() - t), 2)
    print(f'enrolment: {n_photos} photos, {out["enrol_photos_per_s"]} photos/s (threads {torch.get_num_threads()})', flush=True)

    pipelines = {'facenb': lambda im: len(rec.recognize(im)),
                 'facenet-pytorch': FacenetPytorch(rec.gallery.matrix(rec.model)[1])}
    try: pipelines['face_recognition'] = FaceRecognition(people)
    except Exception as e: out['face_recognition'] = f'not measured: {type(e).__name__}: {e}'.splitlines()[0]

    out['latency_ms'] = {}
    for threads in a.threads:
        torch.set_num_threads(threads)
        for label, im in photos.items():
            times = {k: [] for k in pipelines}
            for k, fn in pipelines.items():
                found = fn(im)  # warm-up, and a check that each pipeline sees the faces
                if found != counts[label]: print(f'  note: {k} found {found} faces in the {label} photo', flush=True)
            for _ in range(a.repeats):
                for k, fn in pipelines.items(): times[k].append(timed(lambda: fn(im)))
            for k, ts in times.items():
                out['latency_ms'][f'{k} | {label} | {threads} thread{"s" * (threads > 1)}'] = round(statistics.median(ts), 1)
            print(f'threads={threads} {label}: ' + ', '.join(f'{k} {statistics.median(ts):.0f} ms' for k, ts in times.items()), flush=True)

    emb = rec.embedder
    crops = np.stack([emb.align(one, rec.detector.detect(one)[0])] * 64)
    out['embed_crops_per_s'] = {}
    for threads in a.threads:
        torch.set_num_threads(threads)
        for bs in (1, 8, 32, 64):
            e = Embedder(batch_size=bs)  # the default model
            e.embed_crops(crops[:bs])
            n = 32 if bs < 32 else 64
            secs = min(timed(lambda: e.embed_crops(crops[:n])) for _ in range(2 if a.quick else 3)) / 1000
            out['embed_crops_per_s'][f'batch {bs} | {threads} thread{"s" * (threads > 1)}'] = round(n / secs, 1)
        print(f'threads={threads} embed crops/s: {out["embed_crops_per_s"]}', flush=True)

    if not a.skip_gallery:
        torch.set_num_threads(max(a.threads))
        rng = np.random.default_rng(0)
        out['gallery_search_ms'] = {}
        for n in ((10_000, 100_000) if a.quick else (10_000, 100_000, 1_000_000)):
            g = rng.standard_normal((n, 512), dtype=np.float32)
            g /= np.linalg.norm(g, axis=1, keepdims=True)
            q = g[:6] + 0.01
            for m in (1, 6):
                ms = statistics.median(timed(lambda: (q[:m] @ g.T).argmax(1)) for _ in range(5))
                out['gallery_search_ms'][f'matrix product | {n:,} faces | {m} quer{"ies" if m > 1 else "y"}'] = round(ms, 2)
            index = PersonIndex([f'p{i // 10:07d}' for i in range(n)])  # 10 faces per person, built once as Recognizer does
            for m in (1, 6):
                ms = statistics.median(timed(lambda: index.scores(q[:m], g)) for _ in range(5))
                out['gallery_search_ms'][f'PersonIndex.scores | {n:,} faces ({n // 10:,} people) | {m} quer{"ies" if m > 1 else "y"}'] = round(ms, 2)
            del g
            print(f'gallery {n:,}: done', flush=True)

    print('\n## Results\n')
    print(f'machine: {out["machine"]}')
    print(f'command: {out["command"]}\n')
    rows = [('latency_ms', 'median latency, ms'), ('embed_crops_per_s', 'embedding throughput, crops/s'),
            ('gallery_search_ms', 'gallery search, ms')]
    for key, title in rows:
        if key not in out: continue
        print(f'| {title} | value |\n|---|---|')
        for k, v in out[key].items(): print(f'| {k} | {v} |')
        print()
    lat = out['latency_ms']
    for threads in a.threads:
        tl = f'{threads} thread{"s" * (threads > 1)}'
        for label in photos:
            base = lat[f'facenet-pytorch | {label} | {tl}']
            print(f'ratio facenet-pytorch / facenb, {label}, {tl}: {base / lat[f"facenb | {label} | {tl}"]:.2f}'
                  + (f'; face_recognition / facenb: {lat[f"face_recognition | {label} | {tl}"] / lat[f"facenb | {label} | {tl}"]:.2f}'
                     if f'face_recognition | {label} | {tl}' in lat else ''))
    print(f'enrolment: {out["enrol_photos_per_s"]} photos/s')
    if 'face_recognition' in out: print(f'face_recognition: {out["face_recognition"]}')
    print(f'load average at the end: {[round(x, 1) for x in os.getloadavg()]} (other people share this CPU)')
    if a.json: Path(a.json).write_text(json.dumps(out, indent=1))


if __name__ == '__main__':
    main()
