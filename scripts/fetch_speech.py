"""Fetch the real speech that the tests and benchmarks use, from Debian's package archive.

    python scripts/fetch_speech.py OUT_DIR      (`./run test` does this into .cache/speech)

Nothing is installed: the packages are fetched with `apt-get download` (run `apt-get update` once first) and
unpacked with `dpkg-deb -x` under OUT_DIR. Every clip with a transcript becomes a 16-bit mono WAV in
OUT_DIR/wav/<speaker>/, listed in OUT_DIR/manifest.tsv (speaker, lang, path relative to OUT_DIR, seconds,
sample_rate, text). The audio is never committed to the repository.

Speakers: allison_en (US English, female, 16 kHz G.722 prompts), carlo_it (Italian, male, 8 kHz), june_fr
(Canadian French, female, 8 kHz): the Asterisk core sounds, CC BY-SA 3.0; librivox_en (US English, male, 16 kHz,
25 s): pocketsphinx test data, BSD-2, LibriVox audio in the public domain.
"""

from __future__ import annotations

import gzip
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

PACKAGES = [
    "asterisk-core-sounds-en", "asterisk-core-sounds-en-g722",
    "asterisk-core-sounds-it", "asterisk-core-sounds-it-wav",
    "asterisk-core-sounds-fr", "asterisk-core-sounds-fr-wav",
    "pocketsphinx-testdata",
]


@dataclass(frozen=True)
class PromptSet:
    speaker: str
    lang: str
    audio_package: str  # the package with the recordings; the transcripts are in asterisk-core-sounds-<lang>
    folder: str
    suffix: str


PROMPT_SETS = [
    PromptSet("allison_en", "en", "asterisk-core-sounds-en-g722", "en_US_f_Allison", ".g722"),
    PromptSet("carlo_it", "it", "asterisk-core-sounds-it-wav", "it_IT_m_Carlo", ".wav"),
    PromptSet("june_fr", "fr", "asterisk-core-sounds-fr-wav", "fr_CA_f_June", ".wav"),
]


def unpack(out: Path) -> Path:
    debs, pkg = out / "debs", out / "pkg"
    debs.mkdir(parents=True, exist_ok=True)
    pkg.mkdir(exist_ok=True)  # dpkg-deb -x creates the last folder only
    missing = [p for p in PACKAGES if not any(debs.glob(f"{p}_*.deb"))]
    if missing:
        subprocess.run(["apt-get", "download", *missing], cwd=debs, check=True, stdout=subprocess.DEVNULL)
    for deb in sorted(debs.glob("*.deb")):
        target = pkg / deb.name.split("_")[0]
        if not target.is_dir():
            subprocess.run(["dpkg-deb", "-x", str(deb), str(target)], check=True)
    return pkg


def prompt_texts(pkg: Path, lang: str) -> dict[str, str]:
    """Prompt id (path under the sounds folder, no extension) -> transcript, from the package's index."""
    name = f"asterisk-core-sounds-{lang}"
    index = pkg / name / "usr/share/doc" / name / f"core-sounds-{lang}.txt.gz"
    texts = {}
    with gzip.open(index, "rt", encoding="utf-8", errors="replace") as lines:
        for line in lines:
            if line.startswith(";") or ":" not in line:
                continue
            key, text = line.split(":", 1)
            texts[key.strip()] = text.strip()
    return texts


def decode(path: Path) -> tuple[np.ndarray, int]:
    """16-bit PCM and its rate. The English prompts are raw G.722 (16 kHz wideband at 64 kbit/s)."""
    if path.suffix == ".g722":
        import av  # ffmpeg's G.722 decoder (bit-identical to the reference decoder on these files)

        with av.open(str(path), format="g722") as container:
            pcm = np.concatenate([frame.to_ndarray().reshape(-1) for frame in container.decode(audio=0)])
        return pcm.astype(np.int16), 16000
    pcm, rate = sf.read(path, dtype="int16")
    return pcm, rate


def write_clip(out: Path, speaker: str, name: str, pcm: np.ndarray, rate: int) -> str:
    dst = out / "wav" / speaker / name
    dst.parent.mkdir(parents=True, exist_ok=True)
    sf.write(dst, pcm, rate, subtype="PCM_16")
    return str(dst.relative_to(out))


def prompt_rows(out: Path, pkg: Path, prompts: PromptSet) -> list[list]:
    texts = prompt_texts(pkg, prompts.lang)
    root = pkg / prompts.audio_package / "usr/share/asterisk/sounds" / prompts.folder
    rows = []
    for src in sorted(root.rglob(f"*{prompts.suffix}")):
        key = src.relative_to(root).with_suffix("").as_posix()
        text = texts.get(key, "")
        # Silences and bracketed descriptions ("[beep]") are not speech with a transcript.
        if key.startswith("silence/") or not text or text.startswith("["):
            continue
        pcm, rate = decode(src)
        path = write_clip(out, prompts.speaker, key.replace("/", "__") + ".wav", pcm, rate)
        rows.append([prompts.speaker, prompts.lang, path, f"{len(pcm) / rate:.2f}", rate, text])
    return rows


def librivox_rows(out: Path, pkg: Path) -> list[list]:
    folder = pkg / "pocketsphinx-testdata/usr/share/pocketsphinx/test/data/librivox"
    if not folder.is_dir():
        return []
    texts = {}
    for line in (folder / "transcription").read_text().splitlines():
        if "(" in line:  # "<s> words </s> (utterance-id)"
            words, uid = line.rsplit("(", 1)
            texts[uid.strip(") ")] = words.replace("<s>", "").replace("</s>", "").strip()
    rows = []
    for src in sorted(folder.glob("*.wav")):
        pcm, rate = decode(src)
        path = write_clip(out, "librivox_en", src.name, pcm, rate)
        rows.append(["librivox_en", "en", path, f"{len(pcm) / rate:.2f}", rate, texts.get(src.stem, "")])
    return rows


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = Path(sys.argv[1]).resolve()
    pkg = unpack(out)
    rows = [row for prompts in PROMPT_SETS for row in prompt_rows(out, pkg, prompts)] + librivox_rows(out, pkg)
    tmp = out / "manifest.tsv.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        for row in [["speaker", "lang", "path", "seconds", "sample_rate", "text"], *rows]:
            f.write("\t".join(map(str, row)) + "\n")
    tmp.replace(out / "manifest.tsv")  # last: its presence means the set is complete
    for speaker in dict.fromkeys(r[0] for r in rows):
        mine = [r for r in rows if r[0] == speaker]
        print(f"{speaker}: {len(mine)} clips, {sum(float(r[3]) for r in mine) / 60:.1f} min")


if __name__ == "__main__":
    main()
