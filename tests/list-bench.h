/* tests/bench/: the benchmarks' machine probes.  TEST_ENTRY(name, timeout_seconds) */
TEST_ENTRY(bench_damon_probe, 10)
TEST_ENTRY(bench_wakeup_probe, 10)
