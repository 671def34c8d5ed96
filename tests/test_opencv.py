"""The OpenCV behaviours facenb relies on, each checked against an independent computation (numpy, scipy, PyAV), so
that a new OpenCV major version (5 changed the DNN module, the video I/O backends and some defaults) shows up here
by name rather than as a drifting similarity somewhere downstream. Run on OpenCV 4 and 5 (make test, make test-latest)."""
import av, cv2, numpy as np, pytest
from scipy import ndimage
from facenb.embed import _warp, similarity_transform
from facenb.video import open_video, read_frames, video_info
from facenb.quality import sharpness

rng = np.random.default_rng(0)
IMG = rng.integers(0, 256, (96, 128, 3), dtype=np.uint8)


def test_resize_area_by_an_integer_factor_is_the_block_mean():
    # facenb shrinks photos with INTER_AREA before detection; by a whole factor that is exactly the mean of each block.
    small = cv2.resize(IMG, (32, 24), interpolation=cv2.INTER_AREA)
    blocks = IMG.reshape(24, 4, 32, 4, 3).astype(np.float64).mean((1, 3))
    assert np.abs(small.astype(np.float64) - blocks).max() <= 0.5 + 1e-9


def test_resize_linear_keeps_the_pixel_centre_convention():
    # Enlarging by 2 with INTER_LINEAR: OpenCV's half-pixel centres, as scipy's zoom with grid_mode (no corner alignment).
    grey = IMG[..., 0].astype(np.float32)
    big = cv2.resize(grey, (256, 192), interpolation=cv2.INTER_LINEAR)
    ref = ndimage.zoom(grey, 2, order=1, mode='nearest', grid_mode=True)
    assert np.abs(big - ref)[2:-2, 2:-2].max() < 1e-3


def test_warp_affine_samples_where_the_map_says():
    # Alignment (embed._warp) maps crop pixel (u, v) <- image point m^-1 (u, v): a pure shift by whole pixels is a copy.
    m = np.array([[1.0, 0, -10], [0, 1.0, -7]])
    out = _warp(IMG, m, 40)
    np.testing.assert_array_equal(out, IMG[7:47, 10:50])
    inv = cv2.invertAffineTransform(m)
    np.testing.assert_allclose(inv, [[1, 0, 10], [0, 1, 7]])


def test_warp_affine_rotation_matches_scipy():
    m = similarity_transform(np.array([[10., 10], [50, 14], [30, 40]]), np.array([[12., 8], [52, 16], [30, 41]]))
    grey = IMG[..., 1]
    ours = cv2.warpAffine(grey.astype(np.float32), m, (64, 64), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    inv = cv2.invertAffineTransform(m)  # scipy wants output (row, col) -> input (row, col)
    mat = np.array([[inv[1, 1], inv[1, 0]], [inv[0, 1], inv[0, 0]]]); off = np.array([inv[1, 2], inv[0, 2]])
    ref = ndimage.affine_transform(grey.astype(np.float32), mat, off, output_shape=(64, 64), order=1, mode='constant')
    d = np.abs(ours - ref)[4:-4, 4:-4]
    if int(cv2.__version__.split('.')[0]) >= 5: assert d.max() < 1e-3, d.max()  # OpenCV 5 samples exactly
    else: assert d.max() < 6 and d.mean() < 1.0, (d.max(), d.mean())  # OpenCV 4 rounds positions to 1/32 px (measured 4.7, 0.84)


def test_estimate_affine_partial_recovers_a_similarity():
    # facenb computes the similarity in closed form (Umeyama); OpenCV's estimator must agree on exact points.
    pts = rng.uniform(0, 100, (5, 2)).astype(np.float32)
    a = np.deg2rad(12); m = np.array([[1.3 * np.cos(a), -1.3 * np.sin(a), 4], [1.3 * np.sin(a), 1.3 * np.cos(a), -2]])
    moved = (pts @ m[:, :2].T + m[:, 2]).astype(np.float32)
    cv_m, inliers = cv2.estimateAffinePartial2D(pts, moved)
    np.testing.assert_allclose(cv_m, m, atol=1e-3)
    np.testing.assert_allclose(similarity_transform(pts, moved), m, atol=1e-4)


def test_colour_conversions_are_channel_flips():
    np.testing.assert_array_equal(cv2.cvtColor(IMG, cv2.COLOR_RGB2BGR), IMG[..., ::-1])
    grey = cv2.cvtColor(IMG, cv2.COLOR_RGB2GRAY).astype(np.float64)
    ref = IMG.astype(np.float64) @ [0.299, 0.587, 0.114]
    assert np.abs(grey - ref).max() <= 1.0


def test_laplacian_and_the_sharpness_score():
    # quality.sharpness: variance of cv2.Laplacian over the grey variance; scipy's laplace is the same 3x3 kernel.
    grey = IMG[..., 2].astype(np.float32)
    ours = cv2.Laplacian(grey, cv2.CV_32F, borderType=cv2.BORDER_REFLECT)
    ref = ndimage.laplace(grey, mode='mirror')
    assert np.abs(ours - ref)[1:-1, 1:-1].max() < 1e-3
    blurred = cv2.GaussianBlur(IMG, (0, 0), 2)
    ref_blur = np.stack([ndimage.gaussian_filter(IMG[..., c].astype(np.float64), 2, mode='mirror', truncate=3.1) for c in range(3)], -1)
    assert np.abs(blurred.astype(np.float64) - ref_blur)[8:-8, 8:-8].max() <= 1.5
    from facenb.core import Face
    face = Face(np.array([20., 10, 100, 90]), 0.99)
    assert sharpness(IMG, face) > 2 * sharpness(blurred, face)


def test_video_round_trip_agrees_with_pyav(tmp_path):
    # What facenb writes (open_video: H.264 through PyAV or OpenCV's writer) OpenCV reads back: size, count, frame rate,
    # and the frames themselves (decoded independently by PyAV).
    frames = [np.full((64, 96, 3), (i * 20) % 256, np.uint8) for i in range(12)]
    path = tmp_path / 'clip.mp4'
    w = open_video(path, fps=12.0, size=(96, 64))
    for f in frames: w.write(f)
    w.close()
    info = video_info(path)
    assert (info.width, info.height, info.n_frames) == (96, 64, 12) and abs(info.fps - 12.0) < 1e-6, info
    ours = [f for _, f in read_frames(path)]
    with av.open(str(path)) as c: theirs = [fr.to_ndarray(format='rgb24') for fr in c.decode(video=0)]
    assert len(ours) == len(theirs) == 12
    assert max(np.abs(a.astype(int) - b.astype(int)).mean() for a, b in zip(ours, theirs)) < 2.0
    assert np.abs(ours[5].astype(int) - frames[5]).mean() < 4.0


def test_sample_video_metadata_matches_pyav(samples):
    path = samples / 'video' / 'video.mp4'
    info = video_info(path)
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        n = sum(1 for _ in c.decode(video=0))
        assert (info.width, info.height) == (s.codec_context.width, s.codec_context.height)
        assert abs(info.fps - float(s.average_rate)) < 0.01
    assert abs(info.n_frames - n) <= 1, (info.n_frames, n)
    assert sum(1 for _ in read_frames(path)) == n
