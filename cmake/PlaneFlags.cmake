# Compiler warnings, sanitizers and fuzzing flags shared by every target.
add_compile_definitions(_GNU_SOURCE)
add_compile_options(-Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes
                    -Wpointer-arith -Wformat=2 -Wundef -Wno-unused-parameter
                    -Wno-missing-field-initializers -fno-strict-aliasing)
if(PLANE_WERROR)
  add_compile_options(-Werror)
endif()

if(PLANE_SANITIZE OR PLANE_TSAN OR PLANE_FUZZ)
  # jemalloc replaces malloc, which the sanitizers must own.
  set(PLANE_JEMALLOC OFF CACHE BOOL "" FORCE)
endif()
if(PLANE_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=undefined
                      -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()
if(PLANE_TSAN)
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer)
  add_link_options(-fsanitize=thread)
endif()
if(PLANE_FUZZ)
  if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "PLANE_FUZZ needs clang (cmake -DCMAKE_C_COMPILER=clang)")
  endif()
  # Everything is instrumented for coverage; only fuzz targets link the fuzzer main.
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()
if(PLANE_JEMALLOC AND NOT JEMALLOC_FOUND)
  message(STATUS "jemalloc not found: allocating through libc")
  set(PLANE_JEMALLOC OFF)
endif()
