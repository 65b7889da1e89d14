// ChorusRuntime: compute units, thread pool, partition plans, profiler.
