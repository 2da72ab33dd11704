# The distributed build (index/annforge_mpi.hpp, host/mpi/) over MPI (Debian: libopenmpi-dev,
# openmpi-bin). ANNFORGE_MPI=AUTO builds it where MPI is found; ON demands it; OFF builds
# without (everything else is the same; `annforge build` under mpirun then says so). The MPI
# code is its own library, annforge_mpi, so that libannforge itself never needs MPI.
set(ANNFORGE_MPI "AUTO" CACHE STRING "Build the distributed (MPI) build: AUTO, ON or OFF")
set_property(CACHE ANNFORGE_MPI PROPERTY STRINGS AUTO ON OFF)
set(ANNFORGE_WITH_MPI OFF)
if(NOT ANNFORGE_MPI STREQUAL "OFF")
  find_package(MPI COMPONENTS C QUIET)
  if(MPI_C_FOUND)
    set(ANNFORGE_WITH_MPI ON)
    find_program(ANNFORGE_MPIEXEC NAMES mpiexec mpirun HINTS ${MPI_HOME} PATH_SUFFIXES bin)
    message(STATUS "annforge: distributed build on (MPI ${MPI_C_VERSION}, ${ANNFORGE_MPIEXEC})")
  elseif(ANNFORGE_MPI STREQUAL "ON")
    message(FATAL_ERROR "annforge: ANNFORGE_MPI=ON but MPI was not found (Debian: libopenmpi-dev)")
  else()
    message(STATUS "annforge: distributed build off (MPI not found; Debian: libopenmpi-dev)")
  endif()
endif()

function(annforge_add_mpi_library)
  file(GLOB sources CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/host/mpi/*.cpp)
  add_library(annforge_mpi STATIC ${sources})
  target_include_directories(annforge_mpi PRIVATE ${PROJECT_SOURCE_DIR})
  target_link_libraries(annforge_mpi PUBLIC annforge MPI::MPI_C)
  # MPI's C interface only: OpenMPI's mpi.h would otherwise pull in its removed C++ bindings.
  target_compile_definitions(annforge_mpi PUBLIC OMPI_SKIP_MPICXX=1 MPICH_SKIP_MPICXX=1)
  target_compile_options(annforge_mpi PRIVATE -Wall -Wextra)
endfunction()
