# CTest script: installs the build into a scratch prefix, then builds and runs a consumer with
# find_package (static and shared), with pkg-config, and with add_subdirectory.
# Inputs: -DBUILD_DIR= -DSOURCE_DIR= -DWORK_DIR= -DCC= -DCARGO_TARGET_DIR= (reused, no rebuild)
function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
endfunction()

set(prefix ${WORK_DIR}/prefix)
file(REMOVE_RECURSE ${WORK_DIR})
run(${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix})

foreach(shared OFF ON)
  set(b ${WORK_DIR}/package-${shared})
  run(${CMAKE_COMMAND} -S ${SOURCE_DIR}/tests/c/consumer -B ${b} -DCMAKE_PREFIX_PATH=${prefix}
      -DATSREUSE_USE_SHARED=${shared})
  run(${CMAKE_COMMAND} --build ${b})
  run(${b}/consumer)
endforeach()

# pkg-config, static: the .pc file must find its prefix wherever it was installed.
set(ENV{PKG_CONFIG_PATH} ${prefix}/lib/pkgconfig)
execute_process(COMMAND pkg-config --cflags --libs --static atsreuse
                OUTPUT_VARIABLE flags OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "pkg-config does not know atsreuse")
endif()
separate_arguments(flags UNIX_COMMAND "${flags}")
string(REPLACE "-latsreuse" "${prefix}/lib/libatsreuse.a" flags "${flags}")
run(${CC} ${SOURCE_DIR}/tests/c/consumer/consumer.c ${flags} -o ${WORK_DIR}/consumer-pc)
run(${WORK_DIR}/consumer-pc)

# add_subdirectory of the source tree from another project (tests, install rules and the
# plugin off: this checks how libatsreuse is linked; the plugin has tests of its own).
set(b ${WORK_DIR}/subdir)
run(${CMAKE_COMMAND} -S ${SOURCE_DIR}/tests/c/consumer -B ${b} -DATSREUSE_CONSUMER_MODE=subdir
    -DATSREUSE_SOURCE_DIR=${SOURCE_DIR} -DATSREUSE_BUILD_PLUGIN=OFF
    -DATSREUSE_CARGO_TARGET_DIR=${CARGO_TARGET_DIR})
run(${CMAKE_COMMAND} --build ${b})
run(${b}/consumer)
message(STATUS "install test: find_package static and shared, pkg-config, add_subdirectory all work")
