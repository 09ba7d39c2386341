//! A fixed sample model for snapshot tests and the render benchmark.
