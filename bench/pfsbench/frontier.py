"""Size against time for build -c (issue 5's two build targets together):
`build -c` at zstd levels 3 (the default), 4, 5 and 7, with the default
32 KiB frames and with one frame per chunk (--frame-size 262144, the
largest chunk: a chunk compressed as one stream, as casync stores it),
run side by side with `tar | zstd -3 -T2` and `casync make` on /usr/share
and /usr/lib, interleaved and rotated like the build section.  Each
setting gives a point (time / tar|zstd, size / casync store); the targets
ask for both at most 1.  Every setting stays readable by the reference
(any level, any frame size)."""
from . import build
from .common import save

LEVELS = [3, 4, 5, 7]
WHOLE = 262144                  # FastCDC's largest chunk: one frame each
CORPORA = ["share", "lib"]


def _setting(level, frame):
    flags = ["-c"] + (["--zstd-level", str(level)] if level != 3 else []) \
        + (["--frame-size", str(frame)] if frame else [])
    name = f"-c level {level}, " + (f"{frame // 1024} KiB frames" if frame else "32 KiB frames")
    return name, (f"puzzlefs build {' '.join(flags)}", build.TOOLS["puzzlefs -c"][1],
                  build.puzzlefs_build(flags))


def settings():
    """name -> (description, threads, command maker), build.TOOLS style,
    plus the level and the frame size of each puzzlefs setting."""
    table, shape = {}, {}
    for frame in (None, WHOLE):
        for level in LEVELS:
            name, tool = _setting(level, frame)
            table[name] = tool
            shape[name] = {"level": level, "frame": frame or 32768}
    for peer in ("tar|zstd", "casync"):
        table[peer] = build.TOOLS[peer]
    return table, shape


def run(ctx):
    table, shape = settings()
    data = {"corpora": {}, "settings": shape}
    for name in ctx.corpora(CORPORA):
        if name not in CORPORA:
            continue
        data["corpora"][name] = build.bench_corpus(ctx, name, list(table), ctx.runs,
                                                   table)
    save(ctx, "frontier", data)
