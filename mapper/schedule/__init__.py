"""The controller's schedule (docs/design.md section 6): every latency of the RTL in one place, and the one
cycle model that the golden model, the report and the benchmarks use. It sits above the plan (it reads a
plan's tables) and below the cost."""

from .cycles import (ScheduleParams, bank_run, batch_timing, cycle_model, issued_steps, plan_drive, step_popcounts,
                     vector_ends)
from .latency import (DONE_FALL, EMPTY_SECTION, FLUSH, GATHER_NEXT_READ, GATHER_READY, GATHER_STAGES, PHASE_MAX,
                      SECTION_DECODE, WATCHDOG_MAX, MacroTiming, default_lanes, gather_ready, gather_stages, group_prime,
                      merge_depth, pipeline_depth, run_end_latency, step_order)

__all__ = ["ScheduleParams", "cycle_model", "bank_run", "vector_ends", "batch_timing", "step_popcounts", "plan_drive",
           "issued_steps", "MacroTiming", "default_lanes", "pipeline_depth", "merge_depth", "step_order",
           "SECTION_DECODE", "EMPTY_SECTION", "GATHER_STAGES", "GATHER_NEXT_READ", "GATHER_READY", "FLUSH",
           "PHASE_MAX", "WATCHDOG_MAX", "DONE_FALL", "gather_stages", "gather_ready", "run_end_latency", "group_prime"]
