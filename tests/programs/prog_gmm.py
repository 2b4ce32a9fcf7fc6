"""A diagonal Gaussian mixture model, in the style of autograd's gmm.py: log proportions, means
and log standard deviations in a dict; a logsumexp over components; a zip loop over components."""
import numpy as np


def init_gmm_params(num_components, D, scale, rs=np.random.RandomState(0)):
    return {'log proportions': rs.randn(num_components) * scale,
            'means': rs.randn(num_components, D) * scale,
            'log stds': rs.randn(num_components, D) * scale}


def logsumexp(x, axis=0):
    m = np.max(x, axis=axis, keepdims=True)
    return np.squeeze(m, axis=axis) + np.log(np.sum(np.exp(x - m), axis=axis))


def log_normalize(x):
    return x - logsumexp(x)


def diag_gaussian_logpdf(x, mean, log_std):
    """Log density of each row of x under N(mean, diag(exp(log_std))**2)."""
    z = (x - mean) / np.exp(log_std)
    return np.sum(-0.5 * z ** 2 - log_std - 0.5 * np.log(2 * np.pi), axis=-1)


def gmm_log_likelihood(params, data):
    cluster_lls = []
    for log_proportion, mean, log_std in zip(log_normalize(params['log proportions']),
                                              params['means'], params['log stds']):
        cluster_lls.append(log_proportion + diag_gaussian_logpdf(data, mean, log_std))
    return np.sum(logsumexp(np.vstack(cluster_lls), axis=0))


def objective(params, data):
    return -gmm_log_likelihood(params, data) / data.shape[0]


def flat_objective(theta, data, num_components, D):
    """The objective of a flat parameter vector (for Hessians)."""
    K = num_components
    params = {'log proportions': theta[:K],
              'means': theta[K:K + K * D].reshape(K, D),
              'log stds': theta[K + K * D:].reshape(K, D)}
    return objective(params, data)


def make_data(num_points=12, D=2, rs=np.random.RandomState(1)):
    centers = np.array([[1.5, 0.0], [-1.0, 1.0]])
    labels = rs.randint(2, size=num_points)
    return centers[labels, :D] + 0.5 * rs.randn(num_points, D)
