"""Shared infrastructure every layer may import (mapper, hwgen, sim, sws): the error type, checks of
user-given values, and outputs written whole or not at all. It imports no other project module."""

from .checks import positive_int, one_of, finite
from .errors import SwsError
from .outputs import (MARKER, atomic_dir, atomic_path, write_atomic, check_output_dir, check_output_file,
                      claim_dir, dumps_json, os_error)

__all__ = ["positive_int", "one_of", "finite", "SwsError", "MARKER", "atomic_dir", "atomic_path", "write_atomic",
           "check_output_dir", "check_output_file", "claim_dir", "dumps_json", "os_error"]
