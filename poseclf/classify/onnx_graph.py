"""A small writer of ONNX graphs: named constants and one call per operator.

The exporter (:mod:`poseclf.classify.onnx_export`) writes poseclf's arithmetic node by node;
this module keeps the bookkeeping (unique names, initializers, opset) out of it. Only
``onnx.helper`` and ``onnx.numpy_helper`` are used, so the graph is plain ONNX that any runtime
of opset :data:`OPSET` runs.

Imports: NumPy and ``onnx`` (the ``export`` extra).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

#: ONNX operator set of the exported graphs: 17 is run by onnxruntime 1.13 and later (tested
#: here: 1.32; reductions take ``axes`` as an attribute up to opset 17, except ReduceSum, which
#: takes them as an input since opset 13).
OPSET = 17

#: Element types for Cast's ``to``.
FLOAT, DOUBLE, BOOL = TensorProto.FLOAT, TensorProto.DOUBLE, TensorProto.BOOL
_DTYPES = {np.dtype(np.float32): TensorProto.FLOAT, np.dtype(np.float64): TensorProto.DOUBLE,
           np.dtype(np.int64): TensorProto.INT64, np.dtype(np.bool_): TensorProto.BOOL}


class GraphBuilder:
    """Nodes and initializers of one ONNX graph, added in order; :meth:`model` assembles them.

    Every method returns the name of the value it made, to be passed to later calls.

    Examples
    --------
    >>> g = GraphBuilder("demo")
    >>> x = g.input("x", np.float64, ["n", 2])
    >>> g.output(g.op("Mul", x, g.const(np.array([2.0, 3.0]))), "y", np.float64, ["n", 2])
    >>> g.model().graph.node[0].op_type
    'Mul'
    """

    def __init__(self, name: str):
        self.name = name
        self._nodes: list[onnx.NodeProto] = []
        self._initializers: list[onnx.TensorProto] = []
        self._inputs: list[onnx.ValueInfoProto] = []
        self._outputs: list[onnx.ValueInfoProto] = []
        self._count = itertools.count(1)
        self._constants: dict[tuple, str] = {}  # one initializer per distinct value

    def _fresh(self, stem: str) -> str:
        return f"{stem}_{next(self._count)}"

    def branch(self) -> GraphBuilder:
        """A builder for the body of an ``If`` branch: its own nodes; names and constants
        shared with this graph (a branch may use any value computed before the ``If``)."""
        child = GraphBuilder(self._fresh(f"{self.name}_branch"))
        child._initializers = self._initializers
        child._count = self._count
        child._constants = self._constants
        return child

    def if_(self, condition: str, then: tuple[GraphBuilder, Sequence[str]],
            otherwise: tuple[GraphBuilder, Sequence[str]], dtypes: Sequence) -> list[str]:
        """``If`` on a bool scalar: the values of the branch that runs (only that one does)."""
        bodies = []
        for builder, values in (then, otherwise):
            outputs = []
            for value, dtype in zip(values, dtypes, strict=True):
                name = builder._fresh("out")
                builder._nodes.append(helper.make_node("Identity", [value], [name]))
                outputs.append(helper.make_tensor_value_info(name, _DTYPES[np.dtype(dtype)],
                                                             None))
            bodies.append(helper.make_graph(builder._nodes, builder.name, [], outputs))
        return self.ops("If", [condition], len(dtypes), then_branch=bodies[0],
                        else_branch=bodies[1])

    def input(self, name: str, dtype, shape: Sequence[int | str]) -> str:
        """A graph input (``shape`` may name its dynamic dimensions)."""
        self._inputs.append(helper.make_tensor_value_info(name, _DTYPES[np.dtype(dtype)],
                                                          list(shape)))
        return name

    def output(self, value: str, name: str, dtype, shape: Sequence[int | str]) -> None:
        """Expose ``value`` as the graph output ``name``."""
        self._nodes.append(helper.make_node("Identity", [value], [name]))
        self._outputs.append(helper.make_tensor_value_info(name, _DTYPES[np.dtype(dtype)],
                                                           list(shape)))

    def const(self, value, dtype=None, stem: str = "c") -> str:
        """A constant tensor (an initializer) holding ``value``."""
        array = np.asarray(value, dtype=dtype)
        if array.dtype == np.int32 or array.dtype == np.intp:
            array = array.astype(np.int64)
        key = (array.dtype.str, array.shape, array.tobytes())
        if key not in self._constants:
            name = self._constants[key] = self._fresh(stem)
            self._initializers.append(numpy_helper.from_array(array.copy(order="C"), name))
        return self._constants[key]

    def ints(self, *values: int) -> str:
        """A 1-D int64 constant (shapes, axes, indices, slice bounds)."""
        return self.const(np.asarray(values, dtype=np.int64), stem="i")

    def op(self, op_type: str, *inputs: str, **attrs) -> str:
        """One node with one output; returns the output's name."""
        return self.ops(op_type, inputs, 1, **attrs)[0]

    def ops(self, op_type: str, inputs: Sequence[str], n_out: int, **attrs) -> list[str]:
        """One node with ``n_out`` outputs."""
        outputs = [self._fresh(op_type.lower()) for _ in range(n_out)]
        self._nodes.append(helper.make_node(op_type, list(inputs), outputs, **attrs))
        return outputs

    # -- shorthands for what the exporter does most ------------------------------------------
    def take(self, x: str, indices, axis: int) -> str:
        """``x`` at constant ``indices`` along ``axis`` (NumPy's ``take``: a scalar index
        drops the axis)."""
        return self.op("Gather", x, self.const(np.asarray(indices, dtype=np.int64), stem="idx"),
                       axis=axis)

    def slice(self, x: str, start: int, stop: int, axis: int) -> str:
        """``x[..., start:stop, ...]`` along ``axis``."""
        return self.op("Slice", x, self.ints(start), self.ints(stop), self.ints(axis))

    def reduce_sum(self, x: str, axis: int, keepdims: bool = False) -> str:
        return self.op("ReduceSum", x, self.ints(axis), keepdims=int(keepdims))

    def reshape(self, x: str, *shape: int) -> str:
        return self.op("Reshape", x, self.ints(*shape))

    def smallest(self, x: str, k: int) -> tuple[str, str]:
        """Values and indices of the ``k`` smallest of the last axis, in increasing order
        (equal values: the lower index first)."""
        values, indices = self.ops("TopK", [x, self.ints(k)], 2, axis=-1, largest=0, sorted=1)
        return values, indices

    def model(self, doc: str = "", metadata: dict[str, str] | None = None) -> onnx.ModelProto:
        """The assembled, checked model."""
        graph = helper.make_graph(self._nodes, self.name, self._inputs, self._outputs,
                                  self._initializers)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                                  producer_name="poseclf", doc_string=doc)
        model.ir_version = 8  # the IR of opset 17: runtimes that run opset 17 read it
        for key, value in (metadata or {}).items():
            model.metadata_props.add(key=key, value=value)
        onnx.checker.check_model(model, full_check=True)
        return model
