"""Live video (issue #9): tracked recognition against per-frame recognition, on the shared sample videos at 640x480.

Rerun (from the repository root, shared data in ../shared/data):

    FACENB_DATA=../shared/data OMP_NUM_THREADS=1 .venv/bin/python scripts/video_benchmark.py            # ~3 min
    ... --frames 275 --embedder mobilefacenet --json video_bench.json

What is measured, all in one process (figures worth comparing are the ratios: the CPU is shared):
  * the two sample videos fitted into 640x480 (aspect ratio kept, black bars) and written as H.264, then read back end to end through
    `facenb.video.recognize_video` (decode, detect, track, embed, match, draw; no output file): processed frames per
    second and milliseconds per frame of each stage, for each detector;
  * the same frames through per-frame recognition as facenb did it before tracks (`Recognizer.recognize` on every
    frame: MTCNN, then every face embedded with FaceNet (`--baseline-embedder`), then drawn), and the ratio of the two;
  * label stability: the share of a track's frames in which its name changes from the frame before, with and without
    the hysteresis (mean of recent embeddings, change confirmed twice);
  * association: tracks made with and without the motion prediction (fewer tracks: fewer broken ones);
  * the enrolled-person check on the Hamilton clip (Lin-Manuel Miranda large at the microphone in frames 82-210):
    share of those frames in which the largest face is named correctly, and any other name given before frame 213;
  * latency of `Recognizer.recognize` (the photo pipeline: MTCNN + the baseline embedder) on 640x480 photos with 1 and 6 faces.
"""
from __future__ import annotations
import argparse, json, os, statistics, sys, tempfile, time
from pathlib import Path

import cv2
import numpy as np

from facenb.core import data_dir, load_image
from facenb.recognize import Recognizer
from facenb.video import (FaceTracker, annotate_frame, open_video, read_frames, recognize_video, video_info)

LIN = range(82, 211)  # frames of the Hamilton clip with Lin-Manuel Miranda large at the microphone (looked at by hand)


def fit(frame: np.ndarray, size=(640, 480)) -> np.ndarray:
    "`frame` scaled to fit `size` (aspect ratio kept) and centred on black: faces keep their shape."
    h, w = frame.shape[:2]
    s = min(size[0] / w, size[1] / h)
    nw, nh = round(w * s), round(h * s)
    out = np.zeros((size[1], size[0], 3), np.uint8)
    x, y = (size[0] - nw) // 2, (size[1] - nh) // 2
    out[y:y + nh, x:x + nw] = cv2.resize(frame, (nw, nh), interpolation=cv2.INTER_AREA)
    return out


def resized_copy(src: Path, dst: Path, size=(640, 480), max_frames=None) -> Path:
    "The video at `src` fitted into `size` (`fit`) and written as H.264 (or the best codec available)."
    fps = video_info(src).fps or 25.0
    with open_video(dst, fps, size) as w:
        for _, f in read_frames(src, max_frames=max_frames): w.write(fit(f, size))
    return dst


def make_embedder(name: str):
    from facenb.embed import Embedder
    return Embedder(model=name)


def gallery(tmp: Path, embedder, samples: Path) -> Recognizer:
    "The five sample people and Lin-Manuel Miranda, enrolled with `embedder` (MTCNN boxes, the photo pipeline)."
    rec = Recognizer(tmp / f'bench-{embedder.model_name.replace("/", "_")}.db', embedder=embedder)
    rec.enroll('lin_manuel_miranda', [samples / 'misc/lin-manuel-miranda.png'])
    for person in sorted((samples / 'people').iterdir()): rec.enroll(person.name, sorted(person.iterdir()))
    return rec


def per_frame(rec: Recognizer, path: Path, n: int) -> dict:
    "Today's per-frame recognition: every frame through `Recognizer.recognize` (MTCNN, every face embedded), drawn."
    from facenb.video import FrameResult
    t0, k, faces = time.perf_counter(), 0, 0
    for i, frame in read_frames(path, max_frames=n):
        ms = rec.recognize(frame)
        annotate_frame(frame, FrameResult(i, 0.0, ms, list(range(len(ms))), [m.label for m in ms]))
        k += 1; faces += len(ms)
    s = time.perf_counter() - t0
    return {'frames': k, 'fps': k / s, 'faces_per_frame': faces / max(k, 1)}


def name_changes(summary) -> float:
    "Share of track-frames (after a track's first) whose name differs from the same track's name in its previous frame."
    last, changes, steps = {}, 0, 0
    for f in summary.frames:
        for m, t in zip(f.matches, f.track_ids):
            if t in last:
                steps += 1; changes += last[t] != m.name
            last[t] = m.name
    return changes / steps if steps else 0.0


def tracked(rec: Recognizer, path: Path, n: int, **kw) -> tuple[dict, object]:
    s = recognize_video(rec, path, max_frames=n, annotate=True, **kw)
    stages = dict(s.stage_ms)
    stages['decode+other'] = round(1000 * s.seconds / max(s.n_frames, 1) - sum(stages.values()), 3)
    faces = sum(len(f.matches) for f in s.frames) / max(len(s.frames), 1)
    return {'frames': s.n_frames, 'fps': s.fps, 'stage_ms': stages, 'faces_per_frame': faces, 'tracks': len(s.tracks),
            'name_changes': name_changes(s)}, s


def lin_check(s) -> dict:
    lin = [f for f in s.frames if f.index in LIN]
    if not lin: return {}
    largest = [max(f.matches, key=lambda m: m.face.size).name if f.matches else None for f in lin]
    others = sorted({m.name for f in s.frames if f.index < LIN.stop for m in f.matches} - {None, 'lin_manuel_miranda'})
    return {'lin_named': sum(n == 'lin_manuel_miranda' for n in largest) / len(lin), 'frames_checked': len(lin),
            'other_names_before_audience': others}


def photo_latency(rec: Recognizer, samples: Path, repeats: int) -> dict:
    out = {}
    for label, p in (('1 face', samples / 'queries/obama1.jpg'), ('6 faces', samples / 'misc/multiface.jpg')):
        img = fit(load_image(p))
        n = len(rec.recognize(img))
        t = []
        for _ in range(repeats):
            t0 = time.perf_counter(); rec.recognize(img); t.append(time.perf_counter() - t0)
        out[label] = {'faces_found': n, 'ms': round(1000 * statistics.median(t), 1)}
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--frames', type=int, default=275, help='frames of each video (default: all of the Hamilton clip)')
    ap.add_argument('--baseline-frames', type=int, default=60, help='frames of each video through per-frame recognition')
    ap.add_argument('--embedder', default='facenet', help="'facenet' or a model name Embedder(model=...) knows")
    ap.add_argument('--baseline-embedder', default='facenet', help='embedder of the per-frame baseline (default: facenet, as before tracks)')
    ap.add_argument('--detectors', nargs='+', default=['blazeface', 'blazeface-full', 'mtcnn'])
    ap.add_argument('--repeats', type=int, default=5)
    ap.add_argument('--json', type=Path, default=None)
    args = ap.parse_args(argv)
    root = data_dir()
    if root is None: sys.exit('set FACENB_DATA to the shared data folder')
    samples = root / 'samples'
    import torch; torch.set_num_threads(int(os.environ.get('OMP_NUM_THREADS', '1')))
    tmp = Path(tempfile.mkdtemp(prefix='facenb-video-bench-'))
    videos = {'hamilton': resized_copy(samples / 'video/short_hamilton_clip.mp4', tmp / 'hamilton_640x480.mp4', max_frames=args.frames),
              'arcade': resized_copy(samples / 'video/video.mp4', tmp / 'arcade_640x480.mp4', max_frames=args.frames)}
    rec = gallery(tmp, make_embedder(args.embedder), samples)
    base_rec = rec if args.baseline_embedder == args.embedder else gallery(tmp, make_embedder(args.baseline_embedder), samples)
    res = {'embedder': rec.model, 'baseline embedder': base_rec.model, 'threads': torch.get_num_threads(), 'videos': {}}
    for name, path in videos.items():
        v = res['videos'][name] = {}
        base = per_frame(base_rec, path, args.baseline_frames)
        v['per-frame mtcnn recognize'] = base
        for d in args.detectors:
            r, s = tracked(rec, path, args.frames, detector=d)
            r['x per-frame'] = r['fps'] / base['fps']
            if name == 'hamilton': r |= lin_check(s)
            v[f'tracked {d}'] = r
            print(f'{name:9s} {d:15s} {r["fps"]:7.1f} fps ({r["x per-frame"]:.1f}x per-frame MTCNN at {base["fps"]:.1f} fps) '
                  f'stages {r["stage_ms"]} faces/frame {r["faces_per_frame"]:.2f} tracks {r["tracks"]}', flush=True)
        d = next((d for d in args.detectors if v[f'tracked {d}']['faces_per_frame'] > 0), args.detectors[0])  # one that finds faces
        flick, _ = tracked(rec, path, args.frames, detector=d, hysteresis=False)
        v['label stability'] = {'with hysteresis': v[f'tracked {d}']['name_changes'], 'without': flick['name_changes']}
        nopred, _ = tracked(rec, path, args.frames, detector=d, tracker=FaceTracker(predict=False))
        v['tracks'] = {'with prediction': v[f'tracked {d}']['tracks'], 'without': nopred['tracks']}
        v['stability detector'] = d
        print(f'{name:9s} {d}: name changes per track-frame {v["label stability"]}, tracks {v["tracks"]}', flush=True)
    res['photo latency (recognize, 640x480)'] = photo_latency(Recognizer(base_rec.gallery, embedder=base_rec.embedder), samples, args.repeats)
    print(json.dumps(res, indent=1, default=lambda x: round(x, 3) if isinstance(x, float) else str(x)))
    if args.json: args.json.write_text(json.dumps(res, indent=1, default=str))


if __name__ == '__main__': main()
