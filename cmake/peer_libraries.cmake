# The libraries annforge is compared with (bench/) and exports to (tests/export/): hnswlib's
# headers (Debian/Ubuntu: libhnswlib-dev) and FAISS (libfaiss-dev). Neither is part of the
# engine; without them the benchmark and the export tests that need them are left out and the
# rest of the project still configures. Sets:
#   HNSWLIB_INCLUDE_DIR     the directory holding hnswlib/hnswlib.h (or NOTFOUND)
#   ANNFORGE_FAISS_TARGET   a target to link for FAISS (empty when not found)
#   ANNFORGE_FAISS_HOW      how it was found, for the configure log
option(ANNFORGE_BENCH_FAISS "Use FAISS in compare_cpu and the export tests when it is found" ON)

find_path(HNSWLIB_INCLUDE_DIR hnswlib/hnswlib.h DOC "Directory holding hnswlib/hnswlib.h")

# FAISS: Debian's libfaiss-dev ships a CMake package (target `faiss`, a static library whose
# interface names OpenMP::OpenMP_CXX, BLAS and LAPACK), so OpenMP must be found first. Without
# the package, a plain libfaiss + headers + BLAS/LAPACK is tried.
set(ANNFORGE_FAISS_TARGET "")
set(ANNFORGE_FAISS_HOW "")
if(ANNFORGE_BENCH_FAISS)
  find_package(OpenMP COMPONENTS CXX QUIET)
  if(OpenMP_CXX_FOUND)
    find_package(faiss CONFIG QUIET)
    if(TARGET faiss)
      set(ANNFORGE_FAISS_TARGET faiss)
      set(ANNFORGE_FAISS_HOW "CMake package, version ${faiss_VERSION}")
    else()
      find_path(FAISS_INCLUDE_DIR faiss/IndexNSG.h DOC "Directory holding faiss/IndexNSG.h")
      find_library(FAISS_LIBRARY faiss DOC "The FAISS library")
      if(FAISS_INCLUDE_DIR AND FAISS_LIBRARY)
        find_package(BLAS QUIET)
        find_package(LAPACK QUIET)
        add_library(annforge_bench_faiss INTERFACE)
        target_include_directories(annforge_bench_faiss SYSTEM INTERFACE ${FAISS_INCLUDE_DIR})
        target_link_libraries(annforge_bench_faiss INTERFACE ${FAISS_LIBRARY} OpenMP::OpenMP_CXX
                              ${LAPACK_LIBRARIES} ${BLAS_LIBRARIES})
        set(ANNFORGE_FAISS_TARGET annforge_bench_faiss)
        set(ANNFORGE_FAISS_HOW "${FAISS_LIBRARY}")
      endif()
    endif()
  endif()
endif()
