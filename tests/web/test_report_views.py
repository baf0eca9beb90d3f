"""The studio's report views, fed with reports built by the engine's own report builders.

A real fine-tune takes minutes, too long for a browser test; so the engine's `build_report`
functions make the reports from known figures here, and the page's own view code renders them.
If the engine renames a field, the figures below stop appearing and these tests fail.
"""

from __future__ import annotations

import json
import uuid
from types import SimpleNamespace

import pytest
from selenium.webdriver.common.by import By

pytestmark = pytest.mark.timeout(120)

def in_page(driver, module: str, call: str, *args) -> None:
    """Imports one of the page's own modules as `m` and runs `call` (JS, with `args`) in the page."""
    script = f"""
    const done = arguments[arguments.length - 1];
    const args = Array.from(arguments).slice(0, -1);
    import(new URL("{module}", document.baseURI).href)
      .then((m) => {{ {call}; done("ok"); }})
      .catch((err) => done(String((err && err.stack) || err)));
    """
    result = driver.execute_async_script(script, *args)
    assert result == "ok", result


@pytest.fixture(scope="module")
def page(browser, live_server):
    browser.get(live_server.base_url + "/studio/")
    return browser


def text_of(driver, css: str) -> str:
    return driver.find_element(By.CSS_SELECTOR, css).text


def test_fine_tune_report_view_shows_every_figure(page, tmp_path):
    from voicesmith.engine import evaluate

    def evaluation(similarity: float, wer: float, f0: float) -> evaluate.VoiceEvaluation:
        return evaluate.VoiceEvaluation(similarity=similarity, similarity_per_utterance=[similarity], wer=wer,
                                        f0_median_hz=f0, rate_pps=11.0)

    # Only what build_report reads from the held-out set (a real one needs recordings and a model).
    held = SimpleNamespace(texts=["one", "two", "three", "four", "five"], ceiling=0.9, source_rate=16000,
                           language="en", real_wer=0.04, stats=SimpleNamespace(f0_median_hz=201.0, rate_pps=12.0),
                           likeness_ceiling={}, likeness_ceiling_what="", real_features=None, train_quality=None)
    names = ["Closest match", "Most stable", "Brighter", "Calmer"]
    sims = [0.85, 0.8, 0.82, 0.78]
    report = evaluate.build_report(
        held,
        {"jf_alpha": evaluation(0.7, 0.05, 230.0), "jm_kumo": evaluation(0.6, 0.05, 120.0)},
        evaluation(0.75, 0.06, 210.0),
        "instant clone",
        [(f"v{i}", name, evaluation(sim, 0.06, 198.0)) for i, (name, sim) in enumerate(zip(names, sims))],
    )
    voices = [{"id": str(uuid.uuid4()), "name": name, "description": f"{name} voice", "is_owner": True}
              for name in reversed(names)]  # listed in another order than the report: matched by name

    page.execute_script("location.hash = '#fine-tunes'; document.getElementById('ft-detail').hidden = false")
    in_page(page, "js/fine_tunes.js", "m.renderResults(args[0], args[1])", voices, json.loads(json.dumps(report)))

    summary = text_of(page, "#ft-summary")
    assert "5 held-out utterances" in summary
    assert "Floor: best stock voice (jf_alpha)\n0.700" in summary
    assert "Ceiling: the speaker vs themself\n0.900" in summary
    assert "Start point (instant clone)\n0.750, gap closed 25%" in summary
    assert "Speaker's median pitch\n201 Hz" in summary
    assert "WER of the real recordings\n4%" in summary
    cards = page.find_elements(By.CSS_SELECTOR, "#ft-voices .voice-card")
    assert len(cards) == 4
    for card, voice in zip(cards, voices):
        sim = sims[names.index(voice["name"])]
        text = card.text
        assert voice["name"] in text and voice["description"] in text
        assert f"Similarity\n{sim:.3f}" in text
        assert f"Gap closed\n{round((sim - 0.7) / 0.2 * 100)}%" in text
        assert "WER\n6% (real 4%)" in text
        assert "Pitch\n198 Hz (real 201)" in text
        assert card.find_element(By.CSS_SELECTOR, "button.play").get_attribute("data-voice-id") == voice["id"]
    page.execute_script("document.getElementById('ft-results').scrollIntoView()")
    (tmp_path / "fine_tune_report.png").write_bytes(page.get_screenshot_as_png())


def test_the_measures_the_search_did_not_optimise_are_shown_per_voice(page):
    from voicesmith.engine import evaluate

    def evaluation(similarity: float, mfcc: float, ltas: float, f0: float, quality: float) -> evaluate.VoiceEvaluation:
        return evaluate.VoiceEvaluation(similarity=similarity, similarity_per_utterance=[similarity], wer=None,
                                        f0_median_hz=200.0, rate_pps=11.0, quality=quality,
                                        distances={"mfcc_frechet": mfcc, "ltas_db": ltas, "f0_semitones": f0})

    held = SimpleNamespace(texts=["one", "two", "three"], ceiling=0.9, source_rate=16000, language="en", real_wer=None,
                           stats=SimpleNamespace(f0_median_hz=201.0, rate_pps=12.0),
                           likeness_ceiling={"mfcc_frechet": 4.0, "ltas_db": 1.0, "f0_semitones": 0.5},
                           likeness_ceiling_what="held-out real recordings vs training real recordings",
                           real_features=SimpleNamespace(quality=3.4), train_quality=3.3)
    stock = {"jf_alpha": evaluation(0.7, 24.0, 5.0, 3.5, 3.2), "jm_kumo": evaluation(0.6, 20.0, 6.0, 12.0, 3.4)}
    names = ["Closest match", "Most stable"]
    figures = [(0.85, 12.0, 2.0, 1.0, 3.38), (0.8, 8.0, 3.0, 0.5, 3.31)]
    report = evaluate.build_report(held, stock, evaluation(0.75, 18.0, 4.0, 2.0, 3.3), "instant clone",
                                   [(f"v{i}", n, evaluation(*f)) for i, (n, f) in enumerate(zip(names, figures))])
    voices = [{"id": str(uuid.uuid4()), "name": n, "description": n, "is_owner": True} for n in names]

    page.execute_script("location.hash = '#fine-tunes'; document.getElementById('ft-detail').hidden = false")
    in_page(page, "js/fine_tunes.js", "m.renderResults(args[0], args[1])", voices, json.loads(json.dumps(report)))

    table = page.find_element(By.ID, "ft-other-measures")
    assert "did not optimise" in table.find_element(By.TAG_NAME, "caption").text
    assert "stock voices 3.30, the real recordings 3.40" in table.text  # the quality scale beside the voices'
    for voice, entry in zip(voices, report["voices"]):
        row = table.find_element(By.CSS_SELECTOR, f"tr[data-voice-id='{voice['id']}']")
        cells = {td.get_attribute("data-measure"): td.text for td in row.find_elements(By.TAG_NAME, "td")}
        for measure in ("mfcc_frechet", "ltas_db", "f0_semitones"):
            assert cells[measure] == f"{round(entry['likeness'][measure]['gap_closed'] * 100)}%"
        assert cells["quality_dnsmos"] == f"{entry['likeness']['quality_dnsmos']['value']:.2f}"
    # Each distance's floor is its own closest stock voice: MFCC from jm_kumo (20), not Resemblyzer's jf_alpha.
    assert report["voices"][0]["likeness"]["mfcc_frechet"]["gap_closed"] == 0.5  # (20 - 12) / (20 - 4)


def test_the_style_search_voice_is_shown_beside_the_bespoke_ones_and_each_card_names_its_decoder(page):
    from voicesmith.engine import evaluate

    def evaluation(similarity: float, mfcc: float) -> evaluate.VoiceEvaluation:
        return evaluate.VoiceEvaluation(similarity=similarity, similarity_per_utterance=[similarity], wer=0.02,
                                        f0_median_hz=200.0, rate_pps=11.0, quality=3.3,
                                        distances={"mfcc_frechet": mfcc, "ltas_db": 2.0, "f0_semitones": 1.0})

    held = SimpleNamespace(texts=["one", "two", "three"], ceiling=0.9, source_rate=16000, language="en", real_wer=0.01,
                           stats=SimpleNamespace(f0_median_hz=201.0, rate_pps=12.0),
                           likeness_ceiling={"mfcc_frechet": 4.0, "ltas_db": 1.0, "f0_semitones": 0.5},
                           likeness_ceiling_what="held-out real recordings vs training real recordings",
                           real_features=SimpleNamespace(quality=3.4), train_quality=3.3)
    stock = {"jf_alpha": evaluation(0.7, 20.0)}
    names = ["Closest match", "Clear", "Brighter"]
    report = evaluate.build_report(held, stock, evaluation(0.75, 18.0), "instant clone",
                                   [("match", names[0], evaluation(0.86, 8.0)), ("clear", names[1], evaluation(0.8, 12.0)),
                                    ("style_a", names[2], evaluation(0.8, 12.0))],
                                   ("style_search_match", "closest match as the style search made it",
                                    evaluation(0.82, 12.0)))
    # As engine/fine_tune.py adds them: the guard's verdict per voice.
    spectral = {"mfcc_frechet": 9.0, "searched_mfcc_frechet": 10.0, "mfcc_frechet_allowed": 11.0}
    report["voices"][0]["details"] = {"bespoke": {"used": True, "refused_by": [], "guard_error": 0.03,
                                                  "searched_guard_error": 0.02, "allowed": 0.07, "measure": "wer",
                                                  "similarity": 0.8, "searched_similarity": 0.79,
                                                  "similarity_allowed": 0.77, **spectral}}
    # A report made before `refused_by`: the studio reads the reason from the figures.
    report["voices"][1]["details"] = {"bespoke": {"used": False, "guard_error": 0.02, "searched_guard_error": 0.05,
                                                  "allowed": 0.1, "measure": "wer", "similarity": 0.7,
                                                  "searched_similarity": 0.79, "similarity_allowed": 0.77}}
    report["voices"][2]["details"] = {"bespoke": {"used": False, "refused_by": ["spectrum"], "measure": "wer",
                                                  **spectral, "mfcc_frechet": 12.25}}
    voices = [{"id": str(uuid.uuid4()), "name": n, "description": n, "is_owner": True} for n in names]

    page.execute_script("location.hash = '#fine-tunes'; document.getElementById('ft-detail').hidden = false")
    in_page(page, "js/fine_tunes.js", "m.renderResults(args[0], args[1])", voices, json.loads(json.dumps(report)))

    reference = page.find_element(By.CSS_SELECTOR, ".likeness-row[data-reference='style_search_match']")
    assert "style search only" in reference.text and "60%" in reference.text  # (0.82 - 0.7) / (0.9 - 0.7)
    row = page.find_element(By.CSS_SELECTOR, "#ft-other-measures tr[data-reference='style_search_match']")
    assert row.find_element(By.CSS_SELECTOR, "td[data-measure='mfcc_frechet']").text == "50%"  # (20 - 12) / (20 - 4)
    cards = page.find_elements(By.CSS_SELECTOR, "#ft-voices .voice-card")
    assert "Decoder\ntrained on your recordings" in cards[0].text
    assert "Decoder\nKokoro's (the trained one sounded less like you: similarity 0.700, 0.790 without it)" in cards[1].text
    assert ("Decoder\nKokoro's (the trained one's spectrum was further from your recordings: MFCC distance 12.3, "
            "10.0 without it)") in cards[2].text


def test_dataset_report_view_shows_verdicts_with_upload_names(page, tmp_path):
    from voicesmith.engine import dataset_report

    def analysis(file_id: str, verdict: str, usable: float, snr: float, reasons: list[dict]) -> dict:
        # The fields analyze_file writes (no embedding: the speaker check needs two real ones).
        return {"version": 1, "filename": file_id, "file_id": file_id, "duration_seconds": usable + 4.0,
                "sample_rate": 16000, "channels": 1, "clipping_fraction": 0.0, "peak_dbfs": -3.0,
                "loudness_lufs": -20.5, "speech_seconds": usable + 1.0, "speech_ratio": 0.8, "utterance_count": 9,
                "snr_db": snr, "f0_median_hz": 187.0, "f0_p5_hz": 150.0, "f0_p95_hz": 240.0, "embedding": None,
                "verdict": verdict, "reasons": reasons, "usable_seconds": usable}

    noisy = {"code": "very_noisy", "severity": "reject", "message": "file_b is too noisy (estimated SNR 3 dB)."}
    report = dataset_report.build_report(
        [analysis("file_a", "ok", 42.0, 31.0, []), analysis("file_b", "rejected", 0.0, 3.0, [noisy])], 60.0)
    listed = [{"id": "file_a", "filename": "morning take.wav", "analysis": None},
              {"id": "file_b", "filename": "street.wav", "analysis": None}]

    page.execute_script("location.hash = '#datasets'; document.getElementById('dataset-detail').hidden = false")
    in_page(page, "js/report.js", "m.renderDatasetReport(document.getElementById('report-body'), "
            "{status: 'ready', report: args[0], files: args[1]})", report, listed)

    body = text_of(page, "#report-body")
    assert report["ok_to_train"] is False
    verdict = page.find_element(By.CSS_SELECTOR, "#report-body .verdict")
    assert verdict.text == "Not ready to train" and verdict.get_attribute("data-ok") == "false"
    assert report["message"] in body  # "Only 42 s of usable speech; at least 60 s is needed ...", once
    assert body.count(report["message"]) == 1
    assert "Usable speech\n42 s" in body
    assert "Files\n2 (1 rejected)" in body
    assert "Pitch\n187 Hz (150–240 Hz)" in body
    rows = page.find_elements(By.CSS_SELECTOR, "#report-body tbody tr")
    assert [r.find_element(By.CSS_SELECTOR, ".name").text for r in rows] == ["morning take.wav", "street.wav"]
    assert rows[1].find_element(By.CSS_SELECTOR, ".tag").text == "rejected"
    assert noisy["message"] in rows[1].text
    page.execute_script("document.getElementById('report-body').scrollIntoView()")
    (tmp_path / "dataset_report.png").write_bytes(page.get_screenshot_as_png())
