"`facenb video` and `facenb camera` on real footage: the Hamilton clip with the sample people enrolled, a local HTTP stream."
import functools, http.server, json, shutil, threading
import numpy as np
import pytest

from conftest import facenb, json_lines

# Ground truth, from looking at the clip (every 5th frame, and frame by frame at the cuts): Lin-Manuel Miranda at the
# microphone, large, in frames 82-210; before that far away on the stage (0-17) and another man in profile (18-81);
# after it the audience, Barack Obama in it.
LIN = range(82, 211)


@pytest.fixture(scope='module')
def lin_db(sample_db, samples, tmp_path_factory):
    "The five sample people and Lin-Manuel Miranda (from the misc photo)."
    db = tmp_path_factory.mktemp('lin') / 'g.db'
    shutil.copy(sample_db, db)
    facenb('enroll', 'lin_manuel_miranda', samples / 'misc/lin-manuel-miranda.png', '--db', db, check=0)
    return db


@pytest.fixture(scope='module')
def hamilton(lin_db, samples):
    r = facenb('video', samples / 'video/short_hamilton_clip.mp4', '--db', lin_db, '--json', check=0)
    return json_lines(r.stdout)


def test_every_frame_one_line_then_the_summary(hamilton):
    *frames, summary = hamilton
    assert [f['frame'] for f in frames] == list(range(275))
    assert all(set(f) == {'frame', 'time', 'faces'} for f in frames)
    assert all(set(x) == {'track', 'box', 'name', 'similarity'} for f in frames for x in f['faces'])
    assert set(summary) == {'frames', 'skipped', 'seconds', 'fps', 'tracks'}
    assert summary['frames'] == 275 and summary['skipped'] == 0 and summary['fps'] > 0
    assert all(set(t) == {'track', 'name', 'first', 'last'} for t in summary['tracks'])


def test_enrolled_person_named_in_nine_frames_of_ten_and_never_as_someone_else(hamilton):
    *frames, _ = hamilton
    lin = [f for f in frames if f['frame'] in LIN]
    largest = [max(f['faces'], key=lambda x: x['box'][2] - x['box'][0])['name'] if f['faces'] else None for f in lin]
    assert sum(n == 'lin_manuel_miranda' for n in largest) >= 0.9 * len(lin), largest
    before_audience = {x['name'] for f in frames if f['frame'] < LIN.stop for x in f['faces']}
    assert before_audience <= {None, 'lin_manuel_miranda'}, before_audience
    audience = {x['name'] for f in frames if f['frame'] >= LIN.stop for x in f['faces']}
    assert audience <= {None, 'obama'}, audience


def test_out_writes_the_annotated_video(lin_db, samples, tmp_path):
    from facenb.video import video_info
    r = facenb('video', samples / 'video/short_hamilton_clip.mp4', '--db', lin_db, '--frames', '20', '--out', tmp_path / 'out.mp4', check=0)
    assert '20 frames in' in r.stdout
    info = video_info(tmp_path / 'out.mp4')
    assert (info.n_frames, info.width, info.height) == (20, 640, 360)


def test_missing_video_is_one_line(lin_db, tmp_path):
    r = facenb('video', tmp_path / 'nope.mp4', '--db', lin_db)
    assert r.returncode == 1 and r.stderr.strip() == f'facenb: error: {tmp_path / "nope.mp4"}: no such file'


def test_stream_that_drops_reconnects(lin_db, samples, tmp_path):
    "An HTTP stream of 40 frames, asked for 200: it ends, the camera command says so, reopens it and goes on (and names him)."
    from facenb.video import open_video, read_frames
    with open_video(tmp_path / 'clip.mp4', 25, (640, 360)) as w:
        for _, f in read_frames(samples / 'video/short_hamilton_clip.mp4', start=100, max_frames=40): w.write(f)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f'http://127.0.0.1:{server.server_address[1]}/clip.mp4'
        r = facenb('camera', url, '--db', lin_db, '--frames', '200', '--json', check=0)  # several reopenings, a second each
    finally: server.shutdown()
    *frames, summary = json_lines(r.stdout)
    assert 'stream dropped; reconnecting' in r.stderr and 'reconnected' in r.stderr
    assert summary['frames'] == len(frames) == 200
    assert summary['frames'] + summary['skipped'] >= 200
    assert any(x['name'] == 'lin_manuel_miranda' for f in frames for x in f['faces'])
