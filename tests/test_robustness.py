"Face quality on real photos: yaw from landmarks, sharpness under blur and low resolution, and the quality check at enrolment (library and command line)."
import shutil
from pathlib import Path
import numpy as np
import pytest
from PIL import Image

from conftest import facenb, snapshot
from facenb.core import load_image
from facenb.detect import get_detector
from facenb.quality import QualityLimits, face_quality, sharpness, yaw
from facenb.recognize import Recognizer, EnrollmentError
from facenb.robustness import blur, downscale


@pytest.fixture(scope='module')
def mtcnn(): return get_detector('mtcnn')


def one_face(detector, image):
    faces = detector.detect(image)
    assert faces, 'no face found'
    return max(faces, key=lambda f: f.size)


def test_yaw_sign_flips_on_mirrored_faces(data, mtcnn):
    "Every clearly turned face among 60 CelebA photos reads the opposite way in its mirror image, by a similar angle."
    from facenb.data import find_celeba
    celeba = find_celeba(data / 'celeba')
    turned = []
    for name in sorted(celeba.identities)[:60]:
        image = load_image(celeba.images / name)
        faces = mtcnn.detect(image)
        if faces and abs(yaw(f := max(faces, key=lambda f: f.size))) > 20: turned.append((image, f))
    assert len(turned) >= 3
    for image, face in turned:
        mirrored = one_face(mtcnn, np.ascontiguousarray(image[:, ::-1]))
        assert yaw(face) * yaw(mirrored) < 0, (yaw(face), yaw(mirrored))
        assert abs(abs(yaw(face)) - abs(yaw(mirrored))) < 15


def test_frontal_sample_reads_frontal(samples, mtcnn):
    assert abs(yaw(one_face(mtcnn, load_image(samples / 'people/obama/obama.jpg')))) < 10


def test_blur_and_low_resolution_lower_the_quality_monotonically(samples, mtcnn):
    "On a real enrolment photo, more blur or fewer pixels across the face always means lower sharpness, never a higher quality score."
    image = load_image(samples / 'people/kit_harington/john1.jpeg')
    face = one_face(mtcnn, image)
    limits = QualityLimits()
    blurred = [sharpness(blur(image, s), face) for s in (0, 1, 2, 4, 8)]
    assert all(a > b for a, b in zip(blurred, blurred[1:])), blurred
    smaller = [face_quality(downscale(image, face, side), face) for side in (128, 64, 32, 16, 8)]
    assert all(a.sharpness > b.sharpness for a, b in zip(smaller, smaller[1:])), smaller
    scores = [limits.score(q) for q in smaller]  # the smallest of three ratios: the yaw's can bind while the face is sharp
    assert all(a >= b for a, b in zip(scores, scores[1:])) and scores[0] > 1 > scores[-1], scores
    assert limits.problem(face_quality(image, face)) is None and limits.problem(smaller[-1]) is not None


@pytest.fixture(scope='module')
def recognizer(tmp_path_factory):
    return Recognizer(tmp_path_factory.mktemp('quality') / 'gallery.db')


def test_good_sample_photos_are_accepted(recognizer, samples):
    "The sample people's photos, and the 240p copy of Obama's, pass the quality check and are enrolled."
    assert recognizer.enroll('obama', [samples / 'people/obama/obama.jpg', samples / 'misc/obama-240p.jpg']) == 2
    assert recognizer.enroll('biden', sorted((samples / 'people/biden').iterdir())) >= 1


def test_an_8px_face_is_refused_with_the_reason_and_nothing_is_stored(recognizer, samples, mtcnn, tmp_path):
    "Kit Harington's photo as a camera would give it with his face 8 px across: refused at enrolment, the gallery unchanged."
    image = load_image(samples / 'people/kit_harington/john1.jpeg')
    tiny = downscale(image, one_face(mtcnn, image), 8)
    path = tmp_path / 'kit_8px.jpg'; Image.fromarray(tiny).save(path, quality=95)
    recognizer.enroll('anchor', [samples / 'people/rose_leslie/img1.jpg'])  # a gallery with people in it
    before = snapshot(recognizer.gallery.path)
    with pytest.raises(EnrollmentError, match=r'kit_8px\.jpg: the face is too blurred or too low in resolution \(sharpness 0\.0\d+, the minimum is 0\.03\); use a better photo, or skip the quality check'):
        recognizer.enroll('kit', [samples / 'people/kit_harington/john1.jpeg', path])  # one good photo, one poor: nothing stored
    assert snapshot(recognizer.gallery.path) == before
    lenient = Recognizer(recognizer.gallery, embedder=recognizer.embedder, quality=None)
    assert lenient.enroll('kit', [path]) == 1  # the user's explicit choice


def test_verification_has_no_quality_check(recognizer, samples, mtcnn):
    "Comparing two photos answers with a low similarity for a poor one instead of refusing it."
    image = load_image(samples / 'people/obama/obama.jpg')
    out = recognizer.verify(samples / 'misc/obama3.jpg', blur(image, 12))
    assert out['similarity'] < 0.9


def test_command_line_refuses_a_blurred_photo_unless_told(sample_db, samples, tmp_path, mtcnn):
    db = tmp_path / 'g.db'; shutil.copy(sample_db, db)
    image = load_image(samples / 'people/rose_leslie/img1.jpg')
    path = tmp_path / 'smeared.jpg'; Image.fromarray(blur(image, one_face(mtcnn, image).size / 20)).save(path)
    before = snapshot(db)
    r = facenb('enroll', 'rose2', path, '--db', db, check=1)
    assert 'smeared.jpg: the face is too blurred' in r.stderr and '--no-quality-check' in r.stderr
    assert snapshot(db) == before
    facenb('enroll', 'someone', path, '--db', db, '--no-quality-check', '--force', check=0)
