"""WIDER FACE: several detectors measured in ONE run, photo by photo in turn (issue #11).

Rerun (from the repository root, shared data in ../shared/data):

    FACENB_DATA=../shared/data OMP_NUM_THREADS=1 .venv/bin/python scripts/wider_compare.py \
        ../shared/data/wider_face_dev/WIDER_val/images ../shared/data/wider_face_dev/wider_face_split/wider_face_val_bbx_gt.txt \
        --detectors custom mtcnn blazeface blazeface-full --threads 1                       # ~4 min on the 305-photo sample
    ... --detectors yunet yunet:max_side=None yunet:max_side=800 yunet:max_side=640 mtcnn custom blazeface-full   # issue #20, ~40 min at load 15

`NAME:OPTION=VALUE,...` passes options to a backend, e.g. `custom:max_side=480` (photos shrunk to 480 pixels on the long
side) or `custom:coarse=None` (one look), to choose them by AP against time. What is measured, for each detector:
  * AP at IoU 0.5 over all valid faces of the ground truth, with the official toolkit's computation (`facenb.eval.wider_pr`);
    every detector is run with its probability threshold at 0 so the whole precision/recall curve is drawn;
  * the most recall each detector reaches at any threshold, by band of face height (`facenb.eval.recall_by_size`), which
    tells faces never found from faces found but ranked below false ones;
  * milliseconds per photo (median and mean), the photo already decoded, one detector after the other on the same photo,
    so that a busy moment of the shared CPU falls on all of them alike. Nothing is read from the detection cache.
"""
from __future__ import annotations
import argparse, json, sys, time
from pathlib import Path

import numpy as np
import torch

from facenb.core import load_image
from facenb.eval import permissive_detector, read_wider_gt, wider_pr, recall_by_size


def _value(v: str):
    "An option's value: None, an int, a float, or else the string itself (a weights file)."
    if v == 'None': return None
    for t in (int, float):
        try: return t(v)
        except ValueError: pass
    return v


def make(spec: str):
    "A detector keeping every candidate, from `name` or `name:option=value,...` (e.g. `custom:max_side=480,coarse=None`)."
    name, _, opts = spec.partition(':')
    kw = {k: _value(v) for k, v in (o.split('=') for o in opts.split(',') if o)}
    return permissive_detector(name, **kw)[0]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('root'); ap.add_argument('gt')
    ap.add_argument('--detectors', nargs='+', default=['yunet', 'custom', 'mtcnn', 'blazeface', 'blazeface-full'])
    ap.add_argument('--threads', type=int, default=1); ap.add_argument('--limit', type=int, default=None)
    ap.add_argument('--json', default=None, help='write the figures here too')
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    gt = read_wider_gt(a.gt)
    names = list(gt)[:a.limit]
    root = Path(a.root)
    images = next(d for d in (root / 'WIDER_val/images', root / 'images', root) if (d / names[0]).is_file())
    dets = {s: make(s) for s in a.detectors}
    preds = {s: {} for s in dets}; secs = {s: [] for s in dets}
    warm = load_image(images / names[0])
    for d in dets.values(): d.detect(warm)  # first-call costs (lazy imports, allocations) are not timed
    for i, n in enumerate(names):
        im = load_image(images / n)
        for s, d in dets.items():
            t = time.perf_counter(); faces = d.detect(im); secs[s].append(time.perf_counter() - t)
            preds[s][n] = np.array([[f.box[0], f.box[1], f.box[2] - f.box[0], f.box[3] - f.box[1], f.probability]
                                    for f in faces]).reshape(-1, 5)
        if i % 50 == 0: print(f'{i}/{len(names)}', file=sys.stderr, flush=True)
    valid = {n: (gt[n][:, :4], gt[n][:, 7] == 0) for n in names}
    faces = int(sum(k.sum() for _, k in valid.values()))
    rows = {s: {'ap_all': round(wider_pr(preds[s], valid)[0], 4), 'ms_median': round(1000 * float(np.median(secs[s])), 1),
                'ms_mean': round(1000 * float(np.mean(secs[s])), 1), 'recall_by_height': recall_by_size(preds[s], valid)} for s in dets}
    print(f'\nWIDER FACE sample: {len(names)} photos, {faces} valid faces, torch threads {a.threads}\n')
    print('| detector | AP (all valid faces, IoU 0.5) | ms per photo, median | mean |\n|---|---:|---:|---:|')
    for s, r in rows.items(): print(f"| {s} | {r['ap_all']:.3f} | {r['ms_median']:.1f} | {r['ms_mean']:.1f} |")
    bands = next(iter(rows.values()))['recall_by_height']
    print('\nRecall at any score by face height (pixels; valid faces in each band):\n')
    print('| detector | ' + ' | '.join(f'{b} ({n})' for b, (n, _) in bands.items()) + ' |\n|---|' + '---:|' * len(bands))
    for s, r in rows.items(): print(f'| {s} | ' + ' | '.join(f'{v:.2f}' for _, v in r['recall_by_height'].values()) + ' |')
    if a.json: Path(a.json).write_text(json.dumps({'photos': len(names), 'faces': faces, 'threads': a.threads, 'results': rows}, indent=1))


if __name__ == '__main__':
    main()
