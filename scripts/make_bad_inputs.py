"""Write the bad-input corpus (tests/corpus/bad_inputs.py) to a folder, with a manifest.tsv saying what
the server must answer for each file. The files are generated here, never downloaded.

    .venv/bin/python scripts/make_bad_inputs.py /tmp/bad-inputs
    curl -H "X-API-Key: $KEY" -F file=@/tmp/bad-inputs/text-as-wav/notes.wav http://127.0.0.1:8000/datasets/ID/files

Each case gets its own folder so that the file keeps the name it is uploaded with; names a filesystem
cannot hold (path climbing, control characters, over 255 bytes) are written under a safe name and the
manifest gives the name to send.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.corpus.bad_inputs import upload_cases  # noqa: E402


def _safe(name: str) -> str:
    base = re.sub(r"[^A-Za-z0-9._ -]", "_", name.replace("\\", "/").rsplit("/", 1)[-1]).strip(". ") or "file"
    return base[:100]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    out = parser.parse_args().out
    out.mkdir(parents=True, exist_ok=True)
    lines = ["case\tpath\tupload_as\tstatus\terror_code\tnote"]
    for case in upload_cases():
        folder = out / case.name
        folder.mkdir(exist_ok=True)
        path = folder / _safe(case.filename)
        path.write_bytes(case.data)
        lines.append("\t".join([case.name, str(path.relative_to(out)), case.filename.encode("unicode_escape").decode(),
                                str(case.status), case.error_code or "", case.note]))
    (out / "manifest.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"{len(lines) - 1} cases written to {out}")


if __name__ == "__main__":
    main()
