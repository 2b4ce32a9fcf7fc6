"""A neural ODE: a tiny MLP gives the dynamics, a fixed-step RK4 loop integrates them, the loss
is on the final state (in the spirit of autograd's ode_net.py, without an adaptive solver)."""
import numpy as np


def init_nn_params(scale, layer_sizes, rs=np.random.RandomState(0)):
    return [(rs.randn(insize, outsize) * scale, rs.randn(outsize) * scale)
            for insize, outsize in zip(layer_sizes[:-1], layer_sizes[1:])]


def nn_predict(params, inputs, nonlinearity=np.tanh):
    for W, b in params:
        outputs = np.dot(inputs, W) + b
        inputs = nonlinearity(outputs)
    return outputs


def nn_dynamics(state, time, params):
    state_and_time = np.hstack([state, np.array([time])])
    return nn_predict(params, state_and_time)


def rk4_step(func, y, t, dt, params):
    k1 = func(y, t, params)
    k2 = func(y + dt * k1 / 2.0, t + dt / 2.0, params)
    k3 = func(y + dt * k2 / 2.0, t + dt / 2.0, params)
    k4 = func(y + dt * k3, t + dt, params)
    return y + dt * (k1 + 2.0 * k2 + 2.0 * k3 + k4) / 6.0


def odeint_rk4(func, y0, t0, t1, params, num_steps=8):
    dt = (t1 - t0) / num_steps
    y = y0
    t = t0
    for i in range(num_steps):
        y = rk4_step(func, y, t, dt, params)
        t = t + dt
    return y


def final_state_loss(params, y0, target):
    y1 = odeint_rk4(nn_dynamics, y0, 0.0, 1.0, params)
    return np.sum((y1 - target) ** 2)


def tanh_dynamics(state, time, params):
    """nn_dynamics with np.tanh written in (no function-valued parameter)."""
    inputs = np.hstack([state, np.array([time])])
    for W, b in params:
        outputs = np.dot(inputs, W) + b
        inputs = np.tanh(outputs)
    return outputs


def rk4_step_nn(y, t, dt, params):
    """rk4_step with the dynamics named directly instead of passed in."""
    k1 = tanh_dynamics(y, t, params)
    k2 = tanh_dynamics(y + dt * k1 / 2.0, t + dt / 2.0, params)
    k3 = tanh_dynamics(y + dt * k2 / 2.0, t + dt / 2.0, params)
    k4 = tanh_dynamics(y + dt * k3, t + dt, params)
    return y + dt * (k1 + 2.0 * k2 + 2.0 * k3 + k4) / 6.0


def final_state_loss_direct(params, y0, target, num_steps=8):
    dt = 1.0 / num_steps
    y = y0
    for i in range(num_steps):
        y = rk4_step_nn(y, i * dt, dt, params)
    return np.sum((y - target) ** 2)


def trajectory_loss(params, y0, targets):
    """Collects the states at every step in a list and compares them all."""
    dt = 1.0 / len(targets)
    y = y0
    states = []
    for i in range(len(targets)):
        y = rk4_step(nn_dynamics, y, i * dt, dt, params)
        states.append(y)
    return np.mean((np.stack(states) - targets) ** 2)


def linear_dynamics(y, t, A):
    return A @ y


def linear_final_loss(A, y0):
    return np.sum(odeint_rk4(linear_dynamics, y0, 0.0, 1.0, A) ** 2)
