#!/usr/bin/python3
"""Course fixtures for the end-to-end tests of the course steps (stdlib only; the same bytes every time).

    course_fixtures.py datasets DIR --manifest FILE
        Real dataset archives, small, in DIR:
          cifar-10-python.tar.gz  a .tar.gz that unpacks to cifar-10-batches-py/ (data_batch_1..5,
                                  test_batch, batches.meta, readme.html), like the CIFAR-10 download
          coco_captioning.zip     a .zip that unpacks to coco_captioning/ (captions, vocabulary, URLs)
          imagenet_val_25.npz     a NumPy .npz (itself a zip of .npy files) that is used as it is
        FILE gets, per archive: size, md5, sha256 and "members" (path -> sha256 of each file it
        unpacks to; empty for the .npz).

    course_fixtures.py repo DIR [--no-gitignore]
        A bare git repository at DIR (like /srv/cs231n.git) with one commit on master: assignment1/,
        assignment2/, assignment3/, each with cs231n/datasets/get_datasets.sh (the course's own
        download script), a notebook, and a .gitignore that ignores the unpacked datasets (left out
        with --no-gitignore, as in repositories that do not), and a branch spring2019 one commit
        ahead (it adds CHANGELOG.md). Written object by object (zlib-compressed loose objects, a
        tree per folder, commits), so the host needs no git. Prints master's commit id, then
        spring2019's.
"""

import argparse
import gzip
import hashlib
import io
import json
import os
import random
import sys
import tarfile
import zipfile
import zlib

EPOCH = 1546300800  # 2019-01-01, the tutorial's time
ZIP_TIME = (2019, 1, 1, 0, 0, 0)


def blob(rng, size):
    return rng.randbytes(size)


# -- datasets ------------------------------------------------------------------------------------

def cifar(rng):
    members = {"cifar-10-batches-py/batches.meta": b"\x80\x03}q\x00(X\x0b\x00\x00\x00label_names" + blob(rng, 1000),
               "cifar-10-batches-py/readme.html": b"<meta HTTP-EQUIV=\"REFRESH\" content=\"0; "
                                                  b"URL=http://www.cs.toronto.edu/~kriz/cifar.html\">\n"}
    for number in range(1, 6):
        members["cifar-10-batches-py/data_batch_%d" % number] = blob(rng, 400_000)
    members["cifar-10-batches-py/test_batch"] = blob(rng, 400_000)
    buffer = io.BytesIO()
    # mtime 0 in the gzip header and fixed tar headers: the same bytes every time.
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as compressed:
        with tarfile.open(fileobj=compressed, mode="w", format=tarfile.GNU_FORMAT) as archive:
            folder = tarfile.TarInfo("cifar-10-batches-py")
            folder.type, folder.mode, folder.mtime = tarfile.DIRTYPE, 0o755, EPOCH
            archive.addfile(folder)
            for path, data in members.items():
                info = tarfile.TarInfo(path)
                info.size, info.mode, info.mtime = len(data), 0o644, EPOCH
                archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue(), members


def write_zip(members, compression=zipfile.ZIP_DEFLATED, folders=()):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for folder in folders:
            info = zipfile.ZipInfo(folder + "/", ZIP_TIME)
            info.external_attr = (0o40755 << 16) | 0x10
            archive.writestr(info, b"")
        for path, data in members.items():
            info = zipfile.ZipInfo(path, ZIP_TIME)
            info.external_attr = 0o100644 << 16
            info.compress_type = compression
            archive.writestr(info, data)
    return buffer.getvalue()


def coco(rng):
    members = {
        "coco_captioning/coco2014_captions.h5": b"\x89HDF\r\n\x1a\n" + blob(rng, 300_000),
        "coco_captioning/coco2014_vocab.json": json.dumps(
            {"idx_to_word": ["<NULL>", "<START>", "<END>", "<UNK>", "a", "on", "of", "the"],
             "word_to_idx": {"<NULL>": 0, "<START>": 1, "<END>": 2, "<UNK>": 3, "a": 4, "on": 5, "of": 6, "the": 7}}).encode(),
        "coco_captioning/train2014_urls.txt": b"".join(b"http://farm%d.staticflickr.com/%d.jpg\n" % (i % 9, i) for i in range(500)),
        "coco_captioning/val2014_urls.txt": b"".join(b"http://farm%d.staticflickr.com/%d.jpg\n" % (i % 9, 10_000 + i) for i in range(200)),
        "coco_captioning/train2014_vgg16_fc7_pca.h5": b"\x89HDF\r\n\x1a\n" + blob(rng, 200_000),
    }
    return write_zip(members, folders=("coco_captioning",)), members


def npy(data, shape, dtype):
    header = "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (dtype, shape)
    header = header + " " * (63 - (len(header) + 10) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode() + data


def imagenet(rng):
    members = {
        "X.npy": npy(blob(rng, 25 * 3 * 64 * 64), "(25, 64, 64, 3)", "|u1"),
        "y.npy": npy(bytes(range(25)) + bytes(8 * 25 - 25), "(25,)", "<i8"),
        "label_map.npy": npy(blob(rng, 4000), "(1000,)", "|S4"),
    }
    return write_zip(members, compression=zipfile.ZIP_STORED), {}


def datasets(directory, manifest_path):
    os.makedirs(directory, exist_ok=True)
    rng = random.Random(231)
    manifest = {}
    for name, make in (("cifar-10-python.tar.gz", cifar), ("coco_captioning.zip", coco), ("imagenet_val_25.npz", imagenet)):
        data, members = make(rng)
        with open(os.path.join(directory, name), "wb") as stream:
            stream.write(data)
        manifest[name] = {
            "size": len(data),
            "md5": hashlib.md5(data).hexdigest(),
            "sha256": hashlib.sha256(data).hexdigest(),
            "members": {path: hashlib.sha256(content).hexdigest() for path, content in members.items()},
        }
    with open(manifest_path, "w", encoding="utf-8") as stream:
        json.dump(manifest, stream, indent=1, sort_keys=True)


# -- a bare git repository -----------------------------------------------------------------------

GET_DATASETS = {
    "assignment1": "# Get CIFAR10\nwget http://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz\n"
                   "tar -xzvf cifar-10-python.tar.gz\nrm cifar-10-python.tar.gz\n",
    "assignment2": "# Get CIFAR10\nwget http://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz\n"
                   "tar -xzvf cifar-10-python.tar.gz\nrm cifar-10-python.tar.gz\n",
    "assignment3": "# Get COCO captioning data\nwget \"http://cs231n.stanford.edu/coco_captioning.zip\"\n"
                   "unzip coco_captioning.zip\nrm coco_captioning.zip\n\n"
                   "# Get a small subset of ImageNet validation images\nwget http://cs231n.stanford.edu/imagenet_val_25.npz\n",
}
NOTEBOOKS = {"assignment1": "knn.ipynb", "assignment2": "FullyConnectedNets.ipynb", "assignment3": "RNN_Captioning.ipynb"}


def repo_files(gitignore=True):
    files = {
        "README.md": (b"# cs231n assignments (a test fixture)\n\nRun `cs231n/datasets/get_datasets.sh` in each assignment.\n", False),
        # The course's repositories do not track the downloaded data.
        ".gitignore": (b"*/cs231n/datasets/*\n!*/cs231n/datasets/get_datasets.sh\n*.pyc\n.ipynb_checkpoints/\n", False),
        "requirements.txt": (b"numpy\nscipy\nmatplotlib\nimageio\n", False),
    }
    for assignment, script in GET_DATASETS.items():
        files["%s/cs231n/datasets/get_datasets.sh" % assignment] = (("#!/bin/bash\n" + script).encode(), True)
        files["%s/cs231n/__init__.py" % assignment] = (b"", False)
        notebook = {"cells": [{"cell_type": "markdown", "metadata": {}, "source": ["# %s" % NOTEBOOKS[assignment]]}],
                    "metadata": {}, "nbformat": 4, "nbformat_minor": 2}
        files["%s/%s" % (assignment, NOTEBOOKS[assignment])] = (json.dumps(notebook, indent=1).encode() + b"\n", False)
    if not gitignore:
        del files[".gitignore"]
    return files


class ObjectWriter:
    def __init__(self, git_dir):
        self.git_dir = git_dir

    def write(self, kind, data):
        raw = b"%s %d\0" % (kind.encode(), len(data)) + data
        sha = hashlib.sha1(raw).hexdigest()
        folder = os.path.join(self.git_dir, "objects", sha[:2])
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, sha[2:])
        if not os.path.exists(path):
            with open(path, "wb") as stream:
                stream.write(zlib.compress(raw))
            os.chmod(path, 0o444)
        return sha

    def tree(self, files):
        """files: {relative path: (bytes, executable)} -> the sha of the tree holding them."""
        entries, folders = [], {}
        for path, value in files.items():
            head, _, rest = path.partition("/")
            if rest:
                folders.setdefault(head, {})[rest] = value
            else:
                data, executable = value
                entries.append((head, b"100755" if executable else b"100644", self.write("blob", data)))
        for name, content in folders.items():
            entries.append((name, b"40000", self.tree(content)))
        # git orders entries by name, a folder's name compared as if it ended with "/".
        entries.sort(key=lambda entry: entry[0].encode() + (b"/" if entry[1] == b"40000" else b""))
        body = b"".join(mode + b" " + name.encode() + b"\0" + bytes.fromhex(sha) for name, mode, sha in entries)
        return self.write("tree", body)


def repo(git_dir, gitignore):
    if os.path.exists(git_dir):
        sys.exit("course_fixtures.py: %s exists" % git_dir)
    for folder in ("objects/info", "objects/pack", "refs/heads", "refs/tags", "info", "hooks", "branches"):
        os.makedirs(os.path.join(git_dir, folder))
    writer = ObjectWriter(git_dir)
    files = repo_files(gitignore)
    person = b"CS231n Staff <cs231n@example.edu> %d +0000" % EPOCH
    commit = writer.write("commit", b"tree %s\nauthor %s\ncommitter %s\n\nAssignments 1 to 3\n"
                          % (writer.tree(files).encode(), person, person))
    files["CHANGELOG.md"] = (b"# Spring 2019\n\n- assignment 3: the RNN captioning notebook\n", False)
    later = b"CS231n Staff <cs231n@example.edu> %d +0000" % (EPOCH + 86400)
    spring = writer.write("commit", b"tree %s\nparent %s\nauthor %s\ncommitter %s\n\nSpring 2019 changes\n"
                          % (writer.tree(files).encode(), commit.encode(), later, later))
    texts = {
        "HEAD": "ref: refs/heads/master\n",
        "config": "[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = true\n",
        "description": "cs231n assignments (a test fixture)\n",
        "info/exclude": "",
        "refs/heads/master": commit + "\n",
        "refs/heads/spring2019": spring + "\n",
    }
    for name, text in texts.items():
        with open(os.path.join(git_dir, name), "w", encoding="utf-8") as stream:
            stream.write(text)
    print(commit)
    print(spring)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    made = commands.add_parser("datasets")
    made.add_argument("directory")
    made.add_argument("--manifest", required=True)
    bare = commands.add_parser("repo")
    bare.add_argument("directory")
    bare.add_argument("--no-gitignore", action="store_true")
    args = parser.parse_args()
    if args.command == "datasets":
        datasets(args.directory, args.manifest)
    else:
        repo(args.directory, not args.no_gitignore)


if __name__ == "__main__":
    main()
