# cmake --install: the libraries, their headers and a CMake package, so that another project
# can say find_package(moescale) and link
#   moescale::model    the MoE Transformer, trainer and device helpers (LibTorch)
#   moescale::core     config, FLOPs/params accounting, planner, settings, run directories
#   moescale::shards   llm.c token shards and the seeded sampler
#   moescale::common   atomic files, errors, lock, progress, hashes, processes
#   moescale::scaling  Ceres fits of scaling laws, valleys, r* laws, bootstrap
#   moescale::csv      the CSV table reader and writer (no Ceres)
# tests/consumer is such a project; ctest builds it against an installed tree.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(_exported moescale_common moescale_shards moe_core scaling_csv)
set_target_properties(moescale_common PROPERTIES EXPORT_NAME common)
set_target_properties(moescale_shards PROPERTIES EXPORT_NAME shards)
set_target_properties(moe_core PROPERTIES EXPORT_NAME core)
set_target_properties(scaling_csv PROPERTIES EXPORT_NAME csv)
if(TARGET moe)
  list(APPEND _exported moe)
  set_target_properties(moe PROPERTIES EXPORT_NAME model)
endif()
if(TARGET scaling)
  list(APPEND _exported scaling)
endif()

install(TARGETS ${_exported} EXPORT moescaleTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
foreach(dir common moe scaling)
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/${dir}/ DESTINATION include/moescale/${dir}
          FILES_MATCHING PATTERN "*.h")
endforeach()
install(FILES ${PROJECT_SOURCE_DIR}/data/shards.h DESTINATION include/moescale/data)
if(TARGET moe)
  # Debian's fmt ahead of the copy bundled in the torch wheel (cmake/libtorch.cmake).
  get_target_property(_fmt_include fmt::fmt INTERFACE_INCLUDE_DIRECTORIES)
  install(CODE "file(MAKE_DIRECTORY \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/include/moescale/fmt-before-torch\")
                file(CREATE_LINK \"${_fmt_include}/fmt\"
                     \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/include/moescale/fmt-before-torch/fmt\" SYMBOLIC)")
endif()

set(_cmake_dir ${CMAKE_INSTALL_LIBDIR}/cmake/moescale)
install(EXPORT moescaleTargets NAMESPACE moescale:: DESTINATION ${_cmake_dir})
if(TARGET moe)
  set(MOESCALE_CONFIG_TORCH_DIR "${Torch_DIR}")
else()
  set(MOESCALE_CONFIG_TORCH_DIR "")
endif()
if(TARGET scaling)
  set(MOESCALE_CONFIG_CERES ON)
else()
  set(MOESCALE_CONFIG_CERES OFF)
endif()
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/moescaleConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/moescaleConfig.cmake
                              INSTALL_DESTINATION ${_cmake_dir})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/moescaleConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/moescaleConfig.cmake
              ${PROJECT_BINARY_DIR}/moescaleConfigVersion.cmake
        DESTINATION ${_cmake_dir})
