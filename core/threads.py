"""Which threads get torch's OpenMP team: the training thread all cores, every other thread one.

Torch's CPU kernels run on an OpenMP team per calling thread. Once an idle thread owns a team, a
training thread with its own team ran 40-50% slower on a 2-core machine (see docs/performance.md).
A thread limited to one thread never starts a team.
"""

from __future__ import annotations

import torch

TRAIN_THREADS = torch.get_num_threads()  # what torch chose for this machine, before any change


def keep_this_thread_serial() -> None:
    """Call first thing on a thread that will not train, such as a UI's main thread."""
    torch.set_num_threads(1)


def use_all_cores() -> None:
    """Call on the training thread: the setting is per thread."""
    torch.set_num_threads(TRAIN_THREADS)
