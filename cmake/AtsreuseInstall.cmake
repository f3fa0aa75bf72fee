# Installs libatsreuse (static and shared), its header, atsreuse.pc and the CMake package
# (atsreuseConfig.cmake, atsreuseConfigVersion.cmake) that defines atsreuse::atsreuse.
include(CMakePackageConfigHelpers)

set(_ver ${PROJECT_VERSION})
install(FILES ${ATSREUSE_STATIC_LIB} DESTINATION ${CMAKE_INSTALL_LIBDIR})
# The operator command (PSK generation, pod status, rotate, key export), built by the same cargo step.
install(PROGRAMS ${ATSREUSE_CARGO_TARGET_DIR}/release/atsreuse DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES ${ATSREUSE_SHARED_LIB} DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RENAME libatsreuse.so.${_ver}
        PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
install(CODE "
  set(_dir \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR}\")
  execute_process(COMMAND \${CMAKE_COMMAND} -E create_symlink libatsreuse.so.${_ver} \"\${_dir}/libatsreuse.so.0\")
  execute_process(COMMAND \${CMAKE_COMMAND} -E create_symlink libatsreuse.so.0 \"\${_dir}/libatsreuse.so\")
")
install(FILES ${CMAKE_CURRENT_SOURCE_DIR}/include/atsreuse.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

# The .pc file finds the prefix from its own place, so `cmake --install --prefix` and DESTDIR
# give a correct file without reconfiguring.
file(RELATIVE_PATH ATSREUSE_PC_PREFIX_REL "/p/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/p")
list(TRANSFORM ATSREUSE_NATIVE_LIBS PREPEND "-l" OUTPUT_VARIABLE _native)
list(JOIN _native " " ATSREUSE_PC_LIBS_PRIVATE)
configure_file(${CMAKE_CURRENT_SOURCE_DIR}/cmake/atsreuse.pc.in ${CMAKE_CURRENT_BINARY_DIR}/atsreuse.pc @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/atsreuse.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

set(_cmakedir ${CMAKE_INSTALL_LIBDIR}/cmake/atsreuse)
configure_package_config_file(${CMAKE_CURRENT_SOURCE_DIR}/cmake/atsreuseConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/atsreuseConfig.cmake
  INSTALL_DESTINATION ${_cmakedir}
  PATH_VARS CMAKE_INSTALL_LIBDIR CMAKE_INSTALL_INCLUDEDIR)
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/atsreuseConfigVersion.cmake
  VERSION ${_ver} COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/atsreuseConfig.cmake
              ${CMAKE_CURRENT_BINARY_DIR}/atsreuseConfigVersion.cmake
        DESTINATION ${_cmakedir})
