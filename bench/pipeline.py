"""Shard-builder benchmark: throughput against a plain one-pass ffmpeg floor, and flat memory.

    .venv/bin/python bench/pipeline.py [--videos 4] [--seconds 60] [--long-seconds 600]

1. Throughput, in source-video seconds per CPU-second, on 720p30 H.264 + AAC stereo input:
   (a) the floor: one plain ffmpeg command per file doing the same transform (fps 10, scale to
       short side 256, H.264 veryfast crf 23 in 32-frame mp4 segments, mono 48 kHz FLAC
       segments), (b) the whole `python -m pipeline build` (Beam, probe, decode, encode,
       alignment, per-video tars, shards, index). CPU-seconds include every child process.
   Prints both and the ratio (b)/(a); the goal is >= 0.8.
2. Peak memory of one worker (`process_video` in a fresh process, and its ffmpeg child) on a
   `--long-seconds` video vs a `--seconds` one: the ratio should be ~1 (flat).
3. ASR on the demo corpus's speech videos (espeak-ng, no captions; the corpus of `make corpus`,
   written under data/bench/ when missing): word error rate against the spoken sentences and
   CPU-seconds per audio-second of each engine (`--asr-engines`), model loading apart.
   `--only-asr` runs this part alone.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline.synth.media import synth_video  # noqa: E402

CACHE = ROOT / "data" / "bench"


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def timed(cmd: list[str], **kw) -> tuple[float, float]:
    """Run a command; (wall seconds, CPU seconds of it and all its waited-for descendants)."""
    c0, t0 = _children_cpu(), time.monotonic()
    subprocess.run(cmd, check=True, **kw)
    return time.monotonic() - t0, _children_cpu() - c0


def make_inputs(n: int, seconds: float) -> list[Path]:
    CACHE.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(n):
        p = CACHE / f"in720_{int(seconds)}s_{i}.mp4"
        if not p.exists():
            print(f"making {p.name} ...", flush=True)
            part = p.with_name(p.stem + ".part.mp4")  # renamed when whole: a killed run leaves none
            synth_video(
                part,
                seconds,
                width=1280,
                height=720,
                fps=30,
                audio="sine",
                channels=2,
                sample_rate=44100,
                timeout_s=60 + 2 * seconds,
            )
            part.rename(p)
        out.append(p)
    return out


def floor_command(src: Path, outdir: Path) -> list[str]:
    vf = "fps=fps=10:start_time=0,scale=456:256:flags=bilinear,setsar=1,format=yuv420p"
    return [
        "ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-threads", "1", "-i", str(src),
        "-map", "0:v:0", "-filter_threads", "1", "-vf", vf, "-c:v", "libx264", "-preset", "veryfast",
        "-crf", "23", "-x264-params", "threads=1:keyint=32:min-keyint=32:scenecut=0",
        "-f", "segment", "-segment_time", "3.2",
        "-reset_timestamps", "1", str(outdir / "v%05d.mp4"),
        "-map", "0:a:0", "-af", "aresample=48000:async=1:first_pts=0", "-ac", "1", "-c:a", "flac",
        "-f", "segment", "-segment_time", "3.2", str(outdir / "a%05d.flac"),
    ]  # fmt: skip


def run_pipeline(
    videos: list[Path], workers: int, tmp: Path, name: str
) -> tuple[float, float, int]:
    manifest = tmp / f"{name}.jsonl"
    manifest.write_text("".join(json.dumps({"video": str(v)}) + "\n" for v in videos))
    cmd = [
        sys.executable, "-m", "pipeline", "build", "--input", str(manifest), "--output",
        str(tmp / name), "--asr", "none", "--val-fraction", "0", "--progress-every", "600",
        f"--direct_num_workers={workers}",
    ]  # fmt: skip
    wall, cpu = timed(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ds = json.loads((tmp / name / "dataset.json").read_text())
    return wall, cpu, ds["counts"]["samples"]


def bench_throughput(videos: list[Path], seconds: float, workers: int) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="vatt-bench-"))
    try:
        cpu_floor = wall_floor = 0.0
        for v in videos:
            d = tmp / f"floor-{v.stem}"
            d.mkdir()
            w, c = timed(floor_command(v, d))
            wall_floor += w
            cpu_floor += c
        # the job on one video and on all: the difference is the per-video cost at steady state
        wall_1, cpu_1, _ = run_pipeline(videos[:1], workers, tmp, "one")
        wall_n, cpu_n, clips = run_pipeline(videos, workers, tmp, "all")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    total = seconds * len(videos)
    marginal = (cpu_n - cpu_1) / max(total - seconds, 1e-9)
    return {
        "video_seconds": total,
        "clips": clips,
        "floor_video_s_per_cpu_s": total / cpu_floor,
        "pipeline_video_s_per_cpu_s": total / cpu_n,
        "pipeline_marginal_video_s_per_cpu_s": 1.0 / marginal if marginal > 0 else float("inf"),
        "ratio_vs_floor": cpu_floor / cpu_n,
        "marginal_ratio_vs_floor": (cpu_floor / total)
        * (1.0 / marginal if marginal > 0 else float("inf")),
        "startup_cpu_s": cpu_1 - seconds * marginal,
        "floor_cpu_s": cpu_floor,
        "pipeline_cpu_s": cpu_n,
        "pipeline_wall_s": wall_n,
        "floor_wall_s": wall_floor,
    }


WORKER = """
import json, resource, sys, tempfile
from pipeline.options import BuildOptions
from pipeline.manifest import ManifestRow
from pipeline.video import process_video
out = tempfile.mkdtemp()
row = ManifestRow(video=sys.argv[1], video_id="bench", line=1, captions=None)
rec = process_video(row, out, BuildOptions(asr="none"))
me = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"clips": rec.clips, "worker_kb": me, "ffmpeg_kb": kids, "failures": len(rec.failures)}))
"""


def bench_memory(short: Path, long: Path) -> dict:
    res = {}
    for name, path in (("short", short), ("long", long)):
        out = subprocess.run(
            [sys.executable, "-c", WORKER, str(path)],
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        )
        res[name] = json.loads(out.stdout.strip().splitlines()[-1])
        if not res[name]["clips"]:
            raise SystemExit(f"no clip was cut from {path}: the memory numbers would mean nothing")
    res["worker_peak_ratio_long_vs_short"] = res["long"]["worker_kb"] / res["short"]["worker_kb"]
    res["ffmpeg_peak_ratio_long_vs_short"] = res["long"]["ffmpeg_kb"] / res["short"]["ffmpeg_kb"]
    return res


def demo_speech(folder: Path) -> list[tuple[str, Path, str]]:
    """(video id, 16 kHz mono s16le PCM as the pipeline makes it, spoken text) of the demo
    corpus's speech videos."""
    from pipeline.decode import ASR_SAMPLE_RATE
    from pipeline.synth.demo_corpus import write_demo_corpus

    manifest = folder / "manifest.jsonl"
    if not manifest.exists():
        write_demo_corpus(folder)
    out = []
    for line in manifest.read_text().splitlines():
        row = json.loads(line)
        if "speech" not in row["variants"]:
            continue
        pcm = folder / "asr" / f"{row['id']}.s16le"
        if not pcm.exists():
            pcm.parent.mkdir(exist_ok=True)
            af = f"aresample={ASR_SAMPLE_RATE}:async=1:first_pts=0"  # as pipeline.decode does
            subprocess.run(
                ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(folder / row["video"]),
                 "-map", "0:a:0", "-af", af, "-ac", "1", "-f", "s16le", str(pcm)],
                check=True,
            )  # fmt: skip
        out.append((row["id"], pcm, " ".join(s["text"] for s in row["scenes"])))
    return out


def bench_asr(engines: list[str]) -> dict[str, dict]:
    """WER and CPU-s per audio-second of each engine on the demo's speech (in this process:
    process_time counts every thread of an engine)."""
    from pipeline.asr import load_engine
    from pipeline.decode import ASR_SAMPLE_RATE
    from pipeline.wer import corpus_wer

    speech = demo_speech(CACHE / "demo-corpus")
    audio_s = sum(p.stat().st_size / 2 / ASR_SAMPLE_RATE for _, p, _ in speech)
    res = {}
    for name in engines:
        c0 = time.process_time()
        engine = load_engine(name)
        load_cpu = time.process_time() - c0
        pairs, c0 = [], time.process_time()
        for _, pcm, text in speech:
            said = " ".join(s.text for s in engine.transcribe(str(pcm), ASR_SAMPLE_RATE))
            pairs.append((text, said))
        cpu = time.process_time() - c0
        res[name] = {
            "videos": len(speech),
            "audio_s": audio_s,
            "wer": corpus_wer(pairs),
            "cpu_s_per_audio_s": cpu / audio_s,
            "load_cpu_s": load_cpu,
            "example": pairs[0],
        }
    return res


def print_asr(res: dict[str, dict]) -> None:
    first = next(iter(res.values()))
    print(
        f"== ASR on the demo corpus's {first['videos']} speech videos ({first['audio_s']:.0f} s of "
        "espeak-ng speech, one thread) =="
    )
    for name, r in res.items():
        print(
            f"{name:26s} WER {100 * r['wer']:5.1f}%  {r['cpu_s_per_audio_s']:.3f} CPU-s per "
            f"audio-second  (model load {r['load_cpu_s']:.1f} CPU-s)"
        )
    for name, r in res.items():
        print(f"  {name}: said {r['example'][0]!r}, heard {r['example'][1]!r}")


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--videos", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--long-seconds", type=float, default=600.0)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--skip-memory", action="store_true")
    ap.add_argument(
        "--asr-engines", default="faster-whisper:tiny.en,pocketsphinx", help="comma-separated"
    )
    ap.add_argument("--only-asr", action="store_true")
    a = ap.parse_args()
    engines = [e for e in a.asr_engines.split(",") if e]
    if a.only_asr:
        print_asr(bench_asr(engines))
        return
    videos = make_inputs(a.videos, a.seconds)
    t = bench_throughput(videos, a.seconds, a.workers)
    print("== throughput (720p30 H.264 + AAC stereo -> 32x256p clips + 48 kHz FLAC) ==")
    print(
        f"input: {a.videos} x {a.seconds:.0f} s = {t['video_seconds']:.0f} s of video, {t['clips']} clips"
    )
    print(
        f"floor (plain one-pass ffmpeg):  {t['floor_video_s_per_cpu_s']:.2f} video-s per CPU-s ({t['floor_cpu_s']:.1f} CPU-s)"
    )
    print(
        f"pipeline (Beam, end to end):    {t['pipeline_video_s_per_cpu_s']:.2f} video-s per CPU-s ({t['pipeline_cpu_s']:.1f} CPU-s, {t['pipeline_wall_s']:.1f} s wall)"
    )
    print(
        f"pipeline, per extra video:      {t['pipeline_marginal_video_s_per_cpu_s']:.2f} video-s per CPU-s (one-time startup {t['startup_cpu_s']:.1f} CPU-s)"
    )
    print(
        f"ratio pipeline / floor:         {t['ratio_vs_floor']:.2f} end to end incl. startup, {t['marginal_ratio_vs_floor']:.2f} at steady state  (goal >= 0.8)"
    )
    if not a.skip_memory:
        short = make_inputs(1, a.seconds)[0]
        long = make_inputs(1, a.long_seconds)[0]
        m = bench_memory(short, long)
        print(f"== peak memory of one worker: {a.seconds:.0f} s vs {a.long_seconds:.0f} s video ==")
        for k in ("short", "long"):
            print(
                f"{k:5s}: {m[k]['clips']:4d} clips, worker {m[k]['worker_kb'] / 1024:.0f} MB, ffmpeg {m[k]['ffmpeg_kb'] / 1024:.0f} MB"
            )
        print(
            f"ratio long/short: worker {m['worker_peak_ratio_long_vs_short']:.2f}, ffmpeg {m['ffmpeg_peak_ratio_long_vs_short']:.2f}  (goal ~1: flat)"
        )
    if engines:
        print_asr(bench_asr(engines))


if __name__ == "__main__":
    main()
