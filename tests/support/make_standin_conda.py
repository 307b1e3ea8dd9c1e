#!/usr/bin/python3
"""Builds a stand-in Anaconda/Miniconda installer for the tests (stdlib only).

    make_standin_conda.py --conda-version 24.3.0 --ledger /var/log/standin-conda/calls.log -o FILE
    make_standin_conda.py --conda-version 26.7.2 --distribution miniforge ... -o Miniforge3-26.7.2-0-Linux-x86_64.sh
    make_standin_conda.py --conda-version 25.5.1 ... -o Miniconda3-py313_25.5.1-1-Linux-x86_64.sh

The result is a self-extracting shell script like the real installers: the header
tests/fixtures/standin-conda/installer-header.sh with a compressed tarball appended, which lays
down PREFIX/bin/conda (tests/fixtures/standin-conda/conda), bin/python, bin/activate,
etc/profile.d/conda.sh, conda-meta/ (base's history and records) and, for conda >= 4.6,
condabin/conda. See the comments at the top of each of those files for what it mimics.

Two flavours, chosen by --conda-version:
  4.x    (legacy)  Anaconda3-2018.12, conda 4.5.12: no `conda init`, a .tar.bz2 payload (needs the
                   bzip2 program at install time, like the old installers), base python 3.7.1,
                   default prefix ~/anaconda3
  others (modern)  `conda init`, a .tar.gz payload; by --distribution:
                   miniconda  Miniconda3-py312_24.3.0-0 (or py313_<version>-1 for another version),
                              channels `defaults`, default prefix ~/miniconda3; from conda 25.5 on
                              with Anaconda's ToS plugin (conda-anaconda-tos 0.2.2), like the real
                              Miniconda installers since July 2025
                   miniforge  Miniforge3-<version>-0: a .condarc with conda-forge as the only
                              channel, no ToS plugin, default prefix ~/miniforge3
                              (conda-forge/miniforge Miniforge3/construct.yaml, README)
With --env-python PATH (a Python inside the target, e.g. /usr/bin/python3), the envs conda creates
are venvs of that real Python instead of the fake bin/python, their pip upgraded from
--env-pip-wheel (a pip wheel inside the target) when given: for tests that need the real pip.
Every start of the installer and every conda call is appended to the --ledger file (as
"<user> TAB installer|conda TAB <arguments>"), which must be writable by whoever runs them.
--payload-bytes N adds N zero bytes (pkgs/standin-payload.bin), stored without compression, so
that the installer has the size of a real one (scripts/bench/ready.sh). The output is byte for byte
the same for the same arguments.
"""

import argparse
import hashlib
import io
import os
import re
import sys
import tarfile

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE = os.path.join(HERE, "..", "fixtures", "standin-conda")
# conda's build-prefix placeholder: text files carry it until they are linked into a prefix.
PLACEHOLDER = "/opt/anaconda1anaconda2anaconda3"
MTIME = 1710000000  # fixed, so that the same arguments give the same bytes


def preprocess(text, flavour):
    """Keeps the "#if <flavour>" ... "#endif" blocks of `flavour`, drops the others'."""
    out, keep = [], True
    for line in text.splitlines(keepends=True):
        stripped = line.strip()
        if stripped.startswith("#if "):
            keep = stripped[4:].strip() == flavour
            continue
        if stripped == "#endif":
            keep = True
            continue
        if keep:
            out.append(line)
    return "".join(out)


def fill(text, values):
    for key, value in values.items():
        text = text.replace("@%s@" % key, value)
    return text


def read_fixture(name):
    with open(os.path.join(FIXTURE, name), encoding="utf-8") as stream:
        return stream.read()


def add_file(archive, path, data, mode):
    info = tarfile.TarInfo(path)
    info.size = len(data)
    info.mode = mode
    info.mtime = MTIME
    info.uname = info.gname = "root"
    archive.addfile(info, io.BytesIO(data))


def add_dir(archive, path):
    info = tarfile.TarInfo(path)
    info.type = tarfile.DIRTYPE
    info.mode = 0o755
    info.mtime = MTIME
    archive.addfile(info)


def add_symlink(archive, path, target):
    info = tarfile.TarInfo(path)
    info.type = tarfile.SYMTYPE
    info.linkname = target
    info.mode = 0o777
    info.mtime = MTIME
    archive.addfile(info)


def record(name, version):
    return (
        '{\n  "name": "%s",\n  "version": "%s",\n  "build": "h0",\n  "build_number": 0,\n'
        '  "channel": "https://repo.anaconda.com/pkgs/main/linux-64",\n  "files": []\n}\n' % (name, version)
    ).encode()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--conda-version", required=True, help="24.3.0 (Miniconda) or 4.5.12 (Anaconda3-2018.12)")
    parser.add_argument("--distribution", choices=("anaconda", "miniconda", "miniforge"),
                        help="default: anaconda for conda 4.x, else miniconda")
    parser.add_argument("--ledger", required=True, help="file the installer and conda append their calls to")
    parser.add_argument("--env-python", default="", help="a real Python whose venvs the envs are")
    parser.add_argument("--env-pip-wheel", default="", help="a pip wheel each env's pip is upgraded from")
    parser.add_argument("--payload-bytes", type=int, default=0,
                        help="zero bytes unpacked to pkgs/standin-payload.bin, stored uncompressed: an installer of a real size")
    parser.add_argument("-o", "--output", required=True)
    args = parser.parse_args()

    legacy = args.conda_version.startswith("4.")
    flavour = "legacy" if legacy else "modern"
    distribution = args.distribution or ("anaconda" if legacy else "miniconda")
    numbers = tuple(int(part) for part in args.conda_version.split(".")[:2])
    tos_plugin = distribution == "miniconda" and numbers >= (25, 5)
    condarc_channels = "conda-forge" if distribution == "miniforge" else "defaults"
    if legacy:
        name, version, prefix_name, python_version, compression = "Anaconda3", "2018.12", "anaconda3", "3.7.1", "bz2"
    elif distribution == "miniforge":
        name, version, prefix_name, python_version, compression = (
            "Miniforge3", args.conda_version + "-0", "miniforge3", "3.13.5", "gz")
    elif args.conda_version == "24.3.0":
        name, version, prefix_name, python_version, compression = "Miniconda3", "py312_24.3.0-0", "miniconda3", "3.12.2", "gz"
    else:
        name, version, prefix_name, python_version, compression = (
            "Miniconda3", "py313_%s-1" % args.conda_version, "miniconda3", "3.13.5", "gz")
    values = {
        "CONDA_VERSION": args.conda_version,
        "LEDGER": args.ledger,
        "PLACEHOLDER": PLACEHOLDER,
        "PYTHON_VERSION": python_version,
        "TOS_PLUGIN": "yes" if tos_plugin else "no",
        "CONDARC_CHANNELS": condarc_channels,
        "ENV_PYTHON": args.env_python,
        "ENV_PIP_WHEEL": args.env_pip_wheel,
    }

    if args.payload_bytes and compression != "gz":
        sys.exit("make_standin_conda.py: --payload-bytes needs a .tar.gz payload (not conda 4.x)")
    # Level 0 keeps the zeros' size in the download (gzip's stored blocks), as a real installer's
    # packages, already compressed, keep theirs.
    options = {"compresslevel": 0} if args.payload_bytes else {}
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:" + compression, format=tarfile.GNU_FORMAT, **options) as archive:
        for folder in ("bin", "conda-meta", "etc", "etc/profile.d", "pkgs") + (() if legacy else ("condabin",)):
            add_dir(archive, folder)
        add_file(archive, "bin/conda", fill(read_fixture("conda"), values).encode(), 0o755)
        add_file(archive, "bin/python", fill(read_fixture("python"), values).encode(), 0o755)
        add_symlink(archive, "bin/python3", "python")
        add_file(archive, "bin/activate", fill(read_fixture("activate"), values).encode(), 0o644)
        add_file(archive, "etc/profile.d/conda.sh", fill(preprocess(read_fixture("conda.sh"), flavour), values).encode(), 0o644)
        if not legacy:
            # conda >= 4.6 puts only condabin on PATH; its conda is the same program.
            add_file(archive, "condabin/conda", b'#!/bin/sh\nexec "$(dirname "$0")/../bin/conda" "$@"\n', 0o755)
        add_file(archive, "conda-meta/history",
                 ("==> 2024-03-12 00:00:00 <==\n# cmd: constructor\n# conda version: %s\n+defaults/linux-64::conda-%s-h0\n"
                  "+defaults/linux-64::python-%s-h0\n" % (args.conda_version, args.conda_version, python_version)).encode(), 0o644)
        add_file(archive, "conda-meta/conda-%s-h0.json" % args.conda_version, record("conda", args.conda_version), 0o644)
        add_file(archive, "conda-meta/python-%s-h0.json" % python_version, record("python", python_version), 0o644)
        if distribution == "miniforge":
            # construct.yaml write_condarc: True, channels: [conda-forge]
            add_file(archive, ".condarc", b"channels:\n  - conda-forge\n", 0o644)
        if tos_plugin:
            add_dir(archive, "lib/python3.13/site-packages/conda_anaconda_tos")
        if args.payload_bytes:
            add_file(archive, "pkgs/standin-payload.bin", bytes(args.payload_bytes), 0o644)
        add_file(archive, "LICENSE.txt", b"A test stand-in for %s %s; not Anaconda's software.\n" % (name.encode(), version.encode()), 0o644)
    payload = buffer.getvalue()
    if compression == "gz":
        # gzip stores a time stamp at bytes 4-7: zero it, so that the output is reproducible.
        payload = payload[:4] + b"\0\0\0\0" + payload[8:]

    header = fill(read_fixture("installer-header.sh"), {
        "NAME": name,
        "VERSION": version,
        "DEFAULT_PREFIX_NAME": prefix_name,
        "LEDGER": args.ledger,
        "PLACEHOLDER": PLACEHOLDER,
        "TAR_COMPRESSION": "j" if compression == "bz2" else "z",
        "MD5": hashlib.md5(payload).hexdigest(),
    })
    header = header.replace("@LINES@", str(header.count("\n") + 1))
    left = re.findall(r"@[A-Z_]+@", header.replace("@@END_HEADER@@", ""))
    if left:
        sys.exit("make_standin_conda.py: placeholders left in the header: %s" % " ".join(sorted(set(left))))
    temporary = args.output + ".tmp"
    with open(temporary, "wb") as stream:
        stream.write(header.encode() + payload)
    os.chmod(temporary, 0o755)
    os.replace(temporary, args.output)


if __name__ == "__main__":
    main()
