// Run ids: what every backend, the run directory bookkeeping and the CLI accept as the name of a
// run (it tags every resource of the run, so it stays short and free of separators).

export const RUN_ID_PATTERN = /^[A-Za-z0-9_-]{1,48}$/;
