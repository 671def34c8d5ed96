"""How far a remembered "not this person" should reach: the similarity of one face to itself seen again, against the
similarity of two different photos of one person.

A rejection stores the rejected face's embedding (and a crop of it, to be re-embedded with the next model). The same
face comes back as: the same photo indexed again (the same embedding), a copy of the photo re-encoded or resized, and,
after `facenb reembed`, the face embedded from its stored crop where the archive embeds it from the whole photo. A
"no" must reach those; it must not reach the person's other photos (that would be a blanket ban on the person for
anyone who looks alike). For CelebA photos (the central face of each), the script prints the quantiles of:

- `crop`: the face embedded from its stored crop vs from the photo (default model and FaceNet),
- `reencoded`: the photo saved as JPEG quality 60 at 70 % of its size, vs the photo,
- `same person`: two different photos of one person,
and the share of same-person pairs above each candidate reach.

    FACENB_DATA=../shared/data OMP_NUM_THREADS=1 python scripts/reject_reach.py --photos 300
"""
import argparse, io, json
import numpy as np
import torch
from PIL import Image

from facenb.core import data_dir, load_image
from facenb.data import find_celeba
from facenb.detect import get_detector
from facenb.eval import detections, central_face
from facenb.store import FaceCrop
from facenb.recognize import embedder_for

ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
ap.add_argument('--photos', type=int, default=300, help='CelebA photos (the first N people with all their photos)')
args = ap.parse_args()
torch.set_num_threads(1)

celeba = find_celeba(data_dir() / 'celeba')
by_person = {}
for n, who in sorted(celeba.identities.items()): by_person.setdefault(who, []).append(n)
names = []
for who, ns in sorted(by_person.items()):
    if len(names) >= args.photos: break
    names += ns
paths = [celeba.images / n for n in names]
det = get_detector('mtcnn')
faces_all, _ = detections(paths, det)
out = {}
for model in (None, 'facenet'):
    emb = embedder_for(model)
    photo, crop, reenc, who = [], [], [], []
    for p, n, faces in zip(paths, names, faces_all):
        image = load_image(p)
        f = central_face(faces, image.shape)
        if f is None: continue
        photo.append(emb.embed(image, [f])[0])
        c = FaceCrop.from_photo(image, f)
        crop.append(emb.embed(c.image(), [c.face])[0])
        im = Image.fromarray(image); im = im.resize((round(im.width * 0.7), round(im.height * 0.7)), Image.Resampling.BILINEAR)
        buf = io.BytesIO(); im.save(buf, 'JPEG', quality=60)
        small = load_image(buf.getvalue())
        fs = [g for g in det.detect(small)]
        g = max(fs, key=lambda g: -np.hypot(*(np.subtract(g.box[:2], np.multiply(f.box[:2], 0.7))))) if fs else None
        reenc.append(emb.embed(small, [g])[0] if g is not None else np.full_like(photo[-1], np.nan))
        who.append(celeba.identities[n])
    P, C, R, who = np.stack(photo), np.stack(crop), np.stack(reenc), np.array(who)
    s_crop, s_re = np.sum(P * C, 1), np.sum(P * R, 1)
    s_re = s_re[np.isfinite(s_re)]
    i, j = np.triu_indices(len(P), 1)
    same = who[i] == who[j]
    s_same = np.sum(P[i[same]] * P[j[same]], 1)
    q = lambda s: {f'q{int(k * 100):02d}': round(float(np.quantile(s, k)), 4) for k in (0.0, 0.01, 0.05, 0.5)} | {'max': round(float(s.max()), 4), 'n': int(len(s))}
    out[emb.model_name.split('/')[0]] = {
        'crop vs photo': q(s_crop), 'reencoded vs photo': q(s_re), 'same person, other photo': q(s_same),
        'same-person pairs above': {str(r): round(float(np.mean(s_same >= r)), 5) for r in (0.7, 0.8, 0.85, 0.9, 0.95)},
        'same face reached at': {str(r): round(float(np.mean(np.concatenate([s_crop, s_re]) >= r)), 4) for r in (0.7, 0.8, 0.85, 0.9, 0.95)}}
    print(json.dumps({emb.model_name: out[emb.model_name.split('/')[0]]}), flush=True)
