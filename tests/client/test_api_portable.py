"""VoicesmithClient's voice export/import/localize and pronunciation dictionaries against the live server."""

from __future__ import annotations

import zipfile

import pytest

from voicesmith.client import BadRequest, NotFound, VoicesmithClient


@pytest.fixture()
def client(live_server) -> VoicesmithClient:
    with VoicesmithClient(live_server.base_url, live_server.api_key) as c:
        yield c


def test_export_import_and_localize(client: VoicesmithClient, live_server, tmp_path) -> None:
    stock = next(v for v in client.list_voices() if v.raw.get("kind") == "stock")
    path = tmp_path / "v.voice.zip"
    written = client.export_voice(stock.id, path)
    assert written == path.stat().st_size and zipfile.is_zipfile(path)
    assert not (tmp_path / "v.voice.zip.part").exists()
    with VoicesmithClient(live_server.base_url, live_server.make_key("client-portable")) as other:
        meta = other.import_voice(path, name="Taken along")
        assert meta["name"] == "Taken along" and meta["consent"] == "unverified"  # a file's consent is not checked here
        fr = other.localize_voice(meta["id"], name="En français", language="fr")
        assert fr["language"] == "fr"
        assert "parisian" in [a["id"] for a in other.list_accents()]
        mine = client.import_voice(path)  # a voice of the first organisation: not the other's to export
        with pytest.raises(NotFound):
            other.export_voice(mine["id"], tmp_path / "x.zip")
        client.delete_voice(mine["id"])
    (tmp_path / "junk.zip").write_bytes(b"junk")
    with pytest.raises(BadRequest) as refused:
        client.import_voice(tmp_path / "junk.zip")
    assert refused.value.error_code == "invalid_voice_file"
    assert not (tmp_path / "x.zip").exists()


def test_dicts(client: VoicesmithClient) -> None:
    d = client.create_dict("client dict", [{"text": "Nguyen", "alias": "win"}])
    assert client.get_dict(d["id"])["items"] == d["items"]
    assert d["id"] in [x["id"] for x in client.list_dicts()]
    assert client.update_dict(d["id"], name="renamed")["items"] == d["items"]  # items left as they were
    assert client.update_dict(d["id"], items=[])["items"] == []
    client.delete_dict(d["id"])
    with pytest.raises(NotFound):
        client.get_dict(d["id"])
