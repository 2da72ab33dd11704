# The Python extension annforge._annforge (nanobind), built when ANNFORGE_PYTHON=ON: by
# `pip install .` through scikit-build-core (pyproject.toml), which sets it. The extension links
# the static library, so the wheel needs no libannforge.so at run time.
option(ANNFORGE_PYTHON "Build the Python extension (pip install . sets this)" OFF)
if(ANNFORGE_PYTHON)
  find_package(Python 3.9 COMPONENTS Interpreter Development.Module REQUIRED)
  execute_process(COMMAND "${Python_EXECUTABLE}" -m nanobind --cmake_dir
                  OUTPUT_STRIP_TRAILING_WHITESPACE OUTPUT_VARIABLE nanobind_ROOT RESULT_VARIABLE _nanobind_found)
  if(NOT _nanobind_found EQUAL 0)
    message(FATAL_ERROR "annforge: ANNFORGE_PYTHON=ON needs nanobind in ${Python_EXECUTABLE} (pip install nanobind)")
  endif()
  find_package(nanobind CONFIG REQUIRED)
  nanobind_add_module(_annforge NB_STATIC STABLE_ABI
                      ${PROJECT_SOURCE_DIR}/python/src/module.cpp ${PROJECT_SOURCE_DIR}/python/src/arrays.cpp)
  target_include_directories(_annforge PRIVATE ${PROJECT_SOURCE_DIR})
  target_link_libraries(_annforge PRIVATE annforge)
  install(TARGETS _annforge LIBRARY DESTINATION annforge COMPONENT python)
endif()
