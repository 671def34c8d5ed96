"""The `custom` detector's network on its three engines, measured in ONE run: PyTorch (batch norms folded, channels
last), ONNX Runtime float32, ONNX Runtime int8 (the shipped `multiface_detector.int8.onnx`).

Rerun (from the repository root):

    OMP_NUM_THREADS=1 .venv/bin/python scripts/detector_engines.py --threads 1 --repeats 20

For each input size, the engines take turns on the same random input, `--repeats` times, so that a busy moment of a
shared CPU falls on all of them alike; printed: the median milliseconds of one forward pass and the ratio to
PyTorch's. The network only: no resizing, decoding or NMS (`scripts/wider_compare.py` times whole detections).
"""
from __future__ import annotations
import argparse, json, time

import numpy as np
import torch

from facenb.models.multiface import OnnxNet, for_inference, int8_weights, load_multiface, multiface_onnx, multiface_weights


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--threads', type=int, default=1); ap.add_argument('--repeats', type=int, default=20)
    ap.add_argument('--sizes', nargs='+', default=['480x640', '768x1024'], help='HEIGHTxWIDTH, multiples of 32')
    ap.add_argument('--json', default=None)
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    engines = {'torch': for_inference(load_multiface(multiface_weights())),
               'onnx float32': OnnxNet(multiface_onnx(), a.threads), 'onnx int8': OnnxNet(int8_weights(), a.threads)}
    rows = {}
    for size in a.sizes:
        h, w = map(int, size.split('x'))
        x = torch.rand(1, 3, h, w).contiguous(memory_format=torch.channels_last)
        secs = {k: [] for k in engines}
        with torch.inference_mode():
            for net in engines.values(): net(x)  # first-call costs are not timed
            for _ in range(a.repeats):
                for k, net in engines.items():
                    t = time.perf_counter(); net(x); secs[k].append(time.perf_counter() - t)
        ms = {k: 1000 * float(np.median(v)) for k, v in secs.items()}
        rows[size] = {k: {'ms_median': round(v, 1), 'vs_torch': round(v / ms['torch'], 2)} for k, v in ms.items()}
    print(f'threads {a.threads}, {a.repeats} repeats, median ms of one forward pass (ratio to PyTorch)\n')
    print('| input | ' + ' | '.join(engines) + ' |\n|---|' + '---:|' * len(engines))
    for size, r in rows.items():
        print(f'| {size} | ' + ' | '.join(f"{v['ms_median']:.1f} ({v['vs_torch']:.2f})" for v in r.values()) + ' |')
    if a.json: open(a.json, 'w').write(json.dumps({'threads': a.threads, 'repeats': a.repeats, 'results': rows}, indent=1))


if __name__ == '__main__':
    main()
