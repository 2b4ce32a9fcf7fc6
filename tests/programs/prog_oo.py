"""An object-oriented model: layer classes hold only their configuration, parameters are passed
to their methods; a Model composes layers and has a loss method."""
import numpy as np


class Dense:
    def __init__(self, n_in, n_out, activation=None):
        self.n_in = n_in
        self.n_out = n_out
        self.activation = activation

    def init_params(self, rs):
        return (rs.randn(self.n_in, self.n_out) / np.sqrt(self.n_in), np.zeros(self.n_out))

    def __call__(self, params, x):
        W, b = params
        y = x @ W + b
        if self.activation is not None:
            y = self.activation(y)
        return y


class Tanh:
    def init_params(self, rs):
        return ()

    def __call__(self, params, x):
        return np.tanh(x)


class Model:
    def __init__(self, layers, weight_decay=0.0):
        self.layers = layers
        self.weight_decay = weight_decay

    def init_params(self, seed=0):
        rs = np.random.RandomState(seed)
        return [layer.init_params(rs) for layer in self.layers]

    def predict(self, params, x):
        for layer, p in zip(self.layers, params):
            x = layer(p, x)
        return x

    def penalty(self, params):
        total = 0.0
        for p in params:
            for leaf in p:
                total = total + np.sum(leaf ** 2)
        return self.weight_decay * total

    def loss(self, params, x, y):
        return np.mean((self.predict(params, x) - y) ** 2) + self.penalty(params)


def softplus(x):
    return np.logaddexp(0.0, x)


def build_model():
    return Model([Dense(3, 5, activation=softplus), Dense(5, 4), Tanh(), Dense(4, 2)], weight_decay=0.01)


def make_data(n=6, rs=np.random.RandomState(1)):
    x = rs.randn(n, 3)
    y = np.stack([np.sin(x[:, 0]), x[:, 1] * x[:, 2]], axis=1)
    return x, y
