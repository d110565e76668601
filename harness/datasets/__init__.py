"""Dataset registry entries. Strings only: nothing heavy is imported until a dataset is used."""

from harness.registry import DATASETS

DATASETS.add_lazy("belle-eval-s2s", "harness.datasets.builtin:BelleEvalS2S",
                  "BELLE-eval-S2S: 250 spoken Chinese questions (zh); path=DIR, BELLE_EVAL_S2S_DIR, or the Hub (ICTNLP/BELLE-eval-S2S)")
DATASETS.add_lazy("tts-en-sentences", "harness.datasets.builtin:EnglishTextSet",
                  "24 English sentences written for this project; offline TTS input (en)")
DATASETS.add_lazy("local", "harness.datasets.local:LocalManifest",
                  "any local TSV/JSONL manifest: path=FILE lang=xx [audio_dir=DIR name=SET]")
DATASETS.add_lazy("librispeech-test-clean", "harness.datasets.public:librispeech_test_clean",
                  "LibriSpeech test-clean (en, 2620 utts) from the Hub: openslr/librispeech_asr")
DATASETS.add_lazy("aishell-1-test", "harness.datasets.public:aishell1_test",
                  "AISHELL-1 test (zh, 7176 utts) from the Hub (parquet mirror; repo= to change)")
DATASETS.add_lazy("libritts-test-clean", "harness.datasets.public:libritts_test_clean",
                  "LibriTTS test-clean (en) from the Hub: mythicinfinity/libritts; TTS input text")
DATASETS.add_lazy("seed-tts-eval-en", "harness.datasets.public:seed_tts_eval_en",
                  "Seed-TTS-eval en (Common Voice, 1088 rows) from a local seedtts_testset folder")
DATASETS.add_lazy("seed-tts-eval-zh", "harness.datasets.public:seed_tts_eval_zh",
                  "Seed-TTS-eval zh (DiDiSpeech-2, 2020 rows) from a local seedtts_testset folder")
DATASETS.add_lazy("s2s-en-questions", "harness.datasets.s2s_questions:EnglishQuestions",
                  "12 short spoken English questions (en); audio built offline with Piper: path=DIR")
DATASETS.add_lazy("instructs2s-eval", "harness.datasets.s2s_questions:InstructS2SEval",
                  "InstructS2S-Eval (LLaMA-Omni, en, 199 spoken questions) from a local folder: path=DIR")
DATASETS.add_lazy("uro-bench", "harness.datasets.uro_bench:UroBench",
                  "URO-Bench, one set (set=NAME, URO's names: Repeat, AlpacaEval-zh, ...) from the unzipped release: path=DIR")
DATASETS.add_lazy("voicebench", "harness.datasets.voicebench:VoiceBench",
                  "VoiceBench (hlt-lab/voicebench, en): config=SUBSET [split=NAME] from the Hub, or path=DIR in the Hub's layout")
