# Loaded with -DCMAKE_PROJECT_INCLUDE=... by build_messages.sh (the PyPI-wheel build only).
#
# The ROS 2 wheels are built in a manylinux container, and the CMake targets they export for
# their generated Python code name that container's include folders (/opt/python/cp3XX-.../
# include/python3.X and .../numpy/_core/include). Once configuration has finished, point
# every imported target that still names them at this interpreter's Python and numpy headers.
find_package(Python3 REQUIRED COMPONENTS Interpreter Development NumPy)

function(occuseg_redirect_wheel_include_dirs)
  get_directory_property(imported_targets DIRECTORY "${CMAKE_SOURCE_DIR}" IMPORTED_TARGETS)
  foreach(target IN LISTS imported_targets)
    get_target_property(include_dirs ${target} INTERFACE_INCLUDE_DIRECTORIES)
    if(NOT include_dirs OR NOT include_dirs MATCHES "^/opt/python/|;/opt/python/")
      continue()
    endif()
    set(fixed "")
    foreach(dir IN LISTS include_dirs)
      if(dir MATCHES "^/opt/python/.*/numpy/")
        list(APPEND fixed ${Python3_NumPy_INCLUDE_DIRS})
      elseif(dir MATCHES "^/opt/python/.*/include/python3")
        list(APPEND fixed ${Python3_INCLUDE_DIRS})
      else()
        list(APPEND fixed "${dir}")
      endif()
    endforeach()
    list(REMOVE_DUPLICATES fixed)
    set_target_properties(${target} PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${fixed}")
  endforeach()
endfunction()

cmake_language(DEFER DIRECTORY "${CMAKE_SOURCE_DIR}" CALL occuseg_redirect_wheel_include_dirs)
