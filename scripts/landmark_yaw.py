"""The enrolment quality gate's yaw estimate (facenb.quality.yaw) on MTCNN's landmarks against YuNet's (issue #20).

Every face MTCNN finds in the first 400 CelebA photos and the sample photos, paired with the YuNet face overlapping it
(IoU >= 0.5); yaw from MTCNN's points, from ONet's on YuNet's box (`yunet`'s default) and from YuNet's own points:
correlation, differences in degrees, and how often the gate's 45-degree limit decides differently.

    FACENB_DATA=../shared/data OMP_NUM_THREADS=1 python scripts/landmark_yaw.py      # ~2 min
"""
import numpy as np
from facenb.core import load_image, data_dir, iou
from facenb.detect import get_detector
from facenb.quality import yaw
import torch; torch.set_num_threads(1)
paths = sorted((data_dir()/'celeba/img_celeba').glob('*.jpg'))[:400] + sorted(p for p in (data_dir()/'samples').rglob('*.jpg'))
m, y, yp = get_detector('mtcnn'), get_detector('yunet'), get_detector('yunet', landmarks='yunet')
rows = []
for p in paths:
    im = load_image(p)
    ys, yps = y.detect(im), yp.detect(im)
    for f in m.detect(im):
        a = max(ys, key=lambda g: iou(g.box, f.box), default=None); b = max(yps, key=lambda g: iou(g.box, f.box), default=None)
        if a is None or iou(a.box, f.box) < 0.5: continue
        rows.append((yaw(f), yaw(a), yaw(b)))
r = np.array(rows, float)
print(len(r), 'faces')
for k, name in ((1, 'yunet+onet'), (2, 'yunet own')):
    d = r[:, k] - r[:, 0]
    print(name, 'corr', round(np.corrcoef(r[:, 0], r[:, k])[0, 1], 3), 'mean diff', round(d.mean(), 2), 'median |diff|', round(np.median(np.abs(d)), 2), 'p95 |diff|', round(np.percentile(np.abs(d), 95), 2),
          'over 45: mtcnn', int((np.abs(r[:, 0]) > 45).sum()), name, int((np.abs(r[:, k]) > 45).sum()), 'disagree', int(((np.abs(r[:, 0]) > 45) != (np.abs(r[:, k]) > 45)).sum()))
