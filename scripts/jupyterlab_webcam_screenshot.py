#!/usr/bin/env python3
"""Screenshot of the facenb widget demo recognising a (fake) webcam live in JupyterLab.

What it does, end to end, with no camera and no display:

1. turns the first frames of a sample video into a Y4M file (raw YUV 4:2:0), the format Chromium's
   fake camera reads (`--use-file-for-fake-video-capture`); no ffmpeg needed (`facenb.video.write_y4m`);
2. writes a two-cell notebook that shows `FaceDemo(Recognizer(<fresh gallery>))` and starts
   `jupyter lab --no-browser` on a free port (no token, bound to 127.0.0.1, its own root folder);
3. drives headless Chromium (Debian's /usr/bin/chromium) with Playwright: runs the notebook, enrols a
   person through the Enrol tab (types the name, uploads the photo into the FileUpload, waits for the
   aligned-face preview, clicks Save), switches to the Recognise tab and turns *Live* on, so that the
   LiveCamera widget sends downscaled webcam frames to the kernel and draws the names it gets back over the video;
4. waits until the person has been named in a live frame, saves a screenshot (quantised to a palette
   PNG if needed to stay under --max-kb) and prints what it saw (frames per second, labels,
   browser console warnings about widgets).

Usage (from the repository root, with the venv active):

    FACENB_DATA=/work/shared/data python scripts/jupyterlab_webcam_screenshot.py
    python scripts/jupyterlab_webcam_screenshot.py --video clip.mp4 --photo person.jpg --name "Some One"

Defaults: the shared sample clip `samples/video/short_hamilton_clip.mp4` and Lin-Manuel Miranda's photo
`samples/misc/lin-manuel-miranda.png` (he is on stage in the clip); output `docs/widget_webcam.png`.
Exit status 0 when the person was recognised live, 1 otherwise (a screenshot is saved either way).
"""
from __future__ import annotations
import argparse, io, json, os, shutil, socket, subprocess, sys, tempfile, time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def free_port() -> int:
    "A TCP port nobody listens on now."
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0)); return s.getsockname()[1]


def make_y4m(video: Path, out: Path, n_frames: int, width: int) -> int:
    "The first `n_frames` of `video`, resized to `width` (even sizes), as a Y4M fake-camera file."
    import cv2
    from facenb.video import read_frames, video_info, write_y4m
    info = video_info(video)
    h = round(info.height * width / info.width / 2) * 2
    frames = (cv2.resize(f, (width, h), interpolation=cv2.INTER_AREA) for _, f in read_frames(video, max_frames=n_frames))
    return write_y4m(frames, out, fps=info.fps or 25)


def make_notebook(path: Path, db: Path, threads: int):
    "A notebook whose first cell shows the demo over a fresh gallery."
    src = (f'import torch; torch.set_num_threads({threads})\n'
           'from facenb.recognize import Recognizer\nfrom facenb.widgets import FaceDemo\n'
           f'demo = FaceDemo(Recognizer({str(db)!r}), frame_side=480)\ndemo')
    cells = [{'cell_type': 'code', 'execution_count': None, 'metadata': {}, 'outputs': [], 'source': src}]
    nb = {'cells': cells, 'metadata': {'kernelspec': {'display_name': 'Python 3 (ipykernel)', 'language': 'python', 'name': 'python3'}},
          'nbformat': 4, 'nbformat_minor': 5}
    path.write_text(json.dumps(nb))


def start_lab(root: Path, port: int, log: Path) -> subprocess.Popen:
    "JupyterLab on 127.0.0.1:`port`, no token, with `window.jupyterapp` exposed for scripting; waits until it answers."
    settings = root / 'lab-settings' / '@jupyterlab' / 'apputils-extension'
    settings.mkdir(parents=True, exist_ok=True)
    (settings / 'notification.jupyterlab-settings').write_text('{"fetchNews": "false", "checkForUpdates": false}')
    env = {**os.environ, 'PYTHONPATH': os.pathsep.join(filter(None, [str(REPO), os.environ.get('PYTHONPATH')])),
           'JUPYTERLAB_SETTINGS_DIR': str(root / 'lab-settings')}  # no "get Jupyter news?" toast over the screenshot
    cmd = [sys.executable, '-m', 'jupyter', 'lab', '--no-browser', f'--port={port}', '--ip=127.0.0.1',
           '--ServerApp.token=', '--ServerApp.password=', '--ServerApp.disable_check_xsrf=True',
           f'--ServerApp.root_dir={root}', '--LabApp.expose_app_in_browser=True', '--allow-root',
           '--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate']
    lab = subprocess.Popen(cmd, stdout=open(log, 'w'), stderr=subprocess.STDOUT, env=env)
    import urllib.request
    for _ in range(120):
        if lab.poll() is not None: raise RuntimeError(f'jupyter lab exited:\n{log.read_text()[-2000:]}')
        try:
            urllib.request.urlopen(f'http://127.0.0.1:{port}/api/status', timeout=2); return lab
        except OSError: time.sleep(1)
    lab.terminate(); raise RuntimeError('jupyter lab did not answer within 120 s')


def shrink_png(raw: bytes, out: Path, max_kb: int):
    "Save the screenshot; quantise to a 256-colour palette (then downscale) while it is over `max_kb`."
    from PIL import Image
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(raw)
    img = Image.open(io.BytesIO(raw)).convert('RGB')
    scale = 1.0
    while out.stat().st_size > max_kb * 1024 and scale > 0.4:
        im = img if scale == 1.0 else img.resize((round(img.width * scale), round(img.height * scale)), Image.LANCZOS)
        im.quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(out, optimize=True)
        scale -= 0.15


def main():
    from facenb.core import data_dir
    d = data_dir()
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--video', type=Path, default=d / 'samples/video/short_hamilton_clip.mp4' if d else None,
                    help='video whose frames feed the fake webcam')
    ap.add_argument('--photo', type=Path, default=d / 'samples/misc/lin-manuel-miranda.png' if d else None,
                    help='enrolment photo of the person to recognise')
    ap.add_argument('--name', default='Lin-Manuel Miranda', help='name to enrol the photo under')
    ap.add_argument('--frames', type=int, default=90, help='video frames in the fake camera (it loops)')
    ap.add_argument('--width', type=int, default=640, help='fake camera frame width, pixels')
    ap.add_argument('--out', type=Path, default=REPO / 'docs/widget_webcam.png')
    ap.add_argument('--max-kb', type=int, default=290, help='largest PNG to save')
    ap.add_argument('--live-s', type=float, default=20, help='seconds of live recognition before the screenshot')
    ap.add_argument('--threads', type=int, default=1, help='torch threads in the kernel (1 is fastest on a busy 2-core machine)')
    ap.add_argument('--chromium', default='/usr/bin/chromium')
    ap.add_argument('--keep', action='store_true', help='keep the work folder (notebook, y4m, logs)')
    a = ap.parse_args()
    if a.video is None or a.photo is None: ap.error('set FACENB_DATA or give --video and --photo')

    work = Path(tempfile.mkdtemp(prefix='facenb-webcam-'))
    y4m = work / 'camera.y4m'
    print(f'fake camera: {make_y4m(a.video, y4m, a.frames, a.width)} frames of {a.video.name} -> {y4m}', flush=True)
    shutil.copy(a.photo, work / a.photo.name)
    make_notebook(work / 'demo.ipynb', work / 'gallery.db', a.threads)
    port = free_port()
    lab = start_lab(work, port, work / 'lab.log')
    ok = False
    try:
        from playwright.sync_api import sync_playwright
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=a.chromium, args=[
                '--no-sandbox', '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
                f'--use-file-for-fake-video-capture={y4m}', '--disable-background-networking',
                '--disable-component-update', '--disable-default-apps', '--no-first-run', '--mute-audio'])
            page = browser.new_page(viewport={'width': 1280, 'height': 1000})
            console = []
            page.on('console', lambda m: console.append(f'{m.type}: {m.text}'))
            page.goto(f'http://127.0.0.1:{port}/lab/tree/demo.ipynb?reset')
            page.wait_for_function('window.jupyterapp && document.querySelector(".jp-Notebook")', timeout=120_000)
            page.wait_for_function('document.querySelector(".jp-Notebook-ExecutionIndicator, .jp-Toolbar-kernelStatus") !== null', timeout=60_000)
            time.sleep(3)
            page.evaluate("window.jupyterapp.commands.execute('application:toggle-left-area')")
            page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
            page.wait_for_selector('.widget-tab', timeout=180_000)
            print('widget shown', flush=True)

            # Enrol: name, photo through the FileUpload, wait for the aligned-face preview, Save.
            demo = page.locator('.widget-tab').first
            demo.get_by_placeholder('name of the person').fill(a.name)
            with page.expect_file_chooser() as chooser:  # the FileUpload's <input type=file> is not in the DOM
                demo.locator('.widget-upload').first.click()
            chooser.value.set_files(str(work / a.photo.name))
            demo.get_by_text('photo(s) ready').wait_for(timeout=120_000)
            demo.locator('button.widget-button', has_text='Save').click()
            demo.get_by_text(f'enrolled {a.name}').wait_for(timeout=120_000)
            print(f'enrolled {a.name}', flush=True)

            # Recognise: the webcam, live.
            demo.get_by_role('tab', name='Recognise').click()
            demo.locator('button.widget-toggle-button', has_text='Live').click()
            t0, seen = time.time(), ''
            while time.time() - t0 < a.live_s + 120:  # run live for a while, then wait for a frame naming the person
                seen = demo.inner_text()
                named_now = f'{a.name} 0.' in seen
                ok = ok or named_now
                if named_now and 'frames/s' in seen and time.time() - t0 > a.live_s: break
                time.sleep(0.3)
            fps_line = next((l for l in seen.splitlines() if 'frames/s' in l), 'no frame rate shown')
            print('live:', fps_line, '| recognised' if ok else '| NOT recognised', flush=True)
            page.locator('.jp-Cell-outputArea').first.scroll_into_view_if_needed()
            box = demo.bounding_box()
            clip = {'x': max(0, box['x'] - 8), 'y': max(0, box['y'] - 8), 'width': min(1280, box['width'] + 16),
                    'height': min(1000 - max(0, box['y'] - 8), box['height'] + 16)}
            raw = page.screenshot(clip=clip)
            demo.locator('button.widget-toggle-button', has_text='Live').click()  # stop the loop before the kernel goes away
            videos = page.evaluate("Array.from(document.querySelectorAll('video')).map(v => [v.videoWidth, v.videoHeight])")
            print('camera <video> elements (width, height):', videos)
            warn = [c for c in console if 'anywidget' in c.lower() or 'jupyter-widgets/base' in c or c.startswith('error')]
            print('console about widgets:', *(w[:200] for w in warn) or ['none'], sep='\n  ')
            browser.close()
        shrink_png(raw, a.out, a.max_kb)
        print(f'saved {a.out} ({a.out.stat().st_size // 1024} KB)')
    finally:
        lab.terminate()
        try: lab.wait(timeout=20)
        except subprocess.TimeoutExpired: lab.kill()
        if a.keep: print('work folder kept:', work)
        else: shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
