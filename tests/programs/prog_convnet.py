"""A small convolutional network written with np.einsum: convolution over shifted slices (and over
explicit patches), max pooling and mean pooling by reshape, a dense layer and log-softmax."""
import numpy as np


def conv2d(x, w, b):
    """'valid' cross-correlation. x: (N, C, H, W), w: (F, C, kh, kw), b: (F,)."""
    N, C, H, W = x.shape
    F, _, kh, kw = w.shape
    out_h, out_w = H - kh + 1, W - kw + 1
    out = np.zeros((N, F, out_h, out_w))
    for i in range(kh):
        for j in range(kw):
            out = out + np.einsum('nchw,fc->nfhw', x[:, :, i:i + out_h, j:j + out_w], w[:, :, i, j])
    return out + b[None, :, None, None]


def conv2d_patches(x, w, b):
    """The same convolution from an explicit patch tensor (N, C, kh, kw, out_h, out_w)."""
    N, C, H, W = x.shape
    F, _, kh, kw = w.shape
    out_h, out_w = H - kh + 1, W - kw + 1
    patches = np.stack([np.stack([x[:, :, i:i + out_h, j:j + out_w] for j in range(kw)], axis=2)
                        for i in range(kh)], axis=2)
    return np.einsum('ncijhw,fcij->nfhw', patches, w) + b.reshape(1, F, 1, 1)


def maxpool(x, p=2):
    N, C, H, W = x.shape
    return x.reshape(N, C, H // p, p, W // p, p).max(axis=(3, 5))


def meanpool(x, p=2):
    N, C, H, W = x.shape
    return np.mean(x.reshape(N, C, H // p, p, W // p, p), axis=(3, 5))


def relu(x):
    return np.maximum(x, 0.0)


def logsoftmax(x):
    m = np.max(x, axis=1, keepdims=True)
    return x - m - np.log(np.sum(np.exp(x - m), axis=1, keepdims=True))


def predict(params, images):
    h = relu(conv2d(images, params['conv_w'], params['conv_b']))
    h = maxpool(h)
    h = h.reshape(h.shape[0], -1)
    logits = h @ params['dense_w'] + params['dense_b']
    return logsoftmax(logits)


def predict_patches(params, images):
    h = np.tanh(conv2d_patches(images, params['conv_w'], params['conv_b']))
    h = meanpool(h)
    h = h.reshape(h.shape[0], -1)
    return logsoftmax(np.einsum('nd,dk->nk', h, params['dense_w']) + params['dense_b'])


def loss(params, images, labels):
    return -np.mean(np.sum(predict(params, images) * labels, axis=1))


def loss_patches(params, images, labels):
    return -np.mean(np.sum(predict_patches(params, images) * labels, axis=1))


def init_params(C=1, F=2, k=3, H=6, W=6, num_classes=3, rs=np.random.RandomState(0)):
    pooled = F * ((H - k + 1) // 2) * ((W - k + 1) // 2)
    return {'conv_w': 0.5 * rs.randn(F, C, k, k), 'conv_b': 0.1 * rs.randn(F),
            'dense_w': 0.5 * rs.randn(pooled, num_classes), 'dense_b': 0.1 * rs.randn(num_classes)}


def make_data(N=3, C=1, H=6, W=6, num_classes=3, rs=np.random.RandomState(1)):
    images = rs.randn(N, C, H, W)
    labels = np.eye(num_classes)[rs.randint(num_classes, size=N)]
    return images, labels
