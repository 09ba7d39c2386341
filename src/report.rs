//! Run summaries, verdicts, baseline comparisons and their renderings (table, JSON, JUnit).
