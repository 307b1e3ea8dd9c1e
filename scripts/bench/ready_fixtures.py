#!/usr/bin/python3
"""The downloads of scripts/bench/ready.sh besides wheels and .debs, at given sizes (stdlib only).

    ready_fixtures.py datasets DIR CIFAR_BYTES COCO_BYTES
        DIR/cifar-10-python.tar.gz  a .tar.gz of cifar-10-batches-py/ (data_batch_1..5, test_batch,
                                    batches.meta), CIFAR_BYTES long
        DIR/coco_captioning.zip     a .zip of coco_captioning/ (captions, features), COCO_BYTES long
    ready_fixtures.py archives DIR
        DIR/assignment1.zip (assignment1/...) and DIR/assignment2.zip (files at its top), as the
        course publishes them (agent/config/schema.cpp course_archives)
    ready_fixtures.py conda DIR BASE_URL LIST
        DIR/NAME (zero-filled .conda files) for LIST's "NAME BYTES" lines, and DIR/explicit.txt: an
        @EXPLICIT list of BASE_URL/NAME#sha256 in LIST's order, as `conda list --explicit --sha256`
        writes one
Prints "FILE SIZE SHA256" for each file written. The payloads are zeros, stored without
compression (gzip level 0, ZIP_STORED), so the files have the sizes asked for and take little disk
once their holes are punched (fallocate --dig-holes).
"""

import gzip
import hashlib
import io
import os
import sys
import tarfile
import zipfile

CHUNK = 8 << 20
EPOCH = 1546300800


class Zeros:
    """A file object of `size` zero bytes."""

    def __init__(self, size):
        self.left = size

    def read(self, size=-1):
        size = self.left if size < 0 else min(size, self.left)
        self.left -= size
        return bytes(size)


def report(path):
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(CHUNK), b""):
            digest.update(block)
    print("%s %d %s" % (os.path.basename(path), os.path.getsize(path), digest.hexdigest()))


def write_zeros(stream, size):
    for offset in range(0, size, CHUNK):
        stream.write(bytes(min(CHUNK, size - offset)))


def cifar(path, size):
    """Close to `size` bytes: six batches share what the headers leave; gzip's stored blocks add
    5 bytes each 64 KiB."""
    batch = max(0, (size - 16 * 1024) // 6)
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=0, mtime=0) as packed:
        with tarfile.open(fileobj=packed, mode="w", format=tarfile.GNU_FORMAT) as archive:
            folder = tarfile.TarInfo("cifar-10-batches-py")
            folder.type, folder.mode, folder.mtime = tarfile.DIRTYPE, 0o755, EPOCH
            archive.addfile(folder)
            meta = b"\x80\x03}q\x00(X\x0b\x00\x00\x00label_names"
            info = tarfile.TarInfo("cifar-10-batches-py/batches.meta")
            info.size, info.mode, info.mtime = len(meta), 0o644, EPOCH
            archive.addfile(info, io.BytesIO(meta))
            for name in ["data_batch_%d" % number for number in range(1, 6)] + ["test_batch"]:
                info = tarfile.TarInfo("cifar-10-batches-py/" + name)
                info.size, info.mode, info.mtime = batch, 0o644, EPOCH
                archive.addfile(info, Zeros(batch))


def coco(path, size):
    members = ["coco2014_captions.h5", "train2014_vgg16_fc7.h5", "val2014_vgg16_fc7.h5",
               "train2014_vgg16_fc7_pca.h5", "val2014_vgg16_fc7_pca.h5"]
    each = max(0, (size - 4096) // len(members))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr(zipfile.ZipInfo("coco_captioning/", (2019, 1, 1, 0, 0, 0)), b"")
        archive.writestr(zipfile.ZipInfo("coco_captioning/coco2014_vocab.json", (2019, 1, 1, 0, 0, 0)),
                         b'{"idx_to_word": ["<NULL>", "<START>", "<END>"]}')
        for name in members:
            entry = zipfile.ZipInfo("coco_captioning/" + name, (2019, 1, 1, 0, 0, 0))
            entry.external_attr = 0o644 << 16
            with archive.open(entry, "w", force_zip64=each >= zipfile.ZIP64_LIMIT) as stream:
                write_zeros(stream, each)


def archives(directory):
    files = {
        "assignment1.zip": {"assignment1/knn.ipynb": b'{"cells": [], "nbformat": 4, "nbformat_minor": 5}\n',
                            "assignment1/cs231n/__init__.py": b"",
                            "assignment1/cs231n/datasets/get_datasets.sh": b"#!/bin/bash\n"},
        "assignment2.zip": {"FullyConnectedNets.ipynb": b'{"cells": [], "nbformat": 4, "nbformat_minor": 5}\n',
                            "cs231n/__init__.py": b"",
                            "cs231n/datasets/get_datasets.sh": b"#!/bin/bash\n"},
    }
    for name, members in files.items():
        path = os.path.join(directory, name)
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            for member, data in members.items():
                entry = zipfile.ZipInfo(member, (2026, 1, 1, 0, 0, 0))
                entry.external_attr = 0o644 << 16
                archive.writestr(entry, data)
        report(path)


def conda(directory, base_url, list_path):
    lines = ["# platform: linux-64", "@EXPLICIT"]
    with open(list_path) as stream:
        for line in stream:
            fields = line.split("#", 1)[0].split()
            if not fields:
                continue
            name, size = fields[0], int(fields[1])
            path = os.path.join(directory, name)
            with open(path, "wb") as out:
                write_zeros(out, size)
            digest = hashlib.sha256()
            for offset in range(0, size, CHUNK):
                digest.update(bytes(min(CHUNK, size - offset)))
            lines.append("%s/%s#sha256:%s" % (base_url.rstrip("/"), name, digest.hexdigest()))
            print("%s %d %s" % (name, size, digest.hexdigest()))
    path = os.path.join(directory, "explicit.txt")
    with open(path, "w") as stream:
        stream.write("\n".join(lines) + "\n")
    report(path)


def main():
    if len(sys.argv) == 5 and sys.argv[1] == "datasets":
        directory, cifar_bytes, coco_bytes = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
        os.makedirs(directory, exist_ok=True)
        cifar(os.path.join(directory, "cifar-10-python.tar.gz"), cifar_bytes)
        coco(os.path.join(directory, "coco_captioning.zip"), coco_bytes)
        report(os.path.join(directory, "cifar-10-python.tar.gz"))
        report(os.path.join(directory, "coco_captioning.zip"))
    elif len(sys.argv) == 3 and sys.argv[1] == "archives":
        os.makedirs(sys.argv[2], exist_ok=True)
        archives(sys.argv[2])
    elif len(sys.argv) == 5 and sys.argv[1] == "conda":
        os.makedirs(sys.argv[2], exist_ok=True)
        conda(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        sys.exit(__doc__.split("\n\n")[1])


if __name__ == "__main__":
    main()
