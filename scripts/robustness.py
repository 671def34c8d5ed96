"""Robustness curves (nbs/10a_robustness.ipynb): MTCNN's detection rate and the verification accuracy and TAR at FAR
1e-3 of MobileFaceNet and FaceNet on the LFW-format sample with the probe photos degraded step by step (face size,
blur, JPEG, exposure, contrast, greyscale), the enrolment quality gate's effect on the same steps, and accuracy per
head-yaw bin on the CelebA photos. Writes docs/robustness.json and prints the tables of BENCHMARKS.md.

    FACENB_DATA=../shared/data OMP_NUM_THREADS=1 nice python scripts/robustness.py

One thread. About 25 minutes on a quiet 2-core machine (MTCNN on 414 probe photos per step, two embedders; the
3,707 CelebA photos once), about an hour at load 10. Detections and embeddings are cached ($FACENB_CACHE or
~/.cache/facenb: robustness/ and eval/), so a second run only recomputes the figures (a minute or two).
"""
import argparse, json, sys, time
from pathlib import Path
import torch
from facenb.core import data_dir
from facenb.robustness import robustness_report, curves_table

ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
ap.add_argument('--out', default='docs/robustness.json', help='where to write the figures (default: docs/robustness.json)')
ap.add_argument('--no-yaw', action='store_true', help='leave out the CelebA yaw bins')
args = ap.parse_args()
torch.set_num_threads(1)
if data_dir() is None: sys.exit('set FACENB_DATA to the shared data folder')
t0 = time.time()
results = robustness_report(data_dir() / 'lfw_format_sample', None if args.no_yaw else data_dir() / 'celeba', show=True)
Path(args.out).write_text(json.dumps(results, indent=1) + '\n')
print(curves_table(results))
print()
for m, r in results['gate']['models'].items():
    print(f"{m}: gate refuses {r['gate']['refused']:.1%} of {r['pairs']} matched pairs (all degraded steps); false rejects "
          f"{r['gate']['fnmr_all']:.3f} -> {r['gate']['fnmr_accepted']:.3f}; error-vs-reject at {results['gate']['fractions']}: "
          f"quality {r['quality']}, probability {r['probability']}")
if 'celeba' in results:
    for m, rows in results['celeba']['models'].items():
        print(m, ' '.join(f"{r['bin']}: n={r['genuine']} acc={r['accuracy']} tar={r['tar_at_far']}" for r in rows))
print(f'wrote {args.out} in {time.time() - t0:.0f}s')
