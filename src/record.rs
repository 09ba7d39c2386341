//! Recordings (`recordings/*.ron`, DESIGN.md §5): the format, the recorder that writes it
//! atomically while a run goes on, and loading.
