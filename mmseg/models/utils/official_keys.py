"""Loading checkpoints written by the original THE-Mask into modules with cleaner names.

A module registers the official names it renamed and the official parameters it dropped (they had
no effect); every ``load_state_dict`` then maps them, so official checkpoints load strictly,
through any entry point, and the log says what was mapped.
"""
from typing import Sequence, Tuple

from torch import nn

from ...utils.logger import get_root_logger


def map_official_keys(module: nn.Module, *, renames: Sequence[Tuple[str, str]] = (),
                      drops: Sequence[str] = ()) -> None:
    """Rename ``old`` key prefixes to ``new`` and drop ``drops`` prefixes (relative to
    ``module``)."""

    def hook(mod, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
             error_msgs):
        renamed, dropped = [], []
        for key in list(state_dict):
            if not key.startswith(prefix):
                continue
            local = key[len(prefix):]
            if any(local.startswith(d) for d in drops):
                dropped.append(key)
                del state_dict[key]
                continue
            for old, new in renames:
                if local.startswith(old):
                    state_dict[prefix + new + local[len(old):]] = state_dict.pop(key)
                    renamed.append(key)
                    break
        if renamed or dropped:
            parts = []
            if renamed:
                pairs = ', '.join(f'{prefix}{old}* -> {prefix}{new}*' for old, new in renames)
                parts.append(f'mapped {len(renamed)} official key names ({pairs})')
            if dropped:
                parts.append(f'dropped {len(dropped)} unused official parameters '
                             f'({", ".join(dropped)})')
            get_root_logger().info('; '.join(parts))

    module.register_load_state_dict_pre_hook(hook)
