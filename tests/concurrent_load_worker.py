"""One process of the concurrent-first-use tests (``tests/test_library_use.py``).

``python concurrent_load_worker.py DATA_DIR load``: ``seqtasks.load("reber_grammar/embedded", "train", 32,
data_dir=DATA_DIR)`` and prints ``digest <sha256>`` of every batch's arrays.
``python concurrent_load_worker.py DATA_DIR hang``: starts that build, writes its files, then waits
(without renaming its ``incomplete.*`` folder into place) until the test kills it.
"""

import hashlib
import sys
import time

import seqtasks
from seqtasks.tf.builders import SeqtasksBuilder

NAME = "reber_grammar/embedded"


def hang_after_writing() -> None:
    """Makes the build stop for good once its split files are written (a build killed mid-way)."""
    generate = SeqtasksBuilder._generate_splits

    def generate_then_hang(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        generate(self, *args, **kwargs)
        print("hanging", flush=True)
        time.sleep(600)

    SeqtasksBuilder._generate_splits = generate_then_hang


def main(data_dir: str, mode: str) -> None:
    if mode == "hang":
        hang_after_writing()
    digest = hashlib.sha256()
    for batch in seqtasks.load(NAME, "train", 32, data_dir=data_dir):
        for array in batch:
            digest.update(array.numpy().tobytes())
    print(f"digest {digest.hexdigest()}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
