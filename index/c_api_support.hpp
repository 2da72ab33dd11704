// What the C API's functions share (index/c_api.cpp), and its other translation units (the MPI
// calls of annforge_c_mpi.h, host/mpi/) with them: the opaque handle, the conversions of C
// arguments, and `guarded`, which turns every exception into a status and a message.
// Internal: not installed.
#pragma once

#include <new>
#include <string>

#include "annforge.hpp"
#include "annforge_c.h"

// The opaque handle of the header: just the C++ index.
struct annforge_index {
  annforge::Index index;
};

namespace annforge::c_api {

// The message annforge_last_error returns, as "function: message".
void record_error(const char* function, const char* message) noexcept;
annforge_status fail(annforge_status status, const char* function, const char* message) noexcept;
[[noreturn]] void invalid(const std::string& message);
void require(bool condition, const char* message);
annforge_status status_of(annforge::ErrorCode code);
annforge::BuildParams to_build_params(const annforge_build_params* params);
annforge::SearchParams to_search_params(const annforge_search_params* params);
annforge::DatasetView to_view(const char* name, const void* data, int64_t rows, int64_t dim, annforge_dtype dtype,
                              int64_t row_stride = 0);

// Runs `body`, mapping whatever it throws to a status and a message prefixed by `function`.
template <typename Body>
annforge_status guarded(const char* function, Body&& body) noexcept {
  try {
    body();
    return ANNFORGE_OK;
  } catch (const annforge::Error& error) {
    return fail(status_of(error.code()), function, error.what());
  } catch (const std::bad_alloc&) {
    return fail(ANNFORGE_STATUS_INTERNAL, function, "out of memory");
  } catch (const std::exception& error) {
    return fail(ANNFORGE_STATUS_INTERNAL, function, error.what());
  } catch (...) {
    return fail(ANNFORGE_STATUS_INTERNAL, function, "unknown exception");
  }
}

}  // namespace annforge::c_api
