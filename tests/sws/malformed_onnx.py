"""Small ONNX graphs built with onnx.helper, each malformed in one way a hostile or broken exporter can
produce: the fixtures of the malformed-input table (test_bad_inputs.py) and the seeds of the ONNX fuzzer
(test_fuzz_inputs.py). Each builder returns a ModelProto whose one weight chain ends in a MatMul (or Conv)."""

from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper, numpy_helper


def model(nodes, inits, *, inputs=None, output="y"):
    """A graph of `nodes` over the initializers `inits`, with input x (float, any shape) and output `output`."""
    inputs = inputs or [helper.make_tensor_value_info("x", TensorProto.FLOAT, None)]
    graph = helper.make_graph(nodes, "g", inputs, [helper.make_tensor_value_info(output, TensorProto.FLOAT, None)],
                              initializer=inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])


def const(name, array):
    return numpy_helper.from_array(np.asarray(array), name)


def matmul(weight="W"):
    return helper.make_node("MatMul", ["x", weight], ["y"], name="mm")


def good():
    """x @ W, W 4 x 3: the graph every malformed one departs from."""
    return model([matmul()], [const("W", np.arange(12, dtype=np.float32).reshape(4, 3))])


def raw_initializer(name, dims, values, dtype=TensorProto.FLOAT):
    t = TensorProto()
    t.name = name
    t.data_type = dtype
    t.dims.extend(dims)
    t.raw_data = np.asarray(values, helper.tensor_dtype_to_np_dtype(dtype)).tobytes()
    return t


def dims_beyond_data():
    return model([matmul()], [raw_initializer("W", [4, 3], np.ones(6))])


def negative_dims():
    return model([matmul()], [raw_initializer("W", [-4, 3], np.ones(12))])


def conv_group_0():
    conv = helper.make_node("Conv", ["x", "W"], ["y"], name="conv", group=0)
    return model([conv], [const("W", np.ones((2, 1, 3, 3), np.float32))])


def transpose_repeated_axis():
    return model([helper.make_node("Transpose", ["W0"], ["W"], perm=[0, 0]), matmul()],
                 [const("W0", np.ones((4, 3), np.float32))])


def reshape_wrong_size():
    return model([helper.make_node("Reshape", ["W0", "shape"], ["W"]), matmul()],
                 [const("W0", np.ones((4, 3), np.float32)), const("shape", np.array([5, 3], np.int64))])


def squeeze_axis_of_8():
    return model([helper.make_node("Squeeze", ["W0", "axes"], ["W"]), matmul()],
                 [const("W0", np.ones((8, 3), np.float32)), const("axes", np.array([0], np.int64))])


def cast_unknown_type():
    return model([helper.make_node("Cast", ["W0"], ["W"], to=12345), matmul()],
                 [const("W0", np.ones((4, 3), np.float32))])


def dequantize_wrong_length():
    dq = helper.make_node("DequantizeLinear", ["W0", "s", "zp"], ["W"], axis=1)
    return model([dq, matmul()], [const("W0", np.ones((4, 3), np.int8)), const("s", np.ones(5, np.float32)),
                                  const("zp", np.zeros(5, np.int8))])


def matmulinteger_wrong_zero_point():
    mm = helper.make_node("MatMulInteger", ["x", "W", "", "zp"], ["y"], name="mmi")
    return model([mm], [const("W", np.ones((4, 3), np.int8)), const("zp", np.zeros(5, np.int8))])


def mul_incompatible_shape():
    return model([helper.make_node("Mul", ["W0", "c"], ["W"]), matmul()],
                 [const("W0", np.ones((4, 3), np.float32)), const("c", np.ones(5, np.float32))])


def constant_of_shape(shape):
    node = helper.make_node("ConstantOfShape", ["shape"], ["W"], value=numpy_helper.from_array(np.ones(1, np.float32)))
    return model([node, matmul()], [const("shape", np.array(shape, np.int64))])


def constant_of_shape_negative():
    return constant_of_shape([-4, 3])


def constant_of_shape_huge():
    return constant_of_shape([16000, 16000])


#: The eleven malformed graphs of issue 29, with a word of the one-line answer each must get.
MALFORMED = {
    "initializer dims beyond its data": (dims_beyond_data, "do not match its data"),
    "initializer with a negative dim": (negative_dims, "negative"),
    "Conv with group 0": (conv_group_0, "group"),
    "Transpose with a repeated axis": (transpose_repeated_axis, "perm"),
    "Reshape to the wrong size": (reshape_wrong_size, "Reshape"),
    "Squeeze of an axis of size 8": (squeeze_axis_of_8, "Squeeze"),
    "Cast to an unknown type": (cast_unknown_type, "Cast"),
    "DequantizeLinear scale of the wrong length": (dequantize_wrong_length, "DequantizeLinear"),
    "MatMulInteger zero point of the wrong length": (matmulinteger_wrong_zero_point, "zero point"),
    "Mul by a constant of incompatible shape": (mul_incompatible_shape, "Mul"),
    "ConstantOfShape with a negative dim": (constant_of_shape_negative, "ConstantOfShape"),
}
