"""Kokoro-82M's decoder as a differentiable PyTorch module, with the shipped weights.

The speaker's timbre lives here: the decoder turns aligned text features, an F0 curve, an energy
curve and the style's first 128 values into 24 kHz audio (a feature stack of AdaIN residual blocks,
then an iSTFTNet generator driven by a harmonic-plus-noise source). `engine/adapter.py` trains
low-rank adapters on it against a speaker's real recordings; inference stays on the ONNX graph.

The architecture is StyleTTS 2's decoder as Kokoro v1.0 configures it. No PyPI package ships its
float weights, so `load_decoder` reads them from the float32 graph that `graph.dequantize` makes of
the int8 export: a Conv/ConvTranspose node's weight input is that module's weight (weight norm is
already folded in), a MatMul's is a Linear's weight transposed, biases and the Snake activations'
`alpha` are named initializers. Loading fails loudly on any parameter it cannot fill, so a different
export cannot load half-way.
"""

from __future__ import annotations

import math
import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import numpy_helper
from torch import nn

from voicesmith.engine.kokoro import graph
from voicesmith.engine.kokoro.onnx import FRAME_SAMPLES, SAMPLE_RATE  # the F0 and energy curves: 2 per frame

STYLE_DIM = 128  # the timbre half of the 256-value style
HARMONICS = 8
N_FFT, HOP = 20, 5  # the generator's iSTFT
UPSAMPLE_RATES, UPSAMPLE_KERNELS = (10, 6), (20, 12)
RESBLOCK_KERNELS, DILATIONS = (3, 7, 11), (1, 3, 5)


class AdaIN(nn.Module):
    """Instance norm whose scale and shift come from the style."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.fc = nn.Linear(STYLE_DIM, 2 * channels)

    def forward(self, x: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        gamma, beta = self.fc(s).unsqueeze(-1).chunk(2, dim=1)
        return (1 + gamma) * F.instance_norm(x, eps=1e-5) + beta


class FeatureBlock(nn.Module):
    """AdaIN residual block of the feature stack; `upsample` doubles the frame rate."""

    def __init__(self, dim_in: int, dim_out: int, upsample: bool = False) -> None:
        super().__init__()
        self.upsample = upsample
        self.norm1, self.norm2 = AdaIN(dim_in), AdaIN(dim_out)
        self.conv1 = nn.Conv1d(dim_in, dim_out, 3, padding=1)
        self.conv2 = nn.Conv1d(dim_out, dim_out, 3, padding=1)
        self.conv1x1 = nn.Conv1d(dim_in, dim_out, 1, bias=False) if dim_in != dim_out else None
        self.pool = (nn.ConvTranspose1d(dim_in, dim_in, 3, stride=2, groups=dim_in, padding=1, output_padding=1)
                     if upsample else None)

    def forward(self, x: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        h = F.leaky_relu(self.norm1(x, s), 0.2)
        if self.pool is not None:
            h = self.pool(h)
        h = self.conv2(F.leaky_relu(self.norm2(self.conv1(h), s), 0.2))
        shortcut = F.interpolate(x, scale_factor=2.0, mode="nearest") if self.upsample else x
        if self.conv1x1 is not None:
            shortcut = self.conv1x1(shortcut)
        return (h + shortcut) / math.sqrt(2)


class SnakeBlock(nn.Module):
    """The generator's residual block: three dilated conv pairs with AdaIN and Snake activations."""

    def __init__(self, channels: int, kernel: int) -> None:
        super().__init__()
        self.convs1 = nn.ModuleList(nn.Conv1d(channels, channels, kernel, dilation=d, padding=d * (kernel - 1) // 2)
                                    for d in DILATIONS)
        self.convs2 = nn.ModuleList(nn.Conv1d(channels, channels, kernel, padding=(kernel - 1) // 2) for _ in DILATIONS)
        self.adain1 = nn.ModuleList(AdaIN(channels) for _ in DILATIONS)
        self.adain2 = nn.ModuleList(AdaIN(channels) for _ in DILATIONS)
        self.alpha1 = nn.ParameterList(nn.Parameter(torch.ones(1, channels, 1)) for _ in DILATIONS)
        self.alpha2 = nn.ParameterList(nn.Parameter(torch.ones(1, channels, 1)) for _ in DILATIONS)

    @staticmethod
    def _snake(x: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
        return x + torch.sin(alpha * x) ** 2 / alpha

    def forward(self, x: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        for c1, c2, n1, n2, a1, a2 in zip(self.convs1, self.convs2, self.adain1, self.adain2, self.alpha1, self.alpha2):
            h = c1(self._snake(n1(x, s), a1))
            x = x + c2(self._snake(n2(h, s), a2))
        return x


class HarmonicSource(nn.Module):
    """Sine harmonics of the F0 curve (noise where unvoiced), merged to one excitation, as an STFT.

    Its only weights are the merge's; the random start phases and noise make every call differ a little,
    as Kokoro's own does. Pass a seeded `generator` for a repeatable source.
    """

    def __init__(self) -> None:
        super().__init__()
        self.l_linear = nn.Linear(HARMONICS + 1, 1)
        self.register_buffer("window", torch.hann_window(N_FFT), persistent=False)

    def forward(self, f0: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """f0 [B, 2*frames] in Hz -> magnitude and phase [B, 22, samples/5 + 1]."""
        scale = FRAME_SAMPLES // 2  # samples per F0 value
        f0 = f0.unsqueeze(1).repeat_interleave(scale, dim=2).transpose(1, 2)  # [B, samples, 1]
        fn = f0 * torch.arange(1, HARMONICS + 2, dtype=f0.dtype)
        rad = (fn / SAMPLE_RATE) % 1
        start = torch.rand(rad.shape[0], rad.shape[2], generator=generator)
        start[:, 0] = 0
        rad[:, 0, :] = rad[:, 0, :] + start
        # The phase is integrated at the F0 curve's own rate and interpolated back, as Kokoro was trained.
        rad = F.interpolate(rad.transpose(1, 2), scale_factor=1 / scale, mode="linear").transpose(1, 2)
        phase = torch.cumsum(rad, dim=1) * 2 * math.pi
        phase = F.interpolate(phase.transpose(1, 2) * scale, scale_factor=float(scale), mode="linear").transpose(1, 2)
        voiced = (f0 > 10).to(f0.dtype)
        noise_amp = voiced * 0.003 + (1 - voiced) * 0.1 / 3
        sines = torch.sin(phase) * 0.1 * voiced + noise_amp * torch.randn(phase.shape, generator=generator)
        excitation = torch.tanh(self.l_linear(sines)).transpose(1, 2).squeeze(1)
        spec = torch.stft(excitation, N_FFT, HOP, N_FFT, window=self.window, return_complex=True)
        return torch.cat([spec.abs(), spec.angle()], dim=1)


class Generator(nn.Module):
    """iSTFTNet: two transposed-conv upsamplings with Snake residual blocks, then an inverse STFT."""

    def __init__(self) -> None:
        super().__init__()
        self.m_source = HarmonicSource()
        channels = [512 // 2 ** (i + 1) for i in range(len(UPSAMPLE_RATES))]
        self.ups = nn.ModuleList(
            nn.ConvTranspose1d(2 * c, c, k, u, padding=(k - u) // 2)
            for c, u, k in zip(channels, UPSAMPLE_RATES, UPSAMPLE_KERNELS))
        self.resblocks = nn.ModuleList(SnakeBlock(c, k) for c in channels for k in RESBLOCK_KERNELS)
        self.noise_convs = nn.ModuleList([nn.Conv1d(N_FFT + 2, channels[0], 12, stride=6, padding=3),
                                          nn.Conv1d(N_FFT + 2, channels[1], 1)])
        self.noise_res = nn.ModuleList([SnakeBlock(channels[0], 7), SnakeBlock(channels[1], 11)])
        self.conv_post = nn.Conv1d(channels[-1], N_FFT + 2, 7, padding=3)
        self.register_buffer("window", torch.hann_window(N_FFT), persistent=False)

    def forward(self, x: torch.Tensor, s: torch.Tensor, harmonics: torch.Tensor) -> torch.Tensor:
        for i, up in enumerate(self.ups):
            x = up(F.leaky_relu(x, 0.1))
            if i == len(self.ups) - 1:
                x = F.pad(x, (1, 0), mode="reflect")
            x = x + self.noise_res[i](self.noise_convs[i](harmonics), s)
            blocks = self.resblocks[i * len(RESBLOCK_KERNELS):(i + 1) * len(RESBLOCK_KERNELS)]
            x = sum(block(x, s) for block in blocks) / len(blocks)
        x = self.conv_post(F.leaky_relu(x))
        bins = N_FFT // 2 + 1
        spec = torch.exp(x[:, :bins]) * torch.exp(1j * torch.sin(x[:, bins:]))
        # Kokoro's export overlap-adds the windowed frames without dividing by the squared window's overlap
        # (torch.istft does), so its audio is that sum times louder: 1.5 for a periodic Hann of 20 at hop 5.
        # Its first N_FFT/2 samples (0.4 ms) it scales its own way; those are the only ones that differ.
        gain = (self.window ** 2).sum() / HOP
        return torch.istft(spec, N_FFT, HOP, N_FFT, window=self.window) * gain


class Decoder(nn.Module):
    """Aligned text features [B, 512, T], F0 and energy [B, 2T], style [B, 128] -> audio [B, 600*T]."""

    def __init__(self) -> None:
        super().__init__()
        self.encode = FeatureBlock(512 + 2, 1024)
        self.decode = nn.ModuleList([FeatureBlock(1024 + 2 + 64, 1024) for _ in range(3)]
                                    + [FeatureBlock(1024 + 2 + 64, 512, upsample=True)])
        self.F0_conv = nn.Conv1d(1, 1, 3, stride=2, padding=1)
        self.N_conv = nn.Conv1d(1, 1, 3, stride=2, padding=1)
        self.asr_res = nn.Sequential(nn.Conv1d(512, 64, 1))
        self.generator = Generator()

    def features(self, asr: torch.Tensor, f0: torch.Tensor, energy: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        """The feature stack's output [B, 512, 2T]: what the ONNX graph calls `features`."""
        f0_in, n_in = self.F0_conv(f0.unsqueeze(1)), self.N_conv(energy.unsqueeze(1))
        x = self.encode(torch.cat([asr, f0_in, n_in], dim=1), s)
        residual = self.asr_res(asr)
        for block in self.decode:  # every block sees the inputs again (only the last one upsamples)
            x = block(torch.cat([x, residual, f0_in, n_in], dim=1), s)
        return x

    def forward(self, asr: torch.Tensor, f0: torch.Tensor, energy: torch.Tensor, s: torch.Tensor,
                generator: torch.Generator | None = None) -> torch.Tensor:
        harmonics = self.generator.m_source(f0, generator)
        return self.generator(self.features(asr, f0, energy, s), s, harmonics)


# --- weights -------------------------------------------------------------------------------------

def decoder_weights(model: onnx.ModelProto) -> dict[str, np.ndarray]:
    """The decoder's parameters, keyed as `Decoder().state_dict()`, from the dequantized float32 graph."""
    init = {t.name: t for t in model.graph.initializer}
    return {key: (numpy_helper.to_array(init[name]).T if transposed else numpy_helper.to_array(init[name]))
            for key, (name, transposed) in graph.weight_sources(model).items()}


def load_decoder(model: onnx.ModelProto) -> Decoder:
    """A `Decoder` holding the weights of the float32 graph `model` (see `graph.build_variant`)."""
    decoder = Decoder()
    found = decoder_weights(model)
    wanted = decoder.state_dict()
    missing = sorted(set(wanted) - set(found))
    if missing:
        raise ValueError(f"{len(missing)} decoder parameters not in the graph, e.g. {missing[:3]}")
    state = {}
    for key, ref in wanted.items():
        value = torch.from_numpy(np.array(found[key], dtype=np.float32))  # a writable copy
        if value.shape != ref.shape:
            raise ValueError(f"{key}: graph has shape {tuple(value.shape)}, the decoder {tuple(ref.shape)}")
        state[key] = value
    decoder.load_state_dict(state)
    return decoder.eval()
