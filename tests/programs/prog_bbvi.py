"""Black-box variational inference in the style of autograd's black_box_svi.py: a mean-field
Gaussian, the reparameterization trick with noise passed in (so the objective is deterministic),
and an ELBO with the log density of a simple 2-D target. The objective is built by a factory
that returns a closure."""
import numpy as np


def norm_logpdf(x, loc, scale):
    return -0.5 * ((x - loc) / scale) ** 2 - np.log(scale) - 0.5 * np.log(2 * np.pi)


def log_density(x):
    """Neal's funnel-like 2-D target, evaluated on rows of x."""
    mu, log_sigma = x[:, 0], x[:, 1]
    sigma_density = norm_logpdf(log_sigma, 0, 1.35)
    mu_density = norm_logpdf(mu, 0, np.exp(log_sigma))
    return sigma_density + mu_density


def black_box_variational_inference(logprob, D):
    """Implements http://arxiv.org/abs/1401.0118, and uses the
    local reparameterization trick from http://arxiv.org/abs/1506.02557"""

    def unpack_params(params):
        # Variational dist is a diagonal Gaussian.
        mean, log_std = params[:D], params[D:]
        return mean, log_std

    def gaussian_entropy(log_std):
        return 0.5 * D * (1.0 + np.log(2 * np.pi)) + np.sum(log_std)

    def variational_objective(params, noise):
        """Provides a stochastic estimate of the variational lower bound."""
        mean, log_std = unpack_params(params)
        samples = noise * np.exp(log_std) + mean
        lower_bound = gaussian_entropy(log_std) + np.mean(logprob(samples))
        return -lower_bound

    return variational_objective, unpack_params


objective, unpack_params = black_box_variational_inference(log_density, 2)


def elbo(mean, log_std, noise):
    """The same bound with the variational parameters as two arguments."""
    samples = mean + np.exp(log_std) * noise
    entropy = np.sum(log_std) + 0.5 * mean.shape[0] * (1.0 + np.log(2 * np.pi))
    return np.mean(log_density(samples)) + entropy
