TEST_ENTRY(lib_parse_size, 10)
TEST_ENTRY(lib_format_size, 10)
TEST_ENTRY(lib_cond_timeout, 10)
TEST_ENTRY(lib_options_table, 10)
