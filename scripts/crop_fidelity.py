"""How faithfully a gallery's stored face crops stand in for the photos: for every sample enrolment photo, the cosine
similarity between a model's embedding of the face in the photo and of the same face in its `FaceCrop` (a 256 px JPEG
of twice the box, re-aligned by the model on the crop), for MobileFaceNet and FaceNet; and the crops' sizes.

Rerun: FACENB_DATA=../shared/data OMP_NUM_THREADS=1 PYTHONPATH=. .venv/bin/python scripts/crop_fidelity.py
"""
import numpy as np
from facenb.core import data_dir
from facenb.detect import get_detector
from facenb.core import load_image
from facenb.embed import Embedder
from facenb.recognize import crop_embedder
from facenb.store import FaceCrop

if data_dir() is None: raise SystemExit('set FACENB_DATA to the shared data folder')
det = get_detector('mtcnn')
photos = [p for d in sorted((data_dir() / 'samples/people').iterdir()) for p in sorted(d.iterdir())]
faces = [(im, det.detect(im)[0]) for im in map(load_image, photos)]
crops = [FaceCrop.from_photo(im, f) for im, f in faces]
for name, emb in [('mobilefacenet', Embedder('mobilefacenet')), ('facenet (margin)', Embedder('facenet')),
                  ('facenet (similarity)', Embedder('facenet', align='similarity'))]:
    s = np.array([float(emb.embed(im, [f])[0] @ crop_embedder(emb)([c])[0]) for (im, f), c in zip(faces, crops)])
    print(f'{name:22s} photo vs crop cosine: min {s.min():.4f}  mean {s.mean():.4f}  ({len(s)} faces)')
sizes = [len(c.jpeg) for c in crops]
print(f'crop JPEG bytes: min {min(sizes):,}  mean {int(np.mean(sizes)):,}  max {max(sizes):,}')
