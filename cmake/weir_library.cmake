# weir_library(NAME SOURCES ... DEPS ...)
# Defines the static library weir_<NAME> with the alias weir::<NAME>, the
# project's warnings (as errors) and the repository root as include path, so
# headers are included as "common/status.h". Dependencies are listed at the
# call site so the module graph can be read in each CMakeLists.txt.
function(weir_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Werror
    -Wno-unused-parameter -Wno-missing-field-initializers)
endfunction()

function(weir_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(weir_${name} STATIC ${ARG_SOURCES})
  add_library(weir::${name} ALIAS weir_${name})
  target_include_directories(weir_${name} PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(weir_${name} PUBLIC ${ARG_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
  weir_warnings(weir_${name})
endfunction()

# weir_test(NAME LABEL SOURCES ... DEPS ...): one GoogleTest binary per module,
# discovered by ctest and labelled so an area can run alone (ctest -L common).
function(weir_test name)
  cmake_parse_arguments(ARG "" "LABEL" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gtest_main GTest::gmock)
  weir_warnings(${name})
  gtest_discover_tests(${name} PROPERTIES LABELS ${ARG_LABEL} DISCOVERY_TIMEOUT 60)
endfunction()
