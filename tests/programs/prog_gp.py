"""Gaussian process regression in the style of autograd's gaussian_process.py: an RBF kernel by
broadcasting, the negative log marginal likelihood through a Cholesky factor, and its gradient with
respect to the log hyperparameters."""
import numpy as np


def rbf_covariance(kernel_params, x, xp):
    output_scale = np.exp(kernel_params[0])
    lengthscales = np.exp(kernel_params[1:])
    diffs = np.expand_dims(x / lengthscales, 1) - np.expand_dims(xp / lengthscales, 0)
    return output_scale * np.exp(-0.5 * np.sum(diffs ** 2, axis=2))


def unpack_kernel_params(params):
    mean = params[0]
    noise_scale = np.exp(params[1]) + 0.0001
    cov_params = params[2:]
    return mean, cov_params, noise_scale


def log_marginal_likelihood(params, x, y):
    mean, cov_params, noise_scale = unpack_kernel_params(params)
    cov_y_y = rbf_covariance(cov_params, x, x) + noise_scale * np.eye(len(y))
    L = np.linalg.cholesky(cov_y_y)
    alpha = np.linalg.solve(L.T, np.linalg.solve(L, y - mean))
    log_det = 2.0 * np.sum(np.log(np.diag(L)))
    return -0.5 * np.dot(y - mean, alpha) - 0.5 * log_det - 0.5 * len(y) * np.log(2 * np.pi)


def nll(params, x, y):
    return -log_marginal_likelihood(params, x, y)


def nll_slogdet(params, x, y):
    """The same objective written with a direct solve and slogdet."""
    mean, cov_params, noise_scale = unpack_kernel_params(params)
    K = rbf_covariance(cov_params, x, x) + noise_scale * np.eye(x.shape[0])
    r = y - mean
    sign, logdet = np.linalg.slogdet(K)
    return 0.5 * r @ np.linalg.solve(K, r) + 0.5 * logdet + 0.5 * x.shape[0] * np.log(2 * np.pi)


def nll_det(params, x, y):
    """The same objective with np.linalg.det (fine for a handful of points)."""
    mean, cov_params, noise_scale = unpack_kernel_params(params)
    K = rbf_covariance(cov_params, x, x) + noise_scale * np.eye(x.shape[0])
    r = y - mean
    return 0.5 * np.dot(r, np.linalg.solve(K, r)) + 0.5 * np.log(np.linalg.det(K)) + 0.5 * len(y) * np.log(2 * np.pi)


def predict(params, x, y, xstar):
    """Returns the predictive mean and covariance at locations xstar."""
    mean, cov_params, noise_scale = unpack_kernel_params(params)
    cov_f_f = rbf_covariance(cov_params, xstar, xstar)
    cov_y_f = rbf_covariance(cov_params, x, xstar)
    cov_y_y = rbf_covariance(cov_params, x, x) + noise_scale * np.eye(len(y))
    pred_mean = mean + np.dot(np.linalg.solve(cov_y_y, cov_y_f).T, y - mean)
    pred_cov = cov_f_f - np.dot(np.linalg.solve(cov_y_y, cov_y_f).T, cov_y_f)
    return pred_mean, pred_cov


def predictive_loss(params, x, y, xstar, ystar):
    pred_mean, pred_cov = predict(params, x, y, xstar)
    return np.sum((pred_mean - ystar) ** 2) + np.trace(pred_cov)


def build_toy_dataset(D=1, n_data=8, noise_std=0.1, rs=np.random.RandomState(0)):
    inputs = np.concatenate([np.linspace(0, 3, num=n_data // 2),
                             np.linspace(6, 8, num=n_data - n_data // 2)])
    targets = (np.cos(inputs) + rs.randn(n_data) * noise_std) / 2.0
    inputs = (inputs - 4.0) / 2.0
    inputs = inputs.reshape((len(inputs), D))
    return inputs, targets
