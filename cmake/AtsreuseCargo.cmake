# Builds libatsreuse with cargo and wraps the result in CMake targets:
#   atsreuse_static, atsreuse_shared  imported libraries (target/release/libatsreuse.{a,so})
#   atsreuse::atsreuse                the one to link; static unless ATSREUSE_SHARED is ON
# cargo decides what to rebuild, so its step runs on every build (a no-op when up to date).

# What a Rust static library needs from the system (`cargo rustc -- --print native-static-libs`).
set(ATSREUSE_NATIVE_LIBS pthread dl m rt util)

function(atsreuse_add_cargo_library)
  find_program(CARGO_EXECUTABLE cargo HINTS $ENV{HOME}/.cargo/bin REQUIRED)
  set(src ${CMAKE_CURRENT_SOURCE_DIR})
  set(out ${ATSREUSE_CARGO_TARGET_DIR}/release)
  set(static_lib ${out}/libatsreuse.a)
  set(shared_lib ${out}/libatsreuse.so)
  # The SONAME is libatsreuse.so.0 (bindings/build.rs): give the build tree a file of that name.
  set(shared_link ${CMAKE_CURRENT_BINARY_DIR}/libatsreuse.so.0)

  add_custom_target(atsreuse_cargo ALL
    COMMAND ${CMAKE_COMMAND} -E env CARGO_TARGET_DIR=${ATSREUSE_CARGO_TARGET_DIR}
            ${CARGO_EXECUTABLE} build --release -p atsreuse --locked
    COMMAND ${CMAKE_COMMAND} -E create_symlink ${shared_lib} ${shared_link}
    BYPRODUCTS ${static_lib} ${shared_lib} ${shared_link}
    WORKING_DIRECTORY ${src}
    COMMENT "cargo build --release -p atsreuse"
    USES_TERMINAL)

  add_library(atsreuse_static STATIC IMPORTED GLOBAL)
  set_target_properties(atsreuse_static PROPERTIES
    IMPORTED_LOCATION ${static_lib}
    INTERFACE_INCLUDE_DIRECTORIES ${src}/include
    INTERFACE_LINK_LIBRARIES "${ATSREUSE_NATIVE_LIBS}")
  add_dependencies(atsreuse_static atsreuse_cargo)

  add_library(atsreuse_shared SHARED IMPORTED GLOBAL)
  set_target_properties(atsreuse_shared PROPERTIES
    IMPORTED_LOCATION ${shared_link}
    IMPORTED_SONAME libatsreuse.so.0
    INTERFACE_INCLUDE_DIRECTORIES ${src}/include)
  add_dependencies(atsreuse_shared atsreuse_cargo)

  add_library(atsreuse INTERFACE)
  if(ATSREUSE_SHARED)
    target_link_libraries(atsreuse INTERFACE atsreuse_shared)
  else()
    target_link_libraries(atsreuse INTERFACE atsreuse_static)
  endif()
  add_library(atsreuse::atsreuse ALIAS atsreuse)

  set(ATSREUSE_STATIC_LIB ${static_lib} PARENT_SCOPE)
  set(ATSREUSE_SHARED_LIB ${shared_lib} PARENT_SCOPE)
endfunction()
