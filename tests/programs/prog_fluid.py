"""A tiny fluid simulation in the style of autograd's fluidsim.py: periodic grids, np.roll stencils,
advection-diffusion of smoke and a Gauss-Seidel-like pressure projection, for a few steps; the loss
is the distance of the final smoke to a target image. All updates build new arrays."""
import numpy as np

rows, cols = 6, 6
_rs = np.random.RandomState(0)
init_smoke = np.exp(-((np.arange(rows)[:, None] - 2.0) ** 2 + (np.arange(cols)[None, :] - 3.0) ** 2) / 2.0)
target = _rs.rand(rows, cols)


def laplacian(f):
    return (np.roll(f, 1, axis=0) + np.roll(f, -1, axis=0)
            + np.roll(f, 1, axis=1) + np.roll(f, -1, axis=1) - 4.0 * f)


def advect_roll(f, vx, vy):
    """-(v . grad f) with central differences on the periodic grid."""
    dfdx = 0.5 * (np.roll(f, -1, axis=0) - np.roll(f, 1, axis=0))
    dfdy = 0.5 * (np.roll(f, -1, axis=1) - np.roll(f, 1, axis=1))
    return -(vx * dfdx + vy * dfdy)


def project(vx, vy, num_iters=5):
    """Project the velocity field to be approximately mass-conserving."""
    p = np.zeros(vx.shape)
    h = 1.0 / vx.shape[0]
    div = -0.5 * h * (np.roll(vx, -1, axis=0) - np.roll(vx, 1, axis=0)
                      + np.roll(vy, -1, axis=1) - np.roll(vy, 1, axis=1))
    for k in range(num_iters):
        p = (div + np.roll(p, 1, axis=0) + np.roll(p, -1, axis=0)
             + np.roll(p, 1, axis=1) + np.roll(p, -1, axis=1)) / 4.0
    vx = vx - 0.5 * (np.roll(p, -1, axis=0) - np.roll(p, 1, axis=0)) / h
    vy = vy - 0.5 * (np.roll(p, -1, axis=1) - np.roll(p, 1, axis=1)) / h
    return vx, vy


def simulate(vx, vy, smoke, num_time_steps, dt=0.1, nu=0.05):
    for t in range(num_time_steps):
        vx_updated = vx + dt * (advect_roll(vx, vx, vy) + nu * laplacian(vx))
        vy_updated = vy + dt * (advect_roll(vy, vx, vy) + nu * laplacian(vy))
        vx, vy = project(vx_updated, vy_updated)
        smoke = smoke + dt * (advect_roll(smoke, vx, vy) + nu * laplacian(smoke))
    return smoke


def distance_from_target_image(smoke):
    return np.mean((target - smoke) ** 2)


def convert_param_vector_to_matrices(params):
    vx = np.reshape(params[:(rows * cols)], (rows, cols))
    vy = np.reshape(params[(rows * cols):], (rows, cols))
    return vx, vy


def objective(params, num_time_steps=3):
    init_vx, init_vy = convert_param_vector_to_matrices(params)
    final_smoke = simulate(init_vx, init_vy, init_smoke, num_time_steps)
    return distance_from_target_image(final_smoke)


def shift(f, k, axis):
    """np.roll(f, k, axis) for k = +1 or -1 on a 2-D array, by slicing and concatenation."""
    if axis == 0:
        return np.concatenate([f[-k:], f[:-k]], axis=0)
    return np.concatenate([f[:, -k:], f[:, :-k]], axis=1)


def diffuse_sliced(smoke, num_time_steps=3, dt=0.1, nu=0.2):
    for t in range(num_time_steps):
        lap = shift(smoke, 1, 0) + shift(smoke, -1, 0) + shift(smoke, 1, 1) + shift(smoke, -1, 1) - 4.0 * smoke
        smoke = smoke + dt * nu * lap
    return smoke


def diffusion_objective(smoke):
    return distance_from_target_image(diffuse_sliced(smoke))


def advect_semi_lagrangian(f, vx, vy):
    """Move field f by the velocities with a semi-Lagrangian step and bilinear interpolation
    (autograd's advect): floor, integer indices, fancy indexing."""
    rows, cols = f.shape
    cell_ys, cell_xs = np.meshgrid(np.arange(rows), np.arange(cols))
    center_xs = (cell_xs - vx).ravel()
    center_ys = (cell_ys - vy).ravel()
    left_ix = np.floor(center_xs).astype(int)
    top_ix = np.floor(center_ys).astype(int)
    rw = center_xs - left_ix
    bw = center_ys - top_ix
    left_ix = np.mod(left_ix, rows)
    right_ix = np.mod(left_ix + 1, rows)
    top_ix = np.mod(top_ix, cols)
    bot_ix = np.mod(top_ix + 1, cols)
    flat_f = (1 - rw) * ((1 - bw) * f[left_ix, top_ix] + bw * f[left_ix, bot_ix]) \
        + rw * ((1 - bw) * f[right_ix, top_ix] + bw * f[right_ix, bot_ix])
    return np.reshape(flat_f, (rows, cols))


def objective_semi_lagrangian(params, num_time_steps=2):
    vx, vy = convert_param_vector_to_matrices(params)
    smoke = init_smoke
    for t in range(num_time_steps):
        vx_updated = advect_semi_lagrangian(vx, vx, vy)
        vy_updated = advect_semi_lagrangian(vy, vx, vy)
        vx, vy = project(vx_updated, vy_updated)
        smoke = advect_semi_lagrangian(smoke, vx, vy)
    return distance_from_target_image(smoke)
