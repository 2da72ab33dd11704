# ann-benchmarks' .hdf5 files are read through libhdf5 (Debian: libhdf5-dev). ANNFORGE_HDF5=AUTO
# reads them where the library is found; ON demands it; OFF builds without (reading an .hdf5
# file then fails with an error that says so).
set(ANNFORGE_HDF5 "AUTO" CACHE STRING "Read ann-benchmarks .hdf5 files through libhdf5: AUTO, ON or OFF")
set_property(CACHE ANNFORGE_HDF5 PROPERTY STRINGS AUTO ON OFF)
set(ANNFORGE_WITH_HDF5 OFF)
if(NOT ANNFORGE_HDF5 STREQUAL "OFF")
  find_package(HDF5 COMPONENTS C QUIET)
  if(HDF5_FOUND AND TARGET hdf5::hdf5)
    set(ANNFORGE_WITH_HDF5 ON)
    message(STATUS "annforge: .hdf5 input on (libhdf5 ${HDF5_VERSION})")
  elseif(ANNFORGE_HDF5 STREQUAL "ON")
    message(FATAL_ERROR "annforge: ANNFORGE_HDF5=ON but libhdf5 was not found (Debian: libhdf5-dev)")
  else()
    message(STATUS "annforge: .hdf5 input off (libhdf5 not found; Debian: libhdf5-dev)")
  endif()
endif()
