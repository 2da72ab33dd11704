# Decides whether the CUDA backend is built. ANNFORGE_CUDA=AUTO turns it on where nvcc and RAFT
# (the libraft-cu13 wheel that scripts/cuda-deps.sh installs) are found; ON demands both; OFF keeps
# the build free of every CUDA piece.
#
# RAFT brings the CCCL (Thrust, CUB, libcu++) it was built with; every CUDA source links
# raft::raft so that one CCCL version is in play, not the toolkit's older copy.
set(ANNFORGE_WITH_CUDA OFF)
file(GLOB _annforge_cuda_sources CONFIGURE_DEPENDS
     ${CMAKE_CURRENT_SOURCE_DIR}/kernels/*.cu ${CMAKE_CURRENT_SOURCE_DIR}/host/cuda/*.cu)

function(_annforge_cuda_unavailable why)
  if(ANNFORGE_CUDA STREQUAL "ON")
    message(FATAL_ERROR "annforge: ANNFORGE_CUDA=ON but ${why}")
  endif()
  message(STATUS "annforge: CUDA backend off (${why})")
endfunction()

if(ANNFORGE_CUDA STREQUAL "OFF")
  message(STATUS "annforge: CUDA backend off (ANNFORGE_CUDA=OFF)")
elseif(NOT _annforge_cuda_sources)
  _annforge_cuda_unavailable("this tree has no CUDA backend sources")
else()
  include(CheckLanguage)
  check_language(CUDA)
  if(NOT CMAKE_CUDA_COMPILER)
    _annforge_cuda_unavailable("no CUDA compiler was found (set CMAKE_CUDA_COMPILER or put nvcc on PATH)")
  elseif(CMAKE_VERSION VERSION_LESS 4.0)
    _annforge_cuda_unavailable("RAFT's CMake package needs CMake >= 4.0 and this is ${CMAKE_VERSION} (scripts/build.sh uses the one scripts/cuda-deps.sh installs)")
  else()
    find_package(raft CONFIG QUIET)
    if(NOT raft_FOUND)
      _annforge_cuda_unavailable("RAFT was not found (run scripts/cuda-deps.sh and add its lib64/cmake folders to CMAKE_PREFIX_PATH)")
    else()
      enable_language(CUDA)
      find_package(CUDAToolkit REQUIRED)
      set(ANNFORGE_WITH_CUDA ON)
      message(STATUS "annforge: CUDA backend on (${CMAKE_CUDA_COMPILER}, RAFT ${raft_VERSION}, architectures ${CMAKE_CUDA_ARCHITECTURES})")
    endif()
  endif()
endif()

function(annforge_add_cuda_backend target)
  target_sources(${target} PRIVATE ${_annforge_cuda_sources})
  target_compile_definitions(${target} PUBLIC ANNFORGE_HAVE_CUDA=1)
  target_link_libraries(${target} PRIVATE raft::raft CUDA::cublas)
  # Kernels are launched from the same translation unit that defines them: no relocatable
  # device code, no device link step.
  target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:-lineinfo --extended-lambda>)
endfunction()
