"""User functions s2s must refuse, each with a clear TransformError."""
import numpy as np

COUNTER = 0


def writes_argument(params, step):
    params[0] += step
    return np.sum(params)


def augments_argument(x):
    x += 1.0
    return np.sum(x)


def writes_global(x):
    global COUNTER
    COUNTER = COUNTER + 1
    return x * 2.0


def uses_try(x):
    try:
        y = np.log(x)
    except ValueError:
        y = x
    return y


def generator(x):
    for i in range(3):
        yield x * i


def defines_class(x):
    class Local:
        pass
    return x


def appends_to_argument(xs, x):
    xs.append(x)
    return x * 2.0


def no_rule(x):
    return np.sum(np.cumsum(x))


def nonlocal_write(x):
    total = 0.0

    def add(v):
        nonlocal total
        total = total + v
    add(x)
    return total


async def asynchronous(x):
    return x


def returns_vector(x):
    return x * 2.0
