"""The peer in aula's transcription benchmark: faster-whisper on the same CTranslate2 weights.

usage: faster_whisper_run.py MODEL_DIR AUDIO LANG COMPUTE_TYPE VAD(0|1) OUT.json [BEAM_SIZE]

Writes the transcript in aula's JSON shape so both are scored by the same code.
"""
import json
import sys

from faster_whisper import WhisperModel


def main():
    model_dir, audio, lang, compute_type, vad, out = sys.argv[1:7]
    beam_size = int(sys.argv[7]) if len(sys.argv) > 7 else 1
    model = WhisperModel(model_dir, device="cpu", compute_type=compute_type, cpu_threads=2)
    segments, info = model.transcribe(
        audio,
        language=lang,
        beam_size=beam_size,
        vad_filter=vad == "1",
        word_timestamps=True,
    )
    doc = {"language": lang, "model": model_dir, "duration_ms": int(info.duration * 1000), "segments": []}
    for s in segments:
        words = [
            {
                "text": w.word.strip(),
                "start_ms": int(w.start * 1000),
                "end_ms": int(w.end * 1000),
                "confidence": w.probability,
            }
            for w in (s.words or [])
        ]
        doc["segments"].append(
            {"start_ms": int(s.start * 1000), "end_ms": int(s.end * 1000), "text": s.text.strip(), "words": words}
        )
    with open(out, "w") as f:
        json.dump(doc, f)


if __name__ == "__main__":
    main()
