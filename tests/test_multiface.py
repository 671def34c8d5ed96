"The multi-face `custom` detector on the shared sample photos: every face of the group photos, no face on held-out scenes."
import pytest

from facenb.core import iou, load_image
from facenb.detect import get_detector
from facenb.data import list_scenes, split_by_key

GROUPS = {'misc/two_people.jpg': 2, 'queries/kit_with_rose.jpg': 2, 'queries/obama_and_biden.jpg': 3, 'misc/multiface.jpg': 6}


# Known false faces of the shipped detector, named here with their count and said in the README. Since photos are looked
# at in 1024 pixels (1 Dec 2026): the dial of the wristwatch on Obama's crossed arms in two_people.jpg (25 px, 0.82 in
# int8, 0.79 in float32, threshold 0.8). At 640 px there was none; the first run's weights boxed Obama's hand at 0.93.
KNOWN_EXTRA: dict[str, int] = {'misc/two_people.jpg': 1}


@pytest.mark.parametrize('photo,people', GROUPS.items(), ids=list(GROUPS))
def test_finds_every_face(samples, photo, people):
    "Each face MTCNN finds is found at IoU >= 0.5; nothing else is reported but the known false faces."
    image = load_image(samples / photo)
    ref, found = get_detector('mtcnn').detect(image), get_detector('custom').detect(image)
    assert len(ref) == people
    assert all(max((iou(m.box, f.box) for f in found), default=0.0) >= 0.5 for m in ref), ([m.box for m in ref], found)
    extra = [f for f in found if max(iou(f.box, m.box) for m in ref) < 0.3]
    assert len(extra) <= KNOWN_EXTRA.get(photo, 0), extra
    assert len(found) == people + len(extra), found  # one box per face


def test_custom_single_still_finds_one(samples):
    "The first custom detector stays available by name, with one face per photo."
    assert len(get_detector('custom-single').detect(load_image(samples / 'misc/two_people.jpg'))) == 1


def test_few_faces_on_held_out_scenes(data):
    "Scene photos of the held-out split (never trained on): a face on at most 2% of them (1 of 211 with the shipped weights; 7 with the first run's)."
    scenes = split_by_key(list_scenes(data / 'scenes'), lambda p: p.name)['test']
    det = get_detector('custom')
    assert len(scenes) >= 200
    false = [p.name for p in scenes if det.detect(load_image(p))]
    assert len(false) <= 0.02 * len(scenes), false
