# Sanitizer and fuzzing builds. Both are checking builds of the CPU backend: nvcc does not take
# the host sanitizers' flags, so CUDA stays off in them.
#
# ANNFORGE_SANITIZE: AddressSanitizer + UndefinedBehaviorSanitizer on every C and C++ target,
# and undefined behaviour is fatal (-fno-sanitize-recover), so one report fails the test run.
# ANNFORGE_FUZZ: the library is also compiled with libFuzzer's coverage instrumentation
# (-fsanitize=fuzzer-no-link) and tests/fuzz builds the harnesses; clang only.
if(ANNFORGE_SANITIZE OR ANNFORGE_FUZZ)
  if(NOT ANNFORGE_CUDA STREQUAL "OFF")
    message(FATAL_ERROR "annforge: sanitizer and fuzzing builds are CPU-only; configure them with -DANNFORGE_CUDA=OFF")
  endif()
  set(_annforge_sanitizers -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
  add_compile_options("$<$<COMPILE_LANGUAGE:C,CXX>:${_annforge_sanitizers}>")
  add_link_options(-fsanitize=address,undefined)
endif()
if(ANNFORGE_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "annforge: ANNFORGE_FUZZ needs clang (libFuzzer), not ${CMAKE_CXX_COMPILER_ID}; configure with CXX=clang++ CC=clang")
  endif()
  add_compile_options("$<$<COMPILE_LANGUAGE:C,CXX>:-fsanitize=fuzzer-no-link>")
endif()
