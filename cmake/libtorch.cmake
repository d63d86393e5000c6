# Finds the LibTorch to build against and checks what the project needs of it.
#
#   MOESCALE_LIBTORCH  a LibTorch: an unpacked libtorch zip, a Python environment's
#                      site-packages/torch (pip or conda), or its share/cmake folder.
#                      Default: the torch wheel in the project's .venv (scripts/setup.sh).
#
# Sets MOESCALE_TORCH_CUDA (ON for a CUDA build of LibTorch) and MOESCALE_TORCH_CUDA_VERSION.
# Changing MOESCALE_LIBTORCH in a configured build folder drops every cached entry that pointed
# into the previous LibTorch, so the new one is found afresh rather than silently kept.

set(MOESCALE_LIBTORCH "" CACHE PATH
    "LibTorch root, site-packages/torch, or its share/cmake (default: the project's .venv)")
set(MOESCALE_MIN_TORCH 2.9)

set(_libtorch "${MOESCALE_LIBTORCH}")
set(_venv_python "${PROJECT_SOURCE_DIR}/.venv/bin/python")
if(_libtorch STREQUAL "" AND NOT EXISTS "${_venv_python}")
  # No .venv: a LibTorch named the usual CMake way, -DCMAKE_PREFIX_PATH=/path/to/libtorch.
  find_path(_torch_config_dir TorchConfig.cmake PATHS ${CMAKE_PREFIX_PATH}
            PATH_SUFFIXES Torch share/cmake/Torch NO_DEFAULT_PATH NO_CACHE)
  if(NOT _torch_config_dir)
    message(FATAL_ERROR "No LibTorch: run scripts/setup.sh (it installs the pinned torch wheel "
                        "into .venv), or pass -DMOESCALE_LIBTORCH=/path/to/libtorch")
  endif()
  get_filename_component(_libtorch "${_torch_config_dir}/.." ABSOLUTE)
endif()
if(_libtorch STREQUAL "")
  execute_process(COMMAND "${_venv_python}" -c "import torch.utils; print(torch.utils.cmake_prefix_path)"
                  OUTPUT_VARIABLE _libtorch OUTPUT_STRIP_TRAILING_WHITESPACE
                  RESULT_VARIABLE _rc ERROR_QUIET)
  if(NOT _rc EQUAL 0)
    message(FATAL_ERROR "${_venv_python} cannot import torch: run scripts/setup.sh again, or "
                        "pass -DMOESCALE_LIBTORCH=/path/to/libtorch")
  endif()
endif()
get_filename_component(_libtorch "${_libtorch}" ABSOLUTE)
if(EXISTS "${_libtorch}/share/cmake/Torch/TorchConfig.cmake")
  set(_torch_cmake "${_libtorch}/share/cmake")
elseif(EXISTS "${_libtorch}/Torch/TorchConfig.cmake")
  set(_torch_cmake "${_libtorch}")
else()
  message(FATAL_ERROR "-DMOESCALE_LIBTORCH=${_libtorch} holds no share/cmake/Torch/TorchConfig.cmake: "
                      "name an unpacked libtorch folder or a Python environment's site-packages/torch")
endif()

# A different LibTorch than the one this build folder was configured with: forget the old one.
if(DEFINED MOESCALE_TORCH_CMAKE_USED AND NOT MOESCALE_TORCH_CMAKE_USED STREQUAL _torch_cmake)
  get_filename_component(_old_root "${MOESCALE_TORCH_CMAKE_USED}/../.." ABSOLUTE)
  message(STATUS "LibTorch changed from ${_old_root}: forgetting its cached entries")
  get_cmake_property(_cached CACHE_VARIABLES)
  foreach(_var IN LISTS _cached)
    if("${${_var}}" MATCHES "^${_old_root}")
      unset(${_var} CACHE)
    endif()
  endforeach()
endif()
set(MOESCALE_TORCH_CMAKE_USED "${_torch_cmake}" CACHE INTERNAL "LibTorch this build was configured with")
set(Torch_DIR "${_torch_cmake}/Torch" CACHE PATH "LibTorch's CMake config (from MOESCALE_LIBTORCH)" FORCE)

# A CUDA LibTorch's CMake config enables the CUDA language: it needs nvcc of the CUDA major
# version the LibTorch was built with. Say so before its own, less direct, error.
get_filename_component(_torch_root "${_torch_cmake}/../.." ABSOLUTE)
set(MOESCALE_TORCH_ROOT "${_torch_root}")
if(EXISTS "${_torch_root}/lib/libtorch_cuda.so" AND NOT CMAKE_CUDA_COMPILER)
  find_program(_nvcc nvcc HINTS ENV CUDA_HOME ENV CUDA_PATH PATH_SUFFIXES bin
               PATHS /usr/local/cuda/bin)
  if(NOT _nvcc)
    message(FATAL_ERROR "${_torch_root} is a CUDA LibTorch: its CMake config needs the CUDA "
                        "toolkit (nvcc) of the same major version. Install it and put nvcc on "
                        "PATH (or set CUDA_HOME), or use a CPU-only LibTorch")
  endif()
  set(CMAKE_CUDA_COMPILER "${_nvcc}" CACHE FILEPATH "nvcc for LibTorch's CUDA config")
endif()

# moescale has no CUDA sources of its own (its kernels are LibTorch's), so the CUDA dialect and
# architectures LibTorch's config asks about only need to be valid: CUDA 17 (CMake 3.25 knows no
# CUDA 20 for nvcc), and a fixed architecture list instead of probing for a GPU at configure time.
set(CMAKE_CUDA_STANDARD 17)
set(CMAKE_CUDA_EXTENSIONS OFF)
if(NOT DEFINED TORCH_CUDA_ARCH_LIST AND NOT DEFINED ENV{TORCH_CUDA_ARCH_LIST})
  set(TORCH_CUDA_ARCH_LIST "9.0")
endif()
find_package(Torch REQUIRED)

if(Torch_VERSION VERSION_LESS MOESCALE_MIN_TORCH)
  message(FATAL_ERROR "LibTorch ${Torch_VERSION} at ${_torch_root} is too old: moescale needs "
                      ">= ${MOESCALE_MIN_TORCH} (the grouped expert GEMM, SDPA's enable_gqa, the "
                      "C++11 ABI); scripts/setup.sh installs the pinned wheel")
endif()

# Every target shares std::string with LibTorch, so all of them take its ABI flag. A LibTorch
# built with the old ABI (libtorch "pre-cxx11" zips) cannot link with Debian's Boost and fmt.
if(TORCH_CXX_FLAGS MATCHES "_GLIBCXX_USE_CXX11_ABI=0")
  message(FATAL_ERROR "LibTorch at ${_torch_root} uses the pre-C++11 ABI "
                      "(_GLIBCXX_USE_CXX11_ABI=0), which cannot link with the system's Boost and "
                      "fmt: use a cxx11-ABI LibTorch (pip wheels >= 2.7, or the cxx11-abi zip)")
endif()
separate_arguments(_torch_flags UNIX_COMMAND "${TORCH_CXX_FLAGS}")
add_compile_options(${_torch_flags})

# A pip wheel brings its CUDA libraries as nvidia-* wheels beside torch, and libtorch_cuda finds
# them through its own RPATH. LibTorch's CMake config would link our programs against the CUDA
# toolkit's cudart and nvrtc instead (another minor version, loaded first): link the wheel's,
# and let the linker resolve libtorch_cuda's own dependencies (NCCL, cuBLAS) in the wheel too.
file(GLOB _wheel_cuda_dirs "${_torch_root}/../nvidia/*/lib")
if(CAFFE2_USE_CUDA AND _wheel_cuda_dirs)
  foreach(_dir IN LISTS _wheel_cuda_dirs)
    add_link_options("LINKER:-rpath-link,${_dir}")
  endforeach()
  set(MOESCALE_WHEEL_CUDA_DIRS ${_wheel_cuda_dirs})  # for programs of other projects too
  set(MOESCALE_WHEEL_NCCL_INCLUDE "${_torch_root}/../nvidia/nccl/include")  # c10d's NCCL
  find_library(MOESCALE_WHEEL_CUDART NAMES libcudart.so.13 libcudart.so.12 PATHS ${_wheel_cuda_dirs}
               NO_DEFAULT_PATH)
  find_library(MOESCALE_WHEEL_NVRTC NAMES libnvrtc.so.13 libnvrtc.so.12 PATHS ${_wheel_cuda_dirs}
               NO_DEFAULT_PATH)
  if(MOESCALE_WHEEL_CUDART AND MOESCALE_WHEEL_NVRTC)
    set_property(TARGET torch::cudart PROPERTY INTERFACE_LINK_LIBRARIES "${MOESCALE_WHEEL_CUDART}")
    list(TRANSFORM TORCH_LIBRARIES REPLACE "^${CUDA_NVRTC_LIB}$" "${MOESCALE_WHEEL_NVRTC}")
  endif()
endif()

# LibTorch's include/ carries its own fmt headers (another major version) that would shadow the
# system fmt whose library we link: targets that see torch's headers see the system's first.
get_target_property(_fmt_include fmt::fmt INTERFACE_INCLUDE_DIRECTORIES)
set(MOESCALE_FMT_FIRST "${CMAKE_BINARY_DIR}/fmt-before-torch")
file(MAKE_DIRECTORY "${MOESCALE_FMT_FIRST}")
file(CREATE_LINK "${_fmt_include}/fmt" "${MOESCALE_FMT_FIRST}/fmt" SYMBOLIC)

if(CAFFE2_USE_CUDA)
  set(MOESCALE_TORCH_CUDA ON)
  set(MOESCALE_TORCH_CUDA_VERSION "${CUDAToolkit_VERSION}")
else()
  set(MOESCALE_TORCH_CUDA OFF)
  set(MOESCALE_TORCH_CUDA_VERSION "")
endif()
message(STATUS "moescale: LibTorch ${Torch_VERSION} at ${_torch_root}, CUDA: "
               "${MOESCALE_TORCH_CUDA} ${MOESCALE_TORCH_CUDA_VERSION}")
