"""The object-oriented model of prog_oo: layer objects called with their parameters."""
import numpy as np

import prog_oo as oo
import s2s
from program_checks import check_grad, check_jit, check_value_and_grad, check_vmap, fd_grad

model = oo.build_model()
params = model.init_params()
x, y = oo.make_data()


def test_grad_of_bound_loss_method():
    check_grad(model.loss, params, x, y)


def test_value_and_grad_of_bound_loss_method():
    check_value_and_grad(model.loss, params, x, y)


def test_grad_of_a_function_calling_the_model():
    def loss(params, x, y):
        return model.loss(params, x, y)

    check_grad(loss, params, x, y)


def test_grad_of_single_layer_call():
    layer = model.layers[0]

    def loss(p, x):
        return np.sum(layer(p, x) ** 2)

    check_grad(loss, params[0], x)


def test_vmap_of_predict():
    got = s2s.vmap(model.predict, in_axes=(None, 0))(params, x)
    np.testing.assert_allclose(got, model.predict(params, x), rtol=1e-12)


def test_vmap_of_per_example_loss_method():
    def example_loss(p, xi, yi):
        return model.loss(p, xi[None], yi[None])

    check_vmap(example_loss, params, x, y, in_axes=(None, 0, 0))


def test_jit_of_loss_method():
    check_jit(model.loss, params, x, y)


def test_jit_of_grad_of_loss_method():
    check_jit(s2s.grad(model.loss), params, x, y, expected=fd_grad(model.loss, (params, x, y)),
              rtol=1e-6, atol=1e-8)


def test_grad_of_a_layer_method_called_on_the_object():
    layer = model.layers[0]

    def loss(p, x):
        return np.sum(layer.__call__(p, x) ** 2)

    check_grad(loss, params[0], x)


def test_jit_of_a_function_calling_predict():
    def predict(params, x):
        return model.predict(params, x)

    check_jit(predict, params, x)


def test_grad_of_a_layer_without_activation_called_by_method():
    layer = model.layers[1]

    def loss(p, x):
        return np.sum(layer.__call__(p, x) ** 2)

    check_grad(loss, params[1], x[:, :1] * np.ones((1, 5)))
