# Tests of make bench's tooling (the benchmarks themselves print figures; they are not tests).

# bench_plot: make bench's table (figures against their goals) and its gnuplot plots,
# on sample data (the benchmarks themselves are not tests: docs/benchmarks.md).
add_test(NAME bench_plot COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/scripts/bench_plot.sh
  ${PROJECT_SOURCE_DIR})
set_tests_properties(bench_plot PROPERTIES LABELS tools TIMEOUT 120)
