"""Shared infrastructure every layer may import (mapper, hwgen, sim, sws): the error type, checks of
user-given values, the one way inputs are read (bounded, regular files only) and outputs written whole or
not at all (never over an input or a special file). It imports no other project module."""

from .checks import positive_int, one_of, finite
from .errors import SwsError
from .identity import recording_inputs, inputs_read, note_input, input_ids, held_input
from .outputs import (MARKER, atomic_dir, atomic_path, write_atomic, check_output_dir, check_output_file, claim_dir,
                      os_error)
from .text import ESCAPE, write_text, dumps_json
from .reading import (open_input, read_bytes, read_text, read_json, parse_json, parse_yaml, file_kind, size_text,
                      MAX_JSON_DEPTH, MAX_INT_DIGITS, MAX_TEXT_BYTES, MAX_YAML_VALUES, MAX_SCALAR_CHARS)

__all__ = ["positive_int", "one_of", "finite", "SwsError", "recording_inputs", "inputs_read", "note_input",
           "input_ids", "held_input", "MARKER", "ESCAPE", "atomic_dir", "atomic_path", "write_atomic", "write_text",
           "check_output_dir", "check_output_file", "claim_dir", "dumps_json", "os_error", "open_input", "read_bytes",
           "read_text", "read_json", "parse_json", "parse_yaml", "file_kind", "size_text", "MAX_JSON_DEPTH",
           "MAX_INT_DIGITS", "MAX_TEXT_BYTES", "MAX_YAML_VALUES", "MAX_SCALAR_CHARS"]
