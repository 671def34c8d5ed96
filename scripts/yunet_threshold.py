"""YuNet's operating threshold (issue #20): precision and recall on the WIDER sample and false faces on scene photos.

For each candidate threshold of `yunet`, and for MTCNN at its own 0.95: on the WIDER FACE sample, the share of valid faces
found (IoU 0.5) and the precision of the detections kept (a detection on an ignored face neither counts nor costs, as in
the official toolkit); on the 2,400 scene photos without people, how many false faces. The threshold shipped is the
lowest whose precision is at least MTCNN's on the WIDER sample and finds no more false faces on the scenes.

    FACENB_DATA=../shared/data OMP_NUM_THREADS=1 python scripts/yunet_threshold.py    # ~3 min (MTCNN most of it)
"""
import argparse, json
from pathlib import Path
import numpy as np
from facenb.core import data_dir, load_image
from facenb.eval import image_eval, permissive_detector, read_wider_gt

ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
ap.add_argument('--detector', default='yunet', help='backend whose thresholds are scanned, NAME[:OPT=V,...] options not supported')
ap.add_argument('--thresholds', nargs='+', type=float, default=[0.5, 0.6, 0.7, 0.8, 0.9])
ap.add_argument('--reference', default='mtcnn', help='detector whose own threshold is the reference')
a = ap.parse_args()
wider = data_dir() / 'wider_face_dev'
gt = read_wider_gt(wider / 'wider_face_split/wider_face_val_bbx_gt.txt')
images = wider / 'WIDER_val/images'
scenes = sorted((data_dir() / 'scenes').rglob('*.jpg'))
dets = {n: permissive_detector(n) for n in (a.detector, a.reference)}  # name -> (detector at threshold 0, its own threshold)
preds = {n: {} for n in dets}
for k in gt:
    im = load_image(images / k)
    for n, (d, _) in dets.items():
        preds[n][k] = np.array([[*f.box[:2], f.box[2] - f.box[0], f.box[3] - f.box[1], f.probability] for f in d.detect(im)]).reshape(-1, 5)
scene_scores = {n: [] for n in dets}
for p in scenes:
    im = load_image(p)
    for n, (d, _) in dets.items(): scene_scores[n] += [f.probability for f in d.detect(im)]

def at(name, t):
    "Recall and precision on the WIDER sample, false faces on the scenes, keeping detections scoring at least t."
    tp = counted = faces = 0
    for k, g in gt.items():
        keep = g[:, 7] == 0; faces += int(keep.sum())
        p = preds[name][k]; p = p[np.argsort(-p[:, 4], kind='stable')]; p = p[p[:, 4] >= t]
        if not len(p) or not len(g): counted += len(p); continue
        rec, prop = image_eval(p, g[:, :4], keep)
        tp += int(rec[-1]); counted += int((prop == 1).sum())
    return {'threshold': t, 'recall': round(tp / faces, 4), 'precision': round(tp / max(counted, 1), 4),
            'false faces on scenes': int(np.sum(np.array(scene_scores[name]) >= t))}

ref_t = dets[a.reference][1]
rows = [{'detector': a.reference, **at(a.reference, ref_t)}] + [{'detector': a.detector, **at(a.detector, t)} for t in a.thresholds]
print(f'WIDER sample {len(gt)} photos; {len(scenes)} scene photos without people\n')
print('| detector | threshold | recall (valid faces, IoU 0.5) | precision | false faces on scenes |\n|---|---:|---:|---:|---:|')
for r in rows: print(f"| {r['detector']} | {r['threshold']} | {r['recall']:.3f} | {r['precision']:.3f} | {r['false faces on scenes']} |")
print(json.dumps(rows))
