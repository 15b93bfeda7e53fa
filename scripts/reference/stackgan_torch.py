"""Reference PyTorch modules for the Swift models' parity tests.

The structure and attribute names follow StackGAN-Pytorch's model.py (STAGE1_G, STAGE1_D, STAGE2_G,
STAGE2_D, CA_NET, D_GET_LOGITS, ResBlock, upBlock), so state_dict keys are the same as in that
project's checkpoints. Deliberate differences, all mirrored in Swift:
  - the logit heads end without Sigmoid: we train with BCE-with-logits. Sigmoid has no parameters,
    so the keys (and published checkpoints) are unchanged;
  - widths come from a Config instead of a global cfg, and the Stage-I D can have a realness head;
  - the CA noise eps may be passed in, so tests can feed Swift and PyTorch the same numbers;
  - STAGE2_G keeps its frozen STAGE1_G in eval mode and runs it without gradients.
GAN_CLS_G / GAN_CLS_D are our own small GAN-CLS (Reed et al. 2016) modules.
"""
from dataclasses import dataclass

import torch
import torch.nn as nn


@dataclass
class Config:
    embedding_dim: int = 1024
    z_dim: int = 100
    condition_dim: int = 128
    gf_dim: int = 128
    df_dim: int = 64
    residual_blocks: int = 4
    ca_activation: str = "relu"


def conv3x3(in_planes, out_planes):
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=1, padding=1, bias=False)


def upBlock(in_planes, out_planes):
    return nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), conv3x3(in_planes, out_planes),
                         nn.BatchNorm2d(out_planes), nn.ReLU(True))


class ResBlock(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.block = nn.Sequential(conv3x3(channels, channels), nn.BatchNorm2d(channels), nn.ReLU(True),
                                   conv3x3(channels, channels), nn.BatchNorm2d(channels))
        self.relu = nn.ReLU()

    def forward(self, x):
        return self.relu(self.block(x) + x)


class CA_NET(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.c_dim = cfg.condition_dim
        self.fc = nn.Linear(cfg.embedding_dim, cfg.condition_dim * 2, bias=True)
        self.act = nn.ReLU() if cfg.ca_activation == "relu" else nn.LeakyReLU(0.2)

    def forward(self, text_embedding, eps=None):
        x = self.act(self.fc(text_embedding))
        mu, logvar = x[:, :self.c_dim], x[:, self.c_dim:]
        std = logvar.mul(0.5).exp()
        if eps is None:
            eps = torch.randn_like(std)
        return eps * std + mu, mu, logvar


class D_GET_LOGITS(nn.Module):
    def __init__(self, ndf, nef, bcondition=True):
        super().__init__()
        self.ef_dim, self.bcondition = nef, bcondition
        if bcondition:
            self.outlogits = nn.Sequential(conv3x3(ndf * 8 + nef, ndf * 8), nn.BatchNorm2d(ndf * 8),
                                           nn.LeakyReLU(0.2), nn.Conv2d(ndf * 8, 1, kernel_size=4, stride=4))
        else:
            self.outlogits = nn.Sequential(nn.Conv2d(ndf * 8, 1, kernel_size=4, stride=4))

    def forward(self, h_code, c_code=None):
        if self.bcondition:
            c_code = c_code.view(-1, self.ef_dim, 1, 1).repeat(1, 1, 4, 4)
            h_code = torch.cat((h_code, c_code), 1)
        return self.outlogits(h_code).view(-1)


class STAGE1_G(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        ngf = cfg.gf_dim * 8
        self.ngf = ngf
        self.ca_net = CA_NET(cfg)
        self.fc = nn.Sequential(nn.Linear(cfg.z_dim + cfg.condition_dim, ngf * 4 * 4, bias=False),
                                nn.BatchNorm1d(ngf * 4 * 4), nn.ReLU(True))
        self.upsample1 = upBlock(ngf, ngf // 2)
        self.upsample2 = upBlock(ngf // 2, ngf // 4)
        self.upsample3 = upBlock(ngf // 4, ngf // 8)
        self.upsample4 = upBlock(ngf // 8, ngf // 16)
        self.img = nn.Sequential(conv3x3(ngf // 16, 3), nn.Tanh())

    def forward(self, text_embedding, noise, eps=None):
        c_code, mu, logvar = self.ca_net(text_embedding, eps)
        h = self.fc(torch.cat((noise, c_code), 1)).view(-1, self.ngf, 4, 4)
        h = self.upsample4(self.upsample3(self.upsample2(self.upsample1(h))))
        return None, self.img(h), mu, logvar


def encoder_layers(channels):
    """down(3, c0) LReLU, then down(c_i, c_i+1) BN LReLU: the discriminators' image encoders."""
    layers = [nn.Conv2d(3, channels[0], 4, 2, 1, bias=False), nn.LeakyReLU(0.2)]
    for i, o in zip(channels, channels[1:]):
        layers += [nn.Conv2d(i, o, 4, 2, 1, bias=False), nn.BatchNorm2d(o), nn.LeakyReLU(0.2)]
    return layers


class STAGE1_D(nn.Module):
    def __init__(self, cfg, split=False):
        super().__init__()
        ndf = cfg.df_dim
        self.encode_img = nn.Sequential(*encoder_layers([ndf, ndf * 2, ndf * 4, ndf * 8]))
        self.get_cond_logits = D_GET_LOGITS(ndf, cfg.condition_dim)
        self.get_uncond_logits = D_GET_LOGITS(ndf, cfg.condition_dim, bcondition=False) if split else None

    def forward(self, image):
        return self.encode_img(image)


class STAGE2_G(nn.Module):
    def __init__(self, stage1, cfg):
        super().__init__()
        ngf, self.ef_dim = cfg.gf_dim, cfg.condition_dim
        self.STAGE1_G = stage1
        for p in self.STAGE1_G.parameters():
            p.requires_grad = False
        self.ca_net = CA_NET(cfg)
        self.encoder = nn.Sequential(conv3x3(3, ngf), nn.ReLU(True),
                                     nn.Conv2d(ngf, ngf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 2), nn.ReLU(True),
                                     nn.Conv2d(ngf * 2, ngf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 4), nn.ReLU(True))
        self.hr_joint = nn.Sequential(conv3x3(self.ef_dim + ngf * 4, ngf * 4), nn.BatchNorm2d(ngf * 4), nn.ReLU(True))
        self.residual = nn.Sequential(*[ResBlock(ngf * 4) for _ in range(cfg.residual_blocks)])
        self.upsample1 = upBlock(ngf * 4, ngf * 2)
        self.upsample2 = upBlock(ngf * 2, ngf)
        self.upsample3 = upBlock(ngf, ngf // 2)
        self.upsample4 = upBlock(ngf // 2, ngf // 4)
        self.img = nn.Sequential(conv3x3(ngf // 4, 3), nn.Tanh())

    def train(self, mode=True):
        super().train(mode)
        self.STAGE1_G.eval()  # frozen: always the running statistics
        return self

    def forward(self, text_embedding, noise, eps=None, stage1_eps=None):
        with torch.no_grad():
            _, stage1_img, _, _ = self.STAGE1_G(text_embedding, noise, stage1_eps)
        encoded = self.encoder(stage1_img.detach())
        c_code, mu, logvar = self.ca_net(text_embedding, eps)
        c_code = c_code.view(-1, self.ef_dim, 1, 1).repeat(1, 1, 16, 16)
        h = self.residual(self.hr_joint(torch.cat([encoded, c_code], 1)))
        h = self.upsample4(self.upsample3(self.upsample2(self.upsample1(h))))
        return stage1_img, self.img(h), mu, logvar


class STAGE2_D(nn.Module):
    def __init__(self, cfg, split=True):
        super().__init__()
        ndf = cfg.df_dim
        layers = encoder_layers([ndf, ndf * 2, ndf * 4, ndf * 8, ndf * 16, ndf * 32])
        layers += [conv3x3(ndf * 32, ndf * 16), nn.BatchNorm2d(ndf * 16), nn.LeakyReLU(0.2),
                   conv3x3(ndf * 16, ndf * 8), nn.BatchNorm2d(ndf * 8), nn.LeakyReLU(0.2)]
        self.encode_img = nn.Sequential(*layers)
        self.get_cond_logits = D_GET_LOGITS(ndf, cfg.condition_dim)
        self.get_uncond_logits = D_GET_LOGITS(ndf, cfg.condition_dim, bcondition=False) if split else None

    def forward(self, image):
        return self.encode_img(image)


class GAN_CLS_G(nn.Module):
    """Text projection Linear(E, c) LReLU(0.2); cat(projection, z) as a 1x1 map; ConvTranspose
    4x4 -> 64x64 with BN ReLU; tanh."""

    def __init__(self, cfg):
        super().__init__()
        ngf = cfg.gf_dim
        self.projection = nn.Sequential(nn.Linear(cfg.embedding_dim, cfg.condition_dim), nn.LeakyReLU(0.2))
        chans = [ngf * 8, ngf * 4, ngf * 2, ngf]
        layers = [nn.ConvTranspose2d(cfg.condition_dim + cfg.z_dim, chans[0], 4, 1, 0, bias=False),
                  nn.BatchNorm2d(chans[0]), nn.ReLU(True)]
        for i, o in zip(chans, chans[1:]):
            layers += [nn.ConvTranspose2d(i, o, 4, 2, 1, bias=False), nn.BatchNorm2d(o), nn.ReLU(True)]
        layers += [nn.ConvTranspose2d(ngf, 3, 4, 2, 1, bias=False), nn.Tanh()]
        self.netG = nn.Sequential(*layers)

    def forward(self, text_embedding, noise):
        t = self.projection(text_embedding)
        return self.netG(torch.cat([t, noise], 1)[:, :, None, None])


class GAN_CLS_D(nn.Module):
    """Image encoder down(3,ndf)..(4ndf,8ndf) -> (8ndf,4,4); projected text tiled 4x4 and
    concatenated; Conv(8ndf+c, 1, 4) -> one logit (no Sigmoid)."""

    def __init__(self, cfg):
        super().__init__()
        ndf = cfg.df_dim
        self.c_dim = cfg.condition_dim
        self.netD_1 = nn.Sequential(*encoder_layers([ndf, ndf * 2, ndf * 4, ndf * 8]))
        self.projection = nn.Sequential(nn.Linear(cfg.embedding_dim, cfg.condition_dim), nn.LeakyReLU(0.2))
        self.netD_2 = nn.Sequential(nn.Conv2d(ndf * 8 + cfg.condition_dim, 1, 4, 1, 0, bias=False))

    def forward(self, image):
        return self.netD_1(image)

    def logits(self, features, text_embedding):
        t = self.projection(text_embedding).view(-1, self.c_dim, 1, 1).repeat(1, 1, 4, 4)
        return self.netD_2(torch.cat([features, t], 1)).view(-1)


# ---- losses (StackGAN-Pytorch's compute_*_loss with BCE on logits) ----

def bce(logits, target):
    return nn.functional.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target))


def kl_loss(mu, logvar):
    return torch.mean(-0.5 * (1 + logvar - mu.pow(2) - logvar.exp()))


def discriminator_loss(netD, real_imgs, fake_imgs, conditions):
    """StackGAN-Pytorch's loss on the pairs the Swift trainer scores (`scorePairs`, `wrong_pairs:
    shift`): N wrong pairs, wrong pair i = real image i+1's features with condition i (StackGAN-
    Pytorch takes the N-1 pairs real features [:N-1] with conditions [1:]). Single head
    real + (fake + wrong)/2, split head (cond_real + uncond_real)/2 + (cond_fake + cond_wrong + uncond_fake)/3."""
    cond, fake = conditions.detach(), fake_imgs.detach()
    real_features, fake_features = netD(real_imgs), netD(fake)
    err_real = bce(netD.get_cond_logits(real_features, cond), 1)
    err_wrong = bce(netD.get_cond_logits(torch.roll(real_features, -1, 0), cond), 0)
    err_fake = bce(netD.get_cond_logits(fake_features, cond), 0)
    if netD.get_uncond_logits is None:
        return err_real + (err_fake + err_wrong) * 0.5
    uncond_real = bce(netD.get_uncond_logits(real_features), 1)
    uncond_fake = bce(netD.get_uncond_logits(fake_features), 0)
    return (err_real + uncond_real) / 2 + (err_fake + err_wrong + uncond_fake) / 3


def generator_loss(netD, fake_imgs, conditions, mu, logvar, kl_coefficient=2.0):
    fake_features = netD(fake_imgs)
    err = bce(netD.get_cond_logits(fake_features, conditions.detach()), 1)
    if netD.get_uncond_logits is not None:
        err = err + bce(netD.get_uncond_logits(fake_features), 1)
    return err + kl_coefficient * kl_loss(mu, logvar)
