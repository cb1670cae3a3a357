TEST_ENTRY(host_create_errors, 60)
TEST_ENTRY(host_create_without_pv, 30)
TEST_ENTRY(host_stats_json_keys, 60)
TEST_ENTRY(host_floor_and_probes, 60)
