"""`Recognizer.recognize` of the 1-face and 6-face 640x480 photos with each detector, in one run (issue #20).

The photos and the 5-person gallery of scripts/benchmark.py (obama1.jpg and multiface.jpg cut to 640x480; the sample
people enrolled, each detector with its own gallery, MobileFaceNet); detectors alternate within each repeat, so that a
busy moment of the shared CPU falls on all of them alike; one torch / ONNX Runtime thread; median ms.

    FACENB_DATA=../shared/data OMP_NUM_THREADS=1 python scripts/recognize_detectors.py --detectors mtcnn yunet yunet:landmarks=yunet
"""
import argparse, json, statistics, sys, tempfile, time
from pathlib import Path
import torch
sys.path.insert(0, str(Path(__file__).parent))
from benchmark import photo_640x480
from facenb.core import data_dir
from facenb.detect import get_detector
from facenb.recognize import Recognizer

ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
ap.add_argument('--detectors', nargs='+', default=['mtcnn', 'yunet'], metavar='NAME[:OPT=V,...]')
ap.add_argument('--repeats', type=int, default=11)
a = ap.parse_args()
torch.set_num_threads(1)
samples = data_dir() / 'samples'
photos = {'1 face': photo_640x480(samples / 'queries/obama1.jpg'), '6 faces': photo_640x480(samples / 'misc/multiface.jpg')}
people = {d.name: sorted(d.iterdir()) for d in sorted((samples / 'people').iterdir())}
tmp = Path(tempfile.mkdtemp())
recs = {}
for i, s in enumerate(a.detectors):
    name, _, opts = s.partition(':')
    det = get_detector(name, **{k: v for k, v in (o.split('=') for o in opts.split(',') if o)})
    rec = recs[s] = Recognizer(tmp / f'g{i}.db', detector=det)
    for person, ps in people.items(): rec.enroll(person, ps)
out = {}
for label, im in photos.items():
    named = {s: [m.name for m in r.recognize(im)] for s, r in recs.items()}  # warm-up, and whom each names
    times = {s: [] for s in recs}
    for _ in range(a.repeats):
        for s, r in recs.items():
            t = time.perf_counter(); r.recognize(im); times[s].append(1e3 * (time.perf_counter() - t))
    out[label] = {s: {'ms': round(statistics.median(times[s]), 1), 'faces': len(named[s]), 'named': sorted(n for n in named[s] if n)} for s in recs}
    print(label, json.dumps(out[label]), flush=True)
print('\n| photo | ' + ' | '.join(a.detectors) + ' |\n|---|' + '---:|' * len(a.detectors))
for label, r in out.items(): print(f'| {label} | ' + ' | '.join(f"{r[s]['ms']:.0f} ms ({r[s]['faces']} faces)" for s in a.detectors) + ' |')
print(json.dumps(out))
