"Issue #10 item 10: a gallery never mixes embeddings of two different weight files that share a file name."
import pytest
import torch

from facenb.embed import Embedder, find_weights
from facenb.recognize import Recognizer
from facenb.store import ModelMismatch


@pytest.fixture(scope='module')
def twin_weights(tmp_path_factory):
    "Two different FaceNet weight files, both called like facenet-pytorch's VGGFace2 file, in two folders."
    from facenb.embed import _state_dict
    try: _, path = find_weights()
    except Exception as e: pytest.skip(f'no FaceNet weights here: {e}')
    sd = _state_dict(path)
    root = tmp_path_factory.mktemp('weights')
    g = torch.Generator().manual_seed(0)
    files = []
    for sub, noise in (('a', 0.0), ('b', 0.05)):
        d = root / sub; d.mkdir()
        w = {k: (v + noise * torch.randn(v.shape, generator=g) * v.std() if k == 'last_linear.weight' else v) for k, v in sd.items()}
        torch.save(w, d / '20180402-114759-vggface2.pt')
        files.append(d / '20180402-114759-vggface2.pt')
    return files


def test_same_file_name_different_weights_are_two_models(twin_weights, samples, tmp_path):
    a, b = (Embedder(weights=p) for p in twin_weights)
    assert a.model_name != b.model_name
    db = tmp_path / 'g.db'
    Recognizer(db, embedder=a).enroll('obama', [samples / 'people/obama/obama.jpg'])
    other = Recognizer(db, embedder=b)
    with pytest.raises(ModelMismatch): other.recognize(samples / 'queries/obama1.jpg')
    with pytest.raises(ModelMismatch): other.enroll('biden', [samples / 'people/biden/biden.jpg'])
    assert [m.name for m in Recognizer(db, embedder=a).recognize(samples / 'queries/obama1.jpg')] == ['obama']


def test_the_same_weights_give_the_same_id_wherever_they_lie(twin_weights, tmp_path):
    copy = tmp_path / 'elsewhere.pt'
    copy.write_bytes(twin_weights[0].read_bytes())
    assert Embedder(weights=copy).model_name.split('#')[1] == Embedder(weights=twin_weights[0]).model_name.split('#')[1]
