"""Worker threads decode the engine's documents at once; msgspec must not crash the process.

msgspec 0.22 builds a Struct type's conversion tables lazily and without a lock: threads that
convert a type for the first time together can kill the process with SIGSEGV. `core.documents`
builds a decoder of each document when it is imported; this checks, in a fresh interpreter, that
building a decoder first is what keeps racing threads safe, and that the documents module does it
for every type its readers convert.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

RACE = textwrap.dedent(
    """
    import sys, threading
    import msgspec

    sys.setswitchinterval(1e-6)
    for _ in range(150):
        class Inner(msgspec.Struct):
            a: int = 0
            b: list[str] = []

        class Outer(msgspec.Struct):
            x: Inner = msgspec.field(default_factory=Inner)
            z: list[Inner] = []

        msgspec.json.Decoder(Outer)  # what core.documents does for each document
        barrier = threading.Barrier(8)

        def work():
            barrier.wait()
            msgspec.convert({"x": {"a": 1, "b": ["q"]}, "z": [{"a": 2}]}, Outer, strict=False)

        threads = [threading.Thread(target=work) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    print("survived")
    """
)


def test_a_decoder_built_first_keeps_racing_conversions_safe():
    done = subprocess.run([sys.executable, "-c", RACE], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, (done.returncode, done.stderr[-2000:])
    assert "survived" in done.stdout


def test_every_document_a_reader_converts_is_warmed_at_import():
    from pathlib import Path

    source = Path(documents_path()).read_text(encoding="utf-8")
    warmed = source.split("for _document in (", 1)[1].split(")", 1)[0]
    converted = {
        line.split("msgspec.convert(", 1)[1].split(",")[1].strip()
        for line in source.splitlines()
        if "msgspec.convert(" in line
    }
    assert converted, "the readers convert with msgspec.convert"
    for name in converted:
        assert name in warmed, f"{name} is converted by a reader but not warmed at import"


def documents_path() -> str:
    from restore.engine.core import documents

    return documents.__file__
