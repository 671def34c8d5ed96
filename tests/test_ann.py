"The ANN index beside the gallery: `facenb forget` leaves no forgotten face in it, on disk."
import numpy as np

from conftest import facenb
from facenb.ann import FaceIndex
from facenb.store import Gallery


def bf16_bytes(index, key) -> bytes:
    "How a stored vector looks in a saved bfloat16 index: the top half of each float32."
    return (np.asarray(index.get(key), np.float32).view(np.uint32) >> 16).astype('<u2').tobytes()


def test_forget_scrubs_the_saved_index(tmp_path):
    g = Gallery(tmp_path / 'g.db')
    rng = np.random.default_rng(0)
    for p in range(50): g.enroll(f'p{p}', rng.standard_normal((3, 128)), 'synthetic', [f'{p}-{i}' for i in range(3)])
    fi = FaceIndex(g).sync('synthetic')
    ids = fi.ids[:3]  # p0's faces
    gone = [bf16_bytes(fi.index, int(i)) for i in ids]
    assert all(b in fi.path.read_bytes() for b in gone)
    facenb('forget', 'p0', '--db', g.path, check=0)
    saved = fi.path.read_bytes()
    assert not any(b in saved for b in gone)
    again = FaceIndex(g).sync('synthetic')
    assert again.last_sync['how'] == 'loaded' and len(again) == 49 * 3
    for p in range(1, 49): g.forget(f'p{p}')
    facenb('forget', 'p49', '--db', g.path, check=0)
    assert not fi.path.exists()  # nobody left, no index
