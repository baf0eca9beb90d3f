"""The PVC workflow driven by the official `cartesia` v3 SDK (run by test_sdk_v3.py in its own venv).

Usage: python sdk_v3_flow.py BASE_URL API_KEY OTHER_ORG_KEY POOR_ORG_KEY WAV WAV WAV
Prints one JSON line of what it observed; exits non-zero on the first failed expectation.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import cartesia


def expect(cond: bool, what: str) -> None:
    if not cond:
        raise SystemExit(f"FAILED: {what}")


def expect_error(exc_type: type, status: int, call, what: str) -> dict:  # noqa: ANN001
    try:
        call()
    except exc_type as exc:  # type: ignore[misc]
        expect(exc.status_code == status, f"{what}: status {exc.status_code} != {status}")
        return exc.body if isinstance(exc.body, dict) else {}
    raise SystemExit(f"FAILED: {what}: no {exc_type.__name__} raised")


def main() -> None:
    base_url, key, other_key, poor_key, *wavs = sys.argv[1:]
    paths = [Path(p) for p in wavs]
    client = cartesia.Cartesia(api_key=key, base_url=base_url, max_retries=0)
    seen: dict = {"sdk_version": cartesia.__version__}

    ds = client.datasets.create(name="sdk v3", description="three clips")
    for path in paths:
        with path.open("rb") as fh:
            client.datasets.files.upload(ds.id, file=fh, purpose="fine_tune")
    first = client.datasets.files.list(ds.id, limit=2)
    expect(len(first.data) == 2, "first page holds 2 files")
    files = list(client.datasets.files.list(ds.id, limit=2))  # auto-pagination to the empty page
    expect([f.filename for f in files] == [p.name for p in paths], "all 3 files listed once, in order")
    expect([f.size for f in files] == [p.stat().st_size for p in paths], "file sizes")

    ft = client.fine_tunes.create(dataset=ds.id, name="sdk v3 ft", description="v3", language="en",
                                  model_id="sonic-3-2026-01-12")
    got = client.fine_tunes.retrieve(ft.id)
    expect(got.id == ft.id and got.dataset == ds.id, "retrieve fine-tune")
    expect(ft.id in [f.id for f in client.fine_tunes.list()], "fine-tune listed")
    voices = list(client.fine_tunes.list_voices(ft.id))
    seen["fine_tune_status"] = got.status
    seen["fine_tune_voices"] = len(voices)

    other = cartesia.Cartesia(api_key=other_key, base_url=base_url, max_retries=0)
    expect_error(cartesia.NotFoundError, 404, lambda: other.fine_tunes.retrieve(ft.id), "other org sees 404")
    expect_error(cartesia.NotFoundError, 404, lambda: other.datasets.retrieve(ds.id), "other org dataset 404")

    client.fine_tunes.delete(ft.id)
    expect_error(cartesia.NotFoundError, 404, lambda: client.fine_tunes.retrieve(ft.id), "deleted fine-tune is 404")

    bad = cartesia.Cartesia(api_key="sk_vs_wrong", base_url=base_url, max_retries=0)
    body = expect_error(cartesia.AuthenticationError, 401, lambda: bad.datasets.list().data, "bad key")
    expect(body.get("error_code") == "unauthorized", "401 body has error_code")
    body = expect_error(cartesia.UnprocessableEntityError, 422, lambda: client.datasets.list(limit=0).data, "limit 0")
    expect("limit" in body.get("message", ""), "422 names the field")

    poor = cartesia.Cartesia(api_key=poor_key, base_url=base_url, max_retries=0)
    pds = poor.datasets.create(name="poor", description="")
    with paths[0].open("rb") as fh:
        poor.datasets.files.upload(pds.id, file=fh, purpose="fine_tune")
    body = expect_error(cartesia.APIStatusError, 402, lambda: poor.fine_tunes.create(
        dataset=pds.id, name="x", description="", language="en", model_id="sonic-2"), "insufficient credits")
    expect(body.get("error_code") == "insufficient_credits", "402 error_code")

    client.datasets.delete(ds.id)
    expect_error(cartesia.NotFoundError, 404, lambda: client.datasets.retrieve(ds.id), "deleted dataset is 404")
    print(json.dumps(seen))


if __name__ == "__main__":
    main()
