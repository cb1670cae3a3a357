TEST_ENTRY(cli_run_rejects_bad_options, 60)
TEST_ENTRY(cli_mkimage_then_run, 120)
TEST_ENTRY(cli_run_text_timeline, 120)
TEST_ENTRY(cli_bench_json, 300)
