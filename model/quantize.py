"""Dynamic int8 with one activation scale per token row, so that a text's scores never depend on its pass.

ONNX Runtime's dynamic quantisation gives each matrix product one activation scale for the whole pass;
in a pass of several texts, the loudest one sets every text's scale, and its neighbours move a text's
scores (by up to 0.28 on gold). Here every matrix product with a constant weight quantises each row
(one token of one text) by its own largest value instead:

    scale = max|row| / 127            QuantizeLinear, one block per row, zero point 128 -> uint8
    MatMulIntegerToFloat(int8 weights, one scale per output column) * scale

A row's result depends only on that row, so padding and neighbours change nothing, and the int8
backend may run several texts per pass. Weights are symmetric int8 per output column. Activations
are uint8 around 128 rather than int8 because AVX2 has kernels for uint8 x int8 products only (int8 x
int8 was 13x slower). Attention stays in float (ORT's QAttention quantises per pass, so the export
leaves attention unfused). Blocked QuantizeLinear needs opset 21. What each choice was worth is in
docs/performance.md.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper

OPSET = 21  # blocked QuantizeLinear
ZERO_POINT = 128
_SHARED: dict[str, np.ndarray] = {  # constants every quantised product uses
    "rq_inv127": np.array(1 / 127, np.float32),
    "rq_tiny": np.array(1e-12, np.float32),  # an all-zero row keeps a finite scale
    "rq_one": np.array(1.0, np.float32),
    "rq_zero_point": np.array(ZERO_POINT, np.uint8),
    "rq_zero_point_block": np.array([[[ZERO_POINT]]], np.uint8),
    "rq_last_axis": np.array([-1], np.int64),
}


class _Rewriter:
    """Builds the new node list and the initialisers it needs, one graph node at a time."""

    def __init__(self, graph: onnx.GraphProto) -> None:
        self.weights = {i.name: i for i in graph.initializer}
        self.nodes: list[onnx.NodeProto] = []
        self.added = [numpy_helper.from_array(value, name) for name, value in _SHARED.items()]
        self.quantised: dict[str, str] = {}  # activation -> the prefix of its quantised form
        self.products = 0

    def constant(self, name: str, value: np.ndarray) -> str:
        self.added.append(numpy_helper.from_array(value, name))
        return name

    def visit(self, node: onnx.NodeProto) -> None:
        weight = self.weights.get(node.input[1]) if node.op_type == "MatMul" else None
        if weight is None or len(weight.dims) != 2:
            self.nodes.append(node)
            return
        self.product(node.input[0], numpy_helper.to_array(weight).astype(np.float32), node.output[0])

    def activation(self, name: str, width: int) -> str:
        """The per-row uint8 form of activation `name` (built once, shared by the products that read it);
        returns its prefix: `<prefix>_q` the uint8 tensor, `<prefix>_scale` the row scales."""
        if name in self.quantised:
            return self.quantised[name]
        p = self.quantised[name] = f"rq_a{len(self.quantised)}"
        self.nodes += [
            helper.make_node("Abs", [name], [f"{p}_abs"]),
            helper.make_node("ReduceMax", [f"{p}_abs", "rq_last_axis"], [f"{p}_max"], keepdims=1),
            helper.make_node("Max", [f"{p}_max", "rq_tiny"], [f"{p}_max_safe"]),
            helper.make_node("Mul", [f"{p}_max_safe", "rq_inv127"], [f"{p}_scale"]),
            helper.make_node("Shape", [f"{p}_scale"], [f"{p}_rows"]),
            helper.make_node("Expand", ["rq_zero_point_block", f"{p}_rows"], [f"{p}_zero_point"]),
            helper.make_node(
                "QuantizeLinear",
                [name, f"{p}_scale", f"{p}_zero_point"],
                [f"{p}_q"],
                axis=-1,
                block_size=width,
            ),
        ]
        return p

    def product(self, activation: str, weight: np.ndarray, output: str) -> None:
        width, columns = weight.shape
        column_scale = (np.maximum(np.abs(weight).max(axis=0), 1e-12) / 127).astype(np.float32)
        w = f"rq_w{self.products}"
        self.products += 1
        a = self.activation(activation, width)
        self.nodes += [
            helper.make_node(
                "MatMulIntegerToFloat",
                [
                    f"{a}_q",
                    self.constant(w, np.clip(np.round(weight / column_scale), -127, 127).astype(np.int8)),
                    "rq_one",  # the row scales are applied after the product
                    self.constant(f"{w}_scale", column_scale),
                    "rq_zero_point",
                    self.constant(f"{w}_zero_point", np.zeros(columns, np.int8)),
                ],
                [f"{w}_out"],
                domain="com.microsoft",
            ),
            helper.make_node("Mul", [f"{w}_out", f"{a}_scale"], [output]),
        ]


def quantize_rows(source: Path, target: Path) -> int:
    """Write `source`'s float graph with every constant-weight MatMul in per-row int8 to `target`;
    returns how many products were quantised."""
    model = onnx.load(str(source))
    rewriter = _Rewriter(model.graph)
    for node in model.graph.node:
        rewriter.visit(node)
    used = {name for node in rewriter.nodes for name in node.input}
    kept = [i for i in model.graph.initializer if i.name in used]
    del model.graph.node[:]
    model.graph.node.extend(rewriter.nodes)
    del model.graph.initializer[:]
    model.graph.initializer.extend(kept + rewriter.added)
    for opset in model.opset_import:
        if opset.domain in ("", "ai.onnx"):
            opset.version = OPSET
    if not any(opset.domain == "com.microsoft" for opset in model.opset_import):
        model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    model.ir_version = max(model.ir_version, 10)  # opset 21's IR
    onnx.checker.check_model(model)
    onnx.save(model, str(target))
    return rewriter.products
