#!/usr/bin/env python3
"""Fetches llama.cpp's tokenizer suite for Tests/ChorusTokenizersTests/LlamaVocabSuiteTests.swift.

llama.cpp keeps vocabulary-only GGUF files (models/ggml-vocab-*.gguf) with test inputs (.gguf.inp) and
expected ids (.gguf.out); they ship in llama-cpp-python's source distribution on PyPI under
vendor/llama.cpp/models/. This downloads that sdist with pip, checks its SHA-256, and keeps only those
files, in
    $CHORUS_LLAMA_VOCAB, else $CHORUS_HOME/llama-vocab/<version> ($CHORUS_HOME default ~/.cache/chorus)
where they stay between runs (about 75 MB): when the directory is complete this does nothing.
Prints the directory. scripts/test.sh runs it before the tests.
"""
import hashlib, os, pathlib, shutil, subprocess, sys, tarfile, tempfile

VERSION = "0.3.36"
SHA256 = "832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e"
MEMBERS = f"llama_cpp_python-{VERSION}/vendor/llama.cpp/models/ggml-vocab-"
MARKER = "COMPLETE"


def cache_directory():
    if os.environ.get("CHORUS_LLAMA_VOCAB"):
        return pathlib.Path(os.environ["CHORUS_LLAMA_VOCAB"])
    home = os.environ.get("CHORUS_HOME") or os.path.join(os.path.expanduser("~"), ".cache", "chorus")
    return pathlib.Path(home) / "llama-vocab" / VERSION


def is_complete(directory):
    marker = directory / MARKER
    if not marker.exists():
        return False
    return all((directory / name).exists() for name in marker.read_text().split())


def download(into):
    """The sdist via pip (it prepares the package's metadata, which needs its build backend)."""
    try:
        import scikit_build_core  # noqa: F401
    except ImportError:
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "scikit-build-core"], check=True)
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:",
                    "--no-build-isolation", "-d", str(into), f"llama-cpp-python=={VERSION}"], check=True)
    sdist = into / f"llama_cpp_python-{VERSION}.tar.gz"
    digest = hashlib.sha256(sdist.read_bytes()).hexdigest()
    if digest != SHA256:
        sys.exit(f"fetch.py: {sdist.name} has SHA-256 {digest}, expected {SHA256}")
    return sdist


def main():
    directory = cache_directory()
    if is_complete(directory):
        print(directory)
        return
    directory.mkdir(parents=True, exist_ok=True)
    print(f"fetching llama.cpp's tokenizer suite (llama-cpp-python {VERSION} sdist) into {directory}", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="chorus-llama-vocab-") as scratch:
        sdist = download(pathlib.Path(scratch))
        names = []
        with tarfile.open(sdist) as archive:
            for member in archive:
                if not member.isfile() or not member.name.startswith(MEMBERS) or "/" in member.name[len(MEMBERS):]:
                    continue
                name = os.path.basename(member.name)
                partial = directory / (name + ".partial")
                with archive.extractfile(member) as source, open(partial, "wb") as target:
                    shutil.copyfileobj(source, target)
                partial.rename(directory / name)
                names.append(name)
    if not names:
        sys.exit(f"fetch.py: no {MEMBERS}* files in the sdist")
    (directory / MARKER).write_text("\n".join(sorted(names)) + "\n")
    print(f"{len(names)} files", file=sys.stderr)
    print(directory)


if __name__ == "__main__":
    main()
