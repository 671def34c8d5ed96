"""facenb in the browser: recognise the faces in a photo, a camera shot or a video; add, rename and forget people.

A thin Streamlit layer over the `facenb` library. Detection, embedding, matching and the gallery are all
the library's; this file turns widgets into library calls and answers into pictures and text.
Run it with `make app` or `streamlit run app.py`. The gallery is the file the command line uses
(`FACENB_DB`, else the user's data folder), so people added here are known to `facenb recognize` and back.

Each tab's work is a plain function of bytes and names (`recognise_photo`, `check_photos`, `add_person`,
`process_video`) that tests call directly; the `render_*` functions only lay out widgets.
"""
from __future__ import annotations
import hashlib, html, importlib.util, os, string, tempfile, threading, time, warnings
from collections import deque
from pathlib import Path

import numpy as np
import streamlit as st
from PIL import Image

from facenb.core import ImageError, load_image
from facenb.detect import BACKENDS, get_detector
from facenb import access, web
from facenb.store import Gallery, GalleryError, GalleryWarning, UnknownPerson, default_db_path
from facenb.recognize import DEFAULT_THRESHOLD, EnrollmentError, Match, NeedsConfirmation, NotTheSamePerson, Recognizer
from facenb.archive import find, index_photos, reject_sighting, sighting_image
from facenb.reject import rejections
from facenb.cluster import cluster_sightings, contact_sheet, name_cluster

try: from facenb import video as fvideo
except ImportError as e: fvideo, VIDEO_MISSING = None, f'{type(e).__name__}: {e}'
else: VIDEO_MISSING = None

try: from streamlit_webrtc import WebRtcMode, webrtc_streamer
except ImportError as e: webrtc_streamer, WEBRTC_MISSING = None, f'{type(e).__name__}: {e}'
else: WEBRTC_MISSING = None

LIVE_LOCK = threading.Lock()  # live streams of all sessions take turns on the CPU: one frame recognised at a time
IMAGE_TYPES = ['jpg', 'jpeg', 'png', 'webp', 'bmp', 'tif', 'tiff', 'gif']
VIDEO_TYPES = ['mp4', 'mov', 'avi', 'mkv', 'webm', 'm4v']

# ---------------------------------------------------------------------------------------------------------------
# UI text. Messages that come from the library (why a photo was refused, why a name is taken) stay in English.

LANGUAGES = {'en': 'English', 'ru': 'Русский'}
STRINGS = {
    'en': {
        'language': 'Language', 'title': 'facenb: face recognition',
        'tab_recognise': 'Recognise', 'tab_live': 'Live camera', 'tab_add': 'Add person', 'tab_people': 'People',
        'tab_video': 'Video', 'tab_settings': 'Settings', 'tab_photos': 'People in my photos',
        'archive_folder': 'Folder of photos to index (on the machine running this app)', 'index': 'Index the folder',
        'indexing': 'Finding and embedding every face (photos already indexed are skipped)...', 'indexed': 'Indexed: {report}',
        'find_person': 'Photos of', 'no_sightings': 'No indexed photo shows {name}.',
        'sighting': '{photo} ({sim:.2f})', 'group_faces': 'Group the unnamed faces',
        'no_groups': 'No group of at least {k} alike unnamed faces (index more photos, or name fewer people).',
        'group': 'Group {id}: {n} faces in {photos} photos', 'group_name': 'Who is this?', 'name_group': 'Name this group',
        'group_named': '{name}: {n} faces enrolled from the group.',
        'loading': 'Loading the face models (once per server)...',
        'load_failed': 'The face models could not be loaded: {err}',
        'db_caption': 'Gallery: {path} (people: {n})',
        'source': 'Photo from', 'src_upload': 'a file', 'src_camera': 'the camera',
        'upload_photo': 'Upload a photo', 'take_photo': 'Take a photo',
        'recognise_hint': 'Upload a photo or take one with the camera: every face in it is boxed and named.',
        'bad_photo': 'Cannot use this photo: {err}',
        'empty_gallery': 'Nobody is enrolled yet, so every face is unknown: add people in the "Add person" tab.',
        'no_faces': 'No face found in this photo.',
        'n_faces_found': '{n} face(s), left to right (a face is named when its similarity reaches {thr:.2f}):',
        'known': '**{i}. {name}**: similarity {sim:.2f}', 'not_person': 'Not {name}',
        'rejected': 'Remembered: that face is not {name}; it will not be named so again.',
        'not_recognised': '**{i}. Not recognised**: nobody in the gallery is close enough (best {sim:.2f})',
        'not_recognised_empty': '**{i}. Not recognised**', 'candidates': 'Closest people: {cands}',
        'annotated': 'Green: recognised; red: not recognised', 'annotated_alt': 'The photo with every face boxed and named',
        'preview_alt': 'The face found in {file}',
        'live_intro': 'Faces in the camera stream are followed from frame to frame and named as you move; '
                      'the stream keeps the camera\'s rate ("?": a face too small to name yet).',
        'live_status': '{fps:.1f} frames/s ({ms:.0f} ms per frame); faces: {names}', 'live_waiting': 'Waiting for frames...',
        'live_missing': 'Live video needs the optional package streamlit-webrtc ({err}); '
                        'use the camera snapshot in the "Recognise" tab instead.',
        'live_failed': 'The live stream could not start ({err}); use the camera snapshot in the "Recognise" tab instead.',
        'name': "Person's name", 'photos': 'Photos of this person (one face each)',
        'add_hint': 'Give a name and one or several photos showing only this person; the face found in each '
                    'photo is shown before anything is saved.',
        'existing': '{name} is already in the gallery: these photos are added to their faces.',
        'fix_photos': 'Remove or replace the photos marked in red: nothing is saved while one is refused.',
        'need_name': 'Type a name to save.',
        'save': 'Save', 'added': 'Added {n} face(s) of {name}.',
        'added_none': 'These photos of {name} were already stored: nothing new was added.',
        'refresh': 'Refresh', 'no_people': 'The gallery is empty.',
        'person_meta': '{n} face(s), added {date}', 'no_thumbs': 'no thumbnails stored',
        'new_name': 'New name', 'rename': 'Rename', 'forget': 'Forget',
        'renamed': 'Renamed {old} to {new}.',
        'confirm_forget': 'Forget {name}? Their {n} stored face(s) are deleted; this cannot be undone.',
        'yes_forget': 'Yes, forget {name}', 'cancel': 'Cancel',
        'forgotten': '{name} forgotten ({n} face(s) deleted).',
        'video_missing': 'Video processing is not available in this installation ({err}).',
        'upload_video': 'Upload a video', 'every': 'Recognise every n-th frame', 'max_frames': 'At most this many frames (0: all)',
        'process': 'Process the video', 'processing': 'Processing: {done} of {total} frames',
        'processing_unknown': 'Processing: {done} frames',
        'video_done': 'Done: the annotated video is below.', 'video_failed': 'The video could not be processed: {err}',
        'download': 'Download the annotated video',
        'video_summary': '{frames} frame(s) processed in {seconds:.1f} s ({fps:.0f} frames/s). Recognised: {names}.', 'nobody': 'nobody',
        'not_playable': 'This installation wrote the video with a codec browsers do not play (install PyAV for H.264): '
                        'download it to watch.',
        'threshold': 'Similarity threshold',
        'threshold_help': 'Cosine similarity a face needs to be named; higher is stricter '
                          '(fewer false names, more "not recognised"). Library default: {d:.2f}.',
        'detector': 'Face detector', 'detector_unavailable': 'Not available here: {items}.',
        'detector_failed': 'The "{name}" detector could not be loaded ({err}); using "mtcnn" instead.',
        'db_path': 'Gallery database (shared with the `facenb` command line; set `FACENB_DB` to change it):',
        'lookalike': '{err}', 'save_anyway': 'They are different people: save anyway', 'same_anyway': 'This is {name}: save anyway',
        'password': 'Password', 'log_in': 'Log in', 'wrong_password': 'Wrong password.',
        'login_hint': 'This app is reachable from other machines, so it asks for its password.',
        'no_password': 'This app listens beyond this machine ({address}) but has no password: set one with '
                       '`facenb app-password` (or the environment variable FACENB_APP_PASSWORD_HASH from '
                       '`facenb app-password --print`) and restart it, or run it on 127.0.0.1.',
        'foreign_host': 'This page was opened through the name {host}, which is not one of this machine\'s names, '
                        'so the app asks for its password (a web page can point its own name at this machine). '
                        'If {host} is this machine, list it in FACENB_APP_ALLOWED_HOSTS.',
        'foreign_host_no_password': 'This page was opened through the name {host}, which is not one of this machine\'s '
                                    'names (a web page can point its own name at this machine), and the app has no '
                                    'password: open it through http://localhost, or list {host} in FACENB_APP_ALLOWED_HOSTS.',
        'cross_site': 'Refused: this session was opened from a page on {origin}, another site.',
    },
    'ru': {
        'language': 'Язык', 'title': 'facenb: распознавание лиц',
        'tab_recognise': 'Распознать', 'tab_live': 'Живая камера', 'tab_add': 'Добавить человека', 'tab_people': 'Люди',
        'tab_video': 'Видео', 'tab_settings': 'Настройки', 'tab_photos': 'Люди на моих фото',
        'archive_folder': 'Папка с фото для индексации (на машине, где работает приложение)', 'index': 'Индексировать папку',
        'indexing': 'Поиск и кодирование всех лиц (уже проиндексированные фото пропускаются)...', 'indexed': 'Проиндексировано: {report}',
        'find_person': 'Фото человека', 'no_sightings': 'Ни на одном проиндексированном фото нет {name}.',
        'sighting': '{photo} ({sim:.2f})', 'group_faces': 'Сгруппировать неназванные лица',
        'no_groups': 'Нет групп хотя бы из {k} похожих неназванных лиц (проиндексируйте больше фото).',
        'group': 'Группа {id}: лиц {n} на {photos} фото', 'group_name': 'Кто это?', 'name_group': 'Назвать группу',
        'group_named': '{name}: добавлено лиц из группы: {n}.',
        'loading': 'Загрузка моделей лица (один раз на сервер)...',
        'load_failed': 'Не удалось загрузить модели лица: {err}',
        'db_caption': 'Галерея: {path} (людей: {n})',
        'source': 'Фото из', 'src_upload': 'файла', 'src_camera': 'камеры',
        'upload_photo': 'Загрузите фото', 'take_photo': 'Сделайте снимок',
        'recognise_hint': 'Загрузите фото или сделайте снимок камерой: каждое лицо будет обведено и подписано.',
        'bad_photo': 'Это фото нельзя использовать: {err}',
        'empty_gallery': 'Пока никто не добавлен, поэтому все лица неизвестны: добавьте людей на вкладке «Добавить человека».',
        'no_faces': 'На этом фото лиц не найдено.',
        'n_faces_found': 'Лиц: {n}, слева направо (лицо получает имя, если сходство не ниже {thr:.2f}):',
        'known': '**{i}. {name}**: сходство {sim:.2f}', 'not_person': 'Не {name}',
        'rejected': 'Запомнено: это лицо не {name}; так оно больше названо не будет.',
        'not_recognised': '**{i}. Не распознан**: в галерее нет достаточно похожих (лучшее {sim:.2f})',
        'not_recognised_empty': '**{i}. Не распознан**', 'candidates': 'Ближайшие: {cands}',
        'annotated': 'Зелёный: распознан; красный: не распознан', 'annotated_alt': 'Фото, где каждое лицо обведено и подписано',
        'preview_alt': 'Лицо, найденное на {file}',
        'live_intro': 'Лица в видеопотоке камеры отслеживаются от кадра к кадру и подписываются на лету; '
                      'поток идёт с частотой камеры («?»: лицо пока слишком мало, чтобы его назвать).',
        'live_status': '{fps:.1f} кадров/с ({ms:.0f} мс на кадр); лица: {names}', 'live_waiting': 'Ждём кадры...',
        'live_missing': 'Для живого видео нужен необязательный пакет streamlit-webrtc ({err}); '
                        'используйте снимок камерой на вкладке «Распознать».',
        'live_failed': 'Живой поток не запустился ({err}); используйте снимок камерой на вкладке «Распознать».',
        'name': 'Имя человека', 'photos': 'Фото этого человека (на каждом одно лицо)',
        'add_hint': 'Укажите имя и одно или несколько фото, где есть только этот человек; найденное на каждом '
                    'фото лицо показывается до сохранения.',
        'existing': '{name} уже есть в галерее: эти фото добавятся к его лицам.',
        'fix_photos': 'Уберите или замените фото, отмеченные красным: пока хоть одно отклонено, ничего не сохраняется.',
        'need_name': 'Введите имя, чтобы сохранить.',
        'save': 'Сохранить', 'added': 'Добавлено лиц человека {name}: {n}.',
        'added_none': 'Эти фото человека {name} уже сохранены: ничего нового не добавлено.',
        'refresh': 'Обновить', 'no_people': 'Галерея пуста.',
        'person_meta': 'лиц: {n}, добавлен {date}', 'no_thumbs': 'миниатюр нет',
        'new_name': 'Новое имя', 'rename': 'Переименовать', 'forget': 'Забыть',
        'renamed': '{old} переименован в {new}.',
        'confirm_forget': 'Забыть {name}? Все сохранённые лица ({n}) будут удалены; отменить нельзя.',
        'yes_forget': 'Да, забыть {name}', 'cancel': 'Отмена',
        'forgotten': '{name} забыт (удалено лиц: {n}).',
        'video_missing': 'Обработка видео в этой установке недоступна ({err}).',
        'upload_video': 'Загрузите видео', 'every': 'Распознавать каждый n-й кадр', 'max_frames': 'Не больше стольких кадров (0: все)',
        'process': 'Обработать видео', 'processing': 'Обработка: {done} из {total} кадров',
        'processing_unknown': 'Обработка: кадров {done}',
        'video_done': 'Готово: размеченное видео ниже.', 'video_failed': 'Не удалось обработать видео: {err}',
        'download': 'Скачать размеченное видео',
        'video_summary': 'Обработано кадров: {frames} за {seconds:.1f} с ({fps:.0f} кадров/с). Распознаны: {names}.', 'nobody': 'никто',
        'not_playable': 'Видео записано кодеком, который браузеры не воспроизводят (установите PyAV для H.264): '
                        'скачайте его, чтобы посмотреть.',
        'threshold': 'Порог сходства',
        'threshold_help': 'Косинусное сходство, нужное, чтобы лицо получило имя; чем выше, тем строже '
                          '(меньше ложных имён, больше «не распознан»). По умолчанию в библиотеке: {d:.2f}.',
        'detector': 'Детектор лиц', 'detector_unavailable': 'Здесь недоступны: {items}.',
        'detector_failed': 'Детектор «{name}» не загрузился ({err}); используется «mtcnn».',
        'db_path': 'База галереи (общая с командой `facenb`; задайте `FACENB_DB`, чтобы сменить):',
        'lookalike': '{err}', 'save_anyway': 'Это разные люди: всё равно сохранить', 'same_anyway': 'Это {name}: всё равно сохранить',
        'password': 'Пароль', 'log_in': 'Войти', 'wrong_password': 'Неверный пароль.',
        'login_hint': 'Приложение доступно с других компьютеров, поэтому оно спрашивает пароль.',
        'no_password': 'Приложение слушает не только этот компьютер ({address}), но пароль не задан: задайте его командой '
                       '`facenb app-password` (или переменной окружения FACENB_APP_PASSWORD_HASH из '
                       '`facenb app-password --print`) и перезапустите, либо запустите на 127.0.0.1.',
        'foreign_host': 'Страница открыта через имя {host}, которое не принадлежит этому компьютеру, поэтому приложение '
                        'спрашивает пароль (веб-страница может направить своё имя на этот компьютер). '
                        'Если {host} и есть этот компьютер, добавьте его в FACENB_APP_ALLOWED_HOSTS.',
        'foreign_host_no_password': 'Страница открыта через имя {host}, которое не принадлежит этому компьютеру '
                                    '(веб-страница может направить своё имя на этот компьютер), а пароль не задан: '
                                    'откройте приложение через http://localhost или добавьте {host} в FACENB_APP_ALLOWED_HOSTS.',
        'cross_site': 'Отказано: этот сеанс открыт со страницы на {origin}, другом сайте.',
    },
}


MARKDOWN_SPECIAL = set(string.punctuation)  # CommonMark escapes any ASCII punctuation: no emphasis, link, autolink (':', '@', '.'), directive
USER_TEXT = {'name', 'names', 'old', 'new', 'cands', 'err', 'report', 'photo', 'path', 'address', 'host', 'origin'}
# placeholders filled with names, file names, paths and messages: shown as typed, never as markdown ('file' is alt text)


def md_escape(text: str) -> str:
    """`text` as plain text inside Streamlit markdown: ASCII punctuation escaped, line breaks as spaces, and the
    autolink triggers (`://`, `www.`, `@`) broken by an invisible word joiner (U+2060), since GitHub-flavoured
    markdown turns URLs into links after escapes are read."""
    out = []
    for c in ' '.join(str(text).splitlines()):
        if c == '.': out.append('\u2060')
        out.append('\\' + c if c in MARKDOWN_SPECIAL else c)
        if c in ':@': out.append('\u2060')
    return ''.join(out)


def plain_html(text: str, tag: str = 'span') -> str:
    "`text` as HTML that shows it as typed (for `st.html`: no markdown, no links)."
    return f'<{tag}>{html.escape(str(text))}</{tag}>'


def tr(key: str, **kw) -> str:
    "The UI string `key` in the session's language, formatted with `kw`."
    lang = st.session_state.get('lang', 'en')
    kw = {k: md_escape(v) if k in USER_TEXT else v for k, v in kw.items()}
    return STRINGS.get(lang, STRINGS['en'])[key].format(**kw)

# ---------------------------------------------------------------------------------------------------------------
# Models: loaded once per server process and shared by every browser session. The gallery is not cached:
# each Recognizer opens the SQLite file afresh (one connection per operation, WAL), so people added by another
# session or by the command line show up on the next rerun.

@st.cache_resource(show_spinner=False)
def load_detector(name: str):
    "The detector backend `name`, created once per process."
    return get_detector(name)


@st.cache_resource(show_spinner=False)
def load_embedder(model: str | None = None):
    "The embedder of `model` (a gallery's stored model name; None: the library default), created once per process."
    from facenb.recognize import embedder_for
    return embedder_for(model)


def detector_choices() -> dict[str, str | None]:
    "Each backend in `BACKENDS` and why it cannot be used here (`None` when its module is importable)."
    out = {}
    for name, target in BACKENDS.items():
        mod = target.split(':')[0]
        try: ok = importlib.util.find_spec(mod) is not None
        except (ImportError, ValueError): ok = False
        out[name] = None if ok else f'module {mod} is not installed'
    return out


def make_recognizer(detector: str = 'mtcnn',  # a name in `BACKENDS`
                    threshold: float | None = None,  # cosine similarity a face needs to be named; None: the gallery's own, else the default
                    db=None,  # gallery file; None: the command line's default (FACENB_DB or the user data folder)
                   ) -> Recognizer:
    "A Recognizer on the gallery file with the process-wide models: the model the gallery's faces were embedded with."
    gallery = Gallery(db)
    return Recognizer(gallery, detector=load_detector(detector), embedder=load_embedder(gallery.model), threshold=threshold)


def gallery_threshold() -> float:
    "The default gallery's calibrated threshold (facenb calibrate --apply), else the library default."
    try:
        g = Gallery()
        t = g.threshold(g.model) if g.model else None
    except GalleryError: t = None
    return DEFAULT_THRESHOLD if t is None else t

# ---------------------------------------------------------------------------------------------------------------
# Each tab's work, as plain functions of bytes and names.

def digest(data: bytes) -> str: return hashlib.sha256(data).hexdigest()


def recognise_photo(rec: Recognizer, data: bytes) -> tuple[Image.Image, list[Match]]:
    "The photo in `data` with every face boxed and labelled, and the matches (left to right)."
    image = load_image(data)
    matches = rec.recognize(image)
    return rec.annotate(image, matches), matches


def _reason(err: Exception) -> str:
    "The library's message without the placeholder name it gives photos read from bytes."
    return str(err).removeprefix('the photo: ')


def check_photos(rec: Recognizer, files: list[tuple[str, bytes]]) -> list[dict]:
    "For each (file name, bytes): the aligned face to preview (`crop`) or why it cannot be enrolled (`error`)."
    out = []
    for name, data in files:
        try: image, face = rec.check_photo(data)
        except EnrollmentError as e: out.append({'name': name, 'crop': None, 'error': _reason(e)})
        else: out.append({'name': name, 'crop': rec.embedder.align(image, face), 'error': None})
    return out


def add_person(rec: Recognizer, name: str, files: list[tuple[str, bytes]],
               force: bool = False,  # store faces even when they look like another enrolled person (the user confirmed)
              ) -> int:
    "Enrol `name` from the photos in `files` (all checked first, one transaction); how many new faces."
    return rec.enroll(name, [data for _, data in files], force=force)


class LiveAnnotator:
    "The Live camera tab's work on one frame: followed by a `facenb.video.VideoRecognizer`, drawn, frame rate kept."
    def __init__(self, rec: Recognizer, detector: str | None = None):  # None: facenb.video's default for cameras
        if fvideo is None: raise RuntimeError(VIDEO_MISSING)
        self.video = fvideo.VideoRecognizer(rec, detector=detector, asynchronous=True)
        self.times, self.ms, self.labels = deque(maxlen=30), 0.0, []

    def __call__(self, image: np.ndarray) -> np.ndarray:
        "`image` (RGB) with its faces boxed and named by their tracks."
        t0 = time.perf_counter()
        result = self.video.process(image)
        out = fvideo.annotate_frame(image.copy(), result)
        self.labels, self.ms = result.labels, 1000 * (time.perf_counter() - t0)
        self.times.append(time.perf_counter())
        return out

    @property
    def fps(self) -> float:
        "Frames annotated per second, over the last 30."
        t = self.times
        return (len(t) - 1) / (t[-1] - t[0]) if len(t) > 1 and t[-1] > t[0] else 0.0


def process_video(rec: Recognizer, data: bytes,  # the uploaded video file
                  suffix: str = '.mp4',  # its file name's extension, so the reader knows the container
                  every: int = 1,  # recognise every n-th frame
                  max_frames: int | None = None,  # stop after this many frames
                  progress=None,  # called as facenb.video calls it
                 ) -> tuple[bytes, object]:
    "The annotated MP4 of the video in `data` and the `VideoSummary`, from `facenb.video.recognize_video`."
    if fvideo is None: raise RuntimeError(VIDEO_MISSING)
    with tempfile.TemporaryDirectory(prefix='facenb-app-') as d:
        src, out = Path(d) / f'input{suffix}', Path(d) / 'annotated.mp4'
        src.write_bytes(data)
        summary = fvideo.recognize_video(rec, src, out_path=out, every=every, max_frames=max_frames, progress=progress)
        return out.read_bytes(), summary

# ---------------------------------------------------------------------------------------------------------------
# Layout.

def _cached(slot: str, key, compute):
    "`compute()`, remembered in this browser session under `slot` while `key` stays the same."
    hit = st.session_state.get(slot)
    if hit is not None and hit[0] == key: return hit[1]
    value = compute()
    st.session_state[slot] = (key, value)
    return value


def render_settings() -> tuple[str, float]:
    "The Settings tab; returns the detector name and threshold chosen."
    choices = detector_choices()
    usable = [n for n, why in choices.items() if why is None] or ['mtcnn']
    if st.session_state.get('detector') not in usable: st.session_state['detector'] = 'mtcnn' if 'mtcnn' in usable else usable[0]
    default = gallery_threshold()
    threshold = st.slider(tr('threshold'), 0.0, 1.0, float(round(default, 2)), 0.01, key='threshold',
                          help=tr('threshold_help', d=DEFAULT_THRESHOLD))
    detector = st.selectbox(tr('detector'), usable, key='detector')
    missing = {n: why for n, why in choices.items() if why is not None}
    if missing: st.caption(tr('detector_unavailable', items='; '.join(f'{n} ({why})' for n, why in missing.items())))
    st.write(tr('db_path'))
    st.code(str(default_db_path()), language=None)
    return detector, float(threshold)


def reject_face(rec: Recognizer, data: bytes, match: Match):
    "Remember that the face of `match` in the photo `data` is not its name (facenb.reject)."
    return rec.reject(data, match.name, box=match.face.box)


def show_matches(annotated: Image.Image, matches: list[Match], rec: Recognizer, n_people: int,
                 data: bytes | None = None,  # the photo's bytes: a "Not NAME" button beside each named face
                ):
    "The annotated photo beside one line per face: the name and similarity, or 'not recognised'."
    left, right = st.columns([3, 2])
    left.image(annotated, caption=tr('annotated'), width='stretch', alt=tr('annotated_alt'))
    with right:
        if not n_people: st.info(tr('empty_gallery'))
        if not matches:
            st.warning(tr('no_faces'))
            return
        st.write(tr('n_faces_found', n=len(matches), thr=rec.threshold))
        for i, m in enumerate(matches, 1):
            if m.known:
                st.success(tr('known', i=i, name=m.name, sim=m.similarity))
                if data is not None and st.button(tr('not_person', name=m.name), key=f'reject_{digest(data)[:12]}_{i}'):
                    try: reject_face(rec, data, m)
                    except (ImageError, GalleryError) as e: st.error(md_escape(e))
                    else:
                        st.session_state['rec_msg'] = tr('rejected', name=m.name)
                        st.rerun()
            elif m.candidates: st.error(tr('not_recognised', i=i, sim=max(m.similarity, 0.0)))
            else: st.error(tr('not_recognised_empty', i=i))
            if m.candidates: st.caption(tr('candidates', cands=', '.join(f'{n} {s:.2f}' for n, s in m.candidates)))


def render_recognise(rec: Recognizer):
    "The Recognise tab: a photo from a file or the camera, every face named."
    source = st.radio(tr('source'), ['upload', 'camera'], format_func=lambda s: tr(f'src_{s}'),
                      horizontal=True, key='rec_source')
    if source == 'upload': f = st.file_uploader(tr('upload_photo'), type=IMAGE_TYPES, key='rec_upload')
    else: f = st.camera_input(tr('take_photo'), key='rec_camera')
    if f is None:
        st.caption(tr('recognise_hint'))
        return
    data = f.getvalue()
    people = tuple(rec.people())  # part of the cache key: a change to the gallery, here or elsewhere, recomputes
    noes = tuple(r.id for r in rejections(rec.gallery))  # and so does a "not this person"
    try:
        annotated, matches = _cached('rec_result', (digest(data), rec.detector.name, rec.model, rec.threshold, people, noes),
                                     lambda: recognise_photo(rec, data))
    except (ImageError, GalleryError) as e:
        st.error(tr('bad_photo', err=e))
        return
    if msg := st.session_state.pop('rec_msg', None): st.success(msg)
    show_matches(annotated, matches, rec, len(people), data)


def render_live(rec: Recognizer):
    "The Live camera tab: the browser's camera stream, annotated frame by frame (needs streamlit-webrtc)."
    if webrtc_streamer is None:
        st.info(tr('live_missing', err=WEBRTC_MISSING))
        return
    st.caption(tr('live_intro'))
    import av
    key = (str(rec.gallery.path), rec.threshold)
    live = st.session_state.get('live_annotator')
    if live is None or live[0] != key:  # tracks start afresh when the gallery file or the threshold changes
        live = (key, LiveAnnotator(rec))
        st.session_state['live_annotator'] = live
    annotator = live[1]

    def annotate_frame(frame):  # runs in streamlit-webrtc's worker thread, which drops frames while this is busy
        image = frame.to_ndarray(format='rgb24')
        with LIVE_LOCK: out = annotator(image)
        return av.VideoFrame.from_ndarray(out, format='rgb24')

    try:
        ctx = webrtc_streamer(key='live', mode=WebRtcMode.SENDRECV, video_frame_callback=annotate_frame,
                        media_stream_constraints={'video': True, 'audio': False},
                        rtc_configuration={'iceServers': []},  # same machine or LAN: no STUN server needed
                        video_html_attrs={'style': {'width': '100%', 'maxWidth': '720px'}, 'autoPlay': True, 'muted': True},
                        async_processing=True)
    except Exception as e:  # no server runtime to stream through (as under streamlit's AppTest)
        st.info(tr('live_failed', err=f'{type(e).__name__}: {e}'))
        return
    status = st.empty()
    while ctx.state.playing:  # the page shows the rate while the stream plays (a rerun ends this loop)
        if annotator.times: status.markdown(tr('live_status', fps=annotator.fps, ms=annotator.ms, names=', '.join(annotator.labels) or '-'))
        else: status.caption(tr('live_waiting'))
        time.sleep(0.5)


def render_add(rec: Recognizer):
    "The Add person tab: a name and photos, a preview of each photo's face, then one save."
    st.caption(tr('add_hint'))
    rnd = st.session_state.setdefault('add_round', 0)  # new widgets (empty) after each save
    if msg := st.session_state.pop('add_msg', None): st.success(msg)
    name = st.text_input(tr('name'), key=f'add_name_{rnd}', max_chars=100).strip()
    files = st.file_uploader(tr('photos'), type=IMAGE_TYPES, accept_multiple_files=True, key=f'add_files_{rnd}') or []
    files = [(f.name, f.getvalue()) for f in files]
    checks = [_cached(f'add_check_{i}', (digest(data), rec.detector.name), lambda f=(fn, data): check_photos(rec, [f])[0])
              for i, (fn, data) in enumerate(files)]
    if checks:
        cols = st.columns(min(len(checks), 4))
        for i, c in enumerate(checks):
            with cols[i % len(cols)]:
                if c['error']: st.error(md_escape(f"{c['name']}: {c['error']}"))
                else: st.image(c['crop'], caption=md_escape(c['name']), width=140, alt=tr('preview_alt', file=c['name']))
    refused = any(c['error'] for c in checks)
    if refused: st.warning(tr('fix_photos'))
    elif checks and not name: st.caption(tr('need_name'))
    if name and checks and name in rec.gallery: st.info(tr('existing', name=name))
    save = st.button(tr('save'), type='primary', disabled=not (name and checks and not refused), key='add_save')
    lookalike = st.session_state.get('add_lookalike')
    if lookalike and lookalike[0] != (name, tuple(digest(d) for _, d in files)): lookalike = None  # other input since
    force = False
    if lookalike:
        st.error(tr('lookalike', err=lookalike[1]))
        force = st.button(tr('same_anyway', name=md_escape(lookalike[3])) if lookalike[2] == NotTheSamePerson.code else tr('save_anyway'), key='add_force')
    if save or force:
        st.session_state.pop('add_lookalike', None)
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter('always', GalleryWarning)
                n = add_person(rec, name, files, force=force)
        except EnrollmentError as e:
            if not isinstance(e, NeedsConfirmation) or force: st.error(md_escape(_reason(e)))
            else:  # the same face under another name, or another face under this name: ask before saving
                st.session_state['add_lookalike'] = ((name, tuple(digest(d) for _, d in files)), _reason(e), e.code, e.name)
                st.rerun()
        except GalleryError as e: st.error(md_escape(_reason(e)))
        else:
            notes = [str(w.message) for w in caught if issubclass(w.category, GalleryWarning)]
            name = rec.gallery.stored_name(name)  # 'Bob\u3000' was added to Bob: say so
            st.session_state['add_msg'] = tr('added', n=n, name=name) if n else tr('added_none', name=name)
            if notes: st.session_state['add_msg'] += '  \n' + md_escape(' '.join(notes))
            st.session_state['add_round'] = rnd + 1
            st.rerun()


def render_people(rec: Recognizer):
    "The People tab: everyone in the gallery with their thumbnails; rename, and forget after a confirmation."
    if msg := st.session_state.pop('people_msg', None): st.success(msg)
    st.button(tr('refresh'), key='people_refresh')
    people = rec.people()  # read on every rerun, never cached: changes made elsewhere show up
    if not people:
        st.info(tr('no_people'))
        return
    confirm = st.session_state.get('confirm_forget')
    for p in people:
        with st.container(border=True):
            info, thumbs, actions = st.columns([2, 3, 3])
            info.html(plain_html(p.name, 'b'))
            info.caption(tr('person_meta', n=p.n_faces, date=p.created[:10]))
            try: pics = rec.gallery.thumbnails(p.name)
            except UnknownPerson: pics = []  # forgotten by someone else since the list was read
            if pics: thumbs.image(pics, width=64)
            else: thumbs.caption(tr('no_thumbs'))
            with actions:
                if confirm == p.name:
                    st.warning(tr('confirm_forget', name=p.name, n=p.n_faces))
                    yes, no = st.columns(2)
                    if yes.button(tr('yes_forget', name=p.name), type='primary', key=f'forget_yes_{p.id}'):
                        st.session_state.pop('confirm_forget', None)
                        try: n = rec.forget(p.name)
                        except GalleryError as e: st.error(md_escape(e))
                        else:
                            st.session_state['people_msg'] = tr('forgotten', name=p.name, n=n)
                            st.rerun()
                    if no.button(tr('cancel'), key=f'forget_no_{p.id}'):
                        st.session_state.pop('confirm_forget', None)
                        st.rerun()
                    continue
                new = st.text_input(tr('new_name'), value=p.name, key=f'rename_{p.id}', max_chars=100)
                ren, forget = st.columns(2)
                if ren.button(tr('rename'), key=f'rename_btn_{p.id}') and new.strip() != p.name:
                    try: rec.rename(p.name, new)
                    except GalleryError as e: st.error(md_escape(e))
                    else:
                        st.session_state['people_msg'] = tr('renamed', old=p.name, new=new.strip())
                        st.session_state.pop(f'rename_{p.id}', None)
                        st.rerun()
                if forget.button(tr('forget'), key=f'forget_{p.id}'):
                    st.session_state['confirm_forget'] = p.name
                    st.rerun()


def render_video(rec: Recognizer):
    "The Video tab: a video file in, the annotated MP4 out (played and downloadable)."
    if fvideo is None:
        st.info(tr('video_missing', err=VIDEO_MISSING))
        return
    f = st.file_uploader(tr('upload_video'), type=VIDEO_TYPES, key='video_upload')
    a, b = st.columns(2)
    every = a.number_input(tr('every'), 1, 100, 1, key='video_every')
    max_frames = b.number_input(tr('max_frames'), 0, 100_000, 0, key='video_max')
    if f is not None and st.button(tr('process'), type='primary', key='video_go'):
        bar = st.progress(0.0, text=tr('processing_unknown', done=0))

        def progress(done, total=None, *_):
            if total: bar.progress(min(done / total, 1.0), text=tr('processing', done=done, total=total))
            else: bar.progress(0.0, text=tr('processing_unknown', done=done))

        try:
            out, summary = process_video(rec, f.getvalue(), Path(f.name).suffix.lower() or '.mp4', int(every),
                                         int(max_frames) or None, progress)
        except Exception as e:  # a video the reader cannot decode, a full disk...: say so, keep the app alive
            bar.empty()
            st.error(tr('video_failed', err=f'{type(e).__name__}: {e}'))
        else:
            bar.progress(1.0, text=tr('video_done'))
            st.session_state['video_result'] = {
                'name': Path(f.name).stem + '_annotated.mp4', 'data': out, 'names': summary.names,
                'frames': len(summary.frames), 'seconds': summary.seconds, 'fps': summary.fps,
                'playable': summary.codec in fvideo.BROWSER_CODECS}
    if result := st.session_state.get('video_result'):
        st.write(tr('video_summary', frames=result['frames'], seconds=result['seconds'], fps=result.get('fps', 0.0),
                    names=', '.join(result['names']) or tr('nobody')))
        if result['playable']: st.video(result['data'])
        else: st.warning(tr('not_playable'))
        st.download_button(tr('download'), result['data'], file_name=result['name'], mime='video/mp4', key='video_download')


def allowed_hosts() -> list[str]:
    "Host names the app answers to besides this machine's own: `FACENB_APP_ALLOWED_HOSTS`, separated by commas."
    return [h.strip() for h in os.environ.get('FACENB_APP_ALLOWED_HOSTS', '').split(',') if h.strip()]


def connection() -> dict[str, str]:
    "The headers (names in lower case) this browser session connected with; empty outside a browser (as under AppTest)."
    try: return {k.lower(): v for k, v in st.context.headers.items()}
    except Exception: return {}


def login() -> bool:
    """Whether this browser session may see the app: on a local address reached by a local name, always; reached by a
    name that is not this machine's (DNS rebinding) or on an address beyond localhost, after the right password; opened
    from another site's page, never."""
    address, headers = st.get_option('server.address'), connection()
    host = headers.get('host')  # absent only outside a browser
    if headers.get('origin') and web.cross_site('POST', headers, st.get_option('server.corsAllowedOrigins') or ()):
        st.error(tr('cross_site', origin=headers['origin']))
        return False
    foreign = host is not None and not web.host_allowed(host, address, allowed_hosts())
    if not (foreign or access.password_required(address)) or st.session_state.get('logged_in'): return True
    hashed, name = access.stored_hash(), web.host_name(host) or host
    if not hashed:
        if foreign: st.error(tr('foreign_host_no_password', host=name))
        else: st.error(tr('no_password', address=address or 'every interface'))
        return False
    st.caption(tr('foreign_host', host=name) if foreign else tr('login_hint'))
    with st.form('login'):
        typed = st.text_input(tr('password'), type='password', key='login_password')
        submitted = st.form_submit_button(tr('log_in'))
    if submitted:
        if access.check_password(typed, hashed):
            st.session_state['logged_in'] = True
            st.rerun()
        time.sleep(1.0)  # a wrong guess costs a second
        st.error(tr('wrong_password'))
    return False


def render_photos(rec: Recognizer):
    "The People in my photos tab: index a folder, the photos a person appears in, groups of unnamed faces to name."
    if msg := st.session_state.pop('photos_msg', None): st.success(msg)
    folder = st.text_input(tr('archive_folder'), key='archive_folder')
    if st.button(tr('index'), key='index_btn') and folder.strip():
        try:
            with st.spinner(tr('indexing')): report = index_photos(rec, [folder.strip()])
        except (GalleryError, FileNotFoundError, RuntimeError) as e: st.error(md_escape(e))
        else: st.success(tr('indexed', report=str(report)))
    people = [p.name for p in rec.people()]
    if people:
        name = st.selectbox(tr('find_person'), people, key='find_person')
        found = find(rec.gallery, name)[:24]
        if not found: st.info(tr('no_sightings', name=name))
        for s in found:
            try: st.image(Image.fromarray(s.face.crop(sighting_image(s.path), margin=0.2)), width=96,
                          caption=tr('sighting', photo=Path(s.path).name, sim=s.similarity))
            except ImageError: st.caption(tr('sighting', photo=s.path, sim=s.similarity))
            if st.button(tr('not_person', name=name), key=f'reject_sighting_{s.id}'):
                try: reject_sighting(rec.gallery, s.id, name)
                except GalleryError as e: st.error(md_escape(e))
                else:
                    st.session_state['photos_msg'] = tr('rejected', name=name)
                    st.rerun()
    if st.button(tr('group_faces'), key='cluster_btn'): st.session_state['clusters'] = cluster_sightings(rec.gallery, min_size=3)
    clusters = st.session_state.get('clusters')
    if clusters is None: return
    if not clusters: st.info(tr('no_groups', k=3))
    for c in clusters[:20]:
        with st.container(border=True):
            st.markdown(tr('group', id=c.id, n=c.size, photos=c.photos))
            try: st.image(contact_sheet(rec.gallery, c))
            except GalleryError: continue  # named meanwhile
            new = st.text_input(tr('group_name'), key=f'group_name_{c.id}', max_chars=100)
            if st.button(tr('name_group'), key=f'group_btn_{c.id}') and new.strip():
                try: n = name_cluster(rec.gallery, c.id, new)
                except GalleryError as e: st.error(md_escape(e))
                else:
                    st.session_state['photos_msg'] = tr('group_named', name=new.strip(), n=n)
                    st.session_state['clusters'] = [k for k in clusters if k.id != c.id]
                    st.rerun()


def main():
    st.set_page_config(page_title='facenb', page_icon=':bust_in_silhouette:', layout='wide')
    st.sidebar.selectbox('Language / Язык', list(LANGUAGES), format_func=LANGUAGES.get, key='lang')
    st.title(tr('title'))
    if not login(): st.stop()
    names = ['recognise', *(['live'] if webrtc_streamer is not None else []), 'add', 'people', 'photos', 'video', 'settings']
    tabs = dict(zip(names, st.tabs([tr(f'tab_{n}') for n in names])))
    with tabs['settings']: detector, threshold = render_settings()  # drawn last, read first
    try:
        with st.spinner(tr('loading')):
            load_embedder()
            load_detector('mtcnn')
    except Exception as e:  # the FaceNet weights or facenet-pytorch missing: nothing works without them
        st.error(tr('load_failed', err=f'{type(e).__name__}: {e}'))
        st.stop()
    try: load_detector(detector)
    except Exception as e:  # a backend (say the custom detector without its trained weights) that fails to load
        st.sidebar.warning(tr('detector_failed', name=detector, err=f'{type(e).__name__}: {e}'))
        detector = 'mtcnn'
    try: rec = make_recognizer(detector, threshold)
    except GalleryError as e:  # the gallery file unreadable, or written by a newer facenb
        st.error(md_escape(e))
        st.stop()
    st.sidebar.caption(tr('db_caption', path=rec.gallery.path, n=len(rec.gallery)))
    if rec.notice: st.sidebar.info(rec.notice)  # the gallery holds another model than the default: how to migrate
    with tabs['recognise']: render_recognise(rec)
    with tabs['add']: render_add(rec)
    with tabs['people']: render_people(rec)
    with tabs['photos']: render_photos(rec)
    with tabs['video']: render_video(rec)
    if 'live' in tabs:
        with tabs['live']: render_live(rec)


if __name__ == '__main__': main()
