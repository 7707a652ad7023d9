"""The controller's schedule (docs/design.md section 6): every latency of the RTL in one place, the one
cycle model that the golden model, the report and the benchmarks use, and the one count of the events the
energy model prices (docs/design.md section 4). It sits above the plan (it reads a plan's tables) and below
the cost."""

from .cycles import (ScheduleParams, Schedule, schedule, bank_run, batch_timing, cycle_model, issued_steps,
                     plan_drive, section_membership, step_popcounts, vector_ends)
from .events import EVENTS, Events, count_events, events_of_schedule
from .latency import (DONE_FALL, EMPTY_SECTION, FLUSH, FREE_DELAY, GATHER_NEXT_READ, GATHER_READY, GATHER_STAGES,
                      GUARD_MAX, PHASE_MAX, SECTION_DECODE, WAKE_MAX, WATCHDOG_MAX, MacroTiming, default_lanes,
                      gather_ready, gather_stages, group_prime, merge_depth, pipeline_depth, run_end_latency,
                      step_order)
from .tables import SectionTables, section_tables

__all__ = ["ScheduleParams", "Schedule", "schedule", "cycle_model", "bank_run", "vector_ends", "batch_timing",
           "step_popcounts", "section_membership", "plan_drive", "issued_steps", "MacroTiming", "default_lanes",
           "pipeline_depth", "merge_depth", "step_order", "SECTION_DECODE", "EMPTY_SECTION", "GATHER_STAGES",
           "GATHER_NEXT_READ", "GATHER_READY", "FLUSH", "PHASE_MAX", "WATCHDOG_MAX", "GUARD_MAX", "WAKE_MAX",
           "DONE_FALL", "FREE_DELAY",
           "gather_stages", "gather_ready", "run_end_latency", "group_prime", "SectionTables", "section_tables",
           "EVENTS", "Events", "count_events", "events_of_schedule"]
