"""musicnn's network as a PyTorch module: the port of ``MSD_musicnn`` (see ``musicnn.py`` for the front end).

Kept apart so the answer path, which runs the ONNX export of the same weights, never imports torch.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

TF_BATCH_NORM_EPSILON = 1e-3  # tf.compat.v1.layers.batch_normalization's default


def _tf_same_pad(kernel: int) -> tuple[int, int]:
    """TensorFlow 'same' padding for stride 1: the extra row goes after."""
    before = (kernel - 1) // 2
    return before, kernel - 1 - before


class MusiCNN(nn.Module):
    """musicnn: musically motivated front end, dense mid end, temporal pooling back end.

    Input (batch, time, n_mels) log-mel patches; ``forward`` returns the tag logits (batch, n_tags),
    ``features`` also the penultimate layer (batch, backend_units) and the pooled mid-end features.
    """

    def __init__(self, n_mels: int = 96, n_tags: int = 50, midend_filters: int = 64, backend_units: int = 200,
                 frontend_scale: float = 1.6) -> None:
        super().__init__()
        timbral, temporal = int(frontend_scale * 128), int(frontend_scale * 32)
        eps = TF_BATCH_NORM_EPSILON
        self.input_bn = nn.BatchNorm2d(1, eps=eps)
        # timbral filters span 40 % and 70 % of the mel bands, 7 frames; temporal ones 1 band, 128/64/32 frames
        self.timbral_widths = (int(0.4 * n_mels), int(0.7 * n_mels))
        self.timbral = nn.ModuleList(nn.Conv2d(1, timbral, (7, w)) for w in self.timbral_widths)
        self.timbral_bn = nn.ModuleList(nn.BatchNorm2d(timbral, eps=eps) for _ in self.timbral_widths)
        self.temporal_lengths = (128, 64, 32)
        self.temporal = nn.ModuleList(nn.Conv2d(1, temporal, (k, 1)) for k in self.temporal_lengths)
        self.temporal_bn = nn.ModuleList(nn.BatchNorm2d(temporal, eps=eps) for _ in self.temporal_lengths)
        frontend_channels = 2 * timbral + 3 * temporal
        self.midend = nn.ModuleList([nn.Conv1d(frontend_channels, midend_filters, 7, padding=3),
                                     nn.Conv1d(midend_filters, midend_filters, 7, padding=3),
                                     nn.Conv1d(midend_filters, midend_filters, 7, padding=3)])
        self.midend_bn = nn.ModuleList(nn.BatchNorm1d(midend_filters, eps=eps) for _ in range(3))
        pooled = frontend_channels + 3 * midend_filters
        self.pool_bn = nn.BatchNorm1d(2 * pooled, eps=eps)
        self.dense = nn.Linear(2 * pooled, backend_units)
        self.dense_bn = nn.BatchNorm1d(backend_units, eps=eps)
        self.tags = nn.Linear(backend_units, n_tags)

    def front_end_inputs(self, patches: torch.Tensor) -> list[torch.Tensor]:
        """(batch, time, n_mels) -> the input of each front-end conv, normalised and padded in time:
        timbral ones (B, 1, T + 6, F), then temporal ones (B, 1, T + k - 1, F)."""
        x = self.input_bn(patches.unsqueeze(1))  # (B, 1, T, F)
        padded = F.pad(x, (0, 0, 3, 3))  # time only: the max over all bands follows
        return [padded] * len(self.timbral) + [F.pad(x, (0, 0, *_tf_same_pad(k))) for k in self.temporal_lengths]

    def front_end(self, patches: torch.Tensor) -> torch.Tensor:
        """(batch, time, n_mels) -> (batch, 561, time): each conv's batch-normalised ReLU, max over the bands."""
        convs, bns = [*self.timbral, *self.temporal], [*self.timbral_bn, *self.temporal_bn]
        return torch.cat([bn(F.relu(conv(x))).amax(dim=3)  # (B, C, T)
                          for conv, bn, x in zip(convs, bns, self.front_end_inputs(patches))], dim=1)

    def features(self, patches: torch.Tensor) -> dict[str, torch.Tensor]:
        """(batch, time, n_mels) -> logits (batch, n_tags), penultimate (batch, units), mean/max pool."""
        return self.features_of_front_end(self.front_end(patches))

    def features_of_front_end(self, frontend: torch.Tensor) -> dict[str, torch.Tensor]:
        """(batch, 561, time) front-end output -> logits, penultimate, mean/max pool (see :meth:`features`)."""
        c1 = self.midend_bn[0](F.relu(self.midend[0](frontend)))
        c2 = self.midend_bn[1](F.relu(self.midend[1](c1))) + c1
        c3 = self.midend_bn[2](F.relu(self.midend[2](c2))) + c2
        midend = torch.cat([frontend, c1, c2, c3], dim=1)  # (B, 753, T)
        max_pool, mean_pool = midend.amax(dim=2), midend.mean(dim=2)
        # TensorFlow concatenated (B, 753, 1) max and mean on the last axis, then flattened: interleaved
        pooled = torch.stack([max_pool, mean_pool], dim=2).flatten(1)
        penultimate = self.dense_bn(F.relu(self.dense(self.pool_bn(pooled))))
        return {"logits": self.tags(penultimate), "penultimate": penultimate,
                "mean_pool": mean_pool, "max_pool": max_pool}

    def forward(self, patches: torch.Tensor) -> torch.Tensor:
        return self.features(patches)["logits"]


def build_musicnn(architecture: dict) -> MusiCNN:
    return MusiCNN(**architecture)


class MaxFirstMusiCNN(nn.Module):
    """The same function as ``network`` with each front-end batch norm moved after the max over the bands.

    A batch norm is ``a * v + b`` per channel; a monotone map commutes with a max, so for a >= 0
    ``max_f(a * relu(x) + b) = a * relu(max_f x) + b`` and for a < 0 the max becomes a min,
    ``min_f x = -max_f(-x)``: the conv of such a channel is negated (weights and bias, exactly) and its
    max negated back. The batch norm and ReLU then run on (B, C, T) instead of (B, C, T, F): 30-96 times
    fewer values. Used to export the served ONNX graph (``scripts/optimize_musicnn_onnx.py``).

    With ``dead_below``, a front-end filter whose largest |weight| is below that fraction of its layer's
    largest is treated as all zeros: its channel is the constant ``bn(relu(bias))`` and its conv is not run.
    The stored musicnn has 497 such filters of its 561 (largest |weight| 2e-7, decayed in training, against
    9e-4 and more for the others): its front end moves by ~1e-9 and its timbral convs run 23 and 14
    filters instead of 204 each.
    """

    def __init__(self, network: MusiCNN, n_mels: int = 96, channel_block: int = 8,
                 dead_below: float | None = None) -> None:
        super().__init__()
        self.network = network
        self.convs = nn.ModuleList()
        self.live: list[torch.Tensor] = []  # per conv: indices of the filters that run
        self.bands = []  # per conv: its output bands
        self.bns: list[_BatchNormSubset] = []  # per conv: its batch norm on the channels that run
        self.signs: list[torch.Tensor] = []
        kept, constants, first = [], [], 0
        for conv, bn in zip([*network.timbral, *network.temporal], [*network.timbral_bn, *network.temporal_bn]):
            weight, bias = conv.weight.detach(), conv.bias.detach()
            strength = weight.abs().flatten(1).amax(dim=1)
            live = (strength >= dead_below * strength.max()) if dead_below else torch.ones_like(strength, dtype=bool)
            sign = torch.where(bn.weight.detach() < 0, -1.0, 1.0)  # the sign of a = weight / sqrt(var + eps)
            # zero filters up to a multiple of the channel block: ONNX Runtime's blocked (NCHWc) conv pads to it
            # anyway, and the max pool stays in that layout only when no channel is left over
            n_live = int(live.sum())
            padded = -(-n_live // channel_block) * channel_block
            flipped = nn.Conv2d(conv.in_channels, padded, conv.kernel_size)
            flipped.weight.data = F.pad(weight[live] * sign[live, None, None, None],
                                        (0, 0, 0, 0, 0, 0, 0, padded - n_live))
            flipped.bias.data = F.pad(bias[live] * sign[live], (0, padded - n_live))
            self.convs.append(flipped)
            self.live.append(torch.nonzero(live).flatten())
            self.bands.append(n_mels - conv.kernel_size[1] + 1)
            kept.append(torch.nonzero(live).flatten() + first)
            dead_bn = _BatchNormSubset(bn, ~live)
            constants.append((torch.nonzero(~live).flatten() + first, dead_bn(F.relu(bias[~live])[None])[0]))
            self.bns.append(_BatchNormSubset(bn, live))
            self.signs.append(sign[live, None])  # (live C, 1)
            first += conv.out_channels
        dead = torch.cat([index for index, _ in constants])
        self.dead_values = torch.cat([value for _, value in constants])  # (n_dead,)
        # the front end's channel order from [live channels of each conv..., dead channels...]
        self.order = torch.argsort(torch.cat([*kept, dead]))

    def front_end(self, patches: torch.Tensor) -> torch.Tensor:
        """(batch, time, n_mels) -> (batch, 561, time), as :meth:`MusiCNN.front_end`."""
        out = []
        inputs = self.network.front_end_inputs(patches)
        for conv, bn, sign, bands, x in zip(self.convs, self.bns, self.signs, self.bands, inputs):
            # a max pool over all bands (not amax): ONNX Runtime keeps MaxPool in its blocked layout
            pooled = F.max_pool2d(conv(x), (1, bands))[:, :len(sign)].squeeze(3)
            extreme = pooled * sign  # (B, C, T): the max over the bands where a >= 0, the min where a < 0
            out.append(bn(F.relu(extreme)))
        if len(self.dead_values):
            batch, _, time = out[0].shape
            out.append(self.dead_values[None, :, None].expand(batch, -1, time))
        return torch.cat(out, dim=1)[:, self.order]

    def features(self, patches: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.network.features_of_front_end(self.front_end(patches))

    def forward(self, patches: torch.Tensor) -> torch.Tensor:
        return self.features(patches)["logits"]


class _BatchNormSubset:
    """A batch norm at inference restricted to some of its channels (a mask): (B, C', ...) -> (B, C', ...)."""

    def __init__(self, bn: nn.BatchNorm2d, channels: torch.Tensor) -> None:
        self.stats = [t.detach()[channels] for t in (bn.running_mean, bn.running_var, bn.weight, bn.bias)]
        self.eps = bn.eps

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if not len(self.stats[0]):
            return x
        mean, var, weight, bias = self.stats
        return F.batch_norm(x, mean, var, weight, bias, training=False, eps=self.eps)


class MusicVGG(nn.Module):
    """musicnn's ``vgg`` baseline (``MSD_vgg`` in the wheel): five 3x3 conv blocks on the log-mel patch.

    Input (batch, time, n_mels) log-mel patches of 187 frames; ``features`` returns the tag logits
    (batch, n_tags) and ``pool5`` (batch, 256), the flattened last pooling (2 time x 1 band x 128 filters).
    Each block is conv -> ReLU -> batch norm -> max pool (TensorFlow 'valid' pooling), as in musicnn.models.vgg.
    """

    POOLS = (((4, 1), (2, 2)), ((2, 2), (2, 2)), ((2, 2), (2, 2)), ((2, 2), (2, 2)), ((4, 4), (4, 4)))

    def __init__(self, n_mels: int = 96, n_tags: int = 50, filters: int = 128, patch_frames: int = 187) -> None:
        super().__init__()
        eps = TF_BATCH_NORM_EPSILON
        self.input_bn = nn.BatchNorm2d(1, eps=eps)
        self.convs = nn.ModuleList(nn.Conv2d(1 if i == 0 else filters, filters, 3, padding=1) for i in range(5))
        self.bns = nn.ModuleList(nn.BatchNorm2d(filters, eps=eps) for _ in range(5))
        time, bands = patch_frames, n_mels
        for (kernel, stride) in self.POOLS:
            time, bands = (time - kernel[0]) // stride[0] + 1, (bands - kernel[1]) // stride[1] + 1
        self.tags = nn.Linear(time * bands * filters, n_tags)

    def features(self, patches: torch.Tensor) -> dict[str, torch.Tensor]:
        """(batch, time, n_mels) -> logits (batch, n_tags), pool5 (batch, time' x bands' x filters)."""
        x = self.input_bn(patches.unsqueeze(1))  # (B, 1, T, F)
        for conv, bn, (kernel, stride) in zip(self.convs, self.bns, self.POOLS):
            x = F.max_pool2d(bn(F.relu(conv(x))), kernel, stride)
        pool5 = x.permute(0, 2, 3, 1).flatten(1)  # TensorFlow flattens NHWC: time, band, filter
        return {"logits": self.tags(pool5), "pool5": pool5}

    def forward(self, patches: torch.Tensor) -> torch.Tensor:
        return self.features(patches)["logits"]
