"""The einsum convnet of prog_convnet."""
import numpy as np
import pytest

import prog_convnet as cnn
import s2s
from program_checks import check_grad, check_jit, check_value_and_grad, check_vmap, fd_grad

params = cnn.init_params()
images, labels = cnn.make_data()


def test_two_convolutions_agree():
    np.testing.assert_allclose(cnn.conv2d(images, params['conv_w'], params['conv_b']),
                               cnn.conv2d_patches(images, params['conv_w'], params['conv_b']), rtol=1e-12)


def test_grad_of_loss_on_every_key():
    check_grad(cnn.loss, params, images, labels)


def test_value_and_grad_of_loss():
    check_value_and_grad(cnn.loss, params, images, labels)


def test_grad_of_patch_convnet_with_mean_pooling():
    check_grad(cnn.loss_patches, params, images, labels)


def test_grad_wrt_images():
    check_grad(cnn.loss, params, images, labels, argnums=1)


def test_vmap_of_per_image_loss():
    def image_loss(p, image, label):
        return cnn.loss(p, image[None], label[None])

    check_vmap(image_loss, params, images, labels, in_axes=(None, 0, 0))


@pytest.mark.slow      # Numba compiles for several seconds on a cold cache
def test_jit_of_loss():
    check_jit(cnn.loss, params, images, labels)


@pytest.mark.slow      # Numba compiles for several seconds on a cold cache
def test_jit_of_grad():
    check_jit(s2s.grad(cnn.loss), params, images, labels, expected=fd_grad(cnn.loss, (params, images, labels)),
              rtol=1e-6, atol=1e-8)
