# The C API test: a C11 program that includes only annforge_c.h. It links with the C++ linker
# because libannforge is C++ and needs the C++ runtime.
add_executable(c_api_test ${CMAKE_CURRENT_LIST_DIR}/c_api_test.c)
set_target_properties(c_api_test PROPERTIES C_STANDARD 11 C_STANDARD_REQUIRED ON LINKER_LANGUAGE CXX)
target_compile_options(c_api_test PRIVATE -Wall -Wextra)
target_link_libraries(c_api_test PRIVATE annforge)
add_test(NAME c_api_test COMMAND c_api_test)
