"""The API's start-up loads the speech engine, with its runtime chosen and every warm-up shape run, before it
serves: Starlette (TestClient here, uvicorn in `voicesmith serve`) accepts no request until the lifespan's
start-up, which awaits the warm-up, has returned."""

from fastapi.testclient import TestClient

from voicesmith.engine import synthesis as engine_synthesis
from voicesmith.engine.kokoro import runtime


def test_the_engine_is_loaded_and_warmed_before_the_api_serves(tmp_path, data_dir_switch, monkeypatch):
    monkeypatch.setattr(engine_synthesis, "_synthesizer", None)  # a process that has not loaded the engine
    picker = runtime.RuntimePicker()
    monkeypatch.setattr(runtime, "picker", picker)
    with data_dir_switch(tmp_path):
        from voicesmith.api.app import create_app

        app = create_app()
        assert engine_synthesis._synthesizer is None and picker.choice is None
        with TestClient(app, raise_server_exceptions=False):
            model = engine_synthesis._synthesizer.model
            assert picker.choice is not None  # the runtime was chosen inside the warm-up
            assert model.backend.name == picker.choice.runtime
            assert model.warmed == [len(f["tokens"][0]) for f in runtime.warm_up_feeds()]
