"""Python operators and their NumPy ufunc twins: `+ - * / // % ** @`, unary minus."""
import operator

import numpy as np

from . import batching
from .core import primitive

add = primitive(
    "add", [operator.add, np.add], "x, y",
    vjp={"x": "unbroadcast(out_bar, x)", "y": "unbroadcast(out_bar, y)"},
    jvp={"x": "broadcast_like(x_dot, out)", "y": "broadcast_like(y_dot, out)"}, batch=batching.elementwise)

subtract = primitive(
    "subtract", [operator.sub, np.subtract], "x, y",
    vjp={"x": "unbroadcast(out_bar, x)", "y": "unbroadcast(-out_bar, y)"},
    jvp={"x": "broadcast_like(x_dot, out)", "y": "broadcast_like(-y_dot, out)"}, batch=batching.elementwise)

multiply = primitive(
    "multiply", [operator.mul, np.multiply], "x, y",
    vjp={"x": "unbroadcast(out_bar * y, x)", "y": "unbroadcast(out_bar * x, y)"},
    jvp={"x": "x_dot * y", "y": "x * y_dot"}, batch=batching.elementwise)

divide = primitive(
    "divide", [operator.truediv, np.divide], "x, y",
    # d(x/y) = dx / y - dy * x / y**2 = (dx - dy * out) / y
    vjp={"x": "unbroadcast(out_bar / y, x)", "y": "unbroadcast(-out_bar * out / y, y)"},
    jvp={"x": "x_dot / y", "y": "-y_dot * out / y"}, batch=batching.elementwise)

power = primitive(
    "power", [operator.pow, np.power], "x, y",
    # d(x**y) = y x**(y-1) dx + log(x) x**y dy, with JAX's values at the edges: 0 for y == 0 in
    # the first term (x**0 is 1 everywhere) and 0 for x == 0 in the second; power_dx(x, 2) folds to 2 * x
    vjp={"x": "unbroadcast(out_bar * power_dx(x, y), x)",
         "y": "unbroadcast(out_bar * power_dy(out, x), y)"},
    jvp={"x": "x_dot * power_dx(x, y)", "y": "match_dtype(y_dot * power_dy(out, x), out)"}, batch=batching.elementwise)

mod = primitive(
    "mod", [operator.mod, np.mod, np.remainder], "x, y",
    # x % y = x - y * floor(x / y)
    vjp={"x": "unbroadcast(out_bar, x)", "y": "unbroadcast(-out_bar * np.floor_divide(x, y), y)"},
    jvp={"x": "broadcast_like(x_dot, out)", "y": "-y_dot * np.floor_divide(x, y)"}, batch=batching.elementwise)

floor_divide = primitive("floor_divide", [operator.floordiv, np.floor_divide], "x, y",
                         differentiable=False, batch=batching.elementwise)

negative = primitive(
    "negative", [operator.neg, np.negative], "x",
    vjp={"x": "-out_bar"}, jvp={"x": "-x_dot"}, batch=batching.elementwise)

positive = primitive(
    "positive", [operator.pos, np.positive], "x",
    vjp={"x": "out_bar"}, jvp={"x": "x_dot"}, batch=batching.elementwise)

matmul = primitive(
    "matmul", [operator.matmul, np.matmul], "x, y",
    vjp={"x": "matmul_grad_left(out_bar, x, y)", "y": "matmul_grad_right(out_bar, x, y)"},
    jvp={"x": "x_dot @ y", "y": "x @ y_dot"}, batch=batching.matmul)

# Comparisons, logic and bit operations give values no gradient flows through.
for _name, _impls in [
        ("less", [operator.lt, np.less]), ("less_equal", [operator.le, np.less_equal]),
        ("greater", [operator.gt, np.greater]), ("greater_equal", [operator.ge, np.greater_equal]),
        ("equal", [operator.eq, np.equal]), ("not_equal", [operator.ne, np.not_equal]),
        ("logical_not", [operator.not_, np.logical_not]),
        ("logical_and", [np.logical_and]), ("logical_or", [np.logical_or]),
        ("bitwise_and", [operator.and_, np.bitwise_and]), ("bitwise_or", [operator.or_, np.bitwise_or]),
        ("bitwise_xor", [operator.xor, np.bitwise_xor]), ("invert", [operator.invert, np.invert]),
        ("is_", [operator.is_]), ("is_not", [operator.is_not]), ("contains", [operator.contains])]:
    primitive(_name, _impls, "x, y=None", differentiable=False, batch=batching.BY_NAME.get(_name, batching.elementwise))
