"""The SDK fine-tune of tests/e2e/test_sdk_fine_tune.py, run in a background thread from the start of the session.

Its tiny fine-tune keeps the live server's worker busy for minutes while the test process only polls; started when
the session starts (tests/conftest.py: `sdk_fine_tune_flow`), that training overlaps the hundreds of tests before
it instead of adding its minutes to the suite's. The tests read what it recorded.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx

from tests.engine.adapt_data import corpus_rows

POLL_S = 2.0
TRAIN_TIMEOUT_S = 1500  # tiny budget: a few minutes on 2 free cores, far longer on a shared machine


class SdkFineTuneFlow:
    """Dataset -> upload two minutes of allison_en -> quality report -> tiny fine-tune -> polled until it ends."""

    def __init__(self, live_server, speech_data: Path) -> None:
        self._server, self._speech_data = live_server, speech_data
        self._outcome: dict | BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="sdk-fine-tune", daemon=True)

    @classmethod
    def start(cls, live_server, speech_data: Path) -> SdkFineTuneFlow:
        flow = cls(live_server, speech_data)
        flow._thread.start()
        return flow

    def result(self) -> dict:
        """What the flow recorded (waits for it); re-raises what stopped it."""
        self._thread.join()
        if isinstance(self._outcome, BaseException):
            raise self._outcome
        assert self._outcome is not None
        return self._outcome

    def _run(self) -> None:
        try:
            self._outcome = self._flow()
        except BaseException as exc:  # handed to the test that reads the result
            self._outcome = exc

    def _flow(self) -> dict:
        import cartesia

        server, speech_data = self._server, self._speech_data
        key = server.make_key("sdk-fine-tune")
        client = cartesia.Cartesia(api_key=key, base_url=server.base_url, max_retries=0, timeout=300)
        rest = httpx.Client(base_url=server.base_url, timeout=60,
                            headers={"Authorization": f"Bearer {key}", "Cartesia-Version": "2026-03-01"})
        ds = client.datasets.create(name="allison two minutes", description="sdk end to end")
        rows = corpus_rows(speech_data, "allison_en", minutes=2)
        for row in rows:
            with (speech_data / row["path"]).open("rb") as fh:
                client.datasets.files.upload(ds.id, file=fh, purpose="fine_tune")
        # The quality report is computed in the background as files arrive; it is ready before training.
        deadline = time.monotonic() + TRAIN_TIMEOUT_S
        while (report := rest.get(f"/datasets/{ds.id}/report").json())["status"] == "pending":
            assert time.monotonic() < deadline, report
            time.sleep(POLL_S)

        ft = client.fine_tunes.create(dataset=ds.id, name="Allison", description="two minutes, tiny budget",
                                      language="en", model_id="sonic-3-2026-01-12", extra_body={"budget": "tiny"})
        seen: list[dict] = []
        deadline = time.monotonic() + TRAIN_TIMEOUT_S
        while True:
            body = rest.get(f"/fine-tunes/{ft.id}").json()
            seen.append(body)
            if body["status"] in ("completed", "failed") or time.monotonic() > deadline:
                break
            time.sleep(POLL_S)
        return {"client": client, "rest": rest, "dataset": ds, "files": rows, "dataset_report": report,
                "fine_tune": ft, "polls": seen, "final": seen[-1]}
