#!/usr/bin/env python3
"""Golden fixtures for attn's vision transformer (patch embedding + class token), computed by PyTorch.

What it produces: attn-runtime/tests/fixtures/transformer/vit_patch_cls.safetensors, read by
attn-runtime/tests/golden_vit.rs. The model is a tiny ViT built the way torchvision and timm build
one, and the one attn's `PatchModel` runs for

    arch: Transformer, task: ImageClassify { channels: 1, height: 4, width: 4, classes: 3 },
    patch: 2, d_model: 8, heads: 2, layers: 1, ff: 16, activation: Gelu, norm: Pre, pooling: Cls

i.e. for images x [B, CH, IH, IW]:

    t = patch_embed(x).flatten(2).transpose(1, 2)          Conv2d(CH, M, P, stride=P) → [B, NP, M]
    t = cat([cls_token.expand(B, -1, -1), t], dim=1)        [B, NP + 1, M], the class token first
    t = t + pos_embed                                       learned positions [1, NP + 1, M]
    t = encoder(t)                                          nn.TransformerEncoder of pre-norm
                                                            nn.TransformerEncoderLayer(gelu) blocks
                                                            with a final nn.LayerNorm
    logits = head(t[:, 0])                                  nn.Linear(M, C) on the class token
    loss = F.cross_entropy(logits, labels)                  mean over the batch

attn's patch embedding is a Linear over flattened patches: the image reshaped to
(B, CH, IH/P, P, IW/P, P), permuted to (B, IH/P, IW/P, CH, P, P) and flattened to
[B, NP, PD = CH·P·P], times W [M, PD] plus b. The script asserts that this equals the Conv2d (its
weight [M, CH, P, P] reshaped to [M, CH·P·P], which is the (CH, P, P) order of the flattening),
for the embedding alone and for the whole model's logits and gradients.

The file holds `input.images`, `labels` (as floats), `expected.logits`, `loss`, `grad.images`,
`param.<name>` and `grad.<name>` for every parameter under PyTorch's names (`patch_embed.weight`
[M, CH, P, P], `patch_embed.bias`, `cls_token` [1, 1, M], `pos_embed` [1, NP + 1, M],
`encoder.layers.0.self_attn.in_proj_weight`, ..., `encoder.norm.*`, `head.*`), the conv weight
and its gradient also in attn's Linear layout (`param.patch_embed.weight_as_linear`,
`grad.patch_embed.weight_as_linear`, [M, CH·P·P]), and a `config` JSON in the metadata.
Parameters and inputs are float32 from a fixed seed; the computation runs in float64 on those
values; results are stored as float32.

Run (CPU PyTorch; safetensors is used when installed, else a minimal writer of the same format):

    /tmp/venv-torch/bin/python tools/gen_vit_fixtures.py
"""
import json
import os

import torch
import torch.nn.functional as F

from fixture_io import write_safetensors

OUT = os.path.join(os.path.dirname(__file__), "..", "attn-runtime", "tests", "fixtures", "transformer")
CH, IH, IW, P = 1, 4, 4, 2
NP, PD = (IH // P) * (IW // P), CH * P * P
M, H, FF, LAYERS, C = 8, 2, 16, 1, 3
LABELS = [2, 0]


class TinyViT(torch.nn.Module):
    """A ViT as torchvision / timm build one: conv patch embedding, class token, learned positions,
    pre-norm encoder blocks with a final LayerNorm, a linear head on the class token."""

    def __init__(self):
        super().__init__()
        self.patch_embed = torch.nn.Conv2d(CH, M, P, stride=P)
        self.cls_token = torch.nn.Parameter(torch.zeros(1, 1, M))
        self.pos_embed = torch.nn.Parameter(torch.zeros(1, NP + 1, M))
        layer = torch.nn.TransformerEncoderLayer(M, H, FF, dropout=0.0, activation="gelu",
                                                 batch_first=True, norm_first=True)
        self.encoder = torch.nn.TransformerEncoder(layer, LAYERS, norm=torch.nn.LayerNorm(M, eps=1e-5),
                                                   enable_nested_tensor=False)
        self.head = torch.nn.Linear(M, C)

    def embed_conv(self, x):
        return self.patch_embed(x).flatten(2).transpose(1, 2)  # [B, NP, M], patches row-major

    def embed_linear(self, x):
        """attn's formulation: reshape, permute, flatten, Linear with the reshaped conv weight."""
        return F.linear(patches(x), self.patch_embed.weight.reshape(M, PD), self.patch_embed.bias)

    def forward(self, x, linear=False):
        t = self.embed_linear(x) if linear else self.embed_conv(x)
        t = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), t], dim=1)
        t = t + self.pos_embed
        t = self.encoder(t)
        return self.head(t[:, 0])


def patches(x):
    """[B, CH, IH, IW] → [B, NP, CH·P·P] in attn's order: (B, IH/P, IW/P, CH, P, P) flattened."""
    b = x.shape[0]
    return (x.reshape(b, CH, IH // P, P, IW // P, P)
            .permute(0, 2, 4, 1, 3, 5)
            .reshape(b, NP, PD))


def randomise(module, g):
    with torch.no_grad():
        for _, p in module.named_parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.4)


def run(model, images, labels, linear):
    """Logits, loss and the gradients of the images and of every parameter."""
    model.zero_grad()
    x = images.clone().requires_grad_()
    logits = model(x, linear=linear)
    loss = F.cross_entropy(logits, labels)
    loss.backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters()}
    return logits.detach(), loss.detach(), x.grad, grads


def self_check(model, images, labels):
    """The Conv2d patch embedding equals the reshape + permute + Linear formulation."""
    with torch.no_grad():
        conv, lin = model.embed_conv(images), model.embed_linear(images)
        assert conv.shape == (images.shape[0], NP, M)
        assert torch.allclose(conv, lin, atol=1e-12, rtol=0), "conv patch embedding vs linear"
        # a one-hot image puts its pixel at the documented place of the flattened patch
        one = torch.zeros(1, CH, IH, IW, dtype=torch.float64)
        c, r, q = CH - 1, IH - 1, 1
        one[0, c, r, q] = 1.0
        flat = patches(one)
        patch = (r // P) * (IW // P) + q // P
        assert flat[0, patch, c * P * P + (r % P) * P + q % P] == 1.0 and flat.sum() == 1.0
    a, b = run(model, images, labels, False), run(model, images, labels, True)
    for u, v in zip(a[:3], b[:3]):
        assert torch.allclose(u, v, atol=1e-12, rtol=0), "conv model vs linear model"
    for n in a[3]:
        assert torch.allclose(a[3][n], b[3][n], atol=1e-12, rtol=0), f"conv vs linear gradient of {n}"


def main():
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(70)
    model = TinyViT()
    randomise(model, g)
    model = model.double().eval()
    b = len(LABELS)
    images = torch.randn(b, CH, IH, IW, generator=g).double()
    labels = torch.tensor(LABELS)
    self_check(model, images, labels)

    logits, loss, grad_images, grads = run(model, images, labels, False)
    tensors = {"input.images": images, "labels": labels.double(), "expected.logits": logits,
               "loss": loss.reshape(1), "grad.images": grad_images}
    tensors.update({f"param.{n}": p for n, p in model.state_dict().items()})
    tensors.update({f"grad.{n}": grads[n] for n, _ in model.named_parameters()})
    tensors["param.patch_embed.weight_as_linear"] = model.patch_embed.weight.reshape(M, PD)
    tensors["grad.patch_embed.weight_as_linear"] = grads["patch_embed.weight"].reshape(M, PD)
    tensors = {k: v.detach().to(torch.float32).contiguous() for k, v in tensors.items()}
    config = dict(channels=CH, height=IH, width=IW, patch=P, num_patches=NP, patch_dim=PD, seq_len=NP + 1,
                  m=M, h=H, f=FF, layers=LAYERS, classes=C, b=b, labels=LABELS, activation="gelu",
                  norm_first=True, final_norm=True, eps=1e-5, pooling="cls", loss="cross_entropy_mean")
    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, "vit_patch_cls.safetensors")
    write_safetensors(tensors, path, {"config": json.dumps(config)})
    print(f"wrote vit_patch_cls: loss {loss.item():.6f}, logits {logits.tolist()}, {len(tensors)} tensors")


if __name__ == "__main__":
    main()
