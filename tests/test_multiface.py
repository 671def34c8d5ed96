"The multi-face `custom` detector on the shared sample photos: every face of the group photos, no face on held-out scenes."
import pytest

from facenb.core import iou, load_image
from facenb.detect import get_detector
from facenb.data import list_scenes, split_by_key

GROUPS = {'misc/two_people.jpg': 2, 'queries/kit_with_rose.jpg': 2, 'queries/obama_and_biden.jpg': 3, 'misc/multiface.jpg': 6}


@pytest.mark.parametrize('photo,people', GROUPS.items(), ids=list(GROUPS))
def test_finds_every_face(samples, photo, people):
    "Each face MTCNN finds is found at IoU >= 0.5, and nothing else is reported."
    image = load_image(samples / photo)
    ref, found = get_detector('mtcnn').detect(image), get_detector('custom').detect(image)
    assert len(ref) == people
    assert all(max((iou(m.box, f.box) for f in found), default=0.0) >= 0.5 for m in ref), ([m.box for m in ref], found)
    assert len(found) == people, found


def test_custom_single_still_finds_one(samples):
    "The first custom detector stays available by name, with one face per photo."
    assert len(get_detector('custom-single').detect(load_image(samples / 'misc/two_people.jpg'))) == 1


def test_no_face_on_held_out_scenes(data):
    "Scene photos of the held-out split (never trained on): no face on any of the first ten."
    scenes = split_by_key(list_scenes(data / 'scenes'), lambda p: p.name)['test'][:10]
    det = get_detector('custom')
    assert len(scenes) == 10
    assert [p.name for p in scenes if det.detect(load_image(p))] == []
