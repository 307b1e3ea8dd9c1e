#!/usr/bin/python3
"""Builds a stand-in for one of download.pytorch.org's wheel indexes, with real wheels (stdlib only).

    make_wheel_index.py OUT_DIR --torch 2.6.0+cu126 --python 3.11 [--torch-size BYTES] [--dep-size BYTES]
                        [--deps FILE] [--torchvision 0.21.0 [--torchvision-newer 0.22.0=2.7.0]]

Writes OUT_DIR/whl/VARIANT/ (VARIANT from the torch version's local part, e.g. cu126), the way
PyTorch's index serves it (pytorch/test-infra s3_management/manage_v2.py, to_simple_package_html):
  index.html                the project list (PEP 503)
  PROJECT/index.html        one page per project, PEP 503 normalized names; each link
                            href="/whl/VARIANT/FILE#sha256=HEX" with data-dist-info-metadata and
                            data-core-metadata "sha256=HEX" (PEP 658 and its PEP 714 rename)
  FILE, FILE.metadata       the wheels, and each wheel's METADATA beside it (PEP 658)
The wheels are real ones pip installs: a torch wheel (cpXY-cpXY-manylinux_2_28_x86_64) whose
Requires-Dist names the 14 nvidia-* runtime wheels, triton and the pure-Python dependencies as
torch 2.6.0+cu126's METADATA does (pytorch/pytorch#146679 quotes it; the versions here are made
up), and those wheels (py3-none-manylinux_2_27_x86_64 for nvidia-* and triton, py3-none-any for
the rest), each Name: spelled as the requirements that name it spell it (pip before 23.2 compared
a PEP 658 file's Name with the requirement as written, pypa/pip#12038). --deps FILE replaces the
nvidia-* and triton wheels by FILE's lines "PROJECT VERSION BYTES" (# starts a comment; BYTES the
wheel's payload), for a torch of another release (scripts/bench/ready.sh: torch 2.9.1's 16, at
their real sizes). Their payloads are zero-filled and stored uncompressed, so the files have the
sizes asked for; they are written in pieces, so a wheel of gigabytes needs little memory. torch's
package answers the agent's probe (steps/gpu_common.cpp k_torch_probe) the way the stand-in
conda's fake python does (tests/fixtures/standin-conda/python, torch_report):
torch.__version__, torch.version.cuda, torch.cuda.is_available() (a CUDA build, `nvidia-smi -L`
works and the driver meets the build's minimum), device_count() and get_device_name(i) from
nvidia-smi. With --torchvision, torchvision VERSION+VARIANT (cpXY manylinux_2_28_x86_64) whose
Requires-Dist are torchvision's (pytorch/vision setup.py get_requirements: numpy, torch==TORCH
without its local part, as PYTORCH_VERSION pins it in PyTorch's builds, pillow!=8.3.*,>=5.3.0;
extras gdown and scipy), its package answering the probe's `import torchvision` with
__version__, and the numpy and pillow wheels it names (PyTorch's index serves both under each
variant, s3_management/manage_v2.py PACKAGE_LINKS_ALLOW_LIST); --torchvision-newer adds a newer
torchvision that requires another torch, which pip must pass over. Prints one line per wheel:
FILE TAB SIZE TAB SHA256. The output is byte for byte the same for the same arguments.
"""

import argparse
import base64
import hashlib
import os
import re
import sys
import zipfile

DATE = (2025, 1, 29, 0, 0, 0)  # fixed, so that the same arguments give the same bytes
NVIDIA = [  # (project, version) as torch 2.6.0+cu126 names them; versions made up
    ("nvidia-cuda-nvrtc-cu12", "12.6.77"), ("nvidia-cuda-runtime-cu12", "12.6.77"),
    ("nvidia-cuda-cupti-cu12", "12.6.80"), ("nvidia-cudnn-cu12", "9.5.1.17"),
    ("nvidia-cublas-cu12", "12.6.4.1"), ("nvidia-cufft-cu12", "11.3.0.4"),
    ("nvidia-curand-cu12", "10.3.7.77"), ("nvidia-cusolver-cu12", "11.7.1.2"),
    ("nvidia-cusparse-cu12", "12.5.4.2"), ("nvidia-cusparselt-cu12", "0.6.3"),
    ("nvidia-nccl-cu12", "2.21.5"), ("nvidia-nvtx-cu12", "12.6.77"),
    ("nvidia-nvjitlink-cu12", "12.6.85"), ("nvidia-cufile-cu12", "1.11.1.6"),
]
LINUX = '; platform_system == "Linux" and platform_machine == "x86_64"'
VISION_DEPENDENCIES = [("numpy", "2.2.2"), ("pillow", "11.1.0")]  # versions made up
PURE = [("filelock", "3.17.0", []), ("typing-extensions", "4.12.2", []), ("networkx", "3.4.2", []),
        ("MarkupSafe", "3.0.2", []), ("jinja2", "3.1.5", ["MarkupSafe>=2.0"]), ("fsspec", "2024.12.0", []),
        ("mpmath", "1.3.0", []), ("sympy", "1.13.1", ["mpmath<1.4,>=1.1.0"])]

TORCH_INIT = '''"""cs231n-agent test stand-in for torch (tests/support/make_wheel_index.py): not PyTorch."""
import subprocess as _subprocess

__version__ = %(version)r


class version:
    cuda = %(cuda)r


def _smi(*arguments):
    try:
        return _subprocess.run(["nvidia-smi", *arguments], capture_output=True, text=True, check=True).stdout
    except (OSError, _subprocess.CalledProcessError):
        return None


def _numbers(text):
    return tuple(int(part) for part in text.split(".") if part.isdigit())


class cuda:
    # The driver a CUDA major's builds need (CUDA's minor-version compatibility).
    _MINIMUM = {"9": "384.81", "10": "410.48", "11": "450.80.02", "12": "525.60.13"}

    @staticmethod
    def _names():
        if version.cuda is None or _smi("-L") is None:
            return []
        driver = (_smi("--query-gpu=driver_version", "--format=csv,noheader") or "").splitlines()
        minimum = cuda._MINIMUM.get(version.cuda.split(".")[0], "580.0")
        if not driver or _numbers(driver[0]) < _numbers(minimum):
            return []
        return (_smi("--query-gpu=name", "--format=csv,noheader") or "").splitlines()

    @staticmethod
    def is_available():
        return bool(cuda._names())

    @staticmethod
    def device_count():
        return len(cuda._names())

    @staticmethod
    def get_device_name(index):
        return cuda._names()[index]
'''


def normalized(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def record_hash(data):
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def metadata_text(name, version, requires):
    lines = ["Metadata-Version: 2.1", "Name: " + name, "Version: " + version,
             "Summary: cs231n-agent test stand-in for %s (not the real package)" % name, "Requires-Python: >=3.9"]
    for requirement in requires:
        extra = re.search(r'extra == "([^"]+)"', requirement)
        if extra:
            lines.append("Provides-Extra: " + extra.group(1))
        lines.append("Requires-Dist: " + requirement)
    return ("\n".join(lines) + "\n").encode()


CHUNK = 8 << 20


def wheel(folder, name, version, tag, requires, files, padding):
    """Writes folder/FILE, a wheel holding `files` and `padding` zero bytes; returns (FILE, size, sha256, METADATA)."""
    distribution = re.sub(r"[-_.]+", "_", name)
    info = "%s-%s.dist-info" % (distribution, version)
    metadata = metadata_text(name, version, requires)
    members = dict(files)
    members[info + "/METADATA"] = metadata
    root_is_purelib = "true" if tag.endswith("-any") else "false"
    members[info + "/WHEEL"] = ("Wheel-Version: 1.0\nGenerator: make_wheel_index.py\nRoot-Is-Purelib: %s\nTag: %s\n"
                                % (root_is_purelib, tag)).encode()
    payload_path = "%s/_payload.bin" % distribution.lower()
    payload_hash = hashlib.sha256()
    for offset in range(0, padding, CHUNK):
        payload_hash.update(bytes(min(CHUNK, padding - offset)))
    payload_record = "%s,sha256=%s,%d\n" % (
        payload_path, base64.urlsafe_b64encode(payload_hash.digest()).rstrip(b"=").decode(), padding)
    record = payload_record + "".join("%s,%s,%d\n" % (path, record_hash(data), len(data)) for path, data in members.items())
    members[info + "/RECORD"] = (record + info + "/RECORD,,\n").encode()
    file_name = "%s-%s-%s.whl" % (distribution, version, tag)
    path = os.path.join(folder, file_name)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        entry = zipfile.ZipInfo(payload_path, DATE)
        entry.external_attr = 0o644 << 16
        with archive.open(entry, "w", force_zip64=padding >= zipfile.ZIP64_LIMIT) as stream:
            for offset in range(0, padding, CHUNK):
                stream.write(bytes(min(CHUNK, padding - offset)))
        for member, data in members.items():
            entry = zipfile.ZipInfo(member, DATE)
            entry.external_attr = 0o644 << 16
            archive.writestr(entry, data)
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(CHUNK), b""):
            digest.update(block)
    return file_name, os.path.getsize(path), digest.hexdigest(), metadata


def read_deps(path):
    """FILE's "PROJECT VERSION BYTES" lines."""
    deps = []
    with open(path) as stream:
        for line in stream:
            fields = line.split("#", 1)[0].split()
            if fields:
                if len(fields) != 3 or not fields[2].isdigit():
                    sys.exit("make_wheel_index.py: --deps: not PROJECT VERSION BYTES: %s" % line.strip())
                deps.append((fields[0], fields[1], int(fields[2])))
    return deps


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out")
    parser.add_argument("--torch", required=True, help="VERSION+VARIANT, e.g. 2.6.0+cu126")
    parser.add_argument("--python", required=True, help="the env's Python, e.g. 3.11")
    parser.add_argument("--torch-size", type=int, default=8 << 20)
    parser.add_argument("--dep-size", type=int, default=1 << 20, help="payload of each nvidia-* and triton wheel")
    parser.add_argument("--deps", help='"PROJECT VERSION BYTES" lines: the wheels torch depends on instead')
    parser.add_argument("--torchvision", help="the torchvision release built for --torch, e.g. 0.21.0")
    parser.add_argument("--torchvision-newer", help="VERSION=TORCH: a newer torchvision, for another torch")
    args = parser.parse_args()
    if "+" not in args.torch:
        sys.exit("make_wheel_index.py: --torch needs a local part (2.6.0+cu126)")
    variant = args.torch.split("+", 1)[1]
    match = re.fullmatch(r"cu(\d+)(\d)", variant)
    cuda = "%s.%s" % match.groups() if match else None
    python = "cp" + args.python.replace(".", "")

    deps = read_deps(args.deps) if args.deps else [(name, version, args.dep_size) for name, version in
                                                    NVIDIA + [("triton", "3.2.0")]]
    torch_requires = ["filelock", "typing-extensions>=4.10.0", "networkx", "jinja2", "fsspec"]
    torch_requires += ["%s==%s%s" % (name, version, LINUX) for name, version, _ in deps]
    torch_requires += ['sympy==1.13.1; python_version >= "3.9"']
    init = (TORCH_INIT % {"version": args.torch, "cuda": cuda}).encode()
    folder = os.path.join(args.out, "whl", variant)
    os.makedirs(folder, exist_ok=True)
    wheels = [wheel(folder, "torch", args.torch, "%s-%s-manylinux_2_28_x86_64" % (python, python), torch_requires,
                    {"torch/__init__.py": init}, args.torch_size)]
    for name, version, size in deps:
        wheels.append(wheel(folder, name, version, "py3-none-manylinux_2_27_x86_64", [], {}, size))
    for name, version, requires in PURE:
        wheels.append(wheel(folder, name, version, "py3-none-any", requires, {}, 4096))
    visions = []
    if args.torchvision:
        visions.append((args.torchvision, args.torch.split("+", 1)[0]))
        for name, version in VISION_DEPENDENCIES:
            wheels.append(wheel(folder, name, version, "py3-none-any", [], {}, 4096))
    if args.torchvision_newer:
        visions.append(tuple(args.torchvision_newer.split("=", 1)))
    for version, torch in visions:
        full = "%s+%s" % (version, variant)
        vision_init = ('"""cs231n-agent test stand-in for torchvision: not PyTorch\'s."""\n__version__ = %r\n' % full).encode()
        wheels.append(wheel(folder, "torchvision", full, "%s-%s-manylinux_2_28_x86_64" % (python, python),
                            ["numpy", "torch==" + torch, "pillow!=8.3.*,>=5.3.0", 'gdown>=4.7.3; extra == "gdown"',
                             'scipy; extra == "scipy"'], {"torchvision/__init__.py": vision_init}, 1 << 20))

    projects = {}
    for file_name, size, sha256, metadata in wheels:
        with open(os.path.join(folder, file_name + ".metadata"), "wb") as stream:
            stream.write(metadata)
        project = normalized(file_name.split("-", 1)[0])
        projects.setdefault(project, []).append((file_name, sha256, metadata))
        print("%s\t%d\t%s" % (file_name, size, sha256))
    for project, files in sorted(projects.items()):
        os.makedirs(os.path.join(folder, project), exist_ok=True)
        lines = ["<!DOCTYPE html>", "<html>", "  <body>", "    <h1>Links for %s</h1>" % project]
        for file_name, sha256, metadata in files:
            meta = "sha256=" + hashlib.sha256(metadata).hexdigest()
            lines.append('    <a href="/whl/%s/%s#sha256=%s" data-dist-info-metadata="%s" data-core-metadata="%s">%s</a><br/>'
                         % (variant, file_name.replace("+", "%2B"), sha256, meta, meta, file_name))
        lines += ["  </body>", "</html>"]
        with open(os.path.join(folder, project, "index.html"), "w") as stream:
            stream.write("\n".join(lines) + "\n")
    with open(os.path.join(folder, "index.html"), "w") as stream:
        stream.write("<!DOCTYPE html>\n<html>\n  <body>\n%s  </body>\n</html>\n" % "".join(
            '    <a href="%s/">%s</a><br/>\n' % (project, project) for project in sorted(projects)))


if __name__ == "__main__":
    main()
