# cmake --install: the public headers (annforge.hpp, annforge_c.h) in include/, libannforge.a and
# libannforge.so in lib/, the CLI in bin/, a CMake package (find_package(annforge)) and a
# pkg-config file (annforge.pc). tests/consumer/ builds programs against an installed tree.
#
# Exported targets:
#   annforge::annforge         the shared library where it is built (ANNFORGE_BUILD_SHARED, the
#                              default): one copy of annforge in a process, and the consumer's link
#                              needs nothing of the CUDA or HDF5 pieces annforge was built with
#                              (the package's config looks for them all the same, for the other).
#                              Without the shared library it stands for annforge::annforge_static.
#   annforge::annforge_static  the static library. Its private dependencies become link-only
#                              requirements of the consumer (Threads; HDF5 when built with it;
#                              RAFT, cuBLAS and the CUDA runtime when built with CUDA), and the
#                              package's config finds them again (cmake/annforge-config.cmake.in).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(ANNFORGE_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/annforge)
set(_annforge_install_targets annforge)

set_target_properties(annforge PROPERTIES EXPORT_NAME annforge_static)
target_include_directories(annforge INTERFACE $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
if(ANNFORGE_WITH_CUDA)
  # In this tree CMake adds the CUDA runtime to every link that takes in the CUDA objects; a
  # consumer that does not enable CUDA would not, so the installed static target names it.
  string(TOUPPER "${CMAKE_CUDA_RUNTIME_LIBRARY}" _annforge_cudart)
  if(_annforge_cudart STREQUAL "SHARED")
    target_link_libraries(annforge INTERFACE "$<INSTALL_INTERFACE:$<LINK_ONLY:CUDA::cudart>>")
  elseif(NOT _annforge_cudart STREQUAL "NONE")
    target_link_libraries(annforge INTERFACE "$<INSTALL_INTERFACE:$<LINK_ONLY:CUDA::cudart_static>>")
  endif()
endif()

if(TARGET annforge_shared)
  list(APPEND _annforge_install_targets annforge_shared)
  set_target_properties(annforge_shared PROPERTIES EXPORT_NAME annforge
    # The installed library keeps finding the shared libraries it was linked with outside the
    # system's folders (RAFT's and RMM's in a CUDA build) without LD_LIBRARY_PATH.
    INSTALL_RPATH_USE_LINK_PATH TRUE)
  target_include_directories(annforge_shared INTERFACE $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  if(ANNFORGE_WITH_CUDA)
    target_compile_definitions(annforge_shared INTERFACE ANNFORGE_HAVE_CUDA=1)
  endif()
endif()
set_target_properties(annforge_cli PROPERTIES INSTALL_RPATH_USE_LINK_PATH TRUE)
# INSTALL_RPATH_USE_LINK_PATH leaves out link folders inside this project, which is where
# scripts/cuda-deps.sh puts the RAFT / RMM / rapids-logger wheels (.deps/rapids/): name those.
if(ANNFORGE_WITH_CUDA)
  set(_annforge_wheel_rpath "")
  foreach(_pkg raft rmm rapids_logger)
    if(${_pkg}_DIR)
      get_filename_component(_libdir "${${_pkg}_DIR}/../.." ABSOLUTE)
      list(APPEND _annforge_wheel_rpath "${_libdir}")
    endif()
  endforeach()
  set_property(TARGET annforge_cli APPEND PROPERTY INSTALL_RPATH ${_annforge_wheel_rpath})
  if(TARGET annforge_shared)
    set_property(TARGET annforge_shared APPEND PROPERTY INSTALL_RPATH ${_annforge_wheel_rpath})
  endif()
endif()

install(TARGETS ${_annforge_install_targets} EXPORT annforge-targets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS annforge_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
# The distributed build (cmake/mpi.cmake): annforge::annforge_mpi, a static library over
# annforge_static and MPI, with its two headers.
if(TARGET annforge_mpi)
  target_include_directories(annforge_mpi INTERFACE $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  install(TARGETS annforge_mpi EXPORT annforge-targets ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
  install(FILES ${PROJECT_SOURCE_DIR}/index/annforge_mpi.hpp ${PROJECT_SOURCE_DIR}/index/annforge_c_mpi.h
          DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
endif()
# Only the public headers: the others in index/ are the library's own.
install(FILES ${PROJECT_SOURCE_DIR}/index/annforge.hpp ${PROJECT_SOURCE_DIR}/index/annforge_c.h
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

# --- CMake package ---------------------------------------------------------------------------
set(ANNFORGE_PACKAGE_SHARED OFF)
if(TARGET annforge_shared)
  set(ANNFORGE_PACKAGE_SHARED ON)
endif()
# libhdf5 as FindHDF5 found it here (full paths), for consumers that do not enable C, where
# FindHDF5 cannot run; left empty (find_dependency only) when it came as other targets.
set(ANNFORGE_HDF5_LIBRARIES "")
if(ANNFORGE_WITH_HDF5)
  set(ANNFORGE_HDF5_LIBRARIES "${HDF5_C_LIBRARIES}")
  foreach(_lib IN LISTS HDF5_C_LIBRARIES)
    if(NOT IS_ABSOLUTE "${_lib}")
      set(ANNFORGE_HDF5_LIBRARIES "")
    endif()
  endforeach()
endif()
install(EXPORT annforge-targets NAMESPACE annforge:: FILE annforge-targets.cmake
        DESTINATION ${ANNFORGE_INSTALL_CMAKEDIR})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/annforge-config.cmake.in
                              ${PROJECT_BINARY_DIR}/annforge-config.cmake
                              INSTALL_DESTINATION ${ANNFORGE_INSTALL_CMAKEDIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/annforge-config-version.cmake
                                 VERSION ${PROJECT_VERSION} COMPATIBILITY SameMajorVersion)
install(FILES ${PROJECT_BINARY_DIR}/annforge-config.cmake ${PROJECT_BINARY_DIR}/annforge-config-version.cmake
        DESTINATION ${ANNFORGE_INSTALL_CMAKEDIR})

# --- pkg-config ------------------------------------------------------------------------------
# `pkg-config --libs annforge` links the shared library; Libs.private lists what a static link
# of libannforge.a needs besides: the C++ runtime (a C program links with the C compiler),
# threads, and libhdf5 when built with it. Where no shared library is built, Libs has them all.
# The file finds its prefix from its own folder (${pcfiledir}), so the install can be moved.
set(_annforge_pc_libs_private -lstdc++ -lm -lpthread)
if(ANNFORGE_WITH_HDF5)
  foreach(_lib IN LISTS HDF5_C_LIBRARIES)
    if(_lib MATCHES "^-")
      list(APPEND _annforge_pc_libs_private ${_lib})
    elseif(IS_ABSOLUTE "${_lib}" AND _lib MATCHES "/lib([^/]+)\\.(so[.0-9]*|a)$")
      set(_name ${CMAKE_MATCH_1})
      get_filename_component(_dir "${_lib}" DIRECTORY)
      if(NOT _dir IN_LIST CMAKE_C_IMPLICIT_LINK_DIRECTORIES)
        list(APPEND _annforge_pc_libs_private "-L${_dir}")
      endif()
      list(APPEND _annforge_pc_libs_private "-l${_name}")
    elseif(IS_ABSOLUTE "${_lib}")
      list(APPEND _annforge_pc_libs_private "${_lib}")
    else()
      list(APPEND _annforge_pc_libs_private "-l${_lib}")
    endif()
  endforeach()
endif()
if(ANNFORGE_WITH_CUDA)
  # The toolkit's libraries. RAFT's and RMM's own libraries are not listed: for a static link of
  # a CUDA build, use the CMake package, which carries RAFT's targets.
  set(_annforge_pc_cuda cublas)
  if(_annforge_cudart STREQUAL "SHARED")
    list(APPEND _annforge_pc_cuda cudart)
  elseif(NOT _annforge_cudart STREQUAL "NONE")
    list(APPEND _annforge_pc_cuda cudart_static)
  endif()
  foreach(_name IN LISTS _annforge_pc_cuda)
    get_target_property(_lib CUDA::${_name} IMPORTED_LOCATION)
    if(_lib)
      get_filename_component(_dir "${_lib}" DIRECTORY)
      list(APPEND _annforge_pc_libs_private "-L${_dir}")
    endif()
    list(APPEND _annforge_pc_libs_private "-l${_name}")
  endforeach()
  if(_annforge_cudart STREQUAL "STATIC" OR _annforge_cudart STREQUAL "")
    list(APPEND _annforge_pc_libs_private -ldl -lrt)
  endif()
endif()
list(REMOVE_DUPLICATES _annforge_pc_libs_private)
list(JOIN _annforge_pc_libs_private " " ANNFORGE_PC_LIBS_PRIVATE)
set(ANNFORGE_PC_LIBS_EXTRA "")
if(NOT TARGET annforge_shared)
  # Only the static library: every link needs them.
  set(ANNFORGE_PC_LIBS_EXTRA " ${ANNFORGE_PC_LIBS_PRIVATE}")
  set(ANNFORGE_PC_LIBS_PRIVATE "")
endif()
set(ANNFORGE_PC_CFLAGS "")
if(ANNFORGE_WITH_CUDA)
  set(ANNFORGE_PC_CFLAGS " -DANNFORGE_HAVE_CUDA=1")
endif()

set(ANNFORGE_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
if(NOT IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
  file(RELATIVE_PATH _annforge_pc_up "/prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/prefix")
  string(REGEX REPLACE "/$" "" _annforge_pc_up "${_annforge_pc_up}")
  set(ANNFORGE_PC_PREFIX "\${pcfiledir}/${_annforge_pc_up}")
endif()
foreach(_dir LIBDIR INCLUDEDIR)
  if(IS_ABSOLUTE "${CMAKE_INSTALL_${_dir}}")
    set(ANNFORGE_PC_${_dir} "${CMAKE_INSTALL_${_dir}}")
  else()
    set(ANNFORGE_PC_${_dir} "\${prefix}/${CMAKE_INSTALL_${_dir}}")
  endif()
endforeach()
configure_file(${PROJECT_SOURCE_DIR}/cmake/annforge.pc.in ${PROJECT_BINARY_DIR}/annforge.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/annforge.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
