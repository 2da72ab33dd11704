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
  if(ANNFORGE_WITH_CUDA)
    # The CUDA backend's shared libraries from the RAFT wheels (RMM and its logger) go into the
    # package beside the extension, found there through $ORIGIN (librmm finds its logger the
    # same way); cuBLAS and the driver come from the machine's CUDA installation (the toolkit's
    # library folder is on the extension's run path). The CUDA runtime is linked statically.
    install(IMPORTED_RUNTIME_ARTIFACTS rmm::rmm rapids_logger::rapids_logger
            LIBRARY DESTINATION annforge COMPONENT python)
    set_target_properties(_annforge PROPERTIES INSTALL_RPATH "$ORIGIN;${CUDAToolkit_LIBRARY_DIR}")
  endif()
endif()
